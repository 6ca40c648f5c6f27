// GEMM kernels (gemm_nn, gemm_nt, gemm_tn): every variant against the float64 reference on sizes
// below, at and above the 4x8 register tile, with tight and padded leading dimensions, overwrite and
// accumulate modes; canaries behind every buffer and a whole-memory check after each call.
//
// Paths covered: gemm_nn reads B in place for M < 8 (or without scratch) and packs it for M >= 8;
// gemm_nt takes four dot products at a time for M < 4 and packs B^T for M >= 4; gemm_tn never packs.
// Plain SIMD vs scalar sibling: bit for bit everywhere (the tiles and the scalar loops both add the
// products in k order, mul then add, then add C), except gemm_nt's M < 4 dot path with K >= 4, which
// sums four lanes and then reduces them as a tree: there the two agree within float32 rounding of the
// sum (asserted with a tolerance, not bits). With K < 4 that path has no vector part and matches bitwise.
import { beforeAll, describe, expect, it } from 'vitest';
import { matmulRef, mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, RELAXED, sumTol, type Variant, withArena } from './helpers.js';

type Kind = 'nn' | 'nt' | 'tn';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

interface GemmCase {
  kind: Kind;
  M: number;
  N: number;
  K: number;
  lda: number;
  ldb: number;
  ldc: number;
  acc: boolean;
}

/** Stored shapes: nn A[M,K] B[K,N]; nt A[M,K] B[N,K]; tn A[K,M] B[K,N]; C[M,N] always. */
function storage(c: GemmCase) {
  const [ar, ac] = c.kind === 'tn' ? [c.K, c.M] : [c.M, c.K];
  const [br, bc] = c.kind === 'nt' ? [c.N, c.K] : [c.K, c.N];
  return { ar, ac, br, bc };
}

function makeCase(kind: Kind, M: number, N: number, K: number, pad: number, acc: boolean): GemmCase {
  const s = storage({ kind, M, N, K, lda: 0, ldb: 0, ldc: 0, acc });
  return { kind, M, N, K, lda: s.ac + pad, ldb: s.bc + pad, ldc: N + pad, acc };
}

const caseName = (c: GemmCase) =>
  `gemm_${c.kind} M=${c.M} N=${c.N} K=${c.K} lda=${c.lda} ldb=${c.ldb} ldc=${c.ldc}${c.acc ? ' accumulate' : ''}`;

function data(c: GemmCase, seed: number) {
  const rnd = mulberry32(seed);
  const { ar, br } = storage(c);
  const a = randomArray(ar * c.lda, rnd),
    b = randomArray(br * c.ldb, rnd),
    c0 = randomArray(c.M * c.ldc, rnd);
  const A = (i: number, k: number) => (c.kind === 'tn' ? a[k * c.lda + i] : a[i * c.lda + k]);
  const B = (k: number, j: number) => (c.kind === 'nt' ? b[j * c.ldb + k] : b[k * c.ldb + j]);
  const prod = matmulRef(c.M, c.N, c.K, A, B);
  // C's padding columns (j >= N) must come back untouched; in accumulate mode C's old values add in.
  const want = Float64Array.from(c0, (v, p) => {
    const i = Math.floor(p / c.ldc),
      j = p % c.ldc;
    return j < c.N ? prod[i * c.N + j] + (c.acc ? v : 0) : v;
  });
  return { a, b, c0, want };
}

const scratchFloats = (c: GemmCase) => Math.ceil(c.N / 8) * 8 * c.K;

type Place = 'a' | 'b' | 'c' | 'scratch' | null;

/** One call in one backend; `atEnd` puts that operand flush against the end of memory (over-reads trap). */
function runGemm(ar: Arena, c: GemmCase, d: ReturnType<typeof data>, atEnd: Place = null, useScratch = true): Float32Array {
  const k = ar.be.k;
  const put = (name: Place, v: Float32Array) => (atEnd === name ? -1 : ar.f32(name!, v));
  let pa = put('a', d.a),
    pb = put('b', d.b),
    pc = put('c', d.c0);
  let ps = c.kind === 'tn' || !useScratch ? 0 : atEnd === 'scratch' ? -1 : ar.out('scratch', scratchFloats(c));
  if (atEnd === 'a') pa = ar.atEnd('a', d.a);
  if (atEnd === 'b') pb = ar.atEnd('b', d.b);
  if (atEnd === 'c') pc = ar.atEnd('c', d.c0);
  if (ps === -1) ps = ar.atEnd('scratch', scratchFloats(c));
  const acc = c.acc ? 1 : 0;
  ar.run(caseName(c), ps ? [pc, ps] : [pc], () => {
    if (c.kind === 'nn') k.gemm_nn(c.M, c.N, c.K, pa, c.lda, pb, c.ldb, pc, c.ldc, acc, ps);
    else if (c.kind === 'nt') k.gemm_nt(c.M, c.N, c.K, pa, c.lda, pb, c.ldb, pc, c.ldc, acc, ps);
    else k.gemm_tn(c.M, c.N, c.K, pa, c.lda, pb, c.ldb, pc, c.ldc, acc);
  });
  return ar.read(pc);
}

/** Runs c on every variant, checks each against the reference and plain SIMD against the scalar siblings. */
function checkCase(c: GemmCase, seed: number): void {
  const d = data(c, seed);
  const out: Partial<Record<string, Float32Array>> = {};
  for (const { name, be } of vs) {
    out[name] = withArena(be, (ar) => runGemm(ar, c, d));
    expectClose(out[name]!, d.want, { ...sumTol(c.K), shape: [c.M, c.ldc] }, `${caseName(c)} ${name} vs float64`);
  }
  if (c.kind === 'nt' && c.M < 4 && c.K >= 4) {
    expectClose(out.simd!, out.scalar!, { rtol: 1e-5, atol: 1e-6 * Math.sqrt(c.K) }, `${caseName(c)} simd (dot path) vs scalar`);
  } else {
    expectBitwise(out.simd!, out.scalar!, `${caseName(c)} simd vs scalar`);
  }
}

// Below, at and above the 4x8 tile in each dimension; M < 8 and M >= 8 (gemm_nn), M < 4 and M >= 4
// (gemm_nt); N around multiples of 8 (full panels and partial lanes 1..7); K = 1 and primes.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 8, 1],
  [1, 7, 3],
  [2, 9, 5],
  [3, 16, 17],
  [3, 5, 4],
  [4, 8, 4],
  [4, 8, 8],
  [4, 3, 1],
  [5, 3, 7],
  [7, 17, 1],
  [7, 33, 13],
  [8, 8, 8],
  [8, 1, 9],
  [8, 12, 1],
  [9, 7, 1],
  [9, 9, 9],
  [11, 4, 2],
  [13, 31, 11],
  [16, 24, 5],
  [17, 15, 3],
  [31, 8, 2],
  [37, 13, 29],
  [64, 40, 32],
  [6, 10, 300],
];

describe('gemm kernels vs float64 reference', () => {
  it('the relaxed-SIMD (FMA) build validates, so all three variants run', () => {
    expect(RELAXED, 'relaxed SIMD should validate once helpers.ts set the V8 flag').toBe(true);
    expect(vs.map((v) => v.name).sort()).toEqual(['relaxed', 'scalar', 'simd']);
  });
  for (const kind of ['nn', 'nt', 'tn'] as const) {
    shapes.forEach(([M, N, K], idx) => {
      for (const acc of [false, true]) {
        // Tight leading dimensions for overwrite, padded ones (3 extra) for accumulate.
        const c = makeCase(kind, M, N, K, acc ? 3 : 0, acc);
        it(caseName(c), () => checkCase(c, 1000 + idx * 2 + (acc ? 1 : 0)));
      }
    });
  }

  for (const kind of ['nn', 'nt', 'tn'] as const) {
    it(`gemm_${kind} sweep M=1..9 N=1..17 K=1,2,5 (every remainder of the tile) padded, accumulate`, () => {
      let seed = 5000;
      for (const K of [1, 2, 5])
        for (let M = 1; M <= 9; M++) for (let N = 1; N <= 17; N++) checkCase(makeCase(kind, M, N, K, 1, true), seed++);
    });
  }

  it('gemm_nn M=9 N=13 K=6 without scratch takes the direct path for any M', () => {
    const c = makeCase('nn', 9, 13, 6, 2, false);
    const d = data(c, 77);
    for (const { name, be } of vs) {
      expectClose(
        withArena(be, (ar) => runGemm(ar, c, d, null, false)),
        d.want,
        sumTol(c.K),
        `${name} no scratch`,
      );
    }
  });
});

describe('gemm kernels never read or write past their operands (operand flush against the end of memory)', () => {
  const cases = [
    makeCase('nn', 3, 5, 3, 0, true),
    makeCase('nn', 9, 13, 7, 0, true),
    makeCase('nn', 5, 8, 5, 0, false),
    makeCase('nt', 2, 7, 5, 0, true),
    makeCase('nt', 3, 4, 9, 0, false),
    makeCase('nt', 9, 13, 7, 0, true),
    makeCase('tn', 3, 5, 3, 0, true),
    makeCase('tn', 9, 13, 7, 0, true),
    makeCase('tn', 5, 8, 1, 0, false),
  ];
  cases.forEach((c, idx) => {
    it(`${caseName(c)} with each operand last in memory`, () => {
      const d = data(c, 9000 + idx);
      const places: Place[] = c.kind === 'tn' ? ['a', 'b', 'c'] : ['a', 'b', 'c', 'scratch'];
      for (const { name, be } of vs) {
        for (const place of places) {
          expectClose(
            withArena(be, (ar) => runGemm(ar, c, d, place)),
            d.want,
            sumTol(c.K),
            `${name} with ${place} at the end of memory`,
          );
        }
      }
    });
  });
});
