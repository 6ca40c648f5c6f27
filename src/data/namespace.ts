// `data.array(...)`, `data.generator(...)`, as tf.data reads: the Dataset factories under one name.
import { array, generator, tensors, zip } from './dataset.js';

export const data = { array, generator, tensors, zip };
