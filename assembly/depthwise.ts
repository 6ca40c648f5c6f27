// Depthwise 2D convolution on NHWC, weights [KH, KW, C, DM]: output channel o = c*DM + m reads input
// channel c only, so the weights of tap (ky, kx) are one row of CC = C*DM floats indexed by o, and
// every kernel here is vectorised over those CC channels, 4 at a time (remainder channels scalar).
//
// The three kernels work output row by output row on "taps": each kernel tap whose source row lies in
// the image becomes (source row, weight row, source column of output pixel 0). The pixels whose taps
// all lie inside the row (the interior) of a 3-wide window at stride 1 (or 2, forward) with up to three
// kernel rows (the 3x3 case) go pixel-major where the channels outnumber the pixels (pixelMajor), as
// XNNPACK's unipass kernels: four output pixels at a time, every channel group in turn with all its taps
// summed in registers and stored once. The strided input gradient's rows (1 to 4 taps on any columns) go
// pixel-major too (gather_interior_taps). Other windows and rows are swept by row passes:
// a channel group of 4 keeps at most three tap weights in registers and runs along the row two or four
// pixels at a time, its sums independent so the core overlaps them, each pass continuing the sums the
// previous one stored. The few pixels
// at the left and right edges (padding) take the taps that exist, one pixel at a time. Rows are read in
// place (a copy that pads them costs more than the edges do); only depthMultiplier > 1 copies each input
// row once into a ring, its channels repeated DM times.
//
// Order of the sums, the same in SIMD and scalar code so the two agree bit for bit: an output (or input
// gradient) element is the bias (or 0) plus its taps in list order ((ky, kx) ascending), then ReLU. A
// filter gradient element gets, per row, the sum over the interior pixels taken in pairs
// (x0*g0 + x1*g1, plus a last single one), then the edge pixels one by one, left to right; except in
// filter_band (3x3 at stride 1 or 2, depthMultiplier 1), whose order is given there.
// The plain build multiplies and adds separately; the relaxed build fuses them (compared with the
// reference only). The host computes output sizes and TensorFlow's padding.
import { scalarMode, zero_f32 } from './common';
import { FLAG_BIAS, FLAG_RELU } from './activation';

// Interior kernel, set_depthwise_variant for A/B runs: 0 the measured rule (pixelMajor), 1 the row passes
// everywhere, 2 pixel-major wherever it applies.
const DW_RULE = 0;
const DW_ROWS = 1;
const DW_PIXELS = 2;
let variant: i32 = DW_RULE;

/**
 * Pixel-major (gather_interior_px4) or row passes for a row of count output pixels of CC channels. The rule,
 * from interleaved A/B runs on MobileNet-v1's depthwise shapes (docs/performance.md): pixel-major runs its
 * inner loop over the CC/4 channel groups and the row passes theirs along the pixels, so each wins where its
 * inner loop is the longer one: at stride 1 pixel-major when CC >= 2 * count (1.1-1.9x faster from C = 128 at
 * width 56 to C = 1024 at width 7; 0.88-1.06x at C = 32 and 64, widths 56-112). At stride 2 (the forward), whose
 * row passes read each source pixel in two passes, already from 2 * CC >= count (1.07-1.32x at C = 16-64, output
 * widths 28-56; 0.88x at C = 16, width 56).
 */
function pixelMajor(CC: i32, count: i32): bool {
  return variant == DW_PIXELS || (variant == DW_RULE && (colStep == 2 ? 2 * CC >= count : CC >= 2 * count));
}

/** v: the interior kernel (DW_RULE, 1 rows, DW_PIXELS); touch: 0 turns px4_rows' touch loads off (A/B). */
export function set_depthwise_variant(v: i32, touch: i32): void {
  variant = v;
  touching = touch != 0;
}

// Touch loads. Wasm has no prefetch instruction, and the hardware prefetchers do not keep up with the
// pixel-major sweep (16 bytes of each of 6-9 pixels of three source rows per step): the stride-2 forward
// ran 2.4x slower per image once the batch no longer fitted in the cache. So px4_rows loads one byte of each
// cache line of the rows it reads for the first time, TOUCH_AHEAD / STEP bytes ahead of where it reads them
// (the same time ahead at either stride), at the rate it consumes them: the misses then overlap the
// arithmetic. Measured (docs/performance.md): 1.36x on [32,56,56,128] stride 2, 1.06-1.19x at stride 1.
// Since the packed, spill-free block runs faster, 64 KB ahead beats 32 KB by 1.02-1.27x (128 KB: 0.94-0.98x
// of 64). touchEnd: the last byte of the source buffer.
const TOUCH_AHEAD: usize = 65536;
let touching = true;
let touchEnd: usize = 0;

// @ts-ignore: decorator
@inline function f32p(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** acc + x*w; written with the accumulator first so the plain build's loads stay next to their multiply. */
// @ts-ignore: decorator
@inline function mac(acc: v128, x: v128, w: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, w, acc);
  return f32x4.add(acc, f32x4.mul(x, w));
}

// @ts-ignore: decorator
@inline function add_to(p: usize, a: v128): void {
  v128.store(p, f32x4.add(v128.load(p), a));
}

// State of the current call: module globals set at kernel entry (kernels allocate nothing). Scratch:
// [ring tags: R ints][taps: 3 words each][edge list: 2 words each][pin: 16][packed weights: 40 per group of 4
// channels][rowbuf][ring: R rows of cols * CC], the word part rounded up to 4 so the float parts stay 16-byte aligned.
let tapsP: usize = 0;
let edgeP: usize = 0;
let tagsP: usize = 0;
let rowbufP: usize = 0;
let pinP: usize = 0;
let ringP: usize = 0; // 0: rows are read in place
let ringR: i32 = 0;
let ringCols: i32 = 0;
let ringC: i32 = 0;
let ringDM: i32 = 1;
let pixB: usize = 0; // bytes per source pixel (CC floats)
let srcCols: i32 = 0; // source row length, in pixels
let colStep: i32 = 1; // source columns per output pixel
let stridedInput = false; // the input gradient of a strided window (its rows come in column phases)

function setup(scratch: usize, KH: i32, KW: i32, DH: i32, cols: i32, C: i32, DM: i32, step: i32, rowFloats: i32): void {
  const R = (KH - 1) * DH + 1; // the source rows one output row can read
  tagsP = scratch;
  tapsP = f32p(scratch, R);
  edgeP = f32p(tapsP, 3 * KH * KW);
  pinP = f32p(scratch, (R + 5 * KH * KW + 3) & ~3);
  packP = f32p(pinP, 16);
  packed = false;
  rowbufP = f32p(packP, 10 * ((C * DM) & ~3));
  ringP = DM > 1 ? f32p(rowbufP, rowFloats) : 0;
  ringR = R;
  ringCols = cols;
  ringC = C;
  ringDM = DM;
  pixB = <usize>(C * DM) << 2;
  srcCols = cols;
  colStep = step;
  stridedInput = false;
}

/** Forget the ring rows of the previous image. */
function new_image(): void {
  for (let s = 0; s < ringR; s++) store<i32>(f32p(tagsP, s), -1);
}

/** Row r of img ([rows, cols, C]) with CC = C*DM channels per pixel: in place, or its ring copy. */
function source_row(img: usize, r: i32): usize {
  const C = ringC, cols = ringCols, src = f32p(img, r * cols * C);
  if (ringP == 0) return src;
  const DM = ringDM, slot = r % ringR;
  const row = f32p(ringP, slot * cols * C * DM), tag = f32p(tagsP, slot);
  if (load<i32>(tag) != r) {
    store<i32>(tag, r);
    for (let i = 0; i < cols * C; i++) {
      const v = load<f32>(f32p(src, i)), d = f32p(row, i * DM);
      for (let m = 0; m < DM; m++) store<f32>(f32p(d, m), v);
    }
  }
  return row;
}

// @ts-ignore: decorator
@inline function add_tap(T: i32, row: usize, w: usize, col0: i32): i32 {
  const p = tapsP + <usize>T * 12;
  store<u32>(p, <u32>row);
  store<u32>(p, <u32>w, 4);
  store<i32>(p, col0, 8);
  return T + 1;
}
// @ts-ignore: decorator
@inline function tapRow(t: i32): usize {
  return <usize>load<u32>(tapsP + <usize>t * 12);
}
// @ts-ignore: decorator
@inline function tapW(t: i32): usize {
  return <usize>load<u32>(tapsP + <usize>t * 12, 4);
}
// @ts-ignore: decorator
@inline function tapCol(t: i32): i32 {
  return load<i32>(tapsP + <usize>t * 12, 8);
}
/** Address of tap t's source pixel for output pixel j (whose column must lie in the row). */
// @ts-ignore: decorator
@inline function tapAt(t: i32, j: i32): usize {
  return tapRow(t) + <usize>(tapCol(t) + j * colStep) * pixB;
}
// @ts-ignore: decorator
@inline function inRow(t: i32, j: i32): bool {
  return <u32>(tapCol(t) + j * colStep) < <u32>srcCols;
}

/** First pixel of the interior (every tap inside the row) of a row of count pixels. */
function interiorStart(T: i32, count: i32): i32 {
  let j0 = 0;
  for (let t = 0; t < T; t++) {
    const c = tapCol(t);
    if (c < 0) j0 = max(j0, (colStep - 1 - c) / colStep);
  }
  return min(j0, count);
}
/** One past the last interior pixel (at least j0). */
function interiorEnd(T: i32, count: i32, j0: i32): i32 {
  let j1 = count;
  for (let t = 0; t < T; t++) {
    const c = tapCol(t);
    j1 = min(j1, c >= srcCols ? 0 : (srcCols - 1 - c) / colStep + 1);
  }
  return max(j1, j0);
}

// ---------------------------------------------------------------------------------------------------
// Gather: y = bias + sum of taps (forward), and the input gradient.

/**
 * dst = (first ? b : dst) + the K taps t0.. (K constant after inlining, 0..3) over one channel group,
 * two pixels at a time: pixel j reads p_t + j*S and writes d + j*ds.
 */
// @ts-ignore: decorator
@inline function gather_pass(K: i32, first: bool, t0: i32, j0: i32, count: i32, cb: usize, S: usize, d: usize, ds: usize, b: v128): void {
  const z = f32x4.splat(0);
  let p0 = K > 0 ? tapAt(t0, j0) + cb : 0, p1 = K > 1 ? tapAt(t0 + 1, j0) + cb : 0, p2 = K > 2 ? tapAt(t0 + 2, j0) + cb : 0;
  const w0 = K > 0 ? v128.load(tapW(t0) + cb) : z, w1 = K > 1 ? v128.load(tapW(t0 + 1) + cb) : z;
  const w2 = K > 2 ? v128.load(tapW(t0 + 2) + cb) : z;
  let j = 0;
  for (; j + 2 <= count; j += 2) {
    const d1 = d + ds;
    let a = first ? b : v128.load(d), e = first ? b : v128.load(d1);
    if (K > 0) {
      a = mac(a, v128.load(p0), w0);
      e = mac(e, v128.load(p0 + S), w0);
    }
    if (K > 1) {
      a = mac(a, v128.load(p1), w1);
      e = mac(e, v128.load(p1 + S), w1);
    }
    if (K > 2) {
      a = mac(a, v128.load(p2), w2);
      e = mac(e, v128.load(p2 + S), w2);
    }
    v128.store(d, a);
    v128.store(d1, e);
    p0 += S << 1;
    p1 += S << 1;
    p2 += S << 1;
    d = d1 + ds;
  }
  if (j < count) {
    let a = first ? b : v128.load(d);
    if (K > 0) a = mac(a, v128.load(p0), w0);
    if (K > 1) a = mac(a, v128.load(p1), w1);
    if (K > 2) a = mac(a, v128.load(p2), w2);
    v128.store(d, a);
  }
}

/**
 * gather_pass for a kernel row of 3 taps on consecutive source pixels at stride 1 (S: one pixel),
 * rising with kx when up (forward) or falling (input gradient): four pixels read six source pixels.
 */
// @ts-ignore: decorator
@inline function gather_row3(up: bool, first: bool, t0: i32, j0: i32, count: i32, cb: usize, S: usize, d: usize, ds: usize, b: v128): void {
  let p = tapAt(up ? t0 : t0 + 2, j0) + cb;
  const w0 = v128.load(tapW(t0) + cb), w1 = v128.load(tapW(t0 + 1) + cb), w2 = v128.load(tapW(t0 + 2) + cb);
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const q1 = p + S, q2 = q1 + S, q3 = q2 + S, q4 = q3 + S, q5 = q4 + S;
    const x0 = v128.load(p), x1 = v128.load(q1), x2 = v128.load(q2), x3 = v128.load(q3), x4 = v128.load(q4), x5 = v128.load(q5);
    const d1 = d + ds, d2 = d1 + ds, d3 = d2 + ds;
    let a0 = first ? b : v128.load(d), a1 = first ? b : v128.load(d1);
    let a2 = first ? b : v128.load(d2), a3 = first ? b : v128.load(d3);
    if (up) {
      a0 = mac(mac(mac(a0, x0, w0), x1, w1), x2, w2);
      a1 = mac(mac(mac(a1, x1, w0), x2, w1), x3, w2);
      a2 = mac(mac(mac(a2, x2, w0), x3, w1), x4, w2);
      a3 = mac(mac(mac(a3, x3, w0), x4, w1), x5, w2);
    } else {
      a0 = mac(mac(mac(a0, x2, w0), x1, w1), x0, w2);
      a1 = mac(mac(mac(a1, x3, w0), x2, w1), x1, w2);
      a2 = mac(mac(mac(a2, x4, w0), x3, w1), x2, w2);
      a3 = mac(mac(mac(a3, x5, w0), x4, w1), x3, w2);
    }
    v128.store(d, a0);
    v128.store(d1, a1);
    v128.store(d2, a2);
    v128.store(d3, a3);
    p = q4;
    d = d3 + ds;
  }
  for (; j < count; j++) {
    const q1 = p + S, q2 = q1 + S;
    let a = first ? b : v128.load(d);
    if (up) a = mac(mac(mac(a, v128.load(p), w0), v128.load(q1), w1), v128.load(q2), w2);
    else a = mac(mac(mac(a, v128.load(q2), w0), v128.load(q1), w1), v128.load(p), w2);
    v128.store(d, a);
    p = q1;
    d += ds;
  }
}

/**
 * The interior [j0, j1) of a row whose T taps come in kernel rows of 3 (rows3: 1 rising, -1 falling),
 * pixel-major as XNNPACK's unipass depthwise kernels: four output pixels at a time, every channel group
 * in turn with all its taps summed in registers and stored once. Same sums in the same order as
 * gather_interior. Only for T <= 9 with each kernel row's weights one channel row apart (px4Fits) and the
 * weights packed (pack_weights); stride 2 (colStep) only rising (the forward).
 */
function gather_interior_px4(up: bool, T: i32, j0: i32, j1: i32, GV: i32, dst: usize, ds: usize, relu: bool): void {
  const R = T / 3;
  // Kernel row r: its leftmost source pixel for output pixel j0 (p_r), its weights' offset in a packed block (o_r).
  const pa = tapAt(up ? 0 : 2, j0), oa = packedRow(0);
  const pb = R > 1 ? tapAt(up ? 3 : 5, j0) : 0, ob = R > 1 ? packedRow(3) : 0;
  const pc = R > 2 ? tapAt(up ? 6 : 8, j0) : 0;
  if (colStep == 2) {
    if (R == 3) px4_rows(true, 2, 3, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else if (R == 2) px4_rows(true, 2, 2, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else px4_rows(true, 2, 1, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
  } else if (up) {
    if (R == 3) px4_rows(true, 1, 3, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else if (R == 2) px4_rows(true, 1, 2, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else px4_rows(true, 1, 1, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
  } else {
    if (R == 3) px4_rows(false, 1, 3, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else if (R == 2) px4_rows(false, 1, 2, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
    else px4_rows(false, 1, 1, j0, j1, GV, dst, ds, relu, pa, oa, pb, ob, pc);
  }
}

// Packed weights (XNNPACK's layout): per channel group a block of PACK_B bytes, the bias (or zeros) and then the
// 9 taps' 4 weights, (ky, kx) ascending, so the pixel-major kernel loads them at constant offsets from one pointer.
const PACK_B: usize = 160;
let packP: usize = 0;
let packedFrom: usize = 0;
let packed = false; // the pixel-major kernel runs only on packed weights

/** Packs w ([KH, 3, CC], KH <= 3) and bias (0: zeros) for the CC/4 channel groups, once per call. */
function pack_weights(w: usize, bias: usize, KH: i32, KW: i32, DW: i32, CC: i32): void {
  packed = KH <= 3 && KW == 3 && DW == 1;
  if (!packed) return;
  packedFrom = w;
  const GV = scalarMode ? 0 : CC >> 2;
  for (let q = 0; q < GV; q++) {
    const d = packP + <usize>q * PACK_B, cb = <usize>q << 4;
    v128.store(d, bias != 0 ? v128.load(bias + cb) : f32x4.splat(0));
    for (let t = 0; t < KH * 3; t++) v128.store(d + 16 + (<usize>t << 4), v128.load(f32p(w, t * CC) + cb));
  }
}

/** Offset in a packed block of the weights of tap t (the first of its kernel row). */
function packedRow(t: i32): usize {
  return 16 + (<usize>((tapW(t) - packedFrom) / pixB) << 4);
}

/**
 * gather_interior_px4 for R kernel rows and STEP source pixels per output pixel (1 or 2, rising only;
 * constants after inlining); the rows are unrolled by hand (Binaryen does not). V8 keeps loads in program
 * order but sinks arithmetic to its first use, so each row's sums are stored (to pinP) before the next row's
 * loads: else all 27 loads of a group come first and spill.
 */
// @ts-ignore: decorator
@inline function px4_rows(up: bool, STEP: i32, R: i32, j0: i32, j1: i32, GV: i32, dst: usize, ds: usize, relu: bool,
  pa: usize, oa: usize, pb: usize, ob: usize, pc: usize): void {
  const P = pixB, S = <usize>STEP * P, te = touchEnd, touch = touching, ahead = TOUCH_AHEAD / STEP, pin = pinP;
  // Kernel rows' weights: constant offsets when all three are there (ky 0, 1, 2).
  const o0: usize = R == 3 ? 16 : oa, o1: usize = R == 3 ? 64 : ob;
  const z = f32x4.splat(0);
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>(j - j0) * S, d = dst + <usize>j * ds;
    let p0 = pa + o, p1 = pb + o, p2 = pc + o, wq = packP, dp = d;
    // The rows this sweep reads for the first time: the last STEP (forward) or the first (input gradient).
    let tp = (up ? (R > 2 && STEP == 1 ? pc : R > 1 ? pb : pa) : pa) + o + ahead;
    let tr = up && R > 2 && STEP == 2 ? pc + o + ahead : tp;
    for (let q = 0; q < GV; q++) {
      if (touch) {
        load<u8>(min(tp, te));
        if (STEP == 2) {
          load<u8>(min(tp + 64, te));
          load<u8>(min(tr, te));
          load<u8>(min(tr + 64, te));
        }
        tp += 64 * STEP;
        tr += 64 * STEP;
      }
      const b = v128.load(wq);
      let a0 = b, a1 = b, a2 = b, a3 = b;
      if (R > 0) {
        const w0 = v128.load(wq + o0), w1 = v128.load(wq + o0, 16), w2 = v128.load(wq + o0, 32);
        const x0 = v128.load(p0), x1 = v128.load(p0 + P), x2 = v128.load(p0 + 2 * P);
        const x3 = v128.load(p0 + 3 * P), x4 = v128.load(p0 + 4 * P), x5 = v128.load(p0 + 5 * P);
        if (STEP == 1) {
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x1, x2, x3, w0, w1, w2);
          a2 = row3(up, a2, x2, x3, x4, w0, w1, w2);
          a3 = row3(up, a3, x3, x4, x5, w0, w1, w2);
        } else {
          const x6 = v128.load(p0 + 6 * P), x7 = v128.load(p0 + 7 * P), x8 = v128.load(p0 + 8 * P);
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x2, x3, x4, w0, w1, w2);
          a2 = row3(up, a2, x4, x5, x6, w0, w1, w2);
          a3 = row3(up, a3, x6, x7, x8, w0, w1, w2);
        }
        if (R > 1) pin4(pin, a0, a1, a2, a3);
      }
      if (R > 1) {
        const w0 = v128.load(wq + o1), w1 = v128.load(wq + o1, 16), w2 = v128.load(wq + o1, 32);
        const x0 = v128.load(p1), x1 = v128.load(p1 + P), x2 = v128.load(p1 + 2 * P);
        const x3 = v128.load(p1 + 3 * P), x4 = v128.load(p1 + 4 * P), x5 = v128.load(p1 + 5 * P);
        if (STEP == 1) {
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x1, x2, x3, w0, w1, w2);
          a2 = row3(up, a2, x2, x3, x4, w0, w1, w2);
          a3 = row3(up, a3, x3, x4, x5, w0, w1, w2);
        } else {
          const x6 = v128.load(p1 + 6 * P), x7 = v128.load(p1 + 7 * P), x8 = v128.load(p1 + 8 * P);
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x2, x3, x4, w0, w1, w2);
          a2 = row3(up, a2, x4, x5, x6, w0, w1, w2);
          a3 = row3(up, a3, x6, x7, x8, w0, w1, w2);
        }
        if (R > 2) pin4(pin, a0, a1, a2, a3);
      }
      if (R > 2) {
        const w0 = v128.load(wq + 112), w1 = v128.load(wq + 112, 16), w2 = v128.load(wq + 112, 32);
        const x0 = v128.load(p2), x1 = v128.load(p2 + P), x2 = v128.load(p2 + 2 * P);
        const x3 = v128.load(p2 + 3 * P), x4 = v128.load(p2 + 4 * P), x5 = v128.load(p2 + 5 * P);
        if (STEP == 1) {
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x1, x2, x3, w0, w1, w2);
          a2 = row3(up, a2, x2, x3, x4, w0, w1, w2);
          a3 = row3(up, a3, x3, x4, x5, w0, w1, w2);
        } else {
          const x6 = v128.load(p2 + 6 * P), x7 = v128.load(p2 + 7 * P), x8 = v128.load(p2 + 8 * P);
          a0 = row3(up, a0, x0, x1, x2, w0, w1, w2);
          a1 = row3(up, a1, x2, x3, x4, w0, w1, w2);
          a2 = row3(up, a2, x4, x5, x6, w0, w1, w2);
          a3 = row3(up, a3, x6, x7, x8, w0, w1, w2);
        }
      }
      if (relu) {
        a0 = f32x4.pmax(a0, z);
        a1 = f32x4.pmax(a1, z);
        a2 = f32x4.pmax(a2, z);
        a3 = f32x4.pmax(a3, z);
      }
      v128.store(dp, a0);
      v128.store(dp + ds, a1);
      v128.store(dp + 2 * ds, a2);
      v128.store(dp + 3 * ds, a3);
      p0 += 16;
      p1 += 16;
      p2 += 16;
      wq += PACK_B;
      dp += 16;
    }
  }
  for (; j < j1; j++) {
    const o = <usize>(j - j0) * S, d = dst + <usize>j * ds;
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4, wq = packP + <usize>q * PACK_B;
      let a = v128.load(wq);
      for (let r = 0; r < R; r++) {
        const p = (r == 0 ? pa : r == 1 ? pb : pc) + o + cb, w = wq + (r == 0 ? o0 : r == 1 ? o1 : <usize>112);
        a = row3(up, a, v128.load(p), v128.load(p + P), v128.load(p + 2 * P), v128.load(w), v128.load(w, 16), v128.load(w, 32));
      }
      if (relu) a = f32x4.pmax(a, z);
      v128.store(d + cb, a);
    }
  }
}

/** Stores four sums (px4_rows: only so that V8 computes them before the loads that follow). */
// @ts-ignore: decorator
@inline function pin4(pin: usize, a0: v128, a1: v128, a2: v128, a3: v128): void {
  v128.store(pin, a0);
  v128.store(pin, a1, 16);
  v128.store(pin, a2, 32);
  v128.store(pin, a3, 48);
}

/** Whether gather_interior_px4 takes these taps: at most 3 kernel rows, each with its weights one channel row apart. */
function px4Fits(T: i32, rows3: i32): bool {
  if (rows3 == 0 || T > 9 || !packed) return false;
  for (let t = 0; t < T; t += 3) if (tapW(t + 1) != tapW(t) + pixB || tapW(t + 2) != tapW(t) + 2 * pixB) return false;
  return true;
}

/** a + the three taps of one kernel row, kx ascending: on xl, xm, xr rising (up), on xr, xm, xl falling. */
// @ts-ignore: decorator
@inline function row3(up: bool, a: v128, xl: v128, xm: v128, xr: v128, w0: v128, w1: v128, w2: v128): v128 {
  return up ? mac(mac(mac(a, xl, w0), xm, w1), xr, w2) : mac(mac(mac(a, xr, w0), xm, w1), xl, w2);
}

/**
 * The interior [j0, j1) of a row of 1 to 4 taps on any source columns (the stride-2 input gradient's column
 * phases), pixel-major as gather_interior_px4: four pixels at a time, every channel group in turn. Each tap
 * loads its own four pixels; the sums are pinned after the second tap (see px4_rows). Same sums in the same
 * order as gather_interior: the bias (or 0), then the taps in list order.
 */
function gather_interior_taps(T: i32, j0: i32, j1: i32, GV: i32, dst: usize, ds: usize, bias: usize, relu: bool): void {
  if (T == 4) taps_px4(4, j0, j1, GV, dst, ds, bias, relu);
  else if (T == 3) taps_px4(3, j0, j1, GV, dst, ds, bias, relu);
  else if (T == 2) taps_px4(2, j0, j1, GV, dst, ds, bias, relu);
  else taps_px4(1, j0, j1, GV, dst, ds, bias, relu);
}

/**
 * Whether gather_interior_taps takes a row of T taps: in the strided input gradient, unless the row passes are
 * forced. Measured against the row passes (docs/performance.md) on MobileNet-v1's stride-2 shapes at batch 32,
 * C = 16 to 512: 1.02-2.07x faster, never slower.
 */
function tapsPixelMajor(T: i32): bool {
  return stridedInput && T > 0 && T <= 4 && variant != DW_ROWS;
}

/**
 * gather_interior_taps for T taps (a constant after inlining). The taps are unrolled by hand, as in px4_rows:
 * a loop over them (tap pointers read from a list) ran 0.69-0.86x as fast.
 */
// @ts-ignore: decorator
@inline function taps_px4(T: i32, j0: i32, j1: i32, GV: i32, dst: usize, ds: usize, bias: usize, relu: bool): void {
  const S = <usize>colStep * pixB, pin = pinP, z = f32x4.splat(0);
  const s0 = tapAt(0, j0), s1 = T > 1 ? tapAt(1, j0) : 0, s2 = T > 2 ? tapAt(2, j0) : 0, s3 = T > 3 ? tapAt(3, j0) : 0;
  const w0 = tapW(0), w1 = T > 1 ? tapW(1) : 0, w2 = T > 2 ? tapW(2) : 0, w3 = T > 3 ? tapW(3) : 0;
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>(j - j0) * S;
    let dp = dst + <usize>j * ds;
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4;
      const b = bias != 0 ? v128.load(bias + cb) : z;
      let a0 = b, a1 = b, a2 = b, a3 = b;
      let p = s0 + o + cb, w = v128.load(w0 + cb);
      a0 = mac(a0, v128.load(p), w);
      a1 = mac(a1, v128.load(p + S), w);
      a2 = mac(a2, v128.load(p + 2 * S), w);
      a3 = mac(a3, v128.load(p + 3 * S), w);
      if (T > 1) {
        p = s1 + o + cb;
        w = v128.load(w1 + cb);
        a0 = mac(a0, v128.load(p), w);
        a1 = mac(a1, v128.load(p + S), w);
        a2 = mac(a2, v128.load(p + 2 * S), w);
        a3 = mac(a3, v128.load(p + 3 * S), w);
      }
      if (T > 2) {
        pin4(pin, a0, a1, a2, a3);
        p = s2 + o + cb;
        w = v128.load(w2 + cb);
        a0 = mac(a0, v128.load(p), w);
        a1 = mac(a1, v128.load(p + S), w);
        a2 = mac(a2, v128.load(p + 2 * S), w);
        a3 = mac(a3, v128.load(p + 3 * S), w);
      }
      if (T > 3) {
        p = s3 + o + cb;
        w = v128.load(w3 + cb);
        a0 = mac(a0, v128.load(p), w);
        a1 = mac(a1, v128.load(p + S), w);
        a2 = mac(a2, v128.load(p + 2 * S), w);
        a3 = mac(a3, v128.load(p + 3 * S), w);
      }
      if (relu) {
        a0 = f32x4.pmax(a0, z);
        a1 = f32x4.pmax(a1, z);
        a2 = f32x4.pmax(a2, z);
        a3 = f32x4.pmax(a3, z);
      }
      v128.store(dp, a0);
      v128.store(dp + ds, a1);
      v128.store(dp + 2 * ds, a2);
      v128.store(dp + 3 * ds, a3);
      dp += 16;
    }
  }
  for (; j < j1; j++) {
    const o = <usize>(j - j0) * S, d = dst + <usize>j * ds;
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4;
      let a = bias != 0 ? v128.load(bias + cb) : z;
      a = mac(a, v128.load(s0 + o + cb), v128.load(w0 + cb));
      if (T > 1) a = mac(a, v128.load(s1 + o + cb), v128.load(w1 + cb));
      if (T > 2) a = mac(a, v128.load(s2 + o + cb), v128.load(w2 + cb));
      if (T > 3) a = mac(a, v128.load(s3 + o + cb), v128.load(w3 + cb));
      if (relu) a = f32x4.pmax(a, z);
      v128.store(d + cb, a);
    }
  }
}

/** ReLU over count pixels of one channel group: pmax(a, 0) is a < 0 ? 0 : a, as the scalar path (NaN passes). */
function relu_group(count: i32, d: usize, ds: usize): void {
  const z = f32x4.splat(0);
  for (let j = 0; j < count; j++) {
    v128.store(d, f32x4.pmax(v128.load(d), z));
    d += ds;
  }
}

/** The interior pixels [j0, j1) of one channel group, pass after pass. */
function gather_interior(T: i32, rows3: i32, j0: i32, j1: i32, cb: usize, d: usize, ds: usize, b: v128): void {
  const n = j1 - j0, S = <usize>colStep * pixB;
  let t0 = 0;
  do {
    const first = t0 == 0;
    if (rows3 > 0) {
      if (first) gather_row3(true, true, t0, j0, n, cb, S, d, ds, b);
      else gather_row3(true, false, t0, j0, n, cb, S, d, ds, b);
    } else if (rows3 < 0) {
      if (first) gather_row3(false, true, t0, j0, n, cb, S, d, ds, b);
      else gather_row3(false, false, t0, j0, n, cb, S, d, ds, b);
    } else {
      const K = min(3, T - t0);
      if (first) {
        if (K == 3) gather_pass(3, true, t0, j0, n, cb, S, d, ds, b);
        else if (K == 2) gather_pass(2, true, t0, j0, n, cb, S, d, ds, b);
        else if (K == 1) gather_pass(1, true, t0, j0, n, cb, S, d, ds, b);
        else gather_pass(0, true, t0, j0, n, cb, S, d, ds, b);
      } else {
        if (K == 3) gather_pass(3, false, t0, j0, n, cb, S, d, ds, b);
        else if (K == 2) gather_pass(2, false, t0, j0, n, cb, S, d, ds, b);
        else gather_pass(1, false, t0, j0, n, cb, S, d, ds, b);
      }
    }
    t0 += 3;
  } while (t0 < T);
}

/** Edge pixel j, all GV channel groups: the bias, then the taps inside the row, then ReLU. */
function gather_edge(T: i32, j: i32, GV: i32, d: usize, bias: usize, hasBias: bool, relu: bool): void {
  let n = 0;
  for (let t = 0; t < T; t++) {
    if (!inRow(t, j)) continue;
    store<u32>(edgeP + (<usize>n << 3), <u32>tapAt(t, j));
    store<u32>(edgeP + (<usize>n << 3), <u32>tapW(t), 4);
    n++;
  }
  const z = f32x4.splat(0);
  for (let q = 0; q < GV; q++) {
    const cb = <usize>q << 4;
    let a = hasBias ? v128.load(bias + cb) : z;
    for (let k = 0; k < n; k++) {
      const e = edgeP + (<usize>k << 3);
      a = mac(a, v128.load(<usize>load<u32>(e) + cb), v128.load(<usize>load<u32>(e, 4) + cb));
    }
    if (relu) a = f32x4.pmax(a, z);
    v128.store(d + cb, a);
  }
}

/**
 * dst[j*ds + c] = act(bias[c] + sum over the T taps of src_t[pixel col0_t + j*colStep, channel c] * w_t[c])
 * for j < count, c < CC; taps outside the row count as zero. unit: 1 (-1) when the taps come in kernel
 * rows of 3 on consecutive source pixels rising (falling) with kx. With no taps the row is the bias.
 */
function gather(T: i32, unit: i32, count: i32, dst: usize, ds: usize, CC: i32, bias: usize, flags: i32): void {
  const hasBias = (flags & FLAG_BIAS) != 0, relu = (flags & FLAG_RELU) != 0;
  const GV = scalarMode ? 0 : CC >> 2;
  const j0 = interiorStart(T, count), j1 = interiorEnd(T, count, j0);
  const rows3 = colStep == 1 && T > 0 && T % 3 == 0 ? unit : 0;
  if (j1 > j0 && GV > 0 && pixelMajor(CC, count) && px4Fits(T, colStep == 2 && unit > 0 && T % 3 == 0 ? 1 : rows3)) {
    gather_interior_px4(unit > 0, T, j0, j1, GV, dst, ds, relu);
  } else if (j1 > j0 && GV > 0 && rows3 == 0 && tapsPixelMajor(T)) {
    gather_interior_taps(T, j0, j1, GV, dst, ds, hasBias ? bias : 0, relu);
  } else if (j1 > j0) {
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4, d = dst + <usize>j0 * ds + cb;
      gather_interior(T, rows3, j0, j1, cb, d, ds, hasBias ? v128.load(bias + cb) : f32x4.splat(0));
      if (relu) relu_group(j1 - j0, d, ds);
    }
  }
  if (GV > 0) {
    for (let j = 0; j < j0; j++) gather_edge(T, j, GV, dst + <usize>j * ds, bias, hasBias, relu);
    for (let j = j1; j < count; j++) gather_edge(T, j, GV, dst + <usize>j * ds, bias, hasBias, relu);
  }
  // The scalar sibling (and the last channels when CC is not a multiple of 4): same taps, same order.
  for (let c = GV << 2; c < CC; c++) {
    const cb = <usize>c << 2;
    const b: f32 = hasBias ? load<f32>(bias + cb) : 0;
    for (let j = 0; j < count; j++) {
      let a = b;
      for (let t = 0; t < T; t++) if (inRow(t, j)) a += load<f32>(tapAt(t, j) + cb) * load<f32>(tapW(t) + cb);
      if (relu) a = a < 0 ? 0 : a;
      store<f32>(dst + <usize>j * ds + cb, a);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Accumulate: the filter (and bias) gradient.

/**
 * w_t += the sum over the pixels of src_t * dy for the K taps t0.. (K constant after inlining, 0..3) of
 * one channel group, and db += the sum of dy when withBias; pixels in pairs, (x0*g0 + x1*g1), so each
 * sum waits on one add per two pixels.
 */
// @ts-ignore: decorator
@inline function accumulate_pass(K: i32, withBias: bool, t0: i32, j0: i32, count: i32, cb: usize, S: usize, g: usize, gs: usize,
  db: usize): void {
  const z = f32x4.splat(0);
  let p0 = K > 0 ? tapAt(t0, j0) + cb : 0, p1 = K > 1 ? tapAt(t0 + 1, j0) + cb : 0, p2 = K > 2 ? tapAt(t0 + 2, j0) + cb : 0;
  let a0 = z, a1 = z, a2 = z, ab = z;
  let j = 0;
  for (; j + 2 <= count; j += 2) {
    const v = v128.load(g), u = v128.load(g + gs);
    if (K > 0) a0 = f32x4.add(a0, mac(f32x4.mul(v128.load(p0), v), v128.load(p0 + S), u));
    if (K > 1) a1 = f32x4.add(a1, mac(f32x4.mul(v128.load(p1), v), v128.load(p1 + S), u));
    if (K > 2) a2 = f32x4.add(a2, mac(f32x4.mul(v128.load(p2), v), v128.load(p2 + S), u));
    if (withBias) ab = f32x4.add(ab, f32x4.add(v, u));
    p0 += S << 1;
    p1 += S << 1;
    p2 += S << 1;
    g += gs << 1;
  }
  if (j < count) {
    const v = v128.load(g);
    if (K > 0) a0 = mac(a0, v128.load(p0), v);
    if (K > 1) a1 = mac(a1, v128.load(p1), v);
    if (K > 2) a2 = mac(a2, v128.load(p2), v);
    if (withBias) ab = f32x4.add(ab, v);
  }
  if (K > 0) add_to(tapW(t0) + cb, a0);
  if (K > 1) add_to(tapW(t0 + 1) + cb, a1);
  if (K > 2) add_to(tapW(t0 + 2) + cb, a2);
  if (withBias) add_to(db + cb, ab);
}

/** The interior pixels [j0, j1) of one channel group: w_t (and db) += their pair sums. */
function accumulate_interior(T: i32, j0: i32, j1: i32, cb: usize, g: usize, gs: usize, db: usize): void {
  const n = j1 - j0, S = <usize>colStep * pixB;
  let t0 = 0;
  do {
    const K = min(3, T - t0);
    if (t0 == 0 && db != 0) {
      if (K == 3) accumulate_pass(3, true, t0, j0, n, cb, S, g, gs, db);
      else if (K == 2) accumulate_pass(2, true, t0, j0, n, cb, S, g, gs, db);
      else if (K == 1) accumulate_pass(1, true, t0, j0, n, cb, S, g, gs, db);
      else accumulate_pass(0, true, t0, j0, n, cb, S, g, gs, db);
    } else {
      if (K == 3) accumulate_pass(3, false, t0, j0, n, cb, S, g, gs, db);
      else if (K == 2) accumulate_pass(2, false, t0, j0, n, cb, S, g, gs, db);
      else if (K == 1) accumulate_pass(1, false, t0, j0, n, cb, S, g, gs, db);
    }
    t0 += 3;
  } while (t0 < T);
}

/** Edge pixel j, all GV channel groups: w_t += src_t * dy for the taps inside the row, db += dy. */
function accumulate_edge(T: i32, j: i32, GV: i32, g: usize, db: usize): void {
  for (let t = 0; t < T; t++) {
    if (!inRow(t, j)) continue;
    const s = tapAt(t, j), w = tapW(t);
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4;
      add_to(w + cb, f32x4.mul(v128.load(s + cb), v128.load(g + cb)));
    }
  }
  if (db != 0) for (let q = 0; q < GV; q++) add_to(db + (<usize>q << 4), v128.load(g + (<usize>q << 4)));
}

/**
 * w_t[c] += sum over j < count of src_t[pixel col0_t + j*colStep, channel c] * dy[j*CC + c] for the T
 * taps (taps outside the row count as zero), and db[c] += the sum of dy when db != 0.
 */
function accumulate(T: i32, count: i32, dy: usize, CC: i32, db: usize): void {
  const GV = scalarMode ? 0 : CC >> 2, gs = <usize>CC << 2;
  const j0 = interiorStart(T, count), j1 = interiorEnd(T, count, j0);
  if (j1 > j0) {
    for (let q = 0; q < GV; q++) {
      const cb = <usize>q << 4;
      accumulate_interior(T, j0, j1, cb, dy + <usize>j0 * gs + cb, gs, db);
    }
  }
  if (GV > 0) {
    for (let j = 0; j < j0; j++) accumulate_edge(T, j, GV, dy + <usize>j * gs, db);
    for (let j = j1; j < count; j++) accumulate_edge(T, j, GV, dy + <usize>j * gs, db);
  }
  // The scalar sibling (and the last channels): the interior in pairs, then the edges, as above.
  const S = <usize>colStep * pixB;
  for (let c = GV << 2; c < CC; c++) {
    const cb = <usize>c << 2, g0 = dy + <usize>j0 * gs + cb;
    for (let t = 0; t < T; t++) {
      if (j1 == j0) break;
      let a: f32 = 0, s = tapAt(t, j0) + cb, g = g0, j = j0;
      for (; j + 2 <= j1; j += 2) {
        a += load<f32>(s) * load<f32>(g) + load<f32>(s + S) * load<f32>(g + gs);
        s += S << 1;
        g += gs << 1;
      }
      if (j < j1) a += load<f32>(s) * load<f32>(g);
      const p = tapW(t) + cb;
      store<f32>(p, load<f32>(p) + a);
    }
    if (db != 0 && j1 > j0) {
      let a: f32 = 0, g = g0, j = j0;
      for (; j + 2 <= j1; j += 2) {
        a += load<f32>(g) + load<f32>(g + gs);
        g += gs << 1;
      }
      if (j < j1) a += load<f32>(g);
      store<f32>(db + cb, load<f32>(db + cb) + a);
    }
    for (let j = 0; j < count; j++) {
      if (j == j0) j = j1;
      if (j >= count) break;
      const g = dy + <usize>j * gs + cb;
      for (let t = 0; t < T; t++) {
        if (!inRow(t, j)) continue;
        const p = tapW(t) + cb;
        store<f32>(p, load<f32>(p) + load<f32>(tapAt(t, j) + cb) * load<f32>(g));
      }
      if (db != 0) store<f32>(db + cb, load<f32>(db + cb) + load<f32>(g));
    }
  }
}


// ---------------------------------------------------------------------------------------------------
// Filter gradient of a 3x3 window at stride 1 or 2 (depthMultiplier 1): bands of output rows.
//
// One channel group sweeps a band of output rows with its tap sums in registers and adds them to dw
// once per band: kernel rows 0 and 1 together (6 sums, each source pixel loaded once, the 3-pixel window
// sliding along the row), then kernel row 2 and the bias (4 sums). The band is as many rows as keep the
// lines one group's sweep touches in L1 (bandRows), so the next three groups, which read the other 48 bytes
// of those lines, find them there. Padding is read as zeros: a zero row above and below the image, a zero
// vector for the one padded column at either end. Order of the sums (the scalar sibling keeps it): per
// band, each tap's sum runs over the band's rows top to bottom, pixels left to right, x * dy added one
// at a time (padding included), and the band's sum is then added to dw (db likewise).

/** Whether filter_band takes the call: 3x3, undilated, the same stride (1 or 2) both ways, DM 1, at most one padded column a side. */
function bandFits(W: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PL: i32): bool {
  return variant != DW_ROWS && DM == 1 && KH == 3 && KW == 3 && DH == 1 && DW == 1 && SH == SW && SH <= 2 && PL <= 1 &&
    OW > 0 && (OW - 1) * SW + 2 - PL <= W;
}

/**
 * Output rows per band: at stride 1 a group's sweep touches a line per pixel of ~3 rows per output row; keep
 * that within ~20 KB (6 rows at width 14: 1.1x faster than 1 row). At stride 2 one row measured best (1.23x
 * faster than 6 at [32,14,14,512]).
 */
function bandRows(W: i32, S: i32): i32 {
  return S == 1 ? max(1, (320 / W - 2) / 3) : 1;
}

let zeroRowP: usize = 0;

/** Source row iy of image n (rowB bytes a row), or the zero row where iy lies in the padding. */
// @ts-ignore: decorator
@inline function bandRow(x: usize, n: i32, iy: i32, H: i32, rowB: usize): usize {
  return <u32>iy < <u32>H ? x + <usize>(n * H + iy) * rowB : zeroRowP;
}

/**
 * dw (kernel rows 0 and 1, or 2 and db when TWO is false) += one channel group's sums over output rows
 * [oy0, oy1) of image n. P: bytes per pixel; padR: the last pixel's right column is padding.
 */
// @ts-ignore: decorator
@inline function band_pass(TWO: bool, STEP: i32, x: usize, dy: usize, dw: usize, db: usize, n: i32, oy0: i32, oy1: i32, cb: usize,
  H: i32, OH: i32, OW: i32, PT: i32, PL: i32, P: usize, rowB: usize, padR: bool): void {
  const z = f32x4.splat(0), XS = <usize>STEP * P, ky = TWO ? 0 : 2;
  let a0 = z, a1 = z, a2 = z, b0 = z, b1 = z, b2 = z;
  for (let oy = oy0; oy < oy1; oy++) {
    const iy = oy * STEP - PT + ky;
    // p, r: the window's middle column for the current pixel (1 - PL for pixel 0) in the kernel row's source
    // row (and the next one); its right column is p + P.
    let p = bandRow(x, n, iy, H, rowB) + cb + <usize>(1 - PL) * P;
    let r = TWO ? bandRow(x, n, iy + 1, H, rowB) + cb + <usize>(1 - PL) * P : 0;
    let g = dy + <usize>((n * OH + oy) * OW) * P + cb;
    let xl = PL > 0 ? z : v128.load(p - P), yl = TWO && PL == 0 ? v128.load(r - P) : z;
    let xm = z, ym = z;
    if (STEP == 1) {
      xm = v128.load(p);
      if (TWO) ym = v128.load(r);
    }
    for (let j = 0; j < OW; j++) {
      if (STEP == 2) {
        xm = v128.load(p);
        if (TWO) ym = v128.load(r);
      }
      let xr = z, yr = z;
      if (!padR || j < OW - 1) {
        xr = v128.load(p + P);
        if (TWO) yr = v128.load(r + P);
      }
      const v = v128.load(g);
      a0 = mac(a0, xl, v);
      a1 = mac(a1, xm, v);
      a2 = mac(a2, xr, v);
      if (TWO) {
        b0 = mac(b0, yl, v);
        b1 = mac(b1, ym, v);
        b2 = mac(b2, yr, v);
      } else b0 = f32x4.add(b0, v);
      if (STEP == 1) {
        xl = xm;
        xm = xr;
        yl = ym;
        ym = yr;
      } else {
        xl = xr;
        yl = yr;
      }
      p += XS;
      r += XS;
      g += P;
    }
  }
  const t = dw + <usize>(ky * 3) * P + cb;
  add_to(t, a0);
  add_to(t + P, a1);
  add_to(t + 2 * P, a2);
  if (TWO) {
    add_to(t + 3 * P, b0);
    add_to(t + 4 * P, b1);
    add_to(t + 5 * P, b2);
  } else if (db != 0) add_to(db + cb, b0);
}

/** band_pass for one channel c (cb = 4c), in scalar code: the same sums in the same order. */
function band_pass_scalar(TWO: bool, STEP: i32, x: usize, dy: usize, dw: usize, db: usize, n: i32, oy0: i32, oy1: i32, cb: usize,
  H: i32, OH: i32, OW: i32, PT: i32, PL: i32, P: usize, rowB: usize, padR: bool): void {
  const XS = <usize>STEP * P, ky = TWO ? 0 : 2, R = TWO ? 2 : 1;
  for (let k = 0; k < R; k++) {
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, ab: f32 = 0;
    for (let oy = oy0; oy < oy1; oy++) {
      const row = bandRow(x, n, oy * STEP - PT + ky + k, H, rowB) + cb;
      let g = dy + <usize>((n * OH + oy) * OW) * P + cb;
      for (let j = 0; j < OW; j++) {
        const c0 = j * STEP - PL, v = load<f32>(g);
        const xl: f32 = c0 >= 0 ? load<f32>(row + <usize>c0 * P) : 0;
        const xm = load<f32>(row + <usize>(c0 + 1) * P);
        const xr: f32 = padR && j == OW - 1 ? 0 : load<f32>(row + <usize>(c0 + 2) * P);
        a0 += xl * v;
        a1 += xm * v;
        a2 += xr * v;
        ab += v;
        g += P;
      }
    }
    const t = dw + <usize>((ky + k) * 3) * P + cb;
    store<f32>(t, load<f32>(t) + a0);
    store<f32>(t + P, load<f32>(t + P) + a1);
    store<f32>(t + 2 * P, load<f32>(t + 2 * P) + a2);
    if (!TWO && db != 0) store<f32>(db + cb, load<f32>(db + cb) + ab);
  }
}

/** depthwise_backward_filter where bandFits: dw and db (zeroed by the caller) += the band sums. */
function filter_band(x: usize, dy: usize, dw: usize, db: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, S: i32, PT: i32,
  PL: i32): void {
  const P = <usize>C << 2, rowB = <usize>W * P, padR = (OW - 1) * S + 2 - PL == W, B = bandRows(W, S);
  const GV = scalarMode ? 0 : C >> 2;
  zero_f32(zeroRowP, W * C);
  for (let n = 0; n < N; n++) {
    for (let oy0 = 0; oy0 < OH; oy0 += B) {
      const oy1 = min(OH, oy0 + B);
      for (let q = 0; q < GV; q++) {
        const cb = <usize>q << 4;
        if (S == 1) {
          band_pass(true, 1, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
          band_pass(false, 1, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
        } else {
          band_pass(true, 2, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
          band_pass(false, 2, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
        }
      }
      for (let c = GV << 2; c < C; c++) {
        const cb = <usize>c << 2;
        band_pass_scalar(true, S, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
        band_pass_scalar(false, S, x, dy, dw, db, n, oy0, oy1, cb, H, OH, OW, PT, PL, P, rowB, padR);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Kernels

/** Taps of output row oy: each kernel tap whose input row lies inside the image, (ky, kx) ascending. */
function forward_taps(img: usize, w: usize, oy: i32, H: i32, CC: i32, KH: i32, KW: i32, SH: i32, DH: i32, DW: i32, PT: i32, PL: i32): i32 {
  let T = 0;
  for (let ky = 0; ky < KH; ky++) {
    const iy = oy * SH - PT + ky * DH;
    if (iy < 0 || iy >= H) continue;
    const row = source_row(img, iy);
    for (let kx = 0; kx < KW; kx++) T = add_tap(T, row, f32p(w, (ky * KW + kx) * CC), kx * DW - PL);
  }
  return T;
}

/** Whether kernel rows are 3 taps on consecutive source pixels (gather's unit), with their direction. */
// @ts-ignore: decorator
@inline function unitOf(KW: i32, DW: i32, sign: i32): i32 {
  return KW == 3 && DW == 1 ? sign : 0;
}

/**
 * y = act(depthwise(x, w) + bias). Padding: PT above, PL left (TensorFlow's rule, from the host);
 * dilations DH, DW. scratch: depthwiseScratchFloats on the host.
 */
export function depthwise_forward(x: usize, w: usize, bias: usize, y: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, flags: i32): void {
  const CC = C * DM, ccb = <usize>CC << 2, unit = unitOf(KW, DW, 1);
  setup(scratch, KH, KW, DH, W, C, DM, SW, 0);
  pack_weights(w, (flags & FLAG_BIAS) != 0 ? bias : 0, KH, KW, DW, CC);
  touchEnd = DM > 1 ? ringP + (<usize>(ringR * W * CC) << 2) - 1 : f32p(x, N * H * W * C) - 1;
  for (let n = 0; n < N; n++) {
    new_image();
    const img = f32p(x, n * H * W * C), yimg = f32p(y, n * OH * OW * CC);
    for (let oy = 0; oy < OH; oy++) {
      const T = forward_taps(img, w, oy, H, CC, KH, KW, SH, DH, DW, PT, PL);
      gather(T, unit, OW, f32p(yimg, oy * OW * CC), ccb, CC, bias, flags);
    }
  }
}

/**
 * dw (overwritten) = sum over pixels of the input at each tap times dy; db likewise when flags has
 * FLAG_BIAS. Each output row's sums are formed first, then added.
 */
export function depthwise_backward_filter(x: usize, dy: usize, dw: usize, db: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, flags: i32): void {
  const CC = C * DM, hasBias = (flags & FLAG_BIAS) != 0;
  zero_f32(dw, KH * KW * CC);
  if (hasBias) zero_f32(db, CC);
  setup(scratch, KH, KW, DH, W, C, DM, SW, 0);
  if (bandFits(W, OW, DM, KH, KW, SH, SW, DH, DW, PL)) {
    zeroRowP = rowbufP;
    filter_band(x, dy, dw, hasBias ? db : 0, N, H, W, C, OH, OW, SH, PT, PL);
    return;
  }
  for (let n = 0; n < N; n++) {
    new_image();
    const img = f32p(x, n * H * W * C);
    for (let oy = 0; oy < OH; oy++) {
      const T = forward_taps(img, dw, oy, H, CC, KH, KW, SH, DH, DW, PT, PL);
      accumulate(T, OW, f32p(dy, (n * OH + oy) * OW * CC), CC, hasBias ? db : 0);
    }
  }
}

/** Taps of input row iy, phase px (columns px, px + SW, ...) of the input gradient: dy rows and kernel taps, (ky, kx) ascending. */
function input_taps(img: usize, w: usize, iy: i32, px: i32, OH: i32, OW: i32, CC: i32, KH: i32, KW: i32, SH: i32, SW: i32,
  DH: i32, DW: i32, PT: i32, PL: i32): i32 {
  let T = 0;
  for (let ky = 0; ky < KH; ky++) {
    const q = iy + PT - ky * DH;
    if (q < 0 || q % SH != 0 || q / SH >= OH) continue;
    const row = f32p(img, (q / SH) * OW * CC);
    for (let kx = 0; kx < KW; kx++) {
      const qx = px + PL - kx * DW;
      // qx / SW rounds towards zero: exact here, since qx % SW == 0.
      if (qx % SW == 0) T = add_tap(T, row, f32p(w, (ky * KW + kx) * CC), qx / SW);
    }
  }
  return T;
}

/**
 * dx = the gradient w.r.t. the input, gathered: input pixel (iy, ix) receives dy[oy, ox] * w[ky, kx]
 * wherever oy*SH - PT + ky*DH == iy (and likewise across). Input columns ix = px, px + SW, ... share one
 * set of kernel columns, and their dy columns advance by one pixel, so each (row, phase px) is one gather
 * over dy rows. With depthMultiplier > 1 a row is formed per output channel in scratch and summed over m.
 */
export function depthwise_backward_input(dy: usize, w: usize, dx: usize, scratch: usize,
  N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, DM: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32): void {
  const CC = C * DM, ccb = <usize>CC << 2, unit = SW == 1 ? unitOf(KW, DW, -1) : 0;
  setup(scratch, KH, KW, DH, OW, CC, 1, 1, DM > 1 ? W * CC : 0);
  stridedInput = SW > 1;
  pack_weights(w, 0, KH, KW, DW, CC);
  touchEnd = f32p(dy, N * OH * OW * CC) - 1;
  for (let n = 0; n < N; n++) {
    const img = f32p(dy, n * OH * OW * CC);
    for (let iy = 0; iy < H; iy++) {
      const dxrow = f32p(dx, (n * H + iy) * W * C);
      const out = DM > 1 ? rowbufP : dxrow;
      for (let px = 0; px < min(SW, W); px++) {
        const T = input_taps(img, w, iy, px, OH, OW, CC, KH, KW, SH, SW, DH, DW, PT, PL);
        gather(T, unit, (W - px + SW - 1) / SW, f32p(out, px * CC), <usize>SW * ccb, CC, 0, 0);
      }
      if (DM > 1) {
        for (let i = 0; i < W * C; i++) {
          const p = f32p(out, i * DM);
          let s = load<f32>(p);
          for (let m = 1; m < DM; m++) s += load<f32>(f32p(p, m));
          store<f32>(f32p(dxrow, i), s);
        }
      }
    }
  }
}
