// Regularizers (TF.js's L1L2 on Conv2D's and Dense's kernel and bias): the l1l2_penalty kernel against a
// float64 reference in every build, the regularized training loss by finite differences, three SGD steps
// against tfjs-layers (loss with the penalty, every weight), the configs both ways and bad options.
import { beforeAll, describe, expect, it } from 'vitest';
import { Conv2D, Dense, Flatten, loadModel, type ModelArtifacts, regularizers, Sequential, SGD, tensor, ValueError } from '../src/node.js';
import { Rng } from '../src/random.js';
import { checkLossGradients } from './gradcheck.js';
import { createVariants, expectBitwise, type Variant, withArena } from './helpers.js';
import { maxDiff, tf, tfjsArtifacts, toTfjs } from './tfjs-helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
  await tf.setBackend('cpu');
});

const rand = (n: number, seed: number, scale = 1) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => (r.uniform() * 2 - 1) * scale);
};
/** l1 sum|w| + l2 sum w^2 and its gradient, in float64. */
const penaltyRef = (w: ArrayLike<number>, l1: number, l2: number) => {
  let p = 0;
  for (let i = 0; i < w.length; i++) p += l1 * Math.abs(w[i]) + l2 * w[i] * w[i];
  return p;
};

describe('l1l2_penalty kernel vs float64', () => {
  for (const n of [1, 3, 4, 7, 33]) {
    for (const [l1, l2] of [
      [0.01, 0],
      [0, 0.02],
      [0.03, 0.005],
    ]) {
      it(`w=[${n}] l1=${l1} l2=${l2}: penalty, gradient added to g (TF.js's -1 for |w|'s slope at 0), loss only with g = 0, builds bit for bit`, () => {
        const w = rand(n, n, 2);
        if (n > 2) w[1] = 0;
        const g0 = rand(n, n + 1);
        const want = penaltyRef(w, Math.fround(l1), Math.fround(l2));
        const out: Float32Array[] = [];
        for (const { name, be } of vs) {
          out.push(
            withArena(be, (ar) => {
              const pw = ar.f32('w', w),
                pg = ar.out('g', n);
              be.write(pg, g0);
              const p = ar.run('penalty + grad', [pg], () => be.k.l1l2_penalty(pw, pg, n, l1, l2));
              expect(ar.run('penalty only', [], () => be.k.l1l2_penalty(pw, 0, n, l1, l2))).toBe(p);
              expect(Math.abs(p - want), `${name} penalty`).toBeLessThan(1e-12 * Math.max(1, want));
              const g = ar.read(pg);
              g0.forEach((v, i) => {
                const s = w[i] > 0 ? 1 : -1; // tf.step(w, -1), TF.js's gradient of |w|
                expect(Math.abs(g[i] - (v + Math.fround(l1) * s + 2 * Math.fround(l2) * w[i])), `${name} g[${i}]`).toBeLessThan(1e-6);
              });
              return g;
            }),
          );
        }
        out.forEach((g) => expectBitwise(g, out[0], 'builds agree'));
      });
    }
  }
});

/** x=[N,6,5,2] conv(3,3x3,relu; kernel l1l2, bias l2) - flatten - dense(4,softmax; kernel l2, bias l1). */
const regs = {
  convKernel: { l1: 0.01, l2: 0.02 },
  convBias: { l1: 0, l2: 0.05 },
  denseKernel: { l1: 0, l2: 0.03 },
  denseBias: { l1: 0.02, l2: 0 },
};
function net(seed = 5) {
  return new Sequential(
    [
      new Conv2D({
        filters: 3,
        kernelSize: 3,
        activation: 'relu',
        inputShape: [6, 5, 2],
        kernelRegularizer: regularizers.l1l2(regs.convKernel),
        biasRegularizer: regularizers.l2({ l2: regs.convBias.l2 }),
      }),
      new Flatten(),
      new Dense({
        units: 4,
        activation: 'softmax',
        kernelRegularizer: { className: 'L2', config: { l2: regs.denseKernel.l2 } },
        biasRegularizer: regularizers.l1({ l1: regs.denseBias.l1 }),
      }),
    ],
    { seed },
  );
}
const modelPenalty = (w: Float32Array[]) => {
  const r = [regs.convKernel, regs.convBias, regs.denseKernel, regs.denseBias];
  return w.reduce((s, wi, i) => s + penaltyRef(wi, r[i].l1, r[i].l2), 0);
};
const rng = new Rng(3);
const batches = Array.from({ length: 3 }, () => ({
  x: Float32Array.from({ length: 7 * 6 * 5 * 2 }, () => rng.uniform() * 2 - 1),
  y: Int32Array.from({ length: 7 }, () => rng.int(4)),
}));
const X = (b: (typeof batches)[number]) => tensor(b.x, [7, 6, 5, 2]);
const flat = (ws: Float32Array[]) => ws.flatMap((w) => Array.from(w));

describe('regularized models', () => {
  it('conv2d x=[7,6,5,2] k=[3,3,2,3] + dense 4, all four regularized: the loss and its gradient by finite differences', () => {
    const m = net();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    // Biases off 0, where |b| has no derivative (TF.js takes -1 there, finite differences 0).
    m.setWeights(m.getWeights().map((w, i) => (i % 2 ? rand(w.length, 20 + i, 0.3) : w)));
    const b = batches[0];
    const { loss } = m.computeGradients(X(b), b.y);
    const plain = m.evaluate(X(b), b.y, { batchSize: 7 }).loss;
    expect(Math.abs(loss - (plain + modelPenalty(m.getWeights())))).toBeLessThan(1e-6);
    checkLossGradients(m, X(b), b.y, 9, 1e-3, 3e-2, 2e-3, modelPenalty);
    m.dispose();
  });

  it('three SGD steps against tfjs-layers: the reported loss includes the penalty, evaluate leaves it out, every weight within 1e-6', async () => {
    const a = net();
    a.build();
    const files = await a.save();
    const b = await toTfjs(files);
    a.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    b.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    for (const bt of batches) {
      const la = a.trainOnBatch(X(bt), bt.y).loss;
      const lb = (await b.trainOnBatch(tf.tensor4d(bt.x, [7, 6, 5, 2]), tf.tensor1d(bt.y, 'float32'))) as number;

      expect(Math.abs(la - lb)).toBeLessThan(1e-6);
    }
    expect(maxDiff(flat(a.getWeights()), flat(b.getWeights().map((t) => t.dataSync() as Float32Array)))).toBeLessThan(1e-6);
    const bt = batches[0];
    const ea = a.evaluate(X(bt), bt.y).loss,
      eb = (b.evaluate(tf.tensor4d(bt.x, [7, 6, 5, 2]), tf.tensor1d(bt.y, 'float32')) as tf.Scalar).dataSync()[0];
    expect(Math.abs(ea - eb)).toBeLessThan(1e-6);
    a.dispose();
  });

  it('configs both ways: TF.js reads the L1L2 configs simdcnn writes and writes them back the same', async () => {
    const a = net();
    a.build();
    const theirs = await toTfjs(await a.save());
    const conf = theirs.layers[0].getConfig();
    expect(conf.kernelRegularizer).toEqual({ className: 'L1L2', config: { l1: 0.01, l2: 0.02 } });
    expect(conf.biasRegularizer).toEqual({ className: 'L1L2', config: { l1: 0, l2: 0.05 } });
    const back = await loadModel((await tfjsArtifacts(theirs)) as ModelArtifacts);
    expect(back.layers.map((l) => l.getConfig())).toEqual(a.layers.map((l) => l.getConfig()));
    expect(back.layers[0].getConfig().kernelRegularizer).toEqual(conf.kernelRegularizer);
    a.dispose();
    back.dispose();
  });

  it("TF.js's 'l1l2' string (0.01 each), Keras's 'l1', 'l2', L1 and L2, and null", () => {
    const cfg = (r: unknown) => new Dense({ units: 2, kernelRegularizer: r as never }).getConfig().kernelRegularizer;
    expect(cfg('l1l2')).toEqual({ className: 'L1L2', config: { l1: 0.01, l2: 0.01 } });
    expect(cfg('l1')).toEqual({ className: 'L1L2', config: { l1: 0.01, l2: 0 } });
    expect(cfg('l2')).toEqual({ className: 'L1L2', config: { l1: 0, l2: 0.01 } });
    expect(cfg({ className: 'L1', config: { l1: 0.3 } })).toEqual({ className: 'L1L2', config: { l1: 0.3, l2: 0 } });
    expect(cfg(null)).toBeNull();
    expect(tf.layers.dense({ units: 2, kernelRegularizer: 'l1l2' }).getConfig().kernelRegularizer).toEqual(cfg('l1l2'));
  });

  it('bad regularizers throw naming the layer and option', () => {
    const bad = (r: unknown) => () => new Conv2D({ filters: 2, kernelSize: 3, name: 'c', kernelRegularizer: r as never });
    expect(bad('l3')).toThrow(ValueError);
    expect(bad('l3')).toThrow(/c: kernelRegularizer must be 'l1l2'/);
    expect(bad({ className: 'L1L2', config: { l1: -1 } })).toThrow(/c: kernelRegularizer: l1 must be a finite number >= 0, received -1/);
    expect(bad({ className: 'L2', config: { l2: NaN } })).toThrow(/l2 must be a finite number/);
    expect(() => new Dense({ units: 2, name: 'd', activityRegularizer: 'l1l2' } as never)).toThrow(/d/);
  });
});
