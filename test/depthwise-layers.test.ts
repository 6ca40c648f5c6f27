// DepthwiseConv2D and SeparableConv2D as layers: finite-difference gradients (alone and inside a trained
// model), TensorFlow.js (tfjs-layers 4.22, cpu backend) as the reference for predictions and for the weights
// after SGD steps, model.json both ways, the registry round trip, and errors that name the layer.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv2D,
  Dense,
  DepthwiseConv2D,
  Flatten,
  getLayerClass,
  loadModel,
  type ModelArtifacts,
  SeparableConv2D,
  Sequential,
  SGD,
  ShapeError,
  tensor,
  ValueError,
} from '../src/node.js';
import type { Layer } from '../src/layers/layer.js';
import { Rng } from '../src/random.js';
import { checkLossGradients, checkVjp, randomTensor } from './gradcheck.js';
import { copyWeights, maxDiff, tf, tfjsArtifacts, tfPredict, tfWeights, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const gradCases: [string, number[], () => Layer][] = [
  [
    'depthwise x=[2,7,9,3] k=[3,3,3,1] stride=2 same',
    [2, 7, 9, 3],
    () => DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'same', inputShape: [7, 9, 3] }),
  ],
  [
    'depthwise x=[1,8,7,5] k=[3,3,5,2] valid relu no bias',
    [1, 8, 7, 5],
    () => DepthwiseConv2D({ kernelSize: 3, depthMultiplier: 2, activation: 'relu', useBias: false, inputShape: [8, 7, 5] }),
  ],
  [
    'depthwise x=[3,9,9,6] k=[3,3,6,1] dilation=2 same',
    [3, 9, 9, 6],
    () => DepthwiseConv2D({ kernelSize: 3, dilationRate: 2, padding: 'same', inputShape: [9, 9, 6] }),
  ],
  [
    'depthwise x=[2,11,7,4] k=[5,3,4,3] stride=[2,1] same softmax',
    [2, 11, 7, 4],
    () =>
      DepthwiseConv2D({
        kernelSize: [5, 3],
        strides: [2, 1],
        depthMultiplier: 3,
        padding: 'same',
        activation: 'softmax',
        inputShape: [11, 7, 4],
      }),
  ],
  [
    'separable x=[2,7,6,5] dw=[3,3,5,2] pw=[1,1,10,7] same relu',
    [2, 7, 6, 5],
    () => SeparableConv2D({ filters: 7, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', inputShape: [7, 6, 5] }),
  ],
  [
    'separable x=[1,9,9,3] dw=[3,3,3,1] pw=[1,1,3,13] stride=2 valid no bias',
    [1, 9, 9, 3],
    () => SeparableConv2D({ filters: 13, kernelSize: 3, strides: 2, useBias: false, inputShape: [9, 9, 3] }),
  ],
  [
    'separable x=[3,8,8,17] dw=[2,2,17,1] pw=[1,1,17,4] dilation=2 valid',
    [3, 8, 8, 17],
    () => SeparableConv2D({ filters: 4, kernelSize: 2, dilationRate: 2, inputShape: [8, 8, 17] }),
  ],
  [
    'depthwise x=[2,6,7,5] k=[3,3,5,2] same gelu (derivative from the saved pre-activation)',
    [2, 6, 7, 5],
    () => DepthwiseConv2D({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'gelu', inputShape: [6, 7, 5] }),
  ],
  [
    'depthwise x=[1,7,5,6] k=[3,3,6,1] stride=2 valid tanh',
    [1, 7, 5, 6],
    () => DepthwiseConv2D({ kernelSize: 3, strides: 2, activation: 'tanh', inputShape: [7, 5, 6] }),
  ],
  [
    'separable x=[2,6,6,3] dw=[3,3,3,2] pw=[1,1,6,5] same swish (derivative from the saved pre-activation)',
    [2, 6, 6, 3],
    () => SeparableConv2D({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'swish', inputShape: [6, 6, 3] }),
  ],
  [
    'separable x=[1,7,7,4] dw=[3,3,4,1] pw=[1,1,4,6] valid sigmoid',
    [1, 7, 7, 4],
    () => SeparableConv2D({ filters: 6, kernelSize: 3, activation: 'sigmoid', inputShape: [7, 7, 4] }),
  ],
];

describe('gradient check per layer (sum(r * layer(x)) vs central differences)', () => {
  gradCases.forEach(([name, shape, make], i) => {
    it(name, () => {
      const m = new Sequential([make()], { seed: 410 + i });
      checkVjp(m, randomTensor(shape, new Rng(510 + i)), 610 + i);
      m.dispose();
    });
  });
  it('x=[3,10,9,3] separable(8,s2,same,relu,dm2) - depthwise(3x3,valid,relu) - flatten - dense(5,softmax), sparse CE loss', () => {
    const m = new Sequential(
      [
        SeparableConv2D({
          filters: 8,
          kernelSize: 3,
          strides: 2,
          depthMultiplier: 2,
          padding: 'same',
          activation: 'relu',
          inputShape: [10, 9, 3],
        }),
        DepthwiseConv2D({ kernelSize: 3, activation: 'relu' }),
        Flatten(),
        Dense({ units: 5, activation: 'softmax' }),
      ],
      { seed: 35 },
    );
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const x = randomTensor([3, 10, 9, 3], new Rng(32));
    // A small step: with two ReLU layers on 3x3 outputs, a step of 1e-3 often crosses a kink.
    checkLossGradients(m, x, Int32Array.from([4, 0, 2]), 33, 2.5e-4);
    checkVjp(m, x, 34);
    m.dispose();
  });
});

/** The same net in simdcnn and TF.js, layer by layer, with simdcnn's initial weights. */
interface Net {
  name: string;
  shape: number[];
  ours: () => Layer[];
  theirs: () => tf.layers.Layer[];
  /** TF.js 4.22 has no gradient for dilated depthwise convolutions: predictions only. */
  noTfGradient?: boolean;
}
const nets: Net[] = [
  {
    name: 'depthwise(3x3,s2,same,relu,dm2) C=5 - separable(7,3x3,same,relu) - flatten - dense(4,softmax)',
    shape: [9, 7, 5],
    ours: () => [
      DepthwiseConv2D({
        name: 'dw',
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        depthMultiplier: 2,
        activation: 'relu',
        inputShape: [9, 7, 5],
      }),
      SeparableConv2D({ name: 'sep', filters: 7, kernelSize: 3, padding: 'same', activation: 'relu' }),
      Flatten({ name: 'f' }),
      Dense({ name: 'out', units: 4, activation: 'softmax' }),
    ],
    theirs: () => [
      tf.layers.depthwiseConv2d({
        name: 'dw',
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        depthMultiplier: 2,
        activation: 'relu',
        inputShape: [9, 7, 5],
      }),
      tf.layers.separableConv2d({ name: 'sep', filters: 7, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.flatten({ name: 'f' }),
      tf.layers.dense({ name: 'out', units: 4, activation: 'softmax' }),
    ],
  },
  {
    name: 'conv(6,1x1) C=3 - separable(11,[3,2],s[1,2],valid,dm3,no bias) - depthwise(2x2,valid) - flatten - dense(3,softmax)',
    shape: [8, 11, 3],
    ours: () => [
      Conv2D({ name: 'c', filters: 6, kernelSize: 1, inputShape: [8, 11, 3] }),
      SeparableConv2D({ name: 'sep', filters: 11, kernelSize: [3, 2], strides: [1, 2], depthMultiplier: 3, useBias: false }),
      DepthwiseConv2D({ name: 'dw', kernelSize: 2 }),
      Flatten({ name: 'f' }),
      Dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
    theirs: () => [
      tf.layers.conv2d({ name: 'c', filters: 6, kernelSize: 1, inputShape: [8, 11, 3] }),
      tf.layers.separableConv2d({ name: 'sep', filters: 11, kernelSize: [3, 2], strides: [1, 2], depthMultiplier: 3, useBias: false }),
      tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 2 }),
      tf.layers.flatten({ name: 'f' }),
      tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
  },
  {
    name: 'separable(5,3x3,dilation 2,same,relu) C=13 - separable(4,5x5,s2,same) - flatten - dense(3,softmax)',
    shape: [10, 10, 13],
    ours: () => [
      SeparableConv2D({
        name: 's1',
        filters: 5,
        kernelSize: 3,
        dilationRate: 2,
        padding: 'same',
        activation: 'relu',
        inputShape: [10, 10, 13],
      }),
      SeparableConv2D({ name: 's2', filters: 4, kernelSize: 5, strides: 2, padding: 'same' }),
      Flatten({ name: 'f' }),
      Dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
    theirs: () => [
      tf.layers.separableConv2d({
        name: 's1',
        filters: 5,
        kernelSize: 3,
        dilationRate: 2,
        padding: 'same',
        activation: 'relu',
        inputShape: [10, 10, 13],
      }),
      tf.layers.separableConv2d({ name: 's2', filters: 4, kernelSize: 5, strides: 2, padding: 'same' }),
      tf.layers.flatten({ name: 'f' }),
      tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
    noTfGradient: true,
  },
  {
    name: 'depthwise(3x3,same,elu,dm2) C=3 - separable(6,3x3,s2,same,swish) - depthwise(2x2,tanh) - flatten - dense(3,softmax)',
    shape: [8, 9, 3],
    ours: () => [
      DepthwiseConv2D({ name: 'dw', kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'elu', inputShape: [8, 9, 3] }),
      SeparableConv2D({ name: 'sep', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' }),
      DepthwiseConv2D({ name: 'dw2', kernelSize: 2, activation: 'tanh' }),
      Flatten({ name: 'f' }),
      Dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
    theirs: () => [
      tf.layers.depthwiseConv2d({
        name: 'dw',
        kernelSize: 3,
        padding: 'same',
        depthMultiplier: 2,
        activation: 'elu',
        inputShape: [8, 9, 3],
      }),
      tf.layers.separableConv2d({ name: 'sep', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' }),
      tf.layers.depthwiseConv2d({ name: 'dw2', kernelSize: 2, activation: 'tanh' }),
      tf.layers.flatten({ name: 'f' }),
      tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }),
    ],
  },
];

const uniform = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);

describe('parity with TensorFlow.js: predictions (batch 1 and 6) and the weights after 2 SGD steps', () => {
  nets.forEach((net, i) => {
    it(`${net.name}${net.noTfGradient ? ' (predictions only: TF.js has no dilated depthwise gradient)' : ''}`, async () => {
      const ours = new Sequential(net.ours(), { seed: 40 + i });
      const theirs = tf.sequential({ layers: net.theirs() });
      copyWeights(ours, theirs);
      expect(theirs.weights.map((w) => w.originalName)).toEqual(ours.weightSpecs().map((s) => s.name));
      const rng = new Rng(50 + i);
      const N = 6,
        x = tensor(uniform(N * net.shape.reduce((a, b) => a * b, 1), rng), [N, ...net.shape]);
      const one = tensor(x.data.slice(0, x.data.length / N), [1, ...net.shape]);
      expect(maxDiff(ours.predict(x).data, tfPredict(theirs, x))).toBeLessThan(1e-5);
      expect(maxDiff(ours.predict(one).data, tfPredict(theirs, one))).toBeLessThan(1e-5);
      if (net.noTfGradient) return ours.dispose();
      const labels = Int32Array.from({ length: N }, () => rng.int(3));
      ours.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
      theirs.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
      for (let s = 0; s < 2; s++) {
        const la = ours.trainOnBatch(x, labels).loss;
        const lb = (await theirs.trainOnBatch(tf.tensor(x.data, x.shape), tf.tensor1d(labels, 'float32'))) as number;
        expect(Math.abs(la - lb), `loss at step ${s}`).toBeLessThan(1e-5);
      }
      const want = tfWeights(theirs);
      ours.getWeights().forEach((w, j) => expect(maxDiff(w, want[j].data), want[j].name).toBeLessThan(1e-5));
      ours.dispose();
    });
  });
});

/** TF.js writes no depth_multiplier for SeparableConv2D (and reads it); initialisers aside, the JSON must match. */
const strip = (t: unknown) =>
  JSON.parse(JSON.stringify(t), (k, v) => (k.endsWith('_initializer') || k === 'depth_multiplier' ? undefined : v)) as unknown;

describe('model.json both ways', () => {
  nets.forEach((net, i) => {
    it(`simdcnn -> TF.js -> simdcnn: ${net.name}`, async () => {
      const m = new Sequential(net.ours(), { seed: 60 + i });
      const x = tensor(uniform(4 * net.shape.reduce((a, b) => a * b, 1), new Rng(70 + i)), [4, ...net.shape]);
      const want = m.predict(x).data;
      const files = await m.save();
      const theirs = await toTfjs(files);
      expect(maxDiff(tfPredict(theirs, x), want)).toBeLessThan(1e-5);
      const again = await tfjsArtifacts(theirs);
      expect(strip(again.modelTopology)).toEqual(strip(files.modelJson.modelTopology));
      expect(again.weightSpecs).toEqual(files.modelJson.weightsManifest[0].weights);
      if (m.layers.some((l) => l instanceof SeparableConv2D && l.depthMultiplier > 1)) {
        // TF.js saves SeparableConv2D without its depthMultiplier, so its file cannot describe the weights it holds.
        await expect(loadModel(again as ModelArtifacts)).rejects.toThrow(
          /'sep\/depthwise_kernel' has shape \[3,2,6,3\] but .* needs \[3,2,6,1\]/,
        );
        return m.dispose();
      }
      const back = await loadModel(again as ModelArtifacts);
      expect(maxDiff(back.predict(x).data, want)).toBeLessThan(1e-5);
      expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
      m.dispose();
      back.dispose();
    });
  });
  it('TF.js -> simdcnn: a TF.js-built model with its own initial weights, depthMultiplier read from the config', async () => {
    const t = tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', inputShape: [7, 7, 3] }),
        tf.layers.separableConv2d({ filters: 5, kernelSize: 3, strides: 2, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    const ours = await loadModel((await tfjsArtifacts(t)) as ModelArtifacts);
    expect(ours.layers.map((l) => l.className)).toEqual(['DepthwiseConv2D', 'SeparableConv2D', 'Flatten', 'Dense']);
    expect(ours.weightSpecs().map((s) => s.shape)).toEqual(t.weights.map((w) => w.shape));
    const x = tensor(uniform(3 * 7 * 7 * 3, new Rng(80)), [3, 7, 7, 3]);
    expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-5);
    ours.dispose();
  });
});

describe('registry and errors', () => {
  const made: [string, () => Layer][] = [
    [
      'DepthwiseConv2D',
      () =>
        DepthwiseConv2D({
          kernelSize: [3, 5],
          strides: 2,
          padding: 'same',
          depthMultiplier: 3,
          useBias: false,
          activation: 'relu',
          depthwiseInitializer: 'heUniform',
          trainable: false,
        }),
    ],
    [
      'SeparableConv2D',
      () =>
        SeparableConv2D({
          filters: 9,
          kernelSize: 3,
          dilationRate: 2,
          depthMultiplier: 2,
          pointwiseInitializer: 'lecunUniform',
          biasInitializer: 'ones',
          inputShape: [5, 5, 2],
        }),
    ],
  ];
  for (const [cls, make] of made) {
    it(`${cls}: found by its TF.js name, fromConfig(getConfig()) gives the same config`, () => {
      const l = make();
      expect(l.className).toBe(cls);
      expect(getLayerClass(cls)!.fromConfig(l.getConfig()).getConfig()).toEqual(l.getConfig());
    });
  }
  it('bad options and shapes throw errors naming the layer, expected vs received', () => {
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: 3, depthMultiplier: 0 })).toThrow(
      /d: depthMultiplier must be a positive integer, received 0/,
    );
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: [3, 3, 3] as never })).toThrow(/d: kernelSize must be/);
    expect(() => DepthwiseConv2D({ name: 'd' } as never)).toThrow(/d \(DepthwiseConv2D\): kernelSize is required/);
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: 3, strides: 2, dilationRate: 2 })).toThrow(ValueError);
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: 3, filters: 4 } as never)).toThrow(
      /d \(DepthwiseConv2D\): unknown option 'filters'/,
    );
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: 3, biasConstraint: 'nonNeg' } as never)).toThrow(
      /d \(DepthwiseConv2D\): option biasConstraint='nonNeg' is not supported \(only null\)/,
    );
    expect(() => DepthwiseConv2D({ name: 'd', kernelSize: 3, activation: 'tahn' as never })).toThrow(/d.*activation 'tahn'/);
    expect(() => SeparableConv2D({ name: 's', kernelSize: 3 } as never)).toThrow(
      /s: filters must be a positive integer, received undefined/,
    );
    expect(() => SeparableConv2D({ name: 's', filters: 2, kernelSize: 3, kernelInitializer: 'ones' } as never)).toThrow(
      /s \(SeparableConv2D\): unknown option 'kernelInitializer'/,
    );
    expect(() => SeparableConv2D({ name: 's', filters: 2, kernelSize: 3, padding: 'causal' as never })).toThrow(/s: padding 'causal'/);
    expect(() => new Sequential([DepthwiseConv2D({ name: 'd', kernelSize: 3, inputShape: [8, 8] })]).build()).toThrow(ShapeError);
    expect(() => new Sequential([DepthwiseConv2D({ name: 'd', kernelSize: 3, inputShape: [8, 8] })]).build()).toThrow(
      /d \(DepthwiseConv2D\): expected input of rank 4 .* received \[null,8,8\]/,
    );
    expect(() => new Sequential([SeparableConv2D({ name: 's', filters: 2, kernelSize: 5, inputShape: [4, 9, 2] })]).build()).toThrow(
      /s: a 5x5 window with 'valid' padding does not fit an input of 4x9/,
    );
  });
});
