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

/** channel_sums of x - x[0, c] and its square: one copy of the loop for batchnorm_moments and batchnorm_partial_moments. */
function shifted_sums(x: usize, rows: i32, C: i32, ta: usize, tb: usize, pa: usize, pb: usize): void {
  channel_sums(x, 0, rows, C, x, ta, tb, pa, pb, true);
}

/**
 * The batch's mean and biased variance per channel (TF.js's tf.moments), in one pass over x: sums of
 * x - x[0, c] (a shift from the data keeps the variance free of cancellation), totals in float64.
 * scratch: 6 * C floats.
 */
export function batchnorm_moments(x: usize, rows: i32, C: i32, mean: usize, variance: usize, scratch: usize): void {
  const ta = scratch, tb = ta + (<usize>C << 3), pa = tb + (<usize>C << 3), pb = pa + (<usize>C << 2);
  shifted_sums(x, rows, C, ta, tb, pa, pb);
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

/** dbeta = sum dy and dgamma = sum dy * (x - mean) * invstd from the float64 sums ta, tb (null pointers: not written). */
// @ts-ignore: decorator
@inline function dparams(ta: usize, tb: usize, C: i32, variance: usize, eps: f64, dgamma: usize, dbeta: usize): void {
  for (let c = 0; c < C; c++) {
    const invstd = 1.0 / Math.sqrt(<f64>load<f32>(at(variance, c)) + eps);
    if (dbeta) store<f32>(at(dbeta, c), <f32>load<f64>(at64(ta, c)));
    if (dgamma) store<f32>(at(dgamma, c), <f32>(load<f64>(at64(tb, c)) * invstd));
  }
}

/**
 * dx = ((x - mean) * k2 + (dy - k3)) * k1 with k1 = gamma * invstd, k2 = -invstd^2 * sum dy * (x - mean) / n,
 * k3 = sum dy / n, from the float64 sums ta (dy), tb (dy * (x - mean)) over n rows.
 */
// @ts-ignore: decorator
@inline function dx_coefficients(ta: usize, tb: usize, n: f64, C: i32, variance: usize, gamma: usize, eps: f64, k1: usize, k2: usize, k3: usize): void {
  for (let c = 0; c < C; c++) {
    const invstd = 1.0 / Math.sqrt(<f64>load<f32>(at(variance, c)) + eps);
    const g: f64 = gamma ? <f64>load<f32>(at(gamma, c)) : 1.0;
    store<f32>(at(k1, c), <f32>(g * invstd));
    store<f32>(at(k2, c), <f32>((-invstd * invstd * load<f64>(at64(tb, c))) / n));
    store<f32>(at(k3, c), <f32>(load<f64>(at64(ta, c)) / n));
  }
}

// @ts-ignore: decorator
@inline function dx_all(x: usize, dy: usize, dx: usize, rows: i32, C: i32, mean: usize, k1: usize, k2: usize, k3: usize): void {
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

/**
 * Gradients of training-mode batch normalization (y = gamma * (x - mean) * invstd + beta with the batch's
 * mean and biased variance): dbeta = sum dy, dgamma = sum dy * xhat, and
 * dx = gamma * invstd * (dy - dbeta / n - xhat * dgamma / n), computed as
 * ((x - mean) * k2 + (dy - k3)) * k1 so that a constant dy over a channel cancels exactly.
 * Null dgamma, dbeta or dx pointers are not written; gamma 0 means ones. scratch: 7 * C floats.
 */
export function batchnorm_backward(x: usize, dy: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, C: i32,
  mean: usize, variance: usize, gamma: usize, eps: f64, scratch: usize): void {
  // The sums (float64, 4 * C floats), then the partials (2 * C), which k = [k1, k2, k3] replaces.
  const sums = scratch, k = scratch + (<usize>C << 4);
  batchnorm_backward_sums(x, dy, dgamma, dbeta, rows, C, mean, variance, eps, sums, k);
  if (!dx) return;
  dx_coefficients(sums, sums + (<usize>C << 3), <f64>rows, C, variance, gamma, eps, k, at(k, C), at(k, 2 * C));
  batchnorm_dx(x, dy, dx, rows, C, mean, k);
}

// A batch split into chunks (src/threads/chunked.ts) normalizes with the whole batch's statistics: each
// chunk sums its own rows (partial_moments, backward_sums), one thread merges the chunks' sums in chunk
// order (merge_moments, merge_sums), and each chunk goes on with the merged result (apply, dx).

/**
 * One chunk's moments per channel in float64, part = [mean (C), sum of squared deviations from it (C)]:
 * sums of x - x[0, c], as batchnorm_moments. scratch: 6 * C floats.
 */
export function batchnorm_partial_moments(x: usize, rows: i32, C: i32, part: usize, scratch: usize): void {
  const ta = scratch, tb = ta + (<usize>C << 3), pa = tb + (<usize>C << 3), pb = pa + (<usize>C << 2);
  shifted_sums(x, rows, C, ta, tb, pa, pb);
  const n = <f64>rows, m2 = part + (<usize>C << 3);
  for (let c = 0; c < C; c++) {
    const s1 = load<f64>(at64(ta, c));
    store<f64>(at64(part, c), <f64>load<f32>(at(x, c)) + s1 / n);
    store<f64>(at64(m2, c), max(load<f64>(at64(tb, c)) - (s1 * s1) / n, 0));
  }
}

/**
 * Chan et al.'s pairwise merge: acc, the float64 moments [mean, m2] of nAcc rows, takes in part's nPart rows
 * (becomes part when nAcc is 0; acc may be part). Writes the float32 mean and biased variance of all
 * nAcc + nPart rows.
 */
export function batchnorm_merge_moments(acc: usize, part: usize, nAcc: i32, nPart: i32, C: i32, mean: usize, variance: usize): void {
  const n = <f64>nAcc + <f64>nPart, w = <f64>nPart / n, ww = <f64>nAcc * w;
  const qAcc = acc + (<usize>C << 3), qPart = part + (<usize>C << 3);
  for (let c = 0; c < C; c++) {
    let m = load<f64>(at64(part, c)), q = load<f64>(at64(qPart, c));
    if (nAcc != 0) {
      const ma = load<f64>(at64(acc, c)), d = m - ma;
      q = load<f64>(at64(qAcc, c)) + q + d * d * ww;
      m = ma + d * w;
    }
    store<f64>(at64(acc, c), m);
    store<f64>(at64(qAcc, c), q);
    store<f32>(at(mean, c), <f32>m);
    store<f32>(at(variance, c), <f32>max(q / n, 0));
  }
}

/**
 * One chunk's part of the backward: float64 sums = [sum dy (C), sum dy * (x - mean) (C)] over its rows, mean
 * and variance the whole batch's; its own dbeta and dgamma (summed over the chunks as gradients are; null
 * pointers not written). scratch: 2 * C floats.
 */
export function batchnorm_backward_sums(x: usize, dy: usize, dgamma: usize, dbeta: usize, rows: i32, C: i32,
  mean: usize, variance: usize, eps: f64, sums: usize, scratch: usize): void {
  const tb = sums + (<usize>C << 3), pb = scratch + (<usize>C << 2);
  channel_sums(x, dy, rows, C, mean, sums, tb, scratch, pb, false);
  dparams(sums, tb, C, variance, eps, dgamma, dbeta);
}

/**
 * acc (the float64 backward sums of nAcc rows) takes in part's nPart rows (becomes part when nAcc is 0; acc
 * may be part), then k = [k1 (C), k2 (C), k3 (C)] of batchnorm_dx for all nAcc + nPart rows.
 */
export function batchnorm_merge_sums(acc: usize, part: usize, nAcc: i32, nPart: i32, C: i32,
  variance: usize, gamma: usize, eps: f64, k: usize): void {
  for (let i = 0; i < 2 * C; i++) {
    const v = load<f64>(at64(part, i));
    store<f64>(at64(acc, i), nAcc != 0 ? load<f64>(at64(acc, i)) + v : v);
  }
  const k2 = at(k, C), k3 = at(k, 2 * C);
  dx_coefficients(acc, acc + (<usize>C << 3), <f64>nAcc + <f64>nPart, C, variance, gamma, eps, k, k2, k3);
}

/** dx of training-mode batch normalization from merged sums: ((x - mean) * k2 + (dy - k3)) * k1, k = [k1, k2, k3]. */
export function batchnorm_dx(x: usize, dy: usize, dx: usize, rows: i32, C: i32, mean: usize, k: usize): void {
  dx_all(x, dy, dx, rows, C, mean, k, at(k, C), at(k, 2 * C));
}
