// Regularizers on BatchNormalization (gammaRegularizer, betaRegularizer), DepthwiseConv2D (depthwiseRegularizer,
// biasRegularizer) and SeparableConv2D (depthwiseRegularizer, pointwiseRegularizer, biasRegularizer), as
// TF.js's L1L2: the penalty and its gradient against float64 on the same weights, finite differences where no
// BN is in training mode, three SGD steps against tfjs-layers 4.22 (loss with the penalty, every weight incl.
// BN's moving statistics), configs both ways and bad options.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  Dense,
  DepthwiseConv2D,
  Flatten,
  loadModel,
  type ModelArtifacts,
  regularizers,
  SeparableConv2D,
  Sequential,
  SGD,
  tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { checkLossGradients } from './gradcheck.js';
import { maxDiff, tf, tfjsArtifacts, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Rates = { l1: number; l2: number };
const R = {
  dw: { l1: 0.01, l2: 0.02 },
  dwBias: { l1: 0, l2: 0.05 },
  gamma: { l1: 0, l2: 0.03 },
  beta: { l1: 0.02, l2: 0 },
  sepDw: { l1: 0, l2: 0.04 },
  sepPw: { l1: 0.01, l2: 0.01 },
  sepBias: { l1: 0.03, l2: 0 },
};
const cfg = (r: Rates) => ({ className: 'L1L2', config: r });

/**
 * x=[N,7,6,3] depthwise(3x3,dm2,same; dw l1l2, bias l2) [7,6,6] - BN(gamma l2, beta l1) - separable(5,3x3,s2,same,tanh;
 * dw l2, pw l1l2, bias l1) [4,3,5] - flatten - dense(4,softmax). `bn: false` leaves BN out (finite differences).
 */
function net(opts: { regularized?: boolean; bn?: boolean } = {}) {
  const on = opts.regularized ?? true;
  const r = (x: Rates) => (on ? cfg(x) : null);
  return new Sequential(
    [
      new DepthwiseConv2D({
        kernelSize: 3,
        depthMultiplier: 2,
        padding: 'same',
        inputShape: [7, 6, 3],
        name: 'dw',
        depthwiseRegularizer: r(R.dw),
        biasRegularizer: on ? regularizers.l2({ l2: R.dwBias.l2 }) : null,
      }),
      ...(opts.bn === false
        ? []
        : [
            new BatchNormalization({
              name: 'bn',
              gammaRegularizer: r(R.gamma),
              betaRegularizer: on ? regularizers.l1({ l1: R.beta.l1 }) : null,
            }),
          ]),
      new SeparableConv2D({
        filters: 5,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'tanh',
        name: 'sep',
        depthwiseRegularizer: r(R.sepDw),
        pointwiseRegularizer: on ? regularizers.l1l2(R.sepPw) : null,
        biasRegularizer: r(R.sepBias),
      }),
      new Flatten(),
      new Dense({ units: 4, activation: 'softmax', name: 'out' }),
    ],
    { seed: 7 },
  );
}
const rates: Record<string, Rates> = {
  'dw/depthwise_kernel': R.dw,
  'dw/bias': R.dwBias,
  'bn/gamma': R.gamma,
  'bn/beta': R.beta,
  'sep/depthwise_kernel': R.sepDw,
  'sep/pointwise_kernel': R.sepPw,
  'sep/bias': R.sepBias,
};
const f32 = Math.fround;
/** sum over regularized weights of l1 |w| + l2 w^2, in float64. */
const penaltyOf = (names: string[], ws: Float32Array[]) =>
  ws.reduce((s, w, i) => {
    const r = rates[names[i]];
    return r ? s + w.reduce((a, v) => a + f32(r.l1) * Math.abs(v) + f32(r.l2) * v * v, 0) : s;
  }, 0);

const rng = new Rng(11);
const rand = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * scale);
const batches = Array.from({ length: 3 }, () => ({ x: rand(7 * 7 * 6 * 3), y: Int32Array.from({ length: 7 }, () => rng.int(4)) }));
const X = (b: (typeof batches)[number]) => tensor(b.x, [7, 7, 6, 3]);
const flat = (ws: Float32Array[]) => ws.flatMap((w) => Array.from(w));

describe('regularizers on DepthwiseConv2D, BatchNormalization, SeparableConv2D', () => {
  it('x=[7,7,6,3] dw(3x3,dm2) - BN - sep(5,3x3,s2) - dense 4: loss and gradients = unregularized + penalty and l1 sign(w) + 2 l2 w (float64), BN in training mode', () => {
    const a = net(),
      b = net({ regularized: false });
    // Biases and beta off 0, where |w| has no derivative (TF.js takes -1 there).
    const ws = a.getWeights().map((w) => rand(w.length, 0.5));
    const names = a.weightSpecs().map((s) => s.name);
    ws[names.indexOf('bn/moving_variance')] = ws[names.indexOf('bn/moving_variance')].map((v) => 1 + v);
    a.setWeights(ws);
    b.setWeights(ws);
    for (const m of [a, b]) m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const ga = a.computeGradients(X(batches[0]), batches[0].y),
      gb = b.computeGradients(X(batches[0]), batches[0].y);
    expect(Math.abs(ga.loss - gb.loss - penaltyOf(names, ws))).toBeLessThan(1e-5);
    let regularized = 0;
    names.forEach((name, i) => {
      const r = rates[name] ?? { l1: 0, l2: 0 };
      if (rates[name]) regularized++;
      const want = gb.grads[i].map((g, j) => g + f32(r.l1) * (ws[i][j] > 0 ? 1 : -1) + 2 * f32(r.l2) * ws[i][j]);
      expect({ name, diff: maxDiff(ga.grads[i], want) < 1e-6 }).toEqual({ name, diff: true });
    });
    expect(regularized).toBe(7);
    a.dispose();
    b.dispose();
  });

  it('x=[7,7,6,3] dw(3x3,dm2) - sep(5,3x3,s2) - dense 4, regularized: the training loss and its gradient by finite differences', () => {
    const m = net({ bn: false });
    const names = m.weightSpecs().map((s) => s.name);
    m.setWeights(m.getWeights().map((w) => rand(w.length, 0.5)));
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    checkLossGradients(m, X(batches[1]), batches[1].y, 5, 1e-3, 3e-2, 2e-3, (w) => penaltyOf(names, w));
    m.dispose();
  });

  it('three SGD steps against tfjs-layers: loss with the penalty and every weight (BN moving statistics included) within 1e-5', async () => {
    const a = net();
    a.build();
    const b = await toTfjs(await a.save());
    a.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    b.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    for (const bt of batches) {
      const la = a.trainOnBatch(X(bt), bt.y).loss;
      const lb = (await b.trainOnBatch(tf.tensor4d(bt.x, [7, 7, 6, 3]), tf.tensor1d(bt.y, 'float32'))) as number;
      expect(Math.abs(la - lb)).toBeLessThan(1e-5);
    }
    const theirs = b.getWeights().map((t) => t.dataSync() as Float32Array);
    expect(b.weights.map((w) => w.originalName)).toEqual(a.weightSpecs().map((s) => s.name));
    expect(maxDiff(flat(a.getWeights()), flat(theirs))).toBeLessThan(1e-5);
    // The regularized weights moved differently from an unregularized run's: the penalty took part.
    const c = net({ regularized: false });
    c.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    for (const bt of batches) c.trainOnBatch(X(bt), bt.y);
    expect(maxDiff(a.getWeights()[0], c.getWeights()[0])).toBeGreaterThan(1e-4);
    a.dispose();
    c.dispose();
  });

  it('configs both ways: TF.js reads the L1L2 configs simdcnn writes, and simdcnn reads back what TF.js writes', async () => {
    const a = net();
    a.build();
    const theirs = await toTfjs(await a.save());
    const [dw, bn, sep] = theirs.layers.map((l) => l.getConfig());
    expect([dw.depthwiseRegularizer, dw.biasRegularizer]).toEqual([cfg(R.dw), cfg(R.dwBias)]);
    expect([bn.gammaRegularizer, bn.betaRegularizer]).toEqual([cfg(R.gamma), cfg(R.beta)]);
    expect([sep.depthwiseRegularizer, sep.pointwiseRegularizer, sep.biasRegularizer]).toEqual([cfg(R.sepDw), cfg(R.sepPw), cfg(R.sepBias)]);
    // TF.js 4.22's DepthwiseConv2D.getConfig writes its depthwiseRegularizer as depthwiseConstraint too.
    expect(dw.depthwiseConstraint).toEqual(cfg(R.dw));
    const back = await loadModel((await tfjsArtifacts(theirs)) as ModelArtifacts);
    expect(back.layers.map((l) => l.getConfig())).toEqual(a.layers.map((l) => l.getConfig()));
    expect(back.getWeights()).toEqual(a.getWeights());
    a.dispose();
    back.dispose();
  });

  it('bad regularizers and constraints throw naming the layer and option', () => {
    expect(() => new BatchNormalization({ name: 'b', gammaRegularizer: 'l3' as never })).toThrow(ValueError);
    expect(() => new BatchNormalization({ name: 'b', gammaRegularizer: 'l3' as never })).toThrow(/b: gammaRegularizer must be 'l1l2'/);
    expect(() => new BatchNormalization({ name: 'b', betaRegularizer: cfg({ l1: -1, l2: 0 }) })).toThrow(
      /b: betaRegularizer: l1 must be a finite number >= 0, received -1/,
    );
    expect(() => new DepthwiseConv2D({ kernelSize: 3, name: 'd', depthwiseRegularizer: { className: 'L2', config: { l2: NaN } } })).toThrow(
      /d: depthwiseRegularizer: l2 must be a finite number/,
    );
    expect(() => new SeparableConv2D({ filters: 2, kernelSize: 3, name: 's', pointwiseRegularizer: 'l4' as never })).toThrow(
      /s: pointwiseRegularizer must be 'l1l2'/,
    );
    // A constraint simdcnn does not have, unless it is TF.js's copy of the regularizer.
    expect(
      () =>
        new DepthwiseConv2D({ kernelSize: 3, name: 'd', depthwiseConstraint: { className: 'MaxNorm', config: { maxValue: 2 } } } as never),
    ).toThrow(/d \(DepthwiseConv2D\): option depthwiseConstraint=.*MaxNorm.* is not supported \(only null\)/);
    expect(
      () =>
        new DepthwiseConv2D({
          kernelSize: 3,
          name: 'd',
          depthwiseRegularizer: 'l2',
          depthwiseConstraint: cfg({ l1: 0, l2: 0.01 }),
        } as never),
    ).not.toThrow();
  });
});
