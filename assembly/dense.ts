// Dense layer: y[N,OUT] = act(x[N,IN] w[IN,OUT] + b). Weights as Keras stores them.
import { bias_act, bias_grad, FLAG_BIAS } from './activation';
import { scalarMode } from './common';
import { gemm_nn, gemm_nn_scalar, gemm_nt, gemm_packed_4x8_f32x4, gemm_tn, pack_b, pack_bt } from './gemm';

export const FLAG_NEED_DX: i32 = 4;
/** Frozen layer: only dx is wanted, leave dw and db alone. */
export const FLAG_SKIP_DW: i32 = 8;

/** scratch: ceil(OUT/8)*8*IN floats (packed weights when N >= 8). */
export function dense_forward(x: usize, w: usize, bias: usize, y: usize, scratch: usize, N: i32, IN: i32, OUT: i32, flags: i32): void {
  gemm_nn(N, OUT, IN, x, IN, w, OUT, y, OUT, 0, scratch);
  bias_act(N, OUT, y, bias, flags);
}

/** wp = w [IN, OUT] in the GEMM's 8-column panels (ceil(OUT/8)*8*IN floats), as dense_forward packs it per call. */
export function dense_pack(w: usize, wp: usize, IN: i32, OUT: i32): void {
  pack_b(IN, OUT, w, OUT, wp);
}

/** wpt = w^T [OUT, IN] in 8-column panels (ceil(IN/8)*8*OUT floats), as dense_backward packs it for dx per call. */
export function dense_pack_t(w: usize, wpt: usize, IN: i32, OUT: i32): void {
  pack_bt(OUT, IN, w, OUT, wpt);
}

/** dense_forward with w packed once by dense_pack: for N >= 8 the same sums in the same order, bit for bit. */
export function dense_forward_packed(x: usize, wp: usize, bias: usize, y: usize, N: i32, IN: i32, OUT: i32, flags: i32): void {
  if (scalarMode) {
    // Each panel is a [IN, 8] matrix whose columns past OUT are zeros that nothing stores.
    for (let j = 0; j < OUT; j += 8)
      gemm_nn_scalar(N, min(8, OUT - j), IN, x, IN, wp + (<usize>j * IN << 2), 8, y + (<usize>j << 2), OUT, 0);
  } else gemm_packed_4x8_f32x4(N, OUT, IN, x, IN, wp, y, OUT, 0);
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
