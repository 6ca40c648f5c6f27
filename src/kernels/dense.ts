// Host side of the dense family.
import type { Backend } from '../backend.js';
import { partRange, splitFor } from './split.js';

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

export function denseScratchFloats(IN: number, OUT: number): number {
  return Math.max(roundUp(OUT, 8) * IN, roundUp(IN, 8) * OUT);
}
export function denseForward(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  N: number,
  IN: number,
  OUT: number,
  flags: number,
): void {
  const s = splitFor(N, 2 * IN * OUT, Math.ceil(OUT / 8));
  if (!s) return be.k.dense_forward(x, w, bias, y, scratch, N, IN, OUT, flags);
  // Output columns in runs of whole 8-column panels: each column is summed by the same tile as in the whole call.
  s.split.run(s.parts, 0, (p, bp) => {
    const [j0, j1] = partRange(OUT, s.parts, 8, p);
    if (j0 === j1) return;
    bp.k.gemm_nn(1, j1 - j0, IN, x, IN, w + j0 * 4, OUT, y + j0 * 4, OUT, 0, 0);
    bp.k.bias_act(1, j1 - j0, y + j0 * 4, bias && bias + j0 * 4, flags);
  });
}
/**
 * Floats a Dense layer keeps between inference calls: a 16-float header (int32: 1 + the weights version the
 * panels were packed from; zeroed memory matches none), then its kernel packed for the GEMM.
 */
export function densePackedCacheFloats(IN: number, OUT: number): number {
  return 16 + roundUp(OUT, 8) * IN;
}

/**
 * Floats a Dense layer keeps in the chunks of a training batch (which share them): the inference cache, and
 * after it w^T packed for the input gradient (stamped in the header's second int32).
 */
export function denseTrainingCacheFloats(IN: number, OUT: number): number {
  return densePackedCacheFloats(IN, OUT) + roundUp(IN, 8) * OUT;
}

/**
 * dx = dy w^T with w^T packed into `cache` (denseTrainingCacheFloats) once per weights version: the same sums
 * in the same order as dense_backward's dx for batches of 4 rows and more (below, it reads w in place).
 */
export function denseBackwardInputCached(
  be: Backend,
  dy: number,
  w: number,
  dx: number,
  N: number,
  IN: number,
  OUT: number,
  cache: number,
  version: number,
): void {
  const wpt = cache + densePackedCacheFloats(IN, OUT) * 4,
    stamp = (version + 1) | 0;
  if (be.i32[cache / 4 + 1] !== stamp) {
    be.ahead(() => be.k.dense_pack_t(w, wpt, IN, OUT));
    be.i32[cache / 4 + 1] = stamp;
  }
  be.k.dense_forward_packed(dy, wpt, 0, dx, N, OUT, IN, 0);
}

/**
 * denseForward with the kernel packed into `cache` once per weights version instead of into scratch on every
 * call. Batches below 8 rows read the kernel in place (denseForward's path; packing would not pay).
 */
export function denseForwardCached(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  N: number,
  IN: number,
  OUT: number,
  flags: number,
  cache: number,
  version: number,
): void {
  if (N < 8) return denseForward(be, x, w, bias, y, scratch, N, IN, OUT, flags);
  const wp = cache + 64,
    stamp = (version + 1) | 0;
  if (be.i32[cache / 4] !== stamp) {
    be.ahead(() => be.k.dense_pack(w, wp, IN, OUT));
    be.i32[cache / 4] = stamp;
  }
  be.k.dense_forward_packed(x, wp, bias, y, N, IN, OUT, flags);
}
export function denseBackward(
  be: Backend,
  x: number,
  w: number,
  dy: number,
  dx: number,
  dw: number,
  db: number,
  scratch: number,
  N: number,
  IN: number,
  OUT: number,
  flags: number,
): void {
  be.k.dense_backward(x, w, dy, dx, dw, db, scratch, N, IN, OUT, flags);
}
