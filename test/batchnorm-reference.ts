// Float64 references for batch normalization and dropout, written from the definitions: per-channel
// statistics over every row of x [rows, C], the textbook backward formula; dropout masks restated from
// the hash the kernels document.
import { dropoutConstants, dropoutKeys } from '../src/kernels/dropout.js';
import type { Model } from '../src/engine/model.js';
import { Rng } from '../src/random.js';
import type { Arr } from './reference.js';

/** Mean and biased variance per channel, two passes in float64. */
export function momentsRef(x: Arr, rows: number, C: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(C),
    variance = new Float64Array(C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) mean[c] += x[r * C + c];
  for (let c = 0; c < C; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const d = x[r * C + c] - mean[c];
      variance[c] += d * d;
    }
  for (let c = 0; c < C; c++) variance[c] /= rows;
  return { mean, variance };
}

/** y = gamma * (x - mean) / sqrt(variance + eps) + beta per channel (gamma/beta null: 1/0), optionally relu. */
export function normalizeRef(
  x: Arr,
  rows: number,
  C: number,
  mean: Arr,
  variance: Arr,
  gamma: Arr | null,
  beta: Arr | null,
  eps: number,
  relu = false,
): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const v = ((gamma ? gamma[c] : 1) * (x[r * C + c] - mean[c])) / Math.sqrt(variance[c] + eps) + (beta ? beta[c] : 0);
      y[r * C + c] = relu ? Math.max(v, 0) : v;
    }
  return y;
}

/** Training-mode gradients with the batch's own statistics (computed here from x). */
export function batchNormBackwardRef(x: Arr, dy: Arr, rows: number, C: number, gamma: Arr | null, eps: number) {
  const { mean, variance } = momentsRef(x, rows, C);
  const dgamma = new Float64Array(C),
    dbeta = new Float64Array(C),
    dx = new Float64Array(rows * C);
  const invstd = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      dbeta[c] += dy[i];
      dgamma[c] += dy[i] * (x[i] - mean[c]) * invstd[c];
    }
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < C; c++) {
      const i = r * C + c,
        xhat = (x[i] - mean[c]) * invstd[c];
      dx[i] = ((gamma ? gamma[c] : 1) * invstd[c] * (rows * dy[i] - dbeta[c] - xhat * dgamma[c])) / rows;
    }
  return { dx, dgamma, dbeta, mean, variance };
}

/** lowbias32 of i * k1 + k2, restated: element i is kept when its top 24 bits reach the threshold. */
export function keptRef(i: number, k1: number, k2: number, threshold: number): boolean {
  let h = (Math.imul(i, k1) + k2) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 8 >= threshold;
}

/**
 * The multipliers (scale or 0) a dropout layer with its own seed uses at its k-th training call (0-based),
 * for `count` elements; element i draws the hash of group(i) (i itself, or sample * C + channel).
 */
export function seededMask(seed: number, call: number, rate: number, count: number, group: (i: number) => number): Float32Array {
  const rng = new Rng(seed);
  for (let c = 0; c < call; c++) dropoutKeys(rng);
  const { k1, k2 } = dropoutKeys(rng),
    { threshold, scale } = dropoutConstants(rate);
  return Float32Array.from({ length: count }, (_, i) => (keptRef(group(i), k1, k2, threshold) ? scale : 0));
}

/** Every weight of m random; BN's gamma and moving variance in [0.5, 1.5) (ones and zeros would hide mistakes). */
export function randomWeights(m: Model, seed: number): void {
  const rng = new Rng(seed),
    specs = m.weightSpecs();
  m.setWeights(
    m.getWeights().map((w, i) => {
      const positive = /(variance|gamma)$/.test(specs[i].name);
      return w.map(() => (positive ? 0.5 + rng.uniform() : rng.uniform() - 0.5));
    }),
  );
}
