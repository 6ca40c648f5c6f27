// Host side of the pooling family.
import type { Backend } from '../backend.js';
import type { Window2D } from './geometry.js';

/** arg = 0: inference, no winners kept. */
export function maxPoolForward(be: Backend, x: number, y: number, arg: number, g: Window2D, N: number): void {
  if (pairs(g)) be.k.maxpool2x2_forward(x, y, arg, N, g.H, g.W, g.C, g.OH, g.OW);
  else be.k.maxpool2d_forward(x, y, arg, N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}
export function maxPoolBackward(be: Backend, dy: number, arg: number, dx: number, g: Window2D, N: number): void {
  if (pairs(g)) be.k.maxpool2x2_backward(dy, arg, dx, N, g.H, g.W, g.C, g.OH, g.OW);
  else be.k.maxpool2d_backward(dy, arg, dx, N * g.OH * g.OW * g.C, N * g.H * g.W * g.C);
}
/** 2x2 windows at stride 2, all inside the image: no input lies in two windows (the maxpool2x2 kernels' case). */
const pairs = (g: Window2D) =>
  g.KH === 2 && g.KW === 2 && g.SH === 2 && g.SW === 2 && g.PT === 0 && g.PL === 0 && 2 * g.OH <= g.H && 2 * g.OW <= g.W;
export function avgPoolForward(be: Backend, x: number, y: number, g: Window2D, N: number): void {
  be.k.avgpool2d_forward(x, y, N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}
export function avgPoolBackward(be: Backend, dy: number, dx: number, g: Window2D, N: number): void {
  be.k.avgpool2d_backward(dy, dx, N, g.H, g.W, g.C, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL);
}
/**
 * y[N, OH/2, OW/2, C] = the 2x2 stride-2 max pool of y[N, OH, OW, C], in place (each window is read before its
 * output, which lies at or before it, is written): a convolution with a folded pool whose kernel cannot pool.
 */
export function maxPool2x2InPlace(be: Backend, y: number, OH: number, OW: number, C: number, N: number): void {
  be.k.maxpool2x2_forward(y, y, 0, N, OH, OW, C, OH >> 1, OW >> 1);
}
