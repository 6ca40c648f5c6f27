// Kernel-test helpers: the three kernel variants (plain SIMD, relaxed-SIMD FMA, scalar siblings), a
// per-case arena that puts arrays into wasm memory behind canaries and proves a kernel wrote nothing
// but its declared outputs, and comparisons that name the worst element.
import { setFlagsFromString } from 'node:v8';
import { expect } from 'vitest';
import { type Backend, createBackend, relaxedSupported } from '../src/backend.js';

// Node 20 validates relaxed SIMD (the FMA build) only behind a V8 flag, which must be on before that
// module compiles. Newer engines validate it by default; then this is a no-op.
if (!relaxedSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');

/** Whether this engine runs the relaxed (FMA) build; the suite asserts it on Node >= 20. */
export const RELAXED = relaxedSupported();

export type VariantName = 'simd' | 'relaxed' | 'scalar';
export interface Variant {
  name: VariantName;
  be: Backend;
}

/**
 * One fresh wasm instance per variant: the plain SIMD build, its scalar siblings (same build with
 * set_scalar(1), so no SIMD code path runs) and, when the engine has it, the relaxed-SIMD FMA build.
 */
export async function createVariants(): Promise<Variant[]> {
  const out: Variant[] = [
    { name: 'simd', be: await createBackend({ build: 'simd' }) },
    { name: 'scalar', be: await createBackend({ build: 'simd', scalar: true }) },
  ];
  if (RELAXED) out.push({ name: 'relaxed', be: await createBackend({ build: 'relaxed' }) });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Memory

/** Floats of canary after every buffer: more than the widest overshoot a v128 pair store could make. */
export const CANARY_FLOATS = 16;
/** NaN bit patterns: a kernel that reads a canary or leaves an output unwritten produces NaN, never a plausible value. */
const CANARY_BITS = 0x7fa5a5a5;
const GARBAGE_BITS = 0x7fbadbad;

interface Region {
  name: string;
  ptr: number;
  floats: number;
  canary: boolean;
}
const snapshots = new WeakMap<Backend, Uint8Array>();

/**
 * The buffers of one test case in one backend. Every buffer is followed by a canary; outputs and
 * scratch start out as NaN garbage (kernels overwrite their outputs and must not rely on zeroed
 * scratch). `run` executes a kernel call and then checks that memory changed only inside the
 * outputs it was allowed to write: canaries intact, inputs intact, static data below the heap intact.
 */
export class Arena {
  private regions: Region[] = [];
  private owned: number[] = [];
  constructor(readonly be: Backend) {}

  private region(name: string, floats: number): number {
    const ptr = this.be.alloc((floats + CANARY_FLOATS) * 4, name);
    this.owned.push(ptr);
    new Uint32Array(this.be.k.memory.buffer, ptr + floats * 4, CANARY_FLOATS).fill(CANARY_BITS);
    this.regions.push({ name, ptr, floats, canary: true });
    return ptr;
  }

  /** A float32 buffer holding data. */
  f32(name: string, data: ArrayLike<number>): number {
    const ptr = this.region(name, data.length);
    this.be.write(ptr, data);
    return ptr;
  }
  /** An int32 buffer holding data. */
  i32(name: string, data: ArrayLike<number>): number {
    const ptr = this.region(name, data.length);
    this.be.i32.set(data, ptr / 4);
    return ptr;
  }
  /** An output (or scratch) buffer of n floats, filled with NaN garbage the kernel must overwrite. */
  out(name: string, n: number): number {
    const ptr = this.region(name, n);
    new Uint32Array(this.be.k.memory.buffer, ptr, n).fill(GARBAGE_BITS);
    return ptr;
  }

  /**
   * Every buffer of a kernel call: arrays hold data, numbers are outputs of that many floats (NaN garbage);
   * `last` is placed flush against the end of memory (atEnd), so do this just before `run`.
   */
  place<K extends string>(sizes: Record<K, number | ArrayLike<number>>, last: NoInfer<K> | null = null): Record<K, number> {
    const ptr = {} as Record<K, number>;
    for (const k of Object.keys(sizes) as K[]) {
      if (k === last) continue;
      const v = sizes[k];
      ptr[k] = typeof v === 'number' ? this.out(k, v) : this.f32(k, v);
    }
    if (last) ptr[last] = this.atEnd(last, sizes[last]);
    return ptr;
  }

  /**
   * A buffer that ends exactly at the end of wasm memory, so any read or write past it traps. Grows
   * memory by fresh pages the allocator does not know of yet: make it the last buffer before `run`.
   */
  atEnd(name: string, data: ArrayLike<number> | number): number {
    const n = typeof data === 'number' ? data : data.length;
    this.be.k.memory.grow(Math.ceil((n * 4 + 64) / 65536));
    const ptr = this.be.memoryBytes - n * 4;
    if (typeof data === 'number') new Uint32Array(this.be.k.memory.buffer, ptr, n).fill(GARBAGE_BITS);
    else new Float32Array(this.be.k.memory.buffer, ptr, n).set(data); // outside the allocator's regions
    this.regions.push({ name, ptr, floats: n, canary: false });
    return ptr;
  }

  private find(ptr: number): Region {
    const r = this.regions.find((q) => q.ptr === ptr);
    if (!r) throw new Error(`no buffer at ${ptr} in this arena`);
    return r;
  }

  /** Where a byte address lies, for messages. */
  private where(addr: number): string {
    for (const r of this.regions) {
      const end = r.ptr + r.floats * 4;
      if (addr >= r.ptr && addr < end) return `inside '${r.name}' at float ${(addr - r.ptr) / 4}`;
      if (r.canary && addr >= end && addr < end + CANARY_FLOATS * 4) return `${(addr - end) / 4 + 1} float(s) past the end of '${r.name}'`;
    }
    if (addr < this.be.k.heapBase()) return `in the module's static data (below the heap base ${this.be.k.heapBase()})`;
    return 'outside every buffer of this case';
  }

  /**
   * Runs fn (a kernel call) and fails if it changed any byte outside the writable buffers: the
   * canary after each output (overruns by remainder paths), the inputs, and the rest of memory.
   */
  run<T>(label: string, writable: number[], fn: () => T): T {
    label = `[${this.be.scalar ? 'scalar' : this.be.build}] ${label}`;
    const mem = new Uint8Array(this.be.k.memory.buffer);
    let before = snapshots.get(this.be);
    if (!before || before.length !== mem.length) snapshots.set(this.be, (before = new Uint8Array(mem.length)));
    before.set(mem); // a reused buffer: allocating a fresh copy per call costs more than the kernels
    const result = fn();
    const now = new Uint8Array(this.be.k.memory.buffer, 0, before.length);
    // Let the declared outputs differ, then compare everything at native speed.
    for (const p of writable) {
      const r = this.find(p);
      before.set(now.subarray(r.ptr, r.ptr + r.floats * 4), r.ptr);
    }
    if (!Buffer.from(before.buffer).equals(Buffer.from(now.buffer, 0, before.length))) {
      const a = new Uint32Array(before.buffer),
        b = new Uint32Array(now.buffer, 0, a.length);
      let first = -1,
        count = 0;
      for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i]) {
          if (first < 0) first = i;
          count++;
        }
      expect.fail(
        `${label}: wrote outside its outputs: ${count} word(s) changed, the first at byte ${first * 4} (${this.where(first * 4)})`,
      );
    }
    return result;
  }

  /** Copy of a float buffer; fails if its canary was touched (even outside `run`). */
  read(ptr: number): Float32Array {
    const r = this.find(ptr);
    this.checkCanary(r);
    return this.be.f32.slice(ptr / 4, ptr / 4 + r.floats);
  }
  readI32(ptr: number): Int32Array {
    const r = this.find(ptr);
    this.checkCanary(r);
    return this.be.i32.slice(ptr / 4, ptr / 4 + r.floats);
  }
  private checkCanary(r: Region): void {
    if (!r.canary) return;
    const c = new Uint32Array(this.be.k.memory.buffer, r.ptr + r.floats * 4, CANARY_FLOATS);
    const bad = c.findIndex((v) => v !== CANARY_BITS);
    if (bad >= 0) expect.fail(`'${r.name}' (${r.floats} floats): canary overwritten ${bad + 1} float(s) past the end`);
  }
  /** Overwrites a buffer's contents again (e.g. garbage before a second call). */
  refill(ptr: number, data?: ArrayLike<number>): void {
    const r = this.find(ptr);
    if (data) new Float32Array(this.be.k.memory.buffer, ptr, r.floats).set(data);
    else new Uint32Array(this.be.k.memory.buffer, ptr, r.floats).fill(GARBAGE_BITS);
  }

  /** Returns every buffer to the backend (end-of-memory buffers just become free memory). */
  release(): void {
    for (const p of this.owned.reverse()) this.be.release(p);
    this.owned = [];
    this.regions = [];
  }
}

/** Runs body with a fresh arena on be and releases it afterwards, pass or fail. */
export function withArena<T>(be: Backend, body: (a: Arena) => T): T {
  const a = new Arena(be);
  try {
    return body(a);
  } finally {
    a.release();
  }
}

// ---------------------------------------------------------------------------------------------------
// Comparisons

export interface Tol {
  rtol: number;
  atol: number;
}

/**
 * Tolerance for float32 results that are sums of `terms` products of values of magnitude <= 1:
 * rtol 1e-4 and atol 1e-5 * sqrt(terms). Float32 summation error grows like eps * terms (about
 * 2e-8 * terms for random signs), so this leaves a margin of >15x up to a thousand terms while
 * still catching a dropped or doubled term (an error of order 1e-1).
 */
export function sumTol(terms: number): Tol {
  return { rtol: 1e-4, atol: 1e-5 * Math.sqrt(Math.max(1, terms)) };
}

/** Flat index -> "[a,b,c]" for messages, given a shape. */
function multiIndex(i: number, shape?: readonly number[]): string {
  if (!shape) return `[${i}]`;
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return `[${idx.join(',')}]`;
}

/**
 * |actual - expected| <= atol + rtol * |expected| everywhere (NaN matches only NaN). On failure the
 * message names how many elements failed and the worst one (largest excess over its tolerance).
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol & { shape?: readonly number[] },
  label: string,
): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1,
    worstExcess = -Infinity,
    bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    let excess: number;
    if (Number.isNaN(e) || Number.isNaN(a)) excess = Number.isNaN(e) && Number.isNaN(a) ? -1 : Infinity;
    else if (a === e)
      excess = -1; // also equal infinities
    else excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > 0) {
      bad++;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    const a = actual[worst],
      e = expected[worst];
    expect.fail(
      `${label}: ${bad} of ${expected.length} element(s) out of tolerance (rtol ${tol.rtol}, atol ${tol.atol.toExponential(2)}); ` +
        `worst at ${multiIndex(worst, tol.shape)}: got ${a}, expected ${e}, |diff| ${Math.abs(a - e).toExponential(3)}`,
    );
  }
}

/** Distance in units in the last place between two float32 values (0 for equal bits, and for +0/-0). */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const f = new Float32Array([a, b]),
    i = new Int32Array(f.buffer);
  // Map the sign-magnitude bit patterns to a monotonic integer line.
  const ord = (v: number) => (v < 0 ? -0x80000000 - v : v);
  return Math.abs(ord(i[0]) - ord(i[1]));
}

/** Every element within maxUlps of the other (0: identical values; NaN matches NaN). Names the worst element. */
export function expectUlps(actual: ArrayLike<number>, expected: ArrayLike<number>, maxUlps: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1,
    worstD = 0,
    bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = ulpDistance(actual[i], expected[i]);
    if (d > maxUlps) {
      bad++;
      if (d > worstD) {
        worstD = d;
        worst = i;
      }
    }
  }
  if (bad > 0)
    expect.fail(
      `${label}: ${bad} of ${expected.length} element(s) differ by more than ${maxUlps} ulp; worst at [${worst}]: ${actual[worst]} vs ${expected[worst]} (${worstD} ulp)`,
    );
}

/** Identical float32 bit patterns, signed zeros and NaN payloads included. */
export function expectBitwise(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length),
    e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let first = -1,
    count = 0;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== e[i]) {
      if (first < 0) first = i;
      count++;
    }
  if (count > 0)
    expect.fail(`${label}: ${count} of ${a.length} element(s) differ bitwise; first at [${first}]: ${actual[first]} vs ${expected[first]}`);
}
