// The losses: kernels against float64 references (binary crossentropy in its three forms, MSE, MAE, the
// crossentropies with label smoothing and from logits) on sizes not divisible by 4; whole models against
// TensorFlow.js (same weights, three SGD steps: the loss values and the weights), gradients by finite
// differences of evaluate(), the training config both ways, and the errors compile and fit give.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv2D,
  Dense,
  Flatten,
  loadModel,
  type Model,
  type ModelArtifacts,
  Sequential,
  SGD,
  tensor,
  type Tensor,
  ValueError,
} from '../src/node.js';
import type { LossLike } from '../src/engine/losses.js';
import { Rng } from '../src/random.js';
import { createVariants, expectBitwise, type Variant, withArena } from './helpers.js';
import { mulberry32, randomArray } from './reference.js';
import { maxDiff, tf, tfjsArtifacts, toTfjs } from './tfjs-helpers.js';

let vs: Variant[];
beforeAll(async () => {
  await tf.setBackend('cpu');
  vs = await createVariants();
});

const EPS = 1e-7;
const clip = (p: number) => Math.min(Math.max(p, Math.fround(EPS)), Math.fround(1 - EPS));
const sig = (z: number) => 1 / (1 + Math.exp(-z));

/** Float64 binary crossentropy: loss sum and gradient (times scale) in the three modes of the kernel. */
function bceRef(out: Float32Array, t: Float32Array, ls: number, mode: 0 | 1 | 2, scale: number) {
  let loss = 0;
  const g = new Float64Array(out.length);
  out.forEach((v, i) => {
    const y = t[i] * (1 - ls) + 0.5 * ls;
    if (mode === 2) {
      loss += Math.max(v, 0) - v * y + Math.log1p(Math.exp(-Math.abs(v)));
      g[i] = (sig(v) - y) * scale;
    } else {
      const p = clip(v);
      loss -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
      g[i] = (mode === 1 ? v - y : p === v ? (p - y) / (p * (1 - p)) : 0) * scale;
    }
  });
  return { loss, g };
}

describe('loss kernels vs float64', () => {
  for (const n of [1, 3, 7, 13, 100]) {
    for (const [mode, ls] of [
      [0, 0],
      [1, 0],
      [2, 0],
      [0, 0.1],
      [2, 0.2],
    ] as const) {
      it(`bce n=${n} mode=${['probabilities', 'sigmoid-fused', 'logits'][mode]} labelSmoothing=${ls}`, () => {
        const rnd = mulberry32(n * 10 + mode);
        const out = mode === 2 ? randomArray(n, rnd, 20) : Float32Array.from({ length: n }, () => rnd());
        if (mode !== 2 && n > 2) [out[0], out[1]] = [0, 1]; // clipped ends: no gradient through the clip (mode 0)
        const t = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? rnd() : i % 2));
        const scale = Math.fround(1 / n);
        const want = bceRef(out, t, Math.fround(ls), mode, scale);
        const got: Float32Array[] = [];
        for (const { name, be } of vs) {
          const [l, g] = withArena(be, (ar) => {
            const po = ar.f32('out', out),
              pt = ar.f32('t', t),
              pg = ar.out('dl', n);
            const loss = ar.run('bce', [pg], () => be.k.bce(po, pt, 0, pg, 1, n, scale, ls, mode));
            expect(ar.run('bce loss only', [], () => be.k.bce(po, pt, 0, 0, 1, n, scale, ls, mode))).toBe(loss);
            return [loss, ar.read(pg)] as const;
          });
          expect(Math.abs(l - want.loss), `${name} loss`).toBeLessThan(1e-6 * Math.max(1, want.loss));
          expect(maxDiff(g, want.g), `${name} gradient`).toBeLessThan(2e-6 * Math.max(1, ...want.g.map(Math.abs)));
          got.push(g);
        }
        got.forEach((g) => expectBitwise(g, got[0], 'variants agree'));
      });
    }
    it(`mse, mae and binary_matches n=${n}`, () => {
      const rnd = mulberry32(n + 77);
      const out = randomArray(n, rnd, 3),
        t = randomArray(n, rnd, 3);
      if (n > 2) t[1] = out[1]; // MAE's sign(0) = 0
      const scale = Math.fround(1 / n);
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const po = ar.f32('out', out),
            pt = ar.f32('t', t),
            pg = ar.out('dl', n);
          const lm = ar.run('mse', [pg], () => be.k.mse(po, pt, 0, pg, 1, n, scale));
          const gm = ar.read(pg);
          const la = ar.run('mae', [pg], () => be.k.mae(po, pt, 0, pg, 1, n, scale));
          const ga = ar.read(pg);
          let wm = 0,
            wa = 0;
          out.forEach((v, i) => {
            const d = Math.fround(v - t[i]);
            wm += d * d;
            wa += Math.abs(d);
            expect(gm[i], `${name} mse grad ${i}`).toBe(Math.fround(d * Math.fround(2 * scale)));
            expect(ga[i], `${name} mae grad ${i}`).toBe(d > 0 ? scale : d < 0 ? -scale : 0);
          });
          expect(Math.abs(lm - wm)).toBeLessThan(1e-9 * Math.max(1, wm));
          expect(Math.abs(la - wa)).toBeLessThan(1e-9 * Math.max(1, wa));
          const bits = Float32Array.from({ length: n }, (_, i) => i % 2);
          const pb = ar.f32('bits', bits);
          const want = Array.from(out).filter((v, i) => (v > 0.5 ? 1 : 0) === bits[i]).length;
          expect(ar.run('binary_matches', [], () => be.k.binary_matches(po, pb, n, 0.5))).toBe(want);
        });
      }
    });
  }

  for (const [N, C] of [
    [1, 2],
    [3, 5],
    [4, 10],
  ]) {
    for (const [ls, logits] of [
      [0.1, 0],
      [0, 1],
      [0.2, 1],
    ]) {
      it(`softmax crossentropy p=[${N},${C}] labelSmoothing=${ls} fromLogits=${logits}`, () => {
        const rnd = mulberry32(N * C + ls * 10 + logits);
        const z = randomArray(N * C, rnd, 4);
        const labels = Int32Array.from({ length: N }, () => Math.floor(rnd() * C));
        const onehot = new Float32Array(N * C);
        labels.forEach((l, i) => (onehot[i * C + l] = 1));
        // Probabilities for the non-logits case: a float64 softmax rounded to float32.
        const p = new Float32Array(N * C);
        for (let i = 0; i < N; i++) {
          const row = Array.from(z.subarray(i * C, (i + 1) * C));
          const m = Math.max(...row),
            s = row.reduce((a, v) => a + Math.exp(v - m), 0);
          row.forEach((v, j) => (p[i * C + j] = Math.exp(v - m) / s));
        }
        const out = logits ? z : p;
        const scale = Math.fround(1 / N),
          lsf = Math.fround(ls);
        let wantLoss = 0;
        const wantG = new Float64Array(N * C);
        for (let i = 0; i < N; i++) {
          const row = Array.from(z.subarray(i * C, (i + 1) * C));
          const m = Math.max(...row),
            lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
          for (let j = 0; j < C; j++) {
            const y = Math.fround(Math.fround(onehot[i * C + j] * Math.fround(1 - lsf)) + Math.fround(lsf / C));
            wantLoss += y * (logits ? lse - z[i * C + j] : -Math.log(clip(p[i * C + j])));
            wantG[i * C + j] = ((logits ? Math.exp(z[i * C + j] - lse) : p[i * C + j]) - y) * scale;
          }
        }
        for (const { name, be } of vs) {
          withArena(be, (ar) => {
            const po = ar.f32('out', out),
              pl = ar.i32('labels', labels),
              pt = ar.f32('targets', onehot),
              g1 = ar.out('g sparse', N * C),
              g2 = ar.out('g dense', N * C);
            const l1 = ar.run('sparse', [g1], () => be.k.softmax_xent_sparse(po, pl, 0, g1, N, C, scale, lsf, logits));
            const l2 = ar.run('dense', [g2], () => be.k.softmax_xent_dense(po, pt, 0, g2, N, C, scale, lsf, logits));
            expect(Math.abs(l1 - wantLoss), `${name} sparse loss`).toBeLessThan(2e-6 * Math.max(1, wantLoss));
            expect(Math.abs(l2 - wantLoss), `${name} dense loss`).toBeLessThan(2e-6 * Math.max(1, wantLoss));
            expect(maxDiff(ar.read(g1), wantG), `${name} sparse grad`).toBeLessThan(1e-6);
            expectBitwise(ar.read(g2), ar.read(g1), `${name} dense == sparse`);
          });
        }
      });
    }
  }
});

// ------------------------------------------------------------------------------------------- models vs TF.js

const rand = (shape: number[], seed: number, lo = -1, hi = 1) => {
  const rng = new Rng(seed);
  return tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rng.uniform()),
    shape,
  );
};
const bits = (shape: number[], seed: number) => {
  const t = rand(shape, seed, 0, 1);
  return tensor(
    t.data.map((v) => (v < 0.5 ? 0 : 1)),
    shape,
  );
};
const tfT = (t: Tensor) => tf.tensor(t.data, t.shape);
/** The output shape without the batch axis. */
const outDims = (m: Model) => m.layers[m.layers.length - 1].outputShape;

/** A conv net with a [5,3,2] output (an autoencoder's shape) or a dense head of 7. */
function nets(outAct: string, dense: boolean) {
  const layers = dense
    ? [new Flatten({ inputShape: [5, 3, 3] }), new Dense({ units: 7, activation: outAct as never })]
    : [
        new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', inputShape: [5, 3, 3] }),
        new Conv2D({ filters: 2, kernelSize: 2, padding: 'same', activation: outAct as never }),
      ];
  const ours = new Sequential(layers, { seed: 11 });
  const theirs = tf.sequential({
    layers: dense
      ? [tf.layers.flatten({ inputShape: [5, 3, 3] }), tf.layers.dense({ units: 7, activation: outAct as never })]
      : [
          tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', inputShape: [5, 3, 3] }),
          tf.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', activation: outAct as never }),
        ],
  });
  ours.build();
  theirs.setWeights(ours.getWeights().map((w, i) => tf.tensor(w, ours.weightSpecs()[i].shape)));
  return { ours, theirs };
}

type TfLoss = string | ((yt: tf.Tensor, yp: tf.Tensor) => tf.Scalar);
const parity: [string, string, boolean, LossLike, TfLoss, (seed: number, shape: number[]) => Tensor][] = [
  ['binaryCrossentropy, sigmoid output (fused)', 'sigmoid', false, 'binaryCrossentropy', 'binaryCrossentropy', (s, sh) => bits(sh, s)],
  [
    'binaryCrossentropy, soft targets, dense sigmoid',
    'sigmoid',
    true,
    'binary_crossentropy',
    'binaryCrossentropy',
    (s, sh) => rand(sh, s, 0, 1),
  ],
  [
    'binaryCrossentropy on hardSigmoid probabilities (not fused)',
    'hardSigmoid',
    true,
    'binaryCrossentropy',
    'binaryCrossentropy',
    (s, sh) => bits(sh, s),
  ],
  ['meanSquaredError, linear conv output', 'linear', false, 'meanSquaredError', 'meanSquaredError', (s, sh) => rand(sh, s)],
  ['mse, sigmoid output', 'sigmoid', false, 'mse', 'meanSquaredError', (s, sh) => rand(sh, s, 0, 1)],
  ['meanAbsoluteError, relu output', 'relu', true, 'meanAbsoluteError', 'meanAbsoluteError', (s, sh) => rand(sh, s)],
  [
    'BinaryCrossentropy fromLogits labelSmoothing 0.1 (tf.losses.sigmoidCrossEntropy)',
    'linear',
    false,
    { className: 'BinaryCrossentropy', config: { fromLogits: true, labelSmoothing: 0.1 } },
    (yt, yp) => tf.losses.sigmoidCrossEntropy(yt, yp, undefined, 0.1),
    (s, sh) => bits(sh, s),
  ],
  [
    'CategoricalCrossentropy fromLogits labelSmoothing 0.2 (tf.losses.softmaxCrossEntropy)',
    'linear',
    true,
    { className: 'CategoricalCrossentropy', config: { fromLogits: true, labelSmoothing: 0.2 } },
    (yt, yp) => tf.losses.softmaxCrossEntropy(yt, yp, undefined, 0.2),
    (s) => {
      const t = new Float32Array(6 * 7);
      const rng = new Rng(s);
      for (let i = 0; i < 6; i++) t[i * 7 + rng.int(7)] = 1;
      return tensor(t, [6, 7]);
    },
  ],
];

describe('losses against TensorFlow.js: 3 SGD steps, x=[6,5,3,3]', () => {
  for (const [name, act, dense, loss, tfLoss, targets] of parity) {
    it(name, async () => {
      const { ours, theirs } = nets(act, dense);
      const x = rand([6, 5, 3, 3], 1);
      const y = targets(2, [6, ...outDims(ours)]);
      ours.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss });
      theirs.compile({ optimizer: tf.train.sgd(0.5), loss: tfLoss as never });
      for (let s = 0; s < 3; s++) {
        const la = ours.trainOnBatch(x, y).loss;
        const lb = (await theirs.trainOnBatch(tfT(x), tfT(y))) as number;
        expect(Math.abs(la - lb), `loss at step ${s}: ${la} vs ${lb}`).toBeLessThan(2e-6 * Math.max(1, lb));
      }
      const wb = theirs.getWeights().map((t) => t.dataSync() as Float32Array);
      expect(
        maxDiff(
          ours.getWeights().flatMap((w) => Array.from(w)),
          wb.flatMap((w) => Array.from(w)),
        ),
      ).toBeLessThan(2e-6);
      ours.dispose();
    });
  }

  it('binary accuracy and evaluate match TF.js (threshold 0.5)', async () => {
    const { ours, theirs } = nets('sigmoid', true);
    const x = rand([6, 5, 3, 3], 3),
      y = bits([6, 7], 4);
    ours.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
    theirs.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const r = ours.evaluate(x, y);
    const [l, a] = (theirs.evaluate(tfT(x), tfT(y)) as tf.Scalar[]).map((t) => t.dataSync()[0]);
    expect(Math.abs(r.loss - l)).toBeLessThan(1e-6);
    expect(Math.abs(r.accuracy! - a)).toBeLessThan(1e-6);
    const h = await ours.fit(x, y, { epochs: 2, batchSize: 4 });
    expect(h.history.acc).toHaveLength(2);
    ours.dispose();
  });

  it('regression losses report no accuracy', async () => {
    const { ours } = nets('linear', false);
    ours.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = rand([4, 5, 3, 3], 5),
      y = rand([4, 5, 3, 2], 6);
    const h = await ours.fit(x, y, { epochs: 2, batchSize: 3 });
    expect(Object.keys(h.history)).toEqual(['loss']);
    expect(ours.evaluate(x, y)).toEqual({ loss: expect.any(Number) });
    expect(ours.trainOnBatch(x, y)).toEqual({ loss: expect.any(Number) });
    ours.dispose();
  });
});

/** Finite differences of evaluate()'s loss against computeGradients, a few weights per tensor. */
function checkLossGrads(m: Model, x: Tensor, y: Tensor, seed: number): void {
  const rng = new Rng(seed);
  const { grads } = m.computeGradients(x, y);
  const w = m.getWeights();
  let checked = 0;
  w.forEach((wi, t) => {
    for (let k = 0; k < 6; k++) {
      const i = rng.int(wi.length),
        v = wi[i];
      const f = (e: number) => {
        wi[i] = v + e;
        m.setWeights(w);
        const r = m.evaluate(x, y, { batchSize: 100 }).loss;
        wi[i] = v;
        m.setWeights(w);
        return r;
      };
      const eps = 1e-2;
      const fd = (f(eps) - f(-eps)) / (2 * eps);
      expect(Math.abs(fd - grads[t][i]), `w${t}[${i}]: ${fd} vs ${grads[t][i]}`).toBeLessThan(2e-3 + 3e-2 * Math.abs(fd));
      checked++;
    }
  });
  expect(checked).toBeGreaterThan(0);
}

describe('loss gradients by finite differences through a model, x=[3,5,3,3]', () => {
  const cases: [string, string, boolean, LossLike, (s: number, sh: number[]) => Tensor][] = [
    ['bce sigmoid fused', 'sigmoid', false, 'binaryCrossentropy', (s, sh) => rand(sh, s, 0, 1)],
    ['bce on tanh-free probabilities (hardSigmoid, not fused)', 'hardSigmoid', true, 'binaryCrossentropy', (s, sh) => bits(sh, s)],
    ['bce from logits', 'linear', true, { className: 'BinaryCrossentropy', config: { fromLogits: true } }, (s, sh) => bits(sh, s)],
    ['mse through tanh', 'tanh', false, 'meanSquaredError', (s, sh) => rand(sh, s)],
    ['mae', 'linear', true, 'meanAbsoluteError', (s, sh) => rand(sh, s, -3, 3)],
    [
      'cce softmax labelSmoothing 0.1',
      'softmax',
      true,
      { className: 'CategoricalCrossentropy', config: { labelSmoothing: 0.1 } },
      (s, sh) => rand(sh, s, 0, 1),
    ],
  ];
  for (const [name, act, dense, loss, targets] of cases) {
    it(name, () => {
      const { ours } = nets(act, dense);
      ours.compile({ optimizer: 'sgd', loss });
      checkLossGrads(ours, rand([3, 5, 3, 3], 7), targets(8, [3, ...outDims(ours)]), 9);
      ours.dispose();
    });
  }

  it('sparse crossentropy with labelSmoothing equals the one-hot form', () => {
    const a = nets('softmax', true).ours,
      b = nets('softmax', true).ours;
    a.compile({ optimizer: 'sgd', loss: { className: 'SparseCategoricalCrossentropy', config: { labelSmoothing: 0.15 } } });
    b.compile({ optimizer: 'sgd', loss: { className: 'CategoricalCrossentropy', config: { labelSmoothing: 0.15 } } });
    const x = rand([4, 5, 3, 3], 12),
      labels = [3, 0, 6, 2],
      oh = new Float32Array(28);
    labels.forEach((l, i) => (oh[i * 7 + l] = 1));
    const ga = a.computeGradients(x, labels),
      gb = b.computeGradients(x, tensor(oh, [4, 7]));
    expect(Math.abs(ga.loss - gb.loss)).toBeLessThan(1e-6);
    expect(
      maxDiff(
        ga.grads.flatMap((g) => Array.from(g)),
        gb.grads.flatMap((g) => Array.from(g)),
      ),
    ).toBeLessThan(1e-7);
    a.dispose();
    b.dispose();
  });
});

describe('loss configs and errors', () => {
  it('the training config: TF.js reads the loss by name; simdcnn reads the options back', async () => {
    const { ours } = nets('sigmoid', true);
    ours.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
    let files = await ours.save();
    expect(files.modelJson.trainingConfig).toMatchObject({ loss: 'binary_crossentropy', metrics: ['accuracy'] });
    const theirs = await toTfjs(files);
    expect(theirs.loss).toBe('binaryCrossentropy');
    const back = await loadModel((await tfjsArtifacts(theirs, true)) as ModelArtifacts);
    expect(back.loss).toBe('binaryCrossentropy');
    back.dispose();

    const { ours: lin } = nets('linear', true);
    lin.compile({ optimizer: 'adam', loss: { className: 'CategoricalCrossentropy', config: { labelSmoothing: 0.1, fromLogits: true } } });
    files = await lin.save();
    expect(files.modelJson.trainingConfig).toMatchObject({
      loss: 'categorical_crossentropy',
      loss_config: { class_name: 'CategoricalCrossentropy', config: { label_smoothing: 0.1, from_logits: true } },
    });
    await toTfjs(files); // TF.js loads it (compiling the plain loss: it has no options)
    const again = await loadModel(files);
    expect(again.loss).toEqual({ className: 'CategoricalCrossentropy', config: { labelSmoothing: 0.1, fromLogits: true } });
    again.dispose();

    const { ours: reg } = nets('linear', false);
    reg.compile({ optimizer: 'sgd', loss: 'mae' });
    expect((await reg.save()).modelJson.trainingConfig).toMatchObject({ loss: 'mean_absolute_error', metrics: [] });
    // Keras 3's form of a loss with options.
    const k3 = await reg.save();
    (k3.modelJson.trainingConfig as Record<string, unknown>).loss = {
      module: 'keras.losses',
      class_name: 'MeanSquaredError',
      config: { name: 'mean_squared_error', reduction: 'sum_over_batch_size' },
      registered_name: null,
    };
    const k = await loadModel(k3);
    expect(k.loss).toBe('meanSquaredError');
    for (const m of [ours, lin, reg, k]) m.dispose();
  });

  it('compile and fit refuse what does not fit the loss, naming the model', async () => {
    const { ours: soft } = nets('softmax', true);
    expect(() => soft.compile({ optimizer: 'sgd', loss: { className: 'CategoricalCrossentropy', config: { fromLogits: true } } })).toThrow(
      /fromLogits applies softmax itself, so the model must end in a linear layer; it ends in 'softmax'/,
    );
    const { ours: lin } = nets('linear', true);
    expect(() => lin.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' })).toThrow(
      /must end in softmax .* or pass fromLogits: true/,
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: { className: 'MeanSquaredError', config: { labelSmoothing: 0.1 } } })).toThrow(
      /meanSquaredError takes no labelSmoothing/,
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: { className: 'BinaryCrossentropy', config: { labelSmoothing: 2 } } })).toThrow(
      /labelSmoothing must be a number in \[0, 1\], received 2/,
    );
    expect(() => lin.compile({ optimizer: 'sgd', loss: { className: 'BinaryCrossentropy', config: { gamma: 2 } as never } })).toThrow(
      /has no option gamma/,
    );
    lin.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
    const x = rand([2, 5, 3, 3], 1);
    await expect(lin.fit(x, tensor(new Float32Array(14).fill(2), [2, 7]))).rejects.toThrow(
      /target 0 holds 2 at offset 0; expected values in \[0, 1\]/,
    );
    await expect(lin.fit(x, tensor(new Float32Array(12), [2, 6]))).rejects.toThrow(/expected targets of shape \[2,7\]/);
    await expect(lin.fit(x, [0, 1])).rejects.toThrow(ValueError);
    lin.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(lin.fit(x, tensor(new Float32Array(14).fill(NaN), [2, 7]))).rejects.toThrow(/expected finite numbers/);
    soft.dispose();
    lin.dispose();
  });
});
