// predict over threads: a batch is split into one part per thread (at least MIN_PART samples each), each
// part with a runtime and inference arena of its own; the parts' forward passes are recorded on the main
// thread and run on the threads (src/threads/record.ts), and the outputs are copied out in order.
import { Runtime } from '../engine/runtime.js';
import { INFER } from '../engine/state.js';
import { chunkedTraining } from './config.js';
import { NotThreadable, Replayer, threadsFor } from './record.js';

/** Fewer samples per thread than this do not pay for a dispatch. */
const MIN_PART = 8;

interface Parts {
  rts: Runtime[];
  rep: Replayer;
}
const sets = new WeakMap<Runtime, Parts>();
const unthreaded = new WeakSet<Runtime>();

function release(rt: Runtime): void {
  const s = sets.get(rt);
  if (!s) return;
  sets.delete(rt);
  for (const p of s.rts) p.dispose();
  s.rep.dispose();
}

function parts(rt: Runtime, count: number): Parts {
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
  const count = chunkedTraining() && !unthreaded.has(rt) ? threadsFor(rt.be, Math.floor(n / MIN_PART)) : 1;
  if (count < 2) return false;
  const s = parts(rt, count),
    per = Math.ceil(n / count);
  const size = (p: number) => Math.max(0, Math.min(per, n - p * per));
  for (let p = 0; p < count; p++) {
    s.rts[p].ensure(per, INFER);
    if (size(p)) s.rts[p].loadInput(data, row, null, from + p * per, size(p), limit, 'predict', batch);
  }
  try {
    s.rep.run(count, (p) => size(p) && s.rts[p].forward(size(p), false));
  } catch (e) {
    release(rt);
    if (!(e instanceof NotThreadable)) throw e;
    unthreaded.add(rt);
    return false;
  }
  for (let p = 0; p < count; p++) if (size(p)) out.set(rt.be.view(s.rts[p].current!.output, size(p) * outRow), (from + p * per) * outRow);
  return true;
}
