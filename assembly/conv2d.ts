// conv2d on NHWC activations with weights [kh, kw, inC, outC], computed directly (no im2col):
// for a fixed kernel row ky, the KW*C inputs a window reads are contiguous in NHWC, and so are the
// matching weight rows. So one output pixel is KH runs of KW*C floats times KH blocks of weight rows,
// which the GEMM tiles take as "segments". Padding is made explicit one image at a time in scratch
// (cheap next to the multiply-adds), so every window lies inside its image and no tile needs a bounds check.
// Dilation: kernel rows DH image rows apart are just a longer segment stride. Kernel columns DW apart are
// made contiguous again by storing the padded image as DW column phases (column px goes to phase px % DW,
// position px / DW): a window's taps then sit side by side in one phase, and the per-pixel window offsets
// say which phase. With DW = 1 the phased image is the plain padded image.
// The host computes output sizes and TensorFlow's 'same' padding; these loops only follow them.
import { copy_f32, scalarMode, zero_f32 } from './common';
import {
  gemm_nn, gemm_nt, gemm_tn, pack_b, pack_bt,
  tile_1x8_f32x4, tile_4x8_f32x4, tile_scalar, tile_tn_1x8_f32x4, tile_tn_4x8_f32x4, tile_tn_scalar, tile_tn_taps_4x8_f32x4,
} from './gemm';
import { bias_act, bias_grad, FLAG_BIAS } from './activation';

/** Pixels per block in the input gradient: a multiple of 4 whose dy and dx rows fit in L1. */
const BLOCK = 96;

// @ts-ignore: decorator
@inline function roundUp8(v: i32): i32 {
  return (v + 7) & ~7;
}

function isPointwise(KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, PB: i32, PR: i32): bool {
  return KH == 1 && KW == 1 && SH == 1 && SW == 1 && (PT | PL | PB | PR) == 0;
}

/** Columns per phase of a padded row of Wp columns stored as DW phases. */
// @ts-ignore: decorator
@inline function phaseCols(Wp: i32, DW: i32): i32 {
  return (Wp + DW - 1) / DW;
}

/** Float offset of padded pixel (py, px) in an image stored as DW phases of Wq columns each. */
// @ts-ignore: decorator
@inline function phased(py: i32, px: i32, C: i32, DW: i32, Wq: i32): i32 {
  return ((py * DW + px % DW) * Wq + px / DW) * C;
}

/** Image n of x, with zero borders, written to xp [H+PT+PB, DW phases, Wq, C] (DW = 1: [Hp, Wp, C]). */
export function pad_image(x: usize, n: i32, H: i32, W: i32, C: i32, xp: usize, PT: i32, PL: i32, PB: i32, DW: i32, Wq: i32): void {
  zero_f32(xp, (H + PT + PB) * DW * Wq * C);
  const src = x + (<usize>(n * H * W * C) << 2);
  for (let iy = 0; iy < H; iy++) {
    const row = src + (<usize>(iy * W * C) << 2);
    if (DW == 1) { copy_f32(xp + (<usize>(((iy + PT) * Wq + PL) * C) << 2), row, W * C); continue; }
    for (let ix = 0; ix < W; ix++) copy_f32(xp + (<usize>phased(iy + PT, ix + PL, C, DW, Wq) << 2), row + (<usize>(ix * C) << 2), C);
  }
}

/**
 * y = act(conv(x, w) + bias), kernel taps DH rows and DW columns apart. scratch: packed weights
 * (ceil(OC/8)*8*K), one padded (phased) image, OH*OW offsets.
 */
export function conv2d_forward(x: usize, w: usize, bias: usize, y: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, PB: i32, PR: i32, flags: i32): void {
  if (isPointwise(KH, KW, SH, SW, PT, PL, PB, PR)) {
    gemm_nn(N * OH * OW, OC, C, x, C, w, OC, y, OC, 0, scratch);
    bias_act(N * OH * OW, OC, y, bias, flags);
    return;
  }
  const run = KW * C, K = KH * run;
  pack_b(K, OC, w, OC, scratch);
  const padded = (PT | PL | PB | PR) != 0 || DW > 1;
  const xp = scratch + (<usize>(roundUp8(OC) * K) << 2);
  const Hp = H + PT + PB, Wq = phaseCols(W + PL + PR, DW);
  const rowBytes = <usize>(DW * Wq * C) << 2, segstride = <usize>DH * rowBytes, ldc = <usize>OC << 2;
  const panel = <usize>K << 5;
  const P = OH * OW;
  const offs = xp + (padded ? <usize>(Hp * DW * Wq * C) << 2 : 0);
  window_offsets(offs, OH, OW, SH, SW, C, DW, Wq);
  for (let n = 0; n < N; n++) {
    let img = x + (<usize>(n * H * W * C) << 2);
    if (padded) { pad_image(x, n, H, W, C, xp, PT, PL, PB, DW, Wq); img = xp; }
    const yimg = y + (<usize>(n * P * OC) << 2);
    let bp = scratch;
    for (let j = 0; j < OC; j += 8) {
      const nr = min(8, OC - j);
      const cj = yimg + (<usize>j << 2);
      if (scalarMode) {
        for (let p = 0; p < P; p++) tile_scalar(1, KH, run, segstride, window(img, offs, p), 0, bp, 32, cj + <usize>p * ldc, ldc, nr, false);
      } else {
        // Groups of four pixels in raster order, across output rows, so only P % 4 pixels take the 1-row tile.
        let p = 0;
        for (; p + 4 <= P; p += 4) {
          tile_4x8_f32x4(KH, run, segstride,
            window(img, offs, p), window(img, offs, p + 1), window(img, offs, p + 2), window(img, offs, p + 3),
            bp, 32, cj + <usize>p * ldc, cj + <usize>(p + 1) * ldc, cj + <usize>(p + 2) * ldc, cj + <usize>(p + 3) * ldc, nr, false);
        }
        for (; p < P; p++) tile_1x8_f32x4(KH, run, segstride, window(img, offs, p), bp, 32, cj + <usize>p * ldc, nr, false);
      }
      bp += panel;
    }
    bias_act(P, OC, yimg, bias, flags);
  }
}

/** Address of kernel tap k = (ky, kx, c) in the window of output pixel 0 (kernel rows kyBytes apart, columns kxBytes). */
// @ts-ignore: decorator
@inline function tap(img: usize, k: i32, run: i32, C: i32, kyBytes: usize, kxBytes: usize): usize {
  const ky = k / run, r = k - ky * run, kx = r / C;
  return img + <usize>ky * kyBytes + <usize>kx * kxBytes + (<usize>(r - kx * C) << 2);
}

/**
 * offs[p] = byte offset, in a padded image stored as DW phases of Wq columns, of the first input output
 * pixel p's window reads. A table, because a division per pixel would cost as much as a whole
 * small-kernel tile.
 */
function window_offsets(offs: usize, OH: i32, OW: i32, SH: i32, SW: i32, C: i32, DW: i32, Wq: i32): void {
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) { store<u32>(offs, <u32>(<usize>phased(oy * SH, ox * SW, C, DW, Wq) << 2)); offs += 4; }
  }
}

// @ts-ignore: decorator
@inline function window(base: usize, offs: usize, p: i32): usize {
  return base + <usize>load<u32>(offs + (<usize>p << 2));
}

/**
 * dx = gradient w.r.t. the input: each output pixel's gradient, times the transposed weights of kernel
 * row ky, is added to the KW*C inputs that row of its window read. Windows overlap when the stride is
 * smaller than the kernel; the tiles add row after row, so overlapping rows still sum correctly.
 * scratch: KH packed blocks of W^T (ceil(KW*C/8)*8*OC each), one padded (phased) image, OH*OW offsets.
 */
export function conv2d_backward_input(dy: usize, w: usize, dx: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, PB: i32, PR: i32): void {
  if (isPointwise(KH, KW, SH, SW, PT, PL, PB, PR)) {
    gemm_nt(N * OH * OW, C, OC, dy, OC, w, OC, dx, C, 0, scratch);
    return;
  }
  const run = KW * C;
  const block = <usize>(roundUp8(run) * OC) << 2;
  for (let ky = 0; ky < KH; ky++) pack_bt(OC, run, w + (<usize>(ky * run * OC) << 2), OC, scratch + <usize>ky * block);
  const padded = (PT | PL | PB | PR) != 0 || DW > 1;
  const Hp = H + PT + PB, Wq = phaseCols(W + PL + PR, DW);
  const dxp = scratch + <usize>KH * block;
  const kyBytes = <usize>(DH * DW * Wq * C) << 2, lda = <usize>OC << 2;
  const panel = <usize>OC << 5, P = OH * OW;
  const offs = dxp + (padded ? <usize>(Hp * DW * Wq * C) << 2 : 0);
  window_offsets(offs, OH, OW, SH, SW, C, DW, Wq);
  for (let n = 0; n < N; n++) {
    const img = padded ? dxp : dx + (<usize>(n * H * W * C) << 2);
    zero_f32(img, Hp * DW * Wq * C);
    const dyn = dy + (<usize>(n * P * OC) << 2);
    // Blocks of BLOCK pixels keep the dy rows and the dx rows they add into in L1 across all ky and panels.
    for (let p0 = 0; p0 < P; p0 += BLOCK) {
      const p1 = min(P, p0 + BLOCK);
      for (let ky = 0; ky < KH; ky++) {
        const crow = img + <usize>ky * kyBytes;
        let bp = scratch + <usize>ky * block;
        for (let j = 0; j < run; j += 8) {
          const nr = min(8, run - j);
          const cj = crow + (<usize>j << 2);
          let p = p0;
          if (!scalarMode) {
            for (; p + 4 <= p1; p += 4) {
              const a = dyn + <usize>p * lda;
              tile_4x8_f32x4(1, OC, 0, a, a + lda, a + 2 * lda, a + 3 * lda, bp, 32,
                window(cj, offs, p), window(cj, offs, p + 1), window(cj, offs, p + 2), window(cj, offs, p + 3), nr, true);
            }
            for (; p < p1; p++) tile_1x8_f32x4(1, OC, 0, dyn + <usize>p * lda, bp, 32, window(cj, offs, p), nr, true);
          } else {
            for (; p < p1; p++) tile_scalar(1, 1, OC, 0, dyn + <usize>p * lda, lda, bp, 32, window(cj, offs, p), 0, nr, true);
          }
          bp += panel;
        }
      }
    }
    if (padded) {
      const dst = dx + (<usize>(n * H * W * C) << 2);
      for (let iy = 0; iy < H; iy++) {
        const row = dst + (<usize>(iy * W * C) << 2);
        if (DW == 1) { copy_f32(row, dxp + (<usize>(((iy + PT) * Wq + PL) * C) << 2), W * C); continue; }
        for (let ix = 0; ix < W; ix++) copy_f32(row + (<usize>(ix * C) << 2), dxp + (<usize>phased(iy + PT, ix + PL, C, DW, Wq) << 2), C);
      }
    }
  }
}

/**
 * dw (overwritten) = sum over pixels of window^T * dy; db likewise when flags has FLAG_BIAS. For kernel
 * row ky, dw[ky] [KW*C, OC] is a TN product whose reduction runs over the pixels of each image:
 * along an output row the window start moves SW*C floats, between rows SH image rows. Each tap's
 * address carries the dilation, so this needs no phased image. scratch: one padded image.
 */
export function conv2d_backward_filter(x: usize, dy: usize, dw: usize, db: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, PB: i32, PR: i32, flags: i32): void {
  if ((flags & FLAG_BIAS) != 0) bias_grad(N * OH * OW, OC, dy, db);
  if (isPointwise(KH, KW, SH, SW, PT, PL, PB, PR)) {
    gemm_tn(C, OC, N * OH * OW, x, C, dy, OC, dw, OC, 0);
    return;
  }
  const run = KW * C, K = KH * run;
  zero_f32(dw, K * OC);
  const padded = (PT | PL | PB | PR) != 0;
  const Wp = W + PL + PR;
  const rowBytes = <usize>(Wp * C) << 2, kyBytes = <usize>DH * rowBytes, kxBytes = <usize>(DW * C) << 2;
  const segstride = <usize>SH * rowBytes, lda = <usize>(SW * C) << 2, ldb = <usize>OC << 2;
  // Taps side by side in memory: a kernel row's KW*C without dilation, one column's C with it.
  const group = DW == 1 ? run : C;
  for (let n = 0; n < N; n++) {
    let img = x + (<usize>(n * H * W * C) << 2);
    if (padded) { pad_image(x, n, H, W, C, scratch, PT, PL, PB, 1, Wp); img = scratch; }
    const dyn = dy + (<usize>(n * OH * OW * OC) << 2);
    let j = 0;
    if (!scalarMode) {
      for (; j + 8 <= OC; j += 8) {
        const bj = dyn + (<usize>j << 2);
        if ((group & 3) == 0) {
          // Four adjacent taps: one pointer, offsets folded into the loads.
          for (let k = 0; k < K; k += 4) tile_tn_4x8_f32x4(OH, OW, segstride, tap(img, k, run, C, kyBytes, kxBytes), lda, bj, ldb, dw + (<usize>(k * OC + j) << 2), ldb, true);
        } else {
          // Few channels (KW*C not a multiple of 4): group four taps even across kernel rows, so a 3x3
          // single-channel kernel makes two full tiles and one single row instead of nine single rows.
          let k = 0;
          for (; k + 4 <= K; k += 4) {
            tile_tn_taps_4x8_f32x4(OH, OW, segstride, tap(img, k, run, C, kyBytes, kxBytes), tap(img, k + 1, run, C, kyBytes, kxBytes),
              tap(img, k + 2, run, C, kyBytes, kxBytes), tap(img, k + 3, run, C, kyBytes, kxBytes), lda, bj, ldb, dw + (<usize>(k * OC + j) << 2), ldb, true);
          }
          for (; k < K; k++) tile_tn_1x8_f32x4(OH, OW, segstride, tap(img, k, run, C, kyBytes, kxBytes), lda, bj, ldb, dw + (<usize>(k * OC + j) << 2), true);
        }
      }
    }
    // Columns past the last full 8 (all of them in scalar mode): 8-lane loads would overrun dy.
    if (j < OC) {
      for (let k = 0; k < K; k += group) {
        tile_tn_scalar(group, OC - j, OH, OW, segstride, tap(img, k, run, C, kyBytes, kxBytes), lda, dyn + (<usize>j << 2), ldb, dw + (<usize>(k * OC + j) << 2), ldb, true);
      }
    }
  }
}
