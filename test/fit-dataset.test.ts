// fitDataset and fit's validationSplit, classWeight and initialEpoch against TensorFlow.js (tfjs-layers,
// cpu backend) on the same weights and data: the weights after training, the history, the callbacks'
// epochs. Then the robustness rules of fit (issue 10) for batches that come from a Dataset.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { array, Dataset, generator, tensors } from '../src/data/dataset.js';
import {
  Conv2D,
  DataError,
  Dense,
  DivergenceError,
  Flatten,
  SGD,
  Sequential,
  ShapeError,
  StateError,
  Tensor,
  tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(() => vi.restoreAllMocks());

const SHAPE = [5, 4, 2],
  C = 3,
  N = 11;

/** The same small net in simdcnn and TF.js, same weights, both compiled with SGD(lr). */
function nets(lr = 0.1, loss: 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' = 'sparseCategoricalCrossentropy') {
  const ours = new Sequential(
    [
      new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: SHAPE }),
      new Flatten(),
      new Dense({ units: C, activation: 'softmax' }),
    ],
    { seed: 3 },
  );
  const theirs = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: SHAPE }),
      tf.layers.flatten(),
      tf.layers.dense({ units: C, activation: 'softmax' }),
    ],
  });
  theirs.setWeights(ours.getWeights().map((w, i) => tf.tensor(w, ours.weightSpecs()[i].shape)));
  ours.compile({ optimizer: new SGD({ learningRate: lr }), loss });
  theirs.compile({ optimizer: tf.train.sgd(lr), loss, metrics: ['acc'] });
  return { ours, theirs };
}

function data(n: number, seed: number) {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * 40 }, () => rng.uniform() * 2 - 1);
  const y = Int32Array.from({ length: n }, () => rng.int(C));
  const oneHot = new Float32Array(n * C);
  y.forEach((l, i) => (oneHot[i * C + l] = 1));
  return { x, y, oneHot, xs: tensor(x, [n, ...SHAPE]), tx: tf.tensor4d(x, [n, 5, 4, 2]) };
}

/** TF.js batches of the same rows: a tf.data dataset of {xs, ys}. */
function tfBatches(d: ReturnType<typeof data>, batchSize: number, oneHot = false) {
  const out: { xs: tf.Tensor; ys: tf.Tensor }[] = [];
  const n = d.y.length;
  for (let f = 0; f < n; f += batchSize) {
    const k = Math.min(batchSize, n - f);
    out.push({
      xs: tf.tensor4d(d.x.subarray(f * 40, (f + k) * 40), [k, 5, 4, 2]),
      ys: oneHot ? tf.tensor2d(d.oneHot.subarray(f * C, (f + k) * C), [k, C]) : tf.tensor1d(d.y.subarray(f, f + k), 'float32'),
    });
  }
  return tf.data.array(out);
}

function maxDiff(a: Float32Array[], b: tf.Tensor[]): number {
  let m = 0;
  a.forEach((w, i) => {
    const v = b[i].dataSync();
    w.forEach((x, j) => (m = Math.max(m, Math.abs(x - v[j]))));
  });
  return m;
}
function expectHistory(ours: { epoch: number[]; history: Record<string, number[] | undefined> }, theirs: tf.History): void {
  expect(ours.epoch).toEqual(theirs.epoch);
  expect(Object.keys(ours.history).sort()).toEqual(Object.keys(theirs.history).sort());
  for (const [k, v] of Object.entries(theirs.history)) {
    expect(ours.history[k]!.length, k).toBe(v.length);
    v.forEach((x, i) => expect(Math.abs(ours.history[k]![i] - (x as number)), `${k}[${i}]`).toBeLessThan(1e-5));
  }
}

describe('fitDataset matches TF.js', () => {
  it('3 batches (4,4,3) x 2 epochs, validation as arrays: weights, loss/acc/val_loss/val_acc per epoch', async () => {
    const { ours, theirs } = nets();
    const d = data(N, 1),
      v = data(5, 2);
    const h1 = await ours.fitDataset(tensors(d.xs, d.y, { batchSize: 4 }), { epochs: 2, validationData: [v.xs, v.y] });
    const h2 = await theirs.fitDataset(tfBatches(d, 4), { epochs: 2, validationData: [v.tx, tf.tensor1d(v.y, 'float32')], verbose: 0 });
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    expectHistory(h1, h2);
    ours.dispose();
  });
  it('one-hot targets, validation as a Dataset with validationBatches 1', async () => {
    const { ours, theirs } = nets(0.2, 'categoricalCrossentropy');
    const d = data(N, 3),
      v = data(8, 4);
    const h1 = await ours.fitDataset(tensors(d.xs, tensor(d.oneHot, [N, C]), { batchSize: 5 }), {
      epochs: 2,
      validationData: tensors(v.xs, tensor(v.oneHot, [8, C]), { batchSize: 3 }),
      validationBatches: 1,
    });
    const h2 = await theirs.fitDataset(tfBatches(d, 5, true), {
      epochs: 2,
      validationData: tfBatches(v, 3, true),
      validationBatches: 1,
      verbose: 0,
    });
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    expectHistory(h1, h2);
    ours.dispose();
  });
  it('batchesPerEpoch 2 over 3 batches x 3 epochs: one iterator across epochs; when it runs dry the epoch ends early, with a warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { ours, theirs } = nets();
    const d = data(N, 5),
      v = data(4, 6);
    const h1 = await ours.fitDataset(tensors(d.xs, d.y, { batchSize: 4 }), { epochs: 3, batchesPerEpoch: 2, validationData: [v.xs, v.y] });
    const ourWarnings = warn.mock.calls.length;
    const h2 = await theirs.fitDataset(tfBatches(d, 4), {
      epochs: 3,
      batchesPerEpoch: 2,
      validationData: [v.tx, tf.tensor1d(v.y, 'float32')],
      verbose: 0,
    });
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    expectHistory(h1, h2);
    expect(ourWarnings).toBe(warn.mock.calls.length - ourWarnings);
    expect(warn.mock.calls[0][0]).toMatch(/batchesPerEpoch.*2.*ran out of data after 1 batches.*repeat\(\)/);
    ours.dispose();
  });
  it('initialEpoch 2 of 4: epochs 2 and 3 run, history.epoch [2,3], callbacks see 2 and 3 (fitDataset and fit)', async () => {
    const { ours, theirs } = nets();
    const d = data(N, 7);
    const seen: number[] = [];
    const h1 = await ours.fitDataset(tensors(d.xs, d.y, { batchSize: 4 }), {
      epochs: 4,
      initialEpoch: 2,
      callbacks: { onEpochBegin: (e) => void seen.push(e) },
    });
    const h2 = await theirs.fitDataset(tfBatches(d, 4), { epochs: 4, initialEpoch: 2, verbose: 0 });
    expect(seen).toEqual([2, 3]);
    expectHistory(h1, h2);
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    const f1 = await ours.fit(d.xs, d.y, { epochs: 3, initialEpoch: 1, batchSize: 4, shuffle: false });
    const f2 = await theirs.fit(d.tx, tf.tensor1d(d.y, 'float32'), {
      epochs: 3,
      initialEpoch: 1,
      batchSize: 4,
      shuffle: false,
      verbose: 0,
    });
    expectHistory(f1, f2);
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    ours.dispose();
  });
  it('stopTraining set in onBatchEnd of batch 1: the epoch ends there without validation, training ends, as in TF.js', async () => {
    const { ours, theirs } = nets();
    const d = data(N, 8),
      v = data(4, 9);
    const h1 = await ours.fitDataset(tensors(d.xs, d.y, { batchSize: 4 }), {
      epochs: 3,
      validationData: [v.xs, v.y],
      callbacks: {
        onBatchEnd: (b) => {
          if (b === 1) ours.stopTraining = true;
        },
      },
    });
    const h2 = await theirs.fitDataset(tfBatches(d, 4), {
      epochs: 3,
      validationData: [v.tx, tf.tensor1d(v.y, 'float32')],
      verbose: 0,
      callbacks: {
        onBatchEnd: async (b) => {
          if (b === 1) theirs.stopTraining = true;
        },
      },
    });
    expectHistory(h1, h2);
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    ours.dispose();
  });
  it('evaluateDataset: the mean over all samples, batches weighted by their size; batches: 2 stops early', async () => {
    const { ours, theirs } = nets();
    const v = data(10, 10);
    const r = await ours.evaluateDataset(tensors(v.xs, v.y, { batchSize: 4 }));
    const [l, a] = (await theirs.evaluateDataset(
      tfBatches(v, 4) as unknown as Parameters<typeof theirs.evaluateDataset>[0],
      {},
    )) as tf.Scalar[];
    expect(Math.abs(r.loss - l.dataSync()[0])).toBeLessThan(1e-5);
    expect(r.accuracy).toBeCloseTo(a.dataSync()[0], 6);
    const whole = ours.evaluate(v.xs, v.y);
    expect(r.loss).toBeCloseTo(whole.loss, 5);
    const two = await ours.evaluateDataset(tensors(v.xs, v.y, { batchSize: 4 }), { batches: 2 });
    expect(two.loss).toBeCloseTo(ours.evaluate(v.xs.slice(0, 8), v.y.subarray(0, 8)).loss, 5);
    ours.dispose();
  });
});

describe("fit's validationSplit and classWeight match TF.js", () => {
  it('validationSplit 0.3 of 11 takes the last 4 samples (before shuffling) for validation: weights and history', async () => {
    const { ours, theirs } = nets();
    const d = data(N, 11);
    const h1 = await ours.fit(d.xs, d.y, { epochs: 2, batchSize: 3, validationSplit: 0.3, shuffle: false });
    const h2 = await theirs.fit(d.tx, tf.tensor1d(d.y, 'float32'), {
      epochs: 2,
      batchSize: 3,
      validationSplit: 0.3,
      shuffle: false,
      verbose: 0,
    });
    expectHistory(h1, h2);
    expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
    ours.dispose();
  });
  it('validationSplit 0.3 with shuffling: val_loss is the loss on the last 4 of 11 samples at the end of each epoch', async () => {
    const { ours } = nets();
    const d = data(N, 12);
    const want: number[] = [];
    const h = await ours.fit(d.xs, d.y, {
      epochs: 2,
      batchSize: 3,
      validationSplit: 0.3,
      onEpochEnd: () => void want.push(ours.evaluate(d.xs.slice(7, 11), d.y.subarray(7)).loss),
    });
    // onEpochEnd runs after validation, on the same weights.
    h.history.val_loss!.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    await expect(ours.fit(d.xs, d.y, { validationSplit: 1 })).rejects.toThrow(/validationSplit must be in \[0, 1\)/);
    await expect(ours.fit(d.xs.slice(0, 1), d.y.subarray(0, 1), { validationSplit: 0.5 })).rejects.toThrow(
      /validationSplit 0.5 of 1 samples leaves no sample for training/,
    );
    ours.dispose();
  });
  for (const [what, loss] of [
    ['sparse labels', 'sparseCategoricalCrossentropy'],
    ['one-hot targets', 'categoricalCrossentropy'],
  ] as const) {
    it(`classWeight {0: 1, 1: 4, 2: 0.25} with ${what}: per-sample loss weights, mean over the batch, as TF.js (fit and fitDataset)`, async () => {
      const { ours, theirs } = nets(0.1, loss);
      const d = data(N, 13);
      const classWeight = { 0: 1, 1: 4, 2: 0.25 };
      const y = loss === 'categoricalCrossentropy' ? tensor(d.oneHot, [N, C]) : d.y;
      const ty = loss === 'categoricalCrossentropy' ? tf.tensor2d(d.oneHot, [N, C]) : tf.tensor1d(d.y, 'float32');
      const h1 = await ours.fit(d.xs, y, { epochs: 2, batchSize: 4, shuffle: false, classWeight });
      const h2 = await theirs.fit(d.tx, ty, { epochs: 2, batchSize: 4, shuffle: false, classWeight, verbose: 0 });
      expectHistory(h1, h2);
      expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
      const g1 = await ours.fitDataset(tensors(d.xs, y, { batchSize: 4 }), { epochs: 1, classWeight });
      const g2 = await theirs.fitDataset(tfBatches(d, 4, loss === 'categoricalCrossentropy'), { epochs: 1, classWeight, verbose: 0 });
      expectHistory(g1, g2);
      expect(maxDiff(ours.getWeights(), theirs.getWeights())).toBeLessThan(1e-5);
      ours.dispose();
    });
  }
  it('classWeight missing a class of the data, negative or NaN weights: ValueErrors before any step', async () => {
    const { ours } = nets();
    const d = data(N, 14);
    const w0 = ours.getWeights();
    await expect(ours.fit(d.xs, d.y, { classWeight: { 0: 1, 1: 1 } })).rejects.toThrow(
      /classWeight must contain all classes in the training data. The class 2 exists in the data but not in classWeight/,
    );
    await expect(ours.fit(d.xs, d.y, { classWeight: { 0: 1, 1: -1, 2: 1 } })).rejects.toThrow(
      /classWeight\[1\] is -1; expected a finite number >= 0/,
    );
    await expect(ours.fitDataset(tensors(d.xs, d.y), { epochs: 1, classWeight: { 0: 1, 1: NaN, 2: 1 } })).rejects.toThrow(ValueError);
    expect(ours.getWeights()).toEqual(w0);
    ours.dispose();
  });
});

describe('fitDataset keeps the robustness rules of fit', () => {
  const x = (n: number, v = 0.5) => tensor(new Float32Array(n * 40).fill(v), [n, ...SHAPE]);
  it('bad batches are errors naming the batch: |x| > 1e6 (DataError), NaN (ValueError), wrong shape (ShapeError), label out of range, not {xs, ys}', async () => {
    const { ours } = nets();
    const big = x(3);
    big.data[41] = 2e6;
    const nan = x(2);
    nan.data[0] = NaN;
    const cases: [Dataset<unknown>, RegExp, new (...a: never[]) => Error][] = [
      [
        array([
          { xs: x(2), ys: [0, 1] },
          { xs: big, ys: [0, 1, 2] },
        ]),
        /x\[1\] contains 2000000 at offset 1 \(batch 1\); inputs beyond ±1000000 are refused/,
        DataError,
      ],
      [array([{ xs: nan, ys: [0, 1] }]), /x\[0\] contains NaN .*expected finite numbers/, ValueError],
      [
        array([{ xs: tensor(new Float32Array(30), [1, 5, 3, 2]), ys: [0] }]),
        /expected input shape \[null,5,4,2\], received \[1,5,3,2\]/,
        ShapeError,
      ],
      [array([{ xs: x(2), ys: [0, 3] }]), /label 1 is 3; expected an integer class index in \[0, 2\]/, ValueError],
      [array([{ xs: x(2), ys: [0] }]), /expected 2 labels/, ShapeError],
      [array([x(2)]), /fitDataset: the dataset must yield \{xs, ys\} batches, batch 0 is a Tensor/, ValueError],
    ];
    for (const [ds, msg, cls] of cases) {
      const err = await ours.fitDataset(ds as Dataset<never>, { epochs: 1 }).catch((e) => e);
      expect(err, String(msg)).toBeInstanceOf(cls);
      expect(err.message).toMatch(msg);
      expect(ours.isTraining).toBe(false);
    }
    await expect(ours.fitDataset(array([{ xs: big, ys: [0, 1, 2] }]), { epochs: 1, maxInputAbs: Infinity })).resolves.toBeDefined();
    ours.dispose();
  });
  it('options are checked as TF.js checks them: epochs required and positive, batchesPerEpoch positive, validationSplit refused', async () => {
    const { ours } = nets();
    const ds = array([{ xs: x(1), ys: [0] }]);
    await expect(ours.fitDataset(ds, {} as never)).rejects.toThrow(/epochs is expected to be a positive integer, but got undefined/);
    await expect(ours.fitDataset(ds, { epochs: 1, batchesPerEpoch: 0 })).rejects.toThrow(
      /batchesPerEpoch is expected to be a positive integer/,
    );
    await expect(ours.fitDataset(ds, { epochs: 1, validationSplit: 0.2 } as never)).rejects.toThrow(
      /validationSplit is not supported by fitDataset\(\); use validationData/,
    );
    await expect(ours.fitDataset([1, 2] as never, { epochs: 1 })).rejects.toThrow(/expected a Dataset/);
    ours.dispose();
  });
  it('lifecycle: fit and setWeights during fitDataset are StateErrors; dispose ends it with a StateError; a dataset that throws leaves the model usable', async () => {
    const { ours } = nets();
    const d = data(N, 15);
    const errs: unknown[] = [];
    const ds = generator(async function* () {
      yield { xs: d.xs.slice(0, 4), ys: d.y.subarray(0, 4) };
      errs.push(await ours.fit(d.xs, d.y).catch((e) => e));
      errs.push(
        (() => {
          try {
            ours.setWeights(ours.getWeights());
          } catch (e) {
            return e;
          }
        })(),
      );
      yield { xs: d.xs.slice(4, 8), ys: d.y.subarray(4, 8) };
    });
    await ours.fitDataset(ds, { epochs: 1 });
    expect(errs.map((e) => (e as Error).name)).toEqual(['StateError', 'StateError']);
    const failing = generator(async function* () {
      yield { xs: d.xs.slice(0, 4), ys: d.y.subarray(0, 4) };
      throw new DataError('photos/cat/7.jpg: corrupt JPEG');
    });
    await expect(ours.fitDataset(failing, { epochs: 1 })).rejects.toThrow('photos/cat/7.jpg: corrupt JPEG');
    expect(ours.isTraining).toBe(false);
    await ours.fitDataset(tensors(d.xs, d.y), { epochs: 1 });
    const disposing = generator(function* () {
      yield { xs: d.xs.slice(0, 4), ys: d.y.subarray(0, 4) };
      ours.dispose();
      yield { xs: d.xs.slice(4, 8), ys: d.y.subarray(4, 8) };
    });
    await expect(ours.fitDataset(disposing, { epochs: 1 })).rejects.toThrow(StateError);
  });
  it('divergence stops fitDataset with a DivergenceError, the weights from before the failing step', async () => {
    const { ours } = nets(1e6);
    const d = data(N, 16);
    const scaled = tensor(
      d.x.map((v) => v * 1e4),
      [N, ...SHAPE],
    );
    let before: Float32Array[] = [];
    const err = await ours
      .fitDataset(tensors(scaled, d.y, { batchSize: 2 }), {
        epochs: 3,
        callbacks: { onBatchBegin: () => void (before = ours.getWeights()) },
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect(ours.getWeights()).toEqual(before);
    ours.dispose();
  });
  it('batches of varying sizes (1, 7, 2) grow the arena as needed; the model predicts afterwards', async () => {
    const { ours } = nets();
    const d = data(10, 17);
    const ds = array(
      [
        [0, 1],
        [1, 8],
        [8, 10],
      ].map(([a, b]) => ({ xs: d.xs.slice(a, b), ys: Array.from(d.y.subarray(a, b)) })),
    );
    const h = await ours.fitDataset(ds, { epochs: 2 });
    expect(h.epoch).toEqual([0, 1]);
    expect(ours.predict(d.xs).shape).toEqual([10, C]);
    expect(ours.predict(d.xs) instanceof Tensor).toBe(true);
    ours.dispose();
  });
});
