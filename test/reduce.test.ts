// maxabs_f32 (the per-step watch over inputs, gradients and weights) against a plain TypeScript reference,
// in every variant (plain SIMD, relaxed build, scalar sibling), on lengths around the 8- and 4-lane loops,
// with NaN and infinities placed in the SIMD body and in the scalar tail, and on a buffer ending at the
// last byte of wasm memory (an over-read traps).
import { beforeAll, describe, expect, it } from 'vitest';
import { createVariants, type Variant, withArena } from './helpers.js';
import { mulberry32, randomArray } from './reference.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** NaN if any element is NaN, else the largest |x| (Infinity included); 0 for an empty array. */
function maxAbsRef(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i])) return NaN;
    m = Math.max(m, Math.abs(x[i]));
  }
  return m;
}

const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 13, 16, 31, 1000];
const SPECIALS: [string, number][] = [
  ['NaN', NaN],
  ['-Infinity', -Infinity],
  ['Infinity', Infinity],
  ['-3e38', -3e38],
  ['-0', -0],
];

describe('maxabs_f32 vs TypeScript reference', () => {
  for (const n of LENGTHS) {
    it(`maxabs_f32 x=[${n}] random signs`, () => {
      const x = randomArray(n, mulberry32(n + 7)).map((v, i) => (i % 3 ? -v : v) * 100);
      const want = Math.fround(maxAbsRef(x));
      for (const { name, be } of vs) {
        const got = withArena(be, (ar) => {
          const p = ar.f32('x', x);
          return ar.run(`maxabs n=${n}`, [], () => be.k.maxabs_f32(p, n));
        });
        expect(got, name).toBe(want);
      }
    });
  }
  for (const n of [5, 9, 17, 1000]) {
    for (const [label, v] of SPECIALS) {
      for (const at of [0, n - 1, n >> 1]) {
        it(`maxabs_f32 x=[${n}] with ${label} at ${at}`, () => {
          const x = randomArray(n, mulberry32(n + at));
          x[at] = v;
          const want = maxAbsRef(x);
          for (const { name, be } of vs) {
            const got = withArena(be, (ar) => {
              const p = ar.f32('x', x);
              return ar.run(`maxabs n=${n}`, [], () => be.k.maxabs_f32(p, n));
            });
            if (Number.isNaN(want)) expect(got, name).toBeNaN();
            else expect(got, name).toBe(Math.fround(want));
          }
        });
      }
    }
  }
  it('maxabs_f32 x=[13] ending at the last byte of wasm memory', () => {
    const x = randomArray(13, mulberry32(3));
    for (const { name, be } of vs) {
      const got = withArena(be, (ar) => {
        const p = ar.atEnd('x', x);
        return be.k.maxabs_f32(p, 13);
      });
      expect(got, name).toBe(Math.fround(maxAbsRef(x)));
    }
  });
});
