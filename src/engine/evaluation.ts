// Inference over a model's runtime: predict and evaluate (also fit's validation), in batches, with the
// same input checks as training.
import { DEFAULT_MAX_INPUT_ABS, limitOption } from '../divergence.js';
import { shapeSize, Tensor } from '../tensor.js';
import { parallelForward } from '../threads/evaluate.js';
import { parallelPredict } from '../threads/inference.js';
import { getLoss, type Loss } from './losses.js';
import type { Runtime } from './runtime.js';
import { INFER, type TrainHost } from './state.js';
import { checkX, checkY, dataOf, type IOShapes, type Labels, positiveInt, type Source } from './validation.js';

/** Options of predict and evaluate. */
export interface InferenceArgs {
  batchSize?: number;
  /** Inputs with a larger magnitude are refused with a DataError (default 1e6; Infinity allows any finite value). */
  maxInputAbs?: number;
}

/**
 * Loss sum and correct count (NaN without a metric) of the batch in the arena (samples weighted by `weights`
 * unless 0); writes the output gradient when grad, of the mean over `meanOver` samples (a chunk of a
 * larger batch passes the batch's size).
 */
export function lossOf(
  rt: Runtime,
  loss: Loss,
  n: number,
  io: IOShapes,
  grad: boolean,
  fused: boolean,
  weights = 0,
  meanOver = n,
): [number, number] {
  const a = rt.current!,
    D = shapeSize(io.output),
    C = io.output[io.output.length - 1];
  const l = loss.lossSum(rt.be, a.output, a, weights, grad ? a.outputGrad : 0, n, D, C, fused, meanOver);
  return [l, loss.correct(rt.be, a.output, a, n, D, C) ?? NaN];
}

export const classesOf = (s: IOShapes) => s.output[s.output.length - 1];

/** The metric's fields for logs and evaluate: accuracy where the loss has one. */
export const withAccuracy = <T extends object>(loss: Loss, base: T, acc: number) => (loss.hasAccuracy ? { ...base, accuracy: acc } : base);

export function evaluate(host: TrainHost, x: Tensor, y: Labels, args: InferenceArgs = {}): { loss: number; accuracy?: number } {
  const io = host.ioShapes();
  host.runtime('evaluate');
  const src = checkX(x, io, 'evaluate');
  const loss = host.compiled?.loss;
  const labels = checkY(y, src.N, io, loss, 'evaluate');
  const where = `${host.name}.evaluate`;
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', where);
  const limit = limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', where);
  return evaluateChecked(
    host,
    src,
    labels,
    batchSize,
    limit,
    loss ?? getLoss(labels instanceof Tensor ? 'categoricalCrossentropy' : 'sparseCategoricalCrossentropy', host.name),
  );
}

export function evaluateChecked(
  host: TrainHost,
  src: Source,
  labels: Int32Array | Tensor,
  batchSize: number,
  limit: number,
  loss: Loss,
): { loss: number; accuracy?: number } {
  const rt = host.runtime('evaluate'),
    io = host.ioShapes(),
    N = src.N,
    fused = host.compiled?.loss === loss && host.compiled.fused;
  rt.ensure(Math.min(batchSize, N), INFER);
  let sum = 0,
    correct = 0;
  for (let b = 0, from = 0; from < N; b++, from += batchSize) {
    const n = Math.min(batchSize, N - from);
    const data = dataOf(src, io);
    host.runtime(src.what);
    rt.loadInput(data, src.row, null, from, n, limit, src.what, b);
    rt.loadTargets(labels, N, null, from, n, src.what, loss.probabilityTargets);
    if (!parallelForward(rt, n, io)) rt.forward(n, false);
    const [l, k] = lossOf(rt, loss, n, io, false, fused);
    sum += l;
    correct += k;
  }
  return withAccuracy(loss, { loss: sum / N }, correct / N);
}

/** predict(): the model's output for x, in batches. */
export function predict(host: TrainHost, x: Tensor, args: InferenceArgs = {}): Tensor {
  const rt = host.runtime('predict'),
    io = host.ioShapes();
  const src = checkX(x, io, 'predict');
  const where = `${host.name}.predict`;
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize', where);
  const limit = limitOption(args.maxInputAbs, DEFAULT_MAX_INPUT_ABS, 'maxInputAbs', where);
  const N = src.N,
    row = shapeSize(io.output);
  const out = new Float32Array(N * row);
  for (let b = 0, from = 0; from < N; b++, from += batchSize) {
    const n = Math.min(batchSize, N - from);
    const data = dataOf(src, io);
    host.runtime('predict'); // reading x.data runs user code (a getter) that may have disposed the model
    if (parallelPredict(rt, data, src.row, from, n, limit, b, out, row)) continue;
    // Planned only for batches this thread runs: split ones run in the parts' arenas.
    const a = rt.ensure(n, INFER);
    rt.loadInput(data, src.row, null, from, n, limit, 'predict', b);
    rt.forward(n, false);
    out.set(rt.be.view(a.output, n * row), from * row);
  }
  return new Tensor(out, [N, ...io.output]);
}
