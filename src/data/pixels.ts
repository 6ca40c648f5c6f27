// Decoded pictures to a model's input: one pipeline for Node (decoded PNG/JPEG files) and the browser
// (canvas pixels), so the same picture gives the same bytes in both. RGBA in, HWC bytes out:
//   1. alpha composited over white (a transparent PNG of a dark digit reads as dark on white);
//   2. grey as ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), or RGB;
//   3. 'crop': the largest centred box with the target's aspect ratio (Keras's crop_to_aspect_ratio,
//      Teachable Machine's centre square); 'stretch': the whole picture, aspect ratio not kept;
//   4. resampled separably: a box filter (exact area average) when shrinking, so small inputs from
//      large photos do not alias; bilinear with half-pixel centres when enlarging;
//   5. rounded to bytes. Browser-safe.
import { ValueError } from '../errors.js';

/** Decoded pixels, 4 bytes (R, G, B, A) per pixel, rows top to bottom: what ImageData, pngjs and jpeg-js give. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export type Fit = 'crop' | 'stretch';
export const FITS: readonly Fit[] = ['crop', 'stretch'];

/** The input a model takes: [height, width, channels] with 1 (grey) or 3 (RGB) channels, and how pictures are fitted to it. */
export interface PixelShape {
  height: number;
  width: number;
  channels: 1 | 3;
  fit?: Fit;
}

/** Validates a [height, width, channels] input shape for pictures. */
export function pixelShape(shape: readonly number[], fit: Fit = 'crop', where: string): PixelShape {
  const [height, width, channels] = shape;
  if (shape.length !== 3 || ![height, width].every((d) => Number.isInteger(d) && d >= 1) || (channels !== 1 && channels !== 3)) {
    throw new ValueError(`${where}: pictures need an input shape [height, width, 1 or 3], received [${shape.join(',')}]`);
  }
  if (!FITS.includes(fit)) throw new ValueError(`${where}: fit must be one of ${FITS.join(', ')}, received ${JSON.stringify(fit)}`);
  return { height, width, channels, fit };
}

/** The source box that 'crop' keeps: centred, whole pixels, the target's aspect ratio. */
export function cropBox(srcW: number, srcH: number, dstW: number, dstH: number): { x: number; y: number; w: number; h: number } {
  if (srcW * dstH > srcH * dstW) {
    const w = Math.max(1, Math.round((srcH * dstW) / dstH));
    return { x: Math.floor((srcW - w) / 2), y: 0, w, h: srcH };
  }
  const h = Math.max(1, Math.round((srcW * dstH) / dstW));
  return { x: 0, y: Math.floor((srcH - h) / 2), w: srcW, h };
}

/** Per output index along one axis: the source indices it reads (from `start`, `count` of them) and their weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  /** Taps per output slot in `weights`. */
  stride: number;
}

/** Resampling weights from source span [from, from+len) to `out` samples: box filter when shrinking, bilinear otherwise. */
function taps(from: number, len: number, out: number): Taps {
  const scale = len / out;
  const stride = scale > 1 ? Math.ceil(scale) + 1 : 2;
  const t: Taps = { start: new Int32Array(out), count: new Int32Array(out), weights: new Float32Array(out * stride), stride };
  for (let o = 0; o < out; o++) {
    if (scale > 1) {
      const a = o * scale,
        b = a + scale;
      const i0 = Math.floor(a),
        i1 = Math.min(len, Math.ceil(b));
      t.start[o] = from + i0;
      t.count[o] = i1 - i0;
      for (let i = i0; i < i1; i++) t.weights[o * stride + i - i0] = (Math.min(b, i + 1) - Math.max(a, i)) / scale;
    } else {
      const c = Math.min(len - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i0 = Math.floor(c),
        f = c - i0;
      t.start[o] = from + i0;
      t.count[o] = i0 + 1 < len ? 2 : 1;
      t.weights[o * stride] = t.count[o] === 2 ? 1 - f : 1;
      t.weights[o * stride + 1] = t.count[o] === 2 ? f : 0;
    }
  }
  return t;
}

/**
 * A picture as `shape.height x shape.width x shape.channels` bytes (HWC), written into `out` at `offset`
 * (a new array by default).
 */
export function fitPixels(img: RgbaImage, shape: PixelShape, out?: Uint8Array, offset = 0): Uint8Array {
  const { width: W, height: H, channels: C } = shape;
  const dst = out ?? new Uint8Array(W * H * C);
  const box = shape.fit === 'stretch' ? { x: 0, y: 0, w: img.width, h: img.height } : cropBox(img.width, img.height, W, H);
  const tx = taps(box.x, box.w, W),
    ty = taps(box.y, box.h, H);
  const src = img.data,
    rowBytes = img.width * 4;
  // Horizontal pass over the rows the box covers: composited, grey or RGB, floats.
  const rows = new Float32Array(box.h * W * C);
  const r = 0.299 / 255,
    g = 0.587 / 255,
    b = 0.114 / 255;
  for (let y = 0; y < box.h; y++) {
    const row = (box.y + y) * rowBytes;
    for (let o = 0; o < W; o++) {
      let s0 = 0,
        s1 = 0,
        s2 = 0;
      for (let k = 0, i = row + tx.start[o] * 4; k < tx.count[o]; k++, i += 4) {
        const w = tx.weights[o * tx.stride + k];
        const a = src[i + 3],
          white = 255 * (255 - a);
        const R = src[i] * a + white,
          G = src[i + 1] * a + white,
          B = src[i + 2] * a + white; // x255
        if (C === 1) s0 += w * (R * r + G * g + B * b);
        else {
          s0 += w * R;
          s1 += w * G;
          s2 += w * B;
        }
      }
      const d = (y * W + o) * C;
      if (C === 1) rows[d] = s0;
      else {
        rows[d] = s0 / 255;
        rows[d + 1] = s1 / 255;
        rows[d + 2] = s2 / 255;
      }
    }
  }
  // Vertical pass, rounded to bytes.
  const line = W * C;
  for (let o = 0; o < H; o++) {
    const base = offset + o * line;
    for (let j = 0; j < line; j++) {
      let s = 0;
      for (let k = 0; k < ty.count[o]; k++) s += ty.weights[o * ty.stride + k] * rows[(ty.start[o] - box.y + k) * line + j];
      dst[base + j] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
    }
  }
  return dst;
}

/** 255 - p for every byte: light-on-dark from dark-on-light (what MNIST-style models expect). */
export function invertPixels(p: Uint8Array): void {
  for (let i = 0; i < p.length; i++) p[i] = 255 - p[i];
}

/** Mean byte value, 0..255. */
export function meanPixel(p: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i];
  return s / Math.max(1, p.length);
}
