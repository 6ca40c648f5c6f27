// Max and average pooling, forward and backward, against the float64 reference: padding on either
// side, strides per axis, windows larger than the stride (overlapping: gradients add up), windows at
// 'same' borders, all-negative windows (padding must never win a max: TF.js's wasm MaxPoolGrad gets
// this wrong), ties (the first position wins and gets the gradient), and channel counts around the
// 4-lane SIMD width. maxpool's training path (arg buffer) and inference path (arg = 0) are both run.
//
// Plain SIMD vs scalar sibling: bit for bit (y, arg, dx), since both visit the window in the same
// order and the average divides the same sum by the same count. The relaxed build has no FMA in these
// kernels; it is compared with the reference like the others.
import { beforeAll, describe, expect, it } from 'vitest';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../src/kernels/pool.js';
import { avgPoolRef, maxPoolRef, mulberry32, type PoolCase, poolGeometry, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, type Tol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

function parse(s: string): PoolCase {
  // "N,H,W,C p=PH,PW s=SH,SW pad"
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) p=(\d+),(\d+) s=(\d+),(\d+) (valid|same)$/);
  if (!m) throw new Error(`bad case ${s}`);
  const [N, H, W, C, PH, PW, SH, SW] = m.slice(1, 9).map(Number);
  return { N, H, W, C, PH, PW, SH, SW, pad: m[9] as 'valid' | 'same' };
}
const cases = [
  '2,7,9,3 p=2,2 s=2,2 valid',
  '1,7,7,5 p=3,3 s=2,2 same',
  '1,6,5,8 p=2,3 s=1,1 valid',
  '3,5,5,17 p=2,2 s=2,2 same',
  '1,13,11,4 p=5,2 s=3,2 same',
  '2,4,4,1 p=4,4 s=1,1 valid',
  '1,1,1,7 p=2,2 s=2,2 same',
  '1,4,4,3 p=5,5 s=1,1 same',
  '2,9,8,13 p=3,3 s=3,3 valid',
  '1,6,7,9 p=1,1 s=2,3 valid',
  '3,8,8,4 p=3,3 s=1,1 same',
  '1,5,9,2 p=2,5 s=2,1 same',
  '2,11,7,1 p=7,3 s=2,2 valid',
  '1,3,3,33 p=2,2 s=1,1 same',
  '1,10,10,8 p=4,4 s=3,3 same',
  '2,5,6,5 p=3,2 s=1,2 valid',
  // 2x2 windows, stride 2, all inside the image: the kernels' fast path (odd sizes drop the last row/column).
  '2,6,8,12 p=2,2 s=2,2 valid',
  '1,14,14,32 p=2,2 s=2,2 same',
  '2,4,6,5 p=2,2 s=2,2 same',
  '3,9,7,7 p=2,2 s=2,2 valid',
].map(parse);

const caseName = (k: 'max' | 'avg', c: PoolCase) =>
  `${k}pool x=[${c.N},${c.H},${c.W},${c.C}] pool=[${c.PH},${c.PW}] stride=${c.SH === c.SW ? c.SH : `[${c.SH},${c.SW}]`} ${c.pad}`;

const geometry = (c: PoolCase) => computeWindow2D('p', [c.H, c.W, c.C], [c.PH, c.PW], [c.SH, c.SW], c.pad, c.N);

interface MaxOut {
  y: Float32Array;
  arg: Int32Array;
  dx: Float32Array;
  yInfer: Float32Array;
}

/** Training forward (with arg), backward from arg, and the inference forward (arg = 0), each guarded. */
function runMax(ar: Arena, c: PoolCase, x: Float32Array, dy: Float32Array): MaxOut {
  const g = geometry(c),
    ys = dy.length;
  const px = ar.f32('x', x),
    pdy = ar.f32('dy', dy),
    py = ar.out('y', ys),
    parg = ar.out('arg', ys),
    pdx = ar.out('dx', x.length);
  const py2 = ar.out('y (inference)', ys);
  const name = caseName('max', c);
  ar.run(`${name} forward`, [py, parg], () => maxPoolForward(ar.be, px, py, parg, g, c.N));
  ar.run(`${name} backward`, [pdx], () => maxPoolBackward(ar.be, pdy, parg, pdx, g, c.N));
  ar.run(`${name} inference forward (arg = 0)`, [py2], () => maxPoolForward(ar.be, px, py2, 0, g, c.N));
  return { y: ar.read(py), arg: ar.readI32(parg), dx: ar.read(pdx), yInfer: ar.read(py2) };
}

function runAvg(ar: Arena, c: PoolCase, x: Float32Array, dy: Float32Array) {
  const g = geometry(c),
    ys = dy.length;
  const px = ar.f32('x', x),
    pdy = ar.f32('dy', dy),
    py = ar.out('y', ys),
    pdx = ar.out('dx', x.length);
  const name = caseName('avg', c);
  ar.run(`${name} forward`, [py], () => avgPoolForward(ar.be, px, py, g, c.N));
  ar.run(`${name} backward`, [pdx], () => avgPoolBackward(ar.be, pdy, pdx, g, c.N));
  return { y: ar.read(py), dx: ar.read(pdx) };
}

/** Max: the value itself (exact); gradients sum at most PH*PW dy values per input. */
const exact: Tol = { rtol: 0, atol: 0 };
const avgTol = (c: PoolCase): Tol => ({ rtol: 1e-6, atol: 1e-6 * Math.sqrt(c.PH * c.PW) });

function checkMax(c: PoolCase, x: Float32Array, dy: Float32Array, label: string): void {
  const ref = maxPoolRef(c, x, dy);
  const { OH, OW } = poolGeometry(c);
  const out: Record<string, MaxOut> = {};
  for (const { name, be } of vs) {
    const r = withArena(be, (ar) => runMax(ar, c, x, dy));
    expectClose(r.y, ref.y, { ...exact, shape: [c.N, OH, OW, c.C] }, `${label} ${name} forward`);
    expect(Array.from(r.arg), `${label} ${name}: argmax indices (first maximum of each window)`).toEqual(Array.from(ref.arg));
    expectClose(r.dx, ref.dx, { ...avgTol(c), shape: [c.N, c.H, c.W, c.C] }, `${label} ${name} backward`);
    // Inference keeps no winners; the values are the same maxima (compared as numbers: see the
    // maxpool2d_values comment, the two paths may differ on which of +0/-0 a tied window returns).
    expectClose(r.yInfer, ref.y, exact, `${label} ${name} inference forward`);
    out[name] = r;
  }
  expectBitwise(out.simd.y, out.scalar.y, `${label} simd vs scalar forward`);
  expect(Array.from(out.simd.arg), `${label} simd vs scalar arg`).toEqual(Array.from(out.scalar.arg));
  expectBitwise(out.simd.dx, out.scalar.dx, `${label} simd vs scalar backward`);
  expectBitwise(out.simd.yInfer, out.scalar.yInfer, `${label} simd vs scalar inference forward`);
}

function checkAvg(c: PoolCase, x: Float32Array, dy: Float32Array, label: string): void {
  const ref = avgPoolRef(c, x, dy);
  const out: Record<string, { y: Float32Array; dx: Float32Array }> = {};
  for (const { name, be } of vs) {
    const r = withArena(be, (ar) => runAvg(ar, c, x, dy));
    expectClose(r.y, ref.y, avgTol(c), `${label} ${name} forward`);
    expectClose(r.dx, ref.dx, avgTol(c), `${label} ${name} backward`);
    out[name] = r;
  }
  expectBitwise(out.simd.y, out.scalar.y, `${label} simd vs scalar forward`);
  expectBitwise(out.simd.dx, out.scalar.dx, `${label} simd vs scalar backward`);
}

function randomCase(c: PoolCase, seed: number) {
  const rnd = mulberry32(seed);
  const { OH, OW } = poolGeometry(c);
  return { x: randomArray(c.N * c.H * c.W * c.C, rnd), dy: randomArray(c.N * OH * OW * c.C, rnd) };
}

describe('pooling kernels vs float64 reference', () => {
  cases.forEach((c, idx) => {
    it(`${caseName('max', c)}`, () => {
      const g = geometry(c),
        p = poolGeometry(c);
      expect([g.OH, g.OW, g.PT, g.PL, g.PB, g.PR], 'computeWindow2D vs TF rule').toEqual([p.OH, p.OW, p.PT, p.PL, p.PB, p.PR]);
      const { x, dy } = randomCase(c, 300 + idx);
      checkMax(c, x, dy, caseName('max', c));
    });
    it(`${caseName('avg', c)}`, () => {
      const { x, dy } = randomCase(c, 600 + idx);
      checkAvg(c, x, dy, caseName('avg', c));
    });
  });
});

describe('pooling edge cases', () => {
  // Every value in [-2, -1): with 'same' padding, a kernel that let padding count as 0 would return 0.
  for (const s of ['1,5,5,3 p=3,3 s=2,2 same', '2,4,7,8 p=2,2 s=2,2 same', '1,3,3,5 p=5,5 s=1,1 same', '1,6,6,4 p=2,2 s=2,2 valid']) {
    const c = parse(s);
    it(`${caseName('max', c)} all-negative inputs (padding never wins)`, () => {
      const { x, dy } = randomCase(c, 41);
      const neg = Float32Array.from(x, (v) => -1.5 + v / 2);
      checkMax(c, neg, dy, 'all negative');
      const r = maxPoolRef(c, neg, null);
      expect(
        r.y.every((v) => v < -0.99),
        'reference maxima are all negative',
      ).toBe(true);
      checkAvg(c, neg, dy, 'all negative');
    });
  }

  it('maxpool x=[1,4,4,5] pool=[5,5] stride=1 same: border windows see only their in-bounds positions', () => {
    // 'same' pads 2 on each side; the corner windows cover 3x3 inputs, the edges 3x4 or 4x3.
    const c = parse('1,4,4,5 p=5,5 s=1,1 same');
    const x = new Float32Array(4 * 4 * 5);
    // Channel ch: one large value at a different border pixel each, the rest descending negatives.
    for (let i = 0; i < x.length; i++) x[i] = -1 - i / 100;
    const spots = [
      [0, 0],
      [0, 3],
      [3, 0],
      [3, 3],
      [1, 3],
    ];
    spots.forEach(([yy, xx], ch) => (x[(yy * 4 + xx) * 5 + ch] = 5 + ch));
    const { dy } = randomCase(c, 42);
    checkMax(c, x, dy, 'borders');
    checkAvg(c, x, dy, 'borders');
    // Sanity of the case itself: output (oy, ox)'s window spans rows oy-2..oy+2 clipped to 0..3, so the
    // spot at (0,0) (channel 0) reaches outputs up to (2,2) but not (3,3), and (3,3) (channel 3) the reverse.
    const ref = maxPoolRef(c, x, null);
    const at = (oy: number, ox: number, ch: number) => ref.y[(oy * 4 + ox) * 5 + ch];
    expect([at(0, 0, 0), at(2, 2, 0), at(3, 3, 0) < 0]).toEqual([5, 5, true]);
    expect([at(3, 3, 3), at(1, 1, 3), at(0, 0, 3) < 0]).toEqual([8, 8, true]);
  });

  it('maxpool x=[2,5,6,9] pool=[3,2] stride=[1,2] same with ties: the first position wins and takes the gradient', () => {
    const c = parse('2,5,6,9 p=3,2 s=1,2 same');
    const rnd = mulberry32(43);
    // Values from a set of three, so most windows hold their maximum more than once.
    const x = Float32Array.from({ length: 2 * 5 * 6 * 9 }, () => [-0.5, 0.25, 0.75][Math.floor(rnd() * 3)]);
    const { dy } = randomCase(c, 44);
    checkMax(c, x, dy, 'ties');
    // A constant image: every window's first in-bounds position wins.
    checkMax(c, new Float32Array(x.length).fill(-0.125), dy, 'constant');
  });

  it('maxpool x=[2,6,8,7] pool=[2,2] stride=2 valid with ties (the fast path): the first position wins and takes the gradient', () => {
    const c = parse('2,6,8,7 p=2,2 s=2,2 valid');
    const rnd = mulberry32(45);
    // Two values and both zeros: most windows tie, and +0/-0 ties must resolve as the general path does.
    const x = Float32Array.from({ length: 2 * 6 * 8 * 7 }, () => [-0.5, 0.25, 0, -0][Math.floor(rnd() * 4)]);
    const { dy } = randomCase(c, 46);
    checkMax(c, x, dy, 'ties');
    checkMax(c, new Float32Array(x.length).fill(-0.125), dy, 'constant');
  });

  it('maxpool x=[1,4,4,6] pool=[2,2] stride=2 valid: a NaN anywhere in a window makes that output NaN (training path)', () => {
    const c = parse('1,4,4,6 p=2,2 s=2,2 valid');
    const { x, dy } = randomCase(c, 45);
    // Window (0,0) of channels 0, 1 (SIMD lanes) and 4, 5 (the scalar remainder of C = 6) gets a NaN at
    // each of its four positions in turn; the other windows and channels stay finite.
    for (const [yy, xx] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      const xn = Float32Array.from(x);
      for (const ch of [0, 1, 4, 5]) xn[(yy * 4 + xx) * 6 + ch] = NaN;
      const ref = maxPoolRef(c, xn, dy);
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => runMax(ar, c, xn, dy));
        expectClose(r.y, ref.y, exact, `NaN at (${yy},${xx}) ${name} forward`);
        expect(Array.from(r.arg), `NaN at (${yy},${xx}) ${name} arg`).toEqual(Array.from(ref.arg));
        expectClose(r.dx, ref.dx, exact, `NaN at (${yy},${xx}) ${name} backward`);
      }
    }
  });

  it('maxpool x=[1,2,2,5] pool=[2,2] stride=2 valid: a window of only -Infinity gives -Infinity and no gradient', () => {
    const c = parse('1,2,2,5 p=2,2 s=2,2 valid');
    const x = new Float32Array(20).fill(-Infinity);
    x[3] = 1; // channel 3 has a finite maximum
    const dy = Float32Array.from([1, 2, 3, 4, 5]);
    for (const { name, be } of vs) {
      const r = withArena(be, (ar) => runMax(ar, c, x, dy));
      expect(Array.from(r.y), `${name} forward`).toEqual([-Infinity, -Infinity, -Infinity, 1, -Infinity]);
      expect(Array.from(r.dx), `${name} backward: only channel 3 has a winner`).toEqual(
        Array.from({ length: 20 }, (_, i) => (i === 3 ? 4 : 0)),
      );
    }
  });
});

describe('maxpool 2x2 stride 2 backward writes each input gradient once (maxpool2x2_backward) and equals the scatter (maxpool2d_backward) bit for bit', () => {
  for (const s of ['2,7,9,5 p=2,2 s=2,2 valid', '1,8,8,4 p=2,2 s=2,2 valid', '3,5,4,13 p=2,2 s=2,2 valid', '1,2,2,1 p=2,2 s=2,2 valid']) {
    const c = parse(s);
    it(`${caseName('max', c)}: -0 and NaN gradients, all -Infinity windows (no winner), the uncovered row and column zeroed`, () => {
      const { x, dy } = randomCase(c, 77);
      x.forEach((_, i) => i % 11 === 0 && (x[i] = -Infinity));
      // The first window of each sample all -Infinity.
      for (let n = 0; n < c.N; n++)
        for (const at of [0, 1, c.W, c.W + 1]) x.fill(-Infinity, (n * c.H * c.W + at) * c.C, (n * c.H * c.W + at + 1) * c.C);
      dy.forEach((_, i) => (i % 3 === 0 ? (dy[i] = -0) : i % 17 === 5 ? (dy[i] = NaN) : 0));
      const g = geometry(c);
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const px = ar.f32('x', x),
            pdy = ar.f32('dy', dy),
            py = ar.out('y', dy.length),
            parg = ar.out('arg', dy.length),
            once = ar.out('dx (once)', x.length),
            scatter = ar.out('dx (scatter)', x.length);
          ar.run('forward', [py, parg], () => maxPoolForward(be, px, py, parg, g, c.N));
          ar.run('backward, once', [once], () => be.k.maxpool2x2_backward(pdy, parg, once, c.N, c.H, c.W, c.C, g.OH, g.OW));
          ar.run('backward, scatter', [scatter], () => be.k.maxpool2d_backward(pdy, parg, scatter, dy.length, x.length));
          expect(ar.readI32(parg).includes(-1), 'a window without a winner').toBe(true);
          expectBitwise(ar.read(once), ar.read(scatter), `${name} ${s}`);
        });
      }
    });
  }
});

describe('pooling kernels never read or write past their buffers (each buffer flush against the end of memory)', () => {
  for (const s of ['1,5,5,3 p=3,3 s=2,2 same', '1,3,4,5 p=2,2 s=1,1 valid']) {
    const c = parse(s);
    it(`${caseName('max', c)} and avgpool: x, dy, y, arg, dx each last in memory`, () => {
      const { x, dy } = randomCase(c, 46);
      const mref = maxPoolRef(c, x, dy),
        aref = avgPoolRef(c, x, dy);
      const g = geometry(c),
        ys = dy.length;
      for (const { name, be } of vs) {
        for (const last of ['x', 'dy', 'y', 'arg', 'dx'] as const) {
          withArena(be, (ar) => {
            const sizes = { x, dy, y: ys, arg: ys, dx: x.length };
            const p = {} as Record<keyof typeof sizes, number>;
            for (const k of Object.keys(sizes) as (keyof typeof sizes)[]) {
              if (k === last) continue;
              const v = sizes[k];
              p[k] = typeof v === 'number' ? ar.out(k, v) : ar.f32(k, v);
            }
            p[last] = ar.atEnd(last, sizes[last]);
            maxPoolForward(be, p.x, p.y, p.arg, g, c.N);
            maxPoolBackward(be, p.dy, p.arg, p.dx, g, c.N);
            expectClose(ar.read(p.y), mref.y, exact, `${name} ${last} last: max forward`);
            expectClose(ar.read(p.dx), mref.dx, avgTol(c), `${name} ${last} last: max backward`);
            maxPoolForward(be, p.x, p.y, 0, g, c.N);
            expectClose(ar.read(p.y), mref.y, exact, `${name} ${last} last: max inference`);
            avgPoolForward(be, p.x, p.y, g, c.N);
            avgPoolBackward(be, p.dy, p.dx, g, c.N);
            expectClose(ar.read(p.y), aref.y, avgTol(c), `${name} ${last} last: avg forward`);
            expectClose(ar.read(p.dx), aref.dx, avgTol(c), `${name} ${last} last: avg backward`);
          });
        }
      }
    });
  }
});
