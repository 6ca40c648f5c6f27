// Host side of the conv2d family: scratch sizing and the calls, in the kernels' fixed argument order.
import type { Backend } from '../backend.js';
import type { Window2D } from './geometry.js';

const COL_BYTES_TARGET = 96 * 1024; // an im2col chunk that stays in L2 next to the packed weights

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** Floats of scratch the three conv kernels need for one call (same for any batch size). */
export function conv2dScratchFloats(g: Window2D, OC: number): number {
  const K = g.KH * g.KW * g.C;
  const rows = Math.max(4, roundUp(Math.floor(COL_BYTES_TARGET / 4 / K), 4));
  const packedW = roundUp(OC, 8) * K;
  const packedWt = roundUp(K, 8) * OC;
  const pointwise = roundUp(g.C, 8) * OC; // 1x1 kernels pack B for the GEMM directly
  return Math.max(packedW, packedWt, pointwise) + rows * K;
}

export function conv2dForward(be: Backend, x: number, w: number, bias: number, y: number, scratch: number, scratchFloats: number, g: Window2D, N: number, OC: number, flags: number): void {
  be.k.conv2d_forward(x, w, bias, y, scratch, scratchFloats, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, flags);
}

export function conv2dBackwardInput(be: Backend, dy: number, w: number, dx: number, scratch: number, scratchFloats: number, g: Window2D, N: number, OC: number): void {
  be.k.conv2d_backward_input(dy, w, dx, scratch, scratchFloats, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}

export function conv2dBackwardFilter(be: Backend, x: number, dy: number, dw: number, db: number, scratch: number, scratchFloats: number, g: Window2D, N: number, OC: number, flags: number): void {
  be.k.conv2d_backward_filter(x, dy, dw, db, scratch, scratchFloats, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, flags);
}
