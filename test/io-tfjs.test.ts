// The TF.js layers format against TensorFlow.js itself (tfjs-layers 4.22, cpu backend): simdcnn's files load in
// TF.js with the same predictions and the same JSON TF.js would write; TF.js's and Keras's files load in simdcnn,
// including TF.js's saved optimizer state.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, loadModel, type ModelArtifacts, SGD } from '../src/node.js';
import { archs } from './io-archs.js';
import { kerasKernelDefaults, maxDiff, tf, tfjsArtifacts, tfPredict, toTfjs } from './tfjs-helpers.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-io-tfjs-'));
const rng = new Rng(21);
const rand = (shape: number[]) => randomTensor(shape, rng);

describe('simdcnn -> TF.js -> simdcnn', () => {
  for (const [name, shape, make] of archs) {
    it(`${name}: TF.js predicts the same to 1e-5, writes the same JSON, and its save loads back`, async () => {
      const m = make();
      const x = rand([5, ...shape]);
      const want = m.predict(x).data;
      const files = await m.save();
      const theirs = await toTfjs(files);
      expect(maxDiff(tfPredict(theirs, x), want)).toBeLessThan(1e-5);
      // The topology is exactly what tfjs-layers writes for the model it read (its Glorot initialiser aside).
      const again = await tfjsArtifacts(theirs);
      const strip = (t: unknown) =>
        JSON.parse(JSON.stringify(t), (k, v) => (k === 'kernel_initializer' || k === 'bias_initializer' ? undefined : v));
      expect(strip(files.modelJson.modelTopology)).toEqual(strip(again.modelTopology));
      expect(again.weightSpecs).toEqual(files.modelJson.weightsManifest[0].weights);
      const back = await loadModel(again as ModelArtifacts);
      expect(maxDiff(back.predict(x).data, want)).toBeLessThan(1e-5);
      expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
      m.dispose();
      back.dispose();
    });
  }

  it('the training config: TF.js compiles what simdcnn saved (SGD, Momentum, Adam)', async () => {
    for (const [opt, cls, cfg] of [
      [new SGD({ learningRate: 0.1 }), 'SGD', { learningRate: 0.1 }],
      [new SGD({ learningRate: 0.05, momentum: 0.9 }), 'Momentum', { learningRate: 0.05, momentum: 0.9, useNesterov: false }],
      [new Adam({ learningRate: 0.01 }), 'Adam', { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
    ] as const) {
      const m = archs[2][2]();
      m.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
      const t = await toTfjs(await m.save());
      expect(t.optimizer.getClassName()).toBe(cls);
      expect(t.optimizer.getConfig()).toEqual(cfg);
      expect(t.loss).toBe('sparseCategoricalCrossentropy');
      m.dispose();
    }
  });
});

describe('TF.js -> simdcnn', () => {
  it('a TF.js-built model with InputLayer, Activation and Dropout, through model.json on disk', async () => {
    const t = tf.sequential({
      layers: [
        tf.layers.inputLayer({ inputShape: [7, 7, 3] }),
        tf.layers.conv2d({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
        tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 6 }),
        tf.layers.activation({ activation: 'softmax' }),
      ],
    });
    const art = await tfjsArtifacts(t);
    const d = dir();
    writeFileSync(
      join(d, 'model.json'),
      JSON.stringify({
        modelTopology: art.modelTopology,
        format: 'layers-model',
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: art.weightSpecs }],
      }),
    );
    writeFileSync(join(d, 'group1-shard1of1.bin'), new Uint8Array(art.weightData as ArrayBuffer));
    const ours = await loadModel(join(d, 'model.json'));
    const x = rand([4, 7, 7, 3]);
    expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-5);
    expect(ours.layers.map((l) => l.className)).toEqual([
      'Conv2D',
      'Activation',
      'AveragePooling2D',
      'Conv2D',
      'Flatten',
      'Dropout',
      'Dense',
      'Activation',
    ]);
    // It trains, Dropout included (rate 0.5 in training, the identity in predict).
    ours.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const w0 = ours.getWeights();
    await ours.fit(x, Int32Array.from([0, 1, 2, 3]));
    // The dense bias: its gradient (softmax minus one-hot, summed) is never zero, whereas with random weights and a
    // dropout mask every ReLU before it can be dead, leaving the first kernel unchanged.
    expect(ours.getWeights().at(-1)).not.toEqual(w0.at(-1));
    ours.dispose();
  });

  for (const [name, make] of [
    ['Momentum', () => tf.train.momentum(0.05, 0.9)],
    ['Adam', () => tf.train.adam(0.01, 0.9, 0.999, 1e-7)],
    ['SGD', () => tf.train.sgd(0.1)],
  ] as const) {
    it(`TF.js trains 3 steps with ${name} and saves with includeOptimizer; simdcnn resumes as TF.js does (1e-5)`, async () => {
      const t = tf.sequential({
        layers: [
          tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 2] }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 4, activation: 'softmax' }),
        ],
      });
      t.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy' });
      const xs = [0, 1, 2, 3, 4, 5].map(() => rand([8, 6, 6, 2]));
      const y = [0, 1, 2, 3, 3, 2, 1, 0];
      const yt = tf.tensor1d(y, 'float32');
      for (const x of xs.slice(0, 3)) await t.trainOnBatch(tf.tensor(x.data, x.shape), yt);
      const art = await tfjsArtifacts(t, true);
      expect(art.weightSpecs!.some((s) => s.group === 'optimizer')).toBe(true);
      const ours = await loadModel(art as ModelArtifacts);
      expect(ours.optimizer?.iterations).toBe(3);
      for (const x of xs.slice(3)) {
        await t.trainOnBatch(tf.tensor(x.data, x.shape), yt);
        ours.trainOnBatch(x, y);
      }
      const theirs = t.getWeights().map((w) => w.dataSync() as Float32Array);
      ours.getWeights().forEach((w, i) => expect(maxDiff(w, theirs[i])).toBeLessThan(1e-5));
      ours.dispose();
    });
  }
});

describe('Keras files (as tensorflowjs_converter writes them) -> simdcnn', () => {
  /** A TF.js twin gives the weights and the reference predictions. */
  function twin() {
    const t = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    const bytes = new Uint8Array(t.getWeights().reduce((s, w) => s + w.size * 4, 0));
    let o = 0;
    for (const w of t.getWeights()) {
      const b = new Uint8Array((w.dataSync() as Float32Array).slice().buffer);
      bytes.set(b, o);
      o += b.length;
    }
    return {
      t,
      bytes,
      specs: [
        { name: 'conv2d/kernel', shape: [3, 3, 1, 4], dtype: 'float32' },
        { name: 'conv2d/bias', shape: [4], dtype: 'float32' },
        { name: 'dense/kernel', shape: [36, 5], dtype: 'float32' },
        { name: 'dense/bias', shape: [5], dtype: 'float32' },
      ],
    };
  }
  const k2 = (policy: unknown) => [
    {
      class_name: 'InputLayer',
      config: { batch_input_shape: [null, 8, 8, 1], dtype: policy, sparse: false, ragged: false, name: 'conv2d_input' },
    },
    {
      class_name: 'Conv2D',
      config: {
        name: 'conv2d',
        trainable: true,
        dtype: policy,
        filters: 4,
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: 'valid',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        groups: 1,
        activation: 'relu',
        ...kerasKernelDefaults,
      },
    },
    {
      class_name: 'MaxPooling2D',
      config: {
        name: 'max_pooling2d',
        trainable: true,
        dtype: policy,
        pool_size: [2, 2],
        padding: 'valid',
        strides: [2, 2],
        data_format: 'channels_last',
      },
    },
    { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: policy, data_format: 'channels_last' } },
    {
      class_name: 'Dense',
      config: {
        name: 'dense',
        trainable: true,
        dtype: policy,
        units: 5,
        activation: 'softmax',
        ...kerasKernelDefaults,
      },
    },
  ];
  const keras3Policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const trainingConfig = {
    loss: 'sparse_categorical_crossentropy',
    metrics: [[{ class_name: 'MeanMetricWrapper', config: { name: 'accuracy', dtype: 'float32' } }]],
    weighted_metrics: null,
    loss_weights: null,
    optimizer_config: {
      class_name: 'Adam',
      config: { name: 'Adam', learning_rate: 0.002, decay: 0.0, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
    },
  };
  const variants: [string, (layers: unknown[]) => Record<string, unknown>, unknown][] = [
    [
      'Keras 2, model_config wrapper with training_config',
      (layers) => ({
        keras_version: '2.13.1',
        backend: 'tensorflow',
        model_config: { class_name: 'Sequential', config: { name: 'sequential', layers } },
        training_config: trainingConfig,
      }),
      'float32',
    ],
    [
      'old Keras, config as a list of layers',
      (layers) => ({ keras_version: '2.1.6', backend: 'tensorflow', model_config: { class_name: 'Sequential', config: layers } }),
      'float32',
    ],
    [
      'Keras 3, dtype policies and batch_shape',
      (layers) => ({
        class_name: 'Sequential',
        config: {
          name: 'sequential',
          trainable: true,
          dtype: keras3Policy,
          layers: (layers as { class_name: string; config: Record<string, unknown> }[]).map((l) =>
            l.class_name === 'InputLayer'
              ? {
                  module: 'keras.layers',
                  class_name: 'InputLayer',
                  config: { batch_shape: [null, 8, 8, 1], dtype: 'float32', sparse: false, name: 'input_layer' },
                  registered_name: null,
                }
              : { module: 'keras.layers', ...l, registered_name: null },
          ),
        },
        keras_version: '3.4.1',
        backend: 'tensorflow',
      }),
      keras3Policy,
    ],
  ];
  for (const [name, wrap, policy] of variants) {
    it(name, async () => {
      const { t, bytes, specs } = twin();
      const d = dir();
      writeFileSync(
        join(d, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          generatedBy: 'keras',
          convertedBy: 'TensorFlow.js Converter v4.22.0',
          modelTopology: wrap(k2(policy)),
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
        }),
      );
      writeFileSync(join(d, 'group1-shard1of1.bin'), bytes);
      const ours = await loadModel(`file://${d}`);
      const x = rand([3, 8, 8, 1]);
      expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-5);
      expect(ours.layers.map((l) => l.name)).toEqual(['conv2d', 'max_pooling2d', 'flatten', 'dense']);
      if (name.includes('training_config'))
        expect(ours.optimizer?.getConfig()).toEqual({ learningRate: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
      else expect(ours.optimizer).toBeUndefined();
      ours.dispose();
    });
  }

  it('an optimizer simdcnn cannot reproduce exactly (AMSGrad, Adadelta, weight decay on SGD, a schedule) leaves the model uncompiled', async () => {
    const { bytes, specs } = twin();
    for (const oc of [
      { class_name: 'Adam', config: { learning_rate: 0.01, amsgrad: true } },
      { class_name: 'Adadelta', config: { learning_rate: 0.01 } },
      { class_name: 'SGD', config: { learning_rate: 0.01, weight_decay: 0.01 } },
      { class_name: 'SGD', config: { learning_rate: 0.01, clipnorm: 1, clipvalue: 1 } },
      { class_name: 'Adam', config: { learning_rate: { class_name: 'ExponentialDecay', config: {} } } },
    ]) {
      const m = await loadModel({
        modelJson: {
          modelTopology: { class_name: 'Sequential', config: { layers: k2('float32') } },
          weightsManifest: [{ paths: ['w'], weights: specs }],
          trainingConfig: { loss: 'sparse_categorical_crossentropy', optimizer_config: oc },
        },
        weights: bytes.slice().buffer,
      });
      expect(m.optimizer, JSON.stringify(oc)).toBeUndefined();
      m.dispose();
    }
  });
});
