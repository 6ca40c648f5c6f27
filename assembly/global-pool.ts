// Global average and max pooling: [N, P, C] -> [N, C] over the P = H*W pixels of each image, vectorised
// over channels. Both follow TF.js's cpu kernels operation for operation, so they match it bit for bit:
// the mean divides each value by P first (float32) and sums in float64 in raster order; the max lets a
// NaN through as soon as one appears; the max's gradient goes to every input equal to the maximum.
import { demote_pair, promote_high, scalarMode } from './common';

/** y[n, c] = sum over p of float32(x[n, p, c] / P), the sum in float64 (TF.js's mean). */
export function global_avgpool_forward(x: usize, y: usize, N: i32, P: i32, C: i32): void {
  const fp = <f32>P, pixel = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const img = x + <usize>n * <usize>P * pixel, out = y + <usize>n * pixel;
    let c = 0;
    if (!scalarMode) {
      const d = f32x4.splat(fp);
      for (; c + 4 <= C; c += 4) {
        let lo = f64x2.splat(0), hi = lo;
        let p = img + (<usize>c << 2);
        for (let i = 0; i < P; i++) {
          const v = f32x4.div(v128.load(p), d);
          lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
          hi = f64x2.add(hi, promote_high(v));
          p += pixel;
        }
        v128.store(out + (<usize>c << 2), demote_pair(lo, hi));
      }
    }
    for (; c < C; c++) {
      let s: f64 = 0;
      let p = img + (<usize>c << 2);
      for (let i = 0; i < P; i++) { s += <f64>(load<f32>(p) / fp); p += pixel; }
      store<f32>(out + (<usize>c << 2), <f32>s);
    }
  }
}

/** dx[n, p, c] = dy[n, c] / P. */
export function global_avgpool_backward(dy: usize, dx: usize, N: i32, P: i32, C: i32): void {
  const fp = <f32>P, pixel = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const img = dx + <usize>n * <usize>P * pixel, g = dy + <usize>n * pixel;
    let c = 0;
    if (!scalarMode) {
      const d = f32x4.splat(fp);
      for (; c + 4 <= C; c += 4) {
        const v = f32x4.div(v128.load(g + (<usize>c << 2)), d);
        let p = img + (<usize>c << 2);
        for (let i = 0; i < P; i++) { v128.store(p, v); p += pixel; }
      }
    }
    for (; c < C; c++) {
      const v = load<f32>(g + (<usize>c << 2)) / fp;
      let p = img + (<usize>c << 2);
      for (let i = 0; i < P; i++) { store<f32>(p, v); p += pixel; }
    }
  }
}

/** y[n, c] = max over p of x[n, p, c]; a NaN anywhere gives NaN (the last one seen, as TF.js's loop). */
export function global_maxpool_forward(x: usize, y: usize, N: i32, P: i32, C: i32): void {
  const pixel = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const img = x + <usize>n * <usize>P * pixel, out = y + <usize>n * pixel;
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        let p = img + (<usize>c << 2);
        let best = v128.load(p);
        for (let i = 1; i < P; i++) {
          p += pixel;
          const v = v128.load(p);
          // pmax(best, v) = best < v ? v : best, TF.js's `value > max`; a NaN value always takes over.
          best = v128.bitselect(v, f32x4.pmax(best, v), f32x4.ne(v, v));
        }
        v128.store(out + (<usize>c << 2), best);
      }
    }
    for (; c < C; c++) {
      let p = img + (<usize>c << 2);
      let best = load<f32>(p);
      for (let i = 1; i < P; i++) {
        p += pixel;
        const v = load<f32>(p);
        if (v != v || v > best) best = v;
      }
      store<f32>(out + (<usize>c << 2), best);
    }
  }
}

/** dx[n, p, c] = x[n, p, c] == y[n, c] ? dy[n, c] : 0: every input equal to the maximum gets dy (TF.js's rule). */
export function global_maxpool_backward(x: usize, y: usize, dy: usize, dx: usize, N: i32, P: i32, C: i32): void {
  const pixel = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>P * pixel, m = y + <usize>n * pixel, g = dy + <usize>n * pixel;
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        const off = <usize>c << 2;
        const best = v128.load(m + off), v = v128.load(g + off);
        let p = o + off;
        for (let i = 0; i < P; i++) { v128.store(dx + p, v128.and(v, f32x4.eq(v128.load(x + p), best))); p += pixel; }
      }
    }
    for (; c < C; c++) {
      const off = <usize>c << 2;
      const best = load<f32>(m + off), v = load<f32>(g + off);
      let p = o + off;
      for (let i = 0; i < P; i++) { store<f32>(dx + p, load<f32>(x + p) == best ? v : 0); p += pixel; }
    }
  }
}
