// conv2d on NHWC activations with weights [kh, kw, inC, outC], as im2col over row chunks + GEMM.
// The host computes output sizes and padding (TensorFlow's 'same' rule); these loops only follow them.
import { add_f32, copy_f32, scalarMode, zero_f32 } from './common';
import { gemm_nn_scalar, gemm_nt_scalar, gemm_packed_4x8_f32x4, gemm_nn, gemm_nt, gemm_tn, pack_b, pack_bt } from './gemm';
import { bias_act, bias_grad, FLAG_BIAS } from './activation';

/** col[r, (ky,kx,c)] for output rows m0..m0+rows; zeros where the window hangs over the padding. */
function im2col(x: usize, col: usize, m0: i32, rows: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  const K = KH * KW * C, run = KW * C;
  for (let r = 0; r < rows; r++) {
    const m = m0 + r;
    const n = m / (OH * OW), rem = m % (OH * OW);
    const oy = rem / OW, ox = rem % OW;
    const ix0 = ox * SW - PL;
    const kxs = max(0, -ix0), kxe = min(KW, W - ix0);
    let dst = col + (<usize>(r * K) << 2);
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH - PT + ky;
      if (iy < 0 || iy >= H || kxe <= kxs) {
        zero_f32(dst, run);
      } else {
        if (kxs > 0) zero_f32(dst, kxs * C);
        const src = x + (<usize>(((n * H + iy) * W + ix0 + kxs) * C) << 2);
        copy_f32(dst + (<usize>(kxs * C) << 2), src, (kxe - kxs) * C);
        if (kxe < KW) zero_f32(dst + (<usize>(kxe * C) << 2), (KW - kxe) * C);
      }
      dst += <usize>run << 2;
    }
  }
}

/** dx += col scattered back to the input positions it was gathered from (the inverse of im2col). */
function col2im(dx: usize, col: usize, m0: i32, rows: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  const K = KH * KW * C, run = KW * C;
  for (let r = 0; r < rows; r++) {
    const m = m0 + r;
    const n = m / (OH * OW), rem = m % (OH * OW);
    const oy = rem / OW, ox = rem % OW;
    const ix0 = ox * SW - PL;
    const kxs = max(0, -ix0), kxe = min(KW, W - ix0);
    let src = col + (<usize>(r * K) << 2);
    for (let ky = 0; ky < KH; ky++) {
      const iy = oy * SH - PT + ky;
      if (iy >= 0 && iy < H && kxe > kxs) {
        const d = dx + (<usize>(((n * H + iy) * W + ix0 + kxs) * C) << 2);
        add_f32(d, src + (<usize>(kxs * C) << 2), (kxe - kxs) * C);
      }
      src += <usize>run << 2;
    }
  }
}

function isPointwise(KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): bool {
  return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0;
}

/** Rows of im2col that fit in the scratch left after `used` floats, a multiple of 4. */
function chunkRows(scratchFloats: i32, used: i32, K: i32, M: i32): i32 {
  let rows = (scratchFloats - used) / K;
  rows = rows & ~3;
  if (rows < 4) rows = 4;
  return min(rows, M);
}

/** y = act(conv(x, w) + bias). scratch must hold packed weights (ceil(OC/8)*8*K) plus >= 4 im2col rows. */
export function conv2d_forward(x: usize, w: usize, bias: usize, y: usize, scratch: usize, scratchFloats: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, flags: i32): void {
  const M = N * OH * OW, K = KH * KW * C;
  if (isPointwise(KH, KW, SH, SW, PT, PL)) {
    gemm_nn(M, OC, C, x, C, w, OC, y, OC, 0, scratch);
    bias_act(M, OC, y, bias, flags);
    return;
  }
  const packed = ((OC + 7) & ~7) * K;
  if (!scalarMode) pack_b(K, OC, w, OC, scratch);
  const col = scratch + (<usize>packed << 2);
  const step = chunkRows(scratchFloats, packed, K, M);
  for (let m0 = 0; m0 < M; m0 += step) {
    const rows = min(step, M - m0);
    im2col(x, col, m0, rows, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL);
    const yc = y + (<usize>(m0 * OC) << 2);
    if (scalarMode) gemm_nn_scalar(rows, OC, K, col, K, w, OC, yc, OC, 0);
    else gemm_packed_4x8_f32x4(rows, OC, K, col, K, scratch, yc, OC, 0);
    bias_act(rows, OC, yc, bias, flags);
  }
}

/** dx = gradient w.r.t. the input. scratch: packed W^T (ceil(K/8)*8*OC) plus >= 4 rows of K. */
export function conv2d_backward_input(dy: usize, w: usize, dx: usize, scratch: usize, scratchFloats: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): void {
  const M = N * OH * OW, K = KH * KW * C;
  if (isPointwise(KH, KW, SH, SW, PT, PL)) {
    gemm_nt(M, C, OC, dy, OC, w, OC, dx, C, 0, scratch);
    return;
  }
  zero_f32(dx, N * H * W * C);
  const packed = ((K + 7) & ~7) * OC;
  if (!scalarMode) pack_bt(OC, K, w, OC, scratch);
  const col = scratch + (<usize>packed << 2);
  const step = chunkRows(scratchFloats, packed, K, M);
  for (let m0 = 0; m0 < M; m0 += step) {
    const rows = min(step, M - m0);
    const dyc = dy + (<usize>(m0 * OC) << 2);
    if (scalarMode) gemm_nt_scalar(rows, K, OC, dyc, OC, w, OC, col, K, 0);
    else gemm_packed_4x8_f32x4(rows, K, OC, dyc, OC, scratch, col, K, 0);
    col2im(dx, col, m0, rows, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL);
  }
}

/** dw = gradient w.r.t. the filters (overwritten), db likewise when flags has FLAG_BIAS. scratch: >= 4 rows of K. */
export function conv2d_backward_filter(x: usize, dy: usize, dw: usize, db: usize, scratch: usize, scratchFloats: i32,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, flags: i32): void {
  const M = N * OH * OW, K = KH * KW * C;
  if ((flags & FLAG_BIAS) != 0) bias_grad(M, OC, dy, db);
  if (isPointwise(KH, KW, SH, SW, PT, PL)) {
    gemm_tn(C, OC, M, x, C, dy, OC, dw, OC, 0);
    return;
  }
  const step = chunkRows(scratchFloats, 0, K, M);
  for (let m0 = 0; m0 < M; m0 += step) {
    const rows = min(step, M - m0);
    im2col(x, scratch, m0, rows, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL);
    gemm_tn(K, OC, rows, scratch, K, dy + (<usize>(m0 * OC) << 2), OC, dw, OC, m0 > 0 ? 1 : 0);
  }
}
