// What fit and fitDataset share, as TF.js's training loops share it: the lifecycle (while a run is on,
// calls that change the model wait; dispose() ends it after the current step), callbacks and their epoch
// logs and history, initialEpoch, the per-step input checks and divergence limits, class weights, and
// yielding to the event loop. fit feeds it index ranges of arrays, fitDataset batches from a Dataset.
import {
  DEFAULT_MAX_INPUT_ABS,
  type DivergenceLimits,
  type DivergenceOptions,
  divergenceLimits,
  limitOption,
  LossMonitor,
} from '../divergence.js';
import { StateError, ValueError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { classesOf } from './evaluation.js';
import type { Runtime } from './runtime.js';
import { checkTrainable, type Compiled, idle, requireCompiled, running, type TrainHost } from './state.js';
import { step } from './step.js';
import type { IOShapes } from './validation.js';

export interface Logs {
  loss?: number;
  acc?: number;
  val_loss?: number;
  val_acc?: number;
  [k: string]: number | undefined;
}

export interface BatchLogs {
  loss: number;
  /** Only for losses with an accuracy (the crossentropies). */
  acc?: number;
  size: number;
}

export interface Callbacks {
  /** Called with the model before onTrainBegin (Keras's set_model): callback classes keep it. */
  setModel?: (model: TrainHost) => void;
  onTrainBegin?: () => void | Promise<void>;
  onTrainEnd?: () => void | Promise<void>;
  onEpochBegin?: (epoch: number) => void | Promise<void>;
  /** Logs: the epoch's mean loss and accuracy over its samples (absent if it ran no batch), val_loss/val_acc after validation. */
  onEpochEnd?: (epoch: number, logs: Logs) => void | Promise<void>;
  onBatchBegin?: (batch: number) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: BatchLogs) => void | Promise<void>;
}

/** Weight of each class's samples in the loss, by class index: {0: 1, 1: 5} or [1, 5]. */
export type ClassWeight = Record<number, number> | readonly number[];

/** The options fit and fitDataset share. */
export interface LoopArgs extends Callbacks {
  epochs?: number;
  /** Epoch to start at (TF.js: for resuming): epochs initialEpoch..epochs-1 run. Default 0. */
  initialEpoch?: number;
  /** Callback objects or classes (EarlyStopping, ModelCheckpoint, ...), called in this order, then the on* options. */
  callbacks?: Callbacks | Callbacks[];
  /**
   * Per-sample loss weights by class, as TF.js applies them: each sample's loss is multiplied by its class's
   * weight and the batch loss stays the mean over its samples; every class present in the data needs one.
   */
  classWeight?: ClassWeight;
  /**
   * Per-step checks (default true): inputs finite and within maxInputAbs; the loss, gradients and weights
   * watched for divergence. false turns all of them off.
   */
  checkFinite?: boolean;
  /** Inputs with a larger magnitude are refused with a DataError (default 1e6; Infinity allows any finite value). */
  maxInputAbs?: number;
  /** When training gives up with a DivergenceError (defaults: lossFactor 4, maxAbs 1e8). */
  divergence?: DivergenceOptions;
  /** Yield to the event loop at most this often, in ms, so pages and progress bars stay live. */
  yieldEvery?: number;
}

export interface History {
  epoch: number[];
  history: { loss: number[]; acc?: number[]; val_loss?: number[]; val_acc?: number[]; [k: string]: number[] | undefined };
}

const CALLBACKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

export class TrainingRun {
  readonly c: Compiled;
  readonly rt: Runtime;
  readonly io: IOShapes;
  readonly classes: number;
  readonly where: string;
  /** Largest |input| accepted per step (0: unchecked). */
  readonly inputLimit: number;
  readonly epochs: number;
  readonly history: History;
  epoch = 0;
  batch = 0;
  private readonly limits?: DivergenceLimits;
  private readonly monitor?: LossMonitor;
  private readonly cb: Callbacks = {};
  private readonly callbacks: Callbacks[];
  private readonly yieldEvery: number;
  private readonly initialEpoch: number;
  /** One weight per class (NaN: not given), when classWeight is. */
  readonly classWeight?: Float64Array;
  private weights = { block: 0, capacity: 0 };
  private stepNo = 0;
  private lastYield = now();
  private sums = { loss: 0, correct: 0, seen: 0 };

  /** Checks the model and the shared options, before anything runs. */
  constructor(
    readonly host: TrainHost,
    args: LoopArgs,
    readonly what: string,
  ) {
    this.c = requireCompiled(host, what);
    idle(host, what);
    this.rt = host.runtime(what);
    this.io = host.ioShapes();
    checkTrainable(host, this.rt, what);
    this.where = `${host.name}.${what}`;
    this.classes = classesOf(this.io);
    this.history = { epoch: [], history: this.c.loss.hasAccuracy ? { loss: [], acc: [] } : { loss: [] } };
    this.epochs = intOption(args.epochs ?? 1, 'epochs', this.where, 1);
    this.initialEpoch = intOption(args.initialEpoch ?? 0, 'initialEpoch', this.where, 0);
    const check = args.checkFinite ?? true;
    this.inputLimit = check ? limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', this.where) : 0;
    this.limits = check ? divergenceLimits(args.divergence, this.where) : undefined;
    this.monitor = this.limits ? new LossMonitor(this.limits.lossFactor) : undefined;
    this.callbacks = [...(Array.isArray(args.callbacks) ? args.callbacks : args.callbacks ? [args.callbacks] : []), args];
    for (const k of CALLBACKS) {
      const fs = this.callbacks.filter((c) => typeof c[k] === 'function');
      // One hook calling each callback's in turn; after each, the model may have been disposed meanwhile.
      if (fs.length)
        (this.cb as Record<string, unknown>)[k] = async (...a: unknown[]) => {
          for (const c of fs) await this.after((c[k] as (...x: unknown[]) => unknown).apply(c, a));
        };
    }
    this.yieldEvery = args.yieldEvery ?? 100;
    // A single sigmoid unit still has two classes, 0 and 1.
    if (args.classWeight !== undefined) this.classWeight = classWeights(args.classWeight, Math.max(this.classes, 2), this.where);
  }

  /** Callbacks run user code: after each, a model disposed meanwhile ends the run before memory is touched. */
  async after<T>(p: T | Promise<T>): Promise<T> {
    const v = await p;
    if (this.host.isDisposed)
      throw new StateError(
        `${this.where}: the model was disposed during training (epoch ${this.epoch}, batch ${this.batch}); training stopped after that step and the model's memory was freed`,
      );
    return v;
  }

  /** Runs epochs initialEpoch..epochs-1 through `epoch`, which trains one and returns its validation logs. */
  async run(epoch: (e: number) => Promise<Logs | undefined>): Promise<History> {
    const { host, cb } = this;
    host.stopTraining = false;
    running.add(host);
    try {
      for (const c of this.callbacks) c.setModel?.(host);
      await this.after(cb.onTrainBegin?.());
      for (this.epoch = this.initialEpoch; this.epoch < this.epochs; this.epoch++) {
        await this.after(cb.onEpochBegin?.(this.epoch));
        this.sums = { loss: 0, correct: 0, seen: 0 };
        this.batch = 0;
        const val = await epoch(this.epoch);
        const { loss, correct, seen } = this.sums;
        const acc = this.c.loss.hasAccuracy ? { acc: correct / seen } : {};
        const logs: Logs = seen ? { loss: loss / seen, ...acc, ...val } : { ...val };
        await this.after(cb.onEpochEnd?.(this.epoch, logs));
        // After the callbacks, as Keras's History: what they add to the logs (learning_rate) is kept too.
        this.history.epoch.push(this.epoch);
        for (const [k, v] of Object.entries(logs)) (this.history.history[k] ??= []).push(v as number);
        if (host.stopTraining) break;
      }
      await this.after(cb.onTrainEnd?.());
    } finally {
      running.delete(host);
      if (this.weights.block) this.rt.be.release(this.weights.block);
    }
    return this.history;
  }

  async beginBatch(): Promise<void> {
    if (this.cb.onBatchBegin) await this.after(this.cb.onBatchBegin(this.batch));
  }

  /**
   * One optimizer step on the n samples already in the arena, rows idx[from..from+n) (or from..from+n) of
   * `labels` (for class weights), then the batch's callback and, now and then, a yield to the event loop.
   */
  async step(n: number, labels: Int32Array | Tensor, idx: Int32Array | null, from: number): Promise<void> {
    const w = this.classWeight ? this.sampleWeights(n, labels, idx, from) : 0;
    const [l, k] = step(this.host, this.rt, this.c, n, this.io, this.limits, ++this.stepNo, this.what, this.monitor, w);
    this.sums.loss += l;
    this.sums.correct += k;
    this.sums.seen += n;
    const logs = this.c.loss.hasAccuracy ? { loss: l / n, acc: k / n, size: n } : { loss: l / n, size: n };
    if (this.cb.onBatchEnd) await this.after(this.cb.onBatchEnd(this.batch, logs));
    this.batch++;
    if (now() - this.lastYield >= this.yieldEvery) {
      await this.after(yieldToEventLoop());
      this.lastYield = now();
    }
  }

  /** Each row's class weight in a wasm buffer of its own (grown with the batch). */
  private sampleWeights(n: number, labels: Int32Array | Tensor, idx: Int32Array | null, from: number): number {
    const be = this.rt.be;
    if (this.weights.capacity < n) {
      if (this.weights.block) be.release(this.weights.block);
      this.weights = { block: be.alloc(n * 4, `${this.host.name} class weights of a batch`), capacity: n };
    }
    const dst = be.view(this.weights.block, n);
    for (let r = 0; r < n; r++) dst[r] = this.weightOf(classOfRow(labels, idx ? idx[from + r] : from + r));
    return this.weights.block;
  }

  /** A class's weight; TF.js's error when classWeight leaves it out. */
  weightOf(k: number): number {
    const v = Number.isInteger(k) ? this.classWeight![k] : undefined;
    if (v === undefined || Number.isNaN(v))
      throw new ValueError(
        `${this.where}: classWeight must contain all classes in the training data. The class ${k} exists in the data but not in classWeight`,
      );
    return v;
  }
}

/**
 * Row i's class as TF.js finds it for class weights: its label, the first largest target (tf.argMax) of a
 * row of several, or the value of a single target (binary); targets of rank > 2 have none.
 */
export function classOfRow(labels: Int32Array | Tensor, i: number): number {
  if (!(labels instanceof Tensor)) return labels[i];
  if (labels.shape.length > 2)
    throw new ValueError(`class weights need targets of rank 1 or 2 (one class per sample); received targets [${labels.shape}]`);
  const C = labels.shape[1],
    d = labels.data;
  if (C === 1) return d[i];
  let best = 0;
  for (let j = 1; j < C; j++) if (d[i * C + j] > d[i * C + best]) best = j;
  return best;
}

/** classWeight as one number per class (NaN: not given); values must be finite and >= 0. */
function classWeights(cw: ClassWeight, classes: number, where: string): Float64Array {
  if (cw === null || typeof cw !== 'object')
    throw new ValueError(`${where}: classWeight must map class indices to weights, e.g. {0: 1, 1: 5}; received ${String(cw)}`);
  const out = new Float64Array(classes).fill(NaN);
  for (const [key, v] of Object.entries(cw)) {
    const k = Number(key);
    if (!Number.isInteger(k) || k < 0 || k >= classes)
      throw new ValueError(`${where}: classWeight has class '${key}'; the model has classes 0 to ${classes - 1}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new ValueError(`${where}: classWeight[${key}] is ${v}; expected a finite number >= 0`);
    out[k] = v;
  }
  return out;
}

function intOption(v: unknown, what: string, where: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new ValueError(`${where}: ${what} must be a ${min ? 'positive' : 'non-negative'} integer, received ${JSON.stringify(v)}`);
  return v;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
const yieldToEventLoop = () => new Promise<void>((r) => setTimeout(r, 0));
