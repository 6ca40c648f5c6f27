// A model described as JSON (what crosses to a worker) -> a compiled Sequential. Browser-safe.
import { ValueError } from '../errors.js';
import { Dropout, Flatten, ReLU, Softmax } from '../layers/basic.js';
import { Conv2D } from '../layers/conv2d.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { AvgPool2D, MaxPool2D } from '../layers/pool.js';
import { Sequential } from '../model.js';
import { Adam, type Optimizer, SGD } from '../optimizers.js';
import type { LayerSpec, ModelSpec, OptimizerSpec } from './protocol.js';

type Ctor = new (config: never) => Layer;
const LAYERS: Record<string, Ctor> = {
  Conv2D, Dense, MaxPool2D, MaxPooling2D: MaxPool2D, AvgPool2D, AveragePooling2D: AvgPool2D,
  Flatten, ReLU, Softmax, Dropout,
};

export function layerFromSpec(s: LayerSpec, i: number): Layer {
  if (!s || typeof s !== 'object' || typeof s.class !== 'string') throw new ValueError(`model spec: layer ${i} must be {class, config}, received ${JSON.stringify(s)}`);
  const C = LAYERS[s.class];
  if (!C) throw new ValueError(`model spec: layer ${i} has unknown class '${s.class}'; expected one of ${Object.keys(LAYERS).join(', ')}`);
  return new C({ ...(s.config ?? {}) } as never);
}

export function optimizerFromSpec(o: OptimizerSpec): Optimizer {
  if (o === 'sgd') return new SGD();
  if (o === 'adam') return new Adam();
  if (o && typeof o === 'object') {
    const cls = String(o.class).toLowerCase();
    if (cls === 'sgd') return new SGD(o.config ?? {});
    if (cls === 'adam') return new Adam(o.config ?? {});
  }
  throw new ValueError(`model spec: optimizer must be 'sgd', 'adam' or {class: 'SGD'|'Adam', config}, received ${JSON.stringify(o)}`);
}

/** A built (and, when spec.compile is given, compiled) model; spec.weights replace the initial weights. */
export function modelFromSpec(spec: ModelSpec, opts: { compile?: boolean } = {}): Sequential {
  if (!spec || !Array.isArray(spec.layers) || spec.layers.length === 0) throw new ValueError('model spec: layers must be a non-empty array of {class, config}');
  const model = new Sequential(spec.layers.map(layerFromSpec), { seed: spec.seed, name: spec.name });
  try {
    model.build();
    if (spec.weights) model.setWeights(spec.weights);
    if (opts.compile !== false && spec.compile) model.compile({ optimizer: optimizerFromSpec(spec.compile.optimizer), loss: spec.compile.loss ?? 'sparseCategoricalCrossentropy' });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
