// Same weights + same batch must give the same training step as TensorFlow.js (cpu backend).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, Conv2D, Dense, Flatten, MaxPool2D, Sequential, SGD, tensor, type Optimizer } from '../src/node.js';
import { Rng } from '../src/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function nets(seed: number) {
  const ours = new Sequential(
    [
      new Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 7, 3] }),
      new MaxPool2D({ poolSize: 2, padding: 'same' }),
      new Conv2D({ filters: 5, kernelSize: 2, activation: 'relu' }),
      new Flatten(),
      new Dense({ units: 6, activation: 'softmax' }),
    ],
    { seed },
  );
  const theirs = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 7, 3] }),
      tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 2, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 6, activation: 'softmax' }),
    ],
  });
  theirs.setWeights(ours.getWeights().map((w, i) => tf.tensor(w, ours.weightSpecs()[i].shape)));
  return { ours, theirs };
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((w, i) => w.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

const cases: [string, () => Optimizer, () => tf.Optimizer, string][] = [
  ['SGD lr=0.1', () => new SGD({ learningRate: 0.1 }), () => tf.train.sgd(0.1), 'sparseCategoricalCrossentropy'],
  [
    'SGD lr=0.05 momentum=0.9',
    () => new SGD({ learningRate: 0.05, momentum: 0.9 }),
    () => tf.train.momentum(0.05, 0.9),
    'sparseCategoricalCrossentropy',
  ],
  ['Adam lr=0.01', () => new Adam({ learningRate: 0.01 }), () => tf.train.adam(0.01, 0.9, 0.999, 1e-7), 'sparseCategoricalCrossentropy'],
  ['SGD lr=0.1 one-hot', () => new SGD({ learningRate: 0.1 }), () => tf.train.sgd(0.1), 'categoricalCrossentropy'],
];

describe('one training step matches TensorFlow.js, x=[8,9,7,3], 3 steps', () => {
  for (const [name, ours, theirs, loss] of cases) {
    it(`${name} ${loss}`, async () => {
      const { ours: a, theirs: b } = nets(5);
      const rng = new Rng(6);
      const x = new Float32Array(8 * 9 * 7 * 3).map(() => rng.uniform() * 2 - 1);
      const labels = Int32Array.from({ length: 8 }, () => rng.int(6));
      const oneHot = new Float32Array(8 * 6);
      labels.forEach((l, i) => (oneHot[i * 6 + l] = 1));
      a.compile({ optimizer: ours(), loss: loss as 'sparseCategoricalCrossentropy' });
      b.compile({ optimizer: theirs(), loss });
      const yTf = loss === 'categoricalCrossentropy' ? tf.tensor2d(oneHot, [8, 6]) : tf.tensor1d(labels, 'float32');
      for (let s = 0; s < 3; s++) {
        const la = a.trainOnBatch(tensor(x, [8, 9, 7, 3]), loss === 'categoricalCrossentropy' ? tensor(oneHot, [8, 6]) : labels).loss;
        const lb = (await b.trainOnBatch(tf.tensor4d(x, [8, 9, 7, 3]), yTf)) as number;
        expect(Math.abs(la - lb), `loss at step ${s}`).toBeLessThan(1e-5);
      }
      const wb = b.getWeights().map((t) => t.dataSync() as Float32Array);
      expect(maxDiff(a.getWeights(), wb)).toBeLessThan(1e-5);
      a.dispose();
    });
  }
});
