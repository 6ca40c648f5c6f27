// Max and average pooling forward/backward: every variant against the float64 reference.
import { beforeAll, describe, expect, it } from 'vitest';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../src/kernels/pool.js';
import { mulberry, type PoolCase, poolRef, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants, zeros } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

const cases: PoolCase[] = [
  { N: 2, H: 7, W: 9, C: 3, PH: 2, PW: 2, SH: 2, SW: 2, pad: 'valid' },
  { N: 1, H: 7, W: 7, C: 5, PH: 3, PW: 3, SH: 2, SW: 2, pad: 'same' },
  { N: 1, H: 6, W: 5, C: 8, PH: 2, PW: 3, SH: 1, SW: 1, pad: 'valid' },
  { N: 3, H: 5, W: 5, C: 17, PH: 2, PW: 2, SH: 2, SW: 2, pad: 'same' },
  { N: 1, H: 13, W: 11, C: 4, PH: 5, PW: 2, SH: 3, SW: 2, pad: 'same' },
  { N: 2, H: 4, W: 4, C: 1, PH: 4, PW: 4, SH: 1, SW: 1, pad: 'valid' },
  { N: 1, H: 1, W: 1, C: 7, PH: 2, PW: 2, SH: 2, SW: 2, pad: 'same' },
];
const name = (c: PoolCase, k: string) => `${k}pool x=[${c.N},${c.H},${c.W},${c.C}] pool=[${c.PH},${c.PW}] stride=[${c.SH},${c.SW}] ${c.pad}`;

describe('pooling kernels vs float64 reference', () => {
  for (const kind of ['max', 'avg'] as const) {
    cases.forEach((c, idx) => {
      it(name(c, kind), () => {
        const rnd = mulberry(300 + idx);
        const x = randomArray(c.N * c.H * c.W * c.C, rnd);
        // A window of only negative values (TF.js's wasm MaxPoolGrad gets these wrong) and 'same' borders.
        for (let i = 0; i < Math.min(x.length, 4 * c.C); i++) x[i] = -1 - rnd();
        const ref = poolRef(c, kind, x, new Float64Array(0));
        const ys = ref.y.length;
        const dy = randomArray(ys, rnd);
        const { y, dx } = poolRef(c, kind, x, dy);
        const out: Record<string, Float32Array[]> = {};
        for (const { name: v, be } of vs) {
          const g = computeWindow2D('p', [c.H, c.W, c.C], [c.PH, c.PW], [c.SH, c.SW], c.pad, c.N);
          expect([g.OH, g.OW]).toEqual([ref.OH, ref.OW]);
          const px = put(be, x), py = zeros(be, ys), pdy = put(be, dy), pdx = zeros(be, x.length), parg = zeros(be, ys);
          const r: Float32Array[] = [];
          if (kind === 'max') {
            maxPoolForward(be, px, py, parg, g, c.N);
            r.push(get(be, py, ys));
            maxPoolBackward(be, pdy, parg, pdx, g, c.N);
            const py2 = zeros(be, ys);
            maxPoolForward(be, px, py2, 0, g, c.N); // inference path: no winners kept
            expectSame(get(be, py2, ys), r[0], `${v} inference max vs training max`);
          } else {
            avgPoolForward(be, px, py, g, c.N);
            r.push(get(be, py, ys));
            avgPoolBackward(be, pdy, pdx, g, c.N);
          }
          r.push(get(be, pdx, x.length));
          expectClose(r[0], y, `${v} forward`, 1e-6, 1e-6);
          expectClose(r[1], dx, `${v} backward`, 1e-5, 1e-6);
          out[v] = r;
        }
        expectSame(out.simd[0], out.scalar[0], 'simd vs scalar forward');
        expectSame(out.simd[1], out.scalar[1], 'simd vs scalar backward');
      });
    });
  }
});
