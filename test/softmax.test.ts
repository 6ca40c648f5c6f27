// Softmax and the fused softmax + crossentropy loss/gradient against the float64 reference.
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry, randomArray, softmaxRef } from './reference.js';
import { expectClose, get, put, type Variant, variants, zeros } from './wasm.js';

let vs: Variant[];
beforeAll(async () => { vs = await variants(); });

describe('softmax kernels', () => {
  for (const [N, C] of [[1, 1], [3, 10], [5, 7], [2, 33]]) {
    it(`softmax x=[${N},${C}] forward/backward, stable for logits of 80`, () => {
      const rnd = mulberry(N * 100 + C);
      const x = randomArray(N * C, rnd, 3), dy = randomArray(N * C, rnd);
      x[0] = 80; // exp(80) overflows float32 unless the max is subtracted first
      const p = softmaxRef(x, N, C);
      const dx = Float64Array.from(p, (_, i) => {
        const r = Math.floor(i / C);
        let dot = 0;
        for (let j = 0; j < C; j++) dot += dy[r * C + j] * p[r * C + j];
        return p[i] * (dy[i] - dot);
      });
      for (const { name, be } of vs) {
        const px = put(be, x), py = zeros(be, N * C), pdx = zeros(be, N * C);
        be.k.softmax_forward(px, py, N, C);
        expectClose(get(be, py, N * C), p, `${name} softmax`, 1e-5, 1e-7);
        be.k.softmax_backward(py, put(be, dy), pdx, N, C);
        expectClose(get(be, pdx, N * C), dx, `${name} softmax grad`, 1e-4, 1e-6);
      }
    });
    it(`softmax-crossentropy x=[${N},${C}] sparse and one-hot: loss, fused gradient, accuracy`, () => {
      const rnd = mulberry(N * 7 + C);
      const p = softmaxRef(randomArray(N * C, rnd, 2), N, C);
      const labels = Int32Array.from({ length: N }, () => Math.floor(rnd() * C));
      const onehot = new Float32Array(N * C);
      labels.forEach((l, i) => (onehot[i * C + l] = 1));
      const loss = Array.from(labels).reduce((s, l, i) => s - Math.log(Math.min(Math.max(p[i * C + l], 1e-7), 1 - 1e-7)), 0);
      const grad = Float64Array.from(p, (v, i) => (v - onehot[i]) / N);
      let correct = 0;
      labels.forEach((l, i) => { const row = Array.from(p.subarray(i * C, i * C + C)); if (row.indexOf(Math.max(...row)) === l) correct++; });
      for (const { name, be } of vs) {
        const pp = put(be, Float32Array.from(p)), pl = be.alloc(N * 4), pt = put(be, onehot), pg = zeros(be, N * C);
        be.i32.set(labels, pl >> 2);
        expect(be.k.softmax_xent_sparse(pp, pl, pg, N, C, 1 / N)).toBeCloseTo(loss, 4);
        expectClose(get(be, pg, N * C), grad, `${name} sparse grad`, 1e-5, 1e-7);
        expect(be.k.softmax_xent_dense(pp, pt, pg, N, C, 1 / N)).toBeCloseTo(loss, 4);
        expectClose(get(be, pg, N * C), grad, `${name} one-hot grad`, 1e-5, 1e-7);
        expect(be.k.count_correct_sparse(pp, pl, N, C)).toBe(correct);
        expect(be.k.count_correct_dense(pp, pt, N, C)).toBe(correct);
      }
    });
  }
});
