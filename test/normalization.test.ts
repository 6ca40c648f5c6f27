// BatchNormalization as a layer: training-mode forward against the float64 definition with the batch's
// statistics (over N,H,W, and over N after a Dense), inference with the moving ones, finite differences of
// the training-mode forward (and of the frozen layer's inference forward), the moving statistics after
// fit (TF.js's formula, applied only when a step is accepted: a refused step, computeGradients and vjp
// leave them), a frozen BN (inference mode inside fit, nothing of it changes), the inference scale
// recomputed whenever weights change, weight order, and bad configs.
import { describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  type BatchNormalizationArgs,
  Conv2D,
  Dense,
  DivergenceError,
  Flatten,
  ReLU,
  Sequential,
  SGD,
  ShapeError,
  tensor,
  type Tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { momentsRef, normalizeRef, randomWeights } from './batchnorm-reference.js';
import { randomTensor } from './gradcheck.js';
import { expectBitwise, expectClose } from './helpers.js';
import { checkTrainingVjp, trainingForward } from './training-forward.js';

const EPS = 1e-3;
const rowsOf = (x: Tensor) => x.data.length / x.shape[x.shape.length - 1];

function alone(shape: number[], args: BatchNormalizationArgs = {}, seed = 1) {
  return new Sequential([BatchNormalization({ inputShape: shape.slice(1), ...args })], { seed });
}

const weight = (m: Sequential, suffix: string) => m.getWeights()[m.weightSpecs().findIndex((s) => s.name.endsWith(`/${suffix}`))];

const shapes: number[][] = [
  [2, 7, 9, 3],
  [1, 5, 5, 13],
  [3, 4, 3, 17],
  [5, 11],
  [1, 7],
  [4, 2, 2, 64],
];

describe('BatchNormalization forward against the float64 definition', () => {
  for (const shape of shapes) {
    it(`batchnorm x=[${shape}]: training uses the batch's mean and biased variance, inference the moving ones`, () => {
      const m = alone(shape);
      randomWeights(m, 2);
      const x = randomTensor(shape, new Rng(3), 2);
      const C = shape[shape.length - 1],
        rows = rowsOf(x);
      const [gamma, beta, mm, mv] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((s) => weight(m, s));
      const { mean, variance } = momentsRef(x.data, rows, C);
      expectClose(
        trainingForward(m, x),
        normalizeRef(x.data, rows, C, mean, variance, gamma, beta, EPS),
        { rtol: 1e-4, atol: 1e-5 },
        'training',
      );
      expectClose(m.predict(x).data, normalizeRef(x.data, rows, C, mm, mv, gamma, beta, EPS), { rtol: 1e-5, atol: 1e-6 }, 'inference');
      m.dispose();
    });
  }

  it('batchnorm x=[3,4,5,6] center=false scale=false: only the moving statistics; a plain normalisation', () => {
    const m = alone([3, 4, 5, 6], { center: false, scale: false });
    expect(m.weightSpecs().map((s) => s.name.split('/')[1])).toEqual(['moving_mean', 'moving_variance']);
    const x = randomTensor([3, 4, 5, 6], new Rng(4));
    const { mean, variance } = momentsRef(x.data, 60, 6);
    expectClose(
      trainingForward(m, x),
      normalizeRef(x.data, 60, 6, mean, variance, null, null, EPS),
      { rtol: 1e-4, atol: 1e-5 },
      'training',
    );
    m.dispose();
  });
});

describe('BatchNormalization gradients by finite differences', () => {
  const cases: [string, number[], BatchNormalizationArgs][] = [
    ['x=[2,5,3,7] training mode', [2, 5, 3, 7], {}],
    ['x=[1,4,4,5] batch 1, training mode', [1, 4, 4, 5], {}],
    ['x=[6,13] after Dense, training mode', [6, 13], {}],
    ['x=[3,3,3,4] center=false', [3, 3, 3, 4], { center: false }],
    ['x=[3,3,3,4] scale=false epsilon=0.01', [3, 3, 3, 4], { scale: false, epsilon: 0.01 }],
  ];
  cases.forEach(([name, shape, args], i) => {
    it(`batchnorm ${name}: vjp vs central differences of the training-mode forward`, () => {
      const m = alone(shape, args);
      randomWeights(m, 10 + i);
      checkTrainingVjp(m, randomTensor(shape, new Rng(20 + i)), 30 + i);
      m.dispose();
    });
  });

  it('batchnorm x=[2,5,3,7] frozen: vjp (training mode) vs central differences, both with the moving statistics', () => {
    const m = alone([2, 5, 3, 7], { trainable: false });
    randomWeights(m, 40);
    checkTrainingVjp(m, randomTensor([2, 5, 3, 7], new Rng(41)), 42);
    m.dispose();
  });

  it('x=[4,6,5,3] conv(5,3x3,no bias)-BN-relu-flatten-dense(4): the whole chain in training mode', () => {
    const m = new Sequential(
      [
        Conv2D({ filters: 5, kernelSize: 3, useBias: false, inputShape: [6, 5, 3] }),
        BatchNormalization(),
        ReLU(),
        Flatten(),
        Dense({ units: 4 }),
      ],
      { seed: 3 },
    );
    checkTrainingVjp(m, randomTensor([4, 6, 5, 3], new Rng(50)), 51, { k: 6 });
    m.dispose();
  });
});

/** conv-BN-relu-flatten-dense-softmax on [N,5,5,2]; 3 classes. */
function small(seed: number, bn: BatchNormalizationArgs = {}) {
  return new Sequential(
    [
      Conv2D({ filters: 4, kernelSize: 3, inputShape: [5, 5, 2] }),
      BatchNormalization(bn),
      ReLU(),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed },
  );
}
function batch(n: number, seed: number): [Tensor, Int32Array] {
  const rng = new Rng(seed);
  return [randomTensor([n, 5, 5, 2], rng), Int32Array.from({ length: n }, () => rng.int(3))];
}
/** The conv's output for x (the BN's input), from a copy of the conv alone. */
function convOut(m: Sequential, x: Tensor): Float32Array {
  const c = new Sequential([Conv2D({ filters: 4, kernelSize: 3, inputShape: [5, 5, 2] })]);
  c.setWeights(m.getWeights().slice(0, 2));
  const y = c.predict(x).data;
  c.dispose();
  return y;
}
const f = Math.fround;

describe('BatchNormalization moving statistics', () => {
  it("x=[6,5,5,2]: one trainOnBatch updates them by TF.js's float32 formula from the batch's statistics", () => {
    const m = small(1);
    randomWeights(m, 60);
    const [x, y] = batch(6, 61);
    const mm0 = weight(m, 'moving_mean'),
      mv0 = weight(m, 'moving_variance');
    const { mean, variance } = momentsRef(convOut(m, x), 6 * 3 * 3, 4);
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(x, y);
    const decay = f(1 - 0.99);
    expectClose(
      weight(m, 'moving_mean'),
      Float64Array.from(mm0, (v, c) => f(v - f(f(v - mean[c]) * decay))),
      { rtol: 1e-6, atol: 1e-7 },
      'mean',
    );
    expectClose(
      weight(m, 'moving_variance'),
      Float64Array.from(mv0, (v, c) => f(v - f(f(v - variance[c]) * decay))),
      { rtol: 1e-6, atol: 1e-7 },
      'variance',
    );
    m.dispose();
  });

  it('x=[8,5,5,2] momentum=0.5: fit moves them every step; predict then uses the new ones (the cached inference scale follows)', async () => {
    const m = small(2, { momentum: 0.5 });
    const [x, y] = batch(8, 62);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const before = m.predict(x).data;
    const seen: Float32Array[] = [];
    await m.fit(x, y, { epochs: 3, batchSize: 4, onBatchEnd: () => void seen.push(weight(m, 'moving_variance')) });
    expect(seen.length).toBe(6);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toEqual(seen[i - 1]);
    // predict agrees with a fresh model holding the same weights (whose cache starts empty).
    const twin = small(3, { momentum: 0.5 });
    twin.setWeights(m.getWeights());
    expectBitwise(m.predict(x).data, twin.predict(x).data, 'predict after fit vs a fresh twin');
    expect(m.predict(x).data).not.toEqual(before);
    m.dispose();
    twin.dispose();
  });

  it('computeGradients and vjp run the training-mode forward but change no weights', () => {
    const m = small(4);
    const [x, y] = batch(5, 63);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const w0 = m.getWeights();
    m.computeGradients(x, y);
    m.vjp(x, randomTensor([5, 3], new Rng(1)));
    m.getWeights().forEach((w, i) => expectBitwise(w, w0[i], m.weightSpecs()[i].name));
    m.dispose();
  });

  it('a step refused by the divergence checks leaves the moving statistics as they were', () => {
    const m = small(5);
    const [x, y] = batch(6, 64);
    m.compile({ optimizer: new SGD({ learningRate: 1e12 }), loss: 'sparseCategoricalCrossentropy' });
    const w0 = m.getWeights();
    expect(() => m.trainOnBatch(x, y)).toThrow(DivergenceError);
    m.getWeights().forEach((w, i) => expectBitwise(w, w0[i], m.weightSpecs()[i].name));
    m.dispose();
  });

  it('setWeights of the moving statistics reaches the next predict (no stale inference scale)', () => {
    const m = alone([2, 3, 3, 5]);
    const x = randomTensor([2, 3, 3, 5], new Rng(7));
    const a = m.predict(x).data;
    randomWeights(m, 8);
    const b = m.predict(x).data;
    expect(b).not.toEqual(a);
    const [gamma, beta, mm, mv] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((s) => weight(m, s));
    expectClose(b, normalizeRef(x.data, 18, 5, mm, mv, gamma, beta, EPS), { rtol: 1e-5, atol: 1e-6 }, 'after setWeights');
    m.dispose();
  });
});

describe('a frozen BatchNormalization (trainable = false) runs in inference mode, also inside fit', () => {
  it('x=[6,5,5,2]: its four weights are last in getWeights, fit changes none of them, and the rest trains', async () => {
    const m = small(6);
    randomWeights(m, 70);
    const bn = m.layers[1];
    bn.trainable = false;
    expect(m.weightSpecs().map((s) => s.name.split('/')[1])).toEqual([
      'kernel',
      'bias',
      'kernel',
      'bias',
      'gamma',
      'beta',
      'moving_mean',
      'moving_variance',
    ]);
    const [x, y] = batch(6, 71);
    const w0 = m.getWeights();
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(x, y, { epochs: 2, batchSize: 3 });
    const w1 = m.getWeights();
    for (let i = 4; i < 8; i++) expectBitwise(w1[i], w0[i], m.weightSpecs()[i].name);
    expect(w1[0]).not.toEqual(w0[0]);
    // Its training-mode output is its inference output.
    expectBitwise(trainingForward(m, x), m.predict(x).data, 'training-mode forward = predict');
    m.dispose();
  });
});

describe('BatchNormalization configs and shapes', () => {
  it('axis: -1 and the last axis counting the batch (3 after a conv, as Keras writes it) are the channels; others are errors naming the layer', () => {
    for (const axis of [-1, 3, [3]]) {
      const m = alone([2, 4, 4, 3], { axis: axis as number });
      expect(m.predict(randomTensor([2, 4, 4, 3], new Rng(1))).shape).toEqual([2, 4, 4, 3]);
      m.dispose();
    }
    expect(() => alone([2, 4, 4, 3], { axis: 1, name: 'bn_axis' }).build()).toThrow(ShapeError);
    expect(() => alone([2, 4, 4, 3], { axis: 1, name: 'bn_axis2' }).build()).toThrow(
      /bn_axis2 \(BatchNormalization\): axis 1 is not supported .*only the last axis \(-1 or 3\)/,
    );
    expect(() => BatchNormalization({ axis: 'x' as never })).toThrow(ValueError);
  });
  it('bad momentum, epsilon, flags, and options TF.js writes that simdcnn does not support are errors naming the layer', () => {
    expect(() => BatchNormalization({ name: 'b1', momentum: 1.5 })).toThrow(/b1: momentum must be a number in \[0, 1\], received 1.5/);
    expect(() => BatchNormalization({ name: 'b2', epsilon: 0 })).toThrow(/b2: epsilon must be a positive number/);
    expect(() => BatchNormalization({ name: 'b3', center: 'yes' as never })).toThrow(/b3: center must be true or false/);
    expect(() => BatchNormalization({ name: 'b4', gammaConstraint: { className: 'NonNeg', config: {} } } as never)).toThrow(
      /b4 \(BatchNormalization\): option gammaConstraint=.* is not supported \(only null\)/,
    );
    expect(() => BatchNormalization({ name: 'b5', renorm: true } as never)).toThrow(
      /b5 \(BatchNormalization\): option renorm=true is not supported/,
    );
    expect(() => BatchNormalization({ name: 'b6', movingVarianceInitializer: 'gaussian' as never })).toThrow(
      /b6: movingVarianceInitializer 'gaussian' is not supported/,
    );
  });
  it("getConfig is TF.js's, defaults included", () => {
    const c = BatchNormalization({ name: 'bn_cfg' }).getConfig();
    expect(c).toMatchObject({
      axis: -1,
      momentum: 0.99,
      epsilon: 1e-3,
      center: true,
      scale: true,
      betaInitializer: { className: 'Zeros', config: {} },
      gammaInitializer: { className: 'Ones', config: {} },
      movingMeanInitializer: { className: 'Zeros', config: {} },
      movingVarianceInitializer: { className: 'Ones', config: {} },
      betaRegularizer: null,
      gammaRegularizer: null,
      betaConstraint: null,
      gammaConstraint: null,
      name: 'bn_cfg',
      trainable: true,
    });
  });
  it('x=[1,1,1,1]: one value per channel normalises to beta in training (variance 0), and one sample after a Dense too', () => {
    const m = alone([1, 1, 1, 1]);
    randomWeights(m, 9);
    const beta = weight(m, 'beta');
    expectClose(trainingForward(m, tensor([5], [1, 1, 1, 1])), beta, { rtol: 0, atol: 1e-6 }, 'beta');
    m.dispose();
  });
});
