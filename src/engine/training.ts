// Training over a model's runtime: fit on arrays (validationSplit, classWeight, initialEpoch as TF.js has
// them; the loop itself is src/engine/loop.ts), trainOnBatch and the gradients (computeGradients, vjp).
// The loss fuses with the output layer's final activation; the optimizer updates only the trainable runs.
import { DEFAULT_DIVERGENCE, DEFAULT_MAX_INPUT_ABS } from '../divergence.js';
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../random.js';
import { formatShape, shapeSize, Tensor } from '../tensor.js';
import { evaluateChecked, lossOf } from './evaluation.js';
import { classOfRow, type History, type LoopArgs, TrainingRun } from './loop.js';
import { isTrainable } from './plan.js';
import { regularize } from './regularization.js';
import type { Runtime } from './runtime.js';
import { checkTrainable, type Compiled, idle, requireCompiled, TRAIN, type TrainHost } from './state.js';
import { step } from './step.js';
import { trainingArena } from '../threads/chunked.js';
import { checkX, checkY, dataOf, type Labels, positiveInt, type Source } from './validation.js';

export type { BatchLogs, Callbacks, ClassWeight, History, Logs, LoopArgs } from './loop.js';

export interface FitArgs extends LoopArgs {
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of this run's shuffling; by default the model's generator continues. */
  seed?: number;
  /** Evaluated after every epoch that ran all its batches; validationSplit is ignored when this is given. */
  validationData?: [Tensor, Labels];
  /**
   * Hold out the LAST fraction of x and y (taken before any shuffling, as TF.js does) and evaluate on it
   * after every epoch; 0 < validationSplit < 1.
   */
  validationSplit?: number;
}

// ------------------------------------------------------------------------------------------- fit

/**
 * Trains on x, y. While it runs, fit, compile, setWeights, setOptimizerState and trainOnBatch on this
 * model throw StateError; predict, evaluate and save work (also from callbacks). dispose() stops the
 * run after the current step: the memory is freed at once and the returned promise rejects with a
 * StateError.
 */
export async function fit(host: TrainHost, x: Tensor, y: Labels, args: FitArgs = {}): Promise<History> {
  const run = new TrainingRun(host, args, 'fit');
  const { c, rt, io, where } = run;
  let src = checkX(x, io, 'fit');
  let labels = checkY(y, src.N, io, c.loss, 'fit');
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', where);
  let val: [Source, Int32Array | Tensor] | undefined;
  if (args.validationData) {
    const [vx, vy] = args.validationData;
    const vsrc = checkX(vx, io, 'fit validationData');
    val = [vsrc, checkY(vy, vsrc.N, io, c.loss, 'fit validationData')];
  } else if (args.validationSplit !== undefined) {
    [src, labels, val] = splitLast(src, labels, args.validationSplit, where);
  }
  if (args.seed !== undefined && !Number.isInteger(args.seed))
    throw new ValueError(`${where}: seed must be an integer, received ${args.seed}`);
  const N = src.N;
  if (run.classWeight) checkClassesWeighted(run, labels);
  const shuffleRng = args.seed !== undefined ? new Rng(args.seed) : host.rng;
  return run.run(async () => {
    const idx = args.shuffle === false ? null : shuffleRng.permutation(N);
    let from = 0;
    for (; from < N && !host.stopTraining; from += batchSize) {
      const n = Math.min(batchSize, N - from);
      await run.beginBatch();
      const data = dataOf(src, io);
      host.runtime('fit'); // reading x.data runs user code (a getter) that may have disposed the model
      // Callbacks may predict or evaluate in between: the arena is checked before every step.
      trainingArena(rt, Math.min(batchSize, N), n);
      rt.loadInput(data, src.row, idx, from, n, run.inputLimit, 'fit', run.batch);
      rt.loadTargets(labels, N, idx, from, n, 'fit', c.loss.probabilityTargets);
      await run.step(n, labels, idx, from);
    }
    // As in TF.js, validation belongs to an epoch that ran all its batches.
    if (!val || from < N) return undefined;
    const r = evaluateChecked(host, val[0], val[1], batchSize, run.inputLimit, c.loss);
    return c.loss.hasAccuracy ? { val_loss: r.loss, val_acc: r.accuracy } : { val_loss: r.loss };
  });
}

/** TF.js's validationSplit: samples [floor(N * (1 - split)), N) validate, the rest trains. */
function splitLast(
  src: Source,
  labels: Int32Array | Tensor,
  split: number,
  where: string,
): [Source, Int32Array | Tensor, [Source, Int32Array | Tensor]] {
  if (typeof split !== 'number' || !(split > 0 && split < 1))
    throw new ValueError(`${where}: validationSplit must be in [0, 1) (a fraction of the samples), received ${split}`);
  const at = Math.floor(src.N * (1 - split));
  if (at < 1) throw new ValueError(`${where}: validationSplit ${split} of ${src.N} samples leaves no sample for training`);
  const part = (a: number, b: number): [Source, Int32Array | Tensor] => [
    { ...src, x: src.x.slice(a, b), N: b - a },
    labels instanceof Tensor ? labels.slice(a, b) : labels.subarray(a, b),
  ];
  const [trainSrc, trainLabels] = part(0, at);
  return [trainSrc, trainLabels, part(at, src.N)];
}

/** TF.js checks fit's class weights against all of y before training starts. */
function checkClassesWeighted(run: TrainingRun, labels: Int32Array | Tensor): void {
  const n = labels instanceof Tensor ? labels.shape[0] : labels.length;
  for (let i = 0; i < n; i++) run.weightOf(classOfRow(labels, i));
}

/** Validates a compiled model's batch and copies all of it (in order) into a training arena (for a step: maybe a staging one). */
function loadWholeBatch(host: TrainHost, x: Tensor, y: Labels, what: string, forStep = false): { c: Compiled; n: number; rt: Runtime } {
  const c = requireCompiled(host, what);
  const rt = host.runtime(what),
    io = host.ioShapes();
  const src = checkX(x, io, what);
  const n = src.N;
  const labels = checkY(y, n, io, c.loss, what);
  if (forStep) trainingArena(rt, n, n);
  else rt.ensure(n, TRAIN);
  rt.loadInput(dataOf(src, io), src.row, null, 0, n, DEFAULT_MAX_INPUT_ABS, what, 0);
  rt.loadTargets(labels, n, null, 0, n, what, c.loss.probabilityTargets);
  return { c, n, rt };
}

/** One synchronous optimizer step on exactly this batch (no shuffling); returns its mean loss and accuracy. */
export function trainOnBatch(host: TrainHost, x: Tensor, y: Labels): { loss: number; acc?: number } {
  idle(host, 'trainOnBatch');
  const { c, n, rt } = loadWholeBatch(host, x, y, 'trainOnBatch', true);
  checkTrainable(host, rt, 'trainOnBatch');
  const [l, k] = step(host, rt, c, n, host.ioShapes(), DEFAULT_DIVERGENCE, c.optimizer.iterations + 1, 'trainOnBatch');
  return c.loss.hasAccuracy ? { loss: l / n, acc: k / n } : { loss: l / n };
}

/** Mean loss over the batch (with the regularizers' penalty) and its gradients w.r.t. every weight (getWeights order; zeros for frozen ones); weights unchanged. */
export function computeGradients(host: TrainHost, x: Tensor, y: Labels): { loss: number; grads: Float32Array[] } {
  const { c, n, rt } = loadWholeBatch(host, x, y, 'computeGradients');
  rt.forward(n, true);
  const [l] = lossOf(rt, c.loss, n, host.ioShapes(), true, c.fused);
  rt.backward(n, c.fused);
  const penalty = regularize(rt, true);
  return { loss: l / n + penalty, grads: readGrads(rt) };
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
