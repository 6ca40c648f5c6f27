// Dropout kernels: the mask is a pure function of (element index, keys), the same in the SIMD, scalar and
// relaxed builds and in this test's plain-TypeScript restatement of the hash; kept elements are x * scale
// exactly, dropped ones 0; the kept fraction is 1 - rate within 5 standard deviations; spatial dropout
// keeps or drops a whole channel of a sample. Sizes not divisible by 4, guarded writes, end of memory.
import { beforeAll, describe, expect, it } from 'vitest';
import { dropoutConstants, dropoutKeys } from '../src/kernels/dropout.js';

const keysOf = (rng: Rng, rate: number) => ({ ...dropoutKeys(rng), ...dropoutConstants(rate) });
import { Rng } from '../src/random.js';
import { createVariants, expectBitwise, type Variant, withArena } from './helpers.js';
import { mulberry32, randomArray } from './reference.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** lowbias32 of i * k1 + k2, restated: element i is kept when its top 24 bits reach the threshold. */
function keptRef(i: number, k1: number, k2: number, threshold: number): boolean {
  let h = (Math.imul(i, k1) + k2) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 8 >= threshold;
}

function dropoutRef(x: Float32Array, k: ReturnType<typeof keysOf>): Float32Array {
  return Float32Array.from(x, (v, i) => v * (keptRef(i, k.k1, k.k2, k.threshold) ? k.scale : 0));
}

const sizes = [1, 3, 4, 5, 17, 64, 1001];
const rates = [0.1, 0.5, 0.77];

describe('dropout kernels', () => {
  for (const n of sizes)
    for (const rate of rates) {
      it(`dropout n=${n} rate=${rate}: mask of the reference hash, x * scale kept, 0 dropped, every build alike; dy gets the same mask`, () => {
        const rnd = mulberry32(n * 7 + Math.round(rate * 100));
        const x = randomArray(n, rnd, 3),
          dy = randomArray(n, rnd);
        const k = keysOf(new Rng(n), rate);
        expect(k.k1 & 1, 'k1 odd').toBe(1);
        expect(k.scale).toBe(Math.fround(1 / Math.fround(1 - rate)));
        for (const v of vs) {
          withArena(v.be, (ar) => {
            const px = ar.f32('x', x),
              pdy = ar.f32('dy', dy),
              py = ar.out('y', n),
              pdx = ar.out('dx', n);
            ar.run('forward', [py], () => v.be.k.dropout_apply(px, py, n, k.k1, k.k2, k.threshold, k.scale));
            ar.run('backward', [pdx], () => v.be.k.dropout_apply(pdy, pdx, n, k.k1, k.k2, k.threshold, k.scale));
            expectBitwise(ar.read(py), dropoutRef(x, k), `[${v.name}] y`);
            expectBitwise(ar.read(pdx), dropoutRef(dy, k), `[${v.name}] dx`);
          });
        }
      });
    }

  it('dropout n=200003 rate=0.3: kept fraction 1 - rate within 5 sigma, kept values scaled by 1/(1 - rate), mean preserved', () => {
    const n = 200003,
      rate = 0.3;
    const x = new Float32Array(n).fill(1);
    const k = keysOf(new Rng(9), rate);
    const be = vs[0].be;
    withArena(be, (ar) => {
      const px = ar.f32('x', x),
        py = ar.out('y', n);
      ar.run('forward', [py], () => be.k.dropout_apply(px, py, n, k.k1, k.k2, k.threshold, k.scale));
      const y = ar.read(py);
      const kept = y.filter((v) => v !== 0).length;
      expect(Math.abs(kept / n - (1 - rate))).toBeLessThan(5 * Math.sqrt((rate * (1 - rate)) / n));
      expect(new Set(y.filter((v) => v !== 0)).size).toBe(1);
      expect(y.find((v) => v !== 0)).toBe(Math.fround(1 / 0.7));
      expect(Math.abs(y.reduce((s, v) => s + v, 0) / n - 1)).toBeLessThan(0.01);
    });
  });

  it('dropout: successive calls on one generator draw different masks, and the same seed gives the same ones', () => {
    const n = 4096,
      a = new Rng(5),
      b = new Rng(5);
    const masks = [0, 1, 2].map(() => keysOf(a, 0.5));
    const again = [0, 1, 2].map(() => keysOf(b, 0.5));
    expect(again).toEqual(masks);
    const bits = masks.map((k) => Array.from({ length: n }, (_, i) => keptRef(i, k.k1, k.k2, k.threshold)));
    for (const [i, j] of [
      [0, 1],
      [1, 2],
      [0, 2],
    ]) {
      const same = bits[i].filter((v, t) => v === bits[j][t]).length / n;
      expect(Math.abs(same - 0.5), `masks ${i} and ${j} agree on ${same} of elements`).toBeLessThan(0.05);
    }
  });

  it('dropout rate=0 keys keep everything', () => {
    const k = keysOf(new Rng(1), 0);
    expect(k.threshold).toBe(0);
    expect(k.scale).toBe(1);
  });

  for (const [N, P, C] of [
    [1, 1, 1],
    [2, 5, 3],
    [3, 7, 17],
    [2, 4, 8],
  ]) {
    it(`spatial dropout x=[${N},${P},${C}] rate=0.4: whole channels per sample, the hash of s * C + c`, () => {
      const rnd = mulberry32(N * 100 + C);
      const x = randomArray(N * P * C, rnd, 2);
      const k = keysOf(new Rng(C), 0.4);
      const ref = Float32Array.from(x, (v, i) => {
        const s = Math.floor(i / (P * C)),
          c = i % C;
        return v * (keptRef(s * C + c, k.k1, k.k2, k.threshold) ? k.scale : 0);
      });
      for (const v of vs) {
        withArena(v.be, (ar) => {
          const px = ar.f32('x', x),
            py = ar.out('y', x.length),
            scratch = ar.out('scratch', C);
          ar.run('forward', [py, scratch], () => v.be.k.spatial_dropout_apply(px, py, N, P, C, k.k1, k.k2, k.threshold, k.scale, scratch));
          expectBitwise(ar.read(py), ref, `[${v.name}] y`);
        });
      }
    });
  }

  it('dropout n=37 in place at the very end of memory', () => {
    const n = 37,
      x = randomArray(n, mulberry32(2)),
      k = keysOf(new Rng(3), 0.5);
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const px = ar.atEnd('x', x);
        ar.run('in place', [px], () => v.be.k.dropout_apply(px, px, n, k.k1, k.k2, k.threshold, k.scale));
        expectBitwise(v.be.f32.slice(px / 4, px / 4 + n), dropoutRef(x, k), `[${v.name}]`);
      });
    }
  });
});
