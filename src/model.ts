// Sequential: owns the model's arena in wasm memory and runs training and inference over it.
import { type Backend, currentBackend, getBackend, MAX_MEMORY_BYTES } from './backend.js';
import { DEFAULT_DIVERGENCE, DEFAULT_MAX_INPUT_ABS, type DivergenceLimits, type DivergenceOptions, divergenceLimits, limitOption, LossMonitor } from './divergence.js';
import { DataError, DivergenceError, MemoryError, ShapeError, SimdcnnError, StateError, ValueError } from './errors.js';
import { initialize } from './initializers.js';
import { activationLayout, type Layout, parameterLayout } from './layout.js';
import { Dropout, Softmax } from './layers/basic.js';
import { Conv2D } from './layers/conv2d.js';
import { Dense } from './layers/dense.js';
import type { Layer } from './layers/layer.js';
import { getOptimizer, type Optimizer, type OptimizerLike } from './optimizers.js';
import { randomSeed, Rng } from './random.js';
import { formatShape, shapeSize, Tensor } from './tensor.js';
import type { SaveOptions, SaveResult, SaveTarget } from './io/registry.js';

export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy';
const LOSSES: readonly string[] = ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'];
/** Class indices (sparse loss) or a one-hot / probability Tensor [N, classes] (categorical loss). */
export type Labels = Int32Array | Uint8Array | Uint16Array | number[] | Tensor;

export interface CompileArgs {
  optimizer: OptimizerLike;
  loss: LossName;
  /** Accepted for Keras compatibility; accuracy is always reported. */
  metrics?: string[];
}

export interface Logs {
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
  [k: string]: number | undefined;
}

export interface Callbacks {
  onTrainBegin?: () => void | Promise<void>;
  onTrainEnd?: () => void | Promise<void>;
  onEpochBegin?: (epoch: number) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: Logs) => void | Promise<void>;
  onBatchBegin?: (batch: number) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: { loss: number; acc: number; size: number }) => void | Promise<void>;
}

export interface FitArgs extends Callbacks {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of this run's shuffling; by default the model's generator continues. */
  seed?: number;
  validationData?: [Tensor, Labels];
  callbacks?: Callbacks;
  /**
   * Per-step checks (default true): inputs finite and within maxInputAbs; the loss, gradients and weights
   * watched for divergence. false turns all of them off.
   */
  checkFinite?: boolean;
  /** Inputs with a larger magnitude are refused with a DataError (default 1e6; Infinity allows any finite value). */
  maxInputAbs?: number;
  /** When fit gives up with a DivergenceError (defaults: lossFactor 4, maxAbs 1e8). */
  divergence?: DivergenceOptions;
  /** Yield to the event loop at most this often, in ms, so pages and progress bars stay live. */
  yieldEvery?: number;
}

/** Options of predict and evaluate. */
export interface InferenceArgs {
  batchSize?: number;
  /** Inputs with a larger magnitude are refused with a DataError (default 1e6; Infinity allows any finite value). */
  maxInputAbs?: number;
}

export interface History {
  epoch: number[];
  history: { loss: number[]; acc: number[]; val_loss?: number[]; val_acc?: number[] };
}

/** The layout placed in wasm memory (byte pointers). */
interface Arena {
  capacity: number;
  block: number;
  act: number[];
  grad: number[];
  labels: number;
  targets: number;
}

/** A tensor as a call first saw it: its sample count and row size stay fixed while the call runs. */
interface Source {
  x: Tensor;
  N: number;
  row: number;
  what: string;
}

export class Sequential {
  readonly layers: Layer[] = [];
  readonly name: string;
  readonly seed: number;
  /** Set to true from a callback to stop fit() after the current batch. */
  stopTraining = false;
  /** Free-form facts saved with the model (model.json's userDefinedMetadata), e.g. the input pixel range. */
  metadata: Record<string, unknown> = {};
  private rng: Rng;
  private _be?: Backend;
  private built = false;
  private disposed = false;
  private paramBlock = 0;
  private gradBlock = 0;
  private stateBlocks: number[] = [];
  private paramFloats = 0;
  /** Float offsets of each layer's params inside the parameter block. */
  private paramOffsets: number[][] = [];
  private arena?: Arena;
  /** Copy of the weights and optimizer state from before the last update, to undo a step that diverged. */
  private undoBlock = 0;
  /** An upper bound on |w| over all weights (NaN: unknown), so most steps need no pass over the weights. */
  private weightBound = NaN;
  private training = false;
  optimizer?: Optimizer;
  loss?: LossName;

  constructor(layers: Layer[] = [], opts: { seed?: number; name?: string } = {}) {
    this.seed = opts.seed ?? randomSeed();
    if (!Number.isInteger(this.seed)) throw new ValueError(`Sequential: seed must be an integer, received ${opts.seed}`);
    this.rng = new Rng(this.seed);
    this.name = opts.name ?? 'sequential';
    for (const l of layers) this.add(l);
  }

  add(layer: Layer): void {
    this.alive('add');
    if (this.built) throw new StateError(`${this.name}.add: the model is already built; add layers before fit, predict or summary`);
    if (!layer || typeof (layer as Layer).forward !== 'function') throw new ValueError(`${this.name}.add: expected a layer, received ${String(layer)}`);
    if (this.layers.includes(layer)) throw new ValueError(`${this.name}.add: layer '${layer.name}' is already in the model`);
    this.layers.push(layer);
  }

  get inputShape(): number[] {
    this.ensureBuilt();
    return this.layers[0].inputShape.slice();
  }
  get outputShape(): number[] {
    this.ensureBuilt();
    return this.layers[this.layers.length - 1].outputShape.slice();
  }
  get backend(): Backend {
    return this.be;
  }
  /** Bound at first use, so a model can be described before the wasm has compiled (see ready()). */
  private get be(): Backend {
    return (this._be ??= currentBackend());
  }

  /** Builds layers and places and initialises the weights. Input shape without the batch axis. */
  build(inputShape?: number[]): void {
    this.alive('build');
    if (this.built) return;
    if (this.layers.length === 0) throw new StateError(`${this.name}: the model has no layers`);
    let shape = inputShape ?? this.layers[0].declaredInputShape;
    if (!shape) throw new StateError(`${this.name}: unknown input shape; give the first layer inputShape, or call fit/predict with data`);
    for (const l of this.layers) {
      l.build(shape);
      shape = l.outputShape;
    }
    const { offsets, floats } = parameterLayout(this.layers.flatMap((l) => l.params.map((p) => p.shape)));
    let k = 0;
    this.paramOffsets = this.layers.map((l) => l.params.map(() => offsets[k++]));
    const bytes = floats * 4;
    const taken: number[] = [];
    try {
      const params = this.be.alloc(bytes, `${this.name} weights`);
      taken.push(params);
      taken.push(this.be.alloc(bytes, `${this.name} gradients`));
      this.layers.forEach((l, i) => l.params.forEach((p, j) => {
        const v = new Float32Array(shapeSize(p.shape));
        initialize(v, p.init, p.fanIn, p.fanOut, this.rng);
        this.be.write(params + this.paramOffsets[i][j] * 4, v);
      }));
    } catch (e) {
      for (const b of taken) this.be.release(b);
      throw e;
    }
    [this.paramBlock, this.gradBlock] = taken;
    this.paramFloats = floats;
    this.built = true;
  }

  compile(args: CompileArgs): void {
    this.idle('compile');
    if (!args || typeof args !== 'object') throw new ValueError(`${this.name}.compile: expected {optimizer, loss}, received ${String(args)}`);
    const optimizer = getOptimizer(args.optimizer);
    if (!LOSSES.includes(args.loss)) {
      throw new ValueError(`${this.name}.compile: loss '${args.loss}' is not supported; expected one of ${LOSSES.join(', ')}`);
    }
    const last = this.layers[this.layers.length - 1];
    const fused = last instanceof Softmax || ((last instanceof Dense || last instanceof Conv2D) && last.activation === 'softmax');
    if (!fused) {
      throw new ValueError(`${this.name}.compile: loss '${args.loss}' works on probabilities, so the model must end in softmax (a Softmax layer or activation: 'softmax'); the last layer is ${last ? `'${last.name}' (${last.className})` : 'missing'}`);
    }
    for (const l of this.layers) l.fusedSoftmaxGrad = false;
    if (!(last instanceof Softmax)) last.fusedSoftmaxGrad = true;
    this.releaseState();
    this.optimizer = optimizer;
    this.loss = args.loss;
  }

  private alive(what: string): void {
    if (this.disposed) throw new StateError(`${this.name}.${what}: the model has been disposed`);
  }

  /** Calls that change the weights, the optimizer or the model itself wait for fit to finish. */
  private idle(what: string): void {
    this.alive(what);
    if (this.training) {
      throw new StateError(`${this.name}.${what}: fit() is running on this model; ${what} must wait until it ends (from a callback, predict, evaluate and save work; set model.stopTraining = true to stop early)`);
    }
  }

  /** Whether fit() is running on this model. */
  get isTraining(): boolean {
    return this.training;
  }

  private releaseState(): void {
    for (const s of this.stateBlocks) this.be.release(s);
    this.stateBlocks = [];
    if (this.undoBlock) this.be.release(this.undoBlock);
    this.undoBlock = 0;
  }

  /** Builds from the declared input shape, else from the first data seen. */
  private ensureBuilt(dataShape?: number[]): void {
    if (!this.built) this.build(this.layers[0]?.declaredInputShape ?? dataShape?.slice(1));
  }

  /** Places the layout at `block` and tells every layer where its tensors are. */
  private bindArena(block: number, lay: Layout): Arena {
    const p = (o: number) => block + o * 4;
    this.layers.forEach((l, i) => l.bind(this.be, {
      x: p(lay.act[i]), y: p(lay.act[i + 1]), dx: p(lay.grad[i]), dy: p(lay.grad[i + 1]),
      params: this.paramOffsets[i].map((o) => this.paramBlock + o * 4),
      grads: this.paramOffsets[i].map((o) => this.gradBlock + o * 4),
      extra: p(lay.extra[i]), scratch: p(lay.scratch), scratchFloats: lay.scratchFloats,
    }));
    this.arena = { capacity: lay.capacity, block, act: lay.act.map(p), grad: lay.grad.map(p), labels: p(lay.labels), targets: p(lay.targets) };
    return this.arena;
  }

  /**
   * Activations for batches of up to `capacity` samples. A larger batch replaces the old block, which is
   * freed first so the new one can take its place; if the new one still does not fit, a block of the old
   * size is placed again (it always fits where the old one was) and the MemoryError propagates.
   */
  private plan(capacity: number): Arena {
    if (this.arena && this.arena.capacity >= capacity) return this.arena;
    const lay = activationLayout(this.layers, capacity);
    const old = this.arena;
    const oldBytes = old ? this.be.sizeOf(old.block)! : 0;
    if (lay.bytes + this.be.allocatedBytes - oldBytes > MAX_MEMORY_BYTES) {
      throw new MemoryError(`${this.name}: batches of ${capacity} need ${(lay.bytes / 2 ** 20).toFixed(0)} MiB of activations, more than wasm memory allows (${(MAX_MEMORY_BYTES / 2 ** 20).toFixed(0)} MiB, ${(this.be.allocatedBytes / 2 ** 20).toFixed(0)} MiB in use); use a smaller batch size`);
    }
    if (old) {
      this.be.release(old.block);
      this.arena = undefined;
    }
    let block: number;
    try {
      block = this.be.alloc(lay.bytes, `${this.name} activations for batch ${capacity}`);
    } catch (e) {
      if (old) this.bindArena(this.be.alloc(oldBytes, `${this.name} activations`), activationLayout(this.layers, old.capacity));
      throw e;
    }
    return this.bindArena(block, lay);
  }

  /** Validates x against the model's input; the returned source fixes its sample count for the whole call. */
  private checkX(x: Tensor, what: string): Source {
    if (!(x instanceof Tensor)) throw new ValueError(`${this.name}.${what}: x must be a Tensor (use tensor(data, shape)), received ${x === null ? 'null' : typeof x}`);
    const shape = x.shape.slice();
    this.ensureBuilt(shape);
    const want = this.layers[0].inputShape;
    if (shape.length !== want.length + 1 || want.some((d, i) => shape[i + 1] !== d)) {
      throw new ShapeError(`${this.layers[0].name} (${this.layers[0].className}): expected input shape ${formatShape([null, ...want])}, received ${formatShape(shape)}`);
    }
    if (!(Number.isInteger(shape[0]) && shape[0] >= 1)) throw new ShapeError(`${this.name}.${what}: x has no samples (shape ${formatShape(shape)})`);
    const src: Source = { x, N: shape[0], row: shapeSize(want), what };
    this.dataOf(src);
    return src;
  }

  /** x.data as it is now, checked against the size the call started with (a callback may have replaced it). */
  private dataOf(src: Source): Float32Array {
    const d = src.x.data;
    if (!(d instanceof Float32Array)) throw new ValueError(`${this.name}.${src.what}: x.data must be a Float32Array, received ${Object.prototype.toString.call(d)}`);
    const want = src.N * src.row;
    if (d.length !== want) throw new ShapeError(`${this.name}.${src.what}: x has shape ${formatShape([src.N, ...this.layers[0].inputShape])} (${want} values) but its data holds ${d.length}`);
    return d;
  }

  private get classes(): number {
    const s = this.layers[this.layers.length - 1].outputShape;
    return s[s.length - 1];
  }

  /** Validates labels against x and the loss; returns them as int32 indices or a float target tensor. */
  private checkY(y: Labels, n: number, what: string): Int32Array | Tensor {
    const C = this.classes;
    const out = this.layers[this.layers.length - 1].outputShape;
    if (out.length !== 1) throw new ShapeError(`${this.name}.${what}: crossentropy needs model output [null, classes], the model gives ${formatShape([null, ...out])}; add Flatten() before the final Dense`);
    if (this.loss === 'categoricalCrossentropy' || (this.loss === undefined && y instanceof Tensor)) {
      if (!(y instanceof Tensor)) throw new ValueError(`${this.name}.${what}: loss 'categoricalCrossentropy' expects one-hot targets as a Tensor [${n}, ${C}]; for class indices use 'sparseCategoricalCrossentropy'`);
      if (y.shape.length !== 2 || y.shape[0] !== n || y.shape[1] !== C) throw new ShapeError(`${this.name}.${what}: expected targets of shape [${n},${C}], received ${formatShape(y.shape)}`);
      for (let i = 0; i < y.data.length; i++) {
        const v = y.data[i];
        if (!(v >= 0 && v <= 1)) throw new ValueError(`${this.name}.${what}: target [${Math.floor(i / C)}, ${i % C}] is ${v}; expected probabilities in [0, 1]`);
      }
      return y;
    }
    if (y instanceof Tensor) throw new ValueError(`${this.name}.${what}: loss 'sparseCategoricalCrossentropy' expects class indices (Int32Array, Uint8Array or number[]), received a Tensor ${formatShape(y.shape)}; use 'categoricalCrossentropy' for one-hot targets`);
    if (!(y instanceof Int32Array || y instanceof Uint8Array || y instanceof Uint16Array || Array.isArray(y))) {
      throw new ValueError(`${this.name}.${what}: labels must be an Int32Array, Uint8Array, Uint16Array or number[], received ${Object.prototype.toString.call(y)}`);
    }
    if (y.length !== n) throw new ShapeError(`${this.name}.${what}: expected ${n} labels (one per sample of x), received ${y.length}`);
    const lab = Int32Array.from(y as ArrayLike<number>);
    for (let i = 0; i < n; i++) {
      const v = (y as ArrayLike<number>)[i];
      if (!Number.isInteger(v) || v < 0 || v >= C) throw new ValueError(`${this.name}.${what}: label ${i} is ${v}; expected an integer class index in [0, ${C - 1}]`);
    }
    return lab;
  }

  private positiveInt(v: unknown, what: string, fn: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValueError(`${this.name}.${fn}: ${what} must be a positive integer, received ${JSON.stringify(v)}`);
    return v;
  }

  /**
   * Copies samples idx[from..from+n) (or from..from+n) of x, as x is now, into the input buffer (a view
   * exactly that size: nothing outside it can be written), then checks them when limit > 0: NaN or
   * Infinity is a ValueError, a magnitude above limit a DataError naming the batch and sample.
   */
  private loadBatch(src: Source, idx: Int32Array | null, from: number, n: number, limit: number, batch: number): void {
    const data = this.dataOf(src);
    this.alive(src.what); // reading x.data runs user code (a getter) that may have disposed the model
    const a = this.arena!, row = src.row;
    const dst = this.be.view(a.act[0], n * row);
    if (!idx) dst.set(data.subarray(from * row, (from + n) * row));
    else for (let r = 0; r < n; r++) { const i = idx[from + r]; dst.set(data.subarray(i * row, (i + 1) * row), r * row); }
    if (limit > 0 && !(this.be.k.maxabs_f32(a.act[0], n * row) <= limit)) {
      const at = dst.findIndex((t) => !(Math.abs(t) <= limit));
      const v = dst[at];
      const sample = idx ? idx[from + Math.floor(at / row)] : from + Math.floor(at / row);
      const where = `x[${sample}] contains ${v} at offset ${at % row} (batch ${batch})`;
      if (!Number.isFinite(v)) throw new ValueError(`${this.name}.${src.what}: ${where}; expected finite numbers`);
      throw new DataError(`${this.name}.${src.what}: ${where}; inputs beyond ±${limit} are refused (scale the data, or raise the limit with maxInputAbs)`);
    }
  }

  /** Copies the batch's labels, or its target rows (checked again: the tensor may have changed since the call began). */
  private loadTargets(y: Int32Array | Tensor, N: number, idx: Int32Array | null, from: number, n: number, what: string): void {
    if (y instanceof Tensor) {
      const C = this.classes;
      const data = y.data;
      if (!(data instanceof Float32Array) || data.length !== N * C) throw new ShapeError(`${this.name}.${what}: targets must hold ${N * C} values [${N},${C}], they now hold ${data?.length}`);
      this.alive(what);
      const dst = this.be.view(this.arena!.targets, n * C);
      // Rows of a few floats: a plain copy costs less than a subarray view per sample.
      for (let r = 0, d = 0; r < n; r++) {
        const s = (idx ? idx[from + r] : from + r) * C;
        for (let j = 0; j < C; j++, d++) {
          const v = data[s + j];
          if (!(v >= 0 && v <= 1)) throw new ValueError(`${this.name}.${what}: target [${s / C}, ${j}] is ${v}; expected probabilities in [0, 1]`);
          dst[d] = v;
        }
      }
    } else {
      const dst = this.be.viewI32(this.arena!.labels, n);
      for (let r = 0; r < n; r++) dst[r] = y[idx ? idx[from + r] : from + r];
    }
  }

  private forward(n: number, training: boolean): void {
    for (const l of this.layers) l.forward(n, training);
  }

  /** Loss sum and correct count for the batch in the arena; writes the fused gradient when grad. */
  private lossOf(y: Int32Array | Tensor, n: number, grad: boolean): [number, number] {
    const a = this.arena!, k = this.be.k, L = this.layers.length, C = this.classes;
    const probs = a.act[L];
    const dlog = !grad ? 0 : this.layers[L - 1] instanceof Softmax ? a.grad[L - 1] : a.grad[L];
    if (y instanceof Tensor) return [k.softmax_xent_dense(probs, a.targets, dlog, n, C, 1 / n), k.count_correct_dense(probs, a.targets, n, C)];
    return [k.softmax_xent_sparse(probs, a.labels, dlog, n, C, 1 / n), k.count_correct_sparse(probs, a.labels, n, C)];
  }

  private backward(n: number, inputGrad: boolean): void {
    const L = this.layers.length;
    const start = this.layers[L - 1] instanceof Softmax ? L - 2 : L - 1;
    for (let i = start; i >= 0; i--) this.layers[i].backward(n, i > 0 || inputGrad);
  }

  private requireCompiled(what: string): Optimizer {
    this.alive(what);
    if (!this.optimizer || !this.loss) throw new StateError(`${this.name}.${what}: compile the model first, e.g. model.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy'})`);
    return this.optimizer;
  }

  /**
   * One optimizer step on the batch in the arena; returns [loss sum, correct]. With limits, a step that
   * diverges is not taken: the loss and gradients are judged before the update, the new weights right
   * after it (then the copy taken before it is put back), so the weights stay those from before that step.
   */
  private step(y: Int32Array | Tensor, n: number, limits: DivergenceLimits | undefined, stepNo: number, what: string, monitor?: LossMonitor): [number, number] {
    const opt = this.optimizer!;
    this.forward(n, true);
    const [loss, correct] = this.lossOf(y, n, true);
    const diverged = (why: string, undone = false) => new DivergenceError(`${this.name}.${what}: ${why} at step ${stepNo}; the weights are those from before that step${undone ? ' (the update was undone)' : ''}. Try a lower learning rate (now ${opt.getConfig().learningRate}) or check the inputs`);
    if (!Number.isFinite(loss)) throw diverged(`the loss became ${loss}`);
    const rise = monitor?.observe(loss / n);
    if (rise) throw diverged(rise);
    this.backward(n, false);
    this.ensureState(opt);
    const apply = () => opt.apply(this.be, this.paramBlock, this.gradBlock, this.stateBlocks, this.paramFloats);
    if (!limits) {
      apply();
      this.weightBound = NaN;
      return [loss, correct];
    }
    const g = this.be.k.maxabs_f32(this.gradBlock, this.paramFloats);
    if (!(g <= limits.maxAbs)) throw diverged(Number.isFinite(g) ? `a gradient reached ${g.toPrecision(3)} (limit ${limits.maxAbs})` : 'the gradients became non-finite');
    // While a running bound on |w| (the last measured maximum plus each update's largest move, as the
    // optimizer bounds it) stays under the limit, the update cannot break it: no copy, no pass over the weights.
    const move = opt.maxUpdate(g);
    if (this.weightBound + move <= limits.maxAbs) {
      apply();
      this.weightBound = (this.weightBound + move) * (1 + 2 ** -20); // float32 rounding of w - lr*g
      return [loss, correct];
    }
    this.saveUndo();
    apply();
    const w = this.be.k.maxabs_f32(this.paramBlock, this.paramFloats);
    if (!(w <= limits.maxAbs)) {
      this.restoreUndo();
      opt.iterations--;
      throw diverged(Number.isFinite(w) ? `a weight reached ${w.toPrecision(3)} (limit ${limits.maxAbs})` : 'the weights became non-finite', true);
    }
    this.weightBound = w;
    return [loss, correct];
  }

  /** The optimizer's state blocks, each the size of the parameter block. */
  private ensureState(opt: Optimizer): void {
    const bytes = this.paramFloats * 4;
    while (this.stateBlocks.length < opt.slots) this.stateBlocks.push(this.be.alloc(bytes, `${this.name} optimizer state`));
    if (this.stateBlocks.length !== opt.slots || this.stateBlocks.some((b) => this.be.sizeOf(b) !== bytes)) {
      throw new SimdcnnError(`${this.name}: the optimizer state does not match the parameter layout (internal error)`);
    }
  }

  /** The blocks one update changes: weights, then each optimizer slot. */
  private updatedBlocks(): number[] {
    return [this.paramBlock, ...this.stateBlocks];
  }
  private saveUndo(): void {
    if (!this.undoBlock) this.undoBlock = this.be.alloc(this.paramFloats * 4 * (1 + this.optimizer!.slots), `${this.name} undo copy of the weights`);
    this.updatedBlocks().forEach((b, k) => this.be.copy(this.undoBlock + k * this.paramFloats * 4, b, this.paramFloats));
  }
  private restoreUndo(): void {
    this.updatedBlocks().forEach((b, k) => this.be.copy(b, this.undoBlock + k * this.paramFloats * 4, this.paramFloats));
  }

  /**
   * Trains on x, y. While it runs, fit, compile, setWeights, setOptimizerState and trainOnBatch on this
   * model throw StateError; predict, evaluate and save work (also from callbacks). dispose() stops the
   * run after the current step: the memory is freed at once and the returned promise rejects with a
   * StateError.
   */
  async fit(x: Tensor, y: Labels, args: FitArgs = {}): Promise<History> {
    this._be ??= await getBackend();
    this.requireCompiled('fit');
    this.idle('fit');
    const drop = this.layers.find((l) => l instanceof Dropout && l.rate > 0);
    if (drop) throw new StateError(`${this.name}.fit: layer '${drop.name}' is Dropout with rate ${(drop as Dropout).rate}; simdcnn runs Dropout at inference only, so training would silently differ. Remove it (or use rate 0) to train`);
    const src = this.checkX(x, 'fit');
    const N = src.N;
    const labels = this.checkY(y, N, 'fit');
    const epochs = this.positiveInt(args.epochs ?? 1, 'epochs', 'fit');
    const batchSize = this.positiveInt(args.batchSize ?? 32, 'batchSize', 'fit');
    const check = args.checkFinite ?? true;
    const inputLimit = check ? limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', `${this.name}.fit`) : 0;
    const limits = check ? divergenceLimits(args.divergence, `${this.name}.fit`) : undefined;
    let val: [Source, Int32Array | Tensor] | undefined;
    if (args.validationData) {
      const [vx, vy] = args.validationData;
      const vsrc = this.checkX(vx, 'fit validationData');
      val = [vsrc, this.checkY(vy, vsrc.N, 'fit validationData')];
    }
    if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new ValueError(`${this.name}.fit: seed must be an integer, received ${args.seed}`);
    const cb: Callbacks = { ...args.callbacks, ...pickCallbacks(args) };
    const shuffleRng = args.seed !== undefined ? new Rng(args.seed) : this.rng;
    const yieldEvery = args.yieldEvery ?? 100;
    const monitor = limits ? new LossMonitor(limits.lossFactor) : undefined;
    this.plan(Math.min(batchSize, N));
    const history: History = { epoch: [], history: { loss: [], acc: [] } };
    this.stopTraining = false;
    this.training = true;
    let epoch = 0, batch = 0;
    // Callbacks run user code: after each, a model disposed meanwhile ends the run before memory is touched.
    const after = async (p: unknown) => {
      await p;
      if (this.disposed) throw new StateError(`${this.name}.fit: the model was disposed during training (epoch ${epoch}, batch ${batch}); training stopped after that step and the model's memory was freed`);
    };
    try {
      let lastYield = now();
      let stepNo = 0;
      await after(cb.onTrainBegin?.());
      for (; epoch < epochs && !this.stopTraining; epoch++) {
        await after(cb.onEpochBegin?.(epoch));
        const idx = args.shuffle === false ? null : shuffleRng.permutation(N);
        let lossSum = 0, correct = 0, seen = 0;
        batch = 0;
        for (let from = 0; from < N && !this.stopTraining; batch++, from += batchSize) {
          const n = Math.min(batchSize, N - from);
          if (cb.onBatchBegin) await after(cb.onBatchBegin(batch));
          this.loadBatch(src, idx, from, n, inputLimit, batch);
          this.loadTargets(labels, N, idx, from, n, 'fit');
          const [l, c] = this.step(labels, n, limits, ++stepNo, 'fit', monitor);
          lossSum += l; correct += c; seen += n;
          if (cb.onBatchEnd) await after(cb.onBatchEnd(batch, { loss: l / n, acc: c / n, size: n }));
          if (now() - lastYield >= yieldEvery) { await after(yieldToEventLoop()); lastYield = now(); }
        }
        const logs: Logs = { loss: lossSum / seen, acc: correct / seen };
        if (val) {
          const r = this.evaluateChecked(val[0], val[1], batchSize, inputLimit);
          logs.val_loss = r.loss;
          logs.val_acc = r.accuracy;
        }
        history.epoch.push(epoch);
        for (const [k, v] of Object.entries(logs)) ((history.history as Record<string, number[]>)[k] ??= []).push(v as number);
        await after(cb.onEpochEnd?.(epoch, logs));
      }
      await after(cb.onTrainEnd?.());
    } finally {
      this.training = false;
    }
    return history;
  }

  /** One synchronous optimizer step on exactly this batch (no shuffling); returns its mean loss and accuracy. */
  trainOnBatch(x: Tensor, y: Labels): { loss: number; acc: number } {
    this.idle('trainOnBatch');
    const { n, labels } = this.loadWholeBatch(x, y, 'trainOnBatch');
    const [l, c] = this.step(labels, n, DEFAULT_DIVERGENCE, this.optimizer!.iterations + 1, 'trainOnBatch');
    return { loss: l / n, acc: c / n };
  }

  /** Validates a compiled model's batch and copies all of it (in order) into the arena. */
  private loadWholeBatch(x: Tensor, y: Labels, what: string): { n: number; labels: Int32Array | Tensor } {
    this.requireCompiled(what);
    const src = this.checkX(x, what);
    const n = src.N;
    const labels = this.checkY(y, n, what);
    this.plan(n);
    this.loadBatch(src, null, 0, n, DEFAULT_MAX_INPUT_ABS, 0);
    this.loadTargets(labels, n, null, 0, n, what);
    return { n, labels };
  }

  evaluate(x: Tensor, y: Labels, args: InferenceArgs = {}): { loss: number; accuracy: number } {
    this.alive('evaluate');
    const src = this.checkX(x, 'evaluate');
    const labels = this.checkY(y, src.N, 'evaluate');
    const batchSize = this.positiveInt(args.batchSize ?? 32, 'batchSize', 'evaluate');
    return this.evaluateChecked(src, labels, batchSize, limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', `${this.name}.evaluate`));
  }

  private evaluateChecked(src: Source, labels: Int32Array | Tensor, batchSize: number, limit: number): { loss: number; accuracy: number } {
    const N = src.N;
    this.plan(Math.min(batchSize, N));
    let loss = 0, correct = 0;
    for (let b = 0, from = 0; from < N; b++, from += batchSize) {
      const n = Math.min(batchSize, N - from);
      this.loadBatch(src, null, from, n, limit, b);
      this.loadTargets(labels, N, null, from, n, src.what);
      this.forward(n, false);
      const [l, c] = this.lossOf(labels, n, false);
      loss += l; correct += c;
    }
    return { loss: loss / N, accuracy: correct / N };
  }

  predict(x: Tensor, args: InferenceArgs = {}): Tensor {
    this.alive('predict');
    const src = this.checkX(x, 'predict');
    const batchSize = this.positiveInt(args.batchSize ?? 32, 'batchSize', 'predict');
    const limit = limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', `${this.name}.predict`);
    const N = src.N;
    const outShape = this.layers[this.layers.length - 1].outputShape;
    const row = shapeSize(outShape);
    const out = new Float32Array(N * row);
    this.plan(Math.min(batchSize, N));
    const L = this.layers.length;
    for (let b = 0, from = 0; from < N; b++, from += batchSize) {
      const n = Math.min(batchSize, N - from);
      this.loadBatch(src, null, from, n, limit, b);
      this.forward(n, false);
      out.set(this.be.view(this.arena!.act[L], n * row), from * row);
    }
    return new Tensor(out, [N, ...outShape]);
  }

  /**
   * Vector-Jacobian product: runs forward on x and back-propagates dy (same shape as the output)
   * without touching the weights. Returns dL/dx and the parameter gradients in getWeights order.
   */
  vjp(x: Tensor, dy: Tensor): { dx: Tensor; grads: Float32Array[] } {
    this.alive('vjp');
    const src = this.checkX(x, 'vjp');
    const n = src.N;
    const L = this.layers.length;
    const out = this.layers[L - 1].outputShape;
    if (!(dy instanceof Tensor) || dy.shape.length !== out.length + 1 || dy.shape[0] !== n || out.some((d, i) => dy.shape[i + 1] !== d)) {
      throw new ShapeError(`${this.name}.vjp: expected dy of shape ${formatShape([n, ...out])}, received ${dy instanceof Tensor ? formatShape(dy.shape) : String(dy)}`);
    }
    const dyData = Float32Array.from(dy.data);
    if (dyData.length !== n * shapeSize(out)) throw new ShapeError(`${this.name}.vjp: dy has shape ${formatShape(dy.shape)} (${n * shapeSize(out)} values) but its data holds ${dyData.length}`);
    const a = this.plan(n);
    this.loadBatch(src, null, 0, n, DEFAULT_MAX_INPUT_ABS, 0);
    const fused = this.layers.map((l) => l.fusedSoftmaxGrad);
    this.layers.forEach((l) => (l.fusedSoftmaxGrad = false));
    try {
      this.forward(n, true);
      this.be.write(a.grad[L], dyData);
      for (let i = L - 1; i >= 0; i--) this.layers[i].backward(n, true);
    } finally {
      this.layers.forEach((l, i) => (l.fusedSoftmaxGrad = fused[i]));
    }
    const dx = new Tensor(this.be.read(a.grad[0], n * src.row), [n, ...this.layers[0].inputShape]);
    return { dx, grads: this.readBlock(this.gradBlock) };
  }

  /** Mean loss over the batch and its gradients w.r.t. every weight (getWeights order); weights unchanged. */
  computeGradients(x: Tensor, y: Labels): { loss: number; grads: Float32Array[] } {
    const { n, labels } = this.loadWholeBatch(x, y, 'computeGradients');
    this.forward(n, true);
    const [l] = this.lossOf(labels, n, true);
    this.backward(n, false);
    return { loss: l / n, grads: this.readBlock(this.gradBlock) };
  }

  private readBlock(block: number): Float32Array[] {
    const out: Float32Array[] = [];
    this.layers.forEach((l, i) => l.params.forEach((p, j) => out.push(this.be.read(block + this.paramOffsets[i][j] * 4, shapeSize(p.shape)))));
    return out;
  }

  /** Copies of the weights, per layer kernel then bias, as Keras orders them. */
  getWeights(): Float32Array[] {
    this.alive('getWeights');
    this.ensureBuilt();
    return this.readBlock(this.paramBlock);
  }

  /** Names and shapes of the weights, in getWeights order (e.g. conv2d/kernel [3,3,1,8]). */
  weightSpecs(): { name: string; shape: number[] }[] {
    this.ensureBuilt();
    return this.layers.flatMap((l) => l.params.map((p) => ({ name: `${l.name}/${p.name}`, shape: p.shape.slice() })));
  }

  setWeights(weights: (Float32Array | Tensor | ArrayLike<number>)[]): void {
    this.idle('setWeights');
    this.ensureBuilt();
    const specs = this.weightSpecs();
    if (!Array.isArray(weights) || weights.length !== specs.length) {
      throw new ValueError(`${this.name}.setWeights: expected ${specs.length} arrays (${specs.map((s) => s.name).join(', ')}), received ${Array.isArray(weights) ? weights.length : typeof weights}`);
    }
    // Copies first: what is checked is exactly what gets written, whatever getters the arrays have.
    const arrays = weights.map((w, i) => {
      const raw = w instanceof Tensor ? w.data : w;
      const want = shapeSize(specs[i].shape);
      const d = raw && typeof raw === 'object' && typeof raw.length === 'number' ? Float32Array.from(raw) : undefined;
      if (!d || d.length !== want) throw new ShapeError(`${this.name}.setWeights: ${specs[i].name} expects ${want} values ${formatShape(specs[i].shape)}, received ${d ? d.length : String(raw)}`);
      if (w instanceof Tensor && formatShape(w.shape) !== formatShape(specs[i].shape)) throw new ShapeError(`${this.name}.setWeights: ${specs[i].name} expects shape ${formatShape(specs[i].shape)}, received ${formatShape(w.shape)}`);
      for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j])) throw new ValueError(`${this.name}.setWeights: ${specs[i].name}[${j}] is ${d[j]}; expected finite numbers`);
      return d;
    });
    this.idle('setWeights'); // the arrays' getters ran user code
    this.weightBound = NaN;
    let k = 0;
    this.layers.forEach((l, i) => l.params.forEach((_, j) => this.be.write(this.paramBlock + this.paramOffsets[i][j] * 4, arrays[k++])));
  }

  countParams(): number {
    this.ensureBuilt();
    return this.layers.reduce((s, l) => s + l.countParams(), 0);
  }

  /** Prints and returns a table of layers, output shapes and parameter counts. */
  summary(print: (line: string) => void = console.log): string {
    this.alive('summary');
    this.ensureBuilt();
    const rows = this.layers.map((l) => [`${l.name} (${l.className})`, formatShape([null, ...l.outputShape]), String(l.countParams())]);
    const w = [Math.max(28, ...rows.map((r) => r[0].length + 2)), Math.max(24, ...rows.map((r) => r[1].length + 2)), 10];
    const line = (c: string) => c.repeat(w[0] + w[1] + w[2]);
    const fmt = (r: string[]) => r[0].padEnd(w[0]) + r[1].padEnd(w[1]) + r[2];
    const total = this.countParams();
    const out = [
      `Model: "${this.name}"`, line('_'), fmt(['Layer (type)', 'Output shape', 'Param #']), line('='),
      ...rows.map(fmt), line('='),
      `Total params: ${total.toLocaleString('en-US')}`, `Trainable params: ${total.toLocaleString('en-US')}`, 'Non-trainable params: 0', line('_'),
    ].join('\n');
    print(out);
    return out;
  }

  /**
   * Returns the model's wasm memory to the backend; the model cannot be used afterwards. During fit (from
   * a callback, or while it yields) the memory is freed at once and fit stops after its current step.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.arena) this.be.release(this.arena.block);
    this.releaseState();
    if (this.built) {
      this.be.release(this.paramBlock);
      this.be.release(this.gradBlock);
    }
    this.arena = undefined;
  }

  /** Bytes of wasm memory the model holds: weights, gradients, optimizer state, activations. */
  get memoryBytes(): number {
    const blocks = [this.arena?.block, this.undoBlock, ...this.stateBlocks, ...(this.built && !this.disposed ? [this.paramBlock, this.gradBlock] : [])];
    return blocks.reduce<number>((s, b) => s + (b ? this.be.sizeOf(b) ?? 0 : 0), 0);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Copies of the optimizer's state blocks (parameter-block layout), for saving. */
  getOptimizerState(): Float32Array[] {
    this.alive('getOptimizerState');
    return this.stateBlocks.map((b) => this.be.read(b, this.paramFloats));
  }

  /**
   * Restores saved optimizer state so training resumes exactly where it stopped: one block per optimizer
   * slot (none resets it), each in the parameter-block layout of this model (built first if need be).
   */
  setOptimizerState(slots: Float32Array[], iterations: number): void {
    const opt = this.requireCompiled('setOptimizerState');
    this.idle('setOptimizerState');
    this.ensureBuilt();
    const where = `${this.name}.setOptimizerState`;
    if (!Array.isArray(slots)) throw new ValueError(`${where}: expected an array of state blocks, received ${typeof slots}`);
    if (slots.length !== 0 && slots.length !== opt.slots) throw new ValueError(`${where}: ${opt.className} keeps ${opt.slots} state blocks, received ${slots.length}`);
    const copies = slots.map((s) => (s && typeof s === 'object' && typeof s.length === 'number' ? Float32Array.from(s) : undefined));
    if (copies.some((c) => c?.length !== this.paramFloats)) throw new ShapeError(`${where}: each state block must hold ${this.paramFloats} floats (this model's parameter layout), received ${copies.map((c) => c?.length ?? 'none').join(', ')}`);
    copies.forEach((c, k) => {
      const at = c!.findIndex((v) => !Number.isFinite(v));
      if (at >= 0) throw new ValueError(`${where}: state block ${k} holds ${c![at]} at ${at}; expected finite numbers`);
    });
    if (!Number.isSafeInteger(iterations) || iterations < 0) throw new ValueError(`${where}: iterations must be a non-negative integer, received ${iterations}`);
    this.idle('setOptimizerState'); // the arrays' getters ran user code
    const blocks: number[] = [];
    try {
      for (const c of copies) { const b = this.be.alloc(this.paramFloats * 4, `${this.name} optimizer state`); blocks.push(b); this.be.write(b, c!); }
    } catch (e) {
      for (const b of blocks) this.be.release(b);
      throw e;
    }
    for (const b of this.stateBlocks) this.be.release(b);
    this.stateBlocks = blocks;
    opt.iterations = iterations;
  }

  /**
   * Saves in the TensorFlow.js layers format (model.json + weights) with the optimizer state as an extra
   * file: a directory or file:// path in Node; 'downloads://name', 'indexeddb://key' in the browser; no
   * target (or 'memory://') returns {modelJson, weights, ...} objects.
   */
  async save(target?: SaveTarget, opts: SaveOptions = {}): Promise<SaveResult> {
    this.alive('save');
    if (!saver) throw new StateError(`${this.name}.save: no model writer loaded; import simdcnn (not its internal modules)`);
    return saver(this, target, opts);
  }
}

type Saver = (model: Sequential, target: SaveTarget, opts: SaveOptions) => Promise<SaveResult>;
let saver: Saver | undefined;
/** io/registry.ts hands its saveModel in here: model.ts importing it would close an import cycle through io/format.ts. */
export function setModelSaver(fn: Saver): void {
  saver = fn;
}

function pickCallbacks(a: FitArgs): Callbacks {
  const out: Callbacks = {};
  for (const k of ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const) {
    if (a[k]) (out as Record<string, unknown>)[k] = a[k];
  }
  return out;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
const yieldToEventLoop = () => new Promise<void>((r) => setTimeout(r, 0));

