// ReLU, bias epilogue and bias gradient: every variant against the float64 reference.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { mulberry, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants, zeros } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

describe('activation kernels', () => {
  for (const n of [1, 3, 4, 7, 33, 1000]) {
    it(`relu forward/backward n=${n}, NaN passes through`, () => {
      const rnd = mulberry(n);
      const x = randomArray(n, rnd), dy = randomArray(n, rnd);
      x[n - 1] = NaN;
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        const px = put(be, x), py = zeros(be, n), pdy = put(be, dy), pdx = zeros(be, n);
        be.k.relu_forward(px, py, n);
        const y = get(be, py, n);
        be.k.relu_backward(py, pdy, pdx, n);
        const dx = get(be, pdx, n);
        expect(Number.isNaN(y[n - 1]), `${name}: NaN must survive ReLU`).toBe(true);
        expectClose(y.subarray(0, n - 1), Array.from(x.subarray(0, n - 1), (v) => Math.max(0, v)), `${name} relu`, 0, 0);
        expectClose(dx.subarray(0, n - 1), Array.from(x.subarray(0, n - 1), (v, i) => (v > 0 ? dy[i] : 0)), `${name} relu grad`, 0, 0);
        out[name] = [y, dx];
      }
      expectSame(out.simd[1], out.scalar[1], 'simd vs scalar relu grad');
    });
  }
  for (const [rows, cols] of [[1, 1], [3, 7], [5, 8], [9, 13]]) {
    it(`bias_act rows=${rows} cols=${cols} bias+relu and bias_grad`, () => {
      const rnd = mulberry(rows * 31 + cols);
      const y = randomArray(rows * cols, rnd), b = randomArray(cols, rnd);
      for (const { name, be } of vs) {
        const py = put(be, y), pb = put(be, b), pdb = zeros(be, cols);
        be.k.bias_act(rows, cols, py, pb, FLAG_BIAS | FLAG_RELU);
        expectClose(get(be, py, rows * cols), Array.from(y, (v, i) => Math.max(0, v + b[i % cols])), `${name} bias_act`, 1e-7, 0);
        be.k.bias_grad(rows, cols, put(be, y), pdb);
        expectClose(get(be, pdb, cols), Array.from({ length: cols }, (_, j) => { let s = 0; for (let i = 0; i < rows; i++) s += y[i * cols + j]; return s; }), `${name} bias_grad`, 1e-6, 1e-6);
      }
    });
  }
});
