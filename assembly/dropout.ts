// Dropout masks from a counter-based hash: element i of a call is kept when hash(i * k1 + k2) >>> 8 is
// at least `threshold` (k1 odd; the host draws k1, k2 per call from the model's generator). A mask is a
// pure function of the keys, so backward makes the same mask again instead of storing it, and the scalar
// sibling and both builds make exactly the same one. Kept values are multiplied by `scale` (1 / (1 - rate),
// inverted dropout), dropped ones by 0, as TF.js multiplies by its mask.
import { scalarMode } from './common';

/** lowbias32 (Wellons): a bijective integer hash whose output bits all depend on every input bit. */
// @ts-ignore: decorator
@inline function mix(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x7feb352d;
  h ^= h >>> 15;
  h *= 0x846ca68b;
  return h ^ (h >>> 16);
}
// @ts-ignore: decorator
@inline function mix_i32x4(h: v128): v128 {
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x7feb352d));
  h = v128.xor(h, i32x4.shr_u(h, 15));
  h = i32x4.mul(h, i32x4.splat(0x846ca68b));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

/** The multiplier of element i: scale if kept, else 0. */
// @ts-ignore: decorator
@inline function keep_scalar(i: i32, k1: i32, k2: i32, threshold: i32, scale: f32): f32 {
  return <i32>(mix(<u32>(i * k1 + k2)) >>> 8) >= threshold ? scale : 0;
}
/** The multipliers of elements i..i+3. */
// @ts-ignore: decorator
@inline function keep_f32x4(i: i32, k1: v128, k2: v128, threshold: v128, scale: v128): v128 {
  const idx = i32x4.add(i32x4.splat(i), i32x4(0, 1, 2, 3));
  const h = mix_i32x4(i32x4.add(i32x4.mul(idx, k1), k2));
  return v128.and(scale, i32x4.ge_s(i32x4.shr_u(h, 8), threshold));
}

/** y[i] = x[i] * (kept ? scale : 0) over n elements; the same call on dy gives dx. y may be x. */
export function dropout_apply(x: usize, y: usize, n: i32, k1: i32, k2: i32, threshold: i32, scale: f32): void {
  let i = 0;
  if (!scalarMode) {
    const vk1 = i32x4.splat(k1), vk2 = i32x4.splat(k2), vt = i32x4.splat(threshold), vs = f32x4.splat(scale);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(x + o), keep_f32x4(i, vk1, vk2, vt, vs)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * keep_scalar(i, k1, k2, threshold, scale));
  }
}

/**
 * Spatial dropout: one draw per sample and channel (element s * C + c of the call), applied to every
 * position: y[s, p, c] = x[s, p, c] * multiplier[s, c], x [N, P, C]. y may be x. scratch: C floats.
 */
export function spatial_dropout_apply(x: usize, y: usize, N: i32, P: i32, C: i32, k1: i32, k2: i32, threshold: i32, scale: f32, scratch: usize): void {
  for (let s = 0; s < N; s++) {
    for (let c = 0; c < C; c++) store<f32>(scratch + (<usize>c << 2), keep_scalar(s * C + c, k1, k2, threshold, scale));
    for (let p = 0; p < P; p++) {
      const row = <usize>(s * P + p) * (<usize>C << 2);
      let c = 0;
      if (!scalarMode) {
        for (; c + 4 <= C; c += 4) {
          const o = <usize>c << 2;
          v128.store(y + row + o, f32x4.mul(v128.load(x + row + o), v128.load(scratch + o)));
        }
      }
      for (; c < C; c++) {
        const o = <usize>c << 2;
        store<f32>(y + row + o, load<f32>(x + row + o) * load<f32>(scratch + o));
      }
    }
  }
}
