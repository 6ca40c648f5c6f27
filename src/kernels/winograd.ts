// Host side of the Winograd family (assembly/winograd.ts): which convolutions it serves and when it is
// worth it (the measured rule and the switch that overrides it), how big its transformed filters and
// scratch are, the tile-block size, and the calls in the kernels' argument order.
import type { Backend } from '../backend.js';
import { ValueError } from '../errors.js';
import type { Window2D } from './geometry.js';

/** winograd_forward: outputs whose window reads only zeros are exactly 0 before the bias (assembly/winograd.ts). */
const FLAG_ZERO_WINDOWS = 16;
/** winograd_forward's flag (inference): y is the 2x2 stride-2 max pool of the output, rounded down. */
export const FLAG_POOL2X2 = 32;

/** Output tile edge m of F(m x m, 3 x 3). */
export type WinogradTile = 2 | 4;

/**
 * How Conv2D computes 3x3 stride-1 convolutions: 'auto' picks per shape by the rule below; 'direct'
 * never uses Winograd; 'winograd' uses F(4x4,3x3) wherever it applies; 'winograd2x2' uses F(2x2,3x3)
 * (about 10x more accurate than F(4x4), slower; docs/performance.md has both bounds).
 */
export type ConvAlgorithm = 'auto' | 'direct' | 'winograd' | 'winograd2x2';
const ALGORITHMS: readonly ConvAlgorithm[] = ['auto', 'direct', 'winograd', 'winograd2x2'];
export type ConvOp = 'forward' | 'grad-input' | 'grad-filter';

let algorithm: ConvAlgorithm = 'auto';
/** Sets how every Conv2D computes 3x3 stride-1 convolutions from its next call on (see ConvAlgorithm). */
export function setConvAlgorithm(a: ConvAlgorithm): void {
  if (!ALGORITHMS.includes(a))
    throw new ValueError(`setConvAlgorithm: expected one of ${ALGORITHMS.map((v) => `'${v}'`).join(', ')}, received ${JSON.stringify(a)}`);
  algorithm = a;
}
export function getConvAlgorithm(): ConvAlgorithm {
  return algorithm;
}

/**
 * The Winograd tile one conv call uses, or 0 for direct convolution. The 'auto' rule, from bench:conv-rule
 * (docs/performance.md): F(4x4) beat direct by 1.1-3.4x wherever these hold, and direct won or tied
 * outside them. The forward pass needs C >= 8 and OC >= 16; the input gradient (a convolution of OC
 * channels into C) C >= 8 and OC >= 8; the filter gradient the forward's channels and at least 16 tiles
 * in the batch, since its fixed cost (transforming alpha^2 C OC sums back) outweighs few tiles.
 */
export function winogradTileFor(g: Window2D, OC: number, op: ConvOp, N: number, mode: ConvAlgorithm = algorithm): 0 | WinogradTile {
  if (!winogradApplies(g) || mode === 'direct') return 0;
  if (mode === 'winograd2x2') return 2;
  if (mode === 'winograd') return 4;
  if (g.C < 8 || OC < (op === 'grad-input' ? 8 : 16)) return 0;
  if (op === 'grad-filter' && N * Math.ceil(g.OH / 4) * Math.ceil(g.OW / 4) < 16) return 0;
  return 4;
}

const roundUp = (v: number, k: number) => Math.ceil(v / k) * k;
const alpha2 = (m: WinogradTile) => (m + 2) * (m + 2);

/** Winograd computes exactly these: undilated 3x3 kernels at stride 1 (any padding, channels, batch). */
export function winogradApplies(g: Window2D): boolean {
  return g.KH === 3 && g.KW === 3 && g.SH === 1 && g.SW === 1 && g.DH === 1 && g.DW === 1;
}

/** alpha^2 matrices of `floats` each, every one followed by 16 floats of skew (see matBytes in the kernel). */
const matrices = (m: WinogradTile, floats: number) => alpha2(m) * (floats + 16);

/** Floats of one transformed filter: alpha^2 matrices [K rows, N columns rounded up to 8]. */
export function winogradFilterFloats(K: number, N: number, m: WinogradTile): number {
  return matrices(m, K * roundUp(N, 8));
}

/**
 * Tiles per block: as many as keep a block's transformed inputs and products (alpha^2 (C + OC) floats per
 * tile) within `budget` bytes, a multiple of 4 in [lo, hi].
 */
function blockOf(C: number, OC: number, m: WinogradTile, budget: number, lo: number, hi: number): number {
  const perTile = alpha2(m) * (roundUp(C, 4) + roundUp(OC, 8)) * 4;
  return Math.min(hi, Math.max(lo, Math.floor(budget / perTile / 4) * 4));
}

/** The geometry of the input gradient as a forward convolution of dy (x <-> dy, C <-> OC, padding 2 - P). */
function gradInputGeometry(
  g: Window2D,
  OC: number,
): { H: number; W: number; C: number; OH: number; OW: number; OC: number; PT: number; PL: number } {
  return { H: g.OH, W: g.OW, C: OC, OH: g.H, OW: g.W, OC: g.C, PT: 2 - g.PT, PL: 2 - g.PL };
}

const forwardFloats = (C: number, OC: number, m: WinogradTile, TB: number) =>
  matrices(m, TB * roundUp(C, 4)) + matrices(m, TB * roundUp(OC, 8)) + 8 * alpha2(m) + TB;

/** Floats of scratch the three Winograd kernels need for one call with these block sizes. */
export function winogradScratchFloats(g: Window2D, OC: number, m: WinogradTile, blocks = winogradBlocks(g, OC, m)): number {
  const filter = forwardFloats(g.C, OC, m, blocks.filter) + matrices(m, roundUp(g.C, 4) * roundUp(OC, 8));
  return Math.max(forwardFloats(g.C, OC, m, blocks.forward), forwardFloats(OC, g.C, m, blocks.input), filter);
}

/**
 * Tiles per block of each kernel. Forward and input gradient ran within 5-10% from 4 to 64 tiles (LeNet's
 * second conv, 128 channels, bench:conv-rule shapes; 16-32 best on a busy machine), so they take few and
 * keep their scratch small; the filter gradient reduces over a block's tiles and wants long blocks (1.6x
 * faster at 28 tiles than at 4).
 */
export interface WinogradBlocks {
  forward: number;
  input: number;
  filter: number;
}
export function winogradBlocks(g: Window2D, OC: number, m: WinogradTile): WinogradBlocks {
  const k = 1024;
  return {
    forward: blockOf(g.C, OC, m, 256 * k, 8, 32),
    input: blockOf(OC, g.C, m, 256 * k, 8, 32),
    filter: blockOf(g.C, OC, m, 768 * k, 32, 64),
  };
}

/**
 * Whether a plan made now gives this convolution Winograd's memory (scratch and transformed filters): where
 * 'auto' would run its forward pass or input gradient with Winograd, or everywhere Winograd applies when
 * forced, nowhere under 'direct'. A convolution planned without it runs direct whatever the switch says later.
 */
export function winogradPlanned(g: Window2D, OC: number, mode: ConvAlgorithm = algorithm): boolean {
  if (!winogradApplies(g) || mode === 'direct') return false;
  return mode !== 'auto' || winogradTileFor(g, OC, 'forward', 1, mode) !== 0 || winogradTileFor(g, OC, 'grad-input', 1, mode) !== 0;
}

/**
 * Floats a conv layer keeps between calls for Winograd: a 16-float header, then room for the forward
 * and (training) the input gradient's transformed filters at the larger tile. Header (int32): for each of
 * the two, 1 + the weights version it was made from, and its tile. Zeroed memory matches no version, so
 * the first use transforms.
 */
export function winogradCacheFloats(C: number, OC: number, training = true): number {
  return 16 + align16(winogradFilterFloats(C, OC, 4)) + (training ? winogradFilterFloats(OC, C, 4) : 0);
}
const align16 = (n: number) => Math.ceil(n / 16) * 16;

/**
 * The transformed filter (flip false: forward; true: input gradient) for weights w at `version`, made by
 * transforming w only if the cache holds another version or tile: once per weight update, however many
 * calls use it.
 */
export function winogradFilters(
  be: Backend,
  cache: number,
  w: number,
  C: number,
  OC: number,
  m: WinogradTile,
  flip: boolean,
  version: number,
): number {
  const h = cache / 4 + (flip ? 2 : 0);
  const u = cache + (flip ? 16 + align16(winogradFilterFloats(C, OC, 4)) : 16) * 4;
  const stamp = (version + 1) | 0,
    i32 = be.i32;
  if (i32[h] !== stamp || i32[h + 1] !== m) {
    // Recorded chunks share the cache (Layer.sharesCache): the transform runs once, before any of them.
    // m never depends on the batch size here (winogradTileFor), so the chunks all ask for the same one.
    be.ahead(() => winogradTransformFilter(be, w, u, C, OC, m, flip));
    be.i32[h] = stamp;
    be.i32[h + 1] = m;
  }
  return u;
}

/** u = the forward transform of w [3, 3, C, OC] (flip false) or the input gradient's (flip true). */
export function winogradTransformFilter(be: Backend, w: number, u: number, C: number, OC: number, m: WinogradTile, flip: boolean): void {
  be.k.winograd_filter_transform(w, u, C, OC, m, flip ? 1 : 0);
}

export function winogradForward(
  be: Backend,
  x: number,
  u: number,
  bias: number,
  y: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  m: WinogradTile,
  flags: number,
  TB = winogradBlocks(g, OC, m).forward,
): void {
  be.k.winograd_forward(x, u, bias, y, scratch, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.PT, g.PL, m, TB, flags | FLAG_ZERO_WINDOWS);
}

/** dx = conv(dy, flipped w^T) with uFlipped from winogradTransformFilter(..., flip = true). */
export function winogradBackwardInput(
  be: Backend,
  dy: number,
  uFlipped: number,
  dx: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  m: WinogradTile,
  TB = winogradBlocks(g, OC, m).input,
): void {
  const b = gradInputGeometry(g, OC);
  be.k.winograd_forward(dy, uFlipped, 0, dx, scratch, N, b.H, b.W, b.C, b.OH, b.OW, b.OC, b.PT, b.PL, m, TB, 0);
}

export function winogradBackwardFilter(
  be: Backend,
  x: number,
  dy: number,
  dw: number,
  db: number,
  scratch: number,
  g: Window2D,
  N: number,
  OC: number,
  m: WinogradTile,
  flags: number,
  TB = winogradBlocks(g, OC, m).filter,
): void {
  be.k.winograd_backward_filter(x, dy, dw, db, scratch, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.PT, g.PL, m, TB, flags);
}
