// Shared helpers for every kernel family. Pointers are byte offsets into linear memory.

/** Tests flip this to run the scalar sibling of every SIMD kernel in the same instance. */
export let scalarMode: bool = false;

export function set_scalar(on: i32): void {
  scalarMode = on != 0;
}

/** One place where the two builds differ: a*b+c fused (relaxed build) or mul then add (plain build). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Lanes 2 and 3 of a float32 vector as float64 (f64x2.promote_low_f32x4 gives lanes 0 and 1). */
// @ts-ignore: decorator
@inline export function promote_high(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}

/** Two float64 pairs rounded to one float32 vector: lo gives lanes 0-1, hi lanes 2-3. */
// @ts-ignore: decorator
@inline export function demote_pair(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** dst[0..n) = 0 */
export function zero_f32(dst: usize, n: i32): void {
  memory.fill(dst, 0, <usize>n << 2);
}

/** dst[0..n) = src[0..n); short runs (im2col rows of 1-3 pixels) dominate, so no call for them. */
// @ts-ignore: decorator
@inline export function copy_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** dst[0..n) += src[0..n) */
// @ts-ignore: decorator
@inline export function add_f32(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = dst + (<usize>i << 2);
    v128.store(p, f32x4.add(v128.load(p), v128.load(src + (<usize>i << 2))));
  }
  for (; i < n; i++) {
    const p = dst + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
  }
}

/** Stores the first nr (1..8) lanes of the pair (v0, v1) at p, adding to what is there when acc. */
// @ts-ignore: decorator
@inline export function store_partial8(p: usize, v0: v128, v1: v128, nr: i32, acc: bool): void {
  if (acc) {
    // Read only the lanes that exist: the row may end at the edge of memory.
    if (nr >= 4) v0 = f32x4.add(v0, v128.load(p));
    else {
      v0 = f32x4.add(v0, f32x4(load<f32>(p), nr > 1 ? load<f32>(p, 4) : 0, nr > 2 ? load<f32>(p, 8) : 0, 0));
    }
    if (nr > 4) {
      v1 = f32x4.add(
        v1,
        f32x4(load<f32>(p, 16), nr > 5 ? load<f32>(p, 20) : 0, nr > 6 ? load<f32>(p, 24) : 0, nr > 7 ? load<f32>(p, 28) : 0),
      );
    }
  }
  if (nr >= 4) {
    v128.store(p, v0);
    if (nr >= 8) {
      v128.store(p, v1, 16);
      return;
    }
    if (nr > 4) store<f32>(p, f32x4.extract_lane(v1, 0), 16);
    if (nr > 5) store<f32>(p, f32x4.extract_lane(v1, 1), 20);
    if (nr > 6) store<f32>(p, f32x4.extract_lane(v1, 2), 24);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v0, 0));
  if (nr > 1) store<f32>(p, f32x4.extract_lane(v0, 1), 4);
  if (nr > 2) store<f32>(p, f32x4.extract_lane(v0, 2), 8);
}

export function heapBase(): usize {
  return __heap_base;
}
