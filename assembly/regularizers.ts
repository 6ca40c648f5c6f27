// Weight regularizers (TF.js's L1L2): the penalty l1 sum|w| + l2 sum w^2 and its gradient l1 s(w) + 2 l2 w.
import { scalarMode } from './common';

/**
 * Returns the penalty of n weights at w (summed in float64, in order, in every build); when g != 0 also
 * adds its gradient to g: g += l1 s(w) + (2 l2) w, with s(w) = w > 0 ? 1 : -1, TF.js's gradient of |w|
 * (tf.step(w, -1): -1 at exactly 0, so L1 moves zero-initialised biases off 0 as TF.js does).
 */
export function l1l2_penalty(w: usize, g: usize, n: i32, l1: f32, l2: f32): f64 {
  let a: f64 = 0, s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = <f64>load<f32>(w + (<usize>i << 2));
    a += Math.abs(v);
    s += v * v;
  }
  if (g != 0) {
    const l2x2: f32 = 2 * l2;
    let i = 0;
    if (!scalarMode) {
      const z = f32x4.splat(0), one = f32x4.splat(1), vl1 = f32x4.splat(l1), vl2 = f32x4.splat(l2x2);
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(w + o);
        const sign = v128.bitselect(one, f32x4.neg(one), f32x4.gt(v, z));
        const t = f32x4.add(f32x4.mul(vl1, sign), f32x4.mul(vl2, v));
        v128.store(g + o, f32x4.add(v128.load(g + o), t));
      }
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const v = load<f32>(w + o);
      const sign: f32 = v > 0 ? 1 : -1;
      store<f32>(g + o, load<f32>(g + o) + (l1 * sign + l2x2 * v));
    }
  }
  return <f64>l1 * a + <f64>l2 * s;
}
