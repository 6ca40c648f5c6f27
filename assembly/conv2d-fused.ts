// Inference-only convolution for few input channels (a network's first layer: 1-3 channels), with the bias,
// the activation and optionally a 2x2 stride-2 max pool applied while the output tile is in registers.
// The im2col-free direct kernel (conv2d.ts) runs a 3x3x1 window as three runs of three floats and then
// makes a second pass over its output for bias + ReLU, and the pooling layer a third; here each output
// tile is finished before it is stored, and with pooling the unpooled activation is never written.
// Same tile and the same order of multiply-adds as conv2d_forward's (madd from zero over kernel rows, then
// the taps of each row), then bias_act's add and ReLU and maxpool2x2's order of maxima, so the results
// equal conv2d_forward + bias_act (+ maxpool2x2_forward) bit for bit in each build.
// No backward: the training path (conv2d_forward, maxpool2x2_forward with winners) is unchanged.
import { madd, scalarMode, store_partial8, zero_f32 } from './common';
import { pack_b } from './gemm';
import { ACT_RELU, FLAG_BIAS, FLAG_RELU } from './activation';
import { pad_image } from './conv2d';

// @ts-ignore: decorator
@inline function roundUp8(v: i32): i32 {
  return (v + 7) & ~7;
}

/** v + bias, then ReLU as bias_act does it (pmax with zero keeps NaN and -0). */
// @ts-ignore: decorator
@inline function finish(v: v128, b: v128, relu: bool): v128 {
  v = f32x4.add(v, b);
  return relu ? f32x4.pmax(v, f32x4.splat(0)) : v;
}

/**
 * Four output pixels (windows at a0..a3: KH runs of `run` floats, rowBytes apart) x 8 channels of packed
 * weights bp, bias vectors bj, finished; pooled: their maximum to o0, else each to o0..o3.
 */
// @ts-ignore: decorator
@inline function tile_4x8_finish(KH: i32, run: i32, rowBytes: usize, a0: usize, a1: usize, a2: usize, a3: usize,
  bp: usize, bj: usize, relu: bool, pool: bool, o0: usize, o1: usize, o2: usize, o3: usize, nr: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const end = <usize>run << 2;
  for (let s = 0; s < KH; s++) {
    for (let k: usize = 0; k < end; k += 4) {
      const b0 = v128.load(bp), b1 = v128.load(bp, 16);
      let v = v128.load32_splat(a0 + k);
      c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
      v = v128.load32_splat(a1 + k);
      c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
      v = v128.load32_splat(a2 + k);
      c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
      v = v128.load32_splat(a3 + k);
      c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
      bp += 32;
    }
    a0 += rowBytes; a1 += rowBytes; a2 += rowBytes; a3 += rowBytes;
  }
  const bias0 = v128.load(bj), bias1 = v128.load(bj, 16);
  c00 = finish(c00, bias0, relu); c01 = finish(c01, bias1, relu);
  c10 = finish(c10, bias0, relu); c11 = finish(c11, bias1, relu);
  c20 = finish(c20, bias0, relu); c21 = finish(c21, bias1, relu);
  c30 = finish(c30, bias0, relu); c31 = finish(c31, bias1, relu);
  if (pool) {
    // maxpool2x2's order: (0,0), (0,1), (1,0), (1,1) = pixels 0, 1, 2, 3.
    store_partial8(o0, f32x4.pmax(c30, f32x4.pmax(c20, f32x4.pmax(c10, c00))), f32x4.pmax(c31, f32x4.pmax(c21, f32x4.pmax(c11, c01))), nr, false);
  } else {
    store_partial8(o0, c00, c01, nr, false); store_partial8(o1, c10, c11, nr, false);
    store_partial8(o2, c20, c21, nr, false); store_partial8(o3, c30, c31, nr, false);
  }
}

/** Scalar sibling of tile_4x8_finish for pixels a0..a3 and channel j: same sums, finish and maxima in the same order. */
function pixel_scalar(KH: i32, run: i32, rowBytes: usize, a: usize, w: usize, OC: i32, j: i32, bias: f32, relu: bool): f32 {
  let sum: f32 = 0;
  let wp = w + (<usize>j << 2);
  for (let s = 0; s < KH; s++) {
    for (let k = 0; k < run; k++) { sum += load<f32>(a + (<usize>k << 2)) * load<f32>(wp); wp += <usize>OC << 2; }
    a += rowBytes;
  }
  sum += bias;
  return relu && sum < 0 ? 0 : sum;
}

function tile_scalar_finish(KH: i32, run: i32, rowBytes: usize, a0: usize, a1: usize, a2: usize, a3: usize, count: i32,
  w: usize, bias: usize, OC: i32, relu: bool, pool: bool, o0: usize, o1: usize, o2: usize, o3: usize): void {
  for (let j = 0; j < OC; j++) {
    const b: f32 = bias ? load<f32>(bias + (<usize>j << 2)) : 0, jo = <usize>j << 2;
    const v0 = pixel_scalar(KH, run, rowBytes, a0, w, OC, j, b, relu);
    if (pool) {
      let best = v0;
      const v1 = pixel_scalar(KH, run, rowBytes, a1, w, OC, j, b, relu);
      if (!(v1 < best)) best = v1;
      const v2 = pixel_scalar(KH, run, rowBytes, a2, w, OC, j, b, relu);
      if (!(v2 < best)) best = v2;
      const v3 = pixel_scalar(KH, run, rowBytes, a3, w, OC, j, b, relu);
      if (!(v3 < best)) best = v3;
      store<f32>(o0 + jo, best);
      continue;
    }
    store<f32>(o0 + jo, v0);
    if (count > 1) store<f32>(o1 + jo, pixel_scalar(KH, run, rowBytes, a1, w, OC, j, b, relu));
    if (count > 2) store<f32>(o2 + jo, pixel_scalar(KH, run, rowBytes, a2, w, OC, j, b, relu));
    if (count > 3) store<f32>(o3 + jo, pixel_scalar(KH, run, rowBytes, a3, w, OC, j, b, relu));
  }
}

/**
 * y = act(conv(x, w) + bias) (act: none or ReLU), undilated (conv2d_forward's arguments); with pool != 0, y = the 2x2 stride-2 max pool
 * of that, [N, OH/2, OW/2, OC] (rounded down: a last odd row or column is never computed). scratch: packed
 * weights (ceil(OC/8)*8*K), packed bias (ceil(OC/8)*8), one padded image.
 */
export function conv2d_forward_fused(x: usize, w: usize, bias: usize, y: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, PB: i32, PR: i32, flags: i32, pool: i32): void {
  if (DH != 1 || DW != 1) unreachable(); // the host sends dilated convolutions to conv2d_forward
  const run = KW * C, K = KH * run, OC8 = roundUp8(OC);
  const relu = (flags & FLAG_RELU) != 0 || (flags >> 8) == ACT_RELU;
  const hasBias = (flags & FLAG_BIAS) != 0;
  pack_b(K, OC, w, OC, scratch);
  const bp0 = scratch + (<usize>(OC8 * K) << 2);
  zero_f32(bp0, OC8);
  if (hasBias) pack_b(1, OC, bias, OC, bp0);
  const padded = (PT | PL | PB | PR) != 0;
  const xp = bp0 + (<usize>OC8 << 2);
  const Wp = W + PL + PR;
  const rowBytes = <usize>(Wp * C) << 2, colBytes = <usize>(SW * C) << 2, outRowBytes = <usize>(SH) * rowBytes;
  const pixBytes = <usize>OC << 2, panel = <usize>K << 5;
  const YH = pool ? OH >> 1 : OH, YW = pool ? OW >> 1 : OW, P = YH * YW;
  for (let n = 0; n < N; n++) {
    let img = x + (<usize>(n * H * W * C) << 2);
    if (padded) { pad_image(x, n, H, W, C, xp, PT, PL, PB, 1, Wp); img = xp; }
    const yimg = y + <usize>(n * P) * pixBytes;
    if (pool) {
      for (let py = 0; py < YH; py++) {
        let a0 = img + <usize>(2 * py) * outRowBytes;
        let o = yimg + <usize>(py * YW) * pixBytes;
        for (let px = 0; px < YW; px++) {
          const a1 = a0 + colBytes, a2 = a0 + outRowBytes, a3 = a2 + colBytes;
          if (scalarMode) tile_scalar_finish(KH, run, rowBytes, a0, a1, a2, a3, 4, w, hasBias ? bias : 0, OC, relu, true, o, 0, 0, 0);
          else {
            for (let j = 0; j < OC; j += 8) {
              const bp = scratch + <usize>(j >> 3) * panel, bj = bp0 + (<usize>j << 2), oj = o + (<usize>j << 2), nr = min(8, OC - j);
              if (relu) tile_4x8_finish(KH, run, rowBytes, a0, a1, a2, a3, bp, bj, true, true, oj, 0, 0, 0, nr);
              else tile_4x8_finish(KH, run, rowBytes, a0, a1, a2, a3, bp, bj, false, true, oj, 0, 0, 0, nr);
            }
          }
          a0 += colBytes << 1;
          o += pixBytes;
        }
      }
      continue;
    }
    // Groups of four pixels in raster order; a last short group repeats its last pixel (the same value stored twice).
    const last = P - 1;
    for (let p = 0; p < P; p += 4) {
      const p1 = min(p + 1, last), p2 = min(p + 2, last), p3 = min(p + 3, last);
      const a0 = window(img, p, YW, outRowBytes, colBytes), a1 = window(img, p1, YW, outRowBytes, colBytes);
      const a2 = window(img, p2, YW, outRowBytes, colBytes), a3 = window(img, p3, YW, outRowBytes, colBytes);
      const o0 = yimg + <usize>p * pixBytes, o1 = yimg + <usize>p1 * pixBytes, o2 = yimg + <usize>p2 * pixBytes, o3 = yimg + <usize>p3 * pixBytes;
      if (scalarMode) {
        tile_scalar_finish(KH, run, rowBytes, a0, a1, a2, a3, min(4, P - p), w, hasBias ? bias : 0, OC, relu, false, o0, o1, o2, o3);
        continue;
      }
      for (let j = 0; j < OC; j += 8) {
        const bp = scratch + <usize>(j >> 3) * panel, bj = bp0 + (<usize>j << 2), jo = <usize>j << 2, nr = min(8, OC - j);
        if (relu) tile_4x8_finish(KH, run, rowBytes, a0, a1, a2, a3, bp, bj, true, false, o0 + jo, o1 + jo, o2 + jo, o3 + jo, nr);
        else tile_4x8_finish(KH, run, rowBytes, a0, a1, a2, a3, bp, bj, false, false, o0 + jo, o1 + jo, o2 + jo, o3 + jo, nr);
      }
    }
  }
}

/** Address of the first input output pixel p's window reads. */
// @ts-ignore: decorator
@inline function window(img: usize, p: i32, OW: i32, outRowBytes: usize, colBytes: usize): usize {
  const oy = p / OW;
  return img + <usize>oy * outRowBytes + <usize>(p - oy * OW) * colBytes;
}
