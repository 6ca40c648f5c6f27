// Training over a model's runtime: fit (with its lifecycle and divergence checks), trainOnBatch and the
// gradients (computeGradients, vjp). The loss fuses with the output layer's final activation; the optimizer
// updates only the trainable runs of the weights.
import {
  DEFAULT_DIVERGENCE,
  DEFAULT_MAX_INPUT_ABS,
  type DivergenceLimits,
  type DivergenceOptions,
  divergenceLimits,
  limitOption,
  LossMonitor,
} from '../divergence.js';
import { DivergenceError, ShapeError, SimdcnnError, StateError, ValueError } from '../errors.js';
import { Rng } from '../random.js';
import { formatShape, shapeSize, Tensor } from '../tensor.js';
import { classesOf, evaluateChecked, lossOf } from './evaluation.js';
import { isTrainable, noteWeightsWritten, type Run } from './plan.js';
import type { Runtime } from './runtime.js';
import { checkTrainable, type Compiled, idle, requireCompiled, running, TRAIN, type TrainHost } from './state.js';
import { checkX, checkY, dataOf, type Labels, positiveInt, type Source } from './validation.js';

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

export interface History {
  epoch: number[];
  history: { loss: number[]; acc: number[]; val_loss?: number[]; val_acc?: number[] };
}

// ------------------------------------------------------------------------------------------- one step

/** The largest |value| over the runs, of the weights or of their gradients (plain loops: this runs every step). */
function maxAbs(rt: Runtime, runs: Run[], of: 'weights' | 'gradients'): number {
  let m = 0;
  for (const r of runs) m = Math.max(m, rt.be.k.maxabs_f32(of === 'weights' ? r.ptr : rt.gradBlock + r.offset * 4, r.floats));
  return m;
}

function update(rt: Runtime, c: Compiled, runs: Run[]): void {
  c.optimizer.apply(rt.be, runs, rt.gradBlock, c.states);
  noteWeightsWritten();
}

function diverged(host: TrainHost, c: Compiled, what: string, stepNo: number, why: string, undone = false): DivergenceError {
  return new DivergenceError(
    `${host.name}.${what}: ${why} at step ${stepNo}; the weights are those from before that step${undone ? ' (the update was undone)' : ''}. Try a lower learning rate (now ${c.optimizer.getConfig().learningRate}) or check the inputs`,
  );
}

/** The optimizer's state blocks, each the size of the gradient block. */
function ensureState(host: TrainHost, rt: Runtime, c: Compiled): void {
  const bytes = rt.params.floats * 4;
  while (c.states.length < c.optimizer.slots) c.states.push(rt.be.alloc(bytes, `${host.name} optimizer state`));
  if (c.states.length !== c.optimizer.slots || c.states.some((b) => rt.be.sizeOf(b) !== bytes)) {
    throw new SimdcnnError(`${host.name}: the optimizer state does not match the parameter layout (internal error)`);
  }
}

/** Copies (or puts back) the trainable runs of the weights and of every state block. */
function undoCopy(rt: Runtime, c: Compiled, runs: Run[], restore: boolean): void {
  const floats = runs.reduce((s, r) => s + r.floats, 0);
  const bytes = floats * 4 * (1 + c.states.length);
  if (!restore && c.undo && rt.be.sizeOf(c.undo)! < bytes) {
    rt.be.release(c.undo);
    c.undo = 0;
  }
  if (!c.undo) c.undo = rt.be.alloc(bytes, `${rt.name} undo copy of the weights`);
  let at = c.undo;
  for (const base of [(r: Run) => r.ptr, ...c.states.map((s) => (r: Run) => s + r.offset * 4)]) {
    for (const r of runs) {
      if (restore) rt.be.copy(base(r), at, r.floats);
      else rt.be.copy(at, base(r), r.floats);
      at += r.floats * 4;
    }
  }
}

/**
 * One optimizer step on the batch in the arena; returns [loss sum, correct]. With limits, a step that
 * diverges is not taken: the loss and gradients are judged before the update, the new weights right
 * after it (then the copy taken before it is put back), so the weights stay those from before that step.
 */
function step(
  host: TrainHost,
  rt: Runtime,
  c: Compiled,
  n: number,
  C: number,
  limits: DivergenceLimits | undefined,
  stepNo: number,
  what: string,
  monitor?: LossMonitor,
): [number, number] {
  rt.forward(n, true);
  const [loss, correct] = lossOf(rt, c.loss, n, C, true);
  if (!Number.isFinite(loss)) throw diverged(host, c, what, stepNo, `the loss became ${loss}`);
  const rise = monitor?.observe(loss / n);
  if (rise) throw diverged(host, c, what, stepNo, rise);
  rt.backward(n, true);
  ensureState(host, rt, c);
  const runs = rt.trainableRuns();
  if (!limits) {
    update(rt, c, runs);
    return [loss, correct];
  }
  const g = maxAbs(rt, runs, 'gradients');
  if (!(g <= limits.maxAbs))
    throw diverged(
      host,
      c,
      what,
      stepNo,
      Number.isFinite(g) ? `a gradient reached ${g.toPrecision(3)} (limit ${limits.maxAbs})` : 'the gradients became non-finite',
    );
  // While a running bound on |w| (the last measured maximum plus each update's largest move, as the
  // optimizer bounds it) stays under the limit, the update cannot break it: no copy, no pass over the weights.
  // A stale bound (weights written elsewhere) is measured again first, which costs one pass, not a copy.
  const move = c.optimizer.maxUpdate(g);
  let bound = rt.weightBound;
  if (Number.isNaN(bound) && Number.isFinite(move)) bound = maxAbs(rt, runs, 'weights');
  if (bound + move <= limits.maxAbs) {
    update(rt, c, runs);
    rt.weightBound = (bound + move) * (1 + 2 ** -20); // float32 rounding of w - lr*g
    return [loss, correct];
  }
  undoCopy(rt, c, runs, false);
  update(rt, c, runs);
  const w = maxAbs(rt, runs, 'weights');
  if (!(w <= limits.maxAbs)) {
    undoCopy(rt, c, runs, true);
    c.optimizer.iterations--;
    throw diverged(
      host,
      c,
      what,
      stepNo,
      Number.isFinite(w) ? `a weight reached ${w.toPrecision(3)} (limit ${limits.maxAbs})` : 'the weights became non-finite',
      true,
    );
  }
  rt.weightBound = w;
  return [loss, correct];
}

// ------------------------------------------------------------------------------------------- fit

/**
 * Trains on x, y. While it runs, fit, compile, setWeights, setOptimizerState and trainOnBatch on this
 * model throw StateError; predict, evaluate and save work (also from callbacks). dispose() stops the
 * run after the current step: the memory is freed at once and the returned promise rejects with a
 * StateError.
 */
export async function fit(host: TrainHost, x: Tensor, y: Labels, args: FitArgs = {}): Promise<History> {
  const c = requireCompiled(host, 'fit');
  idle(host, 'fit');
  const rt = host.runtime('fit'),
    io = host.ioShapes();
  checkTrainable(host, rt, 'fit');
  const src = checkX(x, io, 'fit');
  const N = src.N;
  const labels = checkY(y, N, io, c.loss, 'fit');
  const where = `${host.name}.fit`,
    C = classesOf(io);
  const epochs = positiveInt(args.epochs ?? 1, 'epochs', where);
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', where);
  const check = args.checkFinite ?? true;
  const inputLimit = check ? limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', where) : 0;
  const limits = check ? divergenceLimits(args.divergence, where) : undefined;
  let val: [Source, Int32Array | Tensor] | undefined;
  if (args.validationData) {
    const [vx, vy] = args.validationData;
    const vsrc = checkX(vx, io, 'fit validationData');
    val = [vsrc, checkY(vy, vsrc.N, io, c.loss, 'fit validationData')];
  }
  if (args.seed !== undefined && !Number.isInteger(args.seed))
    throw new ValueError(`${where}: seed must be an integer, received ${args.seed}`);
  const cb: Callbacks = { ...args.callbacks, ...pickCallbacks(args) };
  const shuffleRng = args.seed !== undefined ? new Rng(args.seed) : host.rng;
  const yieldEvery = args.yieldEvery ?? 100;
  const monitor = limits ? new LossMonitor(limits.lossFactor) : undefined;
  const history: History = { epoch: [], history: { loss: [], acc: [] } };
  host.stopTraining = false;
  running.add(host);
  let epoch = 0,
    batch = 0;
  // Callbacks run user code: after each, a model disposed meanwhile ends the run before memory is touched.
  const after = async (p: unknown) => {
    await p;
    if (host.isDisposed)
      throw new StateError(
        `${where}: the model was disposed during training (epoch ${epoch}, batch ${batch}); training stopped after that step and the model's memory was freed`,
      );
  };
  try {
    let lastYield = now();
    let stepNo = 0;
    await after(cb.onTrainBegin?.());
    for (; epoch < epochs && !host.stopTraining; epoch++) {
      await after(cb.onEpochBegin?.(epoch));
      const idx = args.shuffle === false ? null : shuffleRng.permutation(N);
      let lossSum = 0,
        correct = 0,
        seen = 0;
      batch = 0;
      for (let from = 0; from < N && !host.stopTraining; batch++, from += batchSize) {
        const n = Math.min(batchSize, N - from);
        if (cb.onBatchBegin) await after(cb.onBatchBegin(batch));
        const data = dataOf(src, io);
        host.runtime('fit'); // reading x.data runs user code (a getter) that may have disposed the model
        // Callbacks may predict or evaluate in between: the arena is checked before every step.
        rt.ensure(Math.min(batchSize, N), TRAIN);
        rt.loadInput(data, src.row, idx, from, n, inputLimit, 'fit', batch);
        rt.loadTargets(labels, N, idx, from, n, 'fit');
        const [l, k] = step(host, rt, c, n, C, limits, ++stepNo, 'fit', monitor);
        lossSum += l;
        correct += k;
        seen += n;
        if (cb.onBatchEnd) await after(cb.onBatchEnd(batch, { loss: l / n, acc: k / n, size: n }));
        if (now() - lastYield >= yieldEvery) {
          await after(yieldToEventLoop());
          lastYield = now();
        }
      }
      const logs: Logs = { loss: lossSum / seen, acc: correct / seen };
      if (val) {
        const r = evaluateChecked(host, val[0], val[1], batchSize, inputLimit, c.loss);
        logs.val_loss = r.loss;
        logs.val_acc = r.accuracy;
      }
      history.epoch.push(epoch);
      for (const [k, v] of Object.entries(logs)) ((history.history as Record<string, number[]>)[k] ??= []).push(v as number);
      await after(cb.onEpochEnd?.(epoch, logs));
    }
    await after(cb.onTrainEnd?.());
  } finally {
    running.delete(host);
  }
  return history;
}

/** Validates a compiled model's batch and copies all of it (in order) into a training arena. */
function loadWholeBatch(host: TrainHost, x: Tensor, y: Labels, what: string): { c: Compiled; n: number; rt: Runtime } {
  const c = requireCompiled(host, what);
  const rt = host.runtime(what),
    io = host.ioShapes();
  const src = checkX(x, io, what);
  const n = src.N;
  const labels = checkY(y, n, io, c.loss, what);
  rt.ensure(n, TRAIN);
  rt.loadInput(dataOf(src, io), src.row, null, 0, n, DEFAULT_MAX_INPUT_ABS, what, 0);
  rt.loadTargets(labels, n, null, 0, n, what);
  return { c, n, rt };
}

/** One synchronous optimizer step on exactly this batch (no shuffling); returns its mean loss and accuracy. */
export function trainOnBatch(host: TrainHost, x: Tensor, y: Labels): { loss: number; acc: number } {
  idle(host, 'trainOnBatch');
  const { c, n, rt } = loadWholeBatch(host, x, y, 'trainOnBatch');
  checkTrainable(host, rt, 'trainOnBatch');
  const [l, k] = step(host, rt, c, n, classesOf(host.ioShapes()), DEFAULT_DIVERGENCE, c.optimizer.iterations + 1, 'trainOnBatch');
  return { loss: l / n, acc: k / n };
}

/** Mean loss over the batch and its gradients w.r.t. every weight (getWeights order; zeros for frozen ones); weights unchanged. */
export function computeGradients(host: TrainHost, x: Tensor, y: Labels): { loss: number; grads: Float32Array[] } {
  const { c, n, rt } = loadWholeBatch(host, x, y, 'computeGradients');
  rt.forward(n, true);
  const [l] = lossOf(rt, c.loss, n, classesOf(host.ioShapes()), true);
  rt.backward(n, true);
  return { loss: l / n, grads: readGrads(rt) };
}

/**
 * Vector-Jacobian product: runs forward on x and back-propagates dy (same shape as the output) without
 * touching the weights. Returns dL/dx and the gradients of the trainable weights in getWeights order.
 */
export function vjp(host: TrainHost, x: Tensor, dy: Tensor): { dx: Tensor; grads: Float32Array[] } {
  const rt = host.runtime('vjp'),
    io = host.ioShapes();
  const src = checkX(x, io, 'vjp');
  const n = src.N,
    out = io.output;
  if (!(dy instanceof Tensor) || dy.shape.length !== out.length + 1 || dy.shape[0] !== n || out.some((d, i) => dy.shape[i + 1] !== d)) {
    throw new ShapeError(
      `${host.name}.vjp: expected dy of shape ${formatShape([n, ...out])}, received ${dy instanceof Tensor ? formatShape(dy.shape) : String(dy)}`,
    );
  }
  const dyData = Float32Array.from(dy.data);
  if (dyData.length !== n * shapeSize(out))
    throw new ShapeError(
      `${host.name}.vjp: dy has shape ${formatShape(dy.shape)} (${n * shapeSize(out)} values) but its data holds ${dyData.length}`,
    );
  const a = rt.ensure(n, { training: true, inputGrad: true });
  rt.loadInput(dataOf(src, io), src.row, null, 0, n, DEFAULT_MAX_INPUT_ABS, 'vjp', 0);
  rt.forward(n, true);
  rt.be.write(a.outputGrad, dyData);
  rt.backward(n, false);
  return { dx: new Tensor(rt.be.read(a.inputGrad, n * src.row), [n, ...io.input]), grads: readGrads(rt) };
}

function readGrads(rt: Runtime): Float32Array[] {
  return rt.params.ordered().map((e) => (isTrainable(e) ? rt.be.read(rt.gradBlock + e.offset * 4, e.size) : new Float32Array(e.size)));
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
