// A model's forward pass in training mode (batch statistics, dropout masks), as fit runs it, without a
// step: no gradients kept, no layer updates applied. Finite differences of it check vjp, which runs the
// same training-mode forward (predict would use the moving statistics instead).
import { expect } from 'vitest';
import type { Model } from '../src/engine/model.js';
import { TRAIN } from '../src/engine/state.js';
import { Tensor } from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';

export function trainingForward(m: Model, x: Tensor): Float32Array {
  const rt = m.runtime('trainingForward', x);
  const n = x.shape[0],
    row = x.data.length / n;
  const a = rt.ensure(n, TRAIN);
  rt.loadInput(x.data, row, null, 0, n, 0, 'trainingForward', 0);
  rt.forward(n, true);
  const out = m.outputs[0].dims.reduce((s, d) => s * d, 1);
  return rt.be.view(a.output, n * out).slice();
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/**
 * vjp's dx and weight gradients against central differences of sum(r * trainingForward(x)), at k points
 * of x and of every trainable weight (points where a ReLU kink is crossed are skipped, at most a fifth).
 * The forward must be deterministic: no dropout.
 */
export function checkTrainingVjp(m: Model, x: Tensor, seed: number, opts: { eps?: number; rtol?: number; atol?: number; k?: number } = {}) {
  const { eps = 1e-2, rtol = 2e-2, atol = 2e-3, k = 10 } = opts;
  const rng = new Rng(seed);
  const r = randomTensor([x.shape[0], ...m.outputs[0].dims], rng);
  const f = (xx: Tensor) => dot(trainingForward(m, xx), r.data);
  const { dx, grads } = m.vjp(x, r);
  const pick = (n: number) => Array.from(rng.permutation(n).subarray(0, Math.min(n, k)));
  let checked = 0,
    skipped = 0;
  const close = (a: number, b: number) => Math.abs(a - b) <= atol + rtol * Math.abs(a);
  /** As gradcheck.ts: where the differences at eps and eps/2 disagree, a ReLU kink was crossed; skip it. */
  const near = (fd: (e: number) => number, an: number, what: string) => {
    const a = fd(eps),
      b = fd(eps / 2);
    if (!close(a, b)) {
      skipped++;
      return;
    }
    expect(Math.abs(a - an), `${what}: finite difference ${a} vs analytic ${an}`).toBeLessThanOrEqual(atol + rtol * Math.abs(a));
    checked++;
  };
  for (const i of pick(x.data.length)) {
    near(
      (e) => {
        const xp = new Tensor(x.data.slice(), x.shape),
          xm = new Tensor(x.data.slice(), x.shape);
        xp.data[i] += e;
        xm.data[i] -= e;
        return (f(xp) - f(xm)) / (2 * e);
      },
      dx.data[i],
      `dx[${i}]`,
    );
  }
  const w = m.getWeights(),
    specs = m.weightSpecs();
  w.forEach((wi, t) => {
    if (!specs[t].trainable) return;
    for (const i of pick(wi.length)) {
      const v = wi[i];
      const at = (e: number) => {
        wi[i] = v + e;
        m.setWeights(w);
        const fp = f(x);
        wi[i] = v - e;
        m.setWeights(w);
        const fm = f(x);
        wi[i] = v;
        m.setWeights(w);
        return (fp - fm) / (2 * e);
      };
      near(at, grads[t][i], `${specs[t].name}[${i}]`);
    }
  });
  expect(checked, 'points compared').toBeGreaterThan(0);
  expect(skipped, `kinks skipped (of ${checked + skipped})`).toBeLessThanOrEqual(Math.floor((checked + skipped) / 5));
}
