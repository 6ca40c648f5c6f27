// float64 references of the augmentation kernels (TF's image_ops.h as TF.js's cpu kernel spells it out;
// Keras 3's contrast), shared by the kernel and layer suites.
import { FILL_MODES, type FillMode, type Interpolation, MAP_FLOATS, type WarpShape } from '../src/kernels/augment.js';

export { FILL_MODES };
export type Arr = ArrayLike<number>;
export interface Shape extends WarpShape {
  N: number;
}

function mapCoord(v: number, len: number, mode: FillMode): number {
  if (mode === 'constant') return v;
  if (mode === 'reflect') {
    if (v < 0) {
      if (len <= 1) v = 0;
      else {
        const sz2 = 2 * len;
        v = sz2 * Math.trunc(-v / sz2) + v;
        v = v < -len ? v + sz2 : -v - 1;
      }
    } else if (v > len - 1) {
      if (len <= 1) v = 0;
      else {
        const sz2 = 2 * len;
        v -= sz2 * Math.trunc(v / sz2);
        if (v >= len) v = sz2 - v - 1;
      }
    }
  } else if (mode === 'wrap') {
    if (v < 0) v = len <= 1 ? 0 : v + len * (Math.trunc(-v / (len - 1)) + 1);
    else if (v > len - 1) v = len <= 1 ? 0 : v - len * Math.trunc(v / (len - 1));
  }
  return Math.min(Math.max(v, 0), len - 1);
}

/** For each output element, the input elements it reads and their weights (fill reads: index -1). */
function warpTaps(
  s: Shape,
  maps: Arr,
  shared: boolean,
  fill: FillMode,
  interp: Interpolation,
): (b: number, oy: number, ox: number) => [number, number][] {
  return (b, oy, ox) => {
    const m = shared ? 0 : b * MAP_FLOATS;
    const f = (i: number) => Math.fround(maps[m + i]);
    const x = mapCoord(f(0) * ox + f(1) * oy + f(2), s.W, fill),
      y = mapCoord(f(3) * ox + f(4) * oy + f(5), s.H, fill);
    const at = (yy: number, xx: number) => (yy >= 0 && yy < s.H && xx >= 0 && xx < s.W ? ((b * s.H + yy) * s.W + xx) * s.C : -1);
    if (interp === 'nearest') return [[at(Math.round(y), Math.round(x)), 1]];
    const x0 = Math.floor(x),
      y0 = Math.floor(y);
    return [
      [at(y0, x0), (y0 + 1 - y) * (x0 + 1 - x)],
      [at(y0, x0 + 1), (y0 + 1 - y) * (x - x0)],
      [at(y0 + 1, x0), (y - y0) * (x0 + 1 - x)],
      [at(y0 + 1, x0 + 1), (y - y0) * (x - x0)],
    ];
  };
}

export function warpRef(
  s: Shape,
  x: Arr,
  maps: Arr,
  shared: boolean,
  fill: FillMode,
  interp: Interpolation,
  fillValue: number,
): Float64Array {
  const y = new Float64Array(s.N * s.OH * s.OW * s.C);
  const taps = warpTaps(s, maps, shared, fill, interp);
  let o = 0;
  for (let b = 0; b < s.N; b++)
    for (let oy = 0; oy < s.OH; oy++)
      for (let ox = 0; ox < s.OW; ox++, o += s.C) {
        for (const [at, w] of taps(b, oy, ox)) for (let c = 0; c < s.C; c++) y[o + c] += w * (at < 0 ? fillValue : x[at + c]);
      }
  return y;
}

export function warpBackRef(s: Shape, dy: Arr, maps: Arr, shared: boolean, fill: FillMode, interp: Interpolation): Float64Array {
  const dx = new Float64Array(s.N * s.H * s.W * s.C);
  const taps = warpTaps(s, maps, shared, fill, interp);
  let o = 0;
  for (let b = 0; b < s.N; b++)
    for (let oy = 0; oy < s.OH; oy++)
      for (let ox = 0; ox < s.OW; ox++, o += s.C) {
        for (const [at, w] of taps(b, oy, ox)) if (at >= 0) for (let c = 0; c < s.C; c++) dx[at + c] += w * dy[o + c];
      }
  return dx;
}

export function contrastRef(x: Arr, f: Arr, N: number, P: number, C: number, lo: number, hi: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) {
      let m = 0;
      for (let q = 0; q < P; q++) m += x[(b * P + q) * C + c];
      m /= P;
      for (let q = 0; q < P; q++) {
        const i = (b * P + q) * C + c;
        y[i] = Math.min(Math.max((x[i] - m) * f[b] + m, lo), hi);
      }
    }
  return y;
}
export function contrastBackRef(y: Arr, dy: Arr, f: Arr, N: number, P: number, C: number, lo: number, hi: number): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++) {
      const g = (q: number) => {
        const i = (b * P + q) * C + c;
        return y[i] > lo && y[i] < hi ? dy[i] : 0;
      };
      let m = 0;
      for (let q = 0; q < P; q++) m += g(q);
      m /= P;
      for (let q = 0; q < P; q++) dx[(b * P + q) * C + c] = f[b] * g(q) + (1 - f[b]) * m;
    }
  return dx;
}
