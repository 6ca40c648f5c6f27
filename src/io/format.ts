// The TensorFlow.js layers format both ways: a Sequential <-> {modelTopology, weightSpecs, weightData}.
// Keras class names and snake_case configs, weights as little-endian float32 in getWeights order.
// Browser-safe. Anything the file asks for that simdcnn cannot do exactly is a ModelFormatError that names
// the layer and the option: never a silent approximation.
import { ModelFormatError, SimdcnnError } from '../errors.js';
import { Dropout, Flatten, ReLU, Softmax } from '../layers/basic.js';
import { Conv2D } from '../layers/conv2d.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { AvgPool2D, MaxPool2D } from '../layers/pool.js';
import { Sequential } from '../model.js';
import { Adam, type Optimizer, SGD } from '../optimizers.js';

export interface WeightSpec { name: string; shape: number[]; dtype: string; quantization?: unknown }

export interface OptimizerState {
  className: string;
  config: Record<string, number>;
  iterations: number;
  /** One Float32Array per optimizer slot (momentum accumulator; Adam's m and v), parameter-block layout. */
  slots: Float32Array[];
}

export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  trainingConfig?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
  optimizer?: OptimizerState;
}

export const VERSION = '0.1.0';
const INIT_NAMES: Record<string, string> = { glorotUniform: 'GlorotUniform', heUniform: 'HeUniform', lecunUniform: 'LecunUniform', zeros: 'Zeros', ones: 'Ones' };
const INIT_BACK = Object.fromEntries(Object.entries(INIT_NAMES).map(([k, v]) => [v, k]));

function layerJson(l: Layer, first: boolean): Record<string, unknown> {
  const c = l.getConfig() as Record<string, unknown>;
  const base: Record<string, unknown> = { name: l.name, trainable: true, dtype: 'float32' };
  if (first) base.batch_input_shape = [null, ...l.inputShape];
  const init = (n: unknown) => ({ class_name: INIT_NAMES[n as string], config: n === 'zeros' || n === 'ones' ? {} : { seed: null } });
  switch (l.className) {
    case 'Conv2D':
      return { class_name: 'Conv2D', config: {
        filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, padding: c.padding, data_format: 'channels_last',
        dilation_rate: [1, 1], activation: c.activation, use_bias: c.useBias, kernel_initializer: init(c.kernelInitializer),
        bias_initializer: init(c.biasInitializer), kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
        kernel_constraint: null, bias_constraint: null, ...base } };
    case 'Dense':
      return { class_name: 'Dense', config: {
        units: c.units, activation: c.activation, use_bias: c.useBias, kernel_initializer: init(c.kernelInitializer),
        bias_initializer: init(c.biasInitializer), kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
        kernel_constraint: null, bias_constraint: null, ...base } };
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return { class_name: l.className, config: { pool_size: c.poolSize, strides: c.strides, padding: c.padding, data_format: 'channels_last', ...base } };
    case 'Flatten':
      return { class_name: 'Flatten', config: { data_format: 'channels_last', ...base } };
    case 'ReLU':
      return { class_name: 'ReLU', config: { max_value: null, ...base } };
    case 'Softmax':
      return { class_name: 'Softmax', config: { axis: -1, ...base } };
    case 'Dropout':
      return { class_name: 'Dropout', config: { rate: c.rate, noise_shape: null, seed: null, ...base } };
    default:
      throw new ModelFormatError(`save: layer '${l.name}' (${l.className}) has no TF.js layers form`);
  }
}

/** The model as TF.js layers-format artifacts (weights copied out of wasm memory). */
export function modelToArtifacts(model: Sequential, opts: { includeOptimizer?: boolean; metadata?: Record<string, unknown> } = {}): ModelArtifacts {
  model.build();
  const specs = model.weightSpecs();
  const weights = model.getWeights();
  const total = weights.reduce((s, w) => s + w.length, 0);
  const data = new ArrayBuffer(total * 4);
  const view = new DataView(data);
  let o = 0;
  for (const w of weights) for (let i = 0; i < w.length; i++, o += 4) view.setFloat32(o, w[i], true);
  const art: ModelArtifacts = {
    modelTopology: {
      class_name: 'Sequential',
      config: { name: model.name, layers: model.layers.map((l, i) => layerJson(l, i === 0)) },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    format: 'layers-model',
    generatedBy: `simdcnn ${VERSION}`,
    convertedBy: null,
    weightSpecs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })),
    weightData: data,
  };
  if (model.optimizer && model.loss) {
    art.trainingConfig = {
      loss: model.loss === 'sparseCategoricalCrossentropy' ? 'sparse_categorical_crossentropy' : 'categorical_crossentropy',
      metrics: ['accuracy'],
      optimizer_config: { class_name: model.optimizer.className, config: { ...model.optimizer.getConfig() } },
    };
  }
  const meta = { ...model.metadata, ...opts.metadata };
  if (Object.keys(meta).length) art.userDefinedMetadata = meta;
  if (opts.includeOptimizer !== false && model.optimizer) {
    art.optimizer = { className: model.optimizer.className, config: model.optimizer.getConfig(), iterations: model.optimizer.iterations, slots: model.getOptimizerState() };
  }
  return art;
}

const fail = (where: string, what: string): never => { throw new ModelFormatError(`${where}: ${what}`); };
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function pair(v: unknown, where: string, key: string): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d > 0)) fail(where, `${key} must be two positive integers, received ${JSON.stringify(v)}`);
  return p as [number, number];
}

function checkNull(cfg: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) if (cfg[k] !== undefined && cfg[k] !== null) fail(where, `option ${k}=${JSON.stringify(cfg[k])} is not supported`);
}

function activation(cfg: Record<string, unknown>, where: string): 'linear' | 'relu' | 'softmax' {
  const a = cfg.activation ?? 'linear';
  if (a !== 'linear' && a !== 'relu' && a !== 'softmax') fail(where, `activation '${String(a)}' is not supported (supported: linear, relu, softmax)`);
  return a as 'linear' | 'relu' | 'softmax';
}

function initializer(v: unknown): 'glorotUniform' {
  // Initialisers never run on a loaded model (its weights come from the file), so any is accepted.
  const name = isObj(v) ? INIT_BACK[v.class_name as string] : undefined;
  return (name ?? 'glorotUniform') as 'glorotUniform';
}

function inputShapeOf(cfg: Record<string, unknown>): number[] | undefined {
  const s = cfg.batch_input_shape ?? cfg.batch_shape;
  return Array.isArray(s) ? (s.slice(1) as number[]) : undefined;
}

/** One Keras layer entry -> simdcnn layers (Activation('linear') and InputLayer become none). */
function fromLayerJson(entry: unknown, index: number, pendingInput: number[] | undefined): Layer[] {
  if (!isObj(entry) || typeof entry.class_name !== 'string' || !isObj(entry.config)) fail(`layer ${index}`, 'expected {class_name, config}');
  const e = entry as { class_name: string; config: Record<string, unknown> };
  const cfg = e.config;
  const name = typeof cfg.name === 'string' ? cfg.name : `layer_${index}`;
  const where = `layer '${name}' (${e.class_name})`;
  if (cfg.data_format !== undefined && cfg.data_format !== 'channels_last') fail(where, `data_format '${String(cfg.data_format)}' is not supported (only channels_last)`);
  if (cfg.dtype !== undefined && cfg.dtype !== 'float32' && !isObj(cfg.dtype)) fail(where, `dtype '${String(cfg.dtype)}' is not supported (only float32)`);
  const inputShape = inputShapeOf(cfg) ?? pendingInput;
  const common = { name, ...(inputShape ? { inputShape } : {}) };
  try {
    switch (e.class_name) {
      case 'Conv2D': {
        checkNull(cfg, ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'], where);
        if (cfg.dilation_rate !== undefined && JSON.stringify(pair(cfg.dilation_rate, where, 'dilation_rate')) !== '[1,1]') fail(where, `dilation_rate ${JSON.stringify(cfg.dilation_rate)} is not supported (only 1)`);
        if (cfg.groups !== undefined && cfg.groups !== 1) fail(where, `groups=${String(cfg.groups)} is not supported (only 1)`);
        if (cfg.padding !== 'valid' && cfg.padding !== 'same') fail(where, `padding '${String(cfg.padding)}' is not supported (valid, same)`);
        return [new Conv2D({ ...common, filters: cfg.filters as number, kernelSize: pair(cfg.kernel_size, where, 'kernel_size'),
          strides: pair(cfg.strides ?? 1, where, 'strides'), padding: cfg.padding as 'valid' | 'same', useBias: cfg.use_bias !== false,
          activation: activation(cfg, where), kernelInitializer: initializer(cfg.kernel_initializer), biasInitializer: 'zeros' })];
      }
      case 'Dense':
        checkNull(cfg, ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'], where);
        return [new Dense({ ...common, units: cfg.units as number, useBias: cfg.use_bias !== false, activation: activation(cfg, where), kernelInitializer: initializer(cfg.kernel_initializer), biasInitializer: 'zeros' })];
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        if (cfg.padding !== 'valid' && cfg.padding !== 'same') fail(where, `padding '${String(cfg.padding)}' is not supported (valid, same)`);
        const args = { ...common, poolSize: pair(cfg.pool_size ?? 2, where, 'pool_size'), strides: cfg.strides == null ? undefined : pair(cfg.strides, where, 'strides'), padding: cfg.padding as 'valid' | 'same' };
        return [e.class_name === 'MaxPooling2D' ? new MaxPool2D(args) : new AvgPool2D(args)];
      }
      case 'Flatten':
        return [new Flatten(common)];
      case 'Dropout': {
        checkNull(cfg, ['noise_shape'], where);
        return [new Dropout({ ...common, rate: cfg.rate as number })];
      }
      case 'ReLU':
        checkNull(cfg, ['max_value'], where);
        if ((cfg.negative_slope ?? 0) !== 0 || (cfg.threshold ?? 0) !== 0) fail(where, 'negative_slope and threshold must be 0');
        return [new ReLU(common)];
      case 'Softmax': {
        const axis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis ?? -1;
        if (typeof axis !== 'number') fail(where, `axis ${JSON.stringify(cfg.axis)} is not supported (only the last axis)`);
        return [new Softmax({ ...common, axis: axis as number })];
      }
      case 'Activation': {
        const a = activation(cfg, where);
        return a === 'relu' ? [new ReLU(common)] : a === 'softmax' ? [new Softmax(common)] : [];
      }
      case 'InputLayer':
        return [];
      default:
        return fail(where, `layer class '${e.class_name}' is not supported (supported: InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Dense, Flatten, Activation, ReLU, Softmax, Dropout)`);
    }
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${where}: ${(err as Error).message}`);
  }
}

/** Rebuilds a Sequential from artifacts; throws ModelFormatError (and allocates nothing) if anything is off. */
export function artifactsToModel(art: ModelArtifacts, source = 'model'): Sequential {
  let topo: unknown = art.modelTopology;
  if (isObj(topo) && isObj(topo.model_config)) topo = topo.model_config; // Keras' own model.json wrapper
  if (!isObj(topo)) fail(source, 'modelTopology is missing or not an object');
  const t = topo as Record<string, unknown>;
  if (t.class_name !== 'Sequential') fail(source, `only Sequential models are supported, received class_name '${String(t.class_name)}'`);
  const cfg = t.config;
  const entries = Array.isArray(cfg) ? cfg : isObj(cfg) && Array.isArray(cfg.layers) ? cfg.layers : fail(source, 'config.layers is missing');
  const layers: Layer[] = [];
  let pendingInput: number[] | undefined;
  (entries as unknown[]).forEach((entry, i) => {
    if (isObj(entry) && entry.class_name === 'InputLayer' && isObj(entry.config)) { pendingInput = inputShapeOf(entry.config); return; }
    const made = fromLayerJson(entry, i, layers.length === 0 ? pendingInput : undefined);
    layers.push(...made);
  });
  if (layers.length === 0) fail(source, 'the model has no layers');
  if (!layers[0].declaredInputShape) fail(source, `the first layer '${layers[0].name}' has no batch_input_shape`);
  const name = isObj(cfg) && typeof cfg.name === 'string' ? cfg.name : 'sequential';
  checkWeights(art, layers, source);
  let model: Sequential | undefined;
  try {
    model = new Sequential(layers, { name, seed: 0 });
    model.build();
    for (const l of layers) if (l instanceof Softmax && l.axis !== -1 && l.axis !== l.inputShape.length) fail(`layer '${l.name}' (Softmax)`, `axis ${l.axis} is not supported (only the last axis)`);
    const specs = model.weightSpecs();
    model.setWeights(readWeights(art, specs, source));
    if (isObj(art.userDefinedMetadata)) {
      const { simdcnnOptimizer: _, ...rest } = art.userDefinedMetadata;
      model.metadata = rest;
    }
    if (isObj(art.trainingConfig)) compileFrom(model, art);
    return model;
  } catch (err) {
    model?.dispose();
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${source}: ${(err as Error).message}`);
  }
}

function checkWeights(art: ModelArtifacts, layers: Layer[], source: string): void {
  if (!Array.isArray(art.weightSpecs)) fail(source, 'weightSpecs (weightsManifest[].weights) is missing');
  if (!(art.weightData instanceof ArrayBuffer)) fail(source, 'weight data is missing');
  let bytes = 0;
  for (const s of art.weightSpecs) {
    if (!isObj(s) || typeof s.name !== 'string' || !Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(source, `malformed weight spec ${JSON.stringify(s)}`);
    if (s.dtype !== 'float32') fail(source, `weight '${s.name}' has dtype '${s.dtype}'; only float32 is supported`);
    if (s.quantization) fail(source, `weight '${s.name}' is quantized; quantized weights are not supported`);
    bytes += 4 * s.shape.reduce((a, b) => a * b, 1);
  }
  if (bytes !== art.weightData.byteLength) fail(source, `the weights manifest describes ${bytes} bytes but the weight data holds ${art.weightData.byteLength} (truncated or mismatched weight file)`);
  void layers;
}

/** Weights in our order, matched by 'layer/param' name (Keras may add ':0'), else by position. */
function readWeights(art: ModelArtifacts, ours: { name: string; shape: number[] }[], source: string): Float32Array[] {
  const view = new DataView(art.weightData);
  const offsets: number[] = [];
  let o = 0;
  for (const s of art.weightSpecs) { offsets.push(o); o += 4 * s.shape.reduce((a, b) => a * b, 1); }
  const clean = (n: string) => n.replace(/:0$/, '');
  const byName = new Map(art.weightSpecs.map((s, i) => [clean(s.name), i]));
  if (art.weightSpecs.length !== ours.length) fail(source, `the model has ${ours.length} weights (${ours.map((s) => s.name).join(', ')}), the file ${art.weightSpecs.length}`);
  const allNamed = ours.every((s) => byName.has(s.name));
  return ours.map((s, k) => {
    const i = allNamed ? byName.get(s.name)! : k;
    const spec = art.weightSpecs[i];
    if (JSON.stringify(spec.shape) !== JSON.stringify(s.shape)) fail(source, `weight '${spec.name}' has shape [${spec.shape}] but layer weight '${s.name}' needs [${s.shape}]`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) out[j] = view.getFloat32(offsets[i] + 4 * j, true);
    return out;
  });
}

function compileFrom(model: Sequential, art: ModelArtifacts): void {
  const tc = art.trainingConfig as Record<string, unknown>;
  const loss = tc.loss === 'sparse_categorical_crossentropy' || tc.loss === 'sparseCategoricalCrossentropy' ? 'sparseCategoricalCrossentropy'
    : tc.loss === 'categorical_crossentropy' || tc.loss === 'categoricalCrossentropy' ? 'categoricalCrossentropy' : undefined;
  const oc = isObj(tc.optimizer_config) ? tc.optimizer_config : undefined;
  const cls = String(oc?.class_name ?? '').toLowerCase();
  const c = (isObj(oc?.config) ? oc!.config : {}) as Record<string, number>;
  let opt: Optimizer | undefined;
  if (cls === 'sgd') opt = new SGD({ learningRate: c.learningRate ?? c.learning_rate ?? c.lr, momentum: c.momentum });
  else if (cls === 'adam') opt = new Adam({ learningRate: c.learningRate ?? c.learning_rate ?? c.lr, beta1: c.beta1 ?? c.beta_1, beta2: c.beta2 ?? c.beta_2, epsilon: c.epsilon });
  // A training config we cannot reproduce leaves the model uncompiled (inference still works); compile() to train.
  if (!loss || !opt) return;
  try {
    model.compile({ optimizer: opt, loss });
  } catch (e) {
    if (!(e instanceof SimdcnnError)) throw e;
    return;
  }
  if (art.optimizer) {
    const s = art.optimizer;
    if (s.className !== opt.className) fail('optimizer state', `is for ${s.className} but the training config says ${opt.className}`);
    model.setOptimizerState(s.slots, s.iterations);
  }
}
