// Host side of the augmentation family: the random parameters of each sample (drawn here, one short loop
// per sample, never per pixel) and the kernel calls in their fixed argument order. Keras's formulas
// (keras/src/layers/preprocessing/image_preprocessing/*.py) for the affine maps.
import type { Backend } from '../backend.js';
import type { Rng } from '../random.js';

export const FILL_MODES = ['constant', 'reflect', 'wrap', 'nearest'] as const;
export type FillMode = (typeof FILL_MODES)[number];
export const INTERPOLATIONS = ['nearest', 'bilinear'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

/** Floats of one sample's affine map (output pixel -> input coordinate). */
export const MAP_FLOATS = 6;

/** An image batch's geometry: input H x W x C, output OH x OW. */
export interface WarpShape {
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
}
export interface WarpMode {
  fill: FillMode;
  interpolation: Interpolation;
  fillValue: number;
}

/**
 * Forward: dst = src warped by the maps at `maps` (MAP_FLOATS per sample, or one map for all when `shared`);
 * backward: dst = the transpose of that warp applied to src (the input gradient). scratch: C floats.
 */
export function warp(
  be: Backend,
  src: number,
  dst: number,
  maps: number,
  shared: boolean,
  n: number,
  s: WarpShape,
  m: WarpMode,
  scratch: number,
  backward = false,
): void {
  const { H, W, C, OH, OW } = s;
  const pstride = shared ? 0 : MAP_FLOATS,
    fill = FILL_MODES.indexOf(m.fill),
    bilinear = m.interpolation === 'bilinear' ? 1 : 0;
  be.k.affine_warp(src, dst, maps, pstride, n, H, W, C, OH, OW, fill, bilinear, m.fillValue, backward ? 1 : 0, scratch);
}

/** A uniform draw in [lo, hi). */
const uniform = (rng: Rng, [lo, hi]: readonly [number, number]) => lo + (hi - lo) * rng.uniform();

/** Fills n maps (MAP_FLOATS each) from one function of the sample index. */
function maps(n: number, one: (b: number) => number[]): Float32Array {
  const out = new Float32Array(n * MAP_FLOATS);
  for (let b = 0; b < n; b++) out.set(one(b), b * MAP_FLOATS);
  return out;
}

/** RandomFlip: each axis flipped with probability 1/2, independently per sample and axis. */
export function flipMaps(rng: Rng, n: number, H: number, W: number, horizontal: boolean, vertical: boolean): Float32Array {
  return maps(n, () => {
    const h = horizontal && rng.uniform() < 0.5,
      v = vertical && rng.uniform() < 0.5;
    return [h ? -1 : 1, 0, h ? W - 1 : 0, 0, v ? -1 : 1, v ? H - 1 : 0];
  });
}

/** RandomTranslation: shifts of uniform(height) * H rows and uniform(width) * W columns. */
export function translationMaps(
  rng: Rng,
  n: number,
  H: number,
  W: number,
  height: [number, number],
  width: [number, number],
): Float32Array {
  return maps(n, () => {
    const dy = uniform(rng, height) * H,
      dx = uniform(rng, width) * W;
    return [1, 0, -dx, 0, 1, -dy];
  });
}

/** RandomRotation: a turn of uniform(factor) * 2 pi about the image's centre. */
export function rotationMaps(rng: Rng, n: number, H: number, W: number, factor: [number, number]): Float32Array {
  return maps(n, () => {
    const a = uniform(rng, factor) * 2 * Math.PI;
    const cos = Math.cos(a),
      sin = Math.sin(a);
    const xOff = (W - 1 - (cos * (W - 1) - sin * (H - 1))) / 2,
      yOff = (H - 1 - (sin * (W - 1) + cos * (H - 1))) / 2;
    return [cos, -sin, xOff, sin, cos, yOff];
  });
}

/** RandomZoom: input coordinates scaled by 1 + uniform(factor) about the centre (> 1 zooms out); width as height when null. */
export function zoomMaps(
  rng: Rng,
  n: number,
  H: number,
  W: number,
  height: [number, number],
  width: [number, number] | null,
): Float32Array {
  return maps(n, () => {
    const zh = 1 + uniform(rng, height);
    const zw = width ? 1 + uniform(rng, width) : zh;
    return [zw, 0, ((W - 1) / 2) * (1 - zw), 0, zh, ((H - 1) / 2) * (1 - zh)];
  });
}

/** RandomCrop in training on an image at least h x w: an h x w window at a uniform offset, per sample. */
export function cropMaps(rng: Rng, n: number, H: number, W: number, h: number, w: number): Float32Array {
  return maps(n, () => [1, 0, rng.int(W - w + 1), 0, 1, rng.int(H - h + 1)]);
}

/**
 * Keras's smart_resize as one map: the largest centred window of the target's aspect ratio, resized to
 * h x w bilinearly with half-pixel centres (tf.image.resize; with 'nearest' fill the clamping is the same).
 */
export function smartResizeMap(H: number, W: number, h: number, w: number): Float32Array {
  const ch = Math.min(H, Math.trunc((W * h) / w)),
    cw = Math.min(W, Math.trunc((H * w) / h));
  const top = Math.trunc((H - ch) / 2),
    left = Math.trunc((W - cw) / 2);
  const sx = cw / w,
    sy = ch / h;
  return Float32Array.of(sx, 0, 0.5 * sx - 0.5 + left, 0, sy, 0.5 * sy - 0.5 + top);
}

/** RandomContrast's factor per sample: uniform in [1 - lower, 1 + upper]. */
export function contrastFactors(rng: Rng, n: number, lower: number, upper: number): Float32Array {
  const f = new Float32Array(n);
  for (let b = 0; b < n; b++) f[b] = uniform(rng, [1 - lower, 1 + upper]);
  return f;
}

/** Words of one sample's RandomErasing parameters: top, left, height, width (int32), fill value (f32). */
export const ERASE_WORDS = 5;

/**
 * RandomErasing's parameters per sample (ERASE_WORDS each, height 0: none): erased with probability p
 * (uniform in `probability` per sample), a window of area fraction uniform(scale) with the image's aspect
 * ratio at a uniform position, filled with `fill` or a value uniform in that range.
 */
export function erasingParams(
  rng: Rng,
  n: number,
  H: number,
  W: number,
  probability: [number, number],
  scale: [number, number],
  fill: number | [number, number],
): Float32Array {
  const out = new Float32Array(n * ERASE_WORDS),
    words = new Int32Array(out.buffer);
  for (let b = 0; b < n; b++) {
    const p = uniform(rng, probability);
    const on = rng.uniform() < p;
    const side = Math.sqrt(uniform(rng, scale));
    const h = Math.min(H, Math.max(1, Math.round(side * H))),
      w = Math.min(W, Math.max(1, Math.round(side * W)));
    const top = rng.int(H - h + 1),
      left = rng.int(W - w + 1);
    if (on) words.set([top, left, h, w], b * ERASE_WORDS);
    out[b * ERASE_WORDS + 4] = typeof fill === 'number' ? fill : uniform(rng, fill);
  }
  return out;
}
