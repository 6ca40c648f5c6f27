// Batch-normalization kernels against the float64 references: the batch's moments (including data far
// from zero, where a naive one-pass variance cancels), the per-channel scale, the normalisation with and
// without a fused ReLU, TF.js's moving-average update (float32, exact), and the training-mode backward
// (dgamma, dbeta, dx). Rows around the 64-row partial-sum block, channel counts around the 4- and
// 16-lane blocks. Plain SIMD == scalar bit for bit (channels are independent lanes and both sum in the
// same order); every call is guarded against writes outside its outputs.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_RELU } from '../src/backend.js';
import { batchNormBackwardRef, momentsRef, normalizeRef } from './batchnorm-reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, type Variant, withArena } from './helpers.js';
import { mulberry32, randomArray } from './reference.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const EPS = 1e-3;

interface Case {
  rows: number;
  C: number;
  /** Per-channel offsets up to this magnitude: a mean far from zero. */
  offset: number;
}
const cases: Case[] = [
  { rows: 1, C: 1, offset: 0 },
  { rows: 1, C: 7, offset: 0 },
  { rows: 2, C: 3, offset: 0.5 },
  { rows: 7, C: 17, offset: 0 },
  { rows: 63, C: 5, offset: 2 },
  { rows: 65, C: 16, offset: 0 },
  { rows: 130, C: 37, offset: 3 },
  { rows: 3 * 5 * 7, C: 20, offset: 0 },
  { rows: 200, C: 64, offset: 1000 },
  { rows: 129, C: 33, offset: 0.1 },
];
const name = (c: Case) => `x=[${c.rows},${c.C}]${c.offset ? ` offset ${c.offset}` : ''}`;

function data(c: Case, seed: number) {
  const rnd = mulberry32(seed);
  const off = randomArray(c.C, rnd, c.offset);
  const x = randomArray(c.rows * c.C, rnd, 2).map((v, i) => v + off[i % c.C]);
  return {
    x,
    dy: randomArray(c.rows * c.C, rnd),
    gamma: randomArray(c.C, rnd).map((v) => v + 1.5),
    beta: randomArray(c.C, rnd),
  };
}

interface Out {
  mean: Float32Array;
  variance: Float32Array;
  scale: Float32Array;
  y: Float32Array;
  yRelu: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

function run(ar: Arena, c: Case, d: ReturnType<typeof data>): Out {
  const { rows, C } = c,
    k = ar.be.k,
    n = rows * C;
  const px = ar.f32('x', d.x),
    pdy = ar.f32('dy', d.dy),
    pg = ar.f32('gamma', d.gamma),
    pb = ar.f32('beta', d.beta);
  const mean = ar.out('mean', C),
    variance = ar.out('variance', C),
    scale = ar.out('scale', C),
    y = ar.out('y', n),
    yRelu = ar.out('y relu', n);
  const dx = ar.out('dx', n),
    dgamma = ar.out('dgamma', C),
    dbeta = ar.out('dbeta', C),
    scratch = ar.out('scratch', 7 * C);
  ar.run(`${name(c)} moments`, [mean, variance, scratch], () => k.batchnorm_moments(px, rows, C, mean, variance, scratch));
  ar.run(`${name(c)} scale`, [scale], () => k.batchnorm_scale(pg, variance, C, EPS, scale));
  ar.run(`${name(c)} apply`, [y], () => k.batchnorm_apply(px, y, rows, C, mean, scale, pb, 0));
  ar.run(`${name(c)} apply relu`, [yRelu], () => k.batchnorm_apply(px, yRelu, rows, C, mean, scale, pb, FLAG_RELU));
  ar.run(`${name(c)} backward`, [dx, dgamma, dbeta, scratch], () =>
    k.batchnorm_backward(px, pdy, dx, dgamma, dbeta, rows, C, mean, variance, pg, EPS, scratch),
  );
  return {
    mean: ar.read(mean),
    variance: ar.read(variance),
    scale: ar.read(scale),
    y: ar.read(y),
    yRelu: ar.read(yRelu),
    dx: ar.read(dx),
    dgamma: ar.read(dgamma),
    dbeta: ar.read(dbeta),
  };
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

describe('batchnorm kernels vs float64 reference', () => {
  cases.forEach((c, ci) => {
    it(`batchnorm ${name(c)}: moments, scale, apply (+relu), backward`, () => {
      const d = data(c, 10 + ci);
      const ref = momentsRef(d.x, c.rows, c.C);
      const back = batchNormBackwardRef(d.x, d.dy, c.rows, c.C, d.gamma, EPS);
      const outs = vs.map((v) => ({ v, o: withArena(v.be, (ar) => run(ar, c, d)) }));
      for (const { v, o } of outs) {
        const tag = `[${v.name}] ${name(c)}`;
        // Mean and variance to 1e-6 and 1e-5 of the data's scale (2 plus the offset): float32 partial sums of 64 rows.
        expectClose(o.mean, ref.mean, { rtol: 1e-6, atol: 1e-6 * (2 + c.offset) }, `${tag} mean`);
        expectClose(o.variance, ref.variance, { rtol: 1e-5, atol: 1e-6 * (2 + c.offset) ** 2 }, `${tag} variance`);
        const scaleRef = Float64Array.from(o.variance, (vv, j) => d.gamma[j] / Math.sqrt(vv + EPS));
        expectClose(o.scale, scaleRef, { rtol: 1e-7, atol: 0 }, `${tag} scale`);
        // The normalisation with the kernel's own statistics: only its own rounding counts.
        const yRef = Float64Array.from(d.x, (xv, i) => (xv - o.mean[i % c.C]) * o.scale[i % c.C] + d.beta[i % c.C]);
        expectClose(o.y, yRef, { rtol: 1e-6, atol: 1e-6 * maxAbs(yRef) }, `${tag} y`);
        expectClose(
          o.yRelu,
          yRef.map((t) => Math.max(t, 0)),
          { rtol: 1e-6, atol: 1e-6 * maxAbs(yRef) },
          `${tag} y relu`,
        );
        // And against the definition with float64 statistics.
        const yDef = normalizeRef(d.x, c.rows, c.C, ref.mean, ref.variance, d.gamma, d.beta, EPS);
        expectClose(o.y, yDef, { rtol: 1e-4, atol: 1e-4 * maxAbs(yDef) }, `${tag} y vs definition`);
        expectClose(o.dbeta, back.dbeta, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(c.rows) }, `${tag} dbeta`);
        expectClose(o.dgamma, back.dgamma, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.rows) }, `${tag} dgamma`);
        expectClose(o.dx, back.dx, { rtol: 1e-3, atol: 1e-4 * maxAbs(back.dx) }, `${tag} dx`);
      }
      const simd = outs.find((t) => t.v.name === 'simd')!.o,
        scalar = outs.find((t) => t.v.name === 'scalar')!.o;
      for (const k of Object.keys(simd) as (keyof Out)[]) expectBitwise(simd[k], scalar[k], `${name(c)} ${k}: SIMD vs scalar`);
    });
  });

  it('batchnorm x=[64,7] offset 1e4: the variance of data far from zero keeps its digits (one pass, shifted sums)', () => {
    const rnd = mulberry32(3),
      rows = 64,
      C = 7;
    const x = Float32Array.from({ length: rows * C }, () => 1e4 + Math.round((rnd() * 2 - 1) * 256) / 256);
    const ref = momentsRef(x, rows, C);
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const px = ar.f32('x', x),
          mean = ar.out('mean', C),
          variance = ar.out('variance', C),
          scratch = ar.out('scratch', 6 * C);
        ar.run('moments', [mean, variance, scratch], () => v.be.k.batchnorm_moments(px, rows, C, mean, variance, scratch));
        expectClose(ar.read(variance), ref.variance, { rtol: 1e-5, atol: 0 }, `[${v.name}] variance`);
        expectClose(ar.read(mean), ref.mean, { rtol: 1e-7, atol: 0 }, `[${v.name}] mean`);
      });
    }
  });

  it('batchnorm x=[1,9]: one row has variance 0 and normalises to beta; dx is 0', () => {
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const C = 9,
          x = randomArray(C, mulberry32(4), 3);
        const px = ar.f32('x', x),
          pdy = ar.f32('dy', randomArray(C, mulberry32(5))),
          g = ar.f32('gamma', new Float32Array(C).fill(2)),
          b = ar.f32('beta', randomArray(C, mulberry32(6)));
        const mean = ar.out('mean', C),
          variance = ar.out('variance', C),
          scale = ar.out('scale', C),
          y = ar.out('y', C),
          dx = ar.out('dx', C),
          scratch = ar.out('scratch', 7 * C);
        ar.run('moments', [mean, variance, scratch], () => v.be.k.batchnorm_moments(px, 1, C, mean, variance, scratch));
        ar.run('scale', [scale], () => v.be.k.batchnorm_scale(g, variance, C, EPS, scale));
        ar.run('apply', [y], () => v.be.k.batchnorm_apply(px, y, 1, C, mean, scale, b, 0));
        ar.run('backward (no dgamma, dbeta)', [dx, scratch], () =>
          v.be.k.batchnorm_backward(px, pdy, dx, 0, 0, 1, C, mean, variance, g, EPS, scratch),
        );
        expect([...ar.read(variance)]).toEqual(new Array(C).fill(0));
        expectBitwise(ar.read(y), ar.read(b), `[${v.name}] y = beta`);
        expect(maxAbs(ar.read(dx))).toBe(0);
      });
    }
  });

  it('batchnorm scale without gamma (scale: false) is 1 / sqrt(variance + eps)', () => {
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const variance = randomArray(11, mulberry32(7)).map(Math.abs);
        const pv = ar.f32('variance', variance),
          scale = ar.out('scale', 11);
        ar.run('scale', [scale], () => v.be.k.batchnorm_scale(0, pv, 11, EPS, scale));
        expectClose(
          ar.read(scale),
          Float64Array.from(variance, (t) => 1 / Math.sqrt(t + EPS)),
          { rtol: 1e-7, atol: 0 },
          v.name,
        );
      });
    }
  });

  it("batchnorm moving update C=13: TF.js's float32 moving - (moving - batch) * (1 - momentum), exactly", () => {
    const rnd = mulberry32(8),
      C = 13;
    const mm = randomArray(C, rnd),
      mv = randomArray(C, rnd).map((t) => Math.abs(t) + 0.5),
      bm = randomArray(C, rnd),
      bv = randomArray(C, rnd).map(Math.abs);
    const decay = Math.fround(1 - 0.99);
    const f = Math.fround;
    const expMean = Float32Array.from(mm, (m, i) => f(m - f(f(m - bm[i]) * decay)));
    const expVar = Float32Array.from(mv, (m, i) => f(m - f(f(m - bv[i]) * decay)));
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const pm = ar.f32('moving mean', mm),
          pv = ar.f32('moving variance', mv),
          pbm = ar.f32('mean', bm),
          pbv = ar.f32('variance', bv);
        ar.run('moving update', [pm, pv], () => v.be.k.batchnorm_moving_update(pm, pv, pbm, pbv, C, decay));
        expectBitwise(ar.read(pm), expMean, `[${v.name}] moving mean`);
        expectBitwise(ar.read(pv), expVar, `[${v.name}] moving variance`);
      });
    }
  });

  it('batchnorm x=[37,19] at the very end of memory: no read or write past the last element', () => {
    const c = { rows: 37, C: 19, offset: 1 },
      d = data(c, 77),
      n = c.rows * c.C;
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const mean = ar.out('mean', c.C),
          variance = ar.out('variance', c.C),
          scale = ar.out('scale', c.C),
          pg = ar.f32('gamma', d.gamma),
          pb = ar.f32('beta', d.beta),
          scratch = ar.out('scratch', 7 * c.C),
          pdy = ar.f32('dy', d.dy);
        const px = ar.atEnd('x', d.x);
        ar.run('moments', [mean, variance, scratch], () => v.be.k.batchnorm_moments(px, c.rows, c.C, mean, variance, scratch));
        ar.run('scale', [scale], () => v.be.k.batchnorm_scale(pg, variance, c.C, EPS, scale));
        const dx = ar.out('dx', n);
        ar.run('backward', [dx, scratch], () =>
          v.be.k.batchnorm_backward(px, pdy, dx, 0, 0, c.rows, c.C, mean, variance, pg, EPS, scratch),
        );
        ar.run('apply in place', [px], () => v.be.k.batchnorm_apply(px, px, c.rows, c.C, mean, scale, pb, FLAG_RELU));
        const ref = normalizeRef(
          d.x,
          c.rows,
          c.C,
          momentsRef(d.x, c.rows, c.C).mean,
          momentsRef(d.x, c.rows, c.C).variance,
          d.gamma,
          d.beta,
          EPS,
          true,
        );
        expectClose(v.be.f32.slice(px / 4, px / 4 + n), ref, { rtol: 1e-4, atol: 1e-4 }, `[${v.name}] in place at the end of memory`);
      });
    }
  });
});

// A batch split into chunks (src/threads/chunked.ts): each chunk's partial sums, merged in chunk order on
// one thread, then each chunk's normalisation and dx from the merged result: the whole batch's statistics.
describe('batchnorm over a batch split into chunks vs float64 reference', () => {
  const split: { chunks: number[]; C: number; offset: number }[] = [
    { chunks: [144, 144, 45], C: 7, offset: 1000 }, // 16, 16 and 5 samples of 3x3 pixels
    { chunks: [64, 64, 1], C: 16, offset: 0 },
    { chunks: [3, 130, 17], C: 37, offset: 3 },
    { chunks: [1, 1], C: 5, offset: 0.5 },
    { chunks: [13, 13, 13, 13, 2], C: 1, offset: 0 },
  ];
  for (const s of split) {
    const rows = s.chunks.reduce((a, b) => a + b, 0);
    const tag = `x=[${rows},${s.C}] in chunks of ${s.chunks.join('/')} rows${s.offset ? ` offset ${s.offset}` : ''}`;
    it(`batchnorm ${tag}: partial moments, merge, backward sums, merge, dx`, () => {
      const c = { rows, C: s.C, offset: s.offset },
        C = s.C,
        d = data(c, rows + C);
      const ref = momentsRef(d.x, rows, C);
      const back = batchNormBackwardRef(d.x, d.dy, rows, C, d.gamma, EPS);
      const outs = vs.map((v) => {
        const o = withArena(v.be, (ar) => {
          const k = v.be.k,
            px = ar.f32('x', d.x),
            pdy = ar.f32('dy', d.dy),
            pg = ar.f32('gamma', d.gamma);
          const mean = ar.out('mean', C),
            variance = ar.out('variance', C),
            kk = ar.out('k', 3 * C),
            dx = ar.out('dx', rows * C),
            scratch = ar.out('scratch', 6 * C),
            dgamma = ar.out('dgamma', s.chunks.length * C),
            dbeta = ar.out('dbeta', s.chunks.length * C);
          const parts = s.chunks.map((_, i) => ar.out(`part ${i}`, 4 * C));
          const starts = s.chunks.map((_, i) => s.chunks.slice(0, i).reduce((a, b) => a + b, 0) * C * 4);
          s.chunks.forEach((r, i) =>
            ar.run(`partial moments ${i}`, [parts[i], scratch], () => k.batchnorm_partial_moments(px + starts[i], r, C, parts[i], scratch)),
          );
          let before = 0;
          s.chunks.forEach((r, i) => {
            ar.run(`merge moments ${i}`, [parts[0], mean, variance], () =>
              k.batchnorm_merge_moments(parts[0], parts[i], before, r, C, mean, variance),
            );
            before += r;
          });
          s.chunks.forEach((r, i) =>
            ar.run(`backward sums ${i}`, [parts[i], scratch, dgamma, dbeta], () =>
              k.batchnorm_backward_sums(
                px + starts[i],
                pdy + starts[i],
                dgamma + i * C * 4,
                dbeta + i * C * 4,
                r,
                C,
                mean,
                variance,
                EPS,
                parts[i],
                scratch,
              ),
            ),
          );
          before = 0;
          s.chunks.forEach((r, i) => {
            ar.run(`merge sums ${i}`, [parts[0], kk], () =>
              k.batchnorm_merge_sums(parts[0], parts[i], before, r, C, variance, pg, EPS, kk),
            );
            before += r;
          });
          s.chunks.forEach((r, i) =>
            ar.run(`dx ${i}`, [dx], () => k.batchnorm_dx(px + starts[i], pdy + starts[i], dx + starts[i], r, C, mean, kk)),
          );
          return { mean: ar.read(mean), variance: ar.read(variance), dx: ar.read(dx), dgamma: ar.read(dgamma), dbeta: ar.read(dbeta) };
        });
        return { v, o };
      });
      /** The chunks' dgamma or dbeta added up, as the gradient reduction does. */
      const total = (a: Float32Array) => Float64Array.from({ length: C }, (_, j) => s.chunks.reduce((t, _r, i) => t + a[i * C + j], 0));
      for (const { v, o } of outs) {
        const t = `[${v.name}] ${tag}`;
        expectClose(o.mean, ref.mean, { rtol: 1e-6, atol: 1e-6 * (2 + s.offset) }, `${t} mean`);
        expectClose(o.variance, ref.variance, { rtol: 1e-5, atol: 1e-6 * (2 + s.offset) ** 2 }, `${t} variance`);
        expectClose(total(o.dbeta), back.dbeta, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(rows) }, `${t} dbeta`);
        expectClose(total(o.dgamma), back.dgamma, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(rows) }, `${t} dgamma`);
        expectClose(o.dx, back.dx, { rtol: 1e-3, atol: 1e-4 * maxAbs(back.dx) }, `${t} dx`);
      }
      const simd = outs.find((t) => t.v.name === 'simd')!.o,
        scalar = outs.find((t) => t.v.name === 'scalar')!.o;
      for (const key of Object.keys(simd) as (keyof typeof simd)[]) expectBitwise(simd[key], scalar[key], `${tag} ${key}: SIMD vs scalar`);
    });
  }
});
