// Float64 references for depthwise convolution, written as the textbook definitions (as test/reference.ts
// does for conv2d): no rings, no taps, no padded copies. Weights [KH, KW, C, DM]; output channel c*DM + m.
import { type Arr, axisGeometry, type Pad } from './reference.js';

export interface DwCase {
  N: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  DM: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  pad: Pad;
}

/** TensorFlow's rule on the dilated window (KH - 1) * DH + 1. */
export function dwGeometry(c: DwCase) {
  const a = axisGeometry(c.H, (c.KH - 1) * c.DH + 1, c.SH, c.pad),
    b = axisGeometry(c.W, (c.KW - 1) * c.DW + 1, c.SW, c.pad);
  return { OH: a.out, OW: b.out, PT: a.before, PL: b.before, PB: a.after, PR: b.after };
}

const wIndex = (c: DwCase, ky: number, kx: number, ch: number, m: number) => ((ky * c.KW + kx) * c.C + ch) * c.DM + m;

/** y[n, oy, ox, ch*DM + m] = act(bias + sum over ky, kx of x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, ch] * w[ky, kx, ch, m]). */
export function depthwiseRef(c: DwCase, x: Arr, w: Arr, bias: Arr | null, relu: boolean): Float64Array {
  const { OH, OW, PT, PL } = dwGeometry(c);
  const OC = c.C * c.DM;
  const y = new Float64Array(c.N * OH * OW * OC);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ch = 0; ch < c.C; ch++)
          for (let m = 0; m < c.DM; m++) {
            let s = bias ? bias[ch * c.DM + m] : 0;
            for (let ky = 0; ky < c.KH; ky++)
              for (let kx = 0; kx < c.KW; kx++) {
                const iy = oy * c.SH - PT + ky * c.DH,
                  ix = ox * c.SW - PL + kx * c.DW;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                s += x[((n * c.H + iy) * c.W + ix) * c.C + ch] * w[wIndex(c, ky, kx, ch, m)];
              }
            y[((n * OH + oy) * OW + ox) * OC + ch * c.DM + m] = relu ? Math.max(0, s) : s;
          }
  return y;
}

/** d/dx of sum(dy * depthwise(x, w)), gathered per input element: row iy is read through ky when (iy + PT - ky*DH) = oy*SH. */
export function depthwiseGradInputRef(c: DwCase, w: Arr, dy: Arr): Float64Array {
  const { OH, OW, PT, PL } = dwGeometry(c);
  const OC = c.C * c.DM;
  const dx = new Float64Array(c.N * c.H * c.W * c.C);
  for (let n = 0; n < c.N; n++)
    for (let iy = 0; iy < c.H; iy++)
      for (let ix = 0; ix < c.W; ix++)
        for (let ch = 0; ch < c.C; ch++) {
          let s = 0;
          for (let ky = 0; ky < c.KH; ky++) {
            const ty = iy + PT - ky * c.DH;
            if (ty < 0 || ty % c.SH !== 0 || ty / c.SH >= OH) continue;
            for (let kx = 0; kx < c.KW; kx++) {
              const tx = ix + PL - kx * c.DW;
              if (tx < 0 || tx % c.SW !== 0 || tx / c.SW >= OW) continue;
              for (let m = 0; m < c.DM; m++)
                s += dy[((n * OH + ty / c.SH) * OW + tx / c.SW) * OC + ch * c.DM + m] * w[wIndex(c, ky, kx, ch, m)];
            }
          }
          dx[((n * c.H + iy) * c.W + ix) * c.C + ch] = s;
        }
  return dx;
}

/** dw[ky, kx, ch, m] = sum over n, oy, ox of x at that tap (zero in the padding) times dy[n, oy, ox, ch*DM + m]; db = column sums of dy. */
export function depthwiseGradFilterRef(c: DwCase, x: Arr, dy: Arr): { dw: Float64Array; db: Float64Array } {
  const { OH, OW, PT, PL } = dwGeometry(c);
  const OC = c.C * c.DM;
  const dw = new Float64Array(c.KH * c.KW * OC),
    db = new Float64Array(OC);
  for (let n = 0; n < c.N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ch = 0; ch < c.C; ch++)
          for (let m = 0; m < c.DM; m++) {
            const g = dy[((n * OH + oy) * OW + ox) * OC + ch * c.DM + m];
            db[ch * c.DM + m] += g;
            for (let ky = 0; ky < c.KH; ky++)
              for (let kx = 0; kx < c.KW; kx++) {
                const iy = oy * c.SH - PT + ky * c.DH,
                  ix = ox * c.SW - PL + kx * c.DW;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                dw[wIndex(c, ky, kx, ch, m)] += x[((n * c.H + iy) * c.W + ix) * c.C + ch] * g;
              }
          }
  return { dw, db };
}
