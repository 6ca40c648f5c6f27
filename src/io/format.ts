// The TensorFlow.js layers format both ways: a model <-> {modelTopology, weightSpecs, weightData}. Writing
// gives what tfjs-layers 4.22 writes (topology.ts), weights as little-endian float32 in getWeights order.
// Reading takes files from tfjs-layers and Keras 2/3 (bare, or in the converter's {model_config,
// training_config} wrapper), matches weights by name, and compiles the model as the training config says
// with the optimizer state restored. A training configuration simdcnn cannot reproduce exactly (RMSProp,
// Nesterov, ...) leaves the loaded model uncompiled: it predicts; compile() it to train. Browser-safe.
import { ModelFormatError, SimdcnnError } from '../errors.js';
import { type Loss, lossFromConfig } from '../engine/losses.js';
import { MAX_OPTIMIZER_SLOTS, type Optimizer, optimizerConfig, optimizerFromConfig, slotNames } from '../optimizers.js';
import { quote } from '../layers/layer.js';
import { modelFromTopology, toPythonic } from './topology.js';

/** One entry of weightsManifest[].weights (tfjs's WeightsManifestEntry). */
export interface WeightsManifestEntry {
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
  config: Record<string, number | boolean>;
  iterations: number;
  /** One Float32Array per optimizer slot (momentum accumulator; Adam's m and v), in the gradient-block layout. */
  slots: Float32Array[];
}

/** A model in memory in the TF.js layers format (the shape of tfjs's io.ModelArtifacts, plus optimizerState). */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightsManifestEntry[];
  /** Concatenated weight bytes; on input also a list of buffers or a typed-array view (e.g. a Node Buffer). */
  weightData: ArrayBuffer | ArrayBuffer[] | ArrayBufferView;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  trainingConfig?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
  optimizerState?: OptimizerState;
}

/** Where each weight's optimizer state sits in the state blocks (the model's gradient layout). */
export interface StateLayout {
  floats: number;
  entries: { name: string; shape: number[]; offset: number; trainable: boolean }[];
}

/** What saving reads from a model. */
export interface SavableModel {
  readonly name: string;
  metadata: Record<string, unknown>;
  readonly optimizer?: Optimizer;
  readonly lossFunction?: Loss;
  build(): void;
  toJSON(unused: null, returnString: false): string | Record<string, unknown>;
  /** Names and shapes in getWeights order; needs no memory. */
  weightSpecs(): { name: string; shape: number[] }[];
  getWeights(): Float32Array[];
  getOptimizerState(): Float32Array[];
  /** The optimizer state layout; needs no memory. */
  stateLayout(): StateLayout;
}

/** What loading does to the model it makes. */
interface LoadedModel extends SavableModel {
  compile(args: { optimizer: Optimizer; loss: Loss }): void;
  setWeights(w: Float32Array[]): void;
  setOptimizerState(slots: Float32Array[], iterations: number): void;
  dispose(): void;
}

export const VERSION = '0.1.0';
/** userDefinedMetadata key of simdcnn's optimizer state file. */
export const OPT_KEY = 'simdcnnOptimizer';

// ---------------------------------------------------------------------------------------------- writing

/** The model as TF.js layers-format artifacts (weights copied out of wasm memory). */
export function modelToArtifacts(
  model: SavableModel,
  opts: { includeOptimizer?: boolean; metadata?: Record<string, unknown> } = {},
): ModelArtifacts {
  model.build();
  const specs = model.weightSpecs();
  const weights = model.getWeights();
  const data = new ArrayBuffer(weights.reduce((s, w) => s + w.length, 0) * 4);
  const view = new DataView(data);
  let o = 0;
  for (const w of weights) for (let i = 0; i < w.length; i++, o += 4) view.setFloat32(o, w[i], true);
  const art: ModelArtifacts = {
    modelTopology: model.toJSON(null, false) as Record<string, unknown>,
    format: 'layers-model',
    generatedBy: `simdcnn ${VERSION}`,
    convertedBy: null,
    weightSpecs: specs.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })),
    weightData: data,
  };
  const loss = model.lossFunction;
  if (model.optimizer && loss) {
    // TF.js reads the loss by its snake_case name only (its compile has no loss options); the options travel
    // beside it in Keras 3's form, which simdcnn reads back and TF.js ignores.
    art.trainingConfig = {
      loss: loss.configName,
      metrics: loss.hasAccuracy ? ['accuracy'] : [],
      optimizer_config: toPythonic(optimizerConfig(model.optimizer)),
    };
    const full = loss.kerasConfig();
    if (full) art.trainingConfig.loss_config = full;
  }
  const meta = { ...model.metadata, ...opts.metadata };
  if (Object.keys(meta).length) art.userDefinedMetadata = meta;
  if (opts.includeOptimizer !== false && model.optimizer) {
    const o = model.optimizer;
    art.optimizerState = { className: o.className, config: o.getConfig(), iterations: o.iterations, slots: model.getOptimizerState() };
  }
  return art;
}

// ---------------------------------------------------------------------------------------------- reading

const fail = (where: string, what: string): never => {
  throw new ModelFormatError(`${where}: ${what}`);
};
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface WeightData {
  data: ArrayBuffer;
  offsets: number[];
  index: number[];
}

/** Checks weight specs (a manifest's weights); returns each one's byte offset in the data and the total. */
function specOffsets(specs: unknown, source: string): { offsets: number[]; bytes: number } {
  if (!Array.isArray(specs)) fail(source, 'weightSpecs (weightsManifest[].weights) is missing');
  const offsets: number[] = [];
  let bytes = 0;
  for (const s of specs as unknown[]) {
    if (!isObj(s) || typeof s.name !== 'string' || !Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(source, `malformed weight spec ${JSON.stringify(s)}`);
    const spec = s as unknown as WeightsManifestEntry;
    if (spec.quantization !== undefined && spec.quantization !== null)
      fail(source, `weight '${spec.name}' is quantized; quantized weights are not supported`);
    const isOpt = spec.group === 'optimizer';
    if (!isOpt && spec.dtype !== 'float32') fail(source, `weight '${spec.name}' has dtype ${quote(spec.dtype)}; only float32 is supported`);
    if (isOpt && spec.dtype !== 'float32' && spec.dtype !== 'int32')
      fail(source, `optimizer weight '${spec.name}' has dtype ${quote(spec.dtype)}; only float32 and int32 are supported`);
    offsets.push(bytes);
    bytes += 4 * size(spec.shape); // float32 or int32
  }
  return { offsets, bytes };
}

/** Byte offsets of the checked specs in the single weight buffer. */
function weightBuffer(art: ModelArtifacts, source: string): { data: ArrayBuffer; offsets: number[] } {
  const { offsets, bytes } = specOffsets(art.weightSpecs, source);
  const data = toArrayBuffer(art.weightData, source);
  if (bytes !== data.byteLength)
    fail(
      source,
      `the weights manifest describes ${bytes} bytes but the weight data holds ${data.byteLength} (truncated or mismatched weight file)`,
    );
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
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out.buffer;
  }
  return fail(
    source,
    `weight data must be an ArrayBuffer (or a list of them, or a typed array), received ${d === null ? 'null' : typeof d}`,
  );
}

const clean = (n: string) => n.replace(/:0$/, '');

/**
 * For each of our weights (getWeights order), the index of its spec in the file: by 'layer/weight' name
 * when every name is found (Keras may add ':0'), else by position. Shapes must match exactly.
 */
function matchWeights(specs: WeightsManifestEntry[], ours: { name: string; shape: number[] }[], source: string): number[] {
  const model = specs.map((s, i) => [s, i] as const).filter(([s]) => s.group !== 'optimizer');
  if (model.length !== ours.length)
    fail(
      source,
      `the model has ${ours.length} weights (${ours.map((s) => s.name).join(', ') || 'none'}), the file ${model.length} (${model.map(([s]) => s.name).join(', ') || 'none'})`,
    );
  const byName = new Map(model.map(([s, i]) => [clean(s.name), i]));
  const named = ours.map((s) => byName.get(s.name));
  const useNames = named.every((i) => i !== undefined) && new Set(named).size === named.length;
  return ours.map((s, k) => {
    const i = useNames ? named[k]! : model[k][1];
    if (JSON.stringify(specs[i].shape) !== JSON.stringify(s.shape))
      fail(source, `weight '${specs[i].name}' has shape [${specs[i].shape}] but layer weight '${s.name}' needs [${s.shape}]`);
    return i;
  });
}

function readF32(data: ArrayBuffer, offset: number, n: number): Float32Array {
  const view = new DataView(data, offset, n * 4);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = view.getFloat32(4 * j, true);
  return out;
}

/** The topology and training config, out of the converter's {model_config, training_config} wrapper if there is one. */
function unwrap(topology: unknown, trainingConfig: unknown, source: string): { topo: Record<string, unknown>; trainingConfig: unknown } {
  let topo = topology;
  if (isObj(topo) && isObj(topo.model_config)) {
    // the converter's wrapper around a Keras model
    trainingConfig ??= topo.training_config;
    topo = topo.model_config;
  }
  if (!isObj(topo)) fail(source, 'modelTopology is missing or not an object');
  return { topo: topo as Record<string, unknown>, trainingConfig };
}

/** Rebuilds a model from artifacts; throws ModelFormatError (and keeps nothing allocated) if anything is off. */
export function artifactsToModel(art: ModelArtifacts, source = 'model'): unknown {
  if (!isObj(art)) fail(source, 'expected model artifacts {modelTopology, weightSpecs, weightData}');
  checkJsonTree([art.modelTopology, art.weightSpecs, art.trainingConfig, art.userDefinedMetadata], source);
  if (art.format !== undefined && art.format !== null && art.format !== 'layers-model')
    fail(source, `format '${String(art.format)}' is not a layers model (graph models are not supported)`);
  const { topo, trainingConfig } = unwrap(art.modelTopology, art.trainingConfig, source);
  const model = modelFromTopology(topo, source) as LoadedModel;
  try {
    const { data, offsets } = weightBuffer(art, source);
    model.build();
    const ours = model.weightSpecs();
    const index = matchWeights(art.weightSpecs, ours, source);
    model.setWeights(index.map((i, k) => readF32(data, offsets[i], size(ours[k].shape))));
    if (isObj(art.userDefinedMetadata)) {
      const { [OPT_KEY]: _, ...rest } = art.userDefinedMetadata;
      model.metadata = rest;
    }
    if (isObj(trainingConfig)) compileFrom(model, trainingConfig, art, { data, offsets, index }, source);
    return model;
  } catch (err) {
    model.dispose();
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${source}: ${(err as Error).message}`);
  }
}

/**
 * Compiles the loaded model as its training config says and restores the optimizer state: simdcnn's own
 * (optimizerState) or the optimizer weights TF.js saves with includeOptimizer. A config simdcnn cannot
 * reproduce leaves the model uncompiled; state that does not fit the model is a ModelFormatError.
 */
function compileFrom(model: LoadedModel, tc: Record<string, unknown>, art: ModelArtifacts, w: WeightData, source: string): void {
  const loss: Loss | undefined = lossFromConfig(tc.loss, tc.loss_config);
  const opt = optimizerFromConfig(tc.optimizer_config);
  if (!loss || !opt) return;
  try {
    model.compile({ optimizer: opt, loss });
  } catch (e) {
    if (e instanceof SimdcnnError) return; // e.g. the model does not end in softmax
    throw e;
  }
  const s = art.optimizerState;
  if (s) {
    if (!isObj(s) || s.className !== opt.className || !Array.isArray(s.slots))
      fail(`${source}: optimizer state`, `is for ${String(s?.className)} but the training config says ${opt.className}`);
    model.setOptimizerState(s.slots, s.iterations);
    return;
  }
  const tfState = art.weightSpecs.map((spec, i) => [spec, i] as const).filter(([spec]) => spec.group === 'optimizer');
  if (tfState.length) model.setOptimizerState(...tfjsOptimizerState(model, opt, art.weightSpecs, tfState, w, source));
}

/**
 * TF.js optimizer weights ('iter' int32; per trainable variable '<weight>/momentum' or '<weight>/m' and
 * '/v') in simdcnn's layout, the model's state layout. Frozen weights have none in TF.js either.
 */
function tfjsOptimizerState(
  model: LoadedModel,
  opt: Optimizer,
  specs: WeightsManifestEntry[],
  state: (readonly [WeightsManifestEntry, number])[],
  w: WeightData,
  source: string,
): [Float32Array[], number] {
  const where = `${source}: optimizer weights`;
  const layout = model.stateLayout();
  const fileName = new Map(model.weightSpecs().map((s, k) => [s.name, clean(specs[w.index[k]].name)]));
  const byName = new Map(state.map(([s, i]) => [clean(s.name), i]));
  const used = new Set<number>();
  let iterations = 0;
  const iter = byName.get('iter');
  if (iter !== undefined) {
    if (specs[iter].dtype !== 'int32' || specs[iter].shape.length !== 0)
      fail(where, `'iter' must be an int32 scalar, received ${specs[iter].dtype} [${specs[iter].shape}]`);
    iterations = new DataView(w.data).getInt32(w.offsets[iter], true);
    used.add(iter);
  }
  const slots = slotNames(opt).map((suffix) => {
    const block = new Float32Array(layout.floats);
    for (const e of layout.entries) {
      const name = `${fileName.get(e.name)}/${suffix}`;
      const i = byName.get(name);
      if (i === undefined) {
        if (e.trainable) fail(where, `'${name}' is missing (${opt.className} keeps '${suffix}' for every trainable weight)`);
        continue;
      }
      if (specs[i].dtype !== 'float32' || JSON.stringify(specs[i].shape) !== JSON.stringify(e.shape))
        fail(where, `'${name}' must be float32 [${e.shape}], received ${specs[i].dtype} [${specs[i].shape}]`);
      block.set(readF32(w.data, w.offsets[i], size(e.shape)), e.offset);
      used.add(i);
    }
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

/** simdcnn's optimizer entry: the optimizer, its step count and the layout of its state file. */
export interface OptimizerMeta {
  className: string;
  config: Record<string, number | boolean>;
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
  if (!isObj(o)) return fail(where, `expected an object, received ${quote(o)}`);
  if (typeof o.className !== 'string') fail(where, `className must be a string, received ${quote(o.className)}`);
  if (!isObj(o.config) || !Object.values(o.config).every((v) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean'))
    fail(where, `config must map names to finite numbers or booleans, received ${quote(o.config)}`);
  const int = (k: string, max: number): number => {
    const v = o[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max)
      fail(where, `${k} must be an integer in [0, ${max}], received ${quote(v)}`);
    return v as number;
  };
  const slots = int('slots', MAX_OPTIMIZER_SLOTS);
  const floatsPerSlot = int('floatsPerSlot', 2 ** 30);
  const iterations = int('iterations', Number.MAX_SAFE_INTEGER);
  const path = o.path ?? null;
  if (path !== null && typeof path !== 'string') fail(where, `path must be a file name or null, received ${quote(path)}`);
  if (slots > 0 !== floatsPerSlot > 0 || (slots > 0 && path === null))
    fail(where, `slots ${slots}, floatsPerSlot ${floatsPerSlot} and path ${quote(path)} do not describe one state file`);
  return {
    className: o.className as string,
    config: o.config as Record<string, number | boolean>,
    iterations,
    path: path as string | null,
    slots,
    floatsPerSlot,
  };
}

/** Bytes a model.json's files must hold: per weightsManifest group, and simdcnn's optimizer file. */
export interface DeclaredSizes {
  groups: number[];
  optimizerBytes: number;
}

/**
 * What the files of a model.json must hold, decided from its topology before any file is read (the model is
 * described, nothing is allocated): the model's weights exactly as its layers declare them, TF.js optimizer
 * weights at most two per weight (plus a few scalars), simdcnn's optimizer state exactly its slots in the
 * model's state layout.
 */
export function declaredSizes(
  json: { modelTopology?: unknown; trainingConfig?: unknown; weightsManifest?: unknown; userDefinedMetadata?: unknown },
  source: string,
): DeclaredSizes {
  checkJsonTree(json, source);
  const { topo } = unwrap(json.modelTopology, json.trainingConfig, source);
  const model = modelFromTopology(topo, source) as SavableModel;
  const ours = model.weightSpecs();
  const params = ours.reduce((s, p) => s + size(p.shape), 0);
  if (!Array.isArray(json.weightsManifest)) fail(source, 'weightsManifest is missing');
  const manifest = json.weightsManifest as unknown[];
  const groups = manifest.map((g, i) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights))
      return fail(source, `weightsManifest[${i}] must be {paths, weights}`);
    return specOffsets(g.weights, source).bytes;
  });
  const specs = manifest.flatMap((g) => (g as { weights: WeightsManifestEntry[] }).weights);
  matchWeights(specs, ours, source);
  const optBytes = specs.filter((s) => s.group === 'optimizer').reduce((b, s) => b + 4 * size(s.shape), 0);
  const optLimit = 4 * (2 * params + 16);
  if (optBytes > optLimit)
    fail(source, `the manifest lists ${optBytes} bytes of optimizer weights; a model with ${params} parameters has at most ${optLimit}`);
  const meta = optimizerMeta(json.userDefinedMetadata, source);
  const layout = model.stateLayout().floats;
  if (meta && meta.slots > 0 && meta.floatsPerSlot !== layout)
    fail(
      `${source}: userDefinedMetadata.${OPT_KEY}`,
      `floatsPerSlot ${meta.floatsPerSlot} does not match the model's parameter layout (${layout} floats)`,
    );
  return { groups, optimizerBytes: meta ? meta.slots * meta.floatsPerSlot * 4 : 0 };
}
