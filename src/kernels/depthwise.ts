// Host side of the depthwise family: the geometry (TensorFlow's padding on the dilated window), scratch
// sizing mirroring assembly/depthwise.ts's layout, and the calls in the kernels' fixed argument order.
import type { Backend } from '../backend.js';
import { SimdcnnError } from '../errors.js';
import { computeWindow2D, type Padding, type Window2D } from './geometry.js';

/** A depthwise window: Window2D over the dilated kernel, plus the real kernel, dilations and multiplier. */
export interface DepthwiseGeometry extends Window2D {
  /** Kernel size without dilation (Window2D's KH, KW are the dilated extent). */
  kh: number;
  kw: number;
  DH: number;
  DW: number;
  DM: number;
}

export function depthwiseGeometry(
  layer: string,
  inShape: readonly number[],
  k: [number, number],
  strides: [number, number],
  dilation: [number, number],
  padding: Padding,
  DM: number,
): DepthwiseGeometry {
  const extent: [number, number] = [(k[0] - 1) * dilation[0] + 1, (k[1] - 1) * dilation[1] + 1];
  const g = computeWindow2D(layer, inShape, extent, strides, padding);
  return { ...g, kh: k[0], kw: k[1], DH: dilation[0], DW: dilation[1], DM };
}

/** depthwiseGeometry of a layer's window, once per input shape (each node's own shape array): not per call. */
export function depthwiseWindowsOf(
  layer: string,
  k: [number, number],
  strides: [number, number],
  dilation: [number, number],
  padding: Padding,
  DM: number,
): (inShape: number[]) => DepthwiseGeometry {
  const cache = new WeakMap<number[], DepthwiseGeometry>();
  return (inShape) => {
    let g = cache.get(inShape);
    if (!g) cache.set(inShape, (g = depthwiseGeometry(layer, inShape, k, strides, dilation, padding, DM)));
    return g;
  };
}

/** Floats of scratch the three depthwise kernels need for one call (independent of the batch size). */
export function depthwiseScratchFloats(g: DepthwiseGeometry): number {
  const CC = g.C * g.DM,
    R = (g.kh - 1) * g.DH + 1;
  const words = (R + 5 * g.kh * g.kw + 3) & ~3;
  // 16 floats where the pixel-major kernel pins its sums, then the weights packed per group of 4 channels (40 floats);
  // depthMultiplier > 1: a ring of R input rows with their channels repeated, or one input-gradient row per output
  // channel; 1: the filter gradient's zero row.
  return words + 16 + 10 * (CC & ~3) + (g.DM > 1 ? R * g.W * CC : g.W * g.C);
}

export function depthwiseForward(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  g: DepthwiseGeometry,
  N: number,
  flags: number,
): void {
  be.k.depthwise_forward(x, w, bias, y, scratch, N, g.H, g.W, g.C, g.OH, g.OW, g.DM, g.kh, g.kw, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, flags);
}

export function depthwiseBackwardInput(
  be: Backend,
  dy: number,
  w: number,
  dx: number,
  scratch: number,
  g: DepthwiseGeometry,
  N: number,
): void {
  be.k.depthwise_backward_input(dy, w, dx, scratch, N, g.H, g.W, g.C, g.OH, g.OW, g.DM, g.kh, g.kw, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL);
}

export function depthwiseBackwardFilter(
  be: Backend,
  x: number,
  dy: number,
  dw: number,
  db: number,
  scratch: number,
  g: DepthwiseGeometry,
  N: number,
  flags: number,
): void {
  be.k.depthwise_backward_filter(
    x,
    dy,
    dw,
    db,
    scratch,
    N,
    g.H,
    g.W,
    g.C,
    g.OH,
    g.OW,
    g.DM,
    g.kh,
    g.kw,
    g.SH,
    g.SW,
    g.DH,
    g.DW,
    g.PT,
    g.PL,
    flags,
  );
}

/** The depthwise interior kernel, for A/B runs: 'rule' (the default), or 'rows' / 'pixels' wherever each applies. */
export type DepthwiseVariant = 'rule' | 'rows' | 'pixels';
const VARIANTS: DepthwiseVariant[] = ['rule', 'rows', 'pixels'];

/**
 * Selects the depthwise interior kernel of this backend's instance (assembly/depthwise.ts: pixelMajor), and
 * whether the pixel-major kernel touches the rows ahead (touch: false turns that off, for A/B runs).
 */
export function setDepthwiseVariant(be: Backend, v: DepthwiseVariant, opts: { touch?: boolean } = {}): void {
  const i = VARIANTS.indexOf(v);
  if (i < 0) throw new SimdcnnError(`setDepthwiseVariant: expected one of ${VARIANTS.join(', ')}, received ${String(v)}`);
  be.k.set_depthwise_variant(i, opts.touch === false ? 0 : 1);
}
