// evaluate (and fit's validation) over threads: the batch, already checked and loaded into the model's own
// inference arena, is split as predict splits it (one part per thread, every part of at least MIN_PART
// samples, so each takes the kernels' batched paths); each part runs forward in predict's runtime for it and
// copies its outputs back into the model's arena, where the loss is taken in one call on this thread.
// Every output is the same bits as one thread's, and so is the loss.
import type { Runtime } from '../engine/runtime.js';
import { INFER } from '../engine/state.js';
import type { IOShapes } from '../engine/validation.js';
import { shapeSize } from '../tensor.js';
import { chunkedTraining } from './config.js';
import { parts, release } from './inference.js';
import { NotThreadable, threadsFor } from './record.js';

/** Fewer samples per part than this do not pay for a dispatch (and would take Dense's small-batch path). */
const MIN_PART = 8;

const unthreaded = new WeakSet<Runtime>();

/**
 * Runs forward over the threads for the n samples in rt's inference arena, leaving the outputs in its output
 * buffer as rt.forward(n, false) would; false (nothing done) when the batch should run on this thread.
 */
export function parallelForward(rt: Runtime, n: number, io: IOShapes): boolean {
  const count = chunkedTraining() && !unthreaded.has(rt) ? threadsFor(rt.be, Math.floor(n / MIN_PART)) : 1;
  if (count < 2) return false;
  const s = parts(rt, count),
    a = rt.current!;
  const row = shapeSize(io.input),
    out = shapeSize(io.output);
  // Sizes differ by at most one: every part has at least floor(n / count) >= MIN_PART samples.
  const start = (p: number) => Math.floor((p * n) / count);
  // The inputs are copied before anything runs: rt's plan may place its output over its input.
  for (let p = 0; p < count; p++) {
    const pa = s.rts[p].ensure(Math.ceil(n / count), INFER);
    rt.be.copy(pa.input, a.input + start(p) * row * 4, (start(p + 1) - start(p)) * row);
  }
  try {
    s.rep.run(count, (p) => {
      const r = s.rts[p],
        pa = r.current!,
        from = start(p),
        m = start(p + 1) - from;
      r.forward(m, false);
      r.be.copy(a.output + from * out * 4, pa.output, m * out);
    });
  } catch (e) {
    // A failed dispatch leaves the parts' caches stamped for work that never ran: start them afresh.
    release(rt);
    if (!(e instanceof NotThreadable)) throw e;
    unthreaded.add(rt);
    return false;
  }
  return true;
}
