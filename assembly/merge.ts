// Elementwise kernels of the merge layers (Add, Multiply, Average, Concatenate) and of the engine's
// gradient accumulation. Memory-bound: one v128 per operand per 4 floats, a scalar tail for the rest.
import { scalarMode } from './common';

/** y = a + b over n floats; y may be a or b (the engine accumulates gradients with y = a). */
export function add_f32(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** y = a * b over n floats; y may be a or b. */
export function mul_f32(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** y = s * x over n floats; y may be x. */
export function scale_f32(y: usize, x: usize, s: f32, n: i32): void {
  let i = 0;
  if (!scalarMode) {
    const v = f32x4.splat(s);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v, v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, s * load<f32>(x + o));
  }
}

/**
 * Copies a rows x cols block of floats from src (row stride srcStride) to dst (row stride dstStride):
 * Concatenate writes each input into its channel slice of the output with it, and its backward
 * takes the slices back out. Regions must not overlap.
 */
export function copy_rows_f32(dst: usize, dstStride: i32, src: usize, srcStride: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const d = dst + (<usize>r * <usize>dstStride << 2), s = src + (<usize>r * <usize>srcStride << 2);
    let j = 0;
    if (!scalarMode) {
      for (; j + 4 <= cols; j += 4) v128.store(d + (<usize>j << 2), v128.load(s + (<usize>j << 2)));
    }
    for (; j < cols; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
  }
}
