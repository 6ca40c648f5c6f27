// Saving and loading in the TF.js layers format: simdcnn <-> files <-> simdcnn and TF.js, both ways.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam, AvgPool2D, Conv2D, Dense, Dropout, Flatten, loadModel, MaxPool2D, ModelFormatError, ReLU, Sequential, SGD, Softmax, StateError, tensor, type Tensor,
} from '../src/node.js';
import type { ModelFiles } from '../src/io/registry.js';
import { Rng } from '../src/random.js';

beforeAll(async () => { await tf.setBackend('cpu'); });
const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-io-'));
const rng = new Rng(11);
const rand = (shape: number[]) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform() * 2 - 1), shape);

const archs: [string, number[], () => Sequential][] = [
  ['conv(4,3x3,s2,same,relu)-maxpool-flatten-dense(5,softmax) x=[9,7,3]', [9, 7, 3], () => new Sequential([
    new Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 7, 3] }),
    new MaxPool2D({ poolSize: 2, padding: 'same' }), new Flatten(), new Dense({ units: 5, activation: 'softmax' })])],
  ['conv(3,2x2,valid,no bias)-relu-avgpool(2,s1)-conv(6,4x4,same)-flatten-dense(7)-softmax x=[8,8,1]', [8, 8, 1], () => new Sequential([
    new Conv2D({ filters: 3, kernelSize: 2, useBias: false, inputShape: [8, 8, 1] }), new ReLU(), new AvgPool2D({ poolSize: 2, strides: 1 }),
    new Conv2D({ filters: 6, kernelSize: 4, padding: 'same' }), new Flatten(), new Dense({ units: 7 }), new Softmax()])],
  ['dense-only (13 -> 9 relu -> 4 softmax) x=[13]', [13], () => new Sequential([
    new Dense({ units: 9, activation: 'relu', inputShape: [13] }), new Dense({ units: 4, activation: 'softmax' })])],
  ['conv(5,[3,1],s[1,2])-dropout-flatten-dense(3,softmax) x=[6,10,2]', [6, 10, 2], () => new Sequential([
    new Conv2D({ filters: 5, kernelSize: [3, 1], strides: [1, 2], inputShape: [6, 10, 2] }), new Dropout({ rate: 0.25 }), new Flatten(), new Dense({ units: 3, activation: 'softmax' })])],
];

async function toTfjs(files: ModelFiles): Promise<tf.LayersModel> {
  const weights = Array.isArray(files.weights) ? files.weights : [files.weights];
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: files.modelJson.modelTopology, weightSpecs: files.modelJson.weightsManifest[0].weights as tf.io.WeightsManifestEntry[], weightData: weights[0] }));
}
const tfPredict = (m: tf.LayersModel, x: Tensor) => (m.predict(tf.tensor(x.data, x.shape)) as tf.Tensor).dataSync() as Float32Array;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return a.length === b.length ? m : Infinity; };

describe('round trips', () => {
  for (const [name, shape, make] of archs) {
    it(`${name}: simdcnn -> dir -> simdcnn is bit-identical; -> TF.js and back agree to 1e-5`, async () => {
      const m = make();
      const x = rand([5, ...shape]);
      const want = m.predict(x).data;
      const d = dir();
      await m.save(d);
      const back = await loadModel(d);
      expect(back.predict(x).data).toEqual(want);
      const viaFile = await loadModel(pathToFileURL(join(d, 'model.json')).href);
      expect(viaFile.predict(x).data).toEqual(want);
      const theirs = await toTfjs(await m.save());
      expect(maxDiff(tfPredict(theirs, x), want)).toBeLessThan(1e-5);
      // TF.js saves it again; simdcnn loads what TF.js wrote.
      let art: tf.io.ModelArtifacts | undefined;
      await theirs.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
      const again = await loadModel({ modelJson: { modelTopology: art!.modelTopology as Record<string, unknown>, weightsManifest: [{ paths: ['w.bin'], weights: art!.weightSpecs! as never }], format: 'layers-model' }, weights: art!.weightData as ArrayBuffer });
      expect(maxDiff(again.predict(x).data, want)).toBeLessThan(1e-5);
      for (const model of [m, back, viaFile, again]) model.dispose();
    });
  }

  it('a TF.js-built model with InputLayer, Activation and Dropout loads in simdcnn with the same predictions', async () => {
    const t = tf.sequential({ layers: [
      tf.layers.inputLayer({ inputShape: [7, 7, 3] }),
      tf.layers.conv2d({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }), tf.layers.activation({ activation: 'relu' }),
      tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }), tf.layers.flatten(), tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 6 }), tf.layers.activation({ activation: 'softmax' }),
    ] });
    let art: tf.io.ModelArtifacts | undefined;
    await t.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    const d = dir();
    writeFileSync(join(d, 'model.json'), JSON.stringify({ modelTopology: art!.modelTopology, format: 'layers-model', weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: art!.weightSpecs }] }));
    writeFileSync(join(d, 'group1-shard1of1.bin'), new Uint8Array(art!.weightData as ArrayBuffer));
    const ours = await loadModel(join(d, 'model.json'));
    const x = rand([4, 7, 7, 3]);
    expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-5);
    expect(ours.layers.map((l) => l.className)).toEqual(['Conv2D', 'ReLU', 'AveragePooling2D', 'Flatten', 'Dropout', 'Dense', 'Softmax']);
    ours.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    await expect(ours.fit(x, [0, 1, 2, 3])).rejects.toThrow(StateError);
  });
});

describe('optimizer state', () => {
  for (const [name, opt] of [['SGD momentum 0.9', () => new SGD({ learningRate: 0.05, momentum: 0.9 })], ['Adam', () => new Adam({ learningRate: 0.01 })]] as const) {
    it(`${name}: 3 steps, save, load, 3 more steps == 6 steps, bit for bit`, async () => {
      const make = () => { const m = archs[0][2](); m.compile({ optimizer: opt(), loss: 'sparseCategoricalCrossentropy' }); return m; };
      const xs = [0, 1, 2, 3, 4, 5].map(() => rand([4, 9, 7, 3]));
      const y = [0, 1, 2, 4];
      const a = make(), b = make();
      b.setWeights(a.getWeights());
      for (const x of xs) a.trainOnBatch(x, y);
      for (const x of xs.slice(0, 3)) b.trainOnBatch(x, y);
      const d = dir();
      await b.save(d);
      const c = await loadModel(d);
      for (const x of xs.slice(3)) c.trainOnBatch(x, y);
      expect(c.getWeights()).toEqual(a.getWeights());
      expect(c.optimizer!.iterations).toBe(6);
    });
  }
});

describe('files are written atomically and old files cleaned up', () => {
  it('saving over a model replaces it; only the new files remain, no temp files', async () => {
    const d = dir();
    const m1 = archs[2][2](), m2 = archs[2][2]();
    await m1.save(d);
    await m2.save(d);
    const files = readdirSync(d);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.bin')).length).toBe(1);
    const x = rand([2, 13]);
    expect((await loadModel(d)).predict(x).data).toEqual(m2.predict(x).data);
  });
});

describe('corrupt or unsupported files are refused with ModelFormatError', () => {
  async function saved() {
    const d = dir();
    await archs[0][2]().save(d);
    const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    return { d, json, bin: join(d, json.weightsManifest[0].paths[0]) };
  }
  const cases: [string, (s: Awaited<ReturnType<typeof saved>>) => void, RegExp][] = [
    ['truncated weight file', (s) => writeFileSync(s.bin, readFileSync(s.bin).subarray(0, 100)), /describes \d+ bytes but the weight data holds 100/],
    ['extra bytes in the weight file', (s) => writeFileSync(s.bin, Buffer.concat([readFileSync(s.bin), Buffer.alloc(8)])), /truncated or mismatched/],
    ['missing weight file', (s) => writeFileSync(join(s.d, 'model.json'), JSON.stringify({ ...s.json, weightsManifest: [{ ...s.json.weightsManifest[0], paths: ['nope.bin'] }] })), /nope\.bin: cannot read weight file/],
    ['mangled JSON', (s) => writeFileSync(join(s.d, 'model.json'), '{"modelTopology": {'), /not valid JSON/],
    ['a weight of the wrong shape', (s) => { s.json.weightsManifest[0].weights[0].shape = [3, 3, 4, 3]; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /has shape \[3,3,4,3\] but layer weight .* needs \[3,3,3,4\]/],
    ['an unsupported layer', (s) => { s.json.modelTopology.config.layers.splice(1, 0, { class_name: 'BatchNormalization', config: { name: 'bn' } }); writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /layer 'bn' \(BatchNormalization\): layer class 'BatchNormalization' is not supported/],
    ['an unsupported activation', (s) => { s.json.modelTopology.config.layers[0].config.activation = 'tanh'; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /\(Conv2D\): activation 'tanh' is not supported/],
    ['dilation', (s) => { s.json.modelTopology.config.layers[0].config.dilation_rate = [2, 2]; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /dilation_rate \[2,2\] is not supported/],
    ['channels_first', (s) => { s.json.modelTopology.config.layers[1].config.data_format = 'channels_first'; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /data_format 'channels_first' is not supported/],
    ['a regularizer', (s) => { s.json.modelTopology.config.layers[3].config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } }; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /option kernel_regularizer=.* is not supported/],
    ['a functional model', (s) => { s.json.modelTopology.class_name = 'Model'; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /only Sequential models are supported/],
    ['float16 weights', (s) => { s.json.weightsManifest[0].weights[0].dtype = 'float16'; writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json)); }, /dtype 'float16'/],
  ];
  for (const [what, damage, msg] of cases) {
    it(what, async () => {
      const s = await saved();
      damage(s);
      const err = await loadModel(s.d).catch((e) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect(err.message).toMatch(msg);
    });
  }
  it('a directory with no model', async () => {
    const d = dir();
    expect(existsSync(join(d, 'model.json'))).toBe(false);
    await expect(loadModel(d)).rejects.toThrow(/cannot read \(ENOENT\)/);
  });
});
