// UpSampling2D on NHWC: [N, H, W, C] -> [N, OH, OW, C], nearest or bilinear, exactly as TF.js's cpu
// kernels (resizeNearestNeighbor / resizeBilinear with alignCorners = halfPixelCenters = false, and their
// gradients) compute them: source positions are ratio * index in float64 with ratio = H / OH, the
// interpolation and the gradient sums run in float64 and round to float32 where TF.js stores, in the
// same order. So results match TF.js bit for bit, and the scalar siblings match the SIMD paths.
import { copy_f32, demote_pair, promote_high, scalarMode, zero_f32 } from './common';

/** The input row (or column) TF.js's nearest-neighbour resize reads for output index o. */
// @ts-ignore: decorator
@inline function nearest(ratio: f64, o: i32, size: i32): i32 {
  return min(size - 1, <i32>Math.floor(ratio * <f64>o));
}

/** y = x resized to OH x OW by nearest neighbour; an output row equal to the one before is copied whole. */
export function upsample_nearest_forward(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const rh = <f64>H / <f64>OH, rw = <f64>W / <f64>OW;
  const pixel = <usize>C << 2, rowOut = <usize>OW * pixel;
  let dst = y;
  for (let n = 0; n < N; n++) {
    const img = x + <usize>n * <usize>H * <usize>W * pixel;
    let last = -1;
    for (let oy = 0; oy < OH; oy++) {
      const sy = nearest(rh, oy, H);
      if (sy == last) memory.copy(dst, dst - rowOut, rowOut);
      else {
        const row = img + <usize>sy * <usize>W * pixel;
        for (let ox = 0; ox < OW; ox++) copy_f32(dst + <usize>ox * pixel, row + <usize>nearest(rw, ox, W) * pixel, C);
      }
      last = sy;
      dst += rowOut;
    }
  }
}

/**
 * dx[iy, ix] = sum of dy over the outputs that read (iy, ix), in float64 in raster order (TF.js's gradient).
 * Those outputs form a block of rows and columns, since the nearest index never decreases.
 */
export function upsample_nearest_backward(dy: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const rh = <f64>H / <f64>OH, rw = <f64>W / <f64>OW;
  const pixel = <usize>C << 2, rowOut = <usize>OW * pixel;
  let dst = dx;
  for (let n = 0; n < N; n++) {
    const img = dy + <usize>n * <usize>OH * rowOut;
    let oy = 0;
    for (let iy = 0; iy < H; iy++) {
      const r0 = oy;
      while (oy < OH && nearest(rh, oy, H) == iy) oy++;
      let ox = 0;
      for (let ix = 0; ix < W; ix++) {
        const c0 = ox;
        while (ox < OW && nearest(rw, ox, W) == ix) ox++;
        sum_block(img + <usize>r0 * rowOut + <usize>c0 * pixel, oy - r0, ox - c0, rowOut, C, dst);
        dst += pixel;
      }
    }
  }
}

/** out[c] = float32(sum over a rows x cols block of pixels (rows rowBytes apart) of src[c]), summed in float64. */
function sum_block(src: usize, rows: i32, cols: i32, rowBytes: usize, C: i32, out: usize): void {
  const pixel = <usize>C << 2;
  let c = 0;
  if (!scalarMode) {
    for (; c + 4 <= C; c += 4) {
      let lo = f64x2.splat(0), hi = lo;
      for (let r = 0; r < rows; r++) {
        let p = src + <usize>r * rowBytes + (<usize>c << 2);
        for (let k = 0; k < cols; k++) {
          const v = v128.load(p);
          lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
          hi = f64x2.add(hi, promote_high(v));
          p += pixel;
        }
      }
      v128.store(out + (<usize>c << 2), demote_pair(lo, hi));
    }
  }
  for (; c < C; c++) {
    let s: f64 = 0;
    for (let r = 0; r < rows; r++) {
      let p = src + <usize>r * rowBytes + (<usize>c << 2);
      for (let k = 0; k < cols; k++) { s += <f64>load<f32>(p); p += pixel; }
    }
    store<f32>(out + (<usize>c << 2), <f32>s);
  }
}

/** The source index at or before output index o in TF.js's bilinear resize (lerpNext: the one after, clamped). */
// @ts-ignore: decorator
@inline function lerpIndex(ratio: f64, o: i32): i32 {
  return <i32>Math.floor(ratio * <f64>o);
}
// @ts-ignore: decorator
@inline function lerpNext(ratio: f64, o: i32, size: i32): i32 {
  return min(size - 1, <i32>Math.ceil(ratio * <f64>o));
}

/** y = x resized by bilinear interpolation: top = tl + (tr - tl) * fx, bottom likewise, y = top + (bottom - top) * fy. */
export function upsample_bilinear_forward(x: usize, y: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const rh = <f64>H / <f64>OH, rw = <f64>W / <f64>OW;
  const pixel = <usize>C << 2, rowIn = <usize>W * pixel;
  let dst = y;
  for (let n = 0; n < N; n++) {
    const img = x + <usize>n * <usize>H * rowIn;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = lerpIndex(rh, oy), y1 = lerpNext(rh, oy, H);
      const fy = rh * <f64>oy - <f64>y0;
      const top = img + <usize>y0 * rowIn, bottom = img + <usize>y1 * rowIn;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = lerpIndex(rw, ox), x1 = lerpNext(rw, ox, W);
        const fx = rw * <f64>ox - <f64>x0;
        lerp_pixel(top + <usize>x0 * pixel, top + <usize>x1 * pixel, bottom + <usize>x0 * pixel, bottom + <usize>x1 * pixel, fx, fy, C, dst);
        dst += pixel;
      }
    }
  }
}

function lerp_pixel(tl: usize, tr: usize, bl: usize, br: usize, fx: f64, fy: f64, C: i32, out: usize): void {
  let c = 0;
  if (!scalarMode) {
    const vx = f64x2.splat(fx), vy = f64x2.splat(fy);
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const a = v128.load(tl + o), b = v128.load(tr + o), d = v128.load(bl + o), e = v128.load(br + o);
      const lo = lerp2(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b), f64x2.promote_low_f32x4(d), f64x2.promote_low_f32x4(e), vx, vy);
      const hi = lerp2(promote_high(a), promote_high(b), promote_high(d), promote_high(e), vx, vy);
      v128.store(out + o, demote_pair(lo, hi));
    }
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    const a = <f64>load<f32>(tl + o), b = <f64>load<f32>(tr + o), d = <f64>load<f32>(bl + o), e = <f64>load<f32>(br + o);
    const t = a + (b - a) * fx, u = d + (e - d) * fx;
    store<f32>(out + o, <f32>(t + (u - t) * fy));
  }
}

// @ts-ignore: decorator
@inline function lerp2(a: v128, b: v128, d: v128, e: v128, fx: v128, fy: v128): v128 {
  const t = f64x2.add(a, f64x2.mul(f64x2.sub(b, a), fx));
  const u = f64x2.add(d, f64x2.mul(f64x2.sub(e, d), fx));
  return f64x2.add(t, f64x2.mul(f64x2.sub(u, t), fy));
}

/**
 * dx = the bilinear gradient: each output's dy, weighted, added to its four source pixels in TF.js's order
 * (top-left, top-right, bottom-left, bottom-right; outputs in raster order), each addition in float64
 * rounded to float32 as TF.js's Float32Array does.
 */
export function upsample_bilinear_backward(dy: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32): void {
  const rh = <f64>H / <f64>OH, rw = <f64>W / <f64>OW;
  const pixel = <usize>C << 2, rowIn = <usize>W * pixel;
  zero_f32(dx, N * H * W * C);
  let src = dy;
  for (let n = 0; n < N; n++) {
    const img = dx + <usize>n * <usize>H * rowIn;
    for (let oy = 0; oy < OH; oy++) {
      const y0 = lerpIndex(rh, oy), y1 = lerpNext(rh, oy, H);
      const fy = rh * <f64>oy - <f64>y0, gy = 1.0 - fy;
      const top = img + <usize>y0 * rowIn, bottom = img + <usize>y1 * rowIn;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = lerpIndex(rw, ox), x1 = lerpNext(rw, ox, W);
        const fx = rw * <f64>ox - <f64>x0, gx = 1.0 - fx;
        add_weighted(top + <usize>x0 * pixel, src, gy * gx, C);
        add_weighted(top + <usize>x1 * pixel, src, gy * fx, C);
        add_weighted(bottom + <usize>x0 * pixel, src, fy * gx, C);
        add_weighted(bottom + <usize>x1 * pixel, src, fy * fx, C);
        src += pixel;
      }
    }
  }
}

/** dst[c] = float32(dst[c] + g[c] * w) over C channels, in float64. */
function add_weighted(dst: usize, g: usize, w: f64, C: i32): void {
  let c = 0;
  if (!scalarMode) {
    const vw = f64x2.splat(w);
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const d = v128.load(dst + o), v = v128.load(g + o);
      const lo = f64x2.add(f64x2.promote_low_f32x4(d), f64x2.mul(f64x2.promote_low_f32x4(v), vw));
      const hi = f64x2.add(promote_high(d), f64x2.mul(promote_high(v), vw));
      v128.store(dst + o, demote_pair(lo, hi));
    }
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    store<f32>(dst + o, <f32>(<f64>load<f32>(dst + o) + <f64>load<f32>(g + o) * w));
  }
}
