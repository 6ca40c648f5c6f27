// Batch normalization over the last (channel) axis of x [rows, C]: rows = N*H*W, or N after a Dense.
// Channels are the SIMD lanes. The reductions keep float32 partial sums in registers over blocks of
// ROWS_PER_PARTIAL rows and add them into float64 totals, so a batch of 10^5 rows sums as accurately as
// TF.js's float64 loops; a channel block streams its rows, the next block the same rows (in cache).
// Scalar siblings do the same operations per channel in the same order, so they match the plain SIMD
// build bit for bit (the relaxed build fuses its multiply-adds).
import { FLAG_RELU } from './activation';
import { madd, scalarMode } from './common';

const ROWS_PER_PARTIAL: i32 = 64;

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}
// @ts-ignore: decorator
@inline function at64(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

/** t[c..c+4) += the four lanes of v, in float64. */
// @ts-ignore: decorator
@inline function fold4(t: usize, c: i32, v: v128): void {
  const p = at64(t, c);
  v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))), 16);
}

/**
 * Per-channel sums over rows [r0, r1), with d = x - shift and u = d (`square`) or u = w: ta += u and
 * tb += d * u, in float64. One channel block of 4 * V lanes.
 */
// @ts-ignore: decorator
@inline function sums_f32x4(x: usize, w: usize, C: i32, r0: i32, r1: i32, c: i32, shift: usize, ta: usize, tb: usize, square: bool, V: i32): void {
  const s0 = v128.load(at(shift, c)), s1 = V > 1 ? v128.load(at(shift, c + 4)) : s0;
  const s2 = V > 2 ? v128.load(at(shift, c + 8)) : s0, s3 = V > 3 ? v128.load(at(shift, c + 12)) : s0;
  const z = f32x4.splat(0);
  let a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
  const stride = <usize>C << 2;
  let px = at(x, r0 * C + c), pw = at(w, r0 * C + c);
  for (let r = r0; r < r1; r++) {
    const d0 = f32x4.sub(v128.load(px), s0), u0 = square ? d0 : v128.load(pw);
    a0 = f32x4.add(a0, u0);
    b0 = madd(d0, u0, b0);
    if (V > 1) {
      const d1 = f32x4.sub(v128.load(px, 16), s1), u1 = square ? d1 : v128.load(pw, 16);
      a1 = f32x4.add(a1, u1);
      b1 = madd(d1, u1, b1);
    }
    if (V > 2) {
      const d2 = f32x4.sub(v128.load(px, 32), s2), u2 = square ? d2 : v128.load(pw, 32);
      a2 = f32x4.add(a2, u2);
      b2 = madd(d2, u2, b2);
    }
    if (V > 3) {
      const d3 = f32x4.sub(v128.load(px, 48), s3), u3 = square ? d3 : v128.load(pw, 48);
      a3 = f32x4.add(a3, u3);
      b3 = madd(d3, u3, b3);
    }
    px += stride;
    pw += stride;
  }
  fold4(ta, c, a0);
  fold4(tb, c, b0);
  if (V > 1) { fold4(ta, c + 4, a1); fold4(tb, c + 4, b1); }
  if (V > 2) { fold4(ta, c + 8, a2); fold4(tb, c + 8, b2); }
  if (V > 3) { fold4(ta, c + 12, a3); fold4(tb, c + 12, b3); }
}

/** The scalar sibling of sums_f32x4 for one channel. */
// @ts-ignore: decorator
@inline function sums_scalar(x: usize, w: usize, C: i32, r0: i32, r1: i32, c: i32, shift: usize, ta: usize, tb: usize, square: bool): void {
  const s = load<f32>(at(shift, c));
  let a: f32 = 0, b: f32 = 0;
  for (let r = r0; r < r1; r++) {
    const i = r * C + c;
    const d = load<f32>(at(x, i)) - s, u = square ? d : load<f32>(at(w, i));
    a += u;
    b += d * u;
  }
  store<f64>(at64(ta, c), load<f64>(at64(ta, c)) + <f64>a);
  store<f64>(at64(tb, c), load<f64>(at64(tb, c)) + <f64>b);
}

/** Float64 totals over all rows of u and (x - shift) * u per channel, u = x - shift (`square`) or w. */
// @ts-ignore: decorator
@inline function channel_sums(x: usize, w: usize, rows: i32, C: i32, shift: usize, ta: usize, tb: usize, square: bool): void {
  memory.fill(ta, 0, <usize>C << 3);
  memory.fill(tb, 0, <usize>C << 3);
  for (let r0 = 0; r0 < rows; r0 += ROWS_PER_PARTIAL) {
    const r1 = min(r0 + ROWS_PER_PARTIAL, rows);
    let c = 0;
    if (!scalarMode) {
      for (; c + 16 <= C; c += 16) sums_f32x4(x, w, C, r0, r1, c, shift, ta, tb, square, 4);
      for (; c + 4 <= C; c += 4) sums_f32x4(x, w, C, r0, r1, c, shift, ta, tb, square, 1);
    }
    for (; c < C; c++) sums_scalar(x, w, C, r0, r1, c, shift, ta, tb, square);
  }
}

/**
 * The batch's mean and biased variance per channel (TF.js's tf.moments), in one pass over x: sums of
 * x - x[0, c] (a shift from the data keeps the variance free of cancellation), totals in float64.
 * scratch: 4 * C floats.
 */
export function batchnorm_moments(x: usize, rows: i32, C: i32, mean: usize, variance: usize, scratch: usize): void {
  const ta = scratch, tb = scratch + (<usize>C << 3);
  channel_sums(x, 0, rows, C, x, ta, tb, true);
  const inv = 1.0 / <f64>rows;
  for (let c = 0; c < C; c++) {
    const m = load<f64>(at64(ta, c)) * inv;
    store<f32>(at(mean, c), <f32>(<f64>load<f32>(at(x, c)) + m));
    store<f32>(at(variance, c), <f32>max(load<f64>(at64(tb, c)) * inv - m * m, 0));
  }
}

/** scale[c] = gamma[c] / sqrt(variance[c] + eps), in float64 (gamma 0: no gamma, ones). */
export function batchnorm_scale(gamma: usize, variance: usize, C: i32, eps: f64, scale: usize): void {
  for (let c = 0; c < C; c++) {
    const g: f64 = gamma ? <f64>load<f32>(at(gamma, c)) : 1.0;
    store<f32>(at(scale, c), <f32>(g / Math.sqrt(<f64>load<f32>(at(variance, c)) + eps)));
  }
}

/** y = (x - mean[c]) * scale[c] + shift[c], then max(0, y) with FLAG_RELU. y may be x. */
export function batchnorm_apply(x: usize, y: usize, rows: i32, C: i32, mean: usize, scale: usize, shift: usize, flags: i32): void {
  const relu = (flags & FLAG_RELU) != 0;
  const z = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const px = at(x, r * C), py = at(y, r * C);
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        let v = madd(f32x4.sub(v128.load(px + o), v128.load(mean + o)), v128.load(scale + o), v128.load(shift + o));
        // pmax: one maxps, and NaN passes through (as relu_forward).
        if (relu) v = f32x4.pmax(v, z);
        v128.store(py + o, v);
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      let v = (load<f32>(px + o) - load<f32>(mean + o)) * load<f32>(scale + o) + load<f32>(shift + o);
      if (relu) v = v < 0 ? 0 : v;
      store<f32>(py + o, v);
    }
  }
}

/** TF.js's moving average in float32: moving -= (moving - batch) * decay, for the mean and the variance. */
export function batchnorm_moving_update(movingMean: usize, movingVariance: usize, mean: usize, variance: usize, C: i32, decay: f32): void {
  for (let c = 0; c < C; c++) {
    const m = load<f32>(at(movingMean, c)), v = load<f32>(at(movingVariance, c));
    store<f32>(at(movingMean, c), m - (m - load<f32>(at(mean, c))) * decay);
    store<f32>(at(movingVariance, c), v - (v - load<f32>(at(variance, c))) * decay);
  }
}

/**
 * Gradients of training-mode batch normalization (y = gamma * (x - mean) * invstd + beta with the batch's
 * mean and biased variance): dbeta = sum dy, dgamma = sum dy * xhat, and
 * dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n), computed as
 * ((dy - k3) + (x - mean) * k2) * k1 so that a constant dy over a channel cancels exactly.
 * Null dgamma, dbeta or dx pointers are not written; gamma 0 means ones. scratch: 7 * C floats.
 */
export function batchnorm_backward(x: usize, dy: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, C: i32,
  mean: usize, variance: usize, gamma: usize, eps: f64, scratch: usize): void {
  const ta = scratch, tb = scratch + (<usize>C << 3);
  const k1 = scratch + (<usize>C << 4), k2 = k1 + (<usize>C << 2), k3 = k2 + (<usize>C << 2);
  channel_sums(x, dy, rows, C, mean, ta, tb, false);
  const n = <f64>rows;
  for (let c = 0; c < C; c++) {
    const invstd = 1.0 / Math.sqrt(<f64>load<f32>(at(variance, c)) + eps);
    const g: f64 = gamma ? <f64>load<f32>(at(gamma, c)) : 1.0;
    const sdy = load<f64>(at64(ta, c)), sdx = load<f64>(at64(tb, c));
    if (dbeta) store<f32>(at(dbeta, c), <f32>sdy);
    if (dgamma) store<f32>(at(dgamma, c), <f32>(sdx * invstd));
    store<f32>(at(k1, c), <f32>(g * invstd));
    store<f32>(at(k2, c), <f32>((-invstd * invstd * sdx) / n));
    store<f32>(at(k3, c), <f32>(sdy / n));
  }
  if (!dx) return;
  for (let r = 0; r < rows; r++) {
    const o0 = <usize>(r * C) << 2;
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2, e = o0 + o;
        const t = madd(f32x4.sub(v128.load(x + e), v128.load(mean + o)), v128.load(k2 + o), f32x4.sub(v128.load(dy + e), v128.load(k3 + o)));
        v128.store(dx + e, f32x4.mul(t, v128.load(k1 + o)));
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2, e = o0 + o;
      const t = (load<f32>(x + e) - load<f32>(mean + o)) * load<f32>(k2 + o) + (load<f32>(dy + e) - load<f32>(k3 + o));
      store<f32>(dx + e, t * load<f32>(k1 + o));
    }
  }
}
