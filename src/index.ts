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
export type { DepthwiseConv2DArgs, SeparableConv2DArgs } from './layers/depthwise.js';
export type { Pool2DArgs } from './layers/pool.js';
export type { GlobalPool2DArgs } from './layers/global-pool.js';
export type { ZeroPadding2DArgs, Cropping2DArgs } from './layers/padding.js';
export type { UpSampling2DArgs } from './layers/upsampling.js';
export type { ReshapeArgs } from './layers/reshape.js';
export type { Conv2DTransposeArgs } from './layers/conv2d-transpose.js';
export type { BatchNormalizationArgs } from './layers/normalization.js';
export type { DropoutArgs } from './layers/dropout.js';
export { Model, model, loadModel, modelFromJSON, type ModelArgs } from './engine/model.js';
export { Sequential } from './engine/sequential.js';
export type { FitArgs, History, Logs, Callbacks, BatchLogs, ClassWeight } from './engine/training.js';
export type { FitDatasetArgs, EvaluateDatasetArgs, BatchSource } from './engine/datasets.js';
export type { CompileArgs } from './engine/state.js';
export type { InferenceArgs } from './engine/evaluation.js';
export type { DivergenceOptions } from './divergence.js';
export type { Labels } from './engine/validation.js';
export type { LossName, LossConfig, LossLike } from './engine/losses.js';
export { SGD, Adam, AdamW, RMSprop, Adagrad, Optimizer, type OptimizerLike, type ClipArgs } from './optimizers.js';
export { Tensor, tensor } from './tensor.js';
export { Rng } from './random.js';
export { regularizers, type Regularizer, type RegularizerConfig } from './regularizers.js';
export {
  LearningRateSchedule,
  PiecewiseConstantDecay,
  ExponentialDecay,
  CosineDecay,
  OneCycle,
  type ScheduleConfig,
  type PiecewiseConstantDecayArgs,
  type ExponentialDecayArgs,
  type CosineDecayArgs,
  type OneCycleArgs,
} from './schedules.js';
export * from './callbacks/index.js';
export type { LearningRate } from './optimizers.js';
export { initializers, type Initializer, type InitializerConfig, type InitializerName } from './initializers.js';
export * from './errors.js';
export { setBackend, createBackend, currentBackend, simdSupported, relaxedSupported, type Backend, type BuildName } from './backend.js';
export { setConvAlgorithm, getConvAlgorithm, type ConvAlgorithm } from './kernels/winograd.js';
export { setThreads, threadsInfo, type ThreadsInfo } from './threads/config.js';
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
export { Dataset, type Batch, type Batched, type TensorDatasetOptions } from './data/dataset.js';
export { data } from './data/namespace.js';
export { LabeledImages, type ImageBatchOptions, type PixelRange } from './data/labeled-images.js';
export { loadCifar10, parseCifar10, CIFAR10_CLASSES, type Cifar10Options } from './data/cifar.js';
export { loadIdxDataset, IDX_DATASETS, type IdxDatasetName, type IdxDatasetOptions, type EmnistSplit } from './data/idx-datasets.js';
export { readIdx, parseIdx, type Idx } from './idx.js';
export { fitPixels, type Fit, type PixelShape, type RgbaImage } from './data/pixels.js';
export { imagePixels, imageToTensor, captureFrame, decodeBlob, blobToTensor, type Picture, type PictureOptions } from './data/browser.js';
export { imageInfo, type ImageInfo, type ImageLimit } from './image.js';
export type { DataSource } from './data/source.js';
