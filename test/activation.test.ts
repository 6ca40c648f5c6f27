// ReLU forward/backward, the bias(+relu) epilogue and the bias gradient: every variant against the
// float64 reference on lengths around the 4-lane SIMD width, with the special values a ReLU must get
// right (NaN passes through, -0 and infinities). Plain SIMD vs scalar sibling: bit for bit (these
// kernels do the same single operation per element, and bias_grad sums the rows in the same order).
import { beforeAll, describe, it } from 'vitest';
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
