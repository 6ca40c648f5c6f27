// Model topology in the TF.js layers format both ways (model.json's modelTopology). Writing gives the JSON
// tfjs-layers 4.22 writes: 'Sequential' with its layers, or 'Model' with each layer's inbound_nodes. Reading
// takes that, Keras 2's 'Functional' and Keras 3's node form, and old Keras's bare layer lists; layers come
// from the layer registry with their configs converted to TF.js's camelCase generically. Whatever a file
// asks for that simdcnn cannot do exactly is a ModelFormatError naming the layer and the option.
import { ModelFormatError } from '../errors.js';
import type { Graph } from '../engine/graph.js';
import { type ModelDescription, modelFactory } from '../engine/registry.js';
import { checkOptions, type Layer, quote } from '../layers/layer.js';
import { getLayerClass, layerClassNames } from '../layers/registry.js';
import type { SymbolicTensor } from '../layers/symbolic.js';

export const KERAS_VERSION = 'tfjs-layers 4.22.0';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (where: string, what: string): never => {
  throw new ModelFormatError(`${where}: ${what}`);
};

// ------------------------------------------------------------------------------ TF.js's key conversion

export function toSnakeCase(name: string): string {
  const s = name
    .replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return s[0] === '_' ? `private${s}` : s;
}
export function toCamelCase(id: string): string {
  return id.length <= 1 || !id.includes('_') ? id : id.replace(/[_]+(\w|$)/g, (_, c: string) => c.toUpperCase());
}

/** tfjs-layers' convertTsToPythonic / convertPythonicToTs: keys and string values change case, names never. */
function convert(v: unknown, to: (s: string) => string): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return to(v);
  if (Array.isArray(v)) return v.map((x) => convert(x, to));
  if (!isObj(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const key = k === 'className' || k === 'class_name' ? (to === toSnakeCase ? 'class_name' : 'className') : to(k);
    out[key] = (k === 'name' || k === 'className' || k === 'class_name') && typeof x === 'string' ? x : convert(x, to);
  }
  return out;
}
export const toPythonic = (v: unknown) => convert(v, toSnakeCase) as Record<string, unknown>;
export const toTs = (v: unknown) => convert(v, toCamelCase) as Record<string, unknown>;

// ------------------------------------------------------------------------------------------- writing

const layerJson = (l: Layer) => ({ class_name: l.className, config: toPythonic(l.getConfig()) });

/** The topology of a model: Sequential's layer list, or the graph with its inbound nodes. */
export function topologyOf(className: string, name: string, g: Graph, layers: Layer[]): Record<string, unknown> {
  const wrap = (config: Record<string, unknown>) => ({
    class_name: className,
    config,
    keras_version: KERAS_VERSION,
    backend: 'tensor_flow.js',
  });
  if (className === 'Sequential') {
    return wrap({
      name,
      layers: layers.map((l, i) => {
        const j = layerJson(l);
        // tfjs-layers writes the input shape and dtype on the first layer.
        if (i === 0) Object.assign(j.config, { batch_input_shape: [null, ...g.inputs[0].dims], dtype: 'float32' });
        return j;
      }),
    });
  }
  // Node indices count only this model's nodes of each layer (tfjs's nodeConversionMap).
  const inModel = new Set(g.nodes);
  const index = new Map(layers.flatMap((l) => l.inboundNodes.filter((n) => inModel.has(n)).map((n, k) => [n, k] as const)));
  const ref = (t: SymbolicTensor) => [t.node.layer.name, index.get(t.node) ?? 0, t.index];
  return wrap({
    name,
    layers: layers.map((l) => ({
      name: l.name,
      ...layerJson(l),
      inbound_nodes: l.inboundNodes.filter((n) => inModel.has(n) && n.inputs.length).map((n) => n.inputs.map((t) => [...ref(t), {}])),
    })),
    input_layers: g.inputs.map(ref),
    output_layers: g.outputs.map(ref),
  });
}

// ------------------------------------------------------------------------------------------- reading

type Entry = { class_name: string; config: Record<string, unknown>; name?: string; inbound_nodes?: unknown };

/** The fixed input shape (without batch) a config declares, if any. */
function inputShapeOf(cfg: Record<string, unknown>, where: string): number[] | undefined {
  const bc = isObj(cfg.build_config) ? cfg.build_config.input_shape : undefined;
  const s = cfg.batch_input_shape ?? cfg.batch_shape ?? bc;
  if (s === undefined || s === null) return undefined;
  if (!Array.isArray(s) || s.length < 2) return fail(where, `input shape ${quote(s)} must be [batch, ...dims]`);
  const dims = s.slice(1);
  if (!dims.every((d) => Number.isInteger(d) && d > 0))
    fail(where, `input shape ${quote(s)} has unknown or invalid dimensions; simdcnn needs a fixed input size`);
  return dims as number[];
}

/** A dtype as Keras 2 ('float32') or Keras 3 ({class_name: 'DTypePolicy', config: {name: 'float32'}}) writes it. */
const dtypeName = (d: unknown) => (isObj(d) && isObj(d.config) ? d.config.name : d);

/** One layer entry -> a layer (input shape only where the caller passes one). */
function layerFrom(e: Entry, where: string, inputShape: number[] | undefined): Layer {
  const cls = getLayerClass(e.class_name);
  if (!cls) return fail(where, `layer class '${e.class_name}' is not supported (supported: ${layerClassNames().join(', ')})`);
  const { name, trainable, dtype, batch_input_shape: _b, batch_shape: _s, build_config: _c, input_shape: _i, ...rest } = e.config;
  const dt = dtypeName(dtype);
  if (dt !== undefined && dt !== null && dt !== 'float32') fail(where, `dtype ${quote(dt)} is not supported (only float32)`);
  const cfg = toTs(rest);
  try {
    checkOptions(cls, cfg, String(name), {
      key: toSnakeCase,
      value: (k, v) => rest[toSnakeCase(k)] ?? v,
      fixed: (v) => convert(v, toSnakeCase),
    });
    return cls.fromConfig({ ...cfg, name, ...(trainable === false ? { trainable: false } : {}), ...(inputShape ? { inputShape } : {}) });
  } catch (err) {
    throw layerError(where, String(name), err);
  }
}

function entries(list: unknown, source: string): Entry[] {
  if (!Array.isArray(list)) fail(source, 'config.layers is missing');
  const names = new Set<string>();
  return (list as unknown[]).map((entry, i) => {
    if (!isObj(entry) || typeof entry.class_name !== 'string' || !isObj(entry.config))
      fail(`${source}: layer ${i}`, 'expected {class_name, config}');
    const e = entry as Entry;
    const name = typeof e.config.name === 'string' && e.config.name ? e.config.name : typeof e.name === 'string' ? e.name : `layer_${i}`;
    if (names.has(name)) fail(`layer '${name}' (${e.class_name})`, 'the layer name is used twice; weights are matched by layer name');
    names.add(name);
    return { ...e, config: { ...e.config, name } };
  });
}

const whereOf = (e: Entry) => `layer '${e.config.name}' (${e.class_name})`;

/** A layer's own error under the file's name for it, without saying the layer's name twice. */
function layerError(where: string, name: string, err: unknown): ModelFormatError {
  if (err instanceof ModelFormatError) return err;
  const msg = (err as Error).message;
  return new ModelFormatError(
    `${where}: ${msg.startsWith(`${name} (`) || msg.startsWith(`${name}:`) ? msg.slice(msg.indexOf(':') + 2) : msg}`,
  );
}

/** The layers of a Sequential topology (old Keras: the config is the list itself), shapes checked. */
function sequentialFrom(cfg: unknown, source: string): ModelDescription {
  const list = entries(Array.isArray(cfg) ? cfg : isObj(cfg) ? cfg.layers : undefined, source);
  // The input shape goes to the first real layer: from an InputLayer, the first layer, or Keras 3's build_input_shape.
  let shape = isObj(cfg) && Array.isArray(cfg.build_input_shape) ? inputShapeOf({ batch_shape: cfg.build_input_shape }, source) : undefined;
  const layers: Layer[] = [];
  list.forEach((e, i) => {
    if (layers.length === 0) shape = inputShapeOf(e.config, whereOf(e)) ?? shape;
    if (e.class_name === 'InputLayer') {
      if (i > 0) fail(whereOf(e), 'an InputLayer must come first');
      layerFrom(e, whereOf(e), shape); // checks its options
      return;
    }
    layers.push(layerFrom(e, whereOf(e), layers.length === 0 ? shape : undefined));
  });
  if (layers.length === 0) fail(source, 'the model has no layers');
  if (!shape) fail(source, `the first layer '${layers[0].name}' has no batch_input_shape (or InputLayer); simdcnn needs the input size`);
  let dims = shape!;
  for (const l of layers) {
    try {
      dims = l.computeOutputShape([dims]);
    } catch (err) {
      throw layerError(`${source}: layer '${l.name}' (${l.className})`, l.name, err);
    }
  }
  return { name: isObj(cfg) && typeof cfg.name === 'string' ? cfg.name : 'sequential', layers };
}

/** [layer, node, tensor] references of one call: tfjs/Keras 2's list form, or Keras 3's {args: [keras tensors]}. */
function callRefs(call: unknown, where: string): [string, number, number][] {
  const refs: [string, number, number][] = [];
  const ref = (r: unknown) => {
    const a = r as unknown[];
    if (!Array.isArray(a) || typeof a[0] !== 'string' || !Number.isInteger(a[1]) || !Number.isInteger(a[2]))
      fail(where, `bad inbound node reference ${quote(r)}`);
    refs.push([a[0] as string, a[1] as number, a[2] as number]);
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v) && v.class_name === '__keras_tensor__' && isObj(v.config)) ref(v.config.keras_history);
    else if (isObj(v) && Array.isArray(v.args)) walk(v.args);
  };
  if (isObj(call)) walk(call);
  else if (Array.isArray(call))
    for (const r of call) {
      if (Array.isArray(r) && typeof r[0] === 'string') ref(r);
      else walk(r);
    }
  else fail(where, `bad inbound node ${quote(call)}`);
  return refs;
}

/** The graph of a functional topology: layers made, then called on their inputs in dependency order. */
function functionalFrom(cfg: Record<string, unknown>, source: string): ModelDescription {
  const list = entries(cfg.layers, source);
  const made = new Map<string, Layer>();
  const pending = new Map<string, [string, number, number][][]>();
  for (const e of list) {
    if (e.class_name !== 'InputLayer' && !Array.isArray(e.inbound_nodes)) fail(whereOf(e), 'inbound_nodes is missing');
    const layer = layerFrom(e, whereOf(e), e.class_name === 'InputLayer' ? inputShapeOf(e.config, whereOf(e)) : undefined);
    made.set(layer.name, layer);
    pending.set(
      layer.name,
      ((e.inbound_nodes as unknown[]) ?? []).map((n) => callRefs(n, whereOf(e))),
    );
  }
  const tensor = (r: [string, number, number], where: string): SymbolicTensor | undefined => {
    const l = made.get(r[0]);
    if (!l) return fail(where, `its input '${r[0]}' is not a layer of the model`);
    return r[2] === 0 ? l.inboundNodes[r[1]]?.output : fail(where, `tensor index ${r[2]} of '${r[0]}': layers have one output`);
  };
  // As tfjs-layers: call each layer once all its inputs exist; repeat until done (shared layers at several depths).
  for (let progress = true; progress;) {
    progress = false;
    for (const e of list) {
      const calls = pending.get(e.config.name as string)!;
      while (calls.length) {
        const ins = calls[0].map((r) => tensor(r, whereOf(e)));
        if (ins.some((t) => !t)) break;
        try {
          made.get(e.config.name as string)!.apply(ins.length === 1 ? ins[0]! : (ins as SymbolicTensor[]));
        } catch (err) {
          throw layerError(`${source}: ${whereOf(e)}`, e.config.name as string, err);
        }
        calls.shift();
        progress = true;
      }
    }
  }
  const stuck = list.find((e) => pending.get(e.config.name as string)!.length);
  if (stuck) fail(whereOf(stuck), 'its inputs can never be computed (a cycle, or a reference to a missing node)');
  const ends = (key: string) => {
    const v = cfg[key];
    const refs = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
    if (!Array.isArray(refs) || refs.length === 0) return fail(source, `config.${key} is missing`);
    return (refs as unknown[])
      .map((r) => callRefs([r], `${source}: ${key}`)[0])
      .map(
        (r: [string, number, number]) => tensor(r, `${source}: ${key}`) ?? fail(source, `${key}: node ${r[1]} of '${r[0]}' does not exist`),
      );
  };
  return { name: typeof cfg.name === 'string' ? cfg.name : 'model', inputs: ends('input_layers'), outputs: ends('output_layers') };
}

/** A model (not yet built: no memory) from a topology. */
export function modelFromTopology(topo: unknown, source: string, seed = 0): unknown {
  if (!isObj(topo)) return fail(source, 'modelTopology is missing or not an object');
  const cls = topo.class_name;
  const make = typeof cls === 'string' ? modelFactory(cls) : undefined;
  if (!make) return fail(source, `model class_name ${quote(cls)} is not supported (Sequential, Model, Functional)`);
  const desc = cls === 'Sequential' ? sequentialFrom(topo.config, source) : functionalFrom(isObj(topo.config) ? topo.config : {}, source);
  try {
    return make({ ...desc, seed });
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(`${source}: ${(err as Error).message}`);
  }
}
