// Public API, safe for browsers: nothing here imports Node built-ins.
import { getBackend, initBackend } from './backend.js';
import './io/browser.js';

initBackend();

/**
 * Resolves once the wasm kernels are compiled. Where the engine compiles synchronously (Node, workers,
 * current browsers) that happened during the import; elsewhere synchronous calls throw a StateError until then.
 */
export async function ready(): Promise<void> {
  await getBackend();
}

export * from './layers/index.js';
export {
  Layer,
  type LayerArgs,
  type ActivationName,
  type WeightSpec,
  type NodeIO,
  type Need,
  type RunContext,
  type NodeShapes,
} from './layers/layer.js';
export { registerLayer, getLayerClass } from './layers/registry.js';
export { SymbolicTensor, Node } from './layers/symbolic.js';
export type { Conv2DArgs } from './layers/conv2d.js';
export type { DenseArgs } from './layers/dense.js';
export type { Pool2DArgs } from './layers/pool.js';
export { Model, model, loadModel, modelFromJSON, type ModelArgs } from './engine/model.js';
export { Sequential } from './engine/sequential.js';
export type { FitArgs, History, Logs, Callbacks } from './engine/training.js';
export type { CompileArgs } from './engine/state.js';
export type { InferenceArgs } from './engine/evaluation.js';
export type { DivergenceOptions } from './divergence.js';
export type { Labels } from './engine/validation.js';
export type { LossName } from './engine/losses.js';
export { SGD, Adam, Optimizer, type OptimizerLike } from './optimizers.js';
export { Tensor, tensor } from './tensor.js';
export { Rng } from './random.js';
export * from './errors.js';
export { setBackend, createBackend, currentBackend, simdSupported, relaxedSupported, type Backend, type BuildName } from './backend.js';
export { setConvAlgorithm, getConvAlgorithm, type ConvAlgorithm } from './kernels/winograd.js';
export {
  registerIOHandler,
  type IOHandler,
  type ModelFiles,
  type ModelJson,
  type SaveResult,
  type SaveOptions,
  type SaveTarget,
} from './io/registry.js';
export { modelToArtifacts, artifactsToModel, type ModelArtifacts, type OptimizerState, type WeightsManifestEntry } from './io/format.js';
export type { ModelSpec, OptimizerSpec } from './browser/protocol.js';
