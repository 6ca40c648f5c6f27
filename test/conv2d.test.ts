// conv2d forward, input gradient and filter/bias gradients: every variant (plain SIMD, FMA, scalar
// sibling) against the float64 reference, and the plain SIMD build against its scalar sibling bit for bit.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../src/kernels/conv2d.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { type ConvCase, conv2dBackwardRef, conv2dRef, convGeometry, mulberry, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants, zeros } from './wasm.js';

const c = (s: string): ConvCase => {
  // "N,H,W,C k=KH,KW oc=OC s=SH,SW pad"
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) k=(\d+),(\d+) oc=(\d+) s=(\d+),(\d+) (valid|same)$/)!;
  const [N, H, W, C, KH, KW, OC, SH, SW] = m.slice(1, 10).map(Number);
  return { N, H, W, C, KH, KW, OC, SH, SW, pad: m[10] as 'valid' | 'same' };
};
const cases = [
  '2,7,9,3 k=3,3 oc=5 s=2,2 same', '1,8,8,1 k=3,3 oc=8 s=1,1 valid', '3,6,5,17 k=2,2 oc=7 s=1,1 same',
  '2,11,7,5 k=5,3 oc=13 s=2,3 valid', '1,8,8,3 k=4,4 oc=8 s=1,1 same', '2,13,13,1 k=7,7 oc=33 s=3,3 same',
  '1,9,9,5 k=5,5 oc=1 s=1,1 valid', '2,4,6,17 k=1,1 oc=9 s=2,2 valid', '3,5,5,4 k=1,1 oc=9 s=1,1 valid',
  '1,3,3,4 k=3,3 oc=8 s=1,1 same', '3,10,12,8 k=3,3 oc=16 s=1,1 same', '1,2,2,3 k=2,2 oc=3 s=1,1 valid',
  '1,1,1,1 k=1,1 oc=1 s=1,1 valid', '1,6,6,2 k=6,6 oc=4 s=1,1 valid', '2,9,7,3 k=3,5 oc=11 s=1,2 same',
].map((s) => [s, c(s)] as const);

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

const name = (s: ConvCase) => `conv2d x=[${s.N},${s.H},${s.W},${s.C}] k=[${s.KH},${s.KW},${s.C},${s.OC}] stride=${s.SH === s.SW ? s.SH : `[${s.SH},${s.SW}]`} ${s.pad}`;

describe('conv2d kernels vs float64 reference', () => {
  cases.forEach(([, s], idx) => {
    it(name(s), () => {
      const rnd = mulberry(idx + 1);
      const { OH, OW } = convGeometry(s);
      const xs = s.N * s.H * s.W * s.C, ws = s.KH * s.KW * s.C * s.OC, ys = s.N * OH * OW * s.OC;
      const x = randomArray(xs, rnd), w = randomArray(ws, rnd), b = randomArray(s.OC, rnd), dy = randomArray(ys, rnd);
      const yRef = conv2dRef(s, x, w, b, true);
      const g = conv2dBackwardRef(s, x, w, dy);
      const K = s.KH * s.KW * s.C;
      const tol = 2e-5 * Math.sqrt(K);
      const out: Record<string, Float32Array[]> = {};
      for (const { name: vname, be } of vs) {
        const geom = computeWindow2D('t', [s.H, s.W, s.C], [s.KH, s.KW], [s.SH, s.SW], s.pad, s.N);
        expect([geom.OH, geom.OW, geom.PT, geom.PL]).toEqual([OH, OW, convGeometry(s).PT, convGeometry(s).PL]);
        const px = put(be, x), pw = put(be, w), pb = put(be, b), pdy = put(be, dy);
        const py = zeros(be, ys), pdx = zeros(be, xs), pdw = zeros(be, ws), pdb = zeros(be, s.OC);
        const scratch = zeros(be, conv2dScratchFloats(geom, s.OC));
        conv2dForward(be, px, pw, pb, py, scratch, geom, s.N, s.OC, FLAG_BIAS | FLAG_RELU);
        conv2dBackwardInput(be, pdy, pw, pdx, scratch, geom, s.N, s.OC);
        conv2dBackwardFilter(be, px, pdy, pdw, pdb, scratch, geom, s.N, s.OC, FLAG_BIAS);
        const r = [get(be, py, ys), get(be, pdx, xs), get(be, pdw, ws), get(be, pdb, s.OC)];
        expectClose(r[0], yRef, `${vname} forward`, 1e-4, tol);
        expectClose(r[1], g.dx, `${vname} grad input`, 1e-4, tol);
        expectClose(r[2], g.dw, `${vname} grad filter`, 1e-4, 2e-5 * Math.sqrt(s.N * OH * OW));
        expectClose(r[3], g.db, `${vname} grad bias`, 1e-4, 2e-5 * Math.sqrt(s.N * OH * OW));
        out[vname] = r;
      }
      // Same summation order in the SIMD tiles and their scalar siblings: the plain build matches bit for bit.
      ['forward', 'grad input', 'grad filter', 'grad bias'].forEach((what, i) => expectSame(out.simd[i], out.scalar[i], `simd vs scalar ${what}`));
    });
  });
});
