// Batch normalization over the last (channel) axis of x [rows, C]: rows = N*H*W, or N after a Dense.
// Channels are the SIMD lanes; rows are read in memory order, four at a time per load of the per-channel
// values. The reductions keep float32 partial sums over blocks of ROWS_PER_PARTIAL rows and add them into
// float64 totals, so a batch of 10^5 rows sums about as accurately as TF.js's float64 loops.
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

/**
 * R rows from row r: pa += u and pb += d * u per channel, with d = x - shift and u = d (`square`) or w.
 * Every channel sums its rows in row order, in SIMD lanes or (remainder channels) scalar alike.
 */
// @ts-ignore: decorator
@inline function sum_rows(x: usize, w: usize, C: i32, r: i32, shift: usize, pa: usize, pb: usize, square: bool, R: i32): void {
  const st = <usize>C << 2;
  const px = at(x, r * C), pw = at(w, r * C);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
    const s = v128.load(shift + o);
    let a = v128.load(pa + o), b = v128.load(pb + o);
    // Binaryen does not unroll: four rows spelled out (R is a constant at every call).
    let e = o;
    let d = f32x4.sub(v128.load(px + e), s), u = square ? d : v128.load(pw + e);
    a = f32x4.add(a, u);
    b = madd(d, u, b);
    if (R > 1) {
      e += st;
      d = f32x4.sub(v128.load(px + e), s);
      u = square ? d : v128.load(pw + e);
      a = f32x4.add(a, u);
      b = madd(d, u, b);
      e += st;
      d = f32x4.sub(v128.load(px + e), s);
      u = square ? d : v128.load(pw + e);
      a = f32x4.add(a, u);
      b = madd(d, u, b);
      e += st;
      d = f32x4.sub(v128.load(px + e), s);
      u = square ? d : v128.load(pw + e);
      a = f32x4.add(a, u);
      b = madd(d, u, b);
    }
    v128.store(pa + o, a);
    v128.store(pb + o, b);
  }
  for (; c < C; c++) sum_rows_scalar(px, pw, C, c, shift, pa, pb, square, R);
}

// @ts-ignore: decorator
@inline function sum_rows_scalar(px: usize, pw: usize, C: i32, c: i32, shift: usize, pa: usize, pb: usize, square: bool, R: i32): void {
  const s = load<f32>(at(shift, c));
  let a = load<f32>(at(pa, c)), b = load<f32>(at(pb, c));
  for (let i = 0; i < R; i++) {
    const e = i * C + c;
    const d = load<f32>(at(px, e)) - s, u = square ? d : load<f32>(at(pw, e));
    a += u;
    b += d * u;
  }
  store<f32>(at(pa, c), a);
  store<f32>(at(pb, c), b);
}

/**
 * Float64 totals ta, tb over all rows of u and (x - shift) * u per channel, u = x - shift (`square`) or w.
 * Rows are read in memory order; float32 partials pa, pb (L1-resident) over 64 rows at a time.
 */
// @ts-ignore: decorator
@inline function channel_sums(x: usize, w: usize, rows: i32, C: i32, shift: usize, ta: usize, tb: usize, pa: usize, pb: usize, square: bool): void {
  memory.fill(ta, 0, <usize>C << 3);
  memory.fill(tb, 0, <usize>C << 3);
  for (let r0 = 0; r0 < rows; r0 += ROWS_PER_PARTIAL) {
    const r1 = min(r0 + ROWS_PER_PARTIAL, rows);
    memory.fill(pa, 0, <usize>C << 2);
    memory.fill(pb, 0, <usize>C << 2);
    let r = r0;
    if (!scalarMode) {
      for (; r + 4 <= r1; r += 4) sum_rows(x, w, C, r, shift, pa, pb, square, 4);
      for (; r < r1; r++) sum_rows(x, w, C, r, shift, pa, pb, square, 1);
    } else {
      for (; r < r1; r++) for (let c = 0; c < C; c++) sum_rows_scalar(at(x, r * C), at(w, r * C), C, c, shift, pa, pb, square, 1);
    }
    for (let c = 0; c < C; c++) {
      store<f64>(at64(ta, c), load<f64>(at64(ta, c)) + <f64>load<f32>(at(pa, c)));
      store<f64>(at64(tb, c), load<f64>(at64(tb, c)) + <f64>load<f32>(at(pb, c)));
    }
  }
}

/**
 * The batch's mean and biased variance per channel (TF.js's tf.moments), in one pass over x: sums of
 * x - x[0, c] (a shift from the data keeps the variance free of cancellation), totals in float64.
 * scratch: 6 * C floats.
 */
export function batchnorm_moments(x: usize, rows: i32, C: i32, mean: usize, variance: usize, scratch: usize): void {
  const ta = scratch, tb = ta + (<usize>C << 3), pa = tb + (<usize>C << 3), pb = pa + (<usize>C << 2);
  channel_sums(x, 0, rows, C, x, ta, tb, pa, pb, true);
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

// @ts-ignore: decorator
@inline function apply_vec(px: usize, py: usize, m: v128, s: v128, b: v128, z: v128, relu: bool): void {
  let v = madd(f32x4.sub(v128.load(px), m), s, b);
  // pmax: one maxps, and NaN passes through (as relu_forward).
  if (relu) v = f32x4.pmax(v, z);
  v128.store(py, v);
}

// @ts-ignore: decorator
@inline function apply_rows(x: usize, y: usize, C: i32, r: i32, mean: usize, scale: usize, shift: usize, relu: bool, R: i32): void {
  const st = <usize>C << 2, px = at(x, r * C), py = at(y, r * C), z = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
    const m = v128.load(mean + o), s = v128.load(scale + o), b = v128.load(shift + o);
    apply_vec(px + o, py + o, m, s, b, z, relu);
    if (R > 1) {
      apply_vec(px + o + st, py + o + st, m, s, b, z, relu);
      apply_vec(px + o + 2 * st, py + o + 2 * st, m, s, b, z, relu);
      apply_vec(px + o + 3 * st, py + o + 3 * st, m, s, b, z, relu);
    }
  }
  for (; c < C; c++) apply_rows_scalar(px, py, C, c, mean, scale, shift, relu, R);
}

// @ts-ignore: decorator
@inline function apply_rows_scalar(px: usize, py: usize, C: i32, c: i32, mean: usize, scale: usize, shift: usize, relu: bool, R: i32): void {
  const m = load<f32>(at(mean, c)), s = load<f32>(at(scale, c)), b = load<f32>(at(shift, c));
  for (let i = 0; i < R; i++) {
    const e = i * C + c;
    let v = (load<f32>(at(px, e)) - m) * s + b;
    if (relu) v = v < 0 ? 0 : v;
    store<f32>(at(py, e), v);
  }
}

// @ts-ignore: decorator
@inline function apply_all(x: usize, y: usize, rows: i32, C: i32, mean: usize, scale: usize, shift: usize, relu: bool): void {
  let r = 0;
  if (!scalarMode) {
    for (; r + 4 <= rows; r += 4) apply_rows(x, y, C, r, mean, scale, shift, relu, 4);
    for (; r < rows; r++) apply_rows(x, y, C, r, mean, scale, shift, relu, 1);
  } else {
    for (; r < rows; r++) for (let c = 0; c < C; c++) apply_rows_scalar(at(x, r * C), at(y, r * C), C, c, mean, scale, shift, relu, 1);
  }
}

/** y = (x - mean[c]) * scale[c] + shift[c], then max(0, y) with FLAG_RELU. y may be x. */
export function batchnorm_apply(x: usize, y: usize, rows: i32, C: i32, mean: usize, scale: usize, shift: usize, flags: i32): void {
  if ((flags & FLAG_RELU) != 0) apply_all(x, y, rows, C, mean, scale, shift, true);
  else apply_all(x, y, rows, C, mean, scale, shift, false);
}

/** TF.js's moving average in float32: moving -= (moving - batch) * decay, for the mean and the variance. */
export function batchnorm_moving_update(movingMean: usize, movingVariance: usize, mean: usize, variance: usize, C: i32, decay: f32): void {
  for (let c = 0; c < C; c++) {
    const m = load<f32>(at(movingMean, c)), v = load<f32>(at(movingVariance, c));
    store<f32>(at(movingMean, c), m - (m - load<f32>(at(mean, c))) * decay);
    store<f32>(at(movingVariance, c), v - (v - load<f32>(at(variance, c))) * decay);
  }
}

// @ts-ignore: decorator
@inline function dx_vec(x: usize, dy: usize, dx: usize, m: v128, k1: v128, k2: v128, k3: v128): void {
  v128.store(dx, f32x4.mul(madd(f32x4.sub(v128.load(x), m), k2, f32x4.sub(v128.load(dy), k3)), k1));
}

// @ts-ignore: decorator
@inline function dx_rows(x: usize, dy: usize, dx: usize, C: i32, r: i32, mean: usize, k1: usize, k2: usize, k3: usize, R: i32): void {
  const st = <usize>C << 2, o0 = <usize>(r * C) << 2;
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
    const m = v128.load(mean + o), a = v128.load(k1 + o), b = v128.load(k2 + o), d = v128.load(k3 + o);
    const e = o0 + o;
    dx_vec(x + e, dy + e, dx + e, m, a, b, d);
    if (R > 1) {
      dx_vec(x + e + st, dy + e + st, dx + e + st, m, a, b, d);
      dx_vec(x + e + 2 * st, dy + e + 2 * st, dx + e + 2 * st, m, a, b, d);
      dx_vec(x + e + 3 * st, dy + e + 3 * st, dx + e + 3 * st, m, a, b, d);
    }
  }
  for (; c < C; c++) dx_rows_scalar(x + o0, dy + o0, dx + o0, C, c, mean, k1, k2, k3, R);
}

// @ts-ignore: decorator
@inline function dx_rows_scalar(x: usize, dy: usize, dx: usize, C: i32, c: i32, mean: usize, k1: usize, k2: usize, k3: usize, R: i32): void {
  const m = load<f32>(at(mean, c)), a = load<f32>(at(k1, c)), b = load<f32>(at(k2, c)), d = load<f32>(at(k3, c));
  for (let i = 0; i < R; i++) {
    const e = i * C + c;
    store<f32>(at(dx, e), ((load<f32>(at(x, e)) - m) * b + (load<f32>(at(dy, e)) - d)) * a);
  }
}

/**
 * Gradients of training-mode batch normalization (y = gamma * (x - mean) * invstd + beta with the batch's
 * mean and biased variance): dbeta = sum dy, dgamma = sum dy * xhat, and
 * dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n), computed as
 * ((x - mean) * k2 + (dy - k3)) * k1 so that a constant dy over a channel cancels exactly.
 * Null dgamma, dbeta or dx pointers are not written; gamma 0 means ones. scratch: 7 * C floats.
 */
export function batchnorm_backward(x: usize, dy: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, C: i32,
  mean: usize, variance: usize, gamma: usize, eps: f64, scratch: usize): void {
  const ta = scratch, tb = ta + (<usize>C << 3), pa = tb + (<usize>C << 3), pb = pa + (<usize>C << 2);
  channel_sums(x, dy, rows, C, mean, ta, tb, pa, pb, false);
  // The partials are spent: k1..k3 take their place.
  const k1 = pa, k2 = pb, k3 = pb + (<usize>C << 2);
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
  let r = 0;
  if (!scalarMode) {
    for (; r + 4 <= rows; r += 4) dx_rows(x, dy, dx, C, r, mean, k1, k2, k3, 4);
    for (; r < rows; r++) dx_rows(x, dy, dx, C, r, mean, k1, k2, k3, 1);
  } else {
    for (; r < rows; r++) {
      const o = <usize>(r * C) << 2;
      for (let c = 0; c < C; c++) dx_rows_scalar(x + o, dy + o, dx + o, C, c, mean, k1, k2, k3, 1);
    }
  }
}
