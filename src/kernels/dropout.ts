// Host side of the dropout family. The kernels keep element i of a call when
// hash(i * k1 + k2) >>> 8 >= threshold, so P(keep) = 1 - threshold / 2^24 = 1 - rate (to 2^-24), and
// multiply kept values by TF.js's float32 1 / (1 - rate).
import type { Rng } from '../random.js';

export interface DropoutKeys {
  /** Odd: i * k1 visits every residue, so two calls' index streams are not shifts of one another. */
  k1: number;
  k2: number;
}

/** The keys of one call (int32 values, as the kernels take them). */
export function dropoutKeys(rng: Rng): DropoutKeys {
  return { k1: rng.nextU32() | 1 | 0, k2: rng.nextU32() | 0 };
}

/** The kernels' threshold and scale for a rate in [0, 1). */
export function dropoutConstants(rate: number): { threshold: number; scale: number } {
  return { threshold: Math.ceil(rate * 2 ** 24), scale: Math.fround(1 / Math.fround(1 - rate)) };
}
