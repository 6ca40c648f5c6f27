// Bad input at the public entry points: a typed error that names the layer or file and says expected vs
// received, never a wasm trap, and the model keeps working afterwards.
import { describe, expect, it } from 'vitest';
import {
  Conv2D,
  Dense,
  Flatten,
  MaxPool2D,
  Sequential,
  SGD,
  ShapeError,
  StateError,
  ValueError,
  DivergenceError,
  tensor,
  Tensor,
} from '../src/node.js';
import { Rng } from '../src/random.js';

function net() {
  return new Sequential(
    [
      new Conv2D({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], name: 'conv' }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax', name: 'out' }),
    ],
    { seed: 1 },
  );
}
const rng = new Rng(2);
const x = (n: number, shape = [8, 8, 1]) =>
  tensor(
    Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => rng.uniform()),
    [n, ...shape],
  );

describe('bad input throws a clear error and leaves the model usable', () => {
  it('x=[4,9,8,1] into inputShape [8,8,1]: ShapeError naming the layer, expected and received', async () => {
    const m = net();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(x(4, [9, 8, 1]), [0, 1, 2, 0])).rejects.toThrow(ShapeError);
    expect(() => m.predict(x(4, [9, 8, 1]))).toThrow(/conv \(Conv2D\): expected input shape \[null,8,8,1\], received \[4,9,8,1\]/);
    expect(() => m.predict(tensor(new Float32Array(64), [64]))).toThrow(ShapeError);
    await m.fit(x(4), [0, 1, 2, 0], { epochs: 1 });
    expect(m.predict(x(2)).shape).toEqual([2, 3]);
  });

  it('labels: wrong count, out of range, not integers, wrong kind', async () => {
    const m = net();
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const before = m.getWeights();
    await expect(m.fit(x(4), [0, 1, 2])).rejects.toThrow(/expected 4 labels \(one per sample of x\), received 3/);
    await expect(m.fit(x(4), [0, 1, 3, 0])).rejects.toThrow(/label 2 is 3; expected an integer class index in \[0, 2\]/);
    await expect(m.fit(x(4), [0, 1, 0.5, 0])).rejects.toThrow(ValueError);
    await expect(m.fit(x(4), new Float32Array(4) as unknown as Int32Array)).rejects.toThrow(/labels must be/);
    await expect(m.fit(x(4), tensor(new Float32Array(12), [4, 3]))).rejects.toThrow(/categoricalCrossentropy/);
    // None of the refused calls took a step.
    expect(m.getWeights()).toEqual(before);
    expect((await m.fit(x(4), [0, 1, 2, 0])).history.loss[0]).toBeGreaterThan(0);
  });

  it('NaN and Infinity in x are refused before any step, naming the sample', async () => {
    const m = net();
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const bad = x(5);
    bad.data[3 * 64 + 10] = NaN;
    const w = m.getWeights();
    await expect(m.fit(bad, [0, 1, 2, 0, 1], { shuffle: false, batchSize: 5 })).rejects.toThrow(/x\[3\] contains NaN at offset 10/);
    bad.data[3 * 64 + 10] = Infinity;
    expect(() => m.predict(bad)).toThrow(/x\[3\] contains Infinity/);
    expect(m.getWeights()).toEqual(w);
  });

  it('use before compile, non-positive batch size or epochs, bad optimizer and loss', async () => {
    const m = net();
    await expect(m.fit(x(2), [0, 1])).rejects.toThrow(StateError);
    expect(() => m.compile({ optimizer: 'lamb' as 'sgd', loss: 'sparseCategoricalCrossentropy' })).toThrow(/optimizer must be/);
    expect(() => m.compile({ optimizer: 'sgd', loss: 'huber' as 'categoricalCrossentropy' })).toThrow(/loss 'huber' is not supported/);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(x(2), [0, 1], { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, received 0/);
    await expect(m.fit(x(2), [0, 1], { epochs: 1.5 })).rejects.toThrow(/epochs must be a positive integer/);
    expect(() => new SGD({ learningRate: -1 })).toThrow(ValueError);
  });

  it('a model that does not end in softmax cannot use a crossentropy loss', () => {
    const m = new Sequential([new Dense({ units: 3, inputShape: [4] })]);
    expect(() => m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' })).toThrow(/must end in softmax/);
  });

  it('setWeights with the wrong count, size or non-finite values', () => {
    const m = net();
    const w = m.getWeights();
    expect(() => m.setWeights(w.slice(1))).toThrow(/expected 4 arrays/);
    expect(() => m.setWeights([w[0], w[1], new Float32Array(5), w[3]])).toThrow(/out\/kernel expects 108 values \[36,3\], received 5/);
    const nan = w.map((a) => a.slice());
    nan[0][0] = NaN;
    expect(() => m.setWeights(nan)).toThrow(/conv\/kernel\[0\] is NaN/);
    expect(m.getWeights()).toEqual(w);
  });

  it('a layer config with no valid output: 5x5 valid conv on 3x3 names the layer', () => {
    const m = new Sequential([new Conv2D({ filters: 2, kernelSize: 5, inputShape: [3, 3, 1], name: 'big' })]);
    expect(() => m.summary(() => {})).toThrow(/big: a 5x5 window with 'valid' padding does not fit an input of 3x3/);
    expect(() => new Conv2D({ filters: 0, kernelSize: 3 })).toThrow(/filters must be a positive integer/);
    expect(() => new Conv2D({ filters: 2, kernelSize: [3, 0] })).toThrow(/kernelSize/);
    expect(() => new Dense({ units: 2, activation: 'mish' as 'relu' })).toThrow(/activation 'mish' is not supported/);
  });

  it('a model used after dispose throws StateError', () => {
    const m = net();
    m.dispose();
    expect(() => m.predict(x(1))).toThrow(StateError);
  });

  it('a diverging run stops with the step number and leaves finite weights', async () => {
    const m = new Sequential([new Dense({ units: 3, activation: 'softmax', inputShape: [2] })], { seed: 3 });
    m.compile({ optimizer: new SGD({ learningRate: 1e30 }), loss: 'sparseCategoricalCrossentropy' });
    const xs = tensor(
      Float32Array.from({ length: 40 }, (_, i) => (i % 7) * 1e5),
      [20, 2],
    );
    const err = await m
      .fit(
        xs,
        Array.from({ length: 20 }, (_, i) => i % 3),
        { batchSize: 2, epochs: 5 },
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err.message).toMatch(/at step \d+.*lower learning rate/);
    for (const w of m.getWeights()) expect(w.every(Number.isFinite)).toBe(true);
    expect(m.predict(new Tensor(new Float32Array(2), [1, 2])).data.every(Number.isFinite)).toBe(true);
  });
});
