// Public API, safe for browsers: nothing here imports Node built-ins.
import { getBackend, initBackend } from './backend.js';
import { Dropout, Flatten, ReLU, Softmax } from './layers/basic.js';
import { Conv2D } from './layers/conv2d.js';
import { Dense } from './layers/dense.js';
import { AvgPool2D, MaxPool2D } from './layers/pool.js';
import './io/browser.js';

initBackend();

/**
 * Resolves once the wasm kernels are compiled. Where the engine compiles synchronously (Node, workers,
 * current browsers) that happened during the import; elsewhere synchronous calls throw a StateError until then.
 */
export async function ready(): Promise<void> {
  await getBackend();
}

type Callable<C extends abstract new (...a: never[]) => unknown> = C & ((...a: ConstructorParameters<C>) => InstanceType<C>);
/** Lets a layer class be used as in TF.js code, with or without `new`: Conv2D({...}) or new Conv2D({...}). */
function callable<C extends new (...a: never[]) => unknown>(cls: C): Callable<C> {
  return new Proxy(cls, { apply: (target, _this, args) => new target(...(args as never[])) }) as Callable<C>;
}

const Conv2DLayer = callable(Conv2D);
const DenseLayer = callable(Dense);
const MaxPool2DLayer = callable(MaxPool2D);
const AvgPool2DLayer = callable(AvgPool2D);
const FlattenLayer = callable(Flatten);
const ReLULayer = callable(ReLU);
const SoftmaxLayer = callable(Softmax);
const DropoutLayer = callable(Dropout);
export {
  Conv2DLayer as Conv2D, DenseLayer as Dense, MaxPool2DLayer as MaxPool2D, AvgPool2DLayer as AvgPool2D,
  MaxPool2DLayer as MaxPooling2D, AvgPool2DLayer as AveragePooling2D,
  FlattenLayer as Flatten, ReLULayer as ReLU, SoftmaxLayer as Softmax, DropoutLayer as Dropout,
};
export type { Conv2DArgs } from './layers/conv2d.js';
export type { DenseArgs } from './layers/dense.js';
export type { Pool2DArgs } from './layers/pool.js';
export { Layer, type LayerArgs, type Activation } from './layers/layer.js';
export { Sequential, type CompileArgs, type FitArgs, type History, type Logs, type Labels, type LossName, type Callbacks } from './model.js';
export { SGD, Adam, Optimizer, type OptimizerLike } from './optimizers.js';
export { Tensor, tensor } from './tensor.js';
export { Rng } from './random.js';
export * from './errors.js';
export { setBackend, createBackend, currentBackend, simdSupported, relaxedSupported, type Backend, type BuildName } from './backend.js';
export { loadModel, registerIOHandler, type IOHandler, type ModelFiles, type ModelJson, type SaveResult, type SaveOptions, type SaveTarget } from './io/registry.js';
export { modelToArtifacts, artifactsToModel, type ModelArtifacts, type OptimizerState, type WeightSpec } from './io/format.js';
export { modelFromSpec } from './browser/model-spec.js';
export type { ModelSpec, LayerSpec, OptimizerSpec } from './browser/protocol.js';
