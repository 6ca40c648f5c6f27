// Dense forward/backward: every variant against the float64 reference; plain SIMD vs scalar sibling.
import { beforeAll, describe, it } from 'vitest';
import { FLAG_BIAS, FLAG_NEED_DX, FLAG_RELU } from '../src/backend.js';
import { denseBackward, denseForward, denseScratchFloats } from '../src/kernels/dense.js';
import { matmulRef, mulberry, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants, zeros } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

const cases: [number, number, number][] = [[1, 13, 7], [3, 33, 17], [9, 1, 10], [8, 64, 8], [5, 6, 1], [17, 31, 29], [64, 100, 10], [2, 1352, 10], [4, 7, 3], [1, 1, 1]];

describe('dense kernels vs float64 reference', () => {
  cases.forEach(([N, IN, OUT], idx) => {
    it(`dense x=[${N},${IN}] w=[${IN},${OUT}] bias relu`, () => {
      const rnd = mulberry(100 + idx);
      const x = randomArray(N * IN, rnd), w = randomArray(IN * OUT, rnd), b = randomArray(OUT, rnd), dy = randomArray(N * OUT, rnd);
      const z = matmulRef(N, OUT, IN, (i, k) => x[i * IN + k], (k, j) => w[k * OUT + j]);
      const y = z.map((v, i) => Math.max(0, v + b[i % OUT]));
      const dx = matmulRef(N, IN, OUT, (i, k) => dy[i * OUT + k], (k, j) => w[j * OUT + k]);
      const dw = matmulRef(IN, OUT, N, (i, k) => x[k * IN + i], (k, j) => dy[k * OUT + j]);
      const db = Float64Array.from({ length: OUT }, (_, j) => { let s = 0; for (let i = 0; i < N; i++) s += dy[i * OUT + j]; return s; });
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        const px = put(be, x), pw = put(be, w), pb = put(be, b), pdy = put(be, dy);
        const py = zeros(be, N * OUT), pdx = zeros(be, N * IN), pdw = zeros(be, IN * OUT), pdb = zeros(be, OUT);
        const s = zeros(be, denseScratchFloats(IN, OUT));
        denseForward(be, px, pw, pb, py, s, N, IN, OUT, FLAG_BIAS | FLAG_RELU);
        denseBackward(be, px, pw, pdy, pdx, pdw, pdb, s, N, IN, OUT, FLAG_BIAS | FLAG_NEED_DX);
        const r = [get(be, py, N * OUT), get(be, pdx, N * IN), get(be, pdw, IN * OUT), get(be, pdb, OUT)];
        expectClose(r[0], y, `${name} forward`, 1e-4, 2e-5 * Math.sqrt(IN));
        expectClose(r[1], dx, `${name} grad input`, 1e-4, 2e-5 * Math.sqrt(OUT));
        expectClose(r[2], dw, `${name} grad weights`, 1e-4, 2e-5 * Math.sqrt(N));
        expectClose(r[3], db, `${name} grad bias`, 1e-4, 2e-5 * Math.sqrt(N));
        out[name] = r;
      }
      expectSame(out.simd[0], out.scalar[0], 'simd vs scalar forward');
      expectSame(out.simd[2], out.scalar[2], 'simd vs scalar grad weights');
      expectSame(out.simd[3], out.scalar[3], 'simd vs scalar grad bias');
      // With fewer than 4 rows the input gradient is four dot products at a time, summed as a tree: close, not equal.
      if (N >= 4) expectSame(out.simd[1], out.scalar[1], 'simd vs scalar grad input');
      else expectClose(out.simd[1], out.scalar[1], 'simd vs scalar grad input', 1e-5, 1e-6);
    });
  });
});
