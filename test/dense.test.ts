// Dense forward (+bias, +relu) and backward (dx, dw, db, each optional by flags): every variant against
// the float64 reference on batch sizes around the GEMM paths (N < 4: dot products for dx; N < 8:
// direct product for y; N >= 8: packed), odd and prime widths, and widths of 1.
//
// Plain SIMD vs scalar sibling: bit for bit for y, dw and db. dx = dy w^T bit for bit when N >= 4
// (packed GEMM) or OUT < 4; with N < 4 and OUT >= 4 it is gemm_nt's dot-product path, which reduces
// four lanes as a tree, so there the two agree to float32 rounding (checked with a tolerance).
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_NEED_DX, FLAG_RELU, FLAG_SKIP_DW } from '../src/backend.js';
import {
  denseBackward,
  denseBackwardInputCached,
  denseForward,
  denseForwardCached,
  densePackedCacheFloats,
  denseScratchFloats,
  denseTrainingCacheFloats,
} from '../src/kernels/dense.js';
import { Dense, Sequential, SGD, tensor } from '../src/index.js';
import { denseBackwardRef, denseForwardRef, mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, sumTol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const cases: [number, number, number][] = [
  [1, 1, 1],
  [1, 13, 7],
  [2, 8, 8],
  [3, 33, 17],
  [3, 5, 13],
  [2, 9, 3],
  [4, 7, 3],
  [5, 6, 1],
  [7, 10, 33],
  [8, 64, 8],
  [9, 1, 10],
  [13, 17, 13],
  [17, 31, 29],
  [64, 100, 10],
  [2, 1352, 10],
  [3, 4, 9],
  [11, 3, 16],
  [1, 100, 1],
];
const FWD = [FLAG_BIAS | FLAG_RELU, FLAG_BIAS, FLAG_RELU, 0];
const BWD = [FLAG_BIAS | FLAG_NEED_DX, FLAG_NEED_DX, FLAG_BIAS, 0, FLAG_BIAS | FLAG_NEED_DX];

const flagName = (f: number, fwd: boolean) =>
  (fwd ? [f & FLAG_BIAS && 'bias', f & FLAG_RELU && 'relu'] : [f & FLAG_NEED_DX && 'dx', 'dw', f & FLAG_BIAS && 'db'])
    .filter(Boolean)
    .join('+') || 'plain';

type Which = 'x' | 'w' | 'b' | 'dy' | 'y' | 'dx' | 'dw' | 'db' | 'scratch';

function caseData(N: number, IN: number, OUT: number, seed: number) {
  const rnd = mulberry32(seed);
  return { x: randomArray(N * IN, rnd), w: randomArray(IN * OUT, rnd), b: randomArray(OUT, rnd), dy: randomArray(N * OUT, rnd) };
}
type Data = ReturnType<typeof caseData>;

function runDense(ar: Arena, N: number, IN: number, OUT: number, d: Data, fwd: number, bwd: number, last: Which | null = null) {
  const sizes: Record<Which, number | Float32Array> = {
    x: d.x,
    w: d.w,
    b: d.b,
    dy: d.dy,
    y: N * OUT,
    dx: N * IN,
    dw: IN * OUT,
    db: OUT,
    scratch: denseScratchFloats(IN, OUT),
  };
  const p = ar.place(sizes, last);
  // Null pointers for what the flags say is absent: the kernels must not touch them.
  const bias = fwd & FLAG_BIAS ? p.b : 0,
    dx = bwd & FLAG_NEED_DX ? p.dx : 0,
    db = bwd & FLAG_BIAS ? p.db : 0;
  const label = `dense x=[${N},${IN}] w=[${IN},${OUT}]`;
  ar.run(`${label} forward`, [p.y, p.scratch], () => denseForward(ar.be, p.x, p.w, bias, p.y, p.scratch, N, IN, OUT, fwd));
  ar.refill(p.scratch);
  ar.run(`${label} backward`, [p.dw, p.scratch, ...(dx ? [dx] : []), ...(db ? [db] : [])], () =>
    denseBackward(ar.be, p.x, p.w, p.dy, dx, p.dw, db, p.scratch, N, IN, OUT, bwd),
  );
  return { y: ar.read(p.y), dx: dx ? ar.read(dx) : null, dw: ar.read(p.dw), db: db ? ar.read(db) : null };
}

describe('dense kernels vs float64 reference', () => {
  cases.forEach(([N, IN, OUT], idx) => {
    const fwd = FWD[idx % FWD.length],
      bwd = BWD[idx % BWD.length];
    it(`dense x=[${N},${IN}] w=[${IN},${OUT}] forward ${flagName(fwd, true)}, backward ${flagName(bwd, false)}`, () => {
      const d = caseData(N, IN, OUT, 200 + idx);
      const y = denseForwardRef(d.x, d.w, fwd & FLAG_BIAS ? d.b : null, N, IN, OUT, (fwd & FLAG_RELU) !== 0);
      const g = denseBackwardRef(d.x, d.w, d.dy, N, IN, OUT);
      const out: Record<string, ReturnType<typeof runDense>> = {};
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => runDense(ar, N, IN, OUT, d, fwd, bwd));
        expectClose(r.y, y, { ...sumTol(IN), shape: [N, OUT] }, `${name} forward`);
        if (r.dx) expectClose(r.dx, g.dx, { ...sumTol(OUT), shape: [N, IN] }, `${name} grad input`);
        expectClose(r.dw, g.dw, { ...sumTol(N), shape: [IN, OUT] }, `${name} grad weights`);
        if (r.db) expectClose(r.db, g.db, sumTol(N), `${name} grad bias`);
        out[name] = r;
      }
      const s = out.simd,
        q = out.scalar;
      expectBitwise(s.y, q.y, 'simd vs scalar forward');
      expectBitwise(s.dw, q.dw, 'simd vs scalar grad weights');
      if (s.db) expectBitwise(s.db, q.db!, 'simd vs scalar grad bias');
      if (s.dx) {
        if (N < 4 && OUT >= 4)
          expectClose(s.dx, q.dx!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(OUT) }, 'simd (gemm_nt dot path) vs scalar grad input');
        else expectBitwise(s.dx, q.dx!, 'simd vs scalar grad input');
      }
    });
  });
});

describe('dense kernels never read or write past their buffers (each buffer flush against the end of memory)', () => {
  const edge: [number, number, number][] = [
    [3, 5, 13],
    [9, 7, 3],
    [4, 13, 9],
  ];
  const all: Which[] = ['x', 'w', 'b', 'dy', 'y', 'dx', 'dw', 'db', 'scratch'];
  edge.forEach(([N, IN, OUT], idx) => {
    it(`dense x=[${N},${IN}] w=[${IN},${OUT}]: every buffer last in memory`, () => {
      const d = caseData(N, IN, OUT, 400 + idx);
      const y = denseForwardRef(d.x, d.w, d.b, N, IN, OUT, true);
      const g = denseBackwardRef(d.x, d.w, d.dy, N, IN, OUT);
      for (const { name, be } of vs) {
        for (const last of all) {
          const r = withArena(be, (ar) => runDense(ar, N, IN, OUT, d, FLAG_BIAS | FLAG_RELU, FLAG_BIAS | FLAG_NEED_DX, last));
          expectClose(r.y, y, sumTol(IN), `${name} ${last} last: forward`);
          expectClose(r.dx!, g.dx, sumTol(OUT), `${name} ${last} last: grad input`);
          expectClose(r.dw, g.dw, sumTol(N), `${name} ${last} last: grad weights`);
          expectClose(r.db!, g.db, sumTol(N), `${name} ${last} last: grad bias`);
        }
      }
    });
  });
});

describe('dense backward of a frozen layer (FLAG_SKIP_DW): only dx is written', () => {
  for (const [N, IN, OUT] of [
    [1, 7, 3],
    [5, 13, 9],
    [8, 33, 17],
  ] as const) {
    it(`dense x=[${N},${IN}] w=[${IN},${OUT}] skip dw: dx as the reference, dw and db untouched`, () => {
      const d = caseData(N, IN, OUT, 500 + N);
      const g = denseBackwardRef(d.x, d.w, d.dy, N, IN, OUT);
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const px = ar.f32('x', d.x),
            pw = ar.f32('w', d.w),
            pdy = ar.f32('dy', d.dy);
          const pdx = ar.out('dx', N * IN),
            pdw = ar.out('dw', IN * OUT),
            pdb = ar.out('db', OUT),
            ps = ar.out('scratch', Math.ceil(IN / 8) * 8 * OUT);
          // dw and db are not declared writable: the arena fails the call if either changes.
          ar.run(`${name} dense_backward skip dw`, [pdx, ps], () =>
            be.k.dense_backward(px, pw, pdy, pdx, pdw, pdb, ps, N, IN, OUT, FLAG_BIAS | FLAG_NEED_DX | FLAG_SKIP_DW),
          );
          expectClose(ar.read(pdx), g.dx, { ...sumTol(OUT), shape: [N, IN] }, `${name} grad input`);
        });
      }
    });
  }
});

describe('dense forward with the kernel packed once (inference cache) equals the per-call packing bit for bit', () => {
  const shapes: [number, number, number][] = [
    [8, 5, 13],
    [13, 17, 8],
    [17, 31, 29],
    [64, 100, 10],
    [11, 3, 1],
    [5, 7, 9],
  ];
  shapes.forEach(([N, IN, OUT], idx) => {
    it(`dense x=[${N},${IN}] w=[${IN},${OUT}] bias+relu: cached panels vs dense_forward, then new weights repack`, () => {
      const d = caseData(N, IN, OUT, 600 + idx),
        w2 = d.w.map((v) => -0.5 * v);
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const p = ar.place({ x: d.x, w: d.w, b: d.b, y: N * OUT, y2: N * OUT, scratch: denseScratchFloats(IN, OUT) }, null);
          const cache = ar.place({ cache: densePackedCacheFloats(IN, OUT) }, 'cache').cache;
          be.i32.fill(0, cache / 4, cache / 4 + 16); // a planned cache starts zeroed
          const label = `dense x=[${N},${IN}] w=[${IN},${OUT}]`;
          const flags = FLAG_BIAS | FLAG_RELU;
          for (const [version, w] of [
            [3, d.w],
            [3, d.w],
            [4, w2],
          ] as const) {
            ar.refill(p.w, w);
            ar.run(`${label} forward`, [p.y, p.scratch], () => denseForward(be, p.x, p.w, p.b, p.y, p.scratch, N, IN, OUT, flags));
            ar.run(`${label} cached forward v${version}`, [p.y2, cache], () =>
              denseForwardCached(be, p.x, p.w, p.b, p.y2, 0, N, IN, OUT, flags, cache, version),
            );
            expectBitwise(ar.read(p.y2), ar.read(p.y), `${name} cached vs per-call packing, weights version ${version}`);
          }
          // The same version again does not repack: stale panels give the stale (first weights') result.
          ar.refill(p.w, d.w);
          ar.run(`${label} cached forward v4 again`, [p.y2, cache], () =>
            denseForwardCached(be, p.x, p.w, p.b, p.y2, 0, N, IN, OUT, flags, cache, 4),
          );
          ar.run(`${label} forward`, [p.y, p.scratch], () => denseForward(be, p.x, p.w, p.b, p.y, p.scratch, N, IN, OUT, flags));
          expect(Buffer.from(ar.read(p.y2).buffer).equals(Buffer.from(ar.read(p.y).buffer)), `${name}: version 4 kept its panels`).toBe(
            N < 8,
          );
        });
      }
    });
  });
});

describe('dense_pack and dense_pack_t lay out the panels the packed GEMM reads (plain TS layout)', () => {
  // Widths around the SIMD paths: two panels per pass (16 columns), one full panel, a zero-padded last
  // panel; rows around the 4-row transposes of dense_pack_t.
  const shapes: [number, number][] = [
    [1, 1],
    [3, 7],
    [5, 8],
    [13, 16],
    [7, 24],
    [17, 37],
    [31, 9],
    [4, 131],
    [64, 33],
  ];
  // Panel p of B[K, N] holds B[k, 8p + r] at [k][r], zero past N.
  const panels = (b: Float32Array, K: number, N: number) => {
    const out = new Float32Array(Math.ceil(N / 8) * 8 * K);
    for (let p = 0; p < N; p += 8)
      for (let k = 0; k < K; k++) for (let r = 0; r < 8 && p + r < N; r++) out[p * K + k * 8 + r] = b[k * N + p + r];
    return out;
  };
  const transpose = (w: Float32Array, IN: number, OUT: number) =>
    Float32Array.from({ length: IN * OUT }, (_, i) => w[(i % IN) * OUT + Math.floor(i / IN)]);
  shapes.forEach(([IN, OUT], idx) => {
    it(`dense_pack w=[${IN},${OUT}] and dense_pack_t w=[${IN},${OUT}] -> w^T panels`, () => {
      const w = randomArray(IN * OUT, mulberry32(900 + idx));
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const floats = Math.ceil(Math.max(IN, OUT) / 8) * 8 * Math.max(IN, OUT);
          const p = ar.place({ w, packed: floats, packedT: floats }, null);
          ar.refill(p.packed, new Float32Array(floats).fill(NaN));
          ar.refill(p.packedT, new Float32Array(floats).fill(NaN));
          ar.run(`dense_pack [${IN},${OUT}]`, [p.packed], () => be.k.dense_pack(p.w, p.packed, IN, OUT));
          ar.run(`dense_pack_t [${IN},${OUT}]`, [p.packedT], () => be.k.dense_pack_t(p.w, p.packedT, IN, OUT));
          const want = panels(w, IN, OUT),
            wantT = panels(transpose(w, IN, OUT), OUT, IN);
          expectBitwise(ar.read(p.packed).subarray(0, want.length), want, `${name} dense_pack`);
          expectBitwise(ar.read(p.packedT).subarray(0, wantT.length), wantT, `${name} dense_pack_t`);
        });
      }
    });
  });
});

describe("dense input gradient with w^T packed once (training chunks) equals dense_backward's dx bit for bit", () => {
  const shapes: [number, number, number][] = [
    [4, 5, 13],
    [13, 17, 8],
    [16, 37, 11],
    [5, 3, 1],
    [7, 9, 29],
  ];
  shapes.forEach(([N, IN, OUT], idx) => {
    it(`dense dy=[${N},${OUT}] w=[${IN},${OUT}] -> dx=[${N},${IN}]: packed-transpose cache vs dense_backward, then new weights repack`, () => {
      const d = caseData(N, IN, OUT, 700 + idx),
        w2 = d.w.map((v) => 0.75 * v - 0.1);
      for (const { name, be } of vs) {
        withArena(be, (ar) => {
          const p = ar.place(
            { x: d.x, w: d.w, dy: d.dy, dx: N * IN, dx2: N * IN, dw: IN * OUT, scratch: denseScratchFloats(IN, OUT) },
            null,
          );
          const cache = ar.place({ cache: denseTrainingCacheFloats(IN, OUT) }, 'cache').cache;
          be.i32.fill(0, cache / 4, cache / 4 + 16); // a planned cache starts zeroed
          const label = `dense dy=[${N},${OUT}] w=[${IN},${OUT}]`;
          for (const [version, w] of [
            [7, d.w],
            [7, d.w],
            [8, w2],
          ] as const) {
            ar.refill(p.w, w);
            ar.run(`${label} backward dx`, [p.dx, p.dw, p.scratch], () =>
              denseBackward(be, p.x, p.w, p.dy, p.dx, p.dw, 0, p.scratch, N, IN, OUT, FLAG_NEED_DX),
            );
            ar.run(`${label} cached dx v${version}`, [p.dx2, cache], () =>
              denseBackwardInputCached(be, p.dy, p.w, p.dx2, N, IN, OUT, cache, version),
            );
            expectBitwise(ar.read(p.dx2), ar.read(p.dx), `${name} packed w^T vs dense_backward, weights version ${version}`);
          }
          // The same version again does not repack: the stale panels give the version-7 weights' dx.
          ar.refill(p.w, d.w);
          ar.run(`${label} cached dx v8 again`, [p.dx2, cache], () => denseBackwardInputCached(be, p.dy, p.w, p.dx2, N, IN, OUT, cache, 8));
          ar.run(`${label} backward dx`, [p.dx, p.dw, p.scratch], () =>
            denseBackward(be, p.x, p.w, p.dy, p.dx, p.dw, 0, p.scratch, N, IN, OUT, FLAG_NEED_DX),
          );
          expect(Buffer.from(ar.read(p.dx2).buffer).equals(Buffer.from(ar.read(p.dx).buffer)), `${name}: version 8 kept its panels`).toBe(
            false,
          );
        });
      }
    });
  });
});

describe('Dense layer inference packs its kernel once per weights version', () => {
  it('Dense 37 -> 13 relu, predict x=[16,37] (batches of 16 and 5): setWeights and a training step are seen by the next predict', () => {
    const [N, IN, OUT] = [16, 37, 13];
    const d = caseData(N, IN, OUT, 700);
    const m = new Sequential([Dense({ units: OUT, activation: 'relu', inputShape: [IN] })], { seed: 3 });
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'meanSquaredError' });
    const x = tensor(Float32Array.from(d.x), [N, IN]);
    const check = (what: string) => {
      const [w, b] = m.getWeights();
      const ref = denseForwardRef(d.x, w, b, N, IN, OUT, true);
      for (const batchSize of [16, 5])
        expectClose(m.predict(x, { batchSize }).data, ref, { ...sumTol(IN), shape: [N, OUT] }, `${what}, batches of ${batchSize}`);
    };
    check('initial weights');
    check('initial weights again (cached panels)');
    m.setWeights([d.w, d.b]);
    check('after setWeights');
    m.trainOnBatch(x, tensor(new Float32Array(N * OUT).fill(0.25), [N, OUT]));
    check('after a training step');
    m.dispose();
  });
});
