// Model: a graph of layers from its inputs to its outputs (TF.js's LayersModel). It builds the weights,
// predicts, reads and writes weights, and hands training to training.ts and datasets.ts, the summary to summary.ts and
// files to io/. model({ inputs, outputs }) makes one; Sequential is a Model built from a list of layers.
import { type Backend, currentBackend, getBackend } from '../backend.js';
import { StateError, ValueError } from '../errors.js';
import type { Layer } from '../layers/layer.js';
import { isSymbolic, type SymbolicTensor } from '../layers/symbolic.js';
import type { Optimizer } from '../optimizers.js';
import { randomSeed, Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { loadModelFiles, type LoadSource, saveModel, type SaveOptions, type SaveResult, type SaveTarget } from '../io/registry.js';
import { modelFromTopology, topologyOf } from '../io/topology.js';
import { buildGraph, type Graph } from './graph.js';
import type { Loss, LossConfig, LossName } from './losses.js';
import { allocateWeights, gradientLayout, isTrainable, noteWeightsWritten, ParamLayout, tfjsOrder } from './plan.js';
import { registerModelClass } from './registry.js';
import { Runtime } from './runtime.js';
import { printSummary, type SummaryArgs } from './summary.js';
import * as datasets from './datasets.js';
import * as evaluation from './evaluation.js';
import * as state from './state.js';
import * as training from './training.js';
import { checkWeightArrays, type IOShapes, type Labels } from './validation.js';

export interface ModelArgs {
  inputs: SymbolicTensor | SymbolicTensor[];
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seed of the initial weights (and of shuffling unless fit gets one). */
  seed?: number;
}

const toList = (v: SymbolicTensor | SymbolicTensor[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export class Model implements state.TrainHost {
  static readonly className: string = 'Model';
  readonly name: string;
  readonly seed: number;
  readonly rng: Rng;
  /** Set to true from a callback to stop fit() after the current batch. */
  stopTraining = false;
  /** Free-form facts saved with the model (model.json's userDefinedMetadata), e.g. the input pixel range. */
  metadata: Record<string, unknown> = {};
  compiled?: state.Compiled;
  /** Bound at build: the backend current then (fit waits for it to compile). */
  private be?: Backend;
  private graphOf?: Graph;
  private params?: ParamLayout;
  private rt?: Runtime;
  private disposed = false;

  constructor(args: ModelArgs) {
    if (!args || typeof args !== 'object') throw new ValueError(`model: expected { inputs, outputs }, received ${String(args)}`);
    this.seed = args.seed ?? randomSeed();
    this.name = args.name ?? (this.constructor as typeof Model).className.toLowerCase();
    if (!Number.isInteger(this.seed)) throw new ValueError(`${this.name}: seed must be an integer, received ${args.seed}`);
    this.rng = new Rng(this.seed);
    if (this.graphIsLazy) return;
    const inputs = toList(args.inputs),
      outputs = toList(args.outputs);
    for (const [what, list] of [
      ['inputs', inputs],
      ['outputs', outputs],
    ] as const) {
      if (list.length === 0 || !list.every(isSymbolic))
        throw new ValueError(`${this.name}: ${what} must be symbolic tensors (from input() and layer.apply()), received ${String(list)}`);
      if (list.length > 1)
        throw new ValueError(`${this.name}: a model with ${list.length} ${what} is not supported yet (one input and one output)`);
    }
    if (inputs[0] === outputs[0]) throw new ValueError(`${this.name}: the output is the input; a model needs at least one layer`);
    this.graphOf = buildGraph(inputs, outputs, this.name);
  }

  /** Sequential makes its graph once it knows the input shape. */
  protected get graphIsLazy(): boolean {
    return false;
  }

  /** The graph; Sequential builds it here when it first can (from the shape of the data, without batch). */
  protected graph(inputDims?: number[]): Graph {
    void inputDims;
    return this.graphOf!;
  }

  protected setGraph(g: Graph): void {
    this.graphOf = g;
  }

  get className(): string {
    return (this.constructor as typeof Model).className;
  }

  /** The layers in TF.js's order (input layers first, by depth). */
  get layers(): Layer[] {
    return this.graph().layers;
  }
  get inputs(): SymbolicTensor[] {
    return this.graph().inputs;
  }
  get outputs(): SymbolicTensor[] {
    return this.graph().outputs;
  }
  /** Input shape without the batch axis. */
  get inputShape(): number[] {
    return this.graph().inputs[0].dims.slice();
  }
  get outputShape(): number[] {
    return this.graph().outputs[0].dims.slice();
  }
  get backend(): Backend {
    return this.be ?? currentBackend();
  }

  /** A layer by name, or by index in model.layers. */
  getLayer(nameOrIndex: string | number): Layer {
    const layers = this.layers;
    if (typeof nameOrIndex === 'number') {
      if (!Number.isInteger(nameOrIndex) || nameOrIndex < 0 || nameOrIndex >= layers.length)
        throw new ValueError(`${this.name}.getLayer: index ${nameOrIndex} is out of range; the model has ${layers.length} layers`);
      return layers[nameOrIndex];
    }
    const l = layers.find((x) => x.name === nameOrIndex);
    if (!l)
      throw new ValueError(`${this.name}.getLayer: no layer named '${nameOrIndex}' (layers: ${layers.map((x) => x.name).join(', ')})`);
    return l;
  }

  /**
   * Builds the graph and places and initialises the weights, and the gradients. Sequential takes an input
   * shape without the batch axis. A build that fails frees what it took.
   */
  build(inputShape?: number[]): void {
    this.alive('build');
    if (this.rt) return;
    const g = this.graph(inputShape);
    const be = (this.be ??= currentBackend());
    const fresh = allocateWeights(be, g.layers, this.rng, this.name);
    const params = new ParamLayout(g.layers);
    try {
      this.rt = new Runtime(be, g, params, this.rng, this.name);
    } catch (e) {
      params.abandon();
      fresh.undo();
      throw e;
    }
    this.params = params;
  }

  /** Throws StateError if the model was disposed. */
  alive(what: string): void {
    if (this.disposed) throw new StateError(`${this.name}.${what}: the model has been disposed`);
  }

  runtime(what: string, x?: Tensor): Runtime {
    this.alive(what);
    if (!this.rt) this.build(x instanceof Tensor ? x.shape.slice(1) : undefined);
    return this.rt!;
  }

  ioShapes(): IOShapes {
    const g = this.graph(),
      l = this.inputLayer();
    return { model: this.name, inputLayer: `${l.name} (${l.className})`, input: g.inputs[0].dims, output: g.outputs[0].dims };
  }

  /** The layer named when x does not fit. */
  protected inputLayer(): Layer {
    return this.graph().inputs[0].node.layer as Layer;
  }

  outputLayer(): Layer {
    return this.graph().outputs[0].node.layer as Layer;
  }

  compile(args: state.CompileArgs): void {
    this.compiled = state.compile(this, args);
  }
  /** Whether fit() is running on this model. */
  get isTraining(): boolean {
    return state.isTraining(this);
  }
  get optimizer(): Optimizer | undefined {
    return this.compiled?.optimizer;
  }
  /** The compiled loss as compile() took it: its name, or {className, config} with its options. */
  get loss(): LossName | LossConfig | undefined {
    return this.compiled?.loss.toConfig();
  }
  /** The compiled loss itself (what saving writes). */
  get lossFunction(): Loss | undefined {
    return this.compiled?.loss;
  }

  async fit(x: Tensor, y: Labels, args?: training.FitArgs): Promise<training.History> {
    this.be ??= await getBackend();
    this.runtime('fit', x);
    return training.fit(this, x, y, args);
  }
  /**
   * Trains on {xs, ys} batches from a Dataset (TF.js's fitDataset): epochs (required), batchesPerEpoch,
   * validationData as [x, y] or a dataset, classWeight, initialEpoch, callbacks; fit's checks and lifecycle.
   */
  async fitDataset(ds: datasets.BatchSource, args: datasets.FitDatasetArgs): Promise<training.History> {
    this.be ??= await getBackend();
    this.runtime('fitDataset');
    return datasets.fitDataset(this, ds, args);
  }
  /** Mean loss and accuracy over a dataset's batches (or its first `batches`). */
  async evaluateDataset(ds: datasets.BatchSource, args?: datasets.EvaluateDatasetArgs): Promise<{ loss: number; accuracy?: number }> {
    this.be ??= await getBackend();
    return datasets.evaluateDataset(this, ds, args);
  }
  evaluate(x: Tensor, y: Labels, args?: evaluation.InferenceArgs): { loss: number; accuracy?: number } {
    this.runtime('evaluate', x);
    return evaluation.evaluate(this, x, y, args);
  }
  trainOnBatch(x: Tensor, y: Labels): { loss: number; acc?: number } {
    this.runtime('trainOnBatch', x);
    return training.trainOnBatch(this, x, y);
  }
  computeGradients(x: Tensor, y: Labels): { loss: number; grads: Float32Array[] } {
    this.runtime('computeGradients', x);
    return training.computeGradients(this, x, y);
  }
  vjp(x: Tensor, dy: Tensor): { dx: Tensor; grads: Float32Array[] } {
    this.runtime('vjp', x);
    return training.vjp(this, x, dy);
  }

  predict(x: Tensor, args?: evaluation.InferenceArgs): Tensor {
    this.runtime('predict', x);
    return evaluation.predict(this, x, args);
  }

  /** Copies of the weights in TF.js's order: trainable ones first (per layer kernel, then bias), then the rest. */
  getWeights(): Float32Array[] {
    const rt = this.runtime('getWeights');
    return rt.params.ordered().map((e) => rt.be.read(e.ptr, e.size));
  }

  /** Names and shapes of the weights, in getWeights order (e.g. conv2d/kernel [3,3,1,8]); needs no memory. */
  weightSpecs(): { name: string; shape: number[]; trainable: boolean }[] {
    this.alive('weightSpecs');
    return tfjsOrder(gradientLayout(this.layersWithWeights()).entries).map((e) => ({
      name: e.name,
      shape: e.spec.shape.slice(),
      trainable: isTrainable(e),
    }));
  }

  /** The graph's layers, their weights declared (the graph is made if need be; nothing is allocated). */
  private layersWithWeights(): Layer[] {
    return this.graph().layers;
  }

  setWeights(weights: (Float32Array | Tensor | ArrayLike<number>)[]): void {
    const rt = this.runtime('setWeights');
    state.idle(this, 'setWeights');
    const entries = rt.params.ordered();
    const arrays = checkWeightArrays(
      weights,
      entries.map((e) => ({ name: e.name, shape: e.spec.shape })),
      `${this.name}.setWeights`,
    );
    state.idle(this, 'setWeights'); // the arrays' getters ran user code
    entries.forEach((e, i) => rt.be.write(e.ptr, arrays[i]));
    noteWeightsWritten();
  }

  countParams(): number {
    this.alive('countParams');
    return gradientLayout(this.layersWithWeights()).entries.reduce((s, e) => s + e.size, 0);
  }

  /**
   * Prints (line by line, as TF.js) and returns the table of layers, shapes and parameter counts, then the
   * memory the model plans: weights, optimizer state and activations.
   */
  summary(...args: SummaryArgs): string {
    const rt = this.runtime('summary');
    return printSummary(this.summaryView(rt), ...args);
  }

  private summaryView(rt: Runtime) {
    const opt = this.compiled?.optimizer;
    const batch = rt.current?.capacity ?? 32;
    return {
      graph: this.graph(),
      layers: this.layers,
      params: rt.params,
      memory: {
        weights: rt.params.floats * 4,
        optimizer: opt ? { name: opt.className, bytes: opt.slots * rt.params.floats * 4 } : undefined,
        gradients: rt.params.floats * 4,
        batch,
        training: rt.plannedBytes(batch, { training: true, inputGrad: false }),
        inference: rt.plannedBytes(batch, { training: false, inputGrad: false }),
      },
    };
  }

  /** The model as TF.js layers JSON (model.json's modelTopology): a string, or the object with returnString false. */
  toJSON(unused?: unknown, returnString = true): string | Record<string, unknown> {
    void unused;
    const topo = topologyOf(this.className, this.name, this.graph(), this.layers);
    return returnString ? JSON.stringify(topo) : topo;
  }

  /**
   * Returns the model's wasm memory (and that of layers no other live model uses); the model cannot be used
   * afterwards. During fit (from a callback, or while it yields) the memory is freed at once and fit stops
   * after its current step.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const be = this.be;
    if (!be || !this.rt) return;
    this.rt.dispose();
    for (const s of this.compiled?.states ?? []) be.release(s);
    if (this.compiled?.undo) be.release(this.compiled.undo);
    if (this.compiled) Object.assign(this.compiled, { states: [], undo: 0 });
    this.params?.release(be);
    this.rt = undefined;
  }

  /** Bytes of wasm memory the model holds: weights (shared blocks counted by each model), gradients, optimizer state, activations. */
  get memoryBytes(): number {
    const be = this.be;
    if (!be || !this.rt || this.disposed) return 0;
    const c = this.compiled;
    const own = [...(c?.states ?? []), ...(c?.undo ? [c.undo] : [])].reduce((s, b) => s + (be.sizeOf(b) ?? 0), 0);
    return this.params!.weightBytes(be) + this.rt.bytes + own;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Where each weight's optimizer state sits in the state blocks (saved optimizer state uses it); needs no memory. */
  stateLayout(): { floats: number; entries: { name: string; shape: number[]; offset: number; trainable: boolean }[] } {
    this.alive('stateLayout');
    const g = gradientLayout(this.layersWithWeights());
    return {
      floats: g.floats,
      entries: g.entries.map((e) => ({ name: e.name, shape: e.spec.shape.slice(), offset: e.offset, trainable: isTrainable(e) })),
    };
  }

  getOptimizerState(): Float32Array[] {
    return state.getOptimizerState(this);
  }
  setOptimizerState(slots: Float32Array[], iterations: number): void {
    state.setOptimizerState(this, slots, iterations);
  }

  /**
   * Saves in the TensorFlow.js layers format (model.json + weights) with the optimizer state as an extra
   * file: a directory or file:// path in Node; 'downloads://name', 'indexeddb://key' in the browser; no
   * target (or 'memory://') returns {modelJson, weights, ...} objects.
   */
  async save(target?: SaveTarget, opts: SaveOptions = {}): Promise<SaveResult> {
    this.alive('save');
    return saveModel(this, target, opts);
  }
}

/** A model from its inputs and outputs, as TF.js's tf.model({ inputs, outputs }). */
export function model(args: ModelArgs): Model {
  return new Model(args);
}

registerModelClass(['Model', 'Functional'], (d) => new Model({ inputs: d.inputs!, outputs: d.outputs!, name: d.name, seed: d.seed }));

/**
 * Loads a model saved by simdcnn, TF.js or converted from Keras (Sequential or functional, layers format): a
 * path, directory or file:// URL in Node; 'indexeddb://key' in the browser; in-memory ModelFiles
 * ({modelJson, weights, optimizerWeights?}, e.g. what model.save() returned) or ModelArtifacts
 * ({modelTopology, weightSpecs, weightData}) anywhere. Anything corrupt or unsupported is a
 * ModelFormatError; nothing stays allocated then.
 */
export async function loadModel(source: LoadSource): Promise<Model> {
  return (await loadModelFiles(source)) as Model;
}

/** A new model, weights freshly initialised from `seed`, from TF.js layers JSON (model.toJSON(), or model.json's modelTopology). */
export function modelFromJSON(json: string | Record<string, unknown>, opts: { seed?: number } = {}): Model {
  const m = modelFromTopology(typeof json === 'string' ? JSON.parse(json) : json, 'modelFromJSON', opts.seed) as Model;
  try {
    m.build();
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m;
}
