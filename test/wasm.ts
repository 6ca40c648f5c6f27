// Test helpers: the three kernel variants (plain SIMD, relaxed-SIMD FMA, scalar siblings) and memory I/O
// with canaries behind every output so an overrun by a remainder path is caught.
import { expect } from 'vitest';
import { type Backend, createBackend, relaxedSupported } from '../src/node.js';

export interface Variant { name: string; be: Backend }

export async function variants(): Promise<Variant[]> {
  const out: Variant[] = [
    { name: 'simd', be: await createBackend({ build: 'simd' }) },
    { name: 'scalar', be: await createBackend({ build: 'simd', scalar: true }) },
  ];
  // src/node.ts turned the V8 flag on before anything compiled, so Node 20 validates the FMA build too.
  expect(relaxedSupported(), 'relaxed SIMD should validate in Node once src/node.ts ran').toBe(true);
  out.push({ name: 'relaxed', be: await createBackend({ build: 'relaxed' }) });
  return out;
}

const CANARY = 16;
const MARK = Math.fround(-12345.678);

/** Copies data into a fresh region followed by a canary; returns its pointer. */
export function put(be: Backend, data: ArrayLike<number>): number {
  const p = be.alloc((data.length + CANARY) * 4);
  be.write(p, data);
  be.f32.fill(MARK, (p >> 2) + data.length, (p >> 2) + data.length + CANARY);
  return p;
}
export function zeros(be: Backend, n: number): number {
  return put(be, new Float32Array(n));
}
export function get(be: Backend, p: number, n: number): Float32Array {
  const v = be.f32.subarray(p >> 2, (p >> 2) + n + CANARY);
  for (let i = n; i < n + CANARY; i++) if (v[i] !== MARK) expect.fail(`wrote past the end of a ${n}-float output (at +${i - n})`);
  return v.slice(0, n);
}

/** |a - e| <= atol + rtol * |e| everywhere; the message names the worst index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, rtol = 1e-4, atol = 1e-5): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) { worst = i; worstErr = err; }
  }
  if (worst >= 0) expect.fail(`${label}: at ${worst} got ${actual[worst]}, expected ${expected[worst]}`);
}

export function expectSame(a: Float32Array, b: Float32Array, label: string): void {
  const i = a.findIndex((v, k) => !Object.is(v, b[k]));
  if (i >= 0) expect.fail(`${label}: first difference at ${i}: ${a[i]} vs ${b[i]}`);
}
