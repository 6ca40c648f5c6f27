// Parameter updates over the model's whole parameter block in one call, with TensorFlow.js's formulas.
import { scalarMode } from './common';

/** w -= lr * g */
export function sgd_update(w: usize, g: usize, n: i32, lr: f32): void {
  let i = 0;
  if (!scalarMode) {
    const nl = f32x4.splat(-lr);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(w + o, f32x4.add(f32x4.mul(nl, v128.load(g + o)), v128.load(w + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(w + o, -lr * load<f32>(g + o) + load<f32>(w + o));
  }
}

/**
 * acc = momentum * acc + g; then w -= lr * acc, or with Nesterov w -= lr * (g + momentum * acc)
 * (tf.train.momentum, useNesterov), in TF.js's operation order.
 */
export function momentum_update(w: usize, g: usize, acc: usize, n: i32, lr: f32, momentum: f32, nesterov: i32): void {
  let i = 0;
  const nest = nesterov != 0;
  if (!scalarMode) {
    const nl = f32x4.splat(-lr), mv = f32x4.splat(momentum);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o);
      const a = f32x4.add(f32x4.mul(mv, v128.load(acc + o)), gv);
      v128.store(acc + o, a);
      const step = nest ? f32x4.add(gv, f32x4.mul(a, mv)) : a;
      v128.store(w + o, f32x4.add(f32x4.mul(nl, step), v128.load(w + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const a = momentum * load<f32>(acc + o) + gv;
    store<f32>(acc + o, a);
    const step = nest ? gv + a * momentum : a;
    store<f32>(w + o, -lr * step + load<f32>(w + o));
  }
}

/**
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * (m / c1) / (sqrt(v / c2) + eps)
 * with c1 = 1 - b1^t and c2 = 1 - b2^t computed by the host. AdamW's decoupled decay comes first when
 * wd (= lr * weightDecay) is not 0: w -= w * wd, as Keras's AdamW.
 */
export function adam_update(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, c1: f32, c2: f32, wd: f32): void {
  let i = 0;
  if (wd != 0) decay_weights(w, n, wd);
  if (!scalarMode) {
    const B1 = f32x4.splat(b1), B2 = f32x4.splat(b2), O1 = f32x4.splat(1 - b1), O2 = f32x4.splat(1 - b2);
    const C1 = f32x4.splat(c1), C2 = f32x4.splat(c2), E = f32x4.splat(eps), NL = f32x4.splat(-lr);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o);
      const mv = f32x4.add(f32x4.mul(v128.load(m + o), B1), f32x4.mul(gv, O1));
      const vv = f32x4.add(f32x4.mul(v128.load(v + o), B2), f32x4.mul(f32x4.mul(gv, gv), O2));
      v128.store(m + o, mv);
      v128.store(v + o, vv);
      const step = f32x4.div(f32x4.div(mv, C1), f32x4.add(f32x4.sqrt(f32x4.div(vv, C2)), E));
      v128.store(w + o, f32x4.add(f32x4.mul(step, NL), v128.load(w + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const mv = load<f32>(m + o) * b1 + gv * (1 - b1);
    const vv = load<f32>(v + o) * b2 + gv * gv * (1 - b2);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    const step = (mv / c1) / (Mathf.sqrt(vv / c2) + eps);
    store<f32>(w + o, step * -lr + load<f32>(w + o));
  }
}

/** w -= w * c (decoupled weight decay). */
function decay_weights(w: usize, n: i32, c: f32): void {
  let i = 0;
  if (!scalarMode) {
    const C = f32x4.splat(c);
    for (; i + 4 <= n; i += 4) {
      const p = w + (<usize>i << 2);
      const x = v128.load(p);
      v128.store(p, f32x4.sub(x, f32x4.mul(x, C)));
    }
  }
  for (; i < n; i++) {
    const p = w + (<usize>i << 2);
    const x = load<f32>(p);
    store<f32>(p, x - x * c);
  }
}

/**
 * RMSprop in TF.js's operation order: ms = ms * rho + g^2 * (1 - rho); mom = mom * momentum + (g * lr) /
 * sqrt(ms + eps); w -= mom. Centered (mg != 0): mg = mg * rho + g * (1 - rho) and the denominator is
 * sqrt(ms - mg^2 + eps) (Keras's form; TF.js subtracts eps there, which takes the root of a negative
 * number when a gradient is constant).
 */
export function rmsprop_update(w: usize, g: usize, ms: usize, mom: usize, mg: usize, n: i32, lr: f32, rho: f32, momentum: f32, eps: f32): void {
  let i = 0;
  const centered = mg != 0, orho: f32 = 1 - rho;
  if (!scalarMode) {
    const R = f32x4.splat(rho), OR = f32x4.splat(orho), M = f32x4.splat(momentum), E = f32x4.splat(eps), L = f32x4.splat(lr);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o);
      const s = f32x4.add(f32x4.mul(v128.load(ms + o), R), f32x4.mul(f32x4.mul(gv, gv), OR));
      v128.store(ms + o, s);
      let den = s;
      if (centered) {
        const a = f32x4.add(f32x4.mul(v128.load(mg + o), R), f32x4.mul(gv, OR));
        v128.store(mg + o, a);
        den = f32x4.sub(s, f32x4.mul(a, a));
      }
      const step = f32x4.div(f32x4.mul(gv, L), f32x4.sqrt(f32x4.add(den, E)));
      const mo = f32x4.add(f32x4.mul(v128.load(mom + o), M), step);
      v128.store(mom + o, mo);
      v128.store(w + o, f32x4.sub(v128.load(w + o), mo));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const s = load<f32>(ms + o) * rho + gv * gv * orho;
    store<f32>(ms + o, s);
    let den = s;
    if (centered) {
      const a = load<f32>(mg + o) * rho + gv * orho;
      store<f32>(mg + o, a);
      den = s - a * a;
    }
    const mo = load<f32>(mom + o) * momentum + (gv * lr) / Mathf.sqrt(den + eps);
    store<f32>(mom + o, mo);
    store<f32>(w + o, load<f32>(w + o) - mo);
  }
}

/** Adagrad as TF.js: acc += g^2; w += (g / sqrt(acc + eps)) * -lr. */
export function adagrad_update(w: usize, g: usize, acc: usize, n: i32, lr: f32, eps: f32): void {
  let i = 0;
  if (!scalarMode) {
    const E = f32x4.splat(eps), NL = f32x4.splat(-lr);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o);
      const a = f32x4.add(v128.load(acc + o), f32x4.mul(gv, gv));
      v128.store(acc + o, a);
      v128.store(w + o, f32x4.add(f32x4.mul(f32x4.div(gv, f32x4.sqrt(f32x4.add(a, E))), NL), v128.load(w + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = load<f32>(g + o);
    const a = load<f32>(acc + o) + gv * gv;
    store<f32>(acc + o, a);
    store<f32>(w + o, (gv / Mathf.sqrt(a + eps)) * -lr + load<f32>(w + o));
  }
}

/** Sum of squares over n floats, in float64 (two f64x2 accumulators; the scalar sibling adds in the same lane order). */
export function sumsq_f32(x: usize, n: i32): f64 {
  let i = 0;
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  if (!scalarMode) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const a = f64x2.promote_low_f32x4(v), b = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
      lo = f64x2.add(lo, f64x2.mul(a, a));
      hi = f64x2.add(hi, f64x2.mul(b, b));
    }
  }
  let s0 = f64x2.extract_lane(lo, 0), s1 = f64x2.extract_lane(lo, 1), s2 = f64x2.extract_lane(hi, 0), s3 = f64x2.extract_lane(hi, 1);
  if (scalarMode) {
    for (; i + 4 <= n; i += 4) {
      const p = x + (<usize>i << 2);
      const a = <f64>load<f32>(p), b = <f64>load<f32>(p, 4), c = <f64>load<f32>(p, 8), d = <f64>load<f32>(p, 12);
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
  }
  let s = (s0 + s1) + (s2 + s3);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/** x = min(max(x, lo), hi) in place (gradient clipping by value; NaN stays NaN). */
export function clip_f32(x: usize, n: i32, lo: f32, hi: f32): void {
  let i = 0;
  if (!scalarMode) {
    const L = f32x4.splat(lo), H = f32x4.splat(hi);
    for (; i + 4 <= n; i += 4) {
      const p = x + (<usize>i << 2);
      v128.store(p, f32x4.pmin(f32x4.pmax(v128.load(p), L), H));
    }
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const v = load<f32>(p);
    store<f32>(p, v < lo ? lo : v > hi ? hi : v);
  }
}
