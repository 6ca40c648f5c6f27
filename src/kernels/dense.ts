// Host side of the dense family.
import type { Backend } from '../backend.js';

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

export function denseScratchFloats(IN: number, OUT: number): number {
  return Math.max(roundUp(OUT, 8) * IN, roundUp(IN, 8) * OUT);
}
export function denseForward(
  be: Backend,
  x: number,
  w: number,
  bias: number,
  y: number,
  scratch: number,
  N: number,
  IN: number,
  OUT: number,
  flags: number,
): void {
  be.k.dense_forward(x, w, bias, y, scratch, N, IN, OUT, flags);
}
export function denseBackward(
  be: Backend,
  x: number,
  w: number,
  dy: number,
  dx: number,
  dw: number,
  db: number,
  scratch: number,
  N: number,
  IN: number,
  OUT: number,
  flags: number,
): void {
  be.k.dense_backward(x, w, dy, dx, dw, db, scratch, N, IN, OUT, flags);
}
