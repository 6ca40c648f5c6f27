// BatchNormalization and Dropout against TensorFlow.js (tfjs-layers 4.22, cpu backend): BN's forward in
// training and inference, the weights and moving statistics after one and three steps (SGD, Adam; after a
// conv and after a Dense), weight order; a frozen BN against a TF.js step that calls it in inference mode
// (TF.js's own fit ignores trainable = false for BN and keeps using the batch's statistics and updating the
// moving ones; Keras, and simdcnn, do not); Dropout at rate 0 against TF.js's fit, and at rate 0.5 against
// a TF.js step that multiplies by the same mask. Model files both ways with trained moving statistics, and
// Keras 2 and 3 files with BatchNormalization and SpatialDropout2D (which tfjs-layers does not have).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  loadModel,
  type ModelArtifacts,
  type Optimizer,
  ReLU,
  Sequential,
  SGD,
  setThreads,
  SpatialDropout2D,
  type Tensor,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { seededMask } from './batchnorm-reference.js';
import { randomTensor } from './gradcheck.js';
import { copyWeights, kerasKernelDefaults, maxDiff, tf, tfjsArtifacts, tfPredict, tfWeights, toTfjs } from './tfjs-helpers.js';
import { trainingForward } from './training-forward.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TOL = 1e-5;

/** Every weight by name, ours vs theirs: the largest difference. */
function weightDiff(ours: Sequential, theirs: tf.LayersModel): number {
  const t = new Map(tfWeights(theirs).map((w) => [w.name, w.data]));
  let m = 0;
  ours.weightSpecs().forEach((s, i) => {
    const d = maxDiff(ours.getWeights()[i], t.get(s.name)!);
    if (process.env.DIAG) console.log(s.name, d);
    m = Math.max(m, d);
  });
  return m;
}

/** Random gamma, beta and moving statistics, so nothing hides behind ones and zeros. */
function randomizeBN(m: Sequential, seed: number): void {
  const rng = new Rng(seed),
    specs = m.weightSpecs();
  m.setWeights(
    m
      .getWeights()
      .map((w, i) =>
        /\/(gamma|beta|moving_mean|moving_variance)$/.test(specs[i].name)
          ? w.map(() => (/(variance|gamma)$/.test(specs[i].name) ? 0.5 + rng.uniform() : rng.uniform() - 0.5))
          : w,
      ),
  );
}

interface Pair {
  ours: Sequential;
  theirs: tf.LayersModel;
}
/**
 * conv(4,3x3,same) - BN - relu - flatten - dense(5) - BN(momentum 0.9) - dense(3, softmax), both libraries.
 * A bias right before a BN in training mode has a gradient of exactly 0 but for rounding noise, which Adam
 * divides by its own size: such biases are compared only under SGD (`bias`), as real models drop them.
 */
function convNet(seed: number, bias = true): Pair {
  const ours = new Sequential(
    [
      Conv2D({ filters: 4, kernelSize: 3, padding: 'same', useBias: bias, inputShape: [5, 4, 3], name: 'c1' }),
      BatchNormalization({ name: 'bn1' }),
      ReLU({ name: 'r1' }),
      Flatten({ name: 'f1' }),
      Dense({ units: 5, useBias: bias, name: 'd1' }),
      BatchNormalization({ momentum: 0.9, epsilon: 0.01, name: 'bn2' }),
      Dense({ units: 3, activation: 'softmax', name: 'd2' }),
    ],
    { seed },
  );
  randomizeBN(ours, seed + 1);
  const theirs = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: bias, inputShape: [5, 4, 3], name: 'c1' }),
      tf.layers.batchNormalization({ name: 'bn1' }),
      tf.layers.reLU({ name: 'r1' }),
      tf.layers.flatten({ name: 'f1' }),
      tf.layers.dense({ units: 5, useBias: bias, name: 'd1' }),
      tf.layers.batchNormalization({ momentum: 0.9, epsilon: 0.01, name: 'bn2' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'd2' }),
    ],
  });
  copyWeights(ours, theirs);
  return { ours, theirs };
}
function batch(n: number, seed: number): [Tensor, Int32Array] {
  const rng = new Rng(seed);
  return [randomTensor([n, 5, 4, 3], rng), Int32Array.from({ length: n }, () => rng.int(3))];
}
const tfX = (x: Tensor) => tf.tensor(x.data, x.shape);

// Batches past CHUNK samples train split into chunks over the threads once setThreads was called (the
// statistics merged across the chunks); TF.js sees one batch. Those cases run last, on 2 threads.
const THREADED = 37; // chunks of 16, 16 and 5
async function threadsIfSplit(n: number): Promise<void> {
  if (n === THREADED) await setThreads(2);
}
afterAll(async () => {
  await setThreads(1);
});

describe('BatchNormalization forward vs TF.js', () => {
  it('x=[6,5,4,3] conv-BN-relu-dense-BN-dense: training mode (apply with training: true) and predict', () => {
    const { ours, theirs } = convNet(1);
    const [x] = batch(6, 2);
    expect(maxDiff(ours.predict(x).data, tfPredict(theirs, x))).toBeLessThan(TOL);
    let h = tfX(x);
    for (const l of theirs.layers) h = l.apply(h, { training: true }) as tf.Tensor;
    expect(maxDiff(trainingForward(ours, x), h.dataSync())).toBeLessThan(TOL);
    // The same weights in the same order: trainable ones first, the moving statistics last.
    expect(ours.weightSpecs().map((s) => s.name)).toEqual(theirs.weights.map((w) => w.originalName));
    ours.dispose();
  });
});

const optimizers: [string, () => Optimizer, () => tf.Optimizer, boolean][] = [
  ['SGD lr=0.1', () => new SGD({ learningRate: 0.1 }), () => tf.train.sgd(0.1), true],
  ['Adam lr=0.01 (no bias before BN)', () => new Adam({ learningRate: 0.01 }), () => tf.train.adam(0.01, 0.9, 0.999, 1e-7), false],
];

describe('training steps vs TF.js: every weight, the moving statistics included', () => {
  for (const [name, ours, theirs, bias] of optimizers) {
    for (const [steps, n] of [
      [1, 8],
      [3, 8],
      [2, THREADED],
    ]) {
      it(`${name}, ${steps} trainOnBatch step(s) on x=[${n},5,4,3]${n === THREADED ? ' on 2 threads' : ''}`, async () => {
        await threadsIfSplit(n);
        const p = convNet(3, bias);
        p.ours.compile({ optimizer: ours(), loss: 'sparseCategoricalCrossentropy' });
        p.theirs.compile({ optimizer: theirs(), loss: 'sparseCategoricalCrossentropy' });
        for (let s = 0; s < steps; s++) {
          const [x, y] = batch(n, 10 + s);
          const la = p.ours.trainOnBatch(x, y).loss;
          const lb = (await p.theirs.trainOnBatch(tfX(x), tf.tensor1d(y, 'float32'))) as number;
          expect(Math.abs(la - lb), `loss at step ${s}`).toBeLessThan(TOL);
        }
        expect(weightDiff(p.ours, p.theirs)).toBeLessThan(TOL);
        const [x] = batch(5, 20);
        expect(maxDiff(p.ours.predict(x).data, tfPredict(p.theirs, x))).toBeLessThan(TOL);
        p.ours.dispose();
      });
    }
  }
});

/** Sparse crossentropy of softmax outputs as Keras computes it (probabilities clipped to [1e-7, 1 - 1e-7]). */
function xent(p: tf.Tensor, y: Int32Array): tf.Scalar {
  const t = tf.oneHot(tf.tensor1d(y, 'int32'), p.shape[1]!);
  return tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(tf.clipByValue(p, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar;
}
/** One TF.js optimizer step over a layer chain, each layer called with the training flag `mode` gives it. */
function tfStep(m: tf.LayersModel, opt: tf.Optimizer, x: Tensor, y: Int32Array, mode: (l: tf.layers.Layer) => boolean): void {
  const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  opt.minimize(
    () => {
      let h = tfX(x);
      for (const l of m.layers) h = l.apply(h, { training: mode(l) }) as tf.Tensor;
      return xent(h, y);
    },
    false,
    vars,
  );
}

describe('a frozen BatchNormalization vs TF.js calling it in inference mode', () => {
  for (const [name, ours, theirs, bias] of optimizers) {
    for (const n of [8, THREADED])
      it(`${name}, 2 steps on x=[${n},5,4,3]${n === THREADED ? ' on 2 threads' : ''}, bn1 frozen: it stays as it was; every other weight (bn2's moving statistics included) as TF.js`, async () => {
        await threadsIfSplit(n);
        const p = convNet(5, bias);
        p.ours.getLayer('bn1').trainable = false;
        p.theirs.getLayer('bn1').trainable = false;
        expect(p.ours.weightSpecs().map((s) => s.name)).toEqual(p.theirs.weights.map((w) => w.originalName));
        const before = tfWeights(p.theirs).filter((w) => w.name.startsWith('bn1/'));
        p.ours.compile({ optimizer: ours(), loss: 'sparseCategoricalCrossentropy' });
        const opt = theirs();
        for (let s = 0; s < 2; s++) {
          const [x, y] = batch(n, 30 + s);
          p.ours.trainOnBatch(x, y);
          tfStep(p.theirs, opt, x, y, (l) => l.name !== 'bn1');
        }
        expect(weightDiff(p.ours, p.theirs)).toBeLessThan(TOL);
        const bn1 = p.ours.weightSpecs().flatMap((s, i) => (s.name.startsWith('bn1/') ? [p.ours.getWeights()[i]] : []));
        bn1.forEach((w, i) => expect(w).toEqual(before[i].data));
        p.ours.dispose();
      });
  }
});

describe('Dropout vs TF.js', () => {
  /** dense(8, relu) - dropout - dense(3, softmax) on [10, 6]. */
  function pair(rate: number, seed: number | null): Pair {
    const ours = new Sequential(
      [
        Dense({ units: 8, activation: 'relu', inputShape: [6], name: 'h' }),
        Dropout({ rate, seed, name: 'drop' }),
        Dense({ units: 3, activation: 'softmax', name: 'o' }),
      ],
      { seed: 4 },
    );
    const theirs = tf.sequential({
      layers: [
        tf.layers.dense({ units: 8, activation: 'relu', inputShape: [6], name: 'h' }),
        tf.layers.dropout({ rate, name: 'drop' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'o' }),
      ],
    });
    copyWeights(ours, theirs);
    return { ours, theirs };
  }
  const data = (): [Tensor, Int32Array] => {
    const rng = new Rng(8);
    return [randomTensor([10, 6], rng), Int32Array.from({ length: 10 }, () => rng.int(3))];
  };

  it('rate 0: fit (2 epochs, batches of 5, no shuffling) gives the weights TF.js gives', async () => {
    const p = pair(0, null);
    const [x, y] = data();
    p.ours.compile({ optimizer: new SGD({ learningRate: 0.2 }), loss: 'sparseCategoricalCrossentropy' });
    p.theirs.compile({ optimizer: tf.train.sgd(0.2), loss: 'sparseCategoricalCrossentropy' });
    await p.ours.fit(x, y, { epochs: 2, batchSize: 5, shuffle: false });
    await p.theirs.fit(tfX(x), tf.tensor1d(y, 'float32'), { epochs: 2, batchSize: 5, shuffle: false });
    expect(weightDiff(p.ours, p.theirs)).toBeLessThan(TOL);
    p.ours.dispose();
  });

  it("rate 0.5: one step equals TF.js multiplying by the same mask (the seeded layer's first mask, restated)", () => {
    const p = pair(0.5, 9);
    const [x, y] = data();
    const mask = tf.tensor(
      seededMask(9, 0, 0.5, 10 * 8, (i) => i),
      [10, 8],
    );
    p.ours.compile({ optimizer: new SGD({ learningRate: 0.2 }), loss: 'sparseCategoricalCrossentropy' });
    p.ours.trainOnBatch(x, y);
    const [h, , o] = p.theirs.layers;
    tf.train.sgd(0.2).minimize(
      () => xent(o.apply(tf.mul(h.apply(tfX(x)) as tf.Tensor, mask)) as tf.Tensor, y),
      false,
      p.theirs.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val),
    );
    expect(weightDiff(p.ours, p.theirs)).toBeLessThan(TOL);
    p.ours.dispose();
  });
});

describe('model files with batch normalization, both ways, after training', () => {
  it("simdcnn -> TF.js: a trained conv-BN-relu model predicts the same in TF.js; TF.js's save loads back", async () => {
    const p = convNet(7);
    p.ours.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const [x, y] = batch(16, 40);
    await p.ours.fit(x, y, { epochs: 3, batchSize: 4 });
    const files = await p.ours.save();
    const theirs = await toTfjs(files);
    const [x2] = batch(6, 41);
    const want = p.ours.predict(x2).data;
    expect(maxDiff(tfPredict(theirs, x2), want)).toBeLessThan(TOL);
    const back = await loadModel((await tfjsArtifacts(theirs)) as ModelArtifacts);
    expect(maxDiff(back.predict(x2).data, want)).toBeLessThan(TOL);
    p.ours.dispose();
    back.dispose();
  });

  it('TF.js -> simdcnn: a model TF.js built and trained (moving statistics moved) loads with the same predictions and weights, and trains on', async () => {
    const { theirs } = convNet(9);
    theirs.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const [x, y] = batch(16, 50);
    await theirs.fit(tfX(x), tf.tensor1d(y, 'float32'), { epochs: 2, batchSize: 8 });
    const ours = (await loadModel((await tfjsArtifacts(theirs, true)) as ModelArtifacts)) as Sequential;
    expect(weightDiff(ours, theirs)).toBe(0);
    const [x2, y2] = batch(6, 51);
    expect(maxDiff(ours.predict(x2).data, tfPredict(theirs, x2))).toBeLessThan(TOL);
    const la = ours.trainOnBatch(x2, y2).loss;
    const lb = (await theirs.trainOnBatch(tfX(x2), tf.tensor1d(y2, 'float32'))) as number;
    expect(Math.abs(la - lb)).toBeLessThan(TOL);
    expect(weightDiff(ours, theirs)).toBeLessThan(TOL);
    ours.dispose();
  });
});

describe('Keras files with BatchNormalization and SpatialDropout2D', () => {
  const policy3 = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const init = (c: string) => ({ class_name: c, config: {} });
  /** conv(3,3x3,no bias) - BN - SpatialDropout2D - flatten - dense(2, softmax) on [6,6,2], as Keras 2 or 3 writes it. */
  function topology(keras3: boolean) {
    const dtype = keras3 ? policy3 : 'float32';
    const layer = (class_name: string, config: Record<string, unknown>) =>
      keras3 ? { module: 'keras.layers', class_name, config, registered_name: null } : { class_name, config };
    const bn: Record<string, unknown> = {
      name: 'bn',
      trainable: true,
      dtype,
      axis: keras3 ? -1 : [3],
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
      beta_initializer: init('Zeros'),
      gamma_initializer: init('Ones'),
      moving_mean_initializer: init('Zeros'),
      moving_variance_initializer: init('Ones'),
      beta_regularizer: null,
      gamma_regularizer: null,
      beta_constraint: null,
      gamma_constraint: null,
      ...(keras3 ? { synchronized: false } : {}),
    };
    const layers = [
      keras3
        ? layer('InputLayer', { batch_shape: [null, 6, 6, 2], dtype: 'float32', sparse: false, name: 'input_layer' })
        : layer('InputLayer', { batch_input_shape: [null, 6, 6, 2], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' }),
      layer('Conv2D', {
        name: 'conv',
        trainable: true,
        dtype,
        filters: 3,
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        groups: 1,
        activation: 'linear',
        ...kerasKernelDefaults,
        use_bias: false,
      }),
      layer('BatchNormalization', bn),
      layer(
        'SpatialDropout2D',
        keras3
          ? { name: 'sdrop', trainable: true, dtype, rate: 0.2, seed: null, data_format: 'channels_last' }
          : { name: 'sdrop', trainable: true, dtype, rate: 0.2, noise_shape: null, seed: null },
      ),
      layer('Flatten', { name: 'flat', trainable: true, dtype, data_format: 'channels_last' }),
      layer('Dense', {
        name: 'out',
        trainable: true,
        dtype,
        units: 2,
        activation: 'softmax',
        ...kerasKernelDefaults,
      }),
    ];
    return {
      class_name: 'Sequential',
      config: { name: 'sequential', layers },
      keras_version: keras3 ? '3.4.1' : '2.13.1',
      backend: 'tensorflow',
    };
  }
  for (const keras3 of [false, true]) {
    it(`Keras ${keras3 ? 3 : 2}: loads, predicts as the same model built here, trains, and saves back the same layers`, async () => {
      const ref = new Sequential(
        [
          Conv2D({ filters: 3, kernelSize: 3, useBias: false, inputShape: [6, 6, 2] }),
          BatchNormalization(),
          SpatialDropout2D({ rate: 0.2 }),
          Flatten(),
          Dense({ units: 2, activation: 'softmax' }),
        ],
        { seed: 12 },
      );
      randomizeBN(ref, 13);
      const names = ['conv/kernel', 'out/kernel', 'out/bias', 'bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance'];
      const ws = ref.getWeights(); // conv kernel, gamma, beta, dense kernel, dense bias, moving mean, moving variance
      const order = [0, 3, 4, 1, 2, 5, 6];
      const data = new Float32Array(order.reduce((s, i) => s + ws[i].length, 0));
      let o = 0;
      for (const i of order) {
        data.set(ws[i], o);
        o += ws[i].length;
      }
      const specs = order.map((i, k) => ({ name: names[k], shape: ref.weightSpecs()[i].shape, dtype: 'float32' as const }));
      const m = (await loadModel({
        modelTopology: topology(keras3),
        weightSpecs: specs,
        weightData: data.buffer,
      } as ModelArtifacts)) as Sequential;
      expect(m.layers.map((l) => l.className)).toEqual(['Conv2D', 'BatchNormalization', 'SpatialDropout2D', 'Flatten', 'Dense']);
      const x = randomTensor([3, 6, 6, 2], new Rng(14));
      expect(maxDiff(m.predict(x).data, ref.predict(x).data)).toBe(0);
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(x, Int32Array.from([0, 1, 0]), { epochs: 2 });
      const back = await loadModel(await m.save());
      expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
      expect(back.getWeights()).toEqual(m.getWeights());
      // m predicts on the plan fit made (BN unfolded), back on an inference plan with BN folded into the conv.
      expect(maxDiff(back.predict(x).data, m.predict(x).data)).toBeLessThan(1e-6);
      for (const mm of [ref, m, back]) mm.dispose();
    });
  }
});
