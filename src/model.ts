// Sequential: owns the model's arena in wasm memory and runs training and inference over it.
import { type Backend, currentBackend, getBackend, MAX_MEMORY_BYTES } from './backend.js';
import { DivergenceError, MemoryError, ShapeError, StateError, ValueError } from './errors.js';
import { initialize } from './initializers.js';
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
  /** Check inputs, loss and gradients for NaN/Infinity (default true). */
  checkFinite?: boolean;
  /** Yield to the event loop at most this often, in ms, so pages and progress bars stay live. */
  yieldEvery?: number;
}

export interface History {
  epoch: number[];
  history: { loss: number[]; acc: number[]; val_loss?: number[]; val_acc?: number[] };
}

const ALIGN_FLOATS = 16;
const alignF = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

interface Arena {
  capacity: number;
  block: number;
  act: number[];
  grad: number[];
  labels: number;
  targets: number;
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
    this.paramOffsets = [];
    let total = 0;
    for (const l of this.layers) {
      this.paramOffsets.push(l.params.map((p) => { const o = total; total += alignF(shapeSize(p.shape)); return o; }));
    }
    this.paramFloats = Math.max(total, ALIGN_FLOATS);
    const bytes = this.paramFloats * 4;
    this.paramBlock = this.be.alloc(bytes, `${this.name} weights`);
    try {
      this.gradBlock = this.be.alloc(bytes, `${this.name} gradients`);
    } catch (e) {
      this.be.release(this.paramBlock);
      throw e;
    }
    this.layers.forEach((l, i) => l.params.forEach((p, j) => {
      const v = new Float32Array(shapeSize(p.shape));
      initialize(v, p.init, p.fanIn, p.fanOut, this.rng);
      this.be.write(this.paramBlock + this.paramOffsets[i][j] * 4, v);
    }));
    this.built = true;
  }

  compile(args: CompileArgs): void {
    this.alive('compile');
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
    for (const s of this.stateBlocks) this.be.release(s);
    this.stateBlocks = [];
    this.optimizer = optimizer;
    this.loss = args.loss;
  }

  private alive(what: string): void {
    if (this.disposed) throw new StateError(`${this.name}.${what}: the model has been disposed`);
  }

  /** Builds from the declared input shape, else from the first data seen. */
  private ensureBuilt(x?: Tensor): void {
    if (!this.built) this.build(this.layers[0]?.declaredInputShape ?? (x ? x.shape.slice(1) : undefined));
  }

  /** Places activations and their gradients for batches of up to `capacity` samples. */
  private plan(capacity: number): Arena {
    if (this.arena && this.arena.capacity >= capacity) return this.arena;
    const L = this.layers.length;
    const sizes = [shapeSize(this.layers[0].inputShape), ...this.layers.map((l) => shapeSize(l.outputShape))];
    let off = 0;
    const take = (floats: number) => { const o = off; off += alignF(floats); return o; };
    const act: number[] = [take(capacity * sizes[0])];
    const grad: number[] = [take(capacity * sizes[0])];
    const extra: number[] = [];
    let scratch = 0;
    for (let i = 0; i < L; i++) {
      const l = this.layers[i];
      act.push(l.aliasesInput ? act[i] : take(capacity * sizes[i + 1]));
      grad.push(l.aliasesInput ? grad[i] : take(capacity * sizes[i + 1]));
      extra.push(take((capacity * l.extraBytesPerSample()) / 4));
      scratch = Math.max(scratch, l.scratchFloats());
    }
    const scratchOff = take(scratch);
    const labels = take(capacity);
    const targets = take(capacity * sizes[L]);
    const bytes = off * 4;
    if (bytes + this.be.allocatedBytes > MAX_MEMORY_BYTES) {
      throw new MemoryError(`${this.name}: batches of ${capacity} need ${(bytes / 2 ** 20).toFixed(0)} MiB of activations, more than wasm memory allows (${(MAX_MEMORY_BYTES / 2 ** 20).toFixed(0)} MiB); use a smaller batch size`);
    }
    const block = this.be.alloc(bytes, `${this.name} activations for batch ${capacity}`);
    if (this.arena) this.be.release(this.arena.block);
    const p = (o: number) => block + o * 4;
    this.layers.forEach((l, i) => l.bind(this.be, {
      x: p(act[i]), y: p(act[i + 1]), dx: p(grad[i]), dy: p(grad[i + 1]),
      params: this.paramOffsets[i].map((o) => this.paramBlock + o * 4),
      grads: this.paramOffsets[i].map((o) => this.gradBlock + o * 4),
      extra: p(extra[i]), scratch: p(scratchOff), scratchFloats: scratch,
    }));
    this.arena = { capacity, block, act: act.map(p), grad: grad.map(p), labels: p(labels), targets: p(targets) };
    return this.arena;
  }

  private checkX(x: Tensor, what: string): void {
    if (!(x instanceof Tensor)) throw new ValueError(`${this.name}.${what}: x must be a Tensor (use tensor(data, shape)), received ${x === null ? 'null' : typeof x}`);
    this.ensureBuilt(x);
    const want = this.layers[0].inputShape;
    if (x.shape.length !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d)) {
      throw new ShapeError(`${this.layers[0].name} (${this.layers[0].className}): expected input shape ${formatShape([null, ...want])}, received ${formatShape(x.shape)}`);
    }
    if (x.shape[0] < 1) throw new ShapeError(`${this.name}.${what}: x has no samples (shape ${formatShape(x.shape)})`);
    if (!(x.data instanceof Float32Array)) throw new ValueError(`${this.name}.${what}: x.data must be a Float32Array, received ${Object.prototype.toString.call(x.data)}`);
    if (x.data.length !== shapeSize(x.shape)) throw new ShapeError(`${this.name}.${what}: x has shape ${formatShape(x.shape)} (${shapeSize(x.shape)} values) but its data holds ${x.data.length}`);
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

  /** Copies samples idx[from..from+n) (or from..from+n) of x into the input buffer and checks them. */
  private loadBatch(x: Tensor, idx: Int32Array | null, from: number, n: number, check: boolean, what: string): void {
    const a = this.arena!;
    const row = x.data.length / x.shape[0];
    const f32 = this.be.f32;
    const base = a.act[0] >> 2;
    if (!idx) f32.set(x.data.subarray(from * row, (from + n) * row), base);
    else for (let r = 0; r < n; r++) { const i = idx[from + r]; f32.set(x.data.subarray(i * row, (i + 1) * row), base + r * row); }
    if (check && this.be.k.count_nonfinite(a.act[0], n * row) > 0) {
      const v = f32.subarray(base, base + n * row);
      const at = v.findIndex((t) => !Number.isFinite(t));
      const sample = idx ? idx[from + Math.floor(at / row)] : from + Math.floor(at / row);
      throw new ValueError(`${this.name}.${what}: x[${sample}] contains ${v[at]} at offset ${at % row}; expected finite numbers`);
    }
  }

  private loadTargets(y: Int32Array | Tensor, idx: Int32Array | null, from: number, n: number): void {
    const a = this.arena!;
    if (y instanceof Tensor) {
      const C = y.shape[1];
      const f32 = this.be.f32;
      // Rows of a few floats: a plain copy costs less than a subarray view per sample.
      for (let r = 0, d = a.targets >> 2; r < n; r++) {
        const s = (idx ? idx[from + r] : from + r) * C;
        for (let j = 0; j < C; j++) f32[d++] = y.data[s + j];
      }
    } else {
      const i32 = this.be.i32;
      for (let r = 0; r < n; r++) i32[(a.labels >> 2) + r] = y[idx ? idx[from + r] : from + r];
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

  /** One optimizer step on the batch in the arena; returns [loss sum, correct]. Weights stay untouched on failure. */
  private step(y: Int32Array | Tensor, n: number, check: boolean, stepNo: number): [number, number] {
    const opt = this.optimizer!;
    this.forward(n, true);
    const [loss, correct] = this.lossOf(y, n, true);
    if (!Number.isFinite(loss)) {
      throw new DivergenceError(`${this.name}.fit: the loss became ${loss} at step ${stepNo}; the weights were left as they were before that step. Try a lower learning rate (now ${opt.getConfig().learningRate}) or check the inputs`);
    }
    this.backward(n, false);
    if (check && this.be.k.count_nonfinite(this.gradBlock, this.paramFloats) > 0) {
      throw new DivergenceError(`${this.name}.fit: the gradients became non-finite at step ${stepNo}; the weights were left as they were before that step. Try a lower learning rate (now ${opt.getConfig().learningRate})`);
    }
    if (this.stateBlocks.length !== opt.slots) {
      for (let s = this.stateBlocks.length; s < opt.slots; s++) this.stateBlocks.push(this.be.alloc(this.paramFloats * 4, `${this.name} optimizer state`));
    }
    opt.apply(this.be, this.paramBlock, this.gradBlock, this.stateBlocks, this.paramFloats);
    return [loss, correct];
  }

  async fit(x: Tensor, y: Labels, args: FitArgs = {}): Promise<History> {
    this._be ??= await getBackend();
    this.requireCompiled('fit');
    const drop = this.layers.find((l) => l instanceof Dropout && l.rate > 0);
    if (drop) throw new StateError(`${this.name}.fit: layer '${drop.name}' is Dropout with rate ${(drop as Dropout).rate}; simdcnn runs Dropout at inference only, so training would silently differ. Remove it (or use rate 0) to train`);
    this.checkX(x, 'fit');
    const N = x.shape[0];
    const labels = this.checkY(y, N, 'fit');
    const epochs = this.positiveInt(args.epochs ?? 1, 'epochs', 'fit');
    const batchSize = this.positiveInt(args.batchSize ?? 32, 'batchSize', 'fit');
    const check = args.checkFinite ?? true;
    let val: [Tensor, Int32Array | Tensor] | undefined;
    if (args.validationData) {
      const [vx, vy] = args.validationData;
      this.checkX(vx, 'fit validationData');
      val = [vx, this.checkY(vy, vx.shape[0], 'fit validationData')];
    }
    if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new ValueError(`${this.name}.fit: seed must be an integer, received ${args.seed}`);
    const cb: Callbacks = { ...args.callbacks, ...pickCallbacks(args) };
    const shuffleRng = args.seed !== undefined ? new Rng(args.seed) : this.rng;
    const yieldEvery = args.yieldEvery ?? 100;
    this.plan(Math.min(batchSize, N));
    const history: History = { epoch: [], history: { loss: [], acc: [] } };
    this.stopTraining = false;
    let lastYield = now();
    let stepNo = 0;
    await cb.onTrainBegin?.();
    for (let epoch = 0; epoch < epochs && !this.stopTraining; epoch++) {
      await cb.onEpochBegin?.(epoch);
      const idx = args.shuffle === false ? null : shuffleRng.permutation(N);
      let lossSum = 0, correct = 0, seen = 0;
      for (let b = 0, from = 0; from < N && !this.stopTraining; b++, from += batchSize) {
        const n = Math.min(batchSize, N - from);
        if (cb.onBatchBegin) await cb.onBatchBegin(b);
        this.loadBatch(x, idx, from, n, check, 'fit');
        this.loadTargets(labels, idx, from, n);
        const [l, c] = this.step(labels, n, check, ++stepNo);
        lossSum += l; correct += c; seen += n;
        if (cb.onBatchEnd) await cb.onBatchEnd(b, { loss: l / n, acc: c / n, size: n });
        if (now() - lastYield >= yieldEvery) { await yieldToEventLoop(); lastYield = now(); }
      }
      const logs: Logs = { loss: lossSum / seen, acc: correct / seen };
      if (val) {
        const r = this.evaluateChecked(val[0], val[1], batchSize);
        logs.val_loss = r.loss;
        logs.val_acc = r.accuracy;
      }
      history.epoch.push(epoch);
      for (const [k, v] of Object.entries(logs)) ((history.history as Record<string, number[]>)[k] ??= []).push(v as number);
      await cb.onEpochEnd?.(epoch, logs);
    }
    await cb.onTrainEnd?.();
    return history;
  }

  /** One synchronous optimizer step on exactly this batch (no shuffling); returns its mean loss and accuracy. */
  trainOnBatch(x: Tensor, y: Labels): { loss: number; acc: number } {
    const { n, labels } = this.loadWholeBatch(x, y, 'trainOnBatch');
    const [l, c] = this.step(labels, n, true, (this.optimizer!.iterations ?? 0) + 1);
    return { loss: l / n, acc: c / n };
  }

  /** Validates a compiled model's batch and copies all of it (in order) into the arena. */
  private loadWholeBatch(x: Tensor, y: Labels, what: string): { n: number; labels: Int32Array | Tensor } {
    this.requireCompiled(what);
    this.checkX(x, what);
    const n = x.shape[0];
    const labels = this.checkY(y, n, what);
    this.plan(n);
    this.loadBatch(x, null, 0, n, true, what);
    this.loadTargets(labels, null, 0, n);
    return { n, labels };
  }

  evaluate(x: Tensor, y: Labels, args: { batchSize?: number } = {}): { loss: number; accuracy: number } {
    this.alive('evaluate');
    this.checkX(x, 'evaluate');
    const labels = this.checkY(y, x.shape[0], 'evaluate');
    return this.evaluateChecked(x, labels, this.positiveInt(args.batchSize ?? 32, 'batchSize', 'evaluate'));
  }

  private evaluateChecked(x: Tensor, labels: Int32Array | Tensor, batchSize: number): { loss: number; accuracy: number } {
    const N = x.shape[0];
    this.plan(Math.min(batchSize, N));
    let loss = 0, correct = 0;
    for (let from = 0; from < N; from += batchSize) {
      const n = Math.min(batchSize, N - from);
      this.loadBatch(x, null, from, n, true, 'evaluate');
      this.loadTargets(labels, null, from, n);
      this.forward(n, false);
      const [l, c] = this.lossOf(labels, n, false);
      loss += l; correct += c;
    }
    return { loss: loss / N, accuracy: correct / N };
  }

  predict(x: Tensor, args: { batchSize?: number } = {}): Tensor {
    this.alive('predict');
    this.checkX(x, 'predict');
    const batchSize = this.positiveInt(args.batchSize ?? 32, 'batchSize', 'predict');
    const N = x.shape[0];
    const outShape = this.layers[this.layers.length - 1].outputShape;
    const row = shapeSize(outShape);
    const out = new Float32Array(N * row);
    this.plan(Math.min(batchSize, N));
    const L = this.layers.length;
    for (let from = 0; from < N; from += batchSize) {
      const n = Math.min(batchSize, N - from);
      this.loadBatch(x, null, from, n, true, 'predict');
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
    this.checkX(x, 'vjp');
    const n = x.shape[0];
    const L = this.layers.length;
    const out = this.layers[L - 1].outputShape;
    if (dy.shape.length !== out.length + 1 || dy.shape[0] !== n || out.some((d, i) => dy.shape[i + 1] !== d)) {
      throw new ShapeError(`${this.name}.vjp: expected dy of shape ${formatShape([n, ...out])}, received ${formatShape(dy.shape)}`);
    }
    const a = this.plan(n);
    this.loadBatch(x, null, 0, n, true, 'vjp');
    const fused = this.layers.map((l) => l.fusedSoftmaxGrad);
    this.layers.forEach((l) => (l.fusedSoftmaxGrad = false));
    try {
      this.forward(n, true);
      this.be.write(a.grad[L], dy.data);
      for (let i = L - 1; i >= 0; i--) this.layers[i].backward(n, true);
    } finally {
      this.layers.forEach((l, i) => (l.fusedSoftmaxGrad = fused[i]));
    }
    const dx = new Tensor(this.be.read(a.grad[0], x.data.length), x.shape);
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
    this.alive('setWeights');
    this.ensureBuilt();
    const specs = this.weightSpecs();
    if (!Array.isArray(weights) || weights.length !== specs.length) {
      throw new ValueError(`${this.name}.setWeights: expected ${specs.length} arrays (${specs.map((s) => s.name).join(', ')}), received ${Array.isArray(weights) ? weights.length : typeof weights}`);
    }
    const arrays = weights.map((w, i) => {
      const d = w instanceof Tensor ? w.data : w;
      const want = shapeSize(specs[i].shape);
      if (!d || d.length !== want) throw new ShapeError(`${this.name}.setWeights: ${specs[i].name} expects ${want} values ${formatShape(specs[i].shape)}, received ${d ? d.length : String(d)}`);
      if (w instanceof Tensor && formatShape(w.shape) !== formatShape(specs[i].shape)) throw new ShapeError(`${this.name}.setWeights: ${specs[i].name} expects shape ${formatShape(specs[i].shape)}, received ${formatShape(w.shape)}`);
      for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j])) throw new ValueError(`${this.name}.setWeights: ${specs[i].name}[${j}] is ${d[j]}; expected finite numbers`);
      return d;
    });
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

  /** Returns the model's wasm memory to the backend; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    if (this.arena) this.be.release(this.arena.block);
    for (const s of this.stateBlocks) this.be.release(s);
    if (this.built) {
      this.be.release(this.paramBlock);
      this.be.release(this.gradBlock);
    }
    this.arena = undefined;
    this.stateBlocks = [];
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Copies of the optimizer's state blocks (parameter-block layout), for saving. */
  getOptimizerState(): Float32Array[] {
    return this.stateBlocks.map((b) => this.be.read(b, this.paramFloats));
  }

  /** Restores saved optimizer state so training resumes exactly where it stopped. */
  setOptimizerState(slots: Float32Array[], iterations: number): void {
    const opt = this.requireCompiled('setOptimizerState');
    if (slots.length !== 0 && slots.length !== opt.slots) throw new ValueError(`${this.name}.setOptimizerState: ${opt.className} keeps ${opt.slots} state blocks, received ${slots.length}`);
    if (slots.some((s) => s.length !== this.paramFloats)) throw new ShapeError(`${this.name}.setOptimizerState: each state block must hold ${this.paramFloats} floats, received ${slots.map((s) => s.length).join(', ')}`);
    if (!Number.isInteger(iterations) || iterations < 0) throw new ValueError(`${this.name}.setOptimizerState: iterations must be a non-negative integer, received ${iterations}`);
    for (const b of this.stateBlocks) this.be.release(b);
    this.stateBlocks = slots.map((s) => { const b = this.be.alloc(this.paramFloats * 4, `${this.name} optimizer state`); this.be.write(b, s); return b; });
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

