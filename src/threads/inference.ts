// predict over threads: a batch is split into one part per thread (at least MIN_PART samples each), each
// part with a runtime and inference arena of its own; the parts' forward passes are recorded on the main
// thread and run on the threads (src/threads/record.ts), and the outputs are copied out in order. A batch
// of one runs on the main thread with its big conv and dense calls split across the threads
// (src/kernels/split.ts): output rows or columns, one dispatch per call.
import type { Backend } from '../backend.js';
import { Runtime } from '../engine/runtime.js';
import { INFER } from '../engine/state.js';
import { type KernelSplit, withSplit } from '../kernels/split.js';
import { chunkedTraining } from './config.js';
import { NotThreadable, Replayer, threadsFor } from './record.js';

/** Fewer samples per thread than this do not pay for a dispatch. */
const MIN_PART = 8;
/**
 * Floating-point operations per part below which splitting a batch-1 call does not pay for its dispatch
 * (waking a worker and waiting for it: tens of microseconds). Calls of at least twice this split. Measured on
 * a quiet 2-core machine (bench/infer-threads.ts, REPS=15, five runs, 2 threads over 1; docs/performance.md):
 * at 4 MFLOP, cnn3 128x128 1.31-1.81x (1.10-1.32x at 16), cnn3 64x64 1.08-1.33x, LeNet, ResNet-8 and
 * ResNet-20 unchanged (0.95-1.03x). At 3 MFLOP LeNet's second conv (7.2 MFLOP) splits and LeNet loses
 * 0.79-0.93x; at 1 MFLOP ResNet-8 loses 0.73-0.89x.
 */
export const DEFAULT_SPLIT_FLOPS = 4e6;
let minSplitFlops = DEFAULT_SPLIT_FLOPS;
/** Benchmarks and tests: the batch-1 split threshold (Infinity: never split). */
export function setSplitThreshold(flops: number): void {
  minSplitFlops = flops;
}

/** A runtime's batch-1 split: a recorder and the parts' scratch (part 0's is used on this thread too). */
class Split implements KernelSplit {
  private scratch: number[] = [];
  private floats = 0;
  constructor(
    private readonly be: Backend,
    readonly rep: Replayer,
  ) {}
  parts(flops: number): number {
    return flops < 2 * minSplitFlops ? 1 : threadsFor(this.be, Math.floor(flops / minSplitFlops));
  }
  run(parts: number, scratchFloats: number, part: (p: number, be: Backend, scratch: number) => void): void {
    if (scratchFloats > this.floats || this.scratch.length < parts) {
      this.release();
      this.floats = Math.max(scratchFloats, 16);
      for (let p = 0; p < parts; p++) this.scratch.push(this.be.alloc(this.floats * 4, 'batch-1 split scratch'));
    }
    this.rep.run(parts, (p) => part(p, this.rep.view, this.scratch[p]));
  }
  release(): void {
    for (const p of this.scratch) this.be.release(p);
    this.scratch = [];
    this.floats = 0;
  }
}
const splits = new WeakMap<Runtime, Split>();

function splitOf(rt: Runtime): Split {
  let s = splits.get(rt);
  if (!s) {
    const made = new Split(rt.be, new Replayer(rt.be, `${rt.name} batch-1 split`));
    rt.onDispose.push(() => {
      made.release();
      made.rep.dispose();
      splits.delete(rt);
    });
    splits.set(rt, (s = made));
  }
  return s;
}

interface Parts {
  rts: Runtime[];
  rep: Replayer;
}
const sets = new WeakMap<Runtime, Parts>();
const unthreaded = new WeakSet<Runtime>();

export function release(rt: Runtime): void {
  const s = sets.get(rt);
  if (!s) return;
  sets.delete(rt);
  for (const p of s.rts) p.dispose();
  s.rep.dispose();
}

export function parts(rt: Runtime, count: number): Parts {
  let s = sets.get(rt);
  if (!s) {
    s = { rts: [], rep: new Replayer(rt.be, rt.name) };
    sets.set(rt, s);
    rt.onDispose.push(() => release(rt));
  }
  while (s.rts.length < count) s.rts.push(new Runtime(s.rep.view, rt.graph, rt.params, rt.rng, rt.name));
  return s;
}

/**
 * predict's output for samples from..from+n of data (rows of `row` floats), into out (rows of outRow),
 * with the same input checks as one thread; false (nothing done) when it runs on this thread as ever.
 */
export function parallelPredict(
  rt: Runtime,
  data: Float32Array,
  row: number,
  from: number,
  n: number,
  limit: number,
  batch: number,
  out: Float32Array,
  outRow: number,
): boolean {
  const threaded = chunkedTraining() && !unthreaded.has(rt);
  if (threaded && n === 1 && threadsFor(rt.be, 2) > 1) {
    rt.ensure(1, INFER);
    rt.loadInput(data, row, null, from, 1, limit, 'predict', batch);
    withSplit(splitOf(rt), () => rt.forward(1, false));
    out.set(rt.be.view(rt.current!.output, outRow), from * outRow);
    return true;
  }
  const count = threaded ? threadsFor(rt.be, Math.floor(n / MIN_PART)) : 1;
  if (count < 2) return false;
  const s = parts(rt, count);
  // Sizes within one of each other, so every part has >= MIN_PART samples (fewer take Dense's small-batch path: other bits).
  const start = (p: number) => Math.floor((p * n) / count),
    size = (p: number) => start(p + 1) - start(p);
  for (let p = 0; p < count; p++) {
    s.rts[p].ensure(Math.ceil(n / count), INFER);
    if (size(p)) s.rts[p].loadInput(data, row, null, from + start(p), size(p), limit, 'predict', batch);
  }
  try {
    s.rep.run(count, (p) => size(p) && s.rts[p].forward(size(p), false));
  } catch (e) {
    release(rt);
    if (!(e instanceof NotThreadable)) throw e;
    unthreaded.add(rt);
    return false;
  }
  for (let p = 0; p < count; p++) if (size(p)) out.set(rt.be.view(s.rts[p].current!.output, size(p) * outRow), (from + start(p)) * outRow);
  return true;
}
