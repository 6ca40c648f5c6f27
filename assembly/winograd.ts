// Winograd F(m x m, 3 x 3) convolution (m = 2 or 4) for 3x3 stride-1 kernels on NHWC activations
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). With alpha = m + 2:
//   V = B^T d B     per input channel, d the alpha x alpha input patch of an m x m output tile
//   U = G g G^T     per (input, output) channel pair; the host transforms the filter once per weight version
//   M[xi] = V[xi] U[xi]   one GEMM per xi < alpha^2: tiles as rows, input channels as the reduction
//   y = A^T M A     per output channel, m x m outputs
// The input gradient is this convolution of dy with the flipped, in/out-swapped filter (its own U). The
// filter gradient is the transposed algorithm, dw = G^T [sum over tiles of (A dy A^T) * (B^T d B)] G, whose
// GEMMs reduce over tiles. Tiles go in blocks of TB (chosen by the host) so one block's V and M stay in L2.
// The transforms run on four channels at a time (T = v128) or, as the scalar sibling, one (T = f32), from
// the same generic code; the GEMMs are gemm.ts's 4x8 tiles. The filter transform (once per weight version)
// runs in float64.
import { madd, scalarMode } from './common';
import { gemm_packed_4x8_f32x4, gemm_tn, tile_scalar } from './gemm';
import { act_s, act_v, ACT_LINEAR, ACT_RELU, ACT_SHIFT, bias_grad, FLAG_BIAS, FLAG_RELU } from './activation';

/** winograd_forward: make outputs whose window reads only zeros exactly 0 (before the bias), as direct convolution does. */
export const FLAG_ZERO_WINDOWS: i32 = 16;
/** winograd_forward (inference): y is the 2x2 stride-2 max pool of the output, [N, OH/2, OW/2, OC] rounded down. */
export const FLAG_POOL2X2: i32 = 32;

// ---------------------------------------------------------------------------------------------------
// Lane-generic arithmetic: T is v128 (four channels) or f32 (one channel, the scalar sibling).

// @ts-ignore: decorator
@inline function zero<T>(): T {
  if (isVector<T>()) return <T>f32x4.splat(0);
  return <T>0;
}
// @ts-ignore: decorator
@inline function add<T>(a: T, b: T): T {
  if (isVector<T>()) return <T>f32x4.add(<v128>a, <v128>b);
  // @ts-ignore: f32 here
  return a + b;
}
// @ts-ignore: decorator
@inline function sub<T>(a: T, b: T): T {
  if (isVector<T>()) return <T>f32x4.sub(<v128>a, <v128>b);
  // @ts-ignore: f32 here
  return a - b;
}
// @ts-ignore: decorator
@inline function neg<T>(a: T): T {
  if (isVector<T>()) return <T>f32x4.neg(<v128>a);
  // @ts-ignore: f32 here
  return -a;
}
// @ts-ignore: decorator
@inline function scale<T>(a: T, k: f32): T {
  if (isVector<T>()) return <T>f32x4.mul(<v128>a, f32x4.splat(k));
  // @ts-ignore: f32 here
  return a * k;
}
/** a * k + c: fused in the relaxed build's SIMD path, as every madd. */
// @ts-ignore: decorator
@inline function muladd<T>(a: T, k: f32, c: T): T {
  if (isVector<T>()) return <T>madd(<v128>a, f32x4.splat(k), <v128>c);
  // @ts-ignore: f32 here
  return a * k + c;
}
/** max(v, 0) as bias_act computes it (pmax keeps NaN and -0 as the scalar test does). */
// @ts-ignore: decorator
@inline function pmax<T>(a: T, b: T): T {
  if (isVector<T>()) return <T>f32x4.pmax(<v128>a, <v128>b);
  // @ts-ignore: f32 here
  return a < b ? b : a;
}
// @ts-ignore: decorator
@inline function relu<T>(v: T): T {
  if (isVector<T>()) return <T>f32x4.pmax(<v128>v, f32x4.splat(0));
  // @ts-ignore: f32 here
  return v < 0 ? <f32>0 : v;
}
/**
 * The activation of code (bias_act's, string activations' parameters) on every lane. Not inlined: each
 * tile output site would get a copy of every activation's code (32 KB of wasm per build).
 */
function activate<T>(v: T, code: i32): T {
  if (isVector<T>()) return <T>act_v(<v128>v, code, 1, 0, 0);
  return <T>act_s(<f32>v, code, 1, 0, 0);
}
/** The first min(n, lanes) floats at p, zeros after: never reads past a row that ends at p + 4n. */
// @ts-ignore: decorator
@inline function loadLanes<T>(p: usize, n: i32): T {
  if (isVector<T>()) {
    if (n >= 4) return <T>v128.load(p);
    if (n <= 0) return <T>f32x4.splat(0);
    return <T>f32x4(load<f32>(p), n > 1 ? load<f32>(p, 4) : 0, n > 2 ? load<f32>(p, 8) : 0, 0);
  }
  return n > 0 ? load<T>(p) : <T>0;
}
/** Stores the first min(n, lanes) lanes of v at p (n >= 1). */
// @ts-ignore: decorator
@inline function storeLanes<T>(p: usize, v: T, n: i32): void {
  if (isVector<T>()) {
    if (n >= 4) { v128.store(p, <v128>v); return; }
    store<f32>(p, f32x4.extract_lane(<v128>v, 0));
    if (n > 1) store<f32>(p, f32x4.extract_lane(<v128>v, 1), 4);
    if (n > 2) store<f32>(p, f32x4.extract_lane(<v128>v, 2), 8);
    return;
  }
  store<T>(p, v);
}

// ---------------------------------------------------------------------------------------------------
// One-dimensional transforms: read from s, s + ss, ...; write to d, d + ds, ...

const BT: i32 = 0; // B^T: alpha inputs -> alpha (input patches)
const AT: i32 = 1; // A^T: alpha -> m (products back to outputs)
const AD: i32 = 2; // A: m -> alpha (output gradients, for the filter gradient)
const GT: i32 = 3; // G^T: alpha -> 3 (sums over tiles back to filter taps)

// @ts-ignore: decorator
@inline function bt2<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const d0 = load<T>(s), d1 = load<T>(s + ss), d2 = load<T>(s + 2 * ss), d3 = load<T>(s + 3 * ss);
  store<T>(d, sub<T>(d0, d2));
  store<T>(d + ds, add<T>(d1, d2));
  store<T>(d + 2 * ds, sub<T>(d2, d1));
  store<T>(d + 3 * ds, sub<T>(d1, d3));
}
// @ts-ignore: decorator
@inline function bt4<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const d0 = load<T>(s), d1 = load<T>(s + ss), d2 = load<T>(s + 2 * ss);
  const d3 = load<T>(s + 3 * ss), d4 = load<T>(s + 4 * ss), d5 = load<T>(s + 5 * ss);
  store<T>(d, muladd<T>(d0, 4, muladd<T>(d2, -5, d4)));
  const a = muladd<T>(d2, -4, d4), b = muladd<T>(d1, -4, d3);
  store<T>(d + ds, add<T>(a, b));
  store<T>(d + 2 * ds, sub<T>(a, b));
  const c = sub<T>(d4, d2), e = scale<T>(sub<T>(d3, d1), 2);
  store<T>(d + 3 * ds, add<T>(c, e));
  store<T>(d + 4 * ds, sub<T>(c, e));
  store<T>(d + 5 * ds, muladd<T>(d1, 4, muladd<T>(d3, -5, d5)));
}
// @ts-ignore: decorator
@inline function at2<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const m0 = load<T>(s), m1 = load<T>(s + ss), m2 = load<T>(s + 2 * ss), m3 = load<T>(s + 3 * ss);
  store<T>(d, add<T>(add<T>(m0, m1), m2));
  store<T>(d + ds, sub<T>(sub<T>(m1, m2), m3));
}
// @ts-ignore: decorator
@inline function at4<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const m0 = load<T>(s), m1 = load<T>(s + ss), m2 = load<T>(s + 2 * ss);
  const m3 = load<T>(s + 3 * ss), m4 = load<T>(s + 4 * ss), m5 = load<T>(s + 5 * ss);
  const a = add<T>(m1, m2), b = sub<T>(m1, m2), c = add<T>(m3, m4), e = sub<T>(m3, m4);
  store<T>(d, add<T>(add<T>(m0, a), c));
  store<T>(d + ds, muladd<T>(e, 2, b));
  store<T>(d + 2 * ds, muladd<T>(c, 4, a));
  store<T>(d + 3 * ds, add<T>(muladd<T>(e, 8, b), m5));
}
// @ts-ignore: decorator
@inline function ad2<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const y0 = load<T>(s), y1 = load<T>(s + ss);
  store<T>(d, y0);
  store<T>(d + ds, add<T>(y0, y1));
  store<T>(d + 2 * ds, sub<T>(y0, y1));
  store<T>(d + 3 * ds, neg<T>(y1));
}
// @ts-ignore: decorator
@inline function ad4<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const y0 = load<T>(s), y1 = load<T>(s + ss), y2 = load<T>(s + 2 * ss), y3 = load<T>(s + 3 * ss);
  store<T>(d, y0);
  const e = add<T>(y0, y2), o = add<T>(y1, y3);
  store<T>(d + ds, add<T>(e, o));
  store<T>(d + 2 * ds, sub<T>(e, o));
  const e2 = muladd<T>(y2, 4, y0), o2 = scale<T>(muladd<T>(y3, 4, y1), 2);
  store<T>(d + 3 * ds, add<T>(e2, o2));
  store<T>(d + 4 * ds, sub<T>(e2, o2));
  store<T>(d + 5 * ds, y3);
}

// @ts-ignore: decorator
@inline function gt2<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const v0 = load<T>(s), v1 = load<T>(s + ss), v2 = load<T>(s + 2 * ss), v3 = load<T>(s + 3 * ss);
  const a = add<T>(v1, v2);
  store<T>(d, muladd<T>(a, 0.5, v0));
  store<T>(d + ds, scale<T>(sub<T>(v1, v2), 0.5));
  store<T>(d + 2 * ds, muladd<T>(a, 0.5, v3));
}
// @ts-ignore: decorator
@inline function gt4<T>(s: usize, ss: usize, d: usize, ds: usize): void {
  const v0 = load<T>(s), v1 = load<T>(s + ss), v2 = load<T>(s + 2 * ss);
  const v3 = load<T>(s + 3 * ss), v4 = load<T>(s + 4 * ss), v5 = load<T>(s + 5 * ss);
  const a = add<T>(v1, v2), b = sub<T>(v1, v2), c = add<T>(v3, v4), e = sub<T>(v3, v4);
  store<T>(d, muladd<T>(c, 1.0 / 24, muladd<T>(a, -1.0 / 6, scale<T>(v0, 0.25))));
  store<T>(d + ds, muladd<T>(e, 1.0 / 12, scale<T>(b, -1.0 / 6)));
  store<T>(d + 2 * ds, muladd<T>(sub<T>(c, a), 1.0 / 6, v5));
}

// @ts-ignore: decorator
@inline function t1d<T>(kind: i32, m: i32, s: usize, ss: usize, d: usize, ds: usize): void {
  if (kind == BT) { if (m == 4) bt4<T>(s, ss, d, ds); else bt2<T>(s, ss, d, ds); }
  else if (kind == AT) { if (m == 4) at4<T>(s, ss, d, ds); else at2<T>(s, ss, d, ds); }
  else if (kind == AD) { if (m == 4) ad4<T>(s, ss, d, ds); else ad2<T>(s, ss, d, ds); }
  else { if (m == 4) gt4<T>(s, ss, d, ds); else gt2<T>(s, ss, d, ds); }
}

/**
 * The 2-D transform X -> T1 X T1^T of one tile: columns of the input (rows rs bytes apart, columns cs)
 * into tmp, then rows of tmp into d (rows drs apart, columns dcs).
 */
// @ts-ignore: decorator
@inline function t2d<T>(kind: i32, m: i32, s: usize, rs: usize, cs: usize, tmp: usize, d: usize, drs: usize, dcs: usize): void {
  const es = sizeof<T>(), alpha = m + 2;
  const nin = kind == AD ? m : alpha, nout = kind == AT ? m : kind == GT ? 3 : alpha;
  const tr = <usize>nin * es;
  for (let j = 0; j < nin; j++) t1d<T>(kind, m, s + <usize>j * cs, rs, tmp + <usize>j * es, tr);
  for (let i = 0; i < nout; i++) t1d<T>(kind, m, tmp + <usize>i * tr, es, d + <usize>i * drs, dcs);
}

// ---------------------------------------------------------------------------------------------------
// Tiles

/** size x size pixels from (y0, x0) of an [H, W, C] image, channels c.., into dst; zeros outside it. */
// @ts-ignore: decorator
@inline function gather<T>(img: usize, y0: i32, x0: i32, size: i32, H: i32, W: i32, C: i32, c: i32, dst: usize): void {
  const es = sizeof<T>();
  for (let i = 0; i < size; i++) {
    const yy = y0 + i;
    for (let j = 0; j < size; j++) {
      const xx = x0 + j;
      let v = zero<T>();
      if (yy >= 0 && yy < H && xx >= 0 && xx < W) v = loadLanes<T>(img + (<usize>((yy * W + xx) * C + c) << 2), C - c);
      store<T>(dst + <usize>(i * size + j) * es, v);
    }
  }
}

/**
 * dst[xi][tt][c] = (T1 p T1^T)[xi] for the size x size patch p at (ty m - PT, tx m - PL) of each tile t0..t0+tb
 * of the [N, TH, TW] grid over an [N, H, W, C] image, zeros outside it and for channels C..Cp: the input
 * transform (kind BT, size alpha, V) and the output gradient's (AD, size m, padding 0). tmp: 2 alpha^2 v128.
 */
// @ts-ignore: decorator
@inline function patch_block<T>(kind: i32, m: i32, x: usize, dst: usize, mat: usize, t0: i32, tb: i32,
  H: i32, W: i32, C: i32, Cp: i32, TH: i32, TW: i32, PT: i32, PL: i32, tmp: usize): void {
  const es = sizeof<T>(), lanes = <i32>es >> 2, alpha = m + 2, size = kind == AD ? m : alpha;
  const patch = tmp + (<usize>(alpha * alpha) << 4);
  const rowB = <usize>(W * C) << 2, colB = <usize>C << 2, per = TH * TW;
  for (let tt = 0; tt < tb; tt++) {
    const t = t0 + tt, n = t / per, r = t - n * per, ty = r / TW, tx = r - ty * TW;
    const y0 = ty * m - PT, x0 = tx * m - PL;
    const inside = y0 >= 0 && x0 >= 0 && y0 + size <= H && x0 + size <= W;
    const img = x + (<usize>(n * H * W * C) << 2);
    const row = dst + (<usize>(tt * Cp) << 2);
    for (let c = 0; c < Cp; c += lanes) {
      const d = row + (<usize>c << 2);
      if (inside && c + lanes <= C) {
        t2d<T>(kind, m, img + (<usize>((y0 * W + x0) * C + c) << 2), rowB, colB, tmp, d, <usize>alpha * mat, mat);
      } else {
        gather<T>(img, y0, x0, size, H, W, C, c, patch);
        t2d<T>(kind, m, patch, <usize>size * es, es, tmp, d, <usize>alpha * mat, mat);
      }
    }
  }
}

/** V[xi][tt][c] = (B^T d B)[xi] for the input patches d of tiles t0..t0+tb (see patch_block). */
// @ts-ignore: decorator
@inline function input_block<T>(m: i32, x: usize, v: usize, vMat: usize, t0: i32, tb: i32,
  H: i32, W: i32, C: i32, Cp: i32, TH: i32, TW: i32, PT: i32, PL: i32, tmp: usize): void {
  patch_block<T>(BT, m, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp);
}

/** Yh[xi][tt][oc] = (A dy A^T)[xi] for the m x m tiles of dy [N, OH, OW, OC] (see patch_block). */
// @ts-ignore: decorator
@inline function dy_block<T>(m: i32, dy: usize, yh: usize, yMat: usize, OCp: i32, t0: i32, tb: i32,
  OH: i32, OW: i32, OC: i32, TH: i32, TW: i32, tmp: usize): void {
  patch_block<T>(AD, m, dy, yh, yMat, t0, tb, OH, OW, OC, OCp, TH, TW, 0, 0, tmp);
}

/**
 * y tiles (+bias, activation as bias_act takes it from flags) = A^T M A from M[xi][tt][oc] of tiles t0..t0+tb, only where they lie inside [OH, OW].
 * Outputs whose window is all zeros (bits of dead[tt]) are exactly 0 before the bias, as direct convolution makes them.
 */
// @ts-ignore: decorator
@inline function output_block<T>(m: i32, mb: usize, mMat: usize, OCp: i32, y: usize, bias: usize, flags: i32,
  t0: i32, tb: i32, OH: i32, OW: i32, OC: i32, TH: i32, TW: i32, dead: usize, tmp: usize): void {
  const es = sizeof<T>(), lanes = <i32>es >> 2, alpha = m + 2;
  const hasBias = (flags & FLAG_BIAS) != 0, pool = (flags & FLAG_POOL2X2) != 0;
  const code = (flags & FLAG_RELU) != 0 ? ACT_RELU : flags >> ACT_SHIFT;
  const out = tmp + (<usize>(alpha * alpha) << 4);
  const per = TH * TW, PH = OH >> 1, PW = OW >> 1;
  for (let tt = 0; tt < tb; tt++) {
    const t = t0 + tt, n = t / per, r = t - n * per, ty = r / TW, tx = r - ty * TW;
    const oy0 = ty * m, ox0 = tx * m;
    const rows = min(m, OH - oy0), cols = min(m, OW - ox0);
    const base = y + (<usize>(((n * OH + oy0) * OW + ox0) * OC) << 2);
    const deadBits = load<u32>(dead + (<usize>tt << 2));
    for (let oc = 0; oc < OC; oc += lanes) {
      t2d<T>(AT, m, mb + (<usize>(tt * OCp + oc) << 2), <usize>alpha * mMat, mMat, tmp, out, <usize>m * es, es);
      const nl = OC - oc;
      const b = hasBias ? loadLanes<T>(bias + (<usize>oc << 2), nl) : zero<T>();
      if (pool) {
        // Tiles start at even rows and columns, so each 2x2 window lies in one tile; maxpool2x2's order of maxima.
        for (let i = 0; i + 1 < rows; i += 2) {
          const prow = y + (<usize>(((n * PH + ((oy0 + i) >> 1)) * PW + (ox0 >> 1)) * OC + oc) << 2);
          for (let j = 0; j + 1 < cols; j += 2) {
            let best = finish<T>(out, m, i, j, es, deadBits, b, hasBias, code);
            best = pmax<T>(finish<T>(out, m, i, j + 1, es, deadBits, b, hasBias, code), best);
            best = pmax<T>(finish<T>(out, m, i + 1, j, es, deadBits, b, hasBias, code), best);
            best = pmax<T>(finish<T>(out, m, i + 1, j + 1, es, deadBits, b, hasBias, code), best);
            storeLanes<T>(prow + (<usize>((j >> 1) * OC) << 2), best, nl);
          }
        }
        continue;
      }
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          storeLanes<T>(base + (<usize>((i * OW + j) * OC + oc) << 2), finish<T>(out, m, i, j, es, deadBits, b, hasBias, code), nl);
        }
      }
    }
  }
}

/** Output (i, j) of the transformed tile in out: zero where its window read only zeros, + bias, activation. */
// @ts-ignore: decorator
@inline function finish<T>(out: usize, m: i32, i: i32, j: i32, es: usize, deadBits: u32, b: T, hasBias: bool, code: i32): T {
  let val = load<T>(out + <usize>(i * m + j) * es);
  if ((deadBits >> (i * m + j)) & 1) val = zero<T>();
  if (hasBias) val = add<T>(val, b);
  if (code == ACT_RELU) val = relu<T>(val);
  else if (code != ACT_LINEAR) val = activate<T>(val, code);
  return val;
}

/**
 * dead[tt] = bit i*m + j set when output (i, j) of tile t0 + tt reads only zeros (in every channel, NaN is
 * not zero). Winograd computes such an output as a sum of terms that cancel to within rounding, not to
 * exactly 0 as direct convolution does; a ReLU or max-pool after it would then decide at random where the
 * direct result sits exactly on the kink (dead units over MNIST's zero background while biases are 0).
 */
function dead_windows(m: i32, x: usize, dead: usize, t0: i32, tb: i32, H: i32, W: i32, C: i32, TH: i32, TW: i32, PT: i32, PL: i32): void {
  const alpha = m + 2, per = TH * TW;
  const row: u64 = 7, window = row | (row << <u64>alpha) | (row << <u64>(2 * alpha));
  const full = ((<u64>1) << <u64>(alpha * alpha)) - 1;
  for (let tt = 0; tt < tb; tt++) {
    const t = t0 + tt, n = t / per, r = t - n * per, ty = r / TW, tx = r - ty * TW;
    const y0 = ty * m - PT, x0 = tx * m - PL;
    const img = x + (<usize>(n * H * W * C) << 2);
    let nz: u64 = 0;
    for (let i = 0; i < alpha; i++) {
      const yy = y0 + i;
      if (yy < 0 || yy >= H) continue;
      for (let j = 0; j < alpha; j++) {
        const xx = x0 + j;
        if (xx >= 0 && xx < W && !pixel_zero(img + (<usize>((yy * W + xx) * C) << 2), C)) nz |= (<u64>1) << <u64>(i * alpha + j);
      }
    }
    let bits: u32 = 0;
    if (nz != full) for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if ((nz & (window << <u64>(i * alpha + j))) == 0) bits |= 1 << (i * m + j);
    store<u32>(dead + (<usize>tt << 2), bits);
  }
}

/** Whether all C channels at p are 0 (or -0). */
// @ts-ignore: decorator
@inline function pixel_zero(p: usize, C: i32): bool {
  let c = 0;
  if (!scalarMode) {
    const z = f32x4.splat(0);
    for (; c + 4 <= C; c += 4) if (v128.any_true(f32x4.ne(v128.load(p + (<usize>c << 2)), z))) return false;
  }
  for (; c < C; c++) if (load<f32>(p + (<usize>c << 2)) != 0) return false;
  return true;
}

/**
 * Bytes from one transformed-domain matrix to the next: its floats plus 16 floats of skew, so the alpha^2
 * elements of one tile (one per matrix) do not all fall into one cache set when the size is a multiple of 4 KiB.
 */
// @ts-ignore: decorator
@inline function matBytes(floats: i32): usize {
  return (<usize>floats << 2) + 64;
}

// @ts-ignore: decorator
@inline function roundUp4(v: i32): i32 {
  return (v + 3) & ~3;
}
// @ts-ignore: decorator
@inline function roundUp8(v: i32): i32 {
  return (v + 7) & ~7;
}

// ---------------------------------------------------------------------------------------------------
// Kernels

/**
 * y = act(conv3x3(x, w) + bias), stride 1, padding PT/PL before (the host makes OH, OW and the padding
 * after consistent); u = the filter transformed by winograd_filter_transform(w, u, C, OC, m, 0).
 * Also the input gradient: x = dy, u = the flipped transform, sizes swapped, padding 2 - PT, 2 - PL (no
 * FLAG_ZERO_WINDOWS there: no ReLU or max-pool decides on its values).
 * scratch: alpha^2 matrices of TB roundUp4(C) floats (V), alpha^2 of TB roundUp8(OC) (M), each with its
 * skew (matBytes), then 8 alpha^2 floats, then TB int32 (which outputs read only zeros).
 */
export function winograd_forward(x: usize, u: usize, bias: usize, y: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, PT: i32, PL: i32, m: i32, TB: i32, flags: i32): void {
  const alpha = m + 2, A2 = alpha * alpha;
  const Cp = roundUp4(C), OCp = roundUp8(OC);
  const TH = (OH + m - 1) / m, TW = (OW + m - 1) / m, T = N * TH * TW;
  const vMat = matBytes(TB * Cp), mMat = matBytes(TB * OCp), uMat = matBytes(C * OCp);
  const v = scratch, mb = v + <usize>A2 * vMat, tmp = mb + <usize>A2 * mMat, dead = tmp + (<usize>A2 << 5);
  for (let t0 = 0; t0 < T; t0 += TB) {
    const tb = min(TB, T - t0);
    if ((flags & FLAG_ZERO_WINDOWS) != 0) dead_windows(m, x, dead, t0, tb, H, W, C, TH, TW, PT, PL);
    else memory.fill(dead, 0, <usize>tb << 2);
    if (scalarMode) {
      if (m == 4) input_block<f32>(4, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp);
      else input_block<f32>(2, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp);
      for (let xi = 0; xi < A2; xi++) {
        for (let p = 0; p < OCp; p += 8) {
          tile_scalar(tb, 1, C, 0, v + <usize>xi * vMat, <usize>Cp << 2, u + <usize>xi * uMat + <usize>(p * C) * 4, 32,
            mb + <usize>xi * mMat + (<usize>p << 2), <usize>OCp << 2, 8, false);
        }
      }
      if (m == 4) output_block<f32>(4, mb, mMat, OCp, y, bias, flags, t0, tb, OH, OW, OC, TH, TW, dead, tmp);
      else output_block<f32>(2, mb, mMat, OCp, y, bias, flags, t0, tb, OH, OW, OC, TH, TW, dead, tmp);
    } else {
      if (m == 4) input_block<v128>(4, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp);
      else input_block<v128>(2, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp);
      for (let xi = 0; xi < A2; xi++) gemm_packed_4x8_f32x4(tb, OCp, C, v + <usize>xi * vMat, Cp, u + <usize>xi * uMat, mb + <usize>xi * mMat, OCp, 0);
      if (m == 4) output_block<v128>(4, mb, mMat, OCp, y, bias, flags, t0, tb, OH, OW, OC, TH, TW, dead, tmp);
      else output_block<v128>(2, mb, mMat, OCp, y, bias, flags, t0, tb, OH, OW, OC, TH, TW, dead, tmp);
    }
  }
}

/**
 * dw (overwritten) = gradient of the 3x3 filter, db likewise when flags has FLAG_BIAS; geometry as
 * winograd_forward. scratch: V and the transformed dy sized as winograd_forward's V and M, then alpha^2
 * matrices of roundUp4(C) roundUp8(OC) floats (the sums over tiles) with their skew, then 8 alpha^2 floats.
 */
export function winograd_backward_filter(x: usize, dy: usize, dw: usize, db: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, OC: i32, PT: i32, PL: i32, m: i32, TB: i32, flags: i32): void {
  if ((flags & FLAG_BIAS) != 0) bias_grad(N * OH * OW, OC, dy, db);
  const alpha = m + 2, A2 = alpha * alpha;
  const Cp = roundUp4(C), OCp = roundUp8(OC);
  const TH = (OH + m - 1) / m, TW = (OW + m - 1) / m, T = N * TH * TW;
  const vMat = matBytes(TB * Cp), yMat = matBytes(TB * OCp), dMat = matBytes(Cp * OCp);
  const v = scratch, yh = v + <usize>A2 * vMat, dd = yh + <usize>A2 * yMat, tmp = dd + <usize>A2 * dMat;
  for (let t0 = 0; t0 < T; t0 += TB) {
    const tb = min(TB, T - t0);
    if (scalarMode) {
      if (m == 4) { input_block<f32>(4, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp); dy_block<f32>(4, dy, yh, yMat, OCp, t0, tb, OH, OW, OC, TH, TW, tmp); }
      else { input_block<f32>(2, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp); dy_block<f32>(2, dy, yh, yMat, OCp, t0, tb, OH, OW, OC, TH, TW, tmp); }
    } else {
      if (m == 4) { input_block<v128>(4, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp); dy_block<v128>(4, dy, yh, yMat, OCp, t0, tb, OH, OW, OC, TH, TW, tmp); }
      else { input_block<v128>(2, x, v, vMat, t0, tb, H, W, C, Cp, TH, TW, PT, PL, tmp); dy_block<v128>(2, dy, yh, yMat, OCp, t0, tb, OH, OW, OC, TH, TW, tmp); }
    }
    for (let xi = 0; xi < A2; xi++) {
      gemm_tn(Cp, OCp, tb, v + <usize>xi * vMat, Cp, yh + <usize>xi * yMat, OCp, dd + <usize>xi * dMat, OCp, t0 == 0 ? 0 : 1);
    }
  }
  filter_gradient_output(dd, dw, C, OC, Cp, OCp, m, tmp);
}

// ---------------------------------------------------------------------------------------------------
// The filter transform, in float64 (once per weight version: the precision is free there).

const SIXTH: f64 = 1.0 / 6;

/** G v for a 3-vector v: alpha values at d, d + ds, ... (float32 results of float64 sums). */
// @ts-ignore: decorator
@inline function gStore(m: i32, v0: f64, v1: f64, v2: f64, d: usize, ds: usize): void {
  if (m == 4) {
    const s = v0 + v2, q = v0 * 0.25 + v2, h = v1 * 0.5;
    store<f32>(d, <f32>(v0 * 0.25));
    store<f32>(d + ds, <f32>(-(s + v1) * SIXTH));
    store<f32>(d + 2 * ds, <f32>(-(s - v1) * SIXTH));
    store<f32>(d + 3 * ds, <f32>((q + h) * SIXTH));
    store<f32>(d + 4 * ds, <f32>((q - h) * SIXTH));
    store<f32>(d + 5 * ds, <f32>v2);
  } else {
    const s = v0 + v2;
    store<f32>(d, <f32>v0);
    store<f32>(d + ds, <f32>((s + v1) * 0.5));
    store<f32>(d + 2 * ds, <f32>((s - v1) * 0.5));
    store<f32>(d + 3 * ds, <f32>v2);
  }
}

/** Row i of G times the 3-vector (a, b, c), in float64. */
// @ts-ignore: decorator
@inline function gRow(m: i32, i: i32, a: f64, b: f64, c: f64): f64 {
  if (m == 4) {
    if (i == 0) return a * 0.25;
    if (i == 1) return -(a + c + b) * SIXTH;
    if (i == 2) return -(a + c - b) * SIXTH;
    if (i == 3) return (a * 0.25 + c + b * 0.5) * SIXTH;
    if (i == 4) return (a * 0.25 + c - b * 0.5) * SIXTH;
    return c;
  }
  if (i == 0) return a;
  if (i == 1) return (a + c + b) * 0.5;
  if (i == 2) return (a + c - b) * 0.5;
  return c;
}

// @ts-ignore: decorator
@inline function tapAt(src: usize, tapB: usize, ky: i32, kx: i32, flip: bool): f64 {
  const t = flip ? 8 - (ky * 3 + kx) : ky * 3 + kx;
  return <f64>load<f32>(src + <usize>t * tapB);
}

/**
 * u = G g G^T of every (input, output) channel pair of w [3, 3, C, OC], stored as alpha^2 matrices (each
 * followed by its skew, see matBytes) of packed 8-column panels (gemm.ts's pack_b layout, zero past the last column) with K = C rows and OC
 * columns. flip != 0: the input gradient's filter instead, w flipped in both spatial axes with in and
 * out swapped (K = OC rows, C columns).
 */
export function winograd_filter_transform(w: usize, u: usize, C: i32, OC: i32, m: i32, flip: i32): void {
  if (m == 4) filter_transform(4, w, u, C, OC, flip != 0);
  else filter_transform(2, w, u, C, OC, flip != 0);
}

// @ts-ignore: decorator
@inline function filter_transform(m: i32, w: usize, u: usize, C: i32, OC: i32, flip: bool): void {
  const alpha = m + 2;
  const K = flip ? OC : C, N = flip ? C : OC, Np = roundUp8(N);
  const mat = matBytes(K * Np), tapB = <usize>(C * OC) << 2;
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < Np; n++) {
      const dst = u + (<usize>(((n >> 3) * K + k) * 8 + (n & 7)) << 2);
      if (n >= N) {
        for (let xi = 0; xi < alpha * alpha; xi++) store<f32>(dst + <usize>xi * mat, 0);
        continue;
      }
      const src = w + (<usize>(flip ? n * OC + k : k * OC + n) << 2);
      const g00 = tapAt(src, tapB, 0, 0, flip), g01 = tapAt(src, tapB, 0, 1, flip), g02 = tapAt(src, tapB, 0, 2, flip);
      const g10 = tapAt(src, tapB, 1, 0, flip), g11 = tapAt(src, tapB, 1, 1, flip), g12 = tapAt(src, tapB, 1, 2, flip);
      const g20 = tapAt(src, tapB, 2, 0, flip), g21 = tapAt(src, tapB, 2, 1, flip), g22 = tapAt(src, tapB, 2, 2, flip);
      for (let i = 0; i < alpha; i++) {
        // row i of G g, then that row times G^T
        gStore(m, gRow(m, i, g00, g10, g20), gRow(m, i, g01, g11, g21), gRow(m, i, g02, g12, g22), dst + <usize>(i * alpha) * mat, mat);
      }
    }
  }
}

/** dw [3, 3, C, OC] = G^T D G from the transformed-domain sums D [alpha^2][Cp][OCp], four output channels at a time. */
function filter_gradient_output(dd: usize, dw: usize, C: i32, OC: i32, Cp: i32, OCp: i32, m: i32, tmp: usize): void {
  if (scalarMode) {
    if (m == 4) gradient_output<f32>(4, dd, dw, C, OC, OCp, matBytes(Cp * OCp), tmp);
    else gradient_output<f32>(2, dd, dw, C, OC, OCp, matBytes(Cp * OCp), tmp);
  } else if (m == 4) gradient_output<v128>(4, dd, dw, C, OC, OCp, matBytes(Cp * OCp), tmp);
  else gradient_output<v128>(2, dd, dw, C, OC, OCp, matBytes(Cp * OCp), tmp);
}

// @ts-ignore: decorator
@inline function gradient_output<T>(m: i32, dd: usize, dw: usize, C: i32, OC: i32, OCp: i32, mat: usize, tmp: usize): void {
  const es = sizeof<T>(), lanes = <i32>es >> 2, alpha = m + 2;
  const out = tmp + (<usize>(alpha * alpha) << 4);
  const tapB = <usize>(C * OC) << 2;
  for (let c = 0; c < C; c++) {
    for (let oc = 0; oc < OC; oc += lanes) {
      t2d<T>(GT, m, dd + (<usize>(c * OCp + oc) << 2), <usize>alpha * mat, mat, tmp, out, 3 * es, es);
      const d = dw + (<usize>(c * OC + oc) << 2), nl = OC - oc;
      for (let t = 0; t < 9; t++) storeLanes<T>(d + <usize>t * tapB, load<T>(out + <usize>t * es), nl);
    }
  }
}
