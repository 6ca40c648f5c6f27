// The two networks the page offers, as JSON specs for the training worker (the model as TF.js layers JSON).
import type { ModelSpec } from '../../src/browser/protocol.js';
import { Conv2D, Dense, Flatten, MaxPool2D, Sequential } from '../../src/index.js';

export interface NetDef {
  id: 'tutorial' | 'lenet';
  title: string;
  blurb: string;
  spec: ModelSpec;
  /** Pixel range the net is trained on (the tutorial centres pixels on zero). */
  range: [number, number];
  batchSize: number;
  epochs: number;
}

export const NETS: Record<NetDef['id'], NetDef> = {
  tutorial: {
    id: 'tutorial',
    title: 'Tutorial net',
    blurb:
      'Conv 8×3×3 (valid, no bias) → MaxPool 2 → Dense 10 + softmax. Plain SGD, lr 0.005, one image per step, pixels in [−0.5, 0.5]. 13,602 weights.',
    spec: {
      modelTopology: new Sequential(
        [
          Conv2D({ filters: 8, kernelSize: 3, padding: 'valid', useBias: false, inputShape: [28, 28, 1] }),
          MaxPool2D({ poolSize: 2 }),
          Flatten(),
          Dense({ units: 10, activation: 'softmax' }),
        ],
        { name: 'tutorial' },
      ).toJSON(null, false) as Record<string, unknown>,
      seed: 1,
      compile: { optimizer: { className: 'SGD', config: { learningRate: 0.005 } }, loss: 'sparseCategoricalCrossentropy' },
    },
    range: [-0.5, 0.5],
    batchSize: 1,
    epochs: 3,
  },
  lenet: {
    id: 'lenet',
    title: 'LeNet-style',
    blurb:
      'Conv 32 → pool → Conv 64 (3×3, same, ReLU) → pool → Dense 128 ReLU → Dense 10 softmax. Adam, batches of 32, pixels in [0, 1]. 421,642 weights.',
    spec: {
      modelTopology: new Sequential(
        [
          Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
          MaxPool2D({ poolSize: 2 }),
          Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
          MaxPool2D({ poolSize: 2 }),
          Flatten(),
          Dense({ units: 128, activation: 'relu' }),
          Dense({ units: 10, activation: 'softmax' }),
        ],
        { name: 'lenet' },
      ).toJSON(null, false) as Record<string, unknown>,
      seed: 1,
      compile: { optimizer: { className: 'Adam', config: { learningRate: 0.001 } }, loss: 'sparseCategoricalCrossentropy' },
    },
    range: [0, 1],
    batchSize: 32,
    epochs: 1,
  },
};
