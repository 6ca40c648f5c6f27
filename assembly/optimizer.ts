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

/** acc = momentum * acc + g; w -= lr * acc (tf.train.momentum, non-Nesterov). */
export function momentum_update(w: usize, g: usize, acc: usize, n: i32, lr: f32, momentum: f32): void {
  let i = 0;
  if (!scalarMode) {
    const nl = f32x4.splat(-lr), mv = f32x4.splat(momentum);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const a = f32x4.add(f32x4.mul(mv, v128.load(acc + o)), v128.load(g + o));
      v128.store(acc + o, a);
      v128.store(w + o, f32x4.add(f32x4.mul(nl, a), v128.load(w + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const a = momentum * load<f32>(acc + o) + load<f32>(g + o);
    store<f32>(acc + o, a);
    store<f32>(w + o, -lr * a + load<f32>(w + o));
  }
}

/**
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * (m / c1) / (sqrt(v / c2) + eps)
 * with c1 = 1 - b1^t and c2 = 1 - b2^t computed by the host.
 */
export function adam_update(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32, c1: f32, c2: f32): void {
  let i = 0;
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
