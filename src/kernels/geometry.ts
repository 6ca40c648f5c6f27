// All window geometry lives here, once: output sizes and TensorFlow's padding rule for conv and pool.
import { ShapeError } from '../errors.js';

export type Padding = 'valid' | 'same';

export interface Window2D {
  N: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  /** Padding before (top/left) and after (bottom/right); 'same' puts the odd extra pixel after, as TF does. */
  PT: number;
  PL: number;
  PB: number;
  PR: number;
}

export function pair(v: number | [number, number] | number[], what: string, layer: string): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ShapeError(`${layer}: ${what} must be a positive integer or [h, w] of positive integers, received ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

function axis(size: number, k: number, s: number, padding: Padding): [number, number, number] {
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    const before = Math.floor(total / 2);
    return [out, before, total - before];
  }
  return [Math.floor((size - k) / s) + 1, 0, 0];
}

/** Geometry of a kh x kw window sliding with strides over an [H, W, C] input. Throws if nothing fits. */
export function computeWindow2D(
  layer: string,
  inShape: readonly number[],
  k: [number, number],
  strides: [number, number],
  padding: Padding,
  N = 1,
): Window2D {
  const [H, W, C] = inShape;
  const [OH, PT, PB] = axis(H, k[0], strides[0], padding);
  const [OW, PL, PR] = axis(W, k[1], strides[1], padding);
  if (OH < 1 || OW < 1) {
    throw new ShapeError(
      `${layer}: a ${k[0]}x${k[1]} window with '${padding}' padding does not fit an input of ${H}x${W} (output would be ${OH}x${OW}); use 'same' padding or a smaller window`,
    );
  }
  return { N, H, W, C, OH, OW, KH: k[0], KW: k[1], SH: strides[0], SW: strides[1], PT, PL, PB, PR };
}

/** computeWindow2D of a layer's window, once per input shape (each node's own shape array): not per call. */
export function windowsOf(
  layer: string,
  k: [number, number],
  strides: [number, number],
  padding: Padding,
): (inShape: number[]) => Window2D {
  const cache = new WeakMap<number[], Window2D>();
  return (inShape) => {
    let g = cache.get(inShape);
    if (!g) cache.set(inShape, (g = computeWindow2D(layer, inShape, k, strides, padding)));
    return g;
  };
}
