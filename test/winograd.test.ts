// Winograd F(2x2,3x3) and F(4x4,3x3) kernels: forward (+bias, +relu), input gradient (the forward kernel
// on dy with the flipped, in/out-swapped filter transform) and filter + bias gradients, for every variant
// (plain SIMD, relaxed-SIMD FMA, scalar siblings) against the float64 direct-convolution reference, on
// odd and prime sizes, channel counts around the SIMD widths, images smaller than a tile, both paddings,
// batches of 1..3, and tile blocks from 1 tile (every block a remainder) to all tiles at once.
//
// Error bound: Winograd rounds in its transforms too, more so for larger tiles (F(4x4) multiplies inputs
// by up to 5 and 8 and divides filters by 6 and 24). The error is measured against the largest output
// magnitude: |got - ref| <= BOUND[m] * max|ref| elementwise (docs/performance.md gives the figures).
//
// Plain SIMD vs scalar sibling: bit for bit (same operations per lane, same GEMM summation order).
// Outputs and scratch start as NaN garbage, and every call may write only its outputs.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { ValueError } from '../src/errors.js';
import {
  getConvAlgorithm,
  setConvAlgorithm,
  type WinogradTile,
  winogradPlanned,
  winogradBackwardFilter,
  winogradBackwardInput,
  winogradBlocks,
  winogradCacheFloats,
  winogradFilterFloats,
  winogradFilters,
  winogradForward,
  winogradScratchFloats,
  winogradTileFor,
  winogradTransformFilter,
} from '../src/kernels/winograd.js';
import { conv2dAllRef, type ConvCase, mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, sumTol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** Error bound relative to the largest reference magnitude, per tile size (observed: about 10x lower). */
const BOUND: Record<WinogradTile, number> = { 2: 5e-6, 4: 5e-5 };

/** "N,H,W,C oc=OC pad" (3x3 kernel, stride 1) */
function parse(s: string): ConvCase {
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) oc=(\d+) (valid|same)$/);
  if (!m) throw new Error(`bad case ${s}`);
  const [N, H, W, C, OC] = m.slice(1, 6).map(Number);
  return { N, H, W, C, KH: 3, KW: 3, OC, SH: 1, SW: 1, pad: m[6] as 'valid' | 'same' };
}

const cases = [
  '2,7,9,3 oc=5 same',
  '1,5,5,4 oc=8 valid',
  '3,6,5,17 oc=7 same',
  '2,11,13,1 oc=9 valid',
  '1,3,3,1 oc=1 same',
  '1,3,3,2 oc=3 valid',
  '1,1,1,5 oc=3 same',
  '2,2,3,4 oc=4 same',
  '1,13,11,8 oc=13 same',
  '1,8,8,33 oc=17 valid',
  '3,4,7,5 oc=33 valid',
  '1,9,9,64 oc=32 same',
  '2,14,14,32 oc=64 same',
  '1,7,7,31 oc=1 same',
  '2,10,6,12 oc=24 valid',
].map(parse);

const caseName = (c: ConvCase, m: number) =>
  `winograd F(${m}x${m},3x3) x=[${c.N},${c.H},${c.W},${c.C}] k=[3,3,${c.C},${c.OC}] stride=1 ${c.pad}`;

function caseData(c: ConvCase, seed: number) {
  const rnd = mulberry32(seed);
  const g = computeWindow2D('t', [c.H, c.W, c.C], [3, 3], [1, 1], c.pad, c.N);
  const x = randomArray(c.N * c.H * c.W * c.C, rnd),
    w = randomArray(9 * c.C * c.OC, rnd);
  const b = randomArray(c.OC, rnd),
    dy = randomArray(c.N * g.OH * g.OW * c.OC, rnd);
  return { x, w, b, dy, g };
}
type Data = ReturnType<typeof caseData>;

type Which = 'x' | 'w' | 'b' | 'dy' | 'u' | 'uf' | 'y' | 'dx' | 'dw' | 'db' | 'scratch';

/** The filter transforms and the three kernels on one backend; `last` puts that buffer flush against the end of memory. */
function runWinograd(ar: Arena, c: ConvCase, d: Data, m: WinogradTile, TB: number, flags: number, last: Which | null = null) {
  const { g } = d;
  const blocks = { forward: TB, input: TB, filter: TB };
  const sizes: Record<Which, number | Float32Array> = {
    x: d.x,
    w: d.w,
    b: d.b,
    dy: d.dy,
    u: winogradFilterFloats(c.C, c.OC, m),
    uf: winogradFilterFloats(c.OC, c.C, m),
    y: d.dy.length,
    dx: d.x.length,
    dw: d.w.length,
    db: c.OC,
    scratch: winogradScratchFloats(g, c.OC, m, blocks),
  };
  const ptr = ar.place(sizes, last);
  const label = `${caseName(c, m)} TB=${TB}`;
  ar.run(`${label} filter transform`, [ptr.u], () => winogradTransformFilter(ar.be, ptr.w, ptr.u, c.C, c.OC, m, false));
  ar.run(`${label} flipped filter transform`, [ptr.uf], () => winogradTransformFilter(ar.be, ptr.w, ptr.uf, c.C, c.OC, m, true));
  const bias = flags & FLAG_BIAS ? ptr.b : 0;
  ar.run(`${label} forward`, [ptr.y, ptr.scratch], () =>
    winogradForward(ar.be, ptr.x, ptr.u, bias, ptr.y, ptr.scratch, g, c.N, c.OC, m, flags, TB),
  );
  ar.refill(ptr.scratch);
  ar.run(`${label} grad input`, [ptr.dx, ptr.scratch], () =>
    winogradBackwardInput(ar.be, ptr.dy, ptr.uf, ptr.dx, ptr.scratch, g, c.N, c.OC, m, TB),
  );
  ar.refill(ptr.scratch);
  const db = flags & FLAG_BIAS ? ptr.db : 0;
  ar.run(`${label} grad filter`, db ? [ptr.dw, ptr.db, ptr.scratch] : [ptr.dw, ptr.scratch], () =>
    winogradBackwardFilter(ar.be, ptr.x, ptr.dy, ptr.dw, db, ptr.scratch, g, c.N, c.OC, m, flags & FLAG_BIAS, TB),
  );
  return { y: ar.read(ptr.y), dx: ar.read(ptr.dx), dw: ar.read(ptr.dw), db: db ? ar.read(ptr.db) : null };
}

const references = (c: ConvCase, d: Data, flags: number) => conv2dAllRef(c, d, (flags & FLAG_BIAS) !== 0, (flags & FLAG_RELU) !== 0);

const maxAbs = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]));
  return s;
};
/** |got - ref| <= bound * max|ref|, as an absolute tolerance (a zero-size output has nothing to check). */
const winoTol = (ref: ArrayLike<number>, m: WinogradTile) => ({ rtol: 0, atol: BOUND[m] * Math.max(maxAbs(ref), 1e-30) });

const FLAGS = [FLAG_BIAS | FLAG_RELU, FLAG_BIAS, FLAG_RELU, 0];
const flagName = (f: number) => [f & FLAG_BIAS ? 'bias' : '', f & FLAG_RELU ? 'relu' : ''].filter(Boolean).join('+') || 'no bias/act';

describe('winograd kernels vs float64 reference', () => {
  cases.forEach((c, idx) => {
    for (const m of [2, 4] as WinogradTile[]) {
      const flags = FLAGS[(idx + m) % FLAGS.length];
      // Blocks of 1 tile, an odd count, and the host's choice: remainders of the 4-row GEMM tiles and of the blocks.
      const TBs = [idx % 2 === 0 ? 1 : 5, winogradBlocks(caseData(c, 0).g, c.OC, m).forward];
      it(`${caseName(c, m)} (${flagName(flags)}; blocks of ${TBs.join(' and ')} tiles)`, () => {
        const d = caseData(c, 300 + idx);
        const ref = references(c, d, flags);
        const tol = { y: winoTol(ref.y, m), dx: winoTol(ref.dx, m), dw: winoTol(ref.dw, m) };
        for (const TB of TBs) {
          const out: Record<string, ReturnType<typeof runWinograd>> = {};
          for (const { name, be } of vs) {
            const r = withArena(be, (ar) => runWinograd(ar, c, d, m, TB, flags));
            const at = `${name} TB=${TB}`;
            expectClose(r.y, ref.y, tol.y, `${at} forward`);
            expectClose(r.dx, ref.dx, tol.dx, `${at} grad input`);
            expectClose(r.dw, ref.dw, tol.dw, `${at} grad filter`);
            if (r.db) expectClose(r.db, ref.db, sumTol(d.dy.length / c.OC), `${at} grad bias`);
            out[name] = r;
          }
          const s = out.simd,
            q = out.scalar;
          expectBitwise(s.y, q.y, `simd vs scalar forward TB=${TB}`);
          expectBitwise(s.dx, q.dx, `simd vs scalar grad input TB=${TB}`);
          expectBitwise(s.dw, q.dw, `simd vs scalar grad filter TB=${TB}`);
          if (s.db) expectBitwise(s.db, q.db!, `simd vs scalar grad bias TB=${TB}`);
        }
      });
    }
  });
});

describe('winograd: the tile block changes nothing but the filter gradient summation order', () => {
  it('winograd F(4x4,3x3) x=[3,9,10,6] k=[3,3,6,11] stride=1 same: forward and grad input bitwise equal for blocks of 1, 3, 8 and all tiles', () => {
    const c = parse('3,9,10,6 oc=11 same');
    const d = caseData(c, 51);
    for (const { name, be } of vs) {
      const runs = [1, 3, 8, 1000].map((TB) => withArena(be, (ar) => runWinograd(ar, c, d, 4, TB, FLAG_BIAS | FLAG_RELU)));
      for (const r of runs.slice(1)) {
        expectBitwise(r.y, runs[0].y, `${name} forward`);
        expectBitwise(r.dx, runs[0].dx, `${name} grad input`);
        expectClose(r.dw, runs[0].dw, { rtol: 1e-5, atol: 1e-5 * maxAbs(runs[0].dw) }, `${name} grad filter`);
      }
    }
  });
});

describe('winograd kernels never read or write past their buffers (each buffer flush against the end of memory)', () => {
  const edge = ['2,5,7,3 oc=5 same', '1,6,5,5 oc=9 valid'].map(parse);
  const all: Which[] = ['x', 'w', 'b', 'dy', 'u', 'uf', 'y', 'dx', 'dw', 'db', 'scratch'];
  edge.forEach((c, idx) => {
    for (const m of [2, 4] as WinogradTile[]) {
      it(`${caseName(c, m)}: x, w, b, dy, both filter transforms, y, dx, dw, db and scratch each last in memory`, () => {
        const d = caseData(c, 700 + idx);
        const flags = FLAG_BIAS | FLAG_RELU;
        const ref = references(c, d, flags);
        for (const { name, be } of vs) {
          for (const last of all) {
            const r = withArena(be, (ar) => runWinograd(ar, c, d, m, 3, flags, last));
            const at = `${name} with ${last} last`;
            expectClose(r.y, ref.y, winoTol(ref.y, m), `${at}: forward`);
            expectClose(r.dx, ref.dx, winoTol(ref.dx, m), `${at}: grad input`);
            expectClose(r.dw, ref.dw, winoTol(ref.dw, m), `${at}: grad filter`);
            expectClose(r.db!, ref.db, sumTol(d.dy.length / c.OC), `${at}: grad bias`);
          }
        }
      });
    }
  });
});

describe('winograd: outputs that read only zeros are exact, as in direct convolution', () => {
  // Zero regions (background, dead ReLUs): Winograd's terms cancel only to within rounding, so without
  // care a following ReLU or max-pool would see +-1e-9 where direct convolution gives exactly 0 + bias.
  for (const m of [2, 4] as WinogradTile[]) {
    it(`winograd F(${m}x${m},3x3) x=[2,13,11,6] k=[3,3,6,9] same, zeros outside a 5x4 block (and a -0): all-zero windows give exactly bias, and relu(bias)`, () => {
      const c = parse('2,13,11,6 oc=9 same');
      const d = caseData(c, 61);
      d.x.forEach((_, i) => {
        const px = Math.floor(i / c.C),
          yy = Math.floor(px / c.W) % c.H,
          xx = px % c.W;
        if (!(yy >= 4 && yy < 9 && xx >= 3 && xx < 7)) d.x[i] = 0;
      });
      d.x[0] = -0;
      for (const flags of [FLAG_BIAS, FLAG_BIAS | FLAG_RELU]) {
        const ref = references(c, d, flags);
        let exact = 0;
        for (const { name, be } of vs) {
          const r = withArena(be, (ar) => runWinograd(ar, c, d, m, 3, flags));
          expectClose(r.y, ref.y, winoTol(ref.y, m), `${name} forward`);
          for (let i = 0; i < ref.y.length; i++) {
            const px = Math.floor(i / c.OC),
              yy = Math.floor(px / c.W) % c.H,
              xx = px % c.W;
            if (yy >= 3 && yy <= 9 && xx >= 2 && xx <= 7) continue; // the window touches the block
            exact++;
            if (r.y[i] !== Math.fround(ref.y[i]))
              expect.fail(`${name} ${flagName(flags)}: y[${i}] = ${r.y[i]}, expected exactly ${Math.fround(ref.y[i])}`);
          }
        }
        expect(exact).toBeGreaterThan(vs.length * 100);
      }
    });
  }
});

describe('winograd accuracy on LeNet shapes', () => {
  // conv2 of LeNet at batch 4, with inputs as they arrive there (post-ReLU, non-negative) and Glorot-scale weights.
  it('winograd x=[4,14,14,32] k=[3,3,32,64] stride=1 same: F(2x2) within 5e-6 and F(4x4) within 5e-5 of the largest output, every build', () => {
    const c = parse('4,14,14,32 oc=64 same');
    const rnd = mulberry32(9);
    const limit = Math.sqrt(6 / (9 * 32 + 9 * 64));
    const d = caseData(c, 10);
    d.x = Float32Array.from(d.x, () => rnd());
    d.w = Float32Array.from(d.w, () => (rnd() * 2 - 1) * limit);
    const ref = references(c, d, FLAG_BIAS);
    for (const m of [2, 4] as WinogradTile[]) {
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => runWinograd(ar, c, d, m, winogradBlocks(d.g, c.OC, m).forward, FLAG_BIAS));
        for (const k of ['y', 'dx', 'dw'] as const) {
          let err = 0;
          for (let i = 0; i < ref[k].length; i++) err = Math.max(err, Math.abs(r[k][i] - ref[k][i]));
          expect(err / maxAbs(ref[k]), `${name} F(${m}x${m}) ${k}: max error / max |ref|`).toBeLessThanOrEqual(BOUND[m]);
        }
      }
    }
  });
});

describe('winograd transformed-filter cache', () => {
  it('winograd k=[3,3,5,11]: transforms on the first use, then only when the weights version or the tile changes', () => {
    const C = 5,
      OC = 11,
      rnd = mulberry32(77);
    const w1 = randomArray(9 * C * OC, rnd),
      w2 = randomArray(9 * C * OC, rnd);
    for (const { name, be } of vs) {
      withArena(be, (ar) => {
        const w = ar.f32('w', w1),
          cache = ar.f32('cache', new Float32Array(winogradCacheFloats(C, OC)));
        const expected = (data: Float32Array, m: WinogradTile, flip: boolean) =>
          withArena(be, (ar2) => {
            const wp = ar2.f32('w', data),
              u = ar2.out('u', winogradFilterFloats(flip ? OC : C, flip ? C : OC, m));
            winogradTransformFilter(be, wp, u, C, OC, m, flip);
            return matricesOf(ar2.read(u), m, flip);
          });
        const got = (m: WinogradTile, flip: boolean, version: number) => {
          const u = ar.run(`${name} cache m=${m} flip=${flip} v=${version}`, [cache], () =>
            winogradFilters(be, cache, w, C, OC, m, flip, version),
          );
          return matricesOf(be.f32.slice(u / 4, u / 4 + winogradFilterFloats(flip ? OC : C, flip ? C : OC, m)), m, flip);
        };
        // The alpha^2 matrices without the skew floats between them (never written).
        const matricesOf = (u: Float32Array, m: WinogradTile, flip: boolean) => {
          const mat = (flip ? OC : C) * Math.ceil((flip ? C : OC) / 8) * 8;
          return Float32Array.from({ length: (m + 2) ** 2 * mat }, (_, i) => u[Math.floor(i / mat) * (mat + 16) + (i % mat)]);
        };
        for (const flip of [false, true]) {
          ar.refill(w, w1);
          expectBitwise(
            got(4, flip, 0),
            expected(w1, 4, flip),
            `${name} flip=${flip}: first use (zeroed cache) transforms, even at version 0`,
          );
          ar.refill(w, w2);
          expectBitwise(
            got(4, flip, 0),
            expected(w1, 4, flip),
            `${name} flip=${flip}: same version, new weights: still the cached transform`,
          );
          expectBitwise(got(4, flip, 2), expected(w2, 4, flip), `${name} flip=${flip}: new version: transformed again`);
          expectBitwise(got(2, flip, 2), expected(w2, 2, flip), `${name} flip=${flip}: other tile: transformed again`);
        }
        // The two transforms have their own stamps: the forward one is still F(2x2) of w2 at version 2.
        expectBitwise(got(2, false, 2), expected(w2, 2, false), `${name}: forward entry kept apart from the flipped one`);
      });
    }
  });
});

describe('convolution algorithm rule and switch', () => {
  const geom = (N: number, H: number, C: number, k = 3, s = 1, pad: 'same' | 'valid' = 'same') =>
    computeWindow2D('t', [H, H, C], [k, k], [s, s], pad, N);
  const ops = ['forward', 'grad-input', 'grad-filter'] as const;
  const tiles = (N: number, H: number, C: number, OC: number, k = 3, s = 1) =>
    ops.map((op) => winogradTileFor(geom(N, H, C, k, s), OC, op, N));

  it('auto: LeNet conv1 x=[64,28,28,1] k=[3,3,1,32] and the tutorial conv x=[1,28,28,1] k=[3,3,1,8] stay direct', () => {
    expect(tiles(64, 28, 1, 32)).toEqual([0, 0, 0]);
    expect(tiles(1, 28, 1, 8)).toEqual([0, 0, 0]);
  });
  it('auto: LeNet conv2 x=[64,14,14,32] k=[3,3,32,64] and x=[1,14,14,32] use F(4x4) for all three (16 tiles at batch 1)', () => {
    expect(tiles(64, 14, 32, 64)).toEqual([4, 4, 4]);
    expect(tiles(1, 14, 32, 64)).toEqual([4, 4, 4]);
  });
  it('auto: the channel thresholds x=[8,14,14,C] k=[3,3,C,OC]: forward C >= 8 and OC >= 16, input gradient C, OC >= 8', () => {
    expect(tiles(8, 14, 8, 8)).toEqual([0, 4, 0]);
    expect(tiles(8, 14, 8, 16)).toEqual([4, 4, 4]);
    expect(tiles(8, 14, 7, 64)).toEqual([0, 0, 0]);
    expect(tiles(8, 14, 64, 7)).toEqual([0, 0, 0]);
  });
  it('auto: the filter gradient wants 16 tiles: x=[1,7,7,64] (4 tiles) direct, x=[4,7,7,64] (16) Winograd', () => {
    expect(tiles(1, 7, 64, 64)).toEqual([4, 4, 0]);
    expect(tiles(4, 7, 64, 64)).toEqual([4, 4, 4]);
  });
  it("memory is planned where 'auto' runs the forward pass or input gradient with Winograd, everywhere it applies when forced, nowhere under 'direct'", () => {
    const planned = (C: number, OC: number, mode: 'auto' | 'direct' | 'winograd' | 'winograd2x2', k = 3) =>
      winogradPlanned(geom(1, 14, C, k), OC, mode);
    expect([planned(32, 64, 'auto'), planned(8, 8, 'auto'), planned(1, 32, 'auto'), planned(64, 7, 'auto')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([planned(1, 32, 'winograd'), planned(1, 1, 'winograd2x2'), planned(32, 64, 'direct'), planned(32, 64, 'winograd', 5)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
  it('no mode uses Winograd beyond 3x3 stride 1: k=[5,5] stride 1, k=[3,3] stride 2, k=[1,1]', () => {
    try {
      for (const mode of ['auto', 'winograd', 'winograd2x2', 'direct'] as const) {
        setConvAlgorithm(mode);
        expect(tiles(8, 14, 32, 64, 5), mode).toEqual([0, 0, 0]);
        expect(tiles(8, 14, 32, 64, 3, 2), mode).toEqual([0, 0, 0]);
        expect(tiles(8, 14, 32, 64, 1), mode).toEqual([0, 0, 0]);
      }
    } finally {
      setConvAlgorithm('auto');
    }
  });
  it("setConvAlgorithm forces: 'direct' everywhere, 'winograd' F(4x4) and 'winograd2x2' F(2x2) even for one channel; bad names throw", () => {
    try {
      setConvAlgorithm('direct');
      expect(getConvAlgorithm()).toBe('direct');
      expect(tiles(64, 14, 32, 64)).toEqual([0, 0, 0]);
      setConvAlgorithm('winograd');
      expect(tiles(1, 7, 1, 1)).toEqual([4, 4, 4]);
      setConvAlgorithm('winograd2x2');
      expect(tiles(1, 7, 1, 1)).toEqual([2, 2, 2]);
      expect(() => setConvAlgorithm('fast' as never)).toThrow(ValueError);
      expect(() => setConvAlgorithm('fast' as never)).toThrow(/'auto', 'direct', 'winograd', 'winograd2x2'.*"fast"/);
      expect(getConvAlgorithm()).toBe('winograd2x2');
    } finally {
      setConvAlgorithm('auto');
    }
  });
});
