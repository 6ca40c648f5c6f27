// fitDataset and evaluateDataset: training and evaluation on {xs, ys} batches from a Dataset (or any object
// with TF.js's dataset.iterator(), or an async iterable), with TF.js's semantics (tfjs-layers
// engine/training_dataset.js): without batchesPerEpoch an epoch is one fresh pass over the dataset; with
// it, one iterator runs on across epochs, and when it runs dry the epoch ends early with a warning. Every
// batch is checked as fit checks its data (shape, labels, |x| <= maxInputAbs), in the same loop
// (src/engine/loop.ts): lifecycle guard, divergence checks, class weights, initialEpoch, callbacks.
import type { Batch } from '../data/dataset.js';
import { ValueError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { evaluateChecked, lossOf, withAccuracy } from './evaluation.js';
import { getLoss, type Loss } from './losses.js';
import { type History, type Logs, type LoopArgs, TrainingRun } from './loop.js';
import { INFER, type TrainHost } from './state.js';
import { trainingArena } from '../threads/chunked.js';
import { checkX, checkY, dataOf, type Labels, positiveInt, type Source } from './validation.js';

/** A Dataset, anything with TF.js's iterator(), or an async iterable of batches. */
export type BatchSource = { iterator(): Promise<AsyncIterator<Batch>> | AsyncIterator<Batch> } | AsyncIterable<Batch>;

export interface FitDatasetArgs extends LoopArgs {
  /** Required, as in TF.js. */
  epochs: number;
  /** Steps per epoch; the dataset's iterator then runs on across epochs (make it long enough, e.g. with repeat()). */
  batchesPerEpoch?: number;
  /** Evaluated after each epoch that completes: [x, y] arrays, or a dataset of batches. */
  validationData?: [Tensor, Labels] | BatchSource;
  /** Dataset validation: evaluate only this many batches. */
  validationBatches?: number;
  /** Array validation: batch size (default 32). */
  validationBatchSize?: number;
}

export interface EvaluateDatasetArgs {
  /** Evaluate only this many batches. */
  batches?: number;
  /** Inputs with a larger magnitude are refused with a DataError (default 1e6). */
  maxInputAbs?: number;
}

const isSource = (d: unknown): d is BatchSource =>
  d !== null &&
  typeof d === 'object' &&
  (typeof (d as { iterator?: unknown }).iterator === 'function' || typeof (d as AsyncIterable<Batch>)[Symbol.asyncIterator] === 'function');

async function iteratorOf(ds: BatchSource): Promise<AsyncIterator<Batch>> {
  return 'iterator' in ds && typeof ds.iterator === 'function' ? ds.iterator() : (ds as AsyncIterable<Batch>)[Symbol.asyncIterator]();
}

const describe = (v: unknown) => (v === null ? 'null' : v instanceof Tensor ? 'a Tensor' : Array.isArray(v) ? 'an array' : typeof v);

/** A batch from a dataset, checked like fit's data: its x as a Source and its labels. */
function checkBatch(
  host: TrainHost,
  value: unknown,
  loss: Loss | undefined,
  what: string,
  batch: number,
): { src: Source; labels: Int32Array | Tensor } {
  const el = value as Partial<Batch> | null;
  if (el === null || typeof el !== 'object' || el instanceof Tensor || !('xs' in el) || !('ys' in el)) {
    throw new ValueError(`${host.name}.${what}: the dataset must yield {xs, ys} batches, batch ${batch} is ${describe(value)}`);
  }
  const io = host.ioShapes();
  const src = checkX(el.xs as Tensor, io, what);
  return { src, labels: checkY(el.ys as Labels, src.N, io, loss, what) };
}

export async function fitDataset(host: TrainHost, ds: BatchSource, args: FitDatasetArgs): Promise<History> {
  const where = `${host.name}.fitDataset`;
  if (!args || typeof args !== 'object')
    throw new ValueError(`${where}: the second argument (config) is required, with at least { epochs }`);
  if (!(Number.isInteger(args.epochs) && args.epochs > 0))
    throw new ValueError(`${where}: epochs is expected to be a positive integer, but got ${args.epochs}`);
  const bpe = args.batchesPerEpoch;
  if (bpe !== undefined && !(Number.isInteger(bpe) && bpe > 0))
    throw new ValueError(`${where}: batchesPerEpoch is expected to be a positive integer if specified, but got ${bpe}`);
  if ((args as { validationSplit?: unknown }).validationSplit !== undefined)
    throw new ValueError(`${where}: validationSplit is not supported by fitDataset(); use validationData`);
  if (!isSource(ds))
    throw new ValueError(
      `${where}: expected a Dataset (or an object with iterator(), or an async iterable) of {xs, ys} batches, received ${describe(ds)}`,
    );
  const run = new TrainingRun(host, args, 'fitDataset');
  const validate = validation(run, args);
  let it = bpe !== undefined ? await iteratorOf(ds) : undefined;
  return run.run(async () => {
    if (bpe === undefined) it = await iteratorOf(ds);
    for (let steps = 0; ;) {
      const r = await run.after(it!.next());
      if (bpe !== undefined && r.done) {
        console.warn(
          `You provided \`batchesPerEpoch\` as ${bpe}, but your dataset iterator ran out of data after ${steps} batches; interrupting training. Make sure that your dataset can generate at least \`batchesPerEpoch * epochs\` batches (in this case, ${bpe * args.epochs} batches). You may need to use the repeat() function when building your dataset.`,
        );
        return undefined;
      }
      if (r.value != null) {
        await trainOn(run, r.value);
        steps++;
      }
      if (bpe !== undefined ? steps >= bpe : r.done) return validate?.();
      if (host.stopTraining) return undefined;
    }
  });
}

/** One batch from the dataset: checked, copied into the arena, one step. */
async function trainOn(run: TrainingRun, value: unknown): Promise<void> {
  const { host, rt, c, io } = run;
  const { src, labels } = checkBatch(host, value, c.loss, 'fitDataset', run.batch);
  await run.beginBatch();
  const n = src.N,
    data = dataOf(src, io);
  host.runtime('fitDataset'); // reading xs.data runs user code (a getter) that may have disposed the model
  trainingArena(rt, n, n);
  rt.loadInput(data, src.row, null, 0, n, run.inputLimit, 'fitDataset', run.batch);
  rt.loadTargets(labels, n, null, 0, n, 'fitDataset', c.loss.probabilityTargets);
  await run.step(n, labels, null, 0);
}

/** The epoch-end validation fitDataset was given, checked before training starts. */
function validation(run: TrainingRun, args: FitDatasetArgs): (() => Promise<Logs>) | undefined {
  const v = args.validationData,
    { host, c, io, where } = run;
  if (v === undefined) return undefined;
  const logs = (r: { loss: number; accuracy?: number }): Logs =>
    c.loss.hasAccuracy ? { val_loss: r.loss, val_acc: r.accuracy } : { val_loss: r.loss };
  if (isSource(v)) {
    const batches = args.validationBatches;
    if (batches !== undefined && !(Number.isInteger(batches) && batches > 0))
      throw new ValueError(`${where}: validationBatches is expected to be a positive integer if specified, but got ${batches}`);
    return async () => logs(await evaluateBatches(host, v, batches, run.inputLimit, c.loss, 'fitDataset validationData'));
  }
  if (!Array.isArray(v) || v.length !== 2) throw new ValueError(`${where}: validationData must be [x, y] or a dataset of {xs, ys} batches`);
  const src = checkX(v[0], io, 'fitDataset validationData');
  const labels = checkY(v[1], src.N, io, c.loss, 'fitDataset validationData');
  const batchSize = positiveInt(args.validationBatchSize ?? 32, 'validationBatchSize', where);
  return async () => logs(evaluateChecked(host, src, labels, batchSize, run.inputLimit, c.loss));
}

export async function evaluateDataset(
  host: TrainHost,
  ds: BatchSource,
  args: EvaluateDatasetArgs = {},
): Promise<{ loss: number; accuracy?: number }> {
  const where = `${host.name}.evaluateDataset`;
  host.runtime('evaluateDataset');
  if (!isSource(ds)) throw new ValueError(`${where}: expected a Dataset of {xs, ys} batches, received ${describe(ds)}`);
  if (args.batches !== undefined && !(Number.isInteger(args.batches) && args.batches > 0))
    throw new ValueError(`${where}: batches must be a positive integer, received ${JSON.stringify(args.batches)}`);
  const limit = args.maxInputAbs ?? 1e6;
  if (!(limit > 0)) throw new ValueError(`${where}: maxInputAbs must be a positive number, received ${limit}`);
  return evaluateBatches(host, ds, args.batches, limit, host.compiled?.loss, 'evaluateDataset');
}

/** Mean loss and accuracy over the samples of the dataset's batches (batches weighted by their size). */
async function evaluateBatches(
  host: TrainHost,
  ds: BatchSource,
  batches: number | undefined,
  limit: number,
  loss: Loss | undefined,
  what: string,
): Promise<{ loss: number; accuracy?: number }> {
  const it = await iteratorOf(ds);
  const io = host.ioShapes();
  let sum = 0,
    correct = 0,
    count = 0,
    b = 0,
    used = loss;
  while (batches === undefined || b < batches) {
    const r = await it.next();
    if (r.done) {
      if (batches !== undefined)
        console.warn(
          `Your dataset iterator ran out of data during evaluateDataset(). Interrupting evaluation. Make sure that your dataset can generate at least \`batches\` batches (in this case, ${batches} batches). You may need to use the repeat() function when building your dataset.`,
        );
      break;
    }
    const { src, labels } = checkBatch(host, r.value, loss, what, b);
    const l = loss ?? getLoss(labels instanceof Tensor ? 'categoricalCrossentropy' : 'sparseCategoricalCrossentropy', host.name);
    used = l;
    const rt = host.runtime(what),
      n = src.N,
      data = dataOf(src, host.ioShapes());
    rt.ensure(n, INFER);
    rt.loadInput(data, src.row, null, 0, n, limit, what, b);
    rt.loadTargets(labels, n, null, 0, n, what, l.probabilityTargets);
    rt.forward(n, false);
    const [s, k] = lossOf(rt, l, n, io, false, host.compiled?.loss === l && host.compiled.fused);
    sum += s;
    correct += k;
    count += n;
    b++;
  }
  if (count === 0) throw new ValueError(`${host.name}.${what}: the dataset yielded no batches to evaluate`);
  return withAccuracy(used!, { loss: sum / count }, correct / count);
}
