// ReLU forward/backward, the bias(+relu) epilogue and the bias gradient: every variant against the
// float64 reference on lengths around the 4-lane SIMD width, with the special values a ReLU must get
// right (NaN passes through, -0 and infinities). Plain SIMD vs scalar sibling: bit for bit (these
// kernels do the same single operation per element, and bias_grad sums the rows in the same order).
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { biasGradRef, mulberry32, randomArray, reluGradRef, reluRef } from './reference.js';
import { createVariants, expectBitwise, expectClose, sumTol, type Tol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const exact: Tol = { rtol: 0, atol: 0 };
/** One float32 rounding of an exact float64 result. */
const oneRounding: Tol = { rtol: 2 ** -23, atol: 0 };

/** Random values with special ones sprinkled in (NaN, +-0, +-Infinity) at positions both in SIMD lanes and in the tail. */
function withSpecials(n: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const x = randomArray(n, rnd);
  const specials = [NaN, -0, 0, Infinity, -Infinity];
  for (let i = 0; i < n; i += 3) if (rnd() < 0.5) x[i] = specials[Math.floor(rnd() * specials.length)];
  if (n > 0) x[n - 1] = NaN;
  return x;
}

describe('activation kernels vs float64 reference', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 17, 33, 1000]) {
    it(`relu x=[${n}] forward and backward, NaN passes through, -0 stays -0`, () => {
      const x = withSpecials(n, n),
        dy = randomArray(n, mulberry32(n + 1));
      const y = reluRef(x),
        dx = reluGradRef(y, dy);
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const px = ar.f32('x', x),
            py = ar.out('y', n),
            pdy = ar.f32('dy', dy),
            pdx = ar.out('dx', n);
          ar.run(`relu forward n=${n}`, [py], () => be.k.relu_forward(px, py, n));
          ar.run(`relu backward n=${n}`, [pdx], () => be.k.relu_backward(py, pdy, pdx, n));
          // In place, as the layers use them: y over x, dx over dy.
          const qx = ar.f32('x (in place)', x),
            qdy = ar.f32('dy (in place)', dy);
          ar.run(`relu forward in place n=${n}`, [qx], () => be.k.relu_forward(qx, qx, n));
          ar.run(`relu backward in place n=${n}`, [qdy], () => be.k.relu_backward(qx, qdy, qdy, n));
          return [ar.read(py), ar.read(pdx), ar.read(qx), ar.read(qdy)];
        });
        const [ry, rdx, iy, idx] = out[name];
        expectClose(ry, y, exact, `${name} relu`);
        expectBitwise(ry, Float32Array.from(y), `${name} relu (signed zeros)`);
        expectClose(rdx, dx, exact, `${name} relu grad`);
        expectBitwise(iy, ry, `${name} relu in place`);
        expectBitwise(idx, rdx, `${name} relu grad in place`);
      }
      out.simd.forEach((r, i) =>
        expectBitwise(r, out.scalar[i], `simd vs scalar ${['relu', 'relu grad', 'relu in place', 'relu grad in place'][i]}`),
      );
    });
  }

  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [5, 8],
    [9, 13],
    [2, 4],
    [7, 3],
    [4, 33],
  ] as const) {
    for (const flags of [FLAG_BIAS | FLAG_RELU, FLAG_BIAS, FLAG_RELU, 0]) {
      const fname = [flags & FLAG_BIAS && 'bias', flags & FLAG_RELU && 'relu'].filter(Boolean).join('+') || 'no flags (no-op)';
      it(`bias_act y=[${rows},${cols}] ${fname}`, () => {
        const rnd = mulberry32(rows * 31 + cols + flags * 1000);
        const y = randomArray(rows * cols, rnd),
          b = randomArray(cols, rnd);
        const want = Float64Array.from(y, (v, i) => {
          const s = flags & FLAG_BIAS ? v + b[i % cols] : v;
          return flags & FLAG_RELU ? Math.max(0, s) : s;
        });
        const out: Record<string, Float32Array> = {};
        for (const { name, be } of vs) {
          out[name] = withArena(be, (ar) => {
            const py = ar.f32('y', y),
              pb = flags & FLAG_BIAS ? ar.f32('bias', b) : 0;
            // With no flags nothing may change, not even y.
            ar.run(`bias_act ${fname}`, flags ? [py] : [], () => be.k.bias_act(rows, cols, py, pb, flags));
            return ar.read(py);
          });
          expectClose(out[name], want, oneRounding, `${name} bias_act`);
        }
        expectBitwise(out.simd, out.scalar, 'simd vs scalar bias_act');
      });
    }
  }

  for (const [rows, cols] of [
    [1, 1],
    [1, 9],
    [3, 7],
    [5, 8],
    [9, 13],
    [100, 5],
    [6, 33],
  ] as const) {
    it(`bias_grad dy=[${rows},${cols}]`, () => {
      const dy = randomArray(rows * cols, mulberry32(rows * 7 + cols));
      const want = biasGradRef(dy, rows, cols);
      const out: Record<string, Float32Array> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const pdy = ar.f32('dy', dy),
            pdb = ar.out('db', cols);
          ar.run('bias_grad', [pdb], () => be.k.bias_grad(rows, cols, pdy, pdb));
          return ar.read(pdb);
        });
        expectClose(out[name], want, sumTol(rows), `${name} bias_grad`);
      }
      expectBitwise(out.simd, out.scalar, 'simd vs scalar bias_grad');
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// act_forward / act_backward / bias_act with an activation code: accuracy against float64 over a dense
// grid of x in [-20, 20] (plus the edges of exp's range and special values), measured in units in the last
// place of the float32 result. Bounds reached (and asserted): sigmoid 2.4, tanh 1.2, elu 1.2, selu 2,
// swish 2.7, softplus 4.1, gelu 7 ulp (its erfc fit is good to 1.2e-7 relative, and two exps follow) down to
// x = -12.9, where Phi(x) leaves float32's normal range, over normal results; relu-family and hardSigmoid are exact. Derivatives: 1e-6 of
// max(1, |derivative|) (they feed gradients, not outputs). The plain build, its scalar siblings and the
// relaxed build agree bit for bit (no FMA in these kernels), NaN aside, which stays NaN.

const SELU_SCALE = 1.0507009873554805,
  SELU_ALPHA = 1.6732632423543772;
/** erfc in float64: its Taylor series below 3, the continued fraction above. */
function erfc64(z: number): number {
  if (z < 3) {
    let term = z,
      s = z;
    for (let k = 1; k < 200; k++) {
      term *= (-z * z) / k;
      s += term / (2 * k + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * s;
  }
  let f = 0;
  for (let k = 80; k >= 1; k--) f = k / 2 / (z + f);
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
}
const phi64 = (v: number) => (v < 0 ? 0.5 * erfc64(-v / Math.SQRT2) : 1 - 0.5 * erfc64(v / Math.SQRT2));
const sig64 = (v: number) => 1 / (1 + Math.exp(-v));

interface ActCase {
  code: number;
  name: string;
  f: (x: number) => number;
  /** Derivative in terms of x. */
  df: (x: number) => number;
  /** Backward reads the output (else the input). */
  fromOutput: boolean;
  ulps: number;
  params?: [number, number, number];
  /** Below it the result is computed from a subnormal intermediate (gelu's Phi(x) < 2^-126 for x < -12.9): absolute error <= |x| 2^-146 there. */
  subnormalBelow?: number;
}
const ACT_CASES: ActCase[] = [
  { code: 1, name: 'relu', f: (v) => Math.max(v, 0), df: (v) => (v > 0 ? 1 : 0), fromOutput: true, ulps: 0 },
  { code: 2, name: 'relu6', f: (v) => Math.min(Math.max(v, 0), 6), df: (v) => (v > 0 && v < 6 ? 1 : 0), fromOutput: true, ulps: 0 },
  { code: 3, name: 'elu', f: (v) => (v > 0 ? v : Math.expm1(v)), df: (v) => (v > 0 ? 1 : Math.exp(v)), fromOutput: true, ulps: 1.2 },
  {
    code: 3,
    name: 'elu alpha=0.7',
    f: (v) => (v > 0 ? v : 0.7 * Math.expm1(v)),
    df: (v) => (v > 0 ? 1 : 0.7 * Math.exp(v)),
    fromOutput: true,
    ulps: 2,
    params: [0.7, 0, Infinity],
  },
  {
    code: 4,
    name: 'selu',
    f: (v) => (v > 0 ? SELU_SCALE * v : SELU_SCALE * SELU_ALPHA * Math.expm1(v)),
    df: (v) => (v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v)),
    fromOutput: true,
    ulps: 2,
  },
  { code: 5, name: 'sigmoid', f: sig64, df: (v) => sig64(v) * (1 - sig64(v)), fromOutput: true, ulps: 2.5 },
  { code: 6, name: 'tanh', f: Math.tanh, df: (v) => 1 - Math.tanh(v) ** 2, fromOutput: true, ulps: 1.2 },
  { code: 7, name: 'softplus', f: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))), df: sig64, fromOutput: true, ulps: 4.1 },
  {
    code: 8,
    name: 'hardSigmoid',
    f: (v) => Math.min(Math.max(Math.fround(Math.fround(Math.fround(0.2) * v) + 0.5), 0), 1),
    df: (v) => (0.2 * v + 0.5 > 0 && 0.2 * v + 0.5 < 1 ? 0.2 : 0),
    fromOutput: true,
    ulps: 0,
  },
  { code: 9, name: 'swish', f: (v) => v * sig64(v), df: (v) => sig64(v) * (1 + v * (1 - sig64(v))), fromOutput: false, ulps: 2.7 },
  {
    code: 10,
    name: 'gelu',
    f: (v) => v * phi64(v),
    df: (v) => phi64(v) + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI),
    fromOutput: false,
    ulps: 7,
    subnormalBelow: -12.9,
  },
  {
    code: 11,
    name: 'relu general slope=0.1 threshold=0.5 max=3',
    f: (v) => (v >= 3 ? 3 : v > 0.5 ? v : Math.fround(Math.fround(0.1) * Math.fround(v - 0.5))),
    df: (v) => (v >= 3 ? 0 : v > 0.5 ? 1 : 0.1),
    fromOutput: false,
    ulps: 0,
    params: [0.1, 0.5, 3],
  },
];

function ulpOf(v: number): number {
  const a = Math.abs(Math.fround(v));
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** A grid over [-20, 20] (not a multiple of 4 long), exp's edges, and special values in lanes and in the tail. */
function actGrid(): Float32Array {
  const n = 40003;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -20 + (40 * i) / (n - 1);
  const specials = [NaN, -0, 0, Infinity, -Infinity, -87.5, 88.5, -103, 89, 1e-30, -1e-30, 6, 0.5, 3];
  specials.forEach((s, i) => (x[i * 101 + 1] = s));
  x[n - 1] = NaN;
  return x;
}

/** Bitwise, except that any NaN equals any NaN (NaN's payload is not specified by wasm). */
function expectSameBits(a: Float32Array, b: Float32Array, label: string): void {
  const qa = a.map((v) => (Number.isNaN(v) ? NaN : v)),
    qb = b.map((v) => (Number.isNaN(v) ? NaN : v));
  expectBitwise(qa, qb, label);
}

describe('act_forward / act_backward vs float64 over x in [-20, 20] and special values', () => {
  const x = actGrid(),
    n = x.length;
  for (const c of ACT_CASES) {
    it(`${c.name} x=[${n}]: within ${c.ulps} ulp, derivative within 1e-6, all variants bit for bit`, () => {
      const [a, b, cc] = c.params ?? [1, 0, Infinity];
      const dy = new Float32Array(n).fill(1);
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const px = ar.f32('x', x),
            py = ar.out('y', n),
            pdy = ar.f32('dy', dy),
            pdx = ar.out('dx', n);
          ar.run(`act_forward ${c.name}`, [py], () => be.k.act_forward(px, py, n, c.code, a, b, cc));
          ar.run(`act_backward ${c.name}`, [pdx], () => be.k.act_backward(c.fromOutput ? py : px, pdy, pdx, n, c.code, a, b, cc));
          return [ar.read(py), ar.read(pdx)];
        });
      }
      const [y, dx] = out.simd;
      let worst = 0,
        worstAt = 0,
        worstD = 0;
      for (let i = 0; i < n; i++) {
        const v = x[i],
          want = c.f(v);
        if (Number.isNaN(v)) {
          expect(Number.isNaN(y[i]), `${c.name}(NaN) is NaN`).toBe(true);
          continue;
        }
        if (!Number.isFinite(want) || Math.abs(want) < 2 ** -126) {
          if (Math.abs(want) < 2 ** -126) expect(Math.abs(y[i] - want), `${c.name}(${v})`).toBeLessThan(2 ** -125);
          else expect(y[i], `${c.name}(${v})`).toBe(want);
          continue;
        }
        if (c.subnormalBelow !== undefined && v < c.subnormalBelow) {
          expect(Math.abs(y[i] - want), `${c.name}(${v})`).toBeLessThanOrEqual(Math.abs(v) * 2 ** -146);
          continue;
        }
        const e = Math.abs(y[i] - want) / ulpOf(want);
        if (e > worst) [worst, worstAt] = [e, v];
        if (Number.isFinite(v)) {
          const d = c.df(v),
            ed = Math.abs(dx[i] - d) / Math.max(1, Math.abs(d));
          if (ed > worstD && !(c.name.startsWith('relu') && (v === 0 || v === 6 || v === 0.5 || v === 3))) worstD = ed;
        }
      }
      expect(worst, `${c.name}: worst error ${worst.toFixed(2)} ulp at x=${worstAt}`).toBeLessThanOrEqual(c.ulps);
      expect(worstD, `${c.name}: worst derivative error`).toBeLessThan(1e-6);
      for (const name of Object.keys(out))
        if (name !== 'simd') out[name].forEach((r, i) => expectSameBits(r, out.simd[i], `${name} vs simd ${c.name} ${['y', 'dx'][i]}`));
    });
  }

  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [5, 13],
    [2, 16],
  ]) {
    it(`bias_act rows=${rows} cols=${cols} with every string activation code equals bias then act_forward`, () => {
      const rnd = mulberry32(rows * 100 + cols);
      const y0 = randomArray(rows * cols, rnd, 4),
        bias = randomArray(cols, rnd);
      for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
        const res: Float32Array[] = [];
        for (const { name, be } of vs) {
          const [fused, plain] = withArena(be, (ar) => {
            const py = ar.f32('y', y0),
              pb = ar.f32('bias', bias),
              pz = ar.f32(
                'z',
                y0.map((v, i) => Math.fround(v + bias[i % cols])),
              );
            ar.run(`bias_act code=${code}`, [py], () => be.k.bias_act(rows, cols, py, pb, FLAG_BIAS | (code << 8)));
            ar.run(`act_forward code=${code}`, [pz], () => be.k.act_forward(pz, pz, rows * cols, code, 1, 0, Infinity));
            return [ar.read(py), ar.read(pz)];
          });
          expectSameBits(fused, plain, `${name} bias_act code=${code}`);
          res.push(fused);
        }
        res.forEach((r) => expectSameBits(r, res[0], `variants agree, code=${code}`));
      }
    });
  }
});
