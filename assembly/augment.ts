// Preprocessing and augmentation kernels (Rescaling, Normalization, RandomFlip/Translation/Rotation/Zoom/
// Crop, RandomContrast, RandomErasing), on a whole NHWC batch in place in wasm memory. The random
// parameters (one affine map, contrast factor or rectangle per sample) are drawn by the host and passed
// in; the kernels are pure functions of them, so backward replays forward's transform exactly.
//
// Vectorised over channels (4 at a time, scalar tail), or over the flat tensor where every element is
// treated alike. SIMD and scalar siblings run the same operations in the same order: bitwise equal.
import { scalarMode } from './common';

/** y = x * scale + offset over n floats (Rescaling; TF.js multiplies, then adds). y may be x. */
export function rescale_f32(x: usize, y: usize, n: i32, scale: f32, offset: f32): void {
  let i = 0;
  if (!scalarMode) {
    const s = f32x4.splat(scale),
      o = f32x4.splat(offset);
    for (; i + 4 <= n; i += 4) {
      const p = <usize>i << 2;
      v128.store(y + p, f32x4.add(f32x4.mul(v128.load(x + p), s), o));
    }
  }
  for (; i < n; i++) {
    const p = <usize>i << 2;
    store<f32>(y + p, load<f32>(x + p) * scale + offset);
  }
}

/** Keras's divisor max(sqrt(variance), epsilon) per channel, into d[0..C). */
function normalization_divisors(variance: usize, d: usize, C: i32): void {
  for (let c = 0; c < C; c++) {
    const p = <usize>c << 2;
    store<f32>(d + p, max(Mathf.sqrt(load<f32>(variance + p)), <f32>1e-7));
  }
}

/**
 * Normalization over rows of C channels: y = (x - mean) / d, or with invert y = mean + x * d, where
 * d = max(sqrt(variance), 1e-7) (Keras). With mean 0 (no buffer) it is the input gradient: dx = dy / d, or
 * dy * d with invert (exactly, as x - 0 and 0 + v are exact). scratch: C floats (d). y may be x.
 */
export function normalize_channels(x: usize, y: usize, mean: usize, variance: usize, rows: i32, C: i32, invert: i32, scratch: usize): void {
  normalization_divisors(variance, scratch, C);
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * (<usize>C << 2);
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        const p = <usize>c << 2;
        const v = v128.load(x + row + p),
          m = mean ? v128.load(mean + p) : f32x4.splat(0),
          d = v128.load(scratch + p);
        v128.store(y + row + p, invert ? f32x4.add(m, f32x4.mul(v, d)) : f32x4.div(f32x4.sub(v, m), d));
      }
    }
    for (; c < C; c++) {
      const p = <usize>c << 2;
      const v = load<f32>(x + row + p),
        m: f32 = mean ? load<f32>(mean + p) : 0,
        d = load<f32>(scratch + p);
      store<f32>(y + row + p, invert ? m + v * d : (v - m) / d);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Affine warps (tf.raw_ops.ImageProjectiveTransformV3 without the projective row, as Keras's random
// translation, rotation and zoom call it): output pixel (ox, oy) of sample b reads the input at
// x = p0*ox + p1*oy + p2, y = p3*ox + p4*oy + p5 (p: 6 floats per sample, `pstride` floats apart; 0: one
// map for the batch). Coordinates are mapped into the image by the fill mode as TF does (0 constant,
// 1 reflect, 2 wrap, 3 nearest) and sampled nearest (0) or bilinearly (1); corners outside the image
// read the fill pixel (constant mode). Coordinates and weights in float64 as TF.js's reference computes
// them, the blend in float32.

const FILL_CONSTANT = 0,
  FILL_REFLECT = 1,
  FILL_WRAP = 2;

function map_coordinate(v: f64, len: i32, mode: i32): f64 {
  const n = <f64>len;
  if (mode == FILL_CONSTANT) return max(min(v, n + 1), -2); // beyond one pixel outside, every corner is fill
  if (mode == FILL_REFLECT) {
    if (v < 0) {
      if (len <= 1) v = 0;
      else {
        const sz2 = 2 * n;
        v = sz2 * trunc(-v / sz2) + v;
        v = v < -n ? v + sz2 : -v - 1;
      }
    } else if (v > n - 1) {
      if (len <= 1) v = 0;
      else {
        const sz2 = 2 * n;
        v -= sz2 * trunc(v / sz2);
        if (v >= n) v = sz2 - v - 1;
      }
    }
  } else if (mode == FILL_WRAP) {
    if (v < 0) {
      if (len <= 1) v = 0;
      else v += n * (trunc(-v / (n - 1)) + 1);
    } else if (v > n - 1) {
      if (len <= 1) v = 0;
      else v -= n * trunc(v / (n - 1));
    }
  }
  return max(0, min(v, n - 1));
}

/** Byte offset of pixel (iy, ix) of an H x W image of C channels, or -1 outside it. */
// @ts-ignore: decorator
@inline function pixel_at(iy: f64, ix: f64, H: i32, W: i32, C: i32): isize {
  if (iy < 0 || ix < 0 || iy >= <f64>H || ix >= <f64>W) return -1;
  return (<isize>(<i32>iy * W + <i32>ix) * C) << 2;
}

/** dst[c] = (wy0 * (wx0 * a[c] + wx1 * b[c]) + wy1 * (wx0 * e[c] + wx1 * f[c])) over C channels (TF's order). */
// @ts-ignore: decorator
@inline function blend4(dst: usize, a: usize, b: usize, e: usize, f: usize, wx0: f32, wx1: f32, wy0: f32, wy1: f32, C: i32): void {
  let c = 0;
  if (!scalarMode) {
    const vx0 = f32x4.splat(wx0),
      vx1 = f32x4.splat(wx1),
      vy0 = f32x4.splat(wy0),
      vy1 = f32x4.splat(wy1);
    for (; c + 4 <= C; c += 4) {
      const p = <usize>c << 2;
      const top = f32x4.add(f32x4.mul(vx0, v128.load(a + p)), f32x4.mul(vx1, v128.load(b + p)));
      const bottom = f32x4.add(f32x4.mul(vx0, v128.load(e + p)), f32x4.mul(vx1, v128.load(f + p)));
      v128.store(dst + p, f32x4.add(f32x4.mul(vy0, top), f32x4.mul(vy1, bottom)));
    }
  }
  for (; c < C; c++) {
    const p = <usize>c << 2;
    const top = wx0 * load<f32>(a + p) + wx1 * load<f32>(b + p);
    const bottom = wx0 * load<f32>(e + p) + wx1 * load<f32>(f + p);
    store<f32>(dst + p, wy0 * top + wy1 * bottom);
  }
}

/** dst[c] += w * g[c] over C channels. */
// @ts-ignore: decorator
@inline function scatter(dst: usize, g: usize, w: f32, C: i32): void {
  let c = 0;
  if (!scalarMode) {
    const vw = f32x4.splat(w);
    for (; c + 4 <= C; c += 4) {
      const p = <usize>c << 2;
      v128.store(dst + p, f32x4.add(v128.load(dst + p), f32x4.mul(vw, v128.load(g + p))));
    }
  }
  for (; c < C; c++) {
    const p = <usize>c << 2;
    store<f32>(dst + p, load<f32>(dst + p) + w * load<f32>(g + p));
  }
}

/** dst[0..C) = src[0..C). */
// @ts-ignore: decorator
@inline function copy_pixel(dst: usize, src: usize, C: i32): void {
  let c = 0;
  if (!scalarMode) for (; c + 4 <= C; c += 4) v128.store(dst + (<usize>c << 2), v128.load(src + (<usize>c << 2)));
  for (; c < C; c++) store<f32>(dst + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
}

/** TF.js's nearest rounding (Math.round: halves up). */
// @ts-ignore: decorator
@inline function round_half_up(v: f64): f64 {
  return floor(v + 0.5);
}

/**
 * Forward (backward 0): dst [N, OH, OW, C] = src [N, H, W, C] warped by each sample's map (see above); the
 * fill pixel is fillValue. Backward (1): dst [N, H, W, C] = the transpose applied to src [N, OH, OW, C]: each
 * output pixel's gradient times its sampling weights, added into the pixels it read (fill reads are dropped
 * into the scratch sink). scratch: C floats. dst must not overlap src.
 */
export function affine_warp(
  src: usize,
  dst: usize,
  params: usize,
  pstride: i32,
  N: i32,
  H: i32,
  W: i32,
  C: i32,
  OH: i32,
  OW: i32,
  fillMode: i32,
  bilinear: i32,
  fillValue: f32,
  backward: i32,
  scratch: usize,
): void {
  for (let c = 0; c < C; c++) store<f32>(scratch + (<usize>c << 2), fillValue);
  const image = <usize>H * W * C * 4,
    pixel = <usize>C << 2,
    warped = <usize>OH * OW * pixel;
  if (backward) memory.fill(dst, 0, <usize>N * image);
  for (let b = 0; b < N; b++) {
    const p = params + ((<usize>b * pstride) << 2);
    const p0 = <f64>load<f32>(p),
      p1 = <f64>load<f32>(p, 4),
      p2 = <f64>load<f32>(p, 8),
      p3 = <f64>load<f32>(p, 12),
      p4 = <f64>load<f32>(p, 16),
      p5 = <f64>load<f32>(p, 20);
    // img: the input image (forward reads it, backward adds into it); out walks the output pixels.
    const img = backward ? dst + <usize>b * image : src + <usize>b * image;
    let out = backward ? src + <usize>b * warped : dst + <usize>b * warped;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const fx = <f64>ox,
          fy = <f64>oy;
        const ix = map_coordinate(p0 * fx + p1 * fy + p2, W, fillMode);
        const iy = map_coordinate(p3 * fx + p4 * fy + p5, H, fillMode);
        if (!bilinear) {
          const at = pixel_at(round_half_up(iy), round_half_up(ix), H, W, C);
          const q = at < 0 ? scratch : img + at;
          if (backward) scatter(q, out, 1, C);
          else copy_pixel(out, q, C);
        } else {
          const x0 = floor(ix),
            y0 = floor(iy);
          const wx0 = <f32>(x0 + 1 - ix),
            wx1 = <f32>(ix - x0),
            wy0 = <f32>(y0 + 1 - iy),
            wy1 = <f32>(iy - y0);
          const a = pixel_at(y0, x0, H, W, C),
            bb = pixel_at(y0, x0 + 1, H, W, C),
            e = pixel_at(y0 + 1, x0, H, W, C),
            f = pixel_at(y0 + 1, x0 + 1, H, W, C);
          const qa = a < 0 ? scratch : img + a,
            qb = bb < 0 ? scratch : img + bb,
            qe = e < 0 ? scratch : img + e,
            qf = f < 0 ? scratch : img + f;
          if (backward) {
            scatter(qa, out, wy0 * wx0, C);
            scatter(qb, out, wy0 * wx1, C);
            scatter(qe, out, wy1 * wx0, C);
            scatter(qf, out, wy1 * wx1, C);
          } else blend4(out, qa, qb, qe, qf, wx0, wx1, wy0, wy1, C);
        }
        out += pixel;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// RandomContrast (Keras 3): y = clip((x - mean) * factor + mean, lo, hi), mean per sample and channel
// over the image's P pixels (summed in pixel order in float32, then divided by P).

/** scratch[0..C) = the mean of each channel of one image [P, C]. */
function channel_means(x: usize, P: i32, C: i32, scratch: usize): void {
  memory.fill(scratch, 0, <usize>C << 2);
  const row = <usize>C << 2;
  for (let q = 0; q < P; q++) {
    const px = x + <usize>q * row;
    let c = 0;
    if (!scalarMode) {
      for (; c + 4 <= C; c += 4) {
        const p = <usize>c << 2;
        v128.store(scratch + p, f32x4.add(v128.load(scratch + p), v128.load(px + p)));
      }
    }
    for (; c < C; c++) {
      const p = <usize>c << 2;
      store<f32>(scratch + p, load<f32>(scratch + p) + load<f32>(px + p));
    }
  }
  for (let c = 0; c < C; c++) store<f32>(scratch + (<usize>c << 2), load<f32>(scratch + (<usize>c << 2)) / <f32>P);
}

/** RandomContrast forward over x [N, P, C] with factors[N]. scratch: C floats. y may be x. */
export function contrast_forward(x: usize, y: usize, factors: usize, N: i32, P: i32, C: i32, lo: f32, hi: f32, scratch: usize): void {
  const image = <usize>P * C * 4,
    row = <usize>C << 2;
  for (let b = 0; b < N; b++) {
    const src = x + <usize>b * image,
      dst = y + <usize>b * image;
    channel_means(src, P, C, scratch);
    const f = load<f32>(factors + (<usize>b << 2));
    for (let q = 0; q < P; q++) {
      const o = <usize>q * row;
      let c = 0;
      if (!scalarMode) {
        const vf = f32x4.splat(f),
          vlo = f32x4.splat(lo),
          vhi = f32x4.splat(hi);
        for (; c + 4 <= C; c += 4) {
          const p = <usize>c << 2;
          const m = v128.load(scratch + p);
          const v = f32x4.add(f32x4.mul(f32x4.sub(v128.load(src + o + p), m), vf), m);
          v128.store(dst + o + p, f32x4.min(f32x4.max(v, vlo), vhi));
        }
      }
      for (; c < C; c++) {
        const p = <usize>c << 2;
        const m = load<f32>(scratch + p);
        store<f32>(dst + o + p, min(max((load<f32>(src + o + p) - m) * f + m, lo), hi));
      }
    }
  }
}

/**
 * RandomContrast's input gradient from its output y: g = dy where lo < y < hi (else 0, clipped), then
 * dx = factor * g + (1 - factor) * mean_pixels(g) per channel. scratch: C floats. dx may be dy.
 */
export function contrast_backward(y: usize, dy: usize, dx: usize, factors: usize, N: i32, P: i32, C: i32, lo: f32, hi: f32, scratch: usize): void {
  const image = <usize>P * C * 4,
    row = <usize>C << 2;
  for (let b = 0; b < N; b++) {
    const out = y + <usize>b * image,
      g = dy + <usize>b * image,
      d = dx + <usize>b * image;
    // Mask in place first (g may be d), then the channel means of the masked gradient.
    const n = P * C;
    let i = 0;
    if (!scalarMode) {
      const vlo = f32x4.splat(lo),
        vhi = f32x4.splat(hi);
      for (; i + 4 <= n; i += 4) {
        const p = <usize>i << 2;
        const v = v128.load(out + p);
        v128.store(d + p, v128.and(v128.load(g + p), v128.and(f32x4.gt(v, vlo), f32x4.lt(v, vhi))));
      }
    }
    for (; i < n; i++) {
      const p = <usize>i << 2;
      const v = load<f32>(out + p);
      store<f32>(d + p, v > lo && v < hi ? load<f32>(g + p) : 0);
    }
    channel_means(d, P, C, scratch);
    const f = load<f32>(factors + (<usize>b << 2));
    const k: f32 = <f32>1 - f;
    for (let q = 0; q < P; q++) {
      const o = <usize>q * row;
      let c = 0;
      if (!scalarMode) {
        const vf = f32x4.splat(f),
          vk = f32x4.splat(k);
        for (; c + 4 <= C; c += 4) {
          const p = <usize>c << 2;
          v128.store(d + o + p, f32x4.add(f32x4.mul(vf, v128.load(d + o + p)), f32x4.mul(vk, v128.load(scratch + p))));
        }
      }
      for (; c < C; c++) {
        const p = <usize>c << 2;
        store<f32>(d + o + p, f * load<f32>(d + o + p) + k * load<f32>(scratch + p));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// RandomErasing: one rectangle per sample, params[5b..5b+4] = top, left, height, width (int32; height 0:
// none) and the fill value (f32), set in y = x; with useFill 0 it is set to 0 (on dy: the backward pass).

/** y = x with each sample's rectangle set to its fill value (or 0); x [N, H, W, C]. y may be x. */
export function erase_rect(x: usize, y: usize, params: usize, N: i32, H: i32, W: i32, C: i32, useFill: i32): void {
  const image = <usize>H * W * C * 4,
    row = <usize>W * C * 4;
  for (let b = 0; b < N; b++) {
    const src = x + <usize>b * image,
      dst = y + <usize>b * image;
    if (src != dst) memory.copy(dst, src, image);
    const r = params + <usize>b * 20;
    const top = load<i32>(r),
      left = load<i32>(r, 4),
      h = load<i32>(r, 8),
      w = load<i32>(r, 12);
    const fill: f32 = useFill ? load<f32>(r, 16) : 0;
    const n = w * C;
    for (let i = top; i < top + h; i++) {
      const at = dst + <usize>i * row + ((<usize>left * C) << 2);
      let j = 0;
      if (!scalarMode) {
        const v = f32x4.splat(fill);
        for (; j + 4 <= n; j += 4) v128.store(at + (<usize>j << 2), v);
      }
      for (; j < n; j++) store<f32>(at + (<usize>j << 2), fill);
    }
  }
}
