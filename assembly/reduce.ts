// Reductions the host runs once per training step to watch the numbers (inputs, gradients, weights).
import { scalarMode } from './common';

/**
 * The largest |x[i]| of x[0..n): NaN if any element is NaN, else +Infinity if any is infinite. One pass:
 * with the sign bit cleared, float bit patterns order as unsigned integers, NaN above Infinity above
 * every finite value, so an unsigned integer max decides both finiteness and magnitude.
 */
export function maxabs_f32(x: usize, n: i32): f32 {
  let m: u32 = 0;
  let i = 0;
  if (!scalarMode) {
    const abs = i32x4.splat(0x7fffffff);
    let m0 = i32x4.splat(0), m1 = i32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      const p = x + (<usize>i << 2);
      m0 = i32x4.max_u(m0, v128.and(v128.load(p), abs));
      m1 = i32x4.max_u(m1, v128.and(v128.load(p, 16), abs));
    }
    for (; i + 4 <= n; i += 4) m0 = i32x4.max_u(m0, v128.and(v128.load(x + (<usize>i << 2)), abs));
    m0 = i32x4.max_u(m0, m1);
    m = max(max(i32x4.extract_lane(m0, 0) as u32, i32x4.extract_lane(m0, 1) as u32), max(i32x4.extract_lane(m0, 2) as u32, i32x4.extract_lane(m0, 3) as u32));
  }
  for (; i < n; i++) m = max(m, load<u32>(x + (<usize>i << 2)) & 0x7fffffff);
  return reinterpret<f32>(m);
}
