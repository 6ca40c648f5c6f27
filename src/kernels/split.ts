// Batch-1 inference over threads: while predict runs one sample with a pool of threads, the conv and dense
// host calls split their work into parts (output rows of a convolution, output columns of a dense layer)
// that run at once on the threads. Each part is the same kernel on a slice of the call, so every output is
// computed by the same instructions in the same order as in the whole call: the same bits on any number of
// threads. src/threads/inference.ts installs the split; without it (and for small calls) nothing changes.
import type { Backend } from '../backend.js';

export interface KernelSplit {
  /** Parts a call of `flops` floating-point operations is split into (1: run whole, on this thread). */
  parts(flops: number): number;
  /**
   * Runs part(p, be, scratch) for p < parts, one part per thread, and returns when all are done: `be` records
   * the part's kernel calls (nothing may be read back), `scratch` is the part's own `scratchFloats` floats.
   */
  run(parts: number, scratchFloats: number, part: (p: number, be: Backend, scratch: number) => void): void;
}

let active: KernelSplit | undefined;

/** f() with kernel calls split by `split`. */
export function withSplit<T>(split: KernelSplit, f: () => T): T {
  active = split;
  try {
    return f();
  } finally {
    active = undefined;
  }
}

/**
 * The split for a call of one sample doing `flops` operations in at most `most` parts, when it pays: its
 * parts (> 1) and how to run them.
 */
export function splitFor(N: number, flops: number, most: number): { split: KernelSplit; parts: number } | undefined {
  if (N !== 1 || !active) return undefined;
  const parts = Math.min(most, active.parts(flops));
  return parts > 1 ? { split: active, parts } : undefined;
}

/** [from, to) of part p when `total` is cut into `parts` near-equal runs that start at multiples of `align`. */
export function partRange(total: number, parts: number, align: number, p: number): [number, number] {
  const units = Math.ceil(total / align);
  const at = (q: number) => Math.min(total, Math.floor((q * units) / parts) * align);
  return [at(p), at(p + 1)];
}
