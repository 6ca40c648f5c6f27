// SGD, momentum and Adam parameter updates against float64 references of TensorFlow.js's formulas,
// over several steps, on lengths around the 4-lane SIMD width. The kernels take their hyper-parameters
// as float32 (the host passes c1 = fround(1 - b1^t), c2 = fround(1 - b2^t)), so the references use
// the same float32-rounded constants and float64 arithmetic.
// The SIMD loops do the same operations in the same order as the scalar tails, and neither build
// fuses them, so all three variants agree bit for bit (asserted), parameters and state alike.
import { beforeAll, describe, expect, it } from 'vitest';
import { adamRef, momentumRef, mulberry32, randomArray, sgdRef } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const F = Math.fround;
const STEPS = 3;

function allSame(out: Record<string, Float32Array[]>, what: string[]): void {
  for (const [name, arrs] of Object.entries(out)) {
    if (name !== 'simd') arrs.forEach((a, i) => expectBitwise(a, out.simd[i], `${what[i]}: ${name} vs simd`));
  }
}

/** Parameters, and one gradient per step with some exact zeros (Adam's 0 / (0 + eps) case). */
function data(n: number, seed: number) {
  const rnd = mulberry32(seed);
  const w0 = randomArray(n, rnd);
  const gs = Array.from({ length: STEPS }, () => randomArray(n, rnd).map((v, i) => (i % 5 === 2 ? 0 : v)));
  return { w0, gs };
}

describe('optimizer kernels vs float64 reference', () => {
  for (const n of [1, 3, 4, 5, 7, 8, 9, 33, 1000]) {
    it(`sgd w=[${n}] lr=0.05, ${STEPS} steps`, () => {
      const { w0, gs } = data(n, n + 1);
      const lr = F(0.05);
      let want: Float64Array = Float64Array.from(w0);
      for (const g of gs) want = sgdRef(want, g, lr);
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar: Arena) => {
          const pw = ar.f32('w', w0),
            pg = ar.f32('g', gs[0]);
          for (const g of gs) {
            ar.refill(pg, g);
            ar.run(`sgd_update n=${n}`, [pw], () => be.k.sgd_update(pw, pg, n, lr));
          }
          return [ar.read(pw)];
        });
        expectClose(out[name][0], want, { rtol: 1e-6, atol: 1e-7 * STEPS }, `${name} sgd`);
      }
      allSame(out, ['sgd w']);
    });

    it(`momentum w=[${n}] lr=0.05 momentum=0.9, ${STEPS} steps`, () => {
      const { w0, gs } = data(n, n + 2);
      const lr = F(0.05),
        mom = F(0.9);
      const w = Float64Array.from(w0),
        acc = new Float64Array(n);
      for (const g of gs) momentumRef(w, g, acc, lr, mom);
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const pw = ar.f32('w', w0),
            pg = ar.f32('g', gs[0]),
            pa = ar.f32('acc', new Float32Array(n));
          for (const g of gs) {
            ar.refill(pg, g);
            ar.run(`momentum_update n=${n}`, [pw, pa], () => be.k.momentum_update(pw, pg, pa, n, lr, mom, 0));
          }
          return [ar.read(pw), ar.read(pa)];
        });
        expectClose(out[name][0], w, { rtol: 1e-6, atol: 1e-6 }, `${name} momentum w`);
        expectClose(out[name][1], acc, { rtol: 1e-6, atol: 1e-6 }, `${name} momentum accumulator`);
      }
      allSame(out, ['momentum w', 'momentum acc']);
    });

    it(`adam w=[${n}] lr=0.01 b1=0.9 b2=0.999 eps=1e-7, ${STEPS} steps`, () => {
      const { w0, gs } = data(n, n + 3);
      const lr = F(0.01),
        b1 = F(0.9),
        b2 = F(0.999),
        eps = F(1e-7);
      const w = Float64Array.from(w0),
        m = new Float64Array(n),
        v = new Float64Array(n);
      gs.forEach((g, s) => adamRef(w, g, m, v, lr, b1, b2, eps, F(1 - 0.9 ** (s + 1)), F(1 - 0.999 ** (s + 1))));
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const pw = ar.f32('w', w0),
            pg = ar.f32('g', gs[0]),
            pm = ar.f32('m', new Float32Array(n)),
            pv = ar.f32('v', new Float32Array(n));
          gs.forEach((g, s) => {
            ar.refill(pg, g);
            const t = s + 1;
            ar.run(`adam_update n=${n} t=${t}`, [pw, pm, pv], () =>
              be.k.adam_update(pw, pg, pm, pv, n, lr, b1, b2, eps, F(1 - 0.9 ** t), F(1 - 0.999 ** t), 0),
            );
          });
          return [ar.read(pw), ar.read(pm), ar.read(pv)];
        });
        // Each step moves w by about lr; its float32 evaluation (two divisions, a sqrt) is good to a few ulp.
        expectClose(out[name][0], w, { rtol: 1e-6, atol: 1e-6 }, `${name} adam w`);
        expectClose(out[name][1], m, { rtol: 1e-5, atol: 1e-8 }, `${name} adam m`);
        expectClose(out[name][2], v, { rtol: 1e-5, atol: 1e-10 }, `${name} adam v`);
      }
      allSame(out, ['adam w', 'adam m', 'adam v']);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Nesterov momentum, AdamW's decoupled decay, RMSprop (plain and centered), Adagrad, and the clipping
// kernels: float64 references of the formulas (src/optimizers.ts), all variants bit for bit.

/** Steps a float64 reference and the kernel (in every variant) over the same gradients; compares all buffers. */
function stepCase(
  n: number,
  seed: number,
  buffers: { name: string; init: number }[],
  ref: (w: Float64Array, g: Float32Array, s: Float64Array[], t: number) => void,
  kernel: (be: Variant['be'], w: number, g: number, s: number[], t: number) => void,
  tol = 1e-6,
): void {
  const { w0, gs } = data(n, seed);
  const w = Float64Array.from(w0),
    st = buffers.map((b) => new Float64Array(n).fill(Math.fround(b.init)));
  gs.forEach((g, s) => ref(w, g, st, s + 1));
  const out: Record<string, Float32Array[]> = {};
  for (const { name, be } of vs) {
    out[name] = withArena(be, (ar) => {
      const pw = ar.f32('w', w0),
        pg = ar.f32('g', gs[0]),
        ps = buffers.map((b) => ar.f32(b.name, new Float32Array(n).fill(b.init)));
      gs.forEach((g, s) => {
        ar.refill(pg, g);
        ar.run(`step ${s + 1}`, [pw, ...ps], () => kernel(be, pw, pg, ps, s + 1));
      });
      return [ar.read(pw), ...ps.map((p) => ar.read(p))];
    });
    expectClose(out[name][0], w, { rtol: tol, atol: tol }, `${name} w`);
    st.forEach((s, k) => expectClose(out[name][k + 1], s, { rtol: 1e-5, atol: 1e-7 }, `${name} ${buffers[k].name}`));
  }
  allSame(out, ['w', ...buffers.map((b) => b.name)]);
}

describe('optimizer kernels added for issue 12 vs float64 reference', () => {
  const lr = F(0.05),
    mom = F(0.9),
    rho = F(0.9),
    eps = F(1e-7);
  for (const n of [1, 3, 4, 5, 7, 9, 33, 1000]) {
    it(`momentum nesterov w=[${n}] lr=0.05 momentum=0.9, ${STEPS} steps`, () =>
      stepCase(
        n,
        n + 20,
        [{ name: 'acc', init: 0 }],
        (w, g, [acc]) => {
          for (let i = 0; i < n; i++) {
            acc[i] = mom * acc[i] + g[i];
            w[i] -= lr * (g[i] + mom * acc[i]);
          }
        },
        (be, w, g, [acc]) => be.k.momentum_update(w, g, acc, n, lr, mom, 1),
      ));

    it(`adamw w=[${n}] lr=0.01 weightDecay=0.1, ${STEPS} steps`, () => {
      const alr = F(0.01),
        wd = F(F(0.01) * F(0.1));
      stepCase(
        n,
        n + 21,
        [
          { name: 'm', init: 0 },
          { name: 'v', init: 0 },
        ],
        (w, g, [m, v], t) => {
          for (let i = 0; i < n; i++) w[i] -= w[i] * wd;
          adamRef(w, g, m, v, alr, F(0.9), F(0.999), eps, F(1 - 0.9 ** t), F(1 - 0.999 ** t));
        },
        (be, w, g, [m, v], t) => be.k.adam_update(w, g, m, v, n, alr, F(0.9), F(0.999), eps, F(1 - 0.9 ** t), F(1 - 0.999 ** t), wd),
      );
    });

    for (const centered of [false, true]) {
      it(`rmsprop${centered ? ' centered' : ''} w=[${n}] lr=0.05 rho=0.9 momentum=0.9, ${STEPS} steps`, () =>
        stepCase(
          n,
          n + 22,
          [{ name: 'ms', init: 0 }, { name: 'mom', init: 0 }, ...(centered ? [{ name: 'mg', init: 0 }] : [])],
          (w, g, [ms, mo, mg]) => {
            for (let i = 0; i < n; i++) {
              ms[i] = ms[i] * rho + g[i] * g[i] * (1 - rho);
              let den = ms[i];
              if (mg) {
                mg[i] = mg[i] * rho + g[i] * (1 - rho);
                den -= mg[i] * mg[i];
              }
              mo[i] = mo[i] * mom + (g[i] * lr) / Math.sqrt(den + eps);
              w[i] -= mo[i];
            }
          },
          (be, w, g, s) => be.k.rmsprop_update(w, g, s[0], s[1], centered ? s[2] : 0, n, lr, rho, mom, eps),
          // sqrt(ms + eps) with ms near 0 (exact-zero gradients) magnifies float32 rounding of ms.
          1e-5,
        ));
    }

    it(`adagrad w=[${n}] lr=0.05 initialAccumulatorValue=0.1, ${STEPS} steps`, () =>
      stepCase(
        n,
        n + 23,
        [{ name: 'acc', init: 0.1 }],
        (w, g, [acc]) => {
          for (let i = 0; i < n; i++) {
            acc[i] += g[i] * g[i];
            w[i] -= (g[i] / Math.sqrt(acc[i] + eps)) * lr;
          }
        },
        (be, w, g, [acc]) => be.k.adagrad_update(w, g, acc, n, lr, eps),
      ));

    it(`sumsq_f32 and clip_f32 x=[${n}]`, () => {
      const x = randomArray(n, mulberry32(n + 24), 3);
      const want = x.reduce((s, v) => s + v * v, 0);
      const res: Float32Array[] = [];
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const px = ar.f32('x', x);
          const s = ar.run('sumsq', [], () => be.k.sumsq_f32(px, n));
          expect(Math.abs(s - want), `${name} sumsq`).toBeLessThan(1e-12 * Math.max(1, want));
          ar.run('clip', [px], () => be.k.clip_f32(px, n, -1.5, 1.5));
          const c = ar.read(px);
          x.forEach((v, i) => expect(c[i]).toBe(Math.min(Math.max(v, -1.5), 1.5)));
          res.push(c);
        });
      }
      res.forEach((r) => expectBitwise(r, res[0], 'clip variants'));
    });
  }
});
