// The network the "your own classes" page trains: a small RGB CNN for 32x32 pictures, with flip and shift
// augmentation in front (active in training only) and a one-cycle learning-rate schedule.
import type { ModelSpec } from '../../../src/browser/protocol.js';
import {
  Conv2D,
  Dense,
  GlobalAveragePooling2D,
  type Layer,
  MaxPool2D,
  type Model,
  RandomFlip,
  RandomTranslation,
  Sequential,
} from '../../../src/index.js';

/** Pictures are centre-cropped and scaled to SIZE x SIZE RGB, pixels in [0, 1]. */
export const SIZE = 32;
export const INPUT_SHAPE: [number, number, number] = [SIZE, SIZE, 3];
/** The first layer's filters are 5x5x3: big enough to show colour and shape. */
export const FIRST_KERNEL = 5;
export const AUGMENTATION = ['flip', 'shift'];

/**
 * The net for `classes` classes. With `augment`, RandomFlip (left-right) and RandomTranslation (10%) come
 * first; they hold no weights, so the net without them takes the same weights (that one is saved: TF.js
 * can load it too).
 */
export function buildNet(classes: number, augment: boolean, seed = 1): Sequential {
  const layers: Layer[] = [];
  if (augment)
    layers.push(
      RandomFlip({ mode: 'horizontal', inputShape: INPUT_SHAPE }),
      RandomTranslation({ heightFactor: 0.1, widthFactor: 0.1, fillMode: 'reflect' }),
    );
  const first = augment ? {} : { inputShape: INPUT_SHAPE };
  layers.push(
    Conv2D({ filters: 16, kernelSize: FIRST_KERNEL, padding: 'same', activation: 'relu', ...first }),
    MaxPool2D({ poolSize: 2 }),
    Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
    MaxPool2D({ poolSize: 2 }),
    Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
    GlobalAveragePooling2D(),
    Dense({ units: classes, activation: 'softmax' }),
  );
  return new Sequential(layers, { name: 'own_classes', seed });
}

export interface Recipe {
  epochs: number;
  batchSize: number;
  maxLearningRate: number;
}
export const RECIPE: Recipe = { epochs: 15, batchSize: 16, maxLearningRate: 0.005 };

/** Where the first convolution's kernel is among a net's weights (getWeights order), and its shape. */
export interface KernelAt {
  index: number;
  shape: number[];
}
export function firstKernel(model: Model): KernelAt | undefined {
  const conv = model.layers.find((l) => l.className === 'Conv2D');
  const specs = model.weightSpecs();
  const index = conv ? specs.findIndex((s) => s.name === `${conv.name}/kernel`) : -1;
  return index >= 0 ? { index, shape: specs[index].shape } : undefined;
}

/** What the worker trains: the augmented net, Adam under a one-cycle schedule over all the steps. */
export function trainingSpec(classes: number, samples: number, r: Recipe): ModelSpec & { kernel?: KernelAt } {
  const totalSteps = Math.max(2, Math.ceil(samples / r.batchSize) * r.epochs);
  const model = buildNet(classes, true);
  const modelTopology = model.toJSON(null, false) as Record<string, unknown>;
  const kernel = firstKernel(model);
  model.dispose();
  return {
    kernel,
    modelTopology,
    seed: 1,
    compile: {
      optimizer: {
        className: 'Adam',
        config: { learningRate: { className: 'OneCycle', config: { maxLearningRate: r.maxLearningRate, totalSteps, pctStart: 0.25 } } },
      },
      loss: 'sparseCategoricalCrossentropy',
    },
  };
}
