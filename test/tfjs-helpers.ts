// TensorFlow.js (tfjs-layers 4.22, cpu backend) as the reference the I/O and parity suites compare with.
import * as tf from '@tensorflow/tfjs';
import type { Model, ModelFiles, Tensor } from '../src/node.js';

export { tf };

/** TF.js loading simdcnn's in-memory files, as tf.loadLayersModel does from model.json + weights. */
export async function toTfjs(files: ModelFiles): Promise<tf.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: files.modelJson.modelTopology,
      weightSpecs: files.modelJson.weightsManifest[0].weights as tf.io.WeightsManifestEntry[],
      weightData: files.weights as ArrayBuffer,
      trainingConfig: files.modelJson.trainingConfig as never,
    }),
  );
}

/** What a TF.js model hands its save handler. */
export async function tfjsArtifacts(m: tf.LayersModel, includeOptimizer = false): Promise<tf.io.ModelArtifacts> {
  let art: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer },
  );
  return art!;
}

export const tfPredict = (m: tf.LayersModel, x: Tensor) => (m.predict(tf.tensor(x.data, x.shape)) as tf.Tensor).dataSync() as Float32Array;

export const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
};

/** Gives a TF.js model simdcnn's weights, matched by name ('layer/kernel'). */
export function copyWeights(ours: Model, theirs: tf.LayersModel): void {
  const w = new Map(ours.weightSpecs().map((s, i) => [s.name, [s.shape, ours.getWeights()[i]] as const]));
  theirs.setWeights(
    theirs.weights.map((v) => {
      const [shape, data] = w.get(v.originalName)!;
      return tf.tensor(data, shape);
    }),
  );
}

/** Names and values of a TF.js model's weights, in its getWeights order. */
export const tfWeights = (m: tf.LayersModel) => m.weights.map((v) => ({ name: v.originalName, data: v.read().dataSync() as Float32Array }));

/** What Keras writes for a kernel-and-bias layer's (Dense, Conv2D, Conv2DTranspose) options at their defaults. */
export const kerasKernelDefaults = {
  use_bias: true,
  kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
  bias_initializer: { class_name: 'Zeros', config: {} },
  kernel_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  bias_constraint: null,
};
