// Fine-tuning a model built with TensorFlow.js: the usual transfer-learning recipe, in simdcnn.
//
// A pretrained model usually arrives as TF.js layers files, a model.json and its weight file(s): written by
// `await model.save('file://dir')` in TF.js (tfjs-node), by `tensorflowjs_converter --input_format keras model.h5
// dir` from a Keras model (e.g. keras.applications.MobileNet(alpha=0.25)), or downloaded. So that this example
// runs offline, it makes its own: a small MobileNet-v1-style net (Howard et al. 2017: a strided 3x3 stem, then
// depthwise-separable blocks, each convolution followed by BatchNormalization and ReLU6, global average pooling,
// a softmax head) built with @tensorflow/tfjs, pretrained on which way examples/mobilenet.ts's stripes run, and
// saved by TF.js as model.json + weights.bin (pure-JS TF.js has no file:// writer: a save handler writes the
// two files as tfjs-node's does).
//
// Then, in simdcnn: load the files, check the predictions agree with TF.js's, freeze the whole base (a frozen
// BatchNormalization runs in inference mode on its moving statistics, as in Keras), cut it at the pooled
// features, put a new Dense head on them, train the head on a new task (the colour of a shape), report the
// accuracy and save the fine-tuned model (TF.js files again).
// Run: npx tsx examples/finetune-tfjs.ts
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Adam, Dense, loadModel, model, modelFromJSON, tensor, type Model, type Tensor } from '../src/node.js';
import { Rng } from '../src/random.js';
import { stripes } from './mobilenet.js';

/** Stem 16x16x16, a DepthwiseConv2D block (dw 3x3 + pw 1x1, each with BN + ReLU6), two SeparableConv2D blocks, global average pooling ('features'), 4 classes. */
export function tfjsMobileNet(seed = 0): tf.LayersModel {
  const init = (k: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + k }) });
  // momentum 0.9, as in examples/mobilenet.ts: a short pretraining forgets the initial moving variance.
  const bnRelu6 = (x: tf.SymbolicTensor, name: string) =>
    tf.layers
      .reLU({ maxValue: 6, name: `${name}_relu` })
      .apply(tf.layers.batchNormalization({ momentum: 0.9, name: `${name}_bn` }).apply(x)) as tf.SymbolicTensor;
  const img = tf.input({ shape: [32, 32, 3], name: 'img' });
  let x = tf.layers
    .conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem', ...init(1) })
    .apply(img) as tf.SymbolicTensor;
  x = bnRelu6(x, 'stem');
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      name: 'b1_dw',
      depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + 2 }),
    })
    .apply(x) as tf.SymbolicTensor;
  x = bnRelu6(x, 'b1_dw');
  x = bnRelu6(
    tf.layers.conv2d({ filters: 32, kernelSize: 1, useBias: false, name: 'b1_pw', ...init(3) }).apply(x) as tf.SymbolicTensor,
    'b1_pw',
  );
  const separable = (x: tf.SymbolicTensor, filters: number, strides: number, name: string, k: number) =>
    bnRelu6(
      tf.layers
        .separableConv2d({
          filters,
          kernelSize: 3,
          strides,
          padding: 'same',
          useBias: false,
          name,
          depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + k }),
          pointwiseInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + k + 1 }),
        })
        .apply(x) as tf.SymbolicTensor,
      name,
    );
  x = separable(x, 48, 2, 'b2_sep', 4);
  x = separable(x, 64, 1, 'b3_sep', 6);
  const features = tf.layers.globalAveragePooling2d({ name: 'features' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'orientation', ...init(8) }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: img, outputs: out, name: 'tfjs_mobilenet' });
}

/**
 * The stand-in for someone else's pretraining (the orientation of examples/mobilenet.ts's stripes). TF.js's
 * pure-JS cpu backend needs ~17 s a training step on this net, so simdcnn trains a copy built from TF.js's own
 * JSON (same layers, same weight names) and TF.js takes the trained weights back by name, BN's moving
 * statistics included. With tfjs-node, or a model from Keras, this would be `theirs.fit(...)`.
 */
export async function pretrain(theirs: tf.LayersModel, pictures: number, epochs: number): Promise<void> {
  const copy = modelFromJSON(theirs.toJSON(null, false) as Record<string, unknown>, { seed: 1 });
  try {
    const { x, y } = stripes(pictures, 11);
    copy.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    await copy.fit(x, y, { epochs, batchSize: 32, seed: 0 });
    const values = copy.getWeights();
    const trained = new Map(copy.weightSpecs().map((s, i) => [s.name, tf.tensor(values[i], s.shape)]));
    theirs.setWeights(theirs.weights.map((v) => trained.get(v.originalName)!));
    tf.dispose([...trained.values()]);
  } finally {
    copy.dispose();
  }
}

/** model.json + weights.bin in `dir`, the files tfjs-node's `model.save('file://dir')` writes. */
export async function saveTfjsFiles(net: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await net.save(
    tf.io.withSaveHandler(async (art) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: art.weightSpecs }];
      const json = {
        modelTopology: art.modelTopology,
        format: art.format,
        generatedBy: art.generatedBy,
        convertedBy: art.convertedBy,
        weightsManifest,
      };
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(art.weightData as ArrayBuffer));
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

export const COLOURS = ['red', 'green', 'blue', 'yellow'];
const RGB = [
  [0.9, 0.1, 0.1],
  [0.1, 0.8, 0.1],
  [0.1, 0.2, 0.9],
  [0.9, 0.85, 0.1],
];

/** The new task: n pictures [n, 32, 32, 3] in [-1, 1] of a disc, square or triangle on a noisy dark ground, labelled by its colour. */
export function colouredShapes(n: number, seed: number): { x: Tensor; y: Int32Array; shapes: Int32Array } {
  const rng = new Rng(seed);
  const S = 32,
    x = new Float32Array(n * S * S * 3),
    y = new Int32Array(n),
    shapes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = rng.int(COLOURS.length),
      shape = rng.int(3),
      r = 5 + rng.uniform() * 6,
      cx = r + rng.uniform() * (S - 2 * r),
      cy = r + rng.uniform() * (S - 2 * r);
    const colour = RGB[label].map((v) => v + 0.15 * (rng.uniform() * 2 - 1));
    for (let row = 0; row < S; row++)
      for (let col = 0; col < S; col++) {
        const dx = col - cx,
          dy = row - cy;
        const inside =
          shape === 0
            ? dx * dx + dy * dy <= r * r
            : shape === 1
              ? Math.max(Math.abs(dx), Math.abs(dy)) <= r * 0.8
              : dy <= r * 0.8 && Math.abs(dx) <= (dy + r) * 0.6;
        for (let k = 0; k < 3; k++)
          x[((i * S + row) * S + col) * 3 + k] = (inside ? colour[k] : 0.1) * 2 - 1 + 0.15 * (rng.uniform() * 2 - 1);
      }
    y[i] = label;
    shapes[i] = shape;
  }
  return { x: tensor(x, [n, S, S, 3]), y, shapes };
}

/** The loaded model frozen and cut at 'features', under a new softmax head of `classes`. */
export function cutAndHead(base: Model, classes: number, seed = 0): Model {
  for (const layer of base.layers) layer.trainable = false;
  const head = Dense({ units: classes, activation: 'softmax', name: 'colour' }).apply(base.getLayer('features').output);
  return model({ inputs: base.inputs, outputs: head, name: 'finetuned', seed });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await tf.setBackend('cpu');
  const dir = await mkdtemp(join(tmpdir(), 'simdcnn-finetune-'));
  try {
    // 1. TF.js: the pretrained model, saved as files (yours would come from TF.js, Keras or a download).
    const theirs = tfjsMobileNet();
    let t0 = performance.now();
    await pretrain(theirs, 2048, 2);
    console.log(`pretrained the TF.js MobileNet-style net (stripes' orientation) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await saveTfjsFiles(theirs, join(dir, 'pretrained'));

    // 2. simdcnn: load it and check it predicts what TF.js predicts.
    const base = await loadModel(join(dir, 'pretrained'));
    base.summary();
    const probe = colouredShapes(16, 3).x;
    const ours = base.predict(probe).data,
      ref = (theirs.predict(tf.tensor(probe.data, probe.shape)) as tf.Tensor).dataSync();
    console.log(`predictions, largest difference from TF.js: ${Math.max(...ours.map((v, i) => Math.abs(v - ref[i]))).toExponential(1)}`);

    // 3. Freeze, cut at the pooled features, new head, train it on the new task.
    const tuned = cutAndHead(base, COLOURS.length);
    tuned.summary();
    const train = colouredShapes(2048, 21),
      test = colouredShapes(512, 22);
    tuned.compile({ optimizer: new Adam({ learningRate: 0.03 }), loss: 'sparseCategoricalCrossentropy' });
    t0 = performance.now();
    await tuned.fit(train.x, train.y, { epochs: 8, batchSize: 32, seed: 0 });
    console.log(`fine-tuned the head in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log('colour, test:', tuned.evaluate(test.x, test.y, { batchSize: 256 }));

    // 4. Save the fine-tuned model: TF.js layers files again, which TF.js (or simdcnn) loads.
    await tuned.save(join(dir, 'finetuned'));
    console.log(`saved to ${join(dir, 'finetuned')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
