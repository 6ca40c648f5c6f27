// Training and evaluation over a model's runtime: compile, fit, evaluate, trainOnBatch, the gradients
// (computeGradients, vjp) and the optimizer's state. The loss fuses with the output layer's final
// activation; the optimizer updates only the trainable runs of the weights.
import { DivergenceError, ShapeError, StateError, ValueError } from '../errors.js';
import type { Layer } from '../layers/layer.js';
import { getOptimizer, type Optimizer, type OptimizerLike } from '../optimizers.js';
import { Rng } from '../random.js';
import { formatShape, Tensor } from '../tensor.js';
import { getLoss, type Loss, type LossName } from './losses.js';
import { isTrainable } from './plan.js';
import type { Runtime } from './runtime.js';
import { checkX, checkY, type IOShapes, type Labels, positiveInt } from './validation.js';

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

/** What compile() fixed: the optimizer, its state blocks (twins of the gradient block) and the loss. */
export interface Compiled {
  optimizer: Optimizer;
  loss: Loss;
  states: number[];
}

/** What training needs of a model. */
export interface TrainHost {
  readonly name: string;
  readonly rng: Rng;
  stopTraining: boolean;
  compiled?: Compiled;
  /** The built model's runtime; throws if disposed. */
  runtime(what: string): Runtime;
  ioShapes(): IOShapes;
  outputLayer(): Layer;
}

export function compile(host: TrainHost, args: CompileArgs): Compiled {
  const rt = host.runtime('compile');
  if (!args || typeof args !== 'object') throw new ValueError(`${host.name}.compile: expected {optimizer, loss}, received ${String(args)}`);
  const optimizer = getOptimizer(args.optimizer, `${host.name}.compile`);
  const loss = getLoss(args.loss, `${host.name}.compile`);
  const last = host.outputLayer();
  if (last.activation !== loss.fusesWith) {
    throw new ValueError(`${host.name}.compile: loss '${loss.name}' works on probabilities, so the model must end in ${loss.fusesWith} (a Softmax layer or activation: '${loss.fusesWith}'); the last layer is '${last.name}' (${last.className})`);
  }
  for (const s of host.compiled?.states ?? []) rt.be.release(s);
  return { optimizer, loss, states: [] };
}

function requireCompiled(host: TrainHost, what: string): Compiled {
  host.runtime(what);
  if (!host.compiled) throw new StateError(`${host.name}.${what}: compile the model first, e.g. model.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy'})`);
  return host.compiled;
}

/** Loss sum and correct count of the batch in the arena; writes the fused output gradient when grad. */
function lossOf(rt: Runtime, loss: Loss, n: number, C: number, grad: boolean): [number, number] {
  const a = rt.current!;
  return [loss.lossSum(rt.be, a.output, a, grad ? a.outputGrad : 0, n, C), loss.correct(rt.be, a.output, a, n, C)];
}

const classesOf = (s: IOShapes) => s.output[s.output.length - 1];

/** One optimizer step on the batch in the arena; returns [loss sum, correct]. Weights stay untouched on failure. */
function step(host: TrainHost, rt: Runtime, c: Compiled, n: number, C: number, check: boolean, stepNo: number): [number, number] {
  const be = rt.be, opt = c.optimizer;
  rt.forward(n, true);
  const [loss, correct] = lossOf(rt, c.loss, n, C, true);
  if (!Number.isFinite(loss)) {
    throw new DivergenceError(`${host.name}.fit: the loss became ${loss} at step ${stepNo}; the weights were left as they were before that step. Try a lower learning rate (now ${opt.getConfig().learningRate}) or check the inputs`);
  }
  rt.backward(n, true);
  const runs = rt.trainableRuns();
  if (check && runs.some((r) => be.k.count_nonfinite(rt.gradBlock + r.offset * 4, r.floats) > 0)) {
    throw new DivergenceError(`${host.name}.fit: the gradients became non-finite at step ${stepNo}; the weights were left as they were before that step. Try a lower learning rate (now ${opt.getConfig().learningRate})`);
  }
  for (let s = c.states.length; s < opt.slots; s++) c.states.push(be.alloc(rt.params.floats * 4, `${host.name} optimizer state`));
  opt.apply(be, runs, rt.gradBlock, c.states);
  return [loss, correct];
}

const TRAIN = { training: true, inputGrad: false };
const INFER = { training: false, inputGrad: false };

function checkTrainable(host: TrainHost, rt: Runtime): void {
  for (const l of rt.graph.layers) {
    const why = l.trainingBlocker();
    if (why) throw new StateError(`${host.name}.fit: ${why}`);
  }
}

export async function fit(host: TrainHost, x: Tensor, y: Labels, args: FitArgs = {}): Promise<History> {
  const c = requireCompiled(host, 'fit');
  const rt = host.runtime('fit'), io = host.ioShapes();
  checkTrainable(host, rt);
  checkX(x, io, 'fit');
  const N = x.shape[0];
  const labels = checkY(y, N, io, c.loss, 'fit');
  const where = `${host.name}.fit`, C = classesOf(io);
  const epochs = positiveInt(args.epochs ?? 1, 'epochs', where);
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', where);
  const check = args.checkFinite ?? true;
  let val: [Tensor, Int32Array | Tensor] | undefined;
  if (args.validationData) {
    const [vx, vy] = args.validationData;
    checkX(vx, io, 'fit validationData');
    val = [vx, checkY(vy, vx.shape[0], io, c.loss, 'fit validationData')];
  }
  if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new ValueError(`${where}: seed must be an integer, received ${args.seed}`);
  const cb: Callbacks = { ...args.callbacks, ...pickCallbacks(args) };
  const shuffleRng = args.seed !== undefined ? new Rng(args.seed) : host.rng;
  const yieldEvery = args.yieldEvery ?? 100;
  const history: History = { epoch: [], history: { loss: [], acc: [] } };
  host.stopTraining = false;
  let lastYield = now();
  let stepNo = 0;
  await cb.onTrainBegin?.();
  for (let epoch = 0; epoch < epochs && !host.stopTraining; epoch++) {
    await cb.onEpochBegin?.(epoch);
    const idx = args.shuffle === false ? null : shuffleRng.permutation(N);
    let lossSum = 0, correct = 0, seen = 0;
    for (let b = 0, from = 0; from < N && !host.stopTraining; b++, from += batchSize) {
      const n = Math.min(batchSize, N - from);
      if (cb.onBatchBegin) await cb.onBatchBegin(b);
      // Callbacks may predict or evaluate in between: the arena is checked before every step.
      rt.ensure(Math.min(batchSize, N), TRAIN);
      rt.loadInput(x, idx, from, n, check, 'fit');
      rt.loadTargets(labels, idx, from, n);
      const [l, k] = step(host, rt, c, n, C, check, ++stepNo);
      lossSum += l; correct += k; seen += n;
      if (cb.onBatchEnd) await cb.onBatchEnd(b, { loss: l / n, acc: k / n, size: n });
      if (now() - lastYield >= yieldEvery) { await yieldToEventLoop(); lastYield = now(); }
    }
    const logs: Logs = { loss: lossSum / seen, acc: correct / seen };
    if (val) {
      const r = evaluateChecked(host, val[0], val[1], batchSize, c.loss);
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

/** Validates a compiled model's batch and copies all of it (in order) into a training arena. */
function loadWholeBatch(host: TrainHost, x: Tensor, y: Labels, what: string): { c: Compiled; n: number; rt: Runtime } {
  const c = requireCompiled(host, what);
  const rt = host.runtime(what), io = host.ioShapes();
  checkX(x, io, what);
  const n = x.shape[0];
  const labels = checkY(y, n, io, c.loss, what);
  rt.ensure(n, TRAIN);
  rt.loadInput(x, null, 0, n, true, what);
  rt.loadTargets(labels, null, 0, n);
  return { c, n, rt };
}

/** One synchronous optimizer step on exactly this batch (no shuffling); returns its mean loss and accuracy. */
export function trainOnBatch(host: TrainHost, x: Tensor, y: Labels): { loss: number; acc: number } {
  checkTrainable(host, host.runtime('trainOnBatch'));
  const { c, n, rt } = loadWholeBatch(host, x, y, 'trainOnBatch');
  const [l, k] = step(host, rt, c, n, classesOf(host.ioShapes()), true, c.optimizer.iterations + 1);
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
  const rt = host.runtime('vjp'), io = host.ioShapes();
  checkX(x, io, 'vjp');
  const n = x.shape[0], out = io.output;
  if (!(dy instanceof Tensor) || dy.shape.length !== out.length + 1 || dy.shape[0] !== n || out.some((d, i) => dy.shape[i + 1] !== d)) {
    throw new ShapeError(`${host.name}.vjp: expected dy of shape ${formatShape([n, ...out])}, received ${dy instanceof Tensor ? formatShape(dy.shape) : String(dy)}`);
  }
  const a = rt.ensure(n, { training: true, inputGrad: true });
  rt.loadInput(x, null, 0, n, true, 'vjp');
  rt.forward(n, true);
  rt.be.write(a.outputGrad, dy.data);
  rt.backward(n, false);
  return { dx: new Tensor(rt.be.read(a.inputGrad, x.data.length), x.shape), grads: readGrads(rt) };
}

function readGrads(rt: Runtime): Float32Array[] {
  return rt.params.ordered().map((e) => (isTrainable(e) ? rt.be.read(rt.gradBlock + e.offset * 4, e.size) : new Float32Array(e.size)));
}

export function evaluate(host: TrainHost, x: Tensor, y: Labels, args: { batchSize?: number } = {}): { loss: number; accuracy: number } {
  const io = host.ioShapes();
  host.runtime('evaluate');
  checkX(x, io, 'evaluate');
  const loss = host.compiled?.loss;
  const labels = checkY(y, x.shape[0], io, loss, 'evaluate');
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', `${host.name}.evaluate`);
  return evaluateChecked(host, x, labels, batchSize, loss ?? getLoss(labels instanceof Tensor ? 'categoricalCrossentropy' : 'sparseCategoricalCrossentropy', host.name));
}

function evaluateChecked(host: TrainHost, x: Tensor, labels: Int32Array | Tensor, batchSize: number, loss: Loss): { loss: number; accuracy: number } {
  const rt = host.runtime('evaluate'), N = x.shape[0], C = classesOf(host.ioShapes());
  rt.ensure(Math.min(batchSize, N), INFER);
  let sum = 0, correct = 0;
  for (let from = 0; from < N; from += batchSize) {
    const n = Math.min(batchSize, N - from);
    rt.loadInput(x, null, from, n, true, 'evaluate');
    rt.loadTargets(labels, null, from, n);
    rt.forward(n, false);
    const [l, k] = lossOf(rt, loss, n, C, false);
    sum += l; correct += k;
  }
  return { loss: sum / N, accuracy: correct / N };
}

/** Copies of the optimizer's state blocks (gradient-block layout), for saving. */
export function getOptimizerState(host: TrainHost): Float32Array[] {
  const rt = host.runtime('getOptimizerState');
  return (host.compiled?.states ?? []).map((b) => rt.be.read(b, rt.params.floats));
}

/** Restores saved optimizer state so training resumes exactly where it stopped. */
export function setOptimizerState(host: TrainHost, slots: Float32Array[], iterations: number): void {
  const c = requireCompiled(host, 'setOptimizerState');
  const rt = host.runtime('setOptimizerState'), floats = rt.params.floats, opt = c.optimizer;
  if (!Array.isArray(slots) || (slots.length !== 0 && slots.length !== opt.slots)) throw new ValueError(`${host.name}.setOptimizerState: ${opt.className} keeps ${opt.slots} state blocks, received ${Array.isArray(slots) ? slots.length : typeof slots}`);
  if (slots.some((s) => !(s instanceof Float32Array) || s.length !== floats)) throw new ShapeError(`${host.name}.setOptimizerState: each state block must hold ${floats} floats, received ${slots.map((s) => s?.length).join(', ')}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new ValueError(`${host.name}.setOptimizerState: iterations must be a non-negative integer, received ${iterations}`);
  for (const b of c.states) rt.be.release(b);
  c.states = slots.map((s) => { const b = rt.be.alloc(floats * 4, `${host.name} optimizer state`); rt.be.write(b, s); return b; });
  opt.iterations = iterations;
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
