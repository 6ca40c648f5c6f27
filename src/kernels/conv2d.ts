// Host side of the conv2d family: scratch sizing and the calls, in the kernels' fixed argument order.
import type { Backend } from '../backend.js';
import type { Window2D } from './geometry.js';

const roundUp8 = (v: number) => Math.ceil(v / 8) * 8;

/** Floats of scratch the three conv kernels need for one call (independent of the batch size). */
export function conv2dScratchFloats(g: Window2D, OC: number): number {
  const run = g.KW * g.C,
    K = g.KH * run;
  const padded = g.PT + g.PL + g.PB + g.PR > 0 ? (g.H + g.PT + g.PB) * (g.W + g.PL + g.PR) * g.C : 0;
  const offsets = g.OH * g.OW;
  const forward = roundUp8(OC) * K + padded + offsets;
  const backwardInput = g.KH * roundUp8(run) * OC + padded + offsets;
  const pointwise = Math.max(roundUp8(OC) * g.C, roundUp8(g.C) * OC); // 1x1 kernels pack B for the GEMM
  return Math.max(forward, backwardInput, pointwise, 16);
}

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
): void {
  be.k.conv2d_forward(x, w, bias, y, scratch, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR, flags);
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
): void {
  be.k.conv2d_backward_input(dy, w, dx, scratch, N, g.H, g.W, g.C, g.OH, g.OW, OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.PB, g.PR);
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
): void {
  be.k.conv2d_backward_filter(
    x,
    dy,
    dw,
    db,
    scratch,
    N,
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
    g.PT,
    g.PL,
    g.PB,
    g.PR,
    flags,
  );
}
