// Dense layer: y[N,OUT] = act(x[N,IN] w[IN,OUT] + b). Weights as Keras stores them.
import { bias_act, bias_grad, FLAG_BIAS } from './activation';
import { gemm_nn, gemm_nt, gemm_tn } from './gemm';

export const FLAG_NEED_DX: i32 = 4;
/** Frozen layer: only dx is wanted, leave dw and db alone. */
export const FLAG_SKIP_DW: i32 = 8;

/** scratch: ceil(OUT/8)*8*IN floats (packed weights when N >= 8). */
export function dense_forward(x: usize, w: usize, bias: usize, y: usize, scratch: usize, N: i32, IN: i32, OUT: i32, flags: i32): void {
  gemm_nn(N, OUT, IN, x, IN, w, OUT, y, OUT, 0, scratch);
  bias_act(N, OUT, y, bias, flags);
}

/**
 * dw = x^T dy, db = column sums of dy (unless FLAG_SKIP_DW), dx = dy w^T (when FLAG_NEED_DX).
 * scratch: ceil(IN/8)*8*OUT floats.
 */
export function dense_backward(x: usize, w: usize, dy: usize, dx: usize, dw: usize, db: usize, scratch: usize, N: i32, IN: i32, OUT: i32, flags: i32): void {
  if ((flags & FLAG_SKIP_DW) == 0) {
    gemm_tn(IN, OUT, N, x, IN, dy, OUT, dw, OUT, 0);
    if ((flags & FLAG_BIAS) != 0) bias_grad(N, OUT, dy, db);
  }
  if ((flags & FLAG_NEED_DX) != 0) gemm_nt(N, IN, OUT, dy, OUT, w, OUT, dx, IN, 0, scratch);
}
