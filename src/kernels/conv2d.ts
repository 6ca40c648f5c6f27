// Host side of the conv2d family: scratch sizing and the calls, in the kernels' fixed argument order.
// Undilated 3x3 stride-1 convolutions go to Winograd (kernels/winograd.ts) when the caller passes the layer's cache
// and the rule (or setConvAlgorithm) picks it for this call; everything else to the direct kernels.
import type { Backend } from '../backend.js';
import type { Kernels } from '../generated/kernels.js';
import type { Window2D } from './geometry.js';
import { maxPool2x2InPlace } from './pool.js';
import { partRange, splitFor } from './split.js';
import {
  winogradBackwardFilter,
  FLAG_POOL2X2,
  winogradBackwardInput,
  winogradBlocks,
  winogradCacheFloats,
  winogradFilters,
  winogradForward,
  winogradPlanned,
  winogradScratchFloats,
  winogradTileFor,
} from './winograd.js';

const roundUp8 = (v: number) => Math.ceil(v / 8) * 8;

/**
 * Floats of scratch the conv kernels need for one call (independent of the batch size), Winograd's where
 * planned (`winograd` false: for callers that never pass a cache, so always run direct).
 */
export function conv2dScratchFloats(g: Window2D, OC: number, winograd = winogradPlanned(g, OC)): number {
  const run = g.KW * g.C,
    K = g.KH * run;
  // The padded image, stored as DW column phases of ceil(Wp / DW) columns each when dilated.
  const phased = g.DW * Math.ceil((g.W + g.PL + g.PR) / g.DW);
  const padded = g.PT + g.PL + g.PB + g.PR > 0 || g.DW > 1 ? (g.H + g.PT + g.PB) * phased * g.C : 0;
  const offsets = g.OH * g.OW;
  const forward = roundUp8(OC) * (K + 1) + padded + offsets; // + 1: conv2d_forward_fused's packed bias
  const backwardInput = g.KH * roundUp8(run) * OC + padded + offsets;
  const pointwise = Math.max(roundUp8(OC) * g.C, roundUp8(g.C) * OC); // 1x1 kernels pack B for the GEMM
  const wino = winograd ? Math.max(winogradScratchFloats(g, OC, 2), winogradScratchFloats(g, OC, 4)) : 0;
  return Math.max(forward, backwardInput, pointwise, wino, 16);
}

/** The conv kernels' arguments after N (H, W, C, OH, OW, OC, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR), typed from the wasm exports. */
type ConvDims = Parameters<Kernels['conv2d_backward_input']> extends [number, number, number, number, number, ...infer D] ? D : never;
const dims = (g: Window2D, OC: number): ConvDims => [
  g.H,
  g.W,
  g.C,
  g.OH,
  g.OW,
  OC,
  g.KH,
  g.KW,
  g.SH,
  g.SW,
  g.DH,
  g.DW,
  g.PT,
  g.PL,
  g.PB,
  g.PR,
];

/** Floats a conv layer keeps across calls: Winograd's transformed filters (the input gradient's only for training), where planned. */
export function conv2dCacheFloats(g: Window2D, OC: number, training: boolean): number {
  return winogradPlanned(g, OC) ? winogradCacheFloats(g.C, OC, training) : 0;
}

let fusedOn = true;
/** Tests and benchmarks (A/B): false sends every call that would take conv2d_forward_fused to conv2d_forward (+ a pooling pass). */
export function setFusedConv(on: boolean): void {
  fusedOn = on;
}

/** flags of conv2d_forward with no activation or ReLU (bias_act's code 0 or 1, or FLAG_RELU). */
const linearOrRelu = (flags: number) => flags >> 8 <= 1;

/**
 * Whether a forward call takes conv2d_forward_fused, the kernel that finishes each output tile (bias, ReLU,
 * and a 2x2 max pool when asked) in registers: undilated, not 1x1, up to 3 input channels, no other
 * activation. bench/first-conv.ts: 1.13-1.45x conv2d_forward + bias/ReLU at 1-3 channels (1.3-2.3x with
 * the pool against the pooling pass), 1.00-1.02x at 4 and 8, where conv2d_forward's runs of taps are long.
 */
export function fusedConvApplies(g: Window2D, flags: number): boolean {
  return fusedOn && g.C <= 3 && g.DH === 1 && g.DW === 1 && g.KH * g.KW > 1 && linearOrRelu(flags);
}

/**
 * y = act(conv(x) + bias) by conv2d_forward_fused, for calls where fusedConvApplies; `pool`: then its 2x2
 * stride-2 max pool, [N, floor(OH/2), floor(OW/2), OC], in the same kernel (inference: no winners kept).
 */
export function conv2dForwardFused(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  flags: number,
  pool: boolean,
): void {
  be.k.conv2d_forward_fused(x, w, bias, y, scratch, N, ...dims(g, OC), flags, pool ? 1 : 0);
}

/**
 * With `cache` (conv2dCacheFloats floats of the layer's) and the weights `version` they must match, a call
 * may run Winograd; without, it runs the direct kernels. `pool` (inference): y is the 2x2 stride-2 max pool
 * of the output, [N, floor(OH/2), floor(OW/2), OC], pooled as Winograd and the fused kernel finish their
 * tiles, or in place after conv2d_forward.
 */
export function conv2dForward(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  flags: number,
  cache = 0,
  version = 0,
  pool = false,
): void {
  const m = cache ? winogradTileFor(g, OC, 'forward', N) : 0;
  const u = m ? winogradFilters(be, cache, w, g.C, OC, m, false, version) : 0;
  if (m && pool) flags |= FLAG_POOL2X2;
  // Output rows in runs that start at multiples of the Winograd tile (each part's tiles are the whole
  // call's) or of the pool's 2 rows; a pool after conv2d_forward runs in place, so that path stays whole.
  const align = m || (pool ? 2 : 1);
  const s = (m || !pool || fusedConvApplies(g, flags)) && splitFor(N, 2 * g.OH * g.OW * OC * g.KH * g.KW * g.C, Math.ceil(g.OH / align));
  if (s) {
    const TB = m ? winogradBlocks(g, OC, m).forward : 0;
    s.split.run(s.parts, conv2dScratchFloats(g, OC), (p, bp, sp) => {
      const [r0, r1] = partRange(g.OH, s.parts, align, p);
      if (r0 === r1) return;
      const top = r0 * g.SH - g.PT,
        bottom = (r1 - 1) * g.SH - g.PT + (g.KH - 1) * g.DH;
      const x0 = Math.max(0, top),
        x1 = Math.min(g.H - 1, bottom);
      const part: Window2D = { ...g, H: x1 - x0 + 1, OH: r1 - r0, PT: x0 - top, PB: bottom - x1 };
      const xp = x + x0 * g.W * g.C * 4,
        yp = y + (pool ? (r0 >> 1) * (g.OW >> 1) : r0 * g.OW) * OC * 4;
      if (m) winogradForward(bp, xp, u, bias, yp, sp, part, 1, OC, m, flags, TB);
      else conv2dForwardDirect(bp, xp, w, bias, yp, sp, part, 1, OC, flags, pool);
    });
    return;
  }
  if (m) winogradForward(be, x, u, bias, y, scratch, g, N, OC, m, flags);
  else conv2dForwardDirect(be, x, w, bias, y, scratch, g, N, OC, flags, pool);
}

function conv2dForwardDirect(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  flags: number,
  pool: boolean,
): void {
  if (fusedConvApplies(g, flags)) return conv2dForwardFused(be, x, w, bias, y, scratch, g, N, OC, flags, pool);
  be.k.conv2d_forward(x, w, bias, y, scratch, N, ...dims(g, OC), flags);
  if (pool) maxPool2x2InPlace(be, y, g.OH, g.OW, OC, N);
}

export function conv2dBackwardInput(
  be: Backend,
  dy: number,
  w: number,
  dx: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  cache = 0,
  version = 0,
): void {
  const m = cache ? winogradTileFor(g, OC, 'grad-input', N) : 0;
  if (m) winogradBackwardInput(be, dy, winogradFilters(be, cache, w, g.C, OC, m, true, version), dx, scratch, g, N, OC, m);
  else be.k.conv2d_backward_input(dy, w, dx, scratch, N, ...dims(g, OC));
}

export function conv2dBackwardFilter(
  be: Backend,
  x: number,
  dy: number,
  dw: number,
  db: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  flags: number,
  cache = 0,
): void {
  const m = cache ? winogradTileFor(g, OC, 'grad-filter', N) : 0;
  if (m) winogradBackwardFilter(be, x, dy, dw, db, scratch, g, N, OC, m, flags);
  else be.k.conv2d_backward_filter(x, dy, dw, db, scratch, N, ...dims(g, OC), flags);
}
