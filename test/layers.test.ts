// Finite-difference gradient check of every layer, alone and in whole models (a chain, and a graph with a
// shared layer and a fan-out).
import { describe, expect, it } from 'vitest';
import { Add, AvgPool2D, Conv2D, Dense, Flatten, input, MaxPool2D, model, ReLU, Sequential, SGD, Softmax } from '../src/node.js';
import type { Layer } from '../src/layers/layer.js';
import { Rng } from '../src/random.js';
import { checkLossGradients, checkVjp, randomTensor } from './gradcheck.js';

const cases: [string, number[], () => Layer][] = [
  [
    'conv2d x=[2,7,9,3] k=[3,3,3,5] stride=2 same',
    [2, 7, 9, 3],
    () => new Conv2D({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', inputShape: [7, 9, 3] }),
  ],
  [
    'conv2d x=[1,8,8,1] k=[3,3,1,8] valid no bias',
    [1, 8, 8, 1],
    () => new Conv2D({ filters: 8, kernelSize: 3, useBias: false, inputShape: [8, 8, 1] }),
  ],
  [
    'conv2d x=[3,6,5,5] k=[2,2,5,7] stride=1 same relu',
    [3, 6, 5, 5],
    () => new Conv2D({ filters: 7, kernelSize: 2, padding: 'same', activation: 'relu', inputShape: [6, 5, 5] }),
  ],
  [
    'conv2d x=[1,11,7,17] k=[5,3,17,13] stride=[2,3] valid',
    [1, 11, 7, 17],
    () => new Conv2D({ filters: 13, kernelSize: [5, 3], strides: [2, 3], inputShape: [11, 7, 17] }),
  ],
  ['conv2d x=[2,5,5,4] k=[1,1,4,9] pointwise', [2, 5, 5, 4], () => new Conv2D({ filters: 9, kernelSize: 1, inputShape: [5, 5, 4] })],
  [
    'conv2d x=[2,4,4,3] k=[4,4,3,2] same softmax',
    [2, 4, 4, 3],
    () => new Conv2D({ filters: 2, kernelSize: 4, padding: 'same', activation: 'softmax', inputShape: [4, 4, 3] }),
  ],
  ['maxpool x=[2,7,9,3] pool=2 valid', [2, 7, 9, 3], () => new MaxPool2D({ poolSize: 2, inputShape: [7, 9, 3] })],
  [
    'maxpool x=[1,7,7,5] pool=3 stride=2 same',
    [1, 7, 7, 5],
    () => new MaxPool2D({ poolSize: 3, strides: 2, padding: 'same', inputShape: [7, 7, 5] }),
  ],
  [
    'maxpool x=[1,6,5,6] pool=[2,3] stride=1 valid (overlapping)',
    [1, 6, 5, 6],
    () => new MaxPool2D({ poolSize: [2, 3], strides: 1, inputShape: [6, 5, 6] }),
  ],
  ['avgpool x=[2,7,9,3] pool=2 same', [2, 7, 9, 3], () => new AvgPool2D({ poolSize: 2, padding: 'same', inputShape: [7, 9, 3] })],
  ['avgpool x=[1,5,5,8] pool=3 stride=2 valid', [1, 5, 5, 8], () => new AvgPool2D({ poolSize: 3, strides: 2, inputShape: [5, 5, 8] })],
  ['dense x=[3,13] units=7', [3, 13], () => new Dense({ units: 7, inputShape: [13] })],
  ['dense x=[9,33] units=17 relu', [9, 33], () => new Dense({ units: 17, activation: 'relu', inputShape: [33] })],
  ['dense x=[5,6] units=10 softmax', [5, 6], () => new Dense({ units: 10, activation: 'softmax', inputShape: [6] })],
  ['flatten x=[2,3,5,7]', [2, 3, 5, 7], () => new Flatten({ inputShape: [3, 5, 7] })],
  ['relu x=[3,5,7]', [3, 5, 7], () => new ReLU({ inputShape: [5, 7] })],
  ['softmax x=[4,11]', [4, 11], () => new Softmax({ inputShape: [11] })],
];

describe('gradient check per layer (sum(r * layer(x)) vs central differences)', () => {
  cases.forEach(([name, shape, make], i) => {
    it(name, () => {
      const model = new Sequential([make()], { seed: 100 + i });
      const x = randomTensor(shape, new Rng(200 + i));
      checkVjp(model, x, 300 + i);
      model.dispose();
    });
  });
});

describe('gradient check of a whole model', () => {
  it('x=[3,9,8,3] conv(4,3x3,s2,same,relu)-maxpool2-conv(6,2x2,valid)-avgpool(2,same)-flatten-dense(7,relu)-dense(5,softmax) sparse CE', () => {
    const model = new Sequential(
      [
        new Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 8, 3] }),
        new MaxPool2D({ poolSize: 2, padding: 'same' }),
        new Conv2D({ filters: 6, kernelSize: 2 }),
        new AvgPool2D({ poolSize: 2, padding: 'same' }),
        new Flatten(),
        new Dense({ units: 7, activation: 'relu' }),
        new Dense({ units: 5, activation: 'softmax' }),
      ],
      { seed: 7 },
    );
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const x = randomTensor([3, 9, 8, 3], new Rng(8));
    checkLossGradients(model, x, Int32Array.from([0, 4, 2]), 9);
    checkVjp(model, x, 10);
  });
  it('x=[4,6,6,1] tutorial-like conv(8,3x3,valid,no bias)-maxpool2-flatten-dense(10)-Softmax layer', () => {
    const model = new Sequential(
      [
        new Conv2D({ filters: 8, kernelSize: 3, useBias: false, inputShape: [6, 6, 1] }),
        new MaxPool2D({ poolSize: 2 }),
        new Flatten(),
        new Dense({ units: 10 }),
        new Softmax(),
      ],
      { seed: 11 },
    );
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    checkLossGradients(model, randomTensor([4, 6, 6, 1], new Rng(12)), Int32Array.from([1, 9, 3, 3]), 13);
  });
});

describe('gradient check of a whole graph with a shared layer and a fan-out', () => {
  it('x=[2,6,6,3] c1(4,3x3,same,relu) feeds s, d and the sum; shared s(4,3x3,same) on c1 and on d(c1); add -> maxpool -> dense(5,softmax)', () => {
    const inp = input({ shape: [6, 6, 3] });
    const c1 = Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }).apply(inp);
    const s = Conv2D({ filters: 4, kernelSize: 3, padding: 'same', name: 'shared' });
    const d = Conv2D({ filters: 4, kernelSize: 1, name: 'd' }).apply(c1);
    const sum = Add({ name: 'sum' }).apply([s.apply(c1), s.apply(d), c1]);
    const pooled = MaxPool2D({ poolSize: 2 }).apply(ReLU().apply(sum));
    const out = Dense({ units: 5, activation: 'softmax' }).apply(Flatten().apply(pooled));
    const m = model({ inputs: inp, outputs: out, seed: 21 });
    // The shared layer's weights exist once and get the sum of both uses' gradients.
    expect(
      m
        .weightSpecs()
        .filter((w) => w.name.startsWith('shared/'))
        .map((w) => w.name),
    ).toEqual(['shared/kernel', 'shared/bias']);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const x = randomTensor([2, 6, 6, 3], new Rng(22));
    checkLossGradients(m, x, Int32Array.from([3, 1]), 23);
    checkVjp(m, x, 24);
    m.dispose();
  });
});
