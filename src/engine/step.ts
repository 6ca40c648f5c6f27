// One optimizer step on the batch in a model's arena, with the divergence checks of issue 10: the loss and
// gradients judged before the update, the new weights right after it (undone when they fail).
import type { DivergenceLimits, LossMonitor } from '../divergence.js';
import { DivergenceError, SimdcnnError } from '../errors.js';
import { chunkedGradients, parallelUpdate } from '../threads/chunked.js';
import { lossOf } from './evaluation.js';
import { regularize } from './regularization.js';
import { isTrainable, noteWeightsWritten, type Run } from './plan.js';
import type { Runtime } from './runtime.js';
import { type Compiled, TRAIN, type TrainHost } from './state.js';
import type { IOShapes } from './validation.js';

/** The largest |value| over the runs, of the weights or of their gradients (plain loops: this runs every step). */
function maxAbs(rt: Runtime, runs: Run[], of: 'weights' | 'gradients'): number {
  let m = 0;
  for (const r of runs) m = Math.max(m, rt.be.k.maxabs_f32(of === 'weights' ? r.ptr : rt.gradBlock + r.offset * 4, r.floats));
  return m;
}

function update(rt: Runtime, c: Compiled, runs: Run[]): void {
  if (c.optimizer.clips) c.optimizer.clip(rt.be, rt.gradBlock, rt.params.ordered().filter(isTrainable));
  if (!parallelUpdate(rt, runs, (be, pieces) => c.optimizer.apply(be, pieces, rt.gradBlock, c.states)))
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
  while (c.states.length < c.optimizer.slots) {
    const b = rt.be.alloc(bytes, `${host.name} optimizer state`);
    c.states.push(b);
    const v = c.optimizer.slotInitialValue(c.states.length - 1);
    if (v !== 0) rt.be.view(b, rt.params.floats).fill(v);
  }
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
 * `weights` (0: none) points to the batch's per-sample loss weights (class weights).
 * Layer updates (BN's moving statistics) are applied only once the step is accepted.
 */
export function step(
  host: TrainHost,
  rt: Runtime,
  c: Compiled,
  n: number,
  io: IOShapes,
  limits: DivergenceLimits | undefined,
  stepNo: number,
  what: string,
  monitor?: LossMonitor,
  weights = 0,
): [number, number] {
  // checkFinite: false (no limits) lets a non-finite loss through, for TerminateOnNaN or the caller to judge.
  const check = (l: number) => {
    if (limits && !Number.isFinite(l)) throw diverged(host, c, what, stepNo, `the loss became ${l}`);
  };
  let r = chunkedGradients(rt, c.loss, c.fused, n, io, weights, check);
  if (!r) {
    rt.unstage(n, TRAIN); // it was to run in chunks, and a layer turned out to need the main thread
    rt.forward(n, true);
    r = lossOf(rt, c.loss, n, io, true, c.fused, weights);
    check(r[0]);
    rt.backward(n, c.fused);
  }
  const [dataLoss, correct] = r;
  // As TF.js reports it, the training loss includes the regularizers' penalty (per sample here: times n).
  const loss = dataLoss + n * regularize(rt, true);
  if (limits && !Number.isFinite(loss)) throw diverged(host, c, what, stepNo, `the loss became ${loss}`);
  const rise = monitor?.observe(loss / n);
  if (rise) throw diverged(host, c, what, stepNo, rise);
  ensureState(host, rt, c);
  const runs = rt.trainableRuns();
  if (!limits) {
    update(rt, c, runs);
    rt.applyUpdates(n);
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
    rt.applyUpdates(n); // before the bound is stamped: moving statistics are not among the trainable runs
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
  rt.applyUpdates(n);
  rt.weightBound = w;
  return [loss, correct];
}
