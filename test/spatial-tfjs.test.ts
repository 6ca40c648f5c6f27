// The spatial layers of issue 12 against TensorFlow.js (tfjs-layers 4.22, cpu backend): predictions, three SGD
// steps (loss and every weight), and files both ways (simdcnn -> TF.js -> simdcnn, TF.js -> simdcnn, Keras's
// config keys). Where TF.js cannot train a layer, what it cannot is said and the gradients are compared with
// an equivalent TF.js computation instead.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv2D,
  Conv2DTranspose,
  Cropping2D,
  Dense,
  Flatten,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  loadModel,
  type Model,
  type ModelArtifacts,
  modelFromJSON,
  Reshape,
  Sequential,
  SGD,
  type Tensor,
  UpSampling2D,
  ZeroPadding2D,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';
import { kerasKernelDefaults, maxDiff, tf, tfjsArtifacts, tfPredict, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = new Rng(77);
const rand = (shape: number[]) => randomTensor(shape, rng);

type Case = { name: string; input: number[]; batch: number; layers: () => ConstructorParameters<typeof Sequential>[0]; note?: string };

/** Each: some convolutions around the layer under test, a softmax head; trained at `batch`. */
const CASES: Case[] = [
  {
    name: 'conv(5,3x3,same,relu) - GlobalAveragePooling2D - dense(4,softmax)',
    input: [7, 6, 3],
    batch: 6,
    layers: () => [
      Conv2D({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [7, 6, 3] }),
      GlobalAveragePooling2D(),
      Dense({ units: 4, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(6,2x2,valid) - GlobalMaxPooling2D - dense(4,softmax)',
    input: [5, 7, 2],
    batch: 5,
    layers: () => [
      Conv2D({ filters: 6, kernelSize: 2, inputShape: [5, 7, 2] }),
      GlobalMaxPooling2D(),
      Dense({ units: 4, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(4,3x3,same) - GlobalAveragePooling2D(channelsFirst) - dense(3,softmax)',
    input: [6, 5, 2],
    batch: 3,
    layers: () => [
      Conv2D({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [6, 5, 2] }),
      GlobalAveragePooling2D({ dataFormat: 'channelsFirst' }),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'ZeroPadding2D([[1,2],[0,3]]) - conv(4,3x3,s2,relu) - Cropping2D([[1,0],[0,1]]) - ZeroPadding2D(1, channelsFirst) - flatten - dense(5,softmax)',
    input: [7, 6, 3],
    batch: 4,
    layers: () => [
      ZeroPadding2D({
        padding: [
          [1, 2],
          [0, 3],
        ],
        inputShape: [7, 6, 3],
      }),
      Conv2D({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }),
      Cropping2D({
        cropping: [
          [1, 0],
          [0, 1],
        ],
      }),
      ZeroPadding2D({ padding: 1, dataFormat: 'channelsFirst' }),
      Flatten(),
      Dense({ units: 5, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(3,3x3,relu) - UpSampling2D([2,3], nearest) - conv(4,3x3,s2) - flatten - dense(3,softmax)',
    input: [6, 5, 2],
    batch: 1,
    note: "batch 1: TF.js's ResizeNearestNeighborGrad reads the wrong dy for every image after the first",
    layers: () => [
      Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 5, 2] }),
      UpSampling2D({ size: [2, 3] }),
      Conv2D({ filters: 4, kernelSize: 3, strides: 2 }),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(3,3x3,same,relu) - UpSampling2D(2, bilinear) - conv(4,3x3,s2) - flatten - dense(3,softmax)',
    input: [5, 5, 2],
    batch: 4,
    note: "square images: TF.js's ResizeBilinearGrad declares its result [N, W, H, C], so TF.js cannot train it on H != W",
    layers: () => [
      Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [5, 5, 2] }),
      UpSampling2D({ size: 2, interpolation: 'bilinear' }),
      Conv2D({ filters: 4, kernelSize: 3, strides: 2 }),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    // TF.js leaves a -1 unresolved in the output shape (its batch axis is unknown), so no Flatten after it there.
    name: 'conv(4,2x2) - Reshape([-1,2,5]) - GlobalAveragePooling2D - dense(3,softmax)',
    input: [6, 6, 2],
    batch: 3,
    layers: () => [
      Conv2D({ filters: 4, kernelSize: 2, inputShape: [6, 6, 2] }),
      Reshape({ targetShape: [-1, 2, 5] }),
      GlobalAveragePooling2D(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(4,2x2) - Reshape([10,10]) - flatten - dense(3,softmax)',
    input: [6, 6, 2],
    batch: 3,
    layers: () => [
      Conv2D({ filters: 4, kernelSize: 2, inputShape: [6, 6, 2] }),
      Reshape({ targetShape: [10, 10] }),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'Conv2DTranspose(4,3x3,s2,same,relu) - Conv2DTranspose(3,[2,3],s[1,2],valid) - conv(2,3x3,s2) - flatten - dense(4,softmax)',
    input: [5, 4, 3],
    batch: 4,
    layers: () => [
      Conv2DTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [5, 4, 3] }),
      Conv2DTranspose({ filters: 3, kernelSize: [2, 3], strides: [1, 2], biasInitializer: 'ones' }),
      Conv2D({ filters: 2, kernelSize: 3, strides: 2 }),
      Flatten(),
      Dense({ units: 4, activation: 'softmax' }),
    ],
  },
  {
    name: 'Conv2DTranspose(5,2x2,s3,valid) (gaps) - Conv2DTranspose(2,4x4,s2,same,no bias) - flatten - dense(3,softmax)',
    input: [3, 3, 4],
    batch: 2,
    layers: () => [
      Conv2DTranspose({ filters: 5, kernelSize: 2, strides: 3, inputShape: [3, 3, 4] }),
      Conv2DTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same', useBias: false }),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'Conv2DTranspose(4,3x3,s2,same,swish) - Conv2DTranspose(3,3x3,s2,valid,sigmoid) - Conv2DTranspose(2,2x2,tanh) - flatten - dense(3,softmax)',
    input: [3, 4, 2],
    batch: 3,
    note: 'swish keeps its pre-activation for backward; sigmoid and tanh differentiate through their output',
    layers: () => [
      Conv2DTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish', inputShape: [3, 4, 2] }),
      Conv2DTranspose({ filters: 3, kernelSize: 3, strides: 2, activation: 'sigmoid' }),
      Conv2DTranspose({ filters: 2, kernelSize: 2, activation: 'tanh' }),
      Flatten(),
      Dense({ units: 3, activation: 'softmax' }),
    ],
  },
];

async function twins(c: Case, seed: number): Promise<{ ours: Model; theirs: tf.LayersModel }> {
  const ours = new Sequential(c.layers(), { seed });
  // TF.js builds its twin from simdcnn's own files: the same weights, and the export is exercised too.
  const theirs = await toTfjs(await ours.save());
  return { ours, theirs };
}

describe('predictions and three SGD steps match TF.js', () => {
  CASES.forEach((c, i) => {
    it(`${c.name}, x=[${c.batch},${c.input}]${c.note ? ` (${c.note})` : ''}`, async () => {
      const { ours, theirs } = await twins(c, 10 + i);
      const x = rand([c.batch, ...c.input]);
      const wide = rand([5, ...c.input]);
      expect(maxDiff(ours.predict(wide).data, tfPredict(theirs, wide)), 'predictions').toBeLessThan(1e-6);
      const classes = ours.outputShape[0];
      const labels = Int32Array.from({ length: c.batch }, () => rng.int(classes));
      ours.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
      theirs.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
      for (let s = 0; s < 3; s++) {
        const la = ours.trainOnBatch(x, labels).loss;
        const lb = (await theirs.trainOnBatch(tf.tensor(x.data, x.shape), tf.tensor1d(labels, 'float32'))) as number;
        expect(Math.abs(la - lb), `loss at step ${s}`).toBeLessThan(1e-5);
      }
      const wb = theirs.getWeights().map((t) => t.dataSync() as Float32Array);
      ours.getWeights().forEach((w, k) => expect(maxDiff(w, wb[k]), `weight ${ours.weightSpecs()[k].name}`).toBeLessThan(1e-5));
      ours.dispose();
    });
  });
});

describe('Conv2D with dilationRate: TF.js predicts, but cannot train it (its Conv2D gradient refuses dilations > 1)', () => {
  const dilated = () =>
    new Sequential(
      [
        Conv2D({ filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu', inputShape: [9, 8, 3] }),
        Conv2D({ filters: 4, kernelSize: [2, 3], dilationRate: [3, 2] }),
        Flatten(),
        Dense({ units: 3, activation: 'softmax' }),
      ],
      { seed: 5 },
    );

  it('x=[4,9,8,3] conv(5,3x3,d2,same,relu) - conv(4,[2,3],d[3,2],valid): predictions; TF.js training throws', async () => {
    const ours = dilated();
    const theirs = await toTfjs(await ours.save());
    const x = rand([4, 9, 8, 3]);
    expect(maxDiff(ours.predict(x).data, tfPredict(theirs, x))).toBeLessThan(1e-6);
    theirs.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    await expect(theirs.trainOnBatch(tf.tensor(x.data, x.shape), tf.tensor1d([0, 1, 2, 0], 'float32'))).rejects.toThrow(
      /dilation rates greater than 1/,
    );
    ours.dispose();
  });

  /** A dilated kernel as TF.js can differentiate it: the kernel with zeros between its taps (a 0/1 matrix product). */
  function tfDilated(w: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
    const [kh, kw, c, o] = w.shape;
    const KH = (kh - 1) * dh + 1,
      KW = (kw - 1) * dw + 1;
    const s = new Float32Array(KH * KW * kh * kw);
    for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) s[(y * dh * KW + xx * dw) * kh * kw + y * kw + xx] = 1;
    return tf.matMul(tf.tensor2d(s, [KH * KW, kh * kw]), w.reshape([kh * kw, c * o])).reshape([KH, KW, c, o]);
  }

  for (const [dil, pad, shape, k] of [
    [[2, 2], 'same', [2, 9, 8, 3], [3, 3, 3, 5]],
    [[3, 2], 'valid', [3, 11, 9, 4], [2, 3, 4, 6]],
    [[1, 4], 'same', [1, 7, 13, 5], [3, 2, 5, 3]],
    // 3x3, stride 1, 8 -> 16 channels: the shape a Winograd rule would take if it overlooked the dilation.
    [[2, 2], 'same', [2, 10, 10, 8], [3, 3, 8, 16]],
  ] as [[number, number], 'same' | 'valid', number[], number[]][]) {
    it(`conv2d x=[${shape}] k=[${k}] dilation=[${dil}] ${pad}: dx, dw and db equal TF.js's gradients of the zero-filled kernel`, () => {
      const ours = new Sequential(
        [Conv2D({ filters: k[3], kernelSize: [k[0], k[1]], dilationRate: dil, padding: pad, inputShape: shape.slice(1) })],
        {
          seed: 9,
        },
      );
      const x = rand(shape);
      const y = ours.predict(x);
      const r = rand(y.shape);
      const { dx, grads } = ours.vjp(x, r);
      const [w, b] = ours.getWeights();
      const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.conv2d(xt as tf.Tensor4D, tfDilated(wt as tf.Tensor4D, dil), 1, pad), bt), tf.tensor(r.data, r.shape)));
      const g = tf
        .grads(f)([tf.tensor(x.data, x.shape), tf.tensor(w, k), tf.tensor(b)])
        .map((t) => t.dataSync() as Float32Array);
      // Sums over every output pixel (db, dw) in another order than TF.js's: relative to the largest value.
      const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => maxDiff(a, b) / Math.max(1, ...Array.from(b, Math.abs));
      expect(rel(dx.data, g[0]), 'dx').toBeLessThan(1e-6);
      expect(rel(grads[0], g[1]), 'dw').toBeLessThan(1e-6);
      expect(rel(grads[1], g[2]), 'db').toBeLessThan(1e-6);
      ours.dispose();
    });
  }
});

/** simdcnn saves, TF.js loads and predicts the same and writes the same JSON, and simdcnn loads that back. */
async function roundTrip(m: Model, x: Tensor): Promise<void> {
  const want = m.predict(x).data;
  const files = await m.save();
  const theirs = await toTfjs(files);
  expect(maxDiff(tfPredict(theirs, x), want), 'TF.js predicts').toBeLessThan(1e-6);
  const again = await tfjsArtifacts(theirs);
  const strip = (t: unknown) =>
    JSON.parse(JSON.stringify(t), (k, v) => (k === 'kernel_initializer' || k === 'bias_initializer' ? undefined : v));
  expect(strip(files.modelJson.modelTopology)).toEqual(strip(again.modelTopology));
  const back = await loadModel(again as ModelArtifacts);
  expect(maxDiff(back.predict(x).data, want), 'back in simdcnn').toBeLessThan(1e-6);
  expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
  back.dispose();
}

describe('files both ways', () => {
  it('simdcnn -> TF.js -> simdcnn: every spatial layer, both data formats, with its options', async () => {
    const m = new Sequential(
      [
        ZeroPadding2D({
          padding: [
            [2, 0],
            [1, 3],
          ],
          inputShape: [6, 5, 3],
        }),
        Conv2D({ filters: 4, kernelSize: 3, dilationRate: [2, 1], padding: 'same', activation: 'relu' }),
        Cropping2D({ cropping: [1, 2] }),
        UpSampling2D({ size: [2, 1], interpolation: 'bilinear', dataFormat: 'channelsFirst' }),
        Conv2DTranspose({ filters: 3, kernelSize: [3, 2], strides: [1, 2], padding: 'same', kernelInitializer: 'heUniform' }),
        UpSampling2D({ size: 2 }),
        Reshape({ targetShape: [4, -1, 3] }),
        GlobalMaxPooling2D({ dataFormat: 'channelsLast' }),
        Dense({ units: 2, activation: 'softmax' }),
      ],
      { seed: 4 },
    );
    await roundTrip(m, rand([3, 6, 5, 3]));
    m.dispose();
  });

  it('TF.js -> simdcnn: a model built with tf.layers loads with the same predictions and configs', async () => {
    const t = tf.sequential({
      layers: [
        tf.layers.zeroPadding2d({ padding: 1, inputShape: [5, 6, 2] }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu' }),
        tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }),
        tf.layers.cropping2D({
          cropping: [
            [1, 1],
            [0, 2],
          ],
        }),
        tf.layers.upSampling2d({ size: [1, 2] }),
        tf.layers.reshape({ targetShape: [3, -1, 5] }),
        tf.layers.globalAveragePooling2d({ dataFormat: 'channelsFirst' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    const ours = await loadModel((await tfjsArtifacts(t)) as ModelArtifacts);
    const x = rand([4, 5, 6, 2]);
    expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-6);
    // Initializers aside (TF.js's default glorotNormal is the act branch's to load).
    const noInit = (c: object) => ({ ...c, kernelInitializer: undefined, biasInitializer: undefined });
    const theirConfigs = t.layers.map((l) => noInit(l.getConfig()));
    ours.layers.forEach((l, i) => expect(noInit(l.getConfig()), l.name).toEqual(theirConfigs[i]));
    ours.dispose();
  });

  it("Keras's config keys (snake_case, keepdims, output_padding, dilation_rate, int sizes) load", () => {
    const layer = (class_name: string, config: Record<string, unknown>) => ({
      class_name,
      config: { name: class_name.toLowerCase(), trainable: true, dtype: 'float32', ...config },
    });
    const m = modelFromJSON({
      class_name: 'Sequential',
      config: {
        name: 'keras',
        layers: [
          {
            class_name: 'InputLayer',
            config: { batch_input_shape: [null, 4, 4, 2], dtype: 'float32', sparse: false, ragged: false, name: 'in' },
          },
          layer('ZeroPadding2D', {
            padding: [
              [1, 1],
              [1, 1],
            ],
            data_format: 'channels_last',
          }),
          layer('Conv2DTranspose', {
            filters: 3,
            kernel_size: [3, 3],
            strides: [2, 2],
            padding: 'same',
            output_padding: null,
            data_format: 'channels_last',
            dilation_rate: [1, 1],
            groups: 1,
            activation: 'relu',
            ...kerasKernelDefaults,
          }),
          layer('UpSampling2D', { size: [2, 2], data_format: 'channels_last', interpolation: 'nearest' }),
          layer('Cropping2D', {
            cropping: [
              [0, 0],
              [1, 1],
            ],
            data_format: 'channels_last',
          }),
          layer('Reshape', { target_shape: [48, 11, 3] }),
          layer('GlobalAveragePooling2D', { data_format: 'channels_last', keepdims: false }),
        ],
      },
    });
    expect(m.layers.filter((l) => l.className !== 'InputLayer').map((l) => l.outputShape)).toEqual([
      [6, 6, 2],
      [12, 12, 3],
      [24, 24, 3],
      [24, 22, 3],
      [48, 11, 3],
      [3],
    ]);
    expect(m.predict(rand([2, 4, 4, 2])).shape).toEqual([2, 3]);
    m.dispose();
  });
});
