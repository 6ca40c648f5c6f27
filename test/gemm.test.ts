// The GEMM entry points on sizes below, at and above the 4x8 tile, strided operands, and accumulate mode.
import { beforeAll, describe, it } from 'vitest';
import { matmulRef, mulberry, randomArray } from './reference.js';
import { expectClose, expectSame, get, put, type Variant, variants, zeros } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [4, 8, 1], [5, 9, 13], [8, 8, 8], [9, 17, 4], [13, 3, 31], [16, 24, 9], [2, 33, 10], [37, 7, 5]];
const pad = 3; // every operand gets a leading dimension 3 larger than it needs

describe('gemm kernels vs float64 reference', () => {
  for (const kind of ['nn', 'nt', 'tn'] as const) {
    sizes.forEach(([M, N, K], idx) => {
      for (const acc of [0, 1]) {
        it(`gemm_${kind} M=${M} N=${N} K=${K} strided${acc ? ' accumulate' : ''}`, () => {
          const rnd = mulberry(500 + idx * 2 + acc);
          // Storage: nn A[M,K] B[K,N]; nt A[M,K] B[N,K]; tn A[K,M] B[K,N]. C[M,N].
          const [ar, ac] = kind === 'tn' ? [K, M] : [M, K];
          const [br, bc] = kind === 'nt' ? [N, K] : [K, N];
          const lda = ac + pad, ldb = bc + pad, ldc = N + pad;
          const a = randomArray(ar * lda, rnd), b = randomArray(br * ldb, rnd), c0 = randomArray(M * ldc, rnd);
          const A = (i: number, k: number) => (kind === 'tn' ? a[k * lda + i] : a[i * lda + k]);
          const B = (k: number, j: number) => (kind === 'nt' ? b[j * ldb + k] : b[k * ldb + j]);
          const prod = matmulRef(M, N, K, A, B);
          const want = Float64Array.from(c0, (v, p) => {
            const i = Math.floor(p / ldc), j = p % ldc;
            return j < N ? prod[i * N + j] + (acc ? v : 0) : v; // padding columns of C untouched
          });
          const out: Record<string, Float32Array> = {};
          for (const { name, be } of vs) {
            const pa = put(be, a), pb = put(be, b), pc = put(be, c0), s = zeros(be, Math.ceil(Math.max(N, K) / 8) * 8 * Math.max(N, K) + 64);
            if (kind === 'nn') be.k.gemm_nn(M, N, K, pa, lda, pb, ldb, pc, ldc, acc, s);
            else if (kind === 'nt') be.k.gemm_nt(M, N, K, pa, lda, pb, ldb, pc, ldc, acc, s);
            else be.k.gemm_tn(M, N, K, pa, lda, pb, ldb, pc, ldc, acc);
            out[name] = get(be, pc, M * ldc);
            expectClose(out[name], want, `${name}`, 1e-5, 2e-6 * Math.sqrt(K) + 1e-6);
          }
          if (kind !== 'nt' || M >= 4) expectSame(out.simd, out.scalar, 'simd vs scalar');
        });
      }
    });
  }
});
