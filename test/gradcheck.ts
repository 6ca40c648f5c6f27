// Finite-difference gradient checks against Model.vjp / computeGradients.
import { expect } from 'vitest';
import { type Model, Tensor } from '../src/node.js';
import { Rng } from '../src/random.js';

export function randomTensor(shape: number[], rng: Rng, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = (rng.uniform() * 2 - 1) * scale;
  return new Tensor(d, shape);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Picks up to k distinct indices of [0, n). */
function sample(n: number, k: number, rng: Rng): number[] {
  if (n <= k) return [...Array(n).keys()];
  const p = rng.permutation(n);
  return Array.from(p.subarray(0, k));
}

const near = (a: number, b: number, rtol: number, atol: number) => Math.abs(a - b) <= atol + rtol * Math.max(Math.abs(a), Math.abs(b));

/**
 * Compares a central difference with the analytic value. Where the differences at eps and eps/2
 * disagree, the step crossed a kink (ReLU at 0, a max-pool tie): that point is not differentiable
 * at this resolution and is skipped; the caller bounds how many are skipped.
 */
function compare(fd: (eps: number) => number, ana: number, eps: number, what: string, rtol: number, atol: number): boolean {
  const n1 = fd(eps),
    n2 = fd(eps / 2);
  if (!near(n1, n2, rtol, atol)) return false;
  if (!near(n1, ana, rtol, atol)) expect.fail(`${what}: finite difference ${n1.toExponential(5)} vs analytic ${ana.toExponential(5)}`);
  return true;
}

class Tally {
  checked = 0;
  skipped = 0;
  add(ok: boolean) {
    if (ok) this.checked++;
    else this.skipped++;
  }
  done() {
    expect(this.checked, 'points compared').toBeGreaterThan(0);
    expect(this.skipped, `non-smooth points skipped (of ${this.checked + this.skipped})`).toBeLessThanOrEqual(
      Math.floor((this.checked + this.skipped) / 5),
    );
  }
}

/**
 * Checks d(sum(r * model(x)))/d(x and weights) from vjp against central differences of predict().
 * f32 forward passes limit the precision, hence eps 1e-2 with a 2% relative tolerance.
 */
export function checkVjp(
  model: Model,
  x: Tensor,
  seed: number,
  opts: { eps?: number; rtol?: number; atol?: number; k?: number } = {},
): void {
  const { eps = 1e-3, rtol = 2e-2, atol = 2e-3, k = 12 } = opts;
  const rng = new Rng(seed);
  const out = model.predict(x);
  const r = randomTensor(out.shape, rng);
  const f = (xx: Tensor) => dot(model.predict(xx).data, r.data);
  const { dx, grads } = model.vjp(x, r);
  const tally = new Tally();
  for (const i of sample(x.data.length, k, rng)) {
    const fd = (e: number) => {
      const xp = new Tensor(x.data.slice(), x.shape),
        xm = new Tensor(x.data.slice(), x.shape);
      xp.data[i] += e;
      xm.data[i] -= e;
      return (f(xp) - f(xm)) / (2 * e);
    };
    tally.add(compare(fd, dx.data[i], eps, `dx[${i}]`, rtol, atol));
  }
  checkWeights(model, grads, () => f(x), rng, k, eps, rtol, atol, tally);
  tally.done();
}

function checkWeights(
  model: Model,
  grads: Float32Array[],
  f: () => number,
  rng: Rng,
  k: number,
  eps: number,
  rtol: number,
  atol: number,
  tally: Tally,
): void {
  const w = model.getWeights();
  const names = model.weightSpecs().map((s) => s.name);
  w.forEach((wi, t) => {
    for (const i of sample(wi.length, k, rng)) {
      const v = wi[i];
      const fd = (e: number) => {
        wi[i] = v + e;
        model.setWeights(w);
        const fp = f();
        wi[i] = v - e;
        model.setWeights(w);
        const fm = f();
        wi[i] = v;
        model.setWeights(w);
        return (fp - fm) / (2 * e);
      };
      tally.add(compare(fd, grads[t][i], eps, `${names[t]}[${i}]`, rtol, atol));
    }
  });
}

/**
 * Same for the training loss: computeGradients vs central differences of evaluate() plus `penalty` of the
 * weights (the regularizers' term, which evaluate leaves out as TF.js does).
 */
export function checkLossGradients(
  model: Model,
  x: Tensor,
  y: Int32Array,
  seed: number,
  eps = 1e-3,
  rtol = 3e-2,
  atol = 2e-3,
  penalty?: (w: Float32Array[]) => number,
): void {
  const rng = new Rng(seed);
  const { grads } = model.computeGradients(x, y);
  const tally = new Tally();
  const f = () => model.evaluate(x, y, { batchSize: x.shape[0] }).loss + (penalty ? penalty(model.getWeights()) : 0);
  checkWeights(model, grads, f, rng, 8, eps, rtol, atol, tally);
  tally.done();
}
