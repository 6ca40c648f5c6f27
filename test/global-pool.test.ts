// Global average and max pooling kernels, forward and backward: every variant (plain SIMD, relaxed, scalar)
// against float64 references on image sizes from 1x1 to primes and channel counts around the 4-lane width,
// each buffer flush against the end of memory once; and against TF.js's cpu kernels (tf.mean / tf.max over
// H and W, and their gradients), which they follow operation for operation: equal bit for bit. None of these
// kernels multiply-adds, so all three variants give identical bits.
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/random.js';
import { createVariants, expectBitwise, expectClose, sumTol, type Variant } from './helpers.js';
import { runAllVariants } from './kernel-run.js';
import { mulberry32, randomArray } from './reference.js';
import { tf } from './tfjs-helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
  await tf.setBackend('cpu');
});

const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [2, 3, 5, 3],
  [1, 7, 7, 4],
  [3, 5, 2, 5],
  [2, 4, 4, 8],
  [1, 11, 13, 17],
  [2, 1, 9, 13],
  [1, 6, 6, 33],
];
const name = (s: number[]) => `x=[${s.join(',')}]`;

function avgRef(x: ArrayLike<number>, dy: ArrayLike<number>, N: number, P: number, C: number) {
  const y = new Float64Array(N * C),
    dx = new Float64Array(N * P * C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let p = 0; p < P; p++) s += x[(n * P + p) * C + c];
      y[n * C + c] = s / P;
      for (let p = 0; p < P; p++) dx[(n * P + p) * C + c] = dy[n * C + c] / P;
    }
  return { y, dx };
}

function maxRef(x: ArrayLike<number>, dy: ArrayLike<number>, N: number, P: number, C: number) {
  const y = new Float64Array(N * C),
    dx = new Float64Array(N * P * C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      let m = -Infinity;
      for (let p = 0; p < P; p++) m = Math.max(m, x[(n * P + p) * C + c]);
      y[n * C + c] = m;
      for (let p = 0; p < P; p++) dx[(n * P + p) * C + c] = x[(n * P + p) * C + c] === m ? dy[n * C + c] : 0;
    }
  return { y, dx };
}

/** TF.js's own forward and gradient (cpu): mean or max over axes 1 and 2 of [N, H, W, C]. */
function tfjsRef(kind: 'avg' | 'max', shape: number[], x: Float32Array, dy: Float32Array) {
  const op = (t: tf.Tensor) => (kind === 'avg' ? tf.mean(t, [1, 2]) : tf.max(t, [1, 2]));
  return tf.tidy(() => {
    const xt = tf.tensor(x, shape),
      dyt = tf.tensor(dy, [shape[0], shape[3]]);
    const y = op(xt).dataSync() as Float32Array;
    const dx = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), dyt)))(xt)
      .dataSync() as Float32Array;
    return { y: y.slice(), dx: dx.slice() };
  });
}

function run(kind: 'avg' | 'max', s: number[], x: Float32Array, dy: Float32Array, last: string[] = []) {
  const [N, H, W, C] = s,
    P = H * W;
  return runAllVariants(
    vs,
    `global ${kind}pool ${name(s)}`,
    { x, dy },
    { y: N * C, dx: N * P * C },
    ({ be }, p) => {
      if (kind === 'avg') {
        be.k.global_avgpool_forward(p.x, p.y, N, P, C);
        be.k.global_avgpool_backward(p.dy, p.dx, N, P, C);
      } else {
        be.k.global_maxpool_forward(p.x, p.y, N, P, C);
        be.k.global_maxpool_backward(p.x, p.y, p.dy, p.dx, N, P, C);
      }
    },
    last,
  );
}

describe('global pooling kernels vs float64 and vs TF.js (bit for bit)', () => {
  SHAPES.forEach((s, i) => {
    const [N, H, W, C] = s,
      P = H * W;
    for (const kind of ['avg', 'max'] as const) {
      it(`global ${kind}pool ${name(s)} forward and backward`, () => {
        const rnd = mulberry32(40 + i);
        const x = randomArray(N * P * C, rnd),
          dy = randomArray(N * C, rnd);
        if (kind === 'max' && P > 2) x[C] = x[2 * C] = 2; // a tie for the maximum: both get dy, as in TF.js
        const ref = kind === 'avg' ? avgRef(x, dy, N, P, C) : maxRef(x, dy, N, P, C);
        const theirs = tfjsRef(kind, s, x, dy);
        const out = run(kind, s, x, dy, i % 3 === 0 ? ['x', 'y', 'dy', 'dx'] : []);
        for (const { name: v } of vs) {
          expectClose(out[v].y, ref.y, kind === 'avg' ? sumTol(P) : { rtol: 0, atol: 0 }, `${v} forward`);
          expectClose(out[v].dx, ref.dx, { rtol: 2 ** -24, atol: 0 }, `${v} backward`);
          expectBitwise(out[v].y, theirs.y, `${v} forward vs TF.js`);
          expectClose(out[v].dx, theirs.dx, { rtol: 0, atol: 0 }, `${v} backward vs TF.js`); // TF.js writes -0 where we write +0
        }
        if (kind === 'max' && P > 2) expect(out.simd.dx[C], 'a tied maximum gets dy').toBe(Math.fround(dy[0]));
      });
    }
  });

  it('global maxpool x=[2,3,3,6]: a NaN anywhere in a channel gives NaN (as TF.js), -Infinity is a value like any', () => {
    const [N, P, C] = [2, 9, 6];
    const rng = new Rng(3);
    const x = Float32Array.from({ length: N * P * C }, () => rng.uniform() - 2);
    x[4 * C + 1] = NaN; // image 0, channel 1: NaN in the middle
    x[(P + P - 1) * C + 5] = NaN; // image 1, channel 5: NaN last
    x[(P + 2) * C + 2] = Infinity;
    for (let p = 0; p < P; p++) x[p * C + 3] = -Infinity;
    const dy = new Float32Array(N * C).fill(1);
    const theirs = tfjsRef('max', [N, 3, 3, C], x, dy);
    const out = run('max', [N, 3, 3, C], x, dy);
    for (const { name: v } of vs) {
      expect(Number.isNaN(out[v].y[1]) && Number.isNaN(out[v].y[C + 5]), `${v}: NaN channels`).toBe(true);
      expect(out[v].y[C + 2]).toBe(Infinity);
      expect(out[v].y[3]).toBe(-Infinity);
      expectBitwise(out[v].y, theirs.y, `${v} forward vs TF.js`);
      expectClose(out[v].dx, theirs.dx, { rtol: 0, atol: 0 }, `${v} backward vs TF.js`);
    }
  });
});
