// The TensorFlow.js layers format both ways: a Sequential <-> {modelTopology, weightSpecs, weightData}.
// Writing produces the JSON tfjs-layers 4.22 itself writes for a Sequential (Keras class names, snake_case
// configs, batch_input_shape and dtype on the first layer), weights as little-endian float32 in getWeights
// order. Reading takes Sequential topologies from tfjs-layers and Keras 2/3 (bare, or in the converter's
// {model_config, training_config} wrapper). Browser-safe. Anything a file asks for that simdcnn cannot do
// exactly is a ModelFormatError naming the layer and the option: never a silent approximation. A training
// configuration simdcnn cannot reproduce exactly (e.g. RMSProp, Nesterov) leaves the loaded model
// uncompiled: it predicts; compile() it to train.
import { ModelFormatError, SimdcnnError } from '../errors.js';
import type { InitializerName } from '../initializers.js';
import { Dropout, Flatten, ReLU, Softmax } from '../layers/basic.js';
import { Conv2D } from '../layers/conv2d.js';
import { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import { AvgPool2D, MaxPool2D } from '../layers/pool.js';
import { parameterLayout } from '../layout.js';
import { type LossName, Sequential } from '../model.js';
import { Adam, MAX_OPTIMIZER_SLOTS, type Optimizer, SGD } from '../optimizers.js';

/** One entry of weightsManifest[].weights (tfjs's WeightsManifestEntry). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  /** 'optimizer' for optimizer variables TF.js saves with includeOptimizer. */
  group?: string;
  quantization?: unknown;
}

/** simdcnn's optimizer state: restoring it makes training resume bit for bit. */
export interface OptimizerState {
  className: string;
  config: Record<string, number>;
  iterations: number;
  /** One Float32Array per optimizer slot (momentum accumulator; Adam's m and v), in the parameter-block layout. */
  slots: Float32Array[];
}

/** A model in memory in the TF.js layers format (the shape of tfjs's io.ModelArtifacts, plus optimizerState). */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  /** Concatenated weight bytes; on input also a list of buffers or a typed-array view (e.g. a Node Buffer). */
  weightData: ArrayBuffer | ArrayBuffer[] | ArrayBufferView;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  trainingConfig?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
  optimizerState?: OptimizerState;
}

export const VERSION = '0.1.0';

// ---------------------------------------------------------------------------------------------- writing

/** Initialisers as both tfjs-layers and Keras read them (tfjs has no 'LecunUniform', Keras no 'LeCunUniform'). */
function initializerJson(name: unknown): Record<string, unknown> {
  switch (name) {
    case 'zeros': return { class_name: 'Zeros', config: {} };
    case 'ones': return { class_name: 'Ones', config: {} };
    case 'heUniform': return { class_name: 'HeUniform', config: { seed: null } };
    case 'lecunUniform': return { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_in', distribution: 'uniform', seed: null } };
    default: return { class_name: 'GlorotUniform', config: { seed: null } };
  }
}

function layerJson(l: Layer, first: boolean): Record<string, unknown> {
  const c = l.getConfig() as Record<string, unknown>;
  // tfjs-layers writes batch_input_shape and dtype on the first layer only.
  const base: Record<string, unknown> = { name: l.name, trainable: true };
  if (first) Object.assign(base, { batch_input_shape: [null, ...l.inputShape], dtype: 'float32' });
  const weights = { kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null };
  switch (l.className) {
    case 'Conv2D':
      return { class_name: 'Conv2D', config: {
        filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, padding: c.padding, data_format: 'channels_last',
        dilation_rate: [1, 1], activation: c.activation, use_bias: c.useBias, kernel_initializer: initializerJson(c.kernelInitializer),
        bias_initializer: initializerJson(c.biasInitializer), ...weights, ...base } };
    case 'Dense':
      return { class_name: 'Dense', config: {
        units: c.units, activation: c.activation, use_bias: c.useBias, kernel_initializer: initializerJson(c.kernelInitializer),
        bias_initializer: initializerJson(c.biasInitializer), ...weights, ...base } };
    case 'MaxPooling2D':
    case 'AveragePooling2D':
      return { class_name: l.className, config: { pool_size: c.poolSize, padding: c.padding, strides: c.strides, data_format: 'channels_last', ...base } };
    case 'Flatten':
      return { class_name: 'Flatten', config: { ...base } };
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

/** The optimizer as tfjs-layers' trainingConfig.optimizer_config names it (SGD with momentum is tfjs's Momentum). */
function optimizerJson(o: Optimizer): Record<string, unknown> {
  const c = o.getConfig();
  if (o instanceof SGD) {
    return o.momentum > 0
      ? { class_name: 'Momentum', config: { learningRate: c.learningRate, momentum: c.momentum, useNesterov: false } }
      : { class_name: 'SGD', config: { learningRate: c.learningRate } };
  }
  return { class_name: o.className, config: { ...c } };
}

/** The model as TF.js layers-format artifacts (weights copied out of wasm memory). */
export function modelToArtifacts(model: Sequential, opts: { includeOptimizer?: boolean; metadata?: Record<string, unknown> } = {}): ModelArtifacts {
  model.build();
  const specs = model.weightSpecs();
  const weights = model.getWeights();
  const data = new ArrayBuffer(weights.reduce((s, w) => s + w.length, 0) * 4);
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
      optimizer_config: optimizerJson(model.optimizer),
    };
  }
  const meta = { ...model.metadata, ...opts.metadata };
  if (Object.keys(meta).length) art.userDefinedMetadata = meta;
  if (opts.includeOptimizer !== false && model.optimizer) {
    art.optimizerState = { className: model.optimizer.className, config: model.optimizer.getConfig(), iterations: model.optimizer.iterations, slots: model.getOptimizerState() };
  }
  return art;
}

// ---------------------------------------------------------------------------------------------- reading

const fail = (where: string, what: string): never => { throw new ModelFormatError(`${where}: ${what}`); };
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value from a file as messages quote it: 'tanh', [2,2], null. */
const q = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const SUPPORTED = 'InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, Dense, Flatten, Activation, ReLU, Softmax, Dropout';
const WEIGHT_OPTIONS = ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'];

function pair(v: unknown, where: string, key: string): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d > 0)) fail(where, `${key} must be two positive integers, received ${JSON.stringify(v)}`);
  return p as [number, number];
}

function checkNull(cfg: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) if (cfg[k] !== undefined && cfg[k] !== null) fail(where, `option ${k}=${q(cfg[k])} is not supported`);
}

function activation(cfg: Record<string, unknown>, where: string): 'linear' | 'relu' | 'softmax' {
  const a = cfg.activation ?? 'linear';
  if (a !== 'linear' && a !== 'relu' && a !== 'softmax') fail(where, `activation ${q(a)} is not supported (supported: linear, relu, softmax)`);
  return a as 'linear' | 'relu' | 'softmax';
}

/** Keras/tfjs initialiser JSON -> ours. Never run on a loaded model (its weights come from the file); kept so a re-save says the same. */
function initializer(v: unknown, fallback: InitializerName): InitializerName {
  if (!isObj(v)) return fallback;
  const c = isObj(v.config) ? v.config : {};
  switch (v.class_name) {
    case 'Zeros': return 'zeros';
    case 'Ones': return 'ones';
    case 'GlorotUniform': return 'glorotUniform';
    case 'HeUniform': return 'heUniform';
    case 'LecunUniform': case 'LeCunUniform': return 'lecunUniform';
    case 'VarianceScaling':
      if (c.distribution === 'uniform' && (c.mode === 'fan_in' || c.mode === 'fanIn')) return c.scale === 2 ? 'heUniform' : c.scale === 1 ? 'lecunUniform' : fallback;
      return 'glorotUniform';
    default: return fallback;
  }
}

/** The input shape (without the batch axis) a layer config declares, if any; only fixed sizes are accepted. */
function inputShapeOf(cfg: Record<string, unknown>, where: string): number[] | undefined {
  const bc = isObj(cfg.build_config) ? cfg.build_config.input_shape : undefined;
  const s = cfg.batch_input_shape ?? cfg.batch_shape ?? bc;
  if (s === undefined || s === null) return undefined;
  if (!Array.isArray(s) || s.length < 2) return fail(where, `input shape ${q(s)} must be [batch, ...dims]`);
  const dims = s.slice(1);
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) fail(where, `input shape ${q(s)} has unknown or invalid dimensions; simdcnn needs a fixed input size`);
  return dims as number[];
}

/** A dtype as Keras 2 ('float32') or Keras 3 ({class_name: 'DTypePolicy', config: {name: 'float32'}}) writes it. */
function dtypeName(d: unknown): unknown {
  return isObj(d) && isObj(d.config) ? d.config.name : d;
}

/** One Keras layer entry -> simdcnn layers (Activation('linear') becomes none). */
function fromLayerJson(e: { class_name: string; config: Record<string, unknown> }, name: string, inputShape: number[] | undefined): Layer[] {
  const cfg = e.config;
  const where = `layer '${name}' (${e.class_name})`;
  if (cfg.data_format !== undefined && cfg.data_format !== null && cfg.data_format !== 'channels_last') fail(where, `data_format '${String(cfg.data_format)}' is not supported (only channels_last)`);
  const dt = dtypeName(cfg.dtype);
  if (dt !== undefined && dt !== null && dt !== 'float32') fail(where, `dtype ${q(dt)} is not supported (only float32)`);
  const common = { name, ...(inputShape ? { inputShape } : {}) };
  const padding = (): 'valid' | 'same' => (cfg.padding === 'valid' || cfg.padding === 'same' ? cfg.padding : fail(where, `padding ${q(cfg.padding)} is not supported (valid, same)`));
  try {
    switch (e.class_name) {
      case 'Conv2D': {
        checkNull(cfg, WEIGHT_OPTIONS, where);
        if (cfg.dilation_rate !== undefined && JSON.stringify(pair(cfg.dilation_rate, where, 'dilation_rate')) !== '[1,1]') fail(where, `dilation_rate ${q(cfg.dilation_rate)} is not supported (only 1)`);
        if (cfg.groups !== undefined && cfg.groups !== 1) fail(where, `groups=${q(cfg.groups)} is not supported (only 1)`);
        return [new Conv2D({ ...common, filters: cfg.filters as number, kernelSize: pair(cfg.kernel_size, where, 'kernel_size'),
          strides: pair(cfg.strides ?? 1, where, 'strides'), padding: padding(), useBias: cfg.use_bias !== false, activation: activation(cfg, where),
          kernelInitializer: initializer(cfg.kernel_initializer, 'glorotUniform'), biasInitializer: initializer(cfg.bias_initializer, 'zeros') })];
      }
      case 'Dense':
        checkNull(cfg, WEIGHT_OPTIONS, where);
        return [new Dense({ ...common, units: cfg.units as number, useBias: cfg.use_bias !== false, activation: activation(cfg, where),
          kernelInitializer: initializer(cfg.kernel_initializer, 'glorotUniform'), biasInitializer: initializer(cfg.bias_initializer, 'zeros') })];
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const args = { ...common, poolSize: pair(cfg.pool_size ?? 2, where, 'pool_size'), strides: cfg.strides == null ? undefined : pair(cfg.strides, where, 'strides'), padding: padding() };
        return [e.class_name === 'MaxPooling2D' ? new MaxPool2D(args) : new AvgPool2D(args)];
      }
      case 'Flatten':
        return [new Flatten(common)];
      case 'Dropout':
        checkNull(cfg, ['noise_shape'], where);
        if (typeof cfg.rate !== 'number') fail(where, `rate must be a number, received ${q(cfg.rate)}`);
        return [new Dropout({ ...common, rate: cfg.rate as number })];
      case 'ReLU':
        checkNull(cfg, ['max_value'], where);
        if ((cfg.negative_slope ?? 0) !== 0 || (cfg.threshold ?? 0) !== 0) fail(where, `negative_slope=${JSON.stringify(cfg.negative_slope)} and threshold=${JSON.stringify(cfg.threshold)} are not supported (only 0)`);
        return [new ReLU(common)];
      case 'Softmax': {
        const axis = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis ?? -1;
        if (!Number.isInteger(axis)) fail(where, `axis ${q(cfg.axis)} is not supported (only the last axis)`);
        return [new Softmax({ ...common, axis: axis as number })];
      }
      case 'Activation': {
        const a = activation(cfg, where);
        return a === 'relu' ? [new ReLU(common)] : a === 'softmax' ? [new Softmax(common)] : [];
      }
      default:
        return fail(where, `layer class '${e.class_name}' is not supported (supported: ${SUPPORTED})`);
    }
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${where}: ${(err as Error).message}`);
  }
}

/** The layers of a Sequential topology, shapes checked (nothing allocated yet). */
function layersFrom(topo: Record<string, unknown>, source: string): { name: string; layers: Layer[] } {
  if (topo.class_name !== 'Sequential') fail(source, `only Sequential models are supported, received class_name ${q(topo.class_name)}`);
  const cfg = topo.config;
  const entries = Array.isArray(cfg) ? cfg : isObj(cfg) && Array.isArray(cfg.layers) ? cfg.layers : fail(source, 'config.layers is missing');
  const layers: Layer[] = [];
  const names = new Set<string>();
  // The input shape travels to the first real layer: from an InputLayer, a leading Activation('linear'),
  // or Keras 3's Sequential build_input_shape.
  let input = isObj(cfg) && Array.isArray(cfg.build_input_shape) ? inputShapeOf({ batch_shape: cfg.build_input_shape }, source) : undefined;
  (entries as unknown[]).forEach((entry, i) => {
    if (!isObj(entry) || typeof entry.class_name !== 'string' || !isObj(entry.config)) fail(`${source}: layer ${i}`, 'expected {class_name, config}');
    const e = entry as { class_name: string; config: Record<string, unknown> };
    const name = typeof e.config.name === 'string' && e.config.name ? e.config.name : `layer_${i}`;
    const where = `layer '${name}' (${e.class_name})`;
    if (names.has(name)) fail(where, 'the layer name is used twice; weights are matched by layer name');
    names.add(name);
    if (layers.length === 0) input = inputShapeOf(e.config, where) ?? input;
    if (e.class_name === 'InputLayer') {
      if (layers.length) fail(where, 'an InputLayer must come first');
      const dt = dtypeName(e.config.dtype);
      if (dt !== undefined && dt !== null && dt !== 'float32') fail(where, `dtype ${q(dt)} is not supported (only float32)`);
      if (e.config.sparse === true || e.config.ragged === true) fail(where, 'sparse or ragged inputs are not supported');
      return;
    }
    layers.push(...fromLayerJson(e, name, layers.length === 0 ? input : undefined));
  });
  if (layers.length === 0) fail(source, 'the model has no layers');
  if (!layers[0].declaredInputShape) fail(source, `the first layer '${layers[0].name}' has no batch_input_shape (or InputLayer); simdcnn needs the input size`);
  let shape = layers[0].declaredInputShape!;
  for (const l of layers) {
    try {
      l.build(shape);
    } catch (err) {
      throw err instanceof ModelFormatError ? err : new ModelFormatError(`${source}: layer '${l.name}' (${l.className}): ${(err as Error).message}`);
    }
    if (l instanceof Softmax && l.axis !== -1 && l.axis !== l.inputShape.length) fail(`layer '${l.name}' (Softmax)`, `axis ${l.axis} is not supported (only the last axis, -1 or ${l.inputShape.length} here)`);
    shape = l.outputShape;
  }
  return { name: isObj(cfg) && typeof cfg.name === 'string' ? cfg.name : 'sequential', layers };
}

/** Checks weight specs (a manifest's weights); returns each one's byte offset in the data and the total. */
function specOffsets(specs: unknown, source: string): { offsets: number[]; bytes: number } {
  if (!Array.isArray(specs)) fail(source, 'weightSpecs (weightsManifest[].weights) is missing');
  const offsets: number[] = [];
  let bytes = 0;
  for (const s of specs as unknown[]) {
    if (!isObj(s) || typeof s.name !== 'string' || !Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(source, `malformed weight spec ${JSON.stringify(s)}`);
    const spec = s as unknown as WeightSpec;
    if (spec.quantization !== undefined && spec.quantization !== null) fail(source, `weight '${spec.name}' is quantized; quantized weights are not supported`);
    const isOpt = spec.group === 'optimizer';
    if (!isOpt && spec.dtype !== 'float32') fail(source, `weight '${spec.name}' has dtype ${q(spec.dtype)}; only float32 is supported`);
    if (isOpt && spec.dtype !== 'float32' && spec.dtype !== 'int32') fail(source, `optimizer weight '${spec.name}' has dtype ${q(spec.dtype)}; only float32 and int32 are supported`);
    offsets.push(bytes);
    bytes += 4 * size(spec.shape); // float32 or int32
  }
  return { offsets, bytes };
}

/** Byte length, checked specs and the single buffer of the weights. */
function weightBuffer(art: ModelArtifacts, source: string): { data: ArrayBuffer; offsets: number[] } {
  const { offsets, bytes } = specOffsets(art.weightSpecs, source);
  const data = toArrayBuffer(art.weightData, source);
  if (bytes !== data.byteLength) fail(source, `the weights manifest describes ${bytes} bytes but the weight data holds ${data.byteLength} (truncated or mismatched weight file)`);
  return { data, offsets };
}

/** ArrayBuffer, list of ArrayBuffers (tfjs 4's WeightData) or a view such as a Node Buffer -> one ArrayBuffer. */
export function toArrayBuffer(d: unknown, source: string): ArrayBuffer {
  if (d instanceof ArrayBuffer) return d;
  if (ArrayBuffer.isView(d)) return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
  if (Array.isArray(d) && d.every((p) => p instanceof ArrayBuffer || ArrayBuffer.isView(p))) {
    const parts = d.map((p) => new Uint8Array(toArrayBuffer(p, source)));
    const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.byteLength; }
    return out.buffer;
  }
  return fail(source, `weight data must be an ArrayBuffer (or a list of them, or a typed array), received ${d === null ? 'null' : typeof d}`);
}

const clean = (n: string) => n.replace(/:0$/, '');

/**
 * For each of our weights (getWeights order), the index of its spec in the file: by 'layer/param' name
 * when every name is found (Keras may add ':0'), else by position. Shapes must match exactly.
 */
function matchWeights(specs: WeightSpec[], ours: { name: string; shape: number[] }[], source: string): number[] {
  const model = specs.map((s, i) => [s, i] as const).filter(([s]) => s.group !== 'optimizer');
  if (model.length !== ours.length) fail(source, `the model has ${ours.length} weights (${ours.map((s) => s.name).join(', ') || 'none'}), the file ${model.length} (${model.map(([s]) => s.name).join(', ') || 'none'})`);
  const byName = new Map(model.map(([s, i]) => [clean(s.name), i]));
  const named = ours.map((s) => byName.get(s.name));
  const useNames = named.every((i) => i !== undefined) && new Set(named).size === named.length;
  return ours.map((s, k) => {
    const i = useNames ? named[k]! : model[k][1];
    if (JSON.stringify(specs[i].shape) !== JSON.stringify(s.shape)) fail(source, `weight '${specs[i].name}' has shape [${specs[i].shape}] but layer weight '${s.name}' needs [${s.shape}]`);
    return i;
  });
}

function readF32(data: ArrayBuffer, offset: number, n: number): Float32Array {
  const view = new DataView(data, offset, n * 4);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = view.getFloat32(4 * j, true);
  return out;
}

/** The Sequential topology and training config, out of the converter's {model_config, training_config} wrapper if there is one. */
function unwrap(topology: unknown, trainingConfig: unknown, source: string): { topo: Record<string, unknown>; trainingConfig: unknown } {
  let topo = topology;
  if (isObj(topo) && isObj(topo.model_config)) { // the converter's wrapper around a Keras model
    trainingConfig ??= topo.training_config;
    topo = topo.model_config;
  }
  if (!isObj(topo)) fail(source, 'modelTopology is missing or not an object');
  return { topo: topo as Record<string, unknown>, trainingConfig };
}

/** Rebuilds a Sequential from artifacts; throws ModelFormatError (and keeps nothing allocated) if anything is off. */
export function artifactsToModel(art: ModelArtifacts, source = 'model'): Sequential {
  if (!isObj(art)) fail(source, 'expected model artifacts {modelTopology, weightSpecs, weightData}');
  checkJsonTree([art.modelTopology, art.weightSpecs, art.trainingConfig, art.userDefinedMetadata], source);
  if (art.format !== undefined && art.format !== null && art.format !== 'layers-model') fail(source, `format '${String(art.format)}' is not a layers model (graph models are not supported)`);
  const { topo, trainingConfig } = unwrap(art.modelTopology, art.trainingConfig, source);
  const { name, layers } = layersFrom(topo, source);
  const { data, offsets } = weightBuffer(art, source);
  const specs = art.weightSpecs;
  const ours = layers.flatMap((l) => l.params.map((p) => ({ name: `${l.name}/${p.name}`, shape: p.shape })));
  const index = matchWeights(specs, ours, source);
  const weights = index.map((i, k) => readF32(data, offsets[i], size(ours[k].shape)));
  let model: Sequential | undefined;
  try {
    model = new Sequential(layers, { name, seed: 0 });
    model.build();
    model.setWeights(weights);
    if (isObj(art.userDefinedMetadata)) {
      const { simdcnnOptimizer: _, ...rest } = art.userDefinedMetadata;
      model.metadata = rest;
    }
    if (isObj(trainingConfig)) compileFrom(model, trainingConfig, art, { data, offsets, index }, source);
    return model;
  } catch (err) {
    model?.dispose();
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${source}: ${(err as Error).message}`);
  }
}

function lossFrom(l: unknown): LossName | undefined {
  let name = l;
  if (isObj(l)) { // Keras 3: {class_name: 'SparseCategoricalCrossentropy', config: {from_logits, ...}}
    const c = isObj(l.config) ? l.config : {};
    if (c.from_logits === true || (c.label_smoothing ?? 0) !== 0) return undefined;
    name = l.class_name;
  }
  if (typeof name !== 'string') return undefined;
  const k = name.replace(/_/g, '').toLowerCase();
  return k === 'sparsecategoricalcrossentropy' ? 'sparseCategoricalCrossentropy' : k === 'categoricalcrossentropy' ? 'categoricalCrossentropy' : undefined;
}

/** The optimizer a training config describes, or undefined if simdcnn cannot run exactly that one. */
function optimizerFrom(oc: unknown): Optimizer | undefined {
  if (!isObj(oc) || typeof oc.class_name !== 'string') return undefined;
  const c = isObj(oc.config) ? oc.config : {};
  // Keras options that change the update; absent, null, 0 or false is fine.
  for (const k of ['decay', 'weight_decay', 'clipnorm', 'clipvalue', 'global_clipnorm', 'use_ema', 'amsgrad', 'nesterov', 'useNesterov', 'loss_scale_factor']) {
    if (c[k] !== undefined && c[k] !== null && c[k] !== 0 && c[k] !== false) return undefined;
  }
  if ((c.gradient_accumulation_steps ?? 1) !== 1 && c.gradient_accumulation_steps !== null) return undefined;
  const num = (...keys: string[]) => { for (const k of keys) if (c[k] !== undefined) return c[k] as number; return undefined; };
  const lr = num('learningRate', 'learning_rate', 'lr');
  try {
    switch (oc.class_name.toLowerCase()) {
      case 'sgd':
      case 'momentum':
        return new SGD({ learningRate: lr, momentum: num('momentum') });
      case 'adam':
        return new Adam({ learningRate: lr, beta1: num('beta1', 'beta_1'), beta2: num('beta2', 'beta_2'), epsilon: num('epsilon') });
      default:
        return undefined;
    }
  } catch (e) {
    if (e instanceof SimdcnnError) return undefined; // e.g. a learning-rate schedule object
    throw e;
  }
}

/**
 * Compiles the loaded model as its training config says and restores the optimizer state: simdcnn's own
 * (optimizerState) or the optimizer weights TF.js saves with includeOptimizer. A config simdcnn cannot
 * reproduce leaves the model uncompiled; state that does not fit the model is a ModelFormatError.
 */
function compileFrom(model: Sequential, tc: Record<string, unknown>, art: ModelArtifacts, w: { data: ArrayBuffer; offsets: number[]; index: number[] }, source: string): void {
  const loss = lossFrom(tc.loss);
  const opt = optimizerFrom(tc.optimizer_config);
  if (!loss || !opt) return;
  try {
    model.compile({ optimizer: opt, loss });
  } catch (e) {
    if (e instanceof SimdcnnError) return; // e.g. the model does not end in softmax
    throw e;
  }
  const s = art.optimizerState;
  if (s) {
    if (!isObj(s) || s.className !== opt.className || !Array.isArray(s.slots)) fail(`${source}: optimizer state`, `is for ${String(s?.className)} but the training config says ${opt.className}`);
    model.setOptimizerState(s.slots, s.iterations);
    return;
  }
  const tfState = art.weightSpecs.map((spec, i) => [spec, i] as const).filter(([spec]) => spec.group === 'optimizer');
  if (tfState.length) model.setOptimizerState(...tfjsOptimizerState(model, opt, art.weightSpecs, tfState, w, source));
}

/**
 * TF.js optimizer weights ('iter' int32; per variable '<weight>/momentum' or '<weight>/m' and '/v') in
 * simdcnn's layout: each state block mirrors the parameter block (parameterLayout).
 */
function tfjsOptimizerState(model: Sequential, opt: Optimizer, specs: WeightSpec[], state: (readonly [WeightSpec, number])[], w: { data: ArrayBuffer; offsets: number[]; index: number[] }, source: string): [Float32Array[], number] {
  const where = `${source}: optimizer weights`;
  const ours = model.weightSpecs();
  const { offsets: starts, floats: total } = parameterLayout(ours.map((s) => s.shape));
  const suffixes = opt.slots === 0 ? [] : opt instanceof Adam ? ['m', 'v'] : ['momentum'];
  const byName = new Map(state.map(([s, i]) => [clean(s.name), i]));
  const used = new Set<number>();
  let iterations = 0;
  const iter = byName.get('iter');
  if (iter !== undefined) {
    if (specs[iter].dtype !== 'int32' || specs[iter].shape.length !== 0) fail(where, `'iter' must be an int32 scalar, received ${specs[iter].dtype} [${specs[iter].shape}]`);
    iterations = new DataView(w.data).getInt32(w.offsets[iter], true);
    used.add(iter);
  }
  const slots = suffixes.map((suffix) => {
    const block = new Float32Array(total);
    ours.forEach((s, k) => {
      const name = `${clean(specs[w.index[k]].name)}/${suffix}`;
      const i = byName.get(name);
      if (i === undefined) fail(where, `'${name}' is missing (${opt.className} keeps '${suffix}' for every weight)`);
      if (specs[i!].dtype !== 'float32' || JSON.stringify(specs[i!].shape) !== JSON.stringify(s.shape)) fail(where, `'${name}' must be float32 [${s.shape}], received ${specs[i!].dtype} [${specs[i!].shape}]`);
      block.set(readF32(w.data, w.offsets[i!], size(s.shape)), starts[k]);
      used.add(i!);
    });
    return block;
  });
  const extra = state.filter(([, i]) => !used.has(i)).map(([s]) => s.name);
  if (extra.length) fail(where, `${extra.join(', ')} ${extra.length > 1 ? 'do' : 'does'} not belong to ${opt.className}`);
  return [slots, iterations];
}

// ---------------------------------------------------------------------------------------------- limits

/** Deepest nesting a model file may have; TF.js and Keras topologies stay far below it. */
const MAX_DEPTH = 64;
/** Objects and arrays a model file may hold in all. */
const MAX_NODES = 5_000_000;

/**
 * Refuses JSON nested deeper than MAX_DEPTH (or circular, in objects handed over in memory) before any
 * code recurses over it: JSON.parse takes any depth, JSON.stringify and structuredClone overflow the stack.
 */
export function checkJsonTree(v: unknown, source: string): void {
  const stack: [unknown, number][] = [[v, 0]];
  let nodes = 0;
  while (stack.length) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || x instanceof ArrayBuffer) continue;
    if (depth > MAX_DEPTH) fail(source, `the JSON is nested more than ${MAX_DEPTH} levels deep (or refers to itself)`);
    if (++nodes > MAX_NODES) fail(source, `the JSON holds more than ${MAX_NODES} objects and arrays`);
    const children = Array.isArray(x) ? x : Object.values(x as object);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
}

/** Key of simdcnn's optimizer entry in userDefinedMetadata. */
export const OPT_KEY = 'simdcnnOptimizer';

/** simdcnn's optimizer entry: the optimizer, its step count and the layout of its state file. */
export interface OptimizerMeta {
  className: string;
  config: Record<string, number>;
  iterations: number;
  path: string | null;
  slots: number;
  floatsPerSlot: number;
}

/** The optimizer entry of a model.json's userDefinedMetadata with every field checked; undefined when absent. */
export function optimizerMeta(meta: unknown, source: string): OptimizerMeta | undefined {
  if (!isObj(meta) || meta[OPT_KEY] === undefined) return undefined;
  const o = meta[OPT_KEY];
  const where = `${source}: userDefinedMetadata.${OPT_KEY}`;
  if (!isObj(o)) return fail(where, `expected an object, received ${q(o)}`);
  if (typeof o.className !== 'string') fail(where, `className must be a string, received ${q(o.className)}`);
  if (!isObj(o.config) || !Object.values(o.config).every((v) => typeof v === 'number' && Number.isFinite(v))) fail(where, `config must map names to finite numbers, received ${q(o.config)}`);
  const int = (k: string, max: number): number => {
    const v = o[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) fail(where, `${k} must be an integer in [0, ${max}], received ${q(v)}`);
    return v as number;
  };
  const slots = int('slots', MAX_OPTIMIZER_SLOTS);
  const floatsPerSlot = int('floatsPerSlot', 2 ** 30);
  const iterations = int('iterations', Number.MAX_SAFE_INTEGER);
  const path = o.path ?? null;
  if (path !== null && typeof path !== 'string') fail(where, `path must be a file name or null, received ${q(path)}`);
  if ((slots > 0) !== (floatsPerSlot > 0) || (slots > 0 && path === null)) fail(where, `slots ${slots}, floatsPerSlot ${floatsPerSlot} and path ${q(path)} do not describe one state file`);
  return { className: o.className as string, config: o.config as Record<string, number>, iterations, path: path as string | null, slots, floatsPerSlot };
}

/** Bytes a model.json's files must hold: per weightsManifest group, and simdcnn's optimizer file. */
export interface DeclaredSizes {
  groups: number[];
  optimizerBytes: number;
}

/**
 * What the files of a model.json must hold, decided from its topology before any file is read: the
 * model's weights exactly as its layers declare them, TF.js optimizer weights at most two per weight
 * (plus a few scalars), simdcnn's optimizer state exactly its slots in the parameter layout.
 */
export function declaredSizes(json: { modelTopology?: unknown; trainingConfig?: unknown; weightsManifest?: unknown; userDefinedMetadata?: unknown }, source: string): DeclaredSizes {
  checkJsonTree(json, source);
  const { topo } = unwrap(json.modelTopology, json.trainingConfig, source);
  const { layers } = layersFrom(topo, source);
  const ours = layers.flatMap((l) => l.params.map((p) => ({ name: `${l.name}/${p.name}`, shape: p.shape })));
  const params = ours.reduce((s, p) => s + size(p.shape), 0);
  if (!Array.isArray(json.weightsManifest)) fail(source, 'weightsManifest is missing');
  const manifest = json.weightsManifest as unknown[];
  const groups = manifest.map((g, i) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) return fail(source, `weightsManifest[${i}] must be {paths, weights}`);
    return specOffsets(g.weights, source).bytes;
  });
  const specs = manifest.flatMap((g) => (g as { weights: WeightSpec[] }).weights);
  matchWeights(specs, ours, source);
  const optBytes = specs.filter((s) => s.group === 'optimizer').reduce((b, s) => b + 4 * size(s.shape), 0);
  const optLimit = 4 * (2 * params + 16);
  if (optBytes > optLimit) fail(source, `the manifest lists ${optBytes} bytes of optimizer weights; a model with ${params} parameters has at most ${optLimit}`);
  const meta = optimizerMeta(json.userDefinedMetadata, source);
  const layout = parameterLayout(ours.map((p) => p.shape)).floats;
  if (meta && meta.slots > 0 && meta.floatsPerSlot !== layout) fail(`${source}: userDefinedMetadata.${OPT_KEY}`, `floatsPerSlot ${meta.floatsPerSlot} does not match the model's parameter layout (${layout} floats)`);
  return { groups, optimizerBytes: meta ? meta.slots * meta.floatsPerSlot * 4 : 0 };
}
