// The merge kernels (add, multiply, scale, strided row copy) that Add, Multiply, Average, Concatenate and
// the engine's gradient accumulation run on: every variant against float64 references on lengths around
// the 4-lane width, in place where the engine uses them in place, and flush against the end of memory.
// Each computes one float32 operation per element, so every variant must match the reference's single
// rounding exactly and the plain SIMD build must equal its scalar sibling bit for bit.
import { beforeAll, describe, it } from 'vitest';
import { mulberry32, randomArray } from './reference.js';
import { createVariants, expectBitwise, expectClose, type Tol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => { vs = await createVariants(); });

/** One float32 rounding of the exact float64 result. */
const oneRounding: Tol = { rtol: 2 ** -24, atol: 0 };
const f32 = (v: number) => Math.fround(v);

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 33, 1000];

describe('elementwise merge kernels vs float64', () => {
  for (const n of SIZES) {
    it(`add_f32 / mul_f32 / scale_f32 x=[${n}], out of place, in place and last in memory`, () => {
      const rnd = mulberry32(n * 7 + 1);
      const a = randomArray(n, rnd), b = randomArray(n, rnd, 3), s = f32(1 / 3);
      const refs = {
        add: Float64Array.from(a, (v, i) => v + b[i]),
        mul: Float64Array.from(a, (v, i) => v * b[i]),
        scale: Float64Array.from(a, (v) => s * v),
      };
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const pa = ar.f32('a', a), pb = ar.f32('b', b), py = ar.out('y', n);
          const r: Float32Array[] = [];
          ar.run(`add n=${n}`, [py], () => be.k.add_f32(py, pa, pb, n));
          r.push(ar.read(py));
          ar.run(`mul n=${n}`, [py], () => be.k.mul_f32(py, pa, pb, n));
          r.push(ar.read(py));
          ar.run(`scale n=${n}`, [py], () => be.k.scale_f32(py, pa, s, n));
          r.push(ar.read(py));
          // In place, as gradient accumulation runs it: a += b.
          const qa = ar.f32('a (in place)', a);
          ar.run(`add in place n=${n}`, [qa], () => be.k.add_f32(qa, qa, pb, n));
          r.push(ar.read(qa));
          // Output flush against the end of memory: a wider store than the tail allows traps.
          const end = ar.atEnd('y (last in memory)', n);
          be.k.add_f32(end, pa, pb, n);
          r.push(be.read(end, n));
          return r;
        });
        const [add, mul, scale, inPlace, last] = out[name];
        expectClose(add, refs.add, oneRounding, `${name} add`);
        expectClose(mul, refs.mul, oneRounding, `${name} mul`);
        expectClose(scale, refs.scale, oneRounding, `${name} scale`);
        expectBitwise(inPlace, add, `${name} add in place`);
        expectBitwise(last, add, `${name} add last in memory`);
      }
      out.simd.forEach((r, i) => expectBitwise(r, out.scalar[i], `simd vs scalar #${i}`));
    });
  }
});

describe('copy_rows_f32: a block between row strides (Concatenate forward and backward)', () => {
  const cases: [number, number, number, number][] = [
    // rows, cols, source stride, destination stride
    [1, 1, 1, 1], [3, 5, 5, 12], [7, 4, 4, 9], [13, 3, 11, 3], [6, 17, 17, 23], [2, 8, 8, 8], [11, 9, 13, 29],
  ];
  for (const [rows, cols, ss, ds] of cases) {
    it(`copy rows=${rows} cols=${cols} strides src ${ss} dst ${ds}: the block moves, nothing around it changes`, () => {
      const rnd = mulberry32(rows * 100 + cols);
      const src = randomArray(rows * ss, rnd), dst0 = randomArray(rows * ds, rnd);
      const want = Float32Array.from(dst0);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) want[r * ds + j] = src[r * ss + j];
      const out: Record<string, Float32Array> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const ps = ar.f32('src', src), pd = ar.f32('dst', dst0);
          ar.run(`copy rows=${rows} cols=${cols}`, [pd], () => be.k.copy_rows_f32(pd, ds, ps, ss, rows, cols));
          const end = ar.atEnd('dst (last in memory)', dst0);
          be.k.copy_rows_f32(end, ds, ps, ss, rows, cols);
          expectBitwise(be.read(end, dst0.length), want, `${name} last in memory`);
          return ar.read(pd);
        });
        expectBitwise(out[name], want, `${name} copy`);
      }
    });
  }
});
