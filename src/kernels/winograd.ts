// Host side of the Winograd family (assembly/winograd.ts): which convolutions it serves, how big its
// transformed filters and scratch are, the tile-block size, and the calls in the kernels' argument order.
import type { Backend } from '../backend.js';
import type { Window2D } from './geometry.js';

/** Output tile edge m of F(m x m, 3 x 3). */
export type WinogradTile = 2 | 4;

const roundUp = (v: number, k: number) => Math.ceil(v / k) * k;
const alpha2 = (m: WinogradTile) => (m + 2) * (m + 2);

/** Winograd computes exactly these: 3x3 kernels at stride 1 (any padding, channels, batch). */
export function winogradApplies(g: Window2D): boolean {
  return g.KH === 3 && g.KW === 3 && g.SH === 1 && g.SW === 1;
}

/** alpha^2 matrices of `floats` each, every one followed by 16 floats of skew (see matBytes in the kernel). */
const matrices = (m: WinogradTile, floats: number) => alpha2(m) * (floats + 16);

/** Floats of one transformed filter: alpha^2 matrices [K rows, N columns rounded up to 8]. */
export function winogradFilterFloats(K: number, N: number, m: WinogradTile): number {
  return matrices(m, K * roundUp(N, 8));
}

/**
 * Tiles per block: as many as keep the block's transformed inputs and products (alpha^2 (C + OC) floats
 * per tile) within `budget` bytes. Forward and input gradient run as fast with 4 tiles as with 56 (LeNet's
 * second conv, bench:conv-rule shapes); the filter gradient reduces over the tiles of a block, so it wants
 * long blocks (3x fewer stores of its sums at 28 tiles than at 4): it gets at least 32.
 */
export function winogradBlock(C: number, OC: number, m: WinogradTile, budget = 256 * 1024): number {
  const perTile = alpha2(m) * (roundUp(C, 4) + roundUp(OC, 8)) * 4;
  return Math.max(4, Math.floor(budget / perTile / 4) * 4);
}

/** The geometry of the input gradient as a forward convolution of dy (x <-> dy, C <-> OC, padding 2 - P). */
function gradInputGeometry(
  g: Window2D,
  OC: number,
): { H: number; W: number; C: number; OH: number; OW: number; OC: number; PT: number; PL: number } {
  return { H: g.OH, W: g.OW, C: OC, OH: g.H, OW: g.W, OC: g.C, PT: 2 - g.PT, PL: 2 - g.PL };
}

const forwardFloats = (C: number, OC: number, m: WinogradTile, TB: number) =>
  matrices(m, TB * roundUp(C, 4)) + matrices(m, TB * roundUp(OC, 8)) + 8 * alpha2(m);

/** Floats of scratch the three Winograd kernels need for one call with these block sizes. */
export function winogradScratchFloats(g: Window2D, OC: number, m: WinogradTile, blocks = winogradBlocks(g, OC, m)): number {
  const filter = forwardFloats(g.C, OC, m, blocks.filter) + matrices(m, roundUp(g.C, 4) * roundUp(OC, 8));
  return Math.max(forwardFloats(g.C, OC, m, blocks.forward), forwardFloats(OC, g.C, m, blocks.input), filter);
}

export interface WinogradBlocks {
  forward: number;
  input: number;
  filter: number;
}
export function winogradBlocks(g: Window2D, OC: number, m: WinogradTile): WinogradBlocks {
  return {
    forward: winogradBlock(g.C, OC, m),
    input: winogradBlock(OC, g.C, m),
    filter: Math.max(32, winogradBlock(g.C, OC, m, 768 * 1024)),
  };
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
  TB = winogradBlock(g.C, OC, m),
): void {
  be.k.winograd_forward(x, u, bias, y, scratch, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.PT, g.PL, m, TB, flags);
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
  TB = winogradBlock(OC, g.C, m),
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
