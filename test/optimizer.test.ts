// SGD, momentum and Adam updates against the float64 formulas TensorFlow.js uses.
import { beforeAll, describe, it } from 'vitest';
import { mulberry, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

describe('optimizer kernels', () => {
  for (const n of [1, 7, 33, 1024]) {
    it(`sgd, momentum and adam (3 steps) on n=${n} parameters`, () => {
      const rnd = mulberry(n + 9);
      const w0 = randomArray(n, rnd), g = randomArray(n, rnd);
      const lr = 0.05, mom = 0.9, b1 = 0.9, b2 = 0.999, eps = 1e-7;
      const F = Math.fround;
      const sgd = Float64Array.from(w0, (w, i) => w - lr * g[i]);
      const accRef = new Float64Array(n), wm = Float64Array.from(w0), m = new Float64Array(n), v = new Float64Array(n), wa = Float64Array.from(w0);
      for (let t = 1; t <= 3; t++) {
        for (let i = 0; i < n; i++) {
          accRef[i] = mom * accRef[i] + g[i];
          wm[i] -= lr * accRef[i];
          // Hyper-parameters as the float32 values the kernel receives (1 - 0.999 in float32 is 0.0010000467).
          m[i] = F(b1) * m[i] + F(1 - F(b1)) * g[i];
          v[i] = F(b2) * v[i] + F(1 - F(b2)) * g[i] * g[i];
          // TF.js keeps 1 - beta^t in float32 (at t=1, 1 - 0.999 is off by 5e-5 relative), so the reference does too.
          wa[i] -= (lr * (m[i] / Math.fround(1 - b1 ** t))) / (Math.sqrt(v[i] / Math.fround(1 - b2 ** t)) + eps);
        }
      }
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        const pw = put(be, w0), pg = put(be, g);
        be.k.sgd_update(pw, pg, n, lr);
        const r1 = get(be, pw, n);
        expectClose(r1, sgd, `${name} sgd`, 1e-6, 1e-7);
        const pm = put(be, w0), pacc = put(be, new Float32Array(n)), pa = put(be, w0), pm1 = put(be, new Float32Array(n)), pv = put(be, new Float32Array(n));
        for (let t = 1; t <= 3; t++) {
          be.k.momentum_update(pm, pg, pacc, n, lr, mom);
          be.k.adam_update(pa, pg, pm1, pv, n, lr, b1, b2, eps, Math.fround(1 - b1 ** t), Math.fround(1 - b2 ** t));
        }
        const r2 = get(be, pm, n), r3 = get(be, pa, n);
        expectClose(r2, wm, `${name} momentum`, 1e-5, 1e-6);
        expectClose(r3, wa, `${name} adam`, 1e-5, 1e-6);
        out[name] = [r1, r2, r3];
      }
      out.simd.forEach((r, i) => expectSame(r, out.scalar[i], `simd vs scalar ${['sgd', 'momentum', 'adam'][i]}`));
    });
  }
});
