// All window geometry lives here, once: output sizes and TensorFlow's padding rule for conv and pool.
import { ShapeError, ValueError } from '../errors.js';

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
  /** Dilation: kernel taps DH rows and DW columns apart (1 for a kernel of one row or column, and for pooling). */
  DH: number;
  DW: number;
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

/** dilationRate as TF.js takes it (a number or [h, w]); with dilation > 1 the strides must be 1, as TF.js and Keras require. */
export function checkDilation(v: unknown, strides: [number, number], layer: string): [number, number] {
  const d = pair((v ?? 1) as number, 'dilationRate', layer);
  if ((d[0] > 1 || d[1] > 1) && (strides[0] > 1 || strides[1] > 1)) {
    throw new ValueError(
      `${layer}: strides ${JSON.stringify(strides)} with dilationRate ${JSON.stringify(d)}: either the strides or the dilation rate must be 1 (as in TF.js and Keras)`,
    );
  }
  return d;
}

/** Output size and padding before/after along one axis, for a window k taps wide (dilation included). */
function axis(size: number, k: number, s: number, padding: Padding): [number, number, number] {
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    const before = Math.floor(total / 2);
    return [out, before, total - before];
  }
  return [Math.floor((size - k) / s) + 1, 0, 0];
}

/**
 * Geometry of a kh x kw window (taps dilation[0] rows and dilation[1] columns apart) sliding with strides
 * over an [H, W, C] input. Throws if nothing fits.
 */
export function computeWindow2D(
  layer: string,
  inShape: readonly number[],
  k: [number, number],
  strides: [number, number],
  padding: Padding,
  N = 1,
  dilation: [number, number] = [1, 1],
): Window2D {
  const [H, W, C] = inShape;
  const DH = k[0] > 1 ? dilation[0] : 1,
    DW = k[1] > 1 ? dilation[1] : 1;
  const [OH, PT, PB] = axis(H, (k[0] - 1) * DH + 1, strides[0], padding);
  const [OW, PL, PR] = axis(W, (k[1] - 1) * DW + 1, strides[1], padding);
  if (OH < 1 || OW < 1) {
    const dilated = DH > 1 || DW > 1 ? ` dilated by ${DH}x${DW}` : '';
    throw new ShapeError(
      `${layer}: a ${k[0]}x${k[1]} window${dilated} with '${padding}' padding does not fit an input of ${H}x${W} (output would be ${OH}x${OW}); use 'same' padding or a smaller window`,
    );
  }
  return { N, H, W, C, OH, OW, KH: k[0], KW: k[1], SH: strides[0], SW: strides[1], DH, DW, PT, PL, PB, PR };
}

/**
 * A transposed convolution of an [h, w, inC] input to `filters` channels, as the convolution it transposes:
 * that convolution's input is the [H, W, filters] output, with H = h * stride (+ max(k - stride, 0) for
 * 'valid'), TF.js's deconvLength; its output is [h, w] again, its OC is inC.
 */
export function transposedWindow2D(
  layer: string,
  inShape: readonly number[],
  k: [number, number],
  strides: [number, number],
  padding: Padding,
  filters: number,
): Window2D {
  const length = (d: number, i: 0 | 1) => d * strides[i] + (padding === 'valid' ? Math.max(k[i] - strides[i], 0) : 0);
  const g = computeWindow2D(layer, [length(inShape[0], 0), length(inShape[1], 1), filters], k, strides, padding);
  if (g.OH !== inShape[0] || g.OW !== inShape[1]) throw new Error(`${layer}: transposed geometry does not invert (internal error)`);
  return g;
}

/** computeWindow2D of a layer's window, once per input shape (each node's own shape array): not per call. */
export function windowsOf(
  layer: string,
  k: [number, number],
  strides: [number, number],
  padding: Padding,
  dilation: [number, number] = [1, 1],
): (inShape: number[]) => Window2D {
  return memoByShape((inShape) => computeWindow2D(layer, inShape, k, strides, padding, 1, dilation));
}

/** f of a node's input shape, computed once per shape array (each node keeps its own): not per call. */
export function memoByShape<T extends object>(f: (inShape: number[]) => T): (inShape: number[]) => T {
  const cache = new WeakMap<number[], T>();
  return (inShape) => {
    let v = cache.get(inShape);
    if (!v) cache.set(inShape, (v = f(inShape)));
    return v;
  };
}
