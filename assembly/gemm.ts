// Register-blocked f32 GEMM. Strides passed in are in elements; inside, pointers and strides are bytes.
// C tiles of 4 rows x 8 columns live in 8 v128 accumulators (V8 has 16 xmm registers; 4x16 spills).
import { madd, scalarMode, store_partial8 } from './common';

/**
 * C[4, nr] (+)= A[4, K] B[K, 8] with one pointer per row of A and of C, so the four rows can be any four
 * output pixels. A's K values come in nseg runs of seglen floats, segstride bytes apart (1 run for GEMM;
 * KH runs, one per kernel row, for a direct convolution). B rows are bstride apart.
 */
// @ts-ignore: decorator
@inline export function tile_4x8_f32x4(nseg: i32, seglen: i32, segstride: usize, a0: usize, a1: usize, a2: usize, a3: usize,
  b: usize, bstride: usize, c0: usize, c1: usize, c2: usize, c3: usize, nr: i32, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const end = <usize>seglen << 2;
  for (let s = 0; s < nseg; s++) {
    for (let k: usize = 0; k < end; k += 4) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      let v = v128.load32_splat(a0 + k);
      c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
      v = v128.load32_splat(a1 + k);
      c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
      v = v128.load32_splat(a2 + k);
      c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
      v = v128.load32_splat(a3 + k);
      c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
      b += bstride;
    }
    a0 += segstride; a1 += segstride; a2 += segstride; a3 += segstride;
  }
  // Row by row, so rows that overlap in memory (strided transposed convolution) still add up.
  store_partial8(c0, c00, c01, nr, acc);
  store_partial8(c1, c10, c11, nr, acc);
  store_partial8(c2, c20, c21, nr, acc);
  store_partial8(c3, c30, c31, nr, acc);
}

// @ts-ignore: decorator
@inline export function tile_1x8_f32x4(nseg: i32, seglen: i32, segstride: usize, a: usize, b: usize, bstride: usize, c: usize, nr: i32, acc: bool): void {
  let c0 = f32x4.splat(0), c1 = c0;
  const end = <usize>seglen << 2;
  for (let s = 0; s < nseg; s++) {
    for (let k: usize = 0; k < end; k += 4) {
      const v = v128.load32_splat(a + k);
      c0 = madd(v, v128.load(b), c0);
      c1 = madd(v, v128.load(b, 16), c1);
      b += bstride;
    }
    a += segstride;
  }
  store_partial8(c, c0, c1, nr, acc);
}

/** Scalar sibling of the two tiles above (mr rows), same summation order, so the plain build matches it bit for bit. */
export function tile_scalar(mr: i32, nseg: i32, seglen: i32, segstride: usize, a: usize, lda: usize, b: usize, bstride: usize, c: usize, ldc: usize, nr: i32, acc: bool): void {
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      let sum: f32 = 0;
      let bp = b + (<usize>j << 2);
      let ar = a + <usize>r * lda;
      for (let s = 0; s < nseg; s++) {
        for (let k = 0; k < seglen; k++) { sum += load<f32>(ar + (<usize>k << 2)) * load<f32>(bp); bp += bstride; }
        ar += segstride;
      }
      const p = c + <usize>r * ldc + (<usize>j << 2);
      store<f32>(p, acc ? sum + load<f32>(p) : sum);
    }
  }
}

/** Panels of 8 columns of B[K,N] (row stride ldb), each [K][8], zero-padded past N. */
export function pack_b(K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  const rowBytes = <usize>ldb << 2, panel = <usize>K << 5;
  let j = 0;
  // Two panels per pass: each 64-byte line of B is read once (one panel per pass read it twice, from L3
  // when B outgrows L2).
  for (; j + 16 <= N; j += 16) {
    let src = b + (<usize>j << 2), d = dst;
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
      v128.store(d + panel, v128.load(src, 32));
      v128.store(d + panel, v128.load(src, 48), 16);
      d += 32; src += rowBytes;
    }
    dst += panel << 1;
  }
  for (; j < N; j += 8) {
    const nr = min(8, N - j);
    let src = b + (<usize>j << 2);
    if (nr == 8) {
      for (let k = 0; k < K; k++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32; src += rowBytes;
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>r << 2), r < nr ? load<f32>(src + (<usize>r << 2)) : 0);
        dst += 32; src += rowBytes;
      }
    }
  }
}

/** Panels of B^T where B is [N,K] (row stride ldb): panel p holds B[p*8+r, k] at [k][r]. */
export function pack_bt(K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  if (scalarMode) { pack_bt_scalar(K, N, b, ldb, dst); return; }
  const rowBytes = <usize>ldb << 2, panel = <usize>K << 5;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const src = b + <usize>j * rowBytes;
    let k = 0;
    for (; k + 4 <= K; k += 4) transpose_8x4_f32x4(src + (<usize>k << 2), rowBytes, dst + (<usize>k << 5));
    for (; k < K; k++)
      for (let r = 0; r < 8; r++) store<f32>(dst + (<usize>k << 5) + (<usize>r << 2), load<f32>(src + <usize>r * rowBytes + (<usize>k << 2)));
    dst += panel;
  }
  if (j < N) pack_bt_scalar(K, N - j, b + <usize>j * rowBytes, ldb, dst);
}

/**
 * Rows r = 0..7 (rowBytes apart) of 4 floats at src, stored transposed: float k of row r to dst + k*32 + r*4.
 * Two 4x4 register transposes (unpack low/high pairs, then halves).
 */
// @ts-ignore: decorator
@inline function transpose_8x4_f32x4(src: usize, rowBytes: usize, dst: usize): void {
  for (let h: usize = 0; h < 2; h++) {
    const s = src + h * 4 * rowBytes;
    const v0 = v128.load(s), v1 = v128.load(s + rowBytes), v2 = v128.load(s + 2 * rowBytes), v3 = v128.load(s + 3 * rowBytes);
    const lo01 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), hi01 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
    const lo23 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), hi23 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
    const d = dst + (h << 4);
    v128.store(d, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5));
    v128.store(d, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), 32);
    v128.store(d, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), 64);
    v128.store(d, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), 96);
  }
}

/** pack_bt one float at a time (the scalar build's, and the SIMD one's last panel when N % 8 != 0). */
function pack_bt_scalar(K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  const rowBytes = <usize>ldb << 2;
  for (let j = 0; j < N; j += 8) {
    const nr = min(8, N - j);
    for (let r = 0; r < 8; r++) {
      let d = dst + (<usize>r << 2);
      if (r < nr) {
        const src = b + <usize>(j + r) * rowBytes;
        for (let k = 0; k < K; k++) { store<f32>(d, load<f32>(src + (<usize>k << 2))); d += 32; }
      } else {
        for (let k = 0; k < K; k++) { store<f32>(d, 0); d += 32; }
      }
    }
    dst += <usize>K << 5;
  }
}

/** C[M,N] (+)= A[M,K] * packed panels of B. Panels outer so one panel (K*32 bytes) stays in L1. */
export function gemm_packed_4x8_f32x4(M: i32, N: i32, K: i32, a: usize, lda: i32, bp: usize, c: usize, ldc: i32, acc: i32): void {
  const ldaB = <usize>lda << 2, ldcB = <usize>ldc << 2, panel = <usize>K << 5;
  for (let j = 0; j < N; j += 8) {
    const nr = min(8, N - j);
    const cj = c + (<usize>j << 2);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const a0 = a + <usize>i * ldaB, c0 = cj + <usize>i * ldcB;
      tile_4x8_f32x4(1, K, 0, a0, a0 + ldaB, a0 + 2 * ldaB, a0 + 3 * ldaB, bp, 32, c0, c0 + ldcB, c0 + 2 * ldcB, c0 + 3 * ldcB, nr, acc != 0);
    }
    for (; i < M; i++) tile_1x8_f32x4(1, K, 0, a + <usize>i * ldaB, bp, 32, cj + <usize>i * ldcB, nr, acc != 0);
    bp += panel;
  }
}

/** C (+)= A*B reading B in place: for few rows, packing would cost as much as the product. */
function gemm_nn_direct(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  const ldaB = <usize>lda << 2, ldbB = <usize>ldb << 2, ldcB = <usize>ldc << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const bj = b + (<usize>j << 2), cj = c + (<usize>j << 2);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      const a0 = a + <usize>i * ldaB, c0 = cj + <usize>i * ldcB;
      tile_4x8_f32x4(1, K, 0, a0, a0 + ldaB, a0 + 2 * ldaB, a0 + 3 * ldaB, bj, ldbB, c0, c0 + ldcB, c0 + 2 * ldcB, c0 + 3 * ldcB, 8, acc);
    }
    for (; i < M; i++) tile_1x8_f32x4(1, K, 0, a + <usize>i * ldaB, bj, ldbB, cj + <usize>i * ldcB, 8, acc);
  }
  // Remaining columns: reading 8 lanes would run past the row, so go scalar.
  if (j < N) gemm_nn_scalar_cols(M, j, N, K, a, lda, b, ldb, c, ldc, acc);
}

function gemm_nn_scalar_cols(M: i32, j0: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  for (let i = 0; i < M; i++) {
    const ai = a + <usize>i * (<usize>lda << 2);
    const ci = c + <usize>i * (<usize>ldc << 2);
    for (let j = j0; j < N; j++) {
      let s: f32 = 0;
      let bp = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) { s += load<f32>(ai + (<usize>k << 2)) * load<f32>(bp); bp += <usize>ldb << 2; }
      const p = ci + (<usize>j << 2);
      store<f32>(p, acc ? s + load<f32>(p) : s);
    }
  }
}

/** C[M,N] (+)= A[M,K] B[K,N]. scratch: room for ceil(N/8)*8*K floats (used when M >= 8). */
export function gemm_nn(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32, scratch: usize): void {
  if (scalarMode) { gemm_nn_scalar(M, N, K, a, lda, b, ldb, c, ldc, acc); return; }
  if (M >= 8 && scratch != 0) {
    pack_b(K, N, b, ldb, scratch);
    gemm_packed_4x8_f32x4(M, N, K, a, lda, scratch, c, ldc, acc);
  } else gemm_nn_direct(M, N, K, a, lda, b, ldb, c, ldc, acc != 0);
}

/** Sums of the four vectors' lanes, as one vector [sum(v0), sum(v1), sum(v2), sum(v3)]. */
// @ts-ignore: decorator
@inline function hsum4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const s01 = f32x4.add(i8x16.shuffle(v0, v1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23),
    i8x16.shuffle(v0, v1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  const s23 = f32x4.add(i8x16.shuffle(v2, v3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23),
    i8x16.shuffle(v2, v3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  return f32x4.add(i8x16.shuffle(s01, s23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
    i8x16.shuffle(s01, s23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
}

/**
 * C (+)= A B^T for a few rows of A: four dot products at a time along B's contiguous rows, no packing.
 * Packing B^T would cost as much as the product itself when M is 1 (a batch of one).
 */
function gemm_nt_dots_4x1_f32x4(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  const ldbB = <usize>ldb << 2;
  const K4 = K & ~3;
  for (let i = 0; i < M; i++) {
    const ai = a + (<usize>(i * lda) << 2), ci = c + (<usize>(i * ldc) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = b + <usize>j * ldbB, b1 = b0 + ldbB, b2 = b1 + ldbB, b3 = b2 + ldbB;
      let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2;
        const av = v128.load(ai + o);
        s0 = madd(av, v128.load(b0 + o), s0);
        s1 = madd(av, v128.load(b1 + o), s1);
        s2 = madd(av, v128.load(b2 + o), s2);
        s3 = madd(av, v128.load(b3 + o), s3);
      }
      let r = hsum4(s0, s1, s2, s3);
      if (K4 < K) {
        let t0: f32 = 0, t1: f32 = 0, t2: f32 = 0, t3: f32 = 0;
        for (let k = K4; k < K; k++) {
          const o = <usize>k << 2;
          const av = load<f32>(ai + o);
          t0 += av * load<f32>(b0 + o); t1 += av * load<f32>(b1 + o); t2 += av * load<f32>(b2 + o); t3 += av * load<f32>(b3 + o);
        }
        r = f32x4.add(r, f32x4(t0, t1, t2, t3));
      }
      const p = ci + (<usize>j << 2);
      v128.store(p, acc ? f32x4.add(r, v128.load(p)) : r);
    }
    for (; j < N; j++) {
      let t: f32 = 0;
      const bj = b + <usize>j * ldbB;
      for (let k = 0; k < K; k++) t += load<f32>(ai + (<usize>k << 2)) * load<f32>(bj + (<usize>k << 2));
      const p = ci + (<usize>j << 2);
      store<f32>(p, acc ? t + load<f32>(p) : t);
    }
  }
}

/** C[M,N] (+)= A[M,K] B^T with B stored [N,K]. scratch: ceil(N/8)*8*K floats (used when M >= 4). */
export function gemm_nt(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32, scratch: usize): void {
  if (scalarMode) { gemm_nt_scalar(M, N, K, a, lda, b, ldb, c, ldc, acc); return; }
  if (M < 4) { gemm_nt_dots_4x1_f32x4(M, N, K, a, lda, b, ldb, c, ldc, acc != 0); return; }
  pack_bt(K, N, b, ldb, scratch);
  gemm_packed_4x8_f32x4(M, N, K, a, lda, scratch, c, ldc, acc);
}

/**
 * C[4 rows, 8] (+)= sum over k of A[k, i..i+4] * B[k, 0..8] for four adjacent rows (one A pointer, the
 * row offsets fold into the loads). The reduction runs nseg x K steps: A advances lda per step and
 * restarts segstride further each segment; B rows simply continue (ldb apart).
 */
// @ts-ignore: decorator
@inline export function tile_tn_4x8_f32x4(nseg: i32, K: i32, segstride: usize, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let s = 0; s < nseg; s++) {
    let ap = a + <usize>s * segstride;
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      let v = v128.load32_splat(ap);
      c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
      v = v128.load32_splat(ap, 4);
      c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
      v = v128.load32_splat(ap, 8);
      c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
      v = v128.load32_splat(ap, 12);
      c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
      ap += lda; b += ldb;
    }
  }
  store_partial8(c, c00, c01, 8, acc);
  store_partial8(c + ldc, c10, c11, 8, acc);
  store_partial8(c + 2 * ldc, c20, c21, 8, acc);
  store_partial8(c + 3 * ldc, c30, c31, 8, acc);
}

/**
 * As tile_tn_4x8_f32x4 with one A pointer per row: rows need not be adjacent (a convolution's kernel
 * taps across kernel rows). Four base registers cost address adds, so only for what the other cannot do. The reduction runs nseg x K steps: A advances lda per step and
 * restarts segstride further each segment; B rows simply continue (ldb apart).
 */
// @ts-ignore: decorator
@inline export function tile_tn_taps_4x8_f32x4(nseg: i32, K: i32, segstride: usize, a0: usize, a1: usize, a2: usize, a3: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let s = 0; s < nseg; s++) {
    let o = <usize>s * segstride;
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(b), b1 = v128.load(b, 16);
      let v = v128.load32_splat(a0 + o);
      c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
      v = v128.load32_splat(a1 + o);
      c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
      v = v128.load32_splat(a2 + o);
      c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
      v = v128.load32_splat(a3 + o);
      c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
      o += lda; b += ldb;
    }
  }
  store_partial8(c, c00, c01, 8, acc);
  store_partial8(c + ldc, c10, c11, 8, acc);
  store_partial8(c + 2 * ldc, c20, c21, 8, acc);
  store_partial8(c + 3 * ldc, c30, c31, 8, acc);
}

// @ts-ignore: decorator
@inline export function tile_tn_1x8_f32x4(nseg: i32, K: i32, segstride: usize, a: usize, lda: usize, b: usize, ldb: usize, c: usize, acc: bool): void {
  let c0 = f32x4.splat(0), c1 = c0;
  for (let s = 0; s < nseg; s++) {
    let ap = a + <usize>s * segstride;
    for (let k = 0; k < K; k++) {
      const v = v128.load32_splat(ap);
      c0 = madd(v, v128.load(b), c0);
      c1 = madd(v, v128.load(b, 16), c1);
      ap += lda; b += ldb;
    }
  }
  store_partial8(c, c0, c1, 8, acc);
}

/**
 * Scalar sibling of the TN tiles, for mr rows and nr columns: C[r, j] (+)= sum over the nseg x K
 * reduction of A[k, r] B[k, j]; B rows continue across segments, A rows restart every segstride.
 */
export function tile_tn_scalar(mr: i32, nr: i32, nseg: i32, K: i32, segstride: usize, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      let sum: f32 = 0;
      let bp = b + (<usize>j << 2);
      for (let s = 0; s < nseg; s++) {
        let ap = a + <usize>s * segstride + (<usize>r << 2);
        for (let k = 0; k < K; k++) { sum += load<f32>(ap) * load<f32>(bp); ap += lda; bp += ldb; }
      }
      const p = c + <usize>r * ldc + (<usize>j << 2);
      store<f32>(p, acc ? sum + load<f32>(p) : sum);
    }
  }
}

/** C[M,N] (+)= A^T B with A stored [K,M] and B [K,N]: weight gradients (X^T dY). */
export function gemm_tn(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32): void {
  if (scalarMode) { gemm_tn_scalar(M, N, K, a, lda, b, ldb, c, ldc, acc); return; }
  const ldaB = <usize>lda << 2, ldbB = <usize>ldb << 2, ldcB = <usize>ldc << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const bj = b + (<usize>j << 2), cj = c + (<usize>j << 2);
    let i = 0;
    for (; i + 4 <= M; i += 4) {
      tile_tn_4x8_f32x4(1, K, 0, a + (<usize>i << 2), ldaB, bj, ldbB, cj + <usize>i * ldcB, ldcB, acc != 0);
    }
    for (; i < M; i++) tile_tn_1x8_f32x4(1, K, 0, a + (<usize>i << 2), ldaB, bj, ldbB, cj + <usize>i * ldcB, acc != 0);
  }
  if (j < N) gemm_tn_scalar_cols(M, j, N, K, a, lda, b, ldb, c, ldc, acc != 0);
}

function gemm_tn_scalar_cols(M: i32, j0: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  if (K == 1) {
    // An outer product (a batch of one): no reduction loop per element.
    for (let i = 0; i < M; i++) {
      const ai = load<f32>(a + (<usize>i << 2));
      const ci = c + (<usize>(i * ldc) << 2);
      for (let j = j0; j < N; j++) {
        const p = ci + (<usize>j << 2);
        const v = ai * load<f32>(b + (<usize>j << 2));
        store<f32>(p, acc ? v + load<f32>(p) : v);
      }
    }
    return;
  }
  for (let i = 0; i < M; i++) {
    for (let j = j0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        s += load<f32>(a + ((<usize>k * lda + i) << 2)) * load<f32>(b + ((<usize>k * ldb + j) << 2));
      }
      const p = c + ((<usize>i * ldc + j) << 2);
      store<f32>(p, acc ? s + load<f32>(p) : s);
    }
  }
}

// Scalar siblings: same summation order as the SIMD tiles (k ascending, then + C), so the plain
// SIMD build matches them bit for bit.
export function gemm_nn_scalar(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32): void {
  gemm_nn_scalar_cols(M, 0, N, K, a, lda, b, ldb, c, ldc, acc != 0);
}

export function gemm_tn_scalar(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32): void {
  gemm_tn_scalar_cols(M, 0, N, K, a, lda, b, ldb, c, ldc, acc != 0);
}

export function gemm_nt_scalar(M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: i32): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(a + ((<usize>i * lda + k) << 2)) * load<f32>(b + ((<usize>j * ldb + k) << 2));
      const p = c + ((<usize>i * ldc + j) << 2);
      store<f32>(p, acc != 0 ? s + load<f32>(p) : s);
    }
  }
}
