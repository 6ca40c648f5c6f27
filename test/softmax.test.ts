// Softmax forward/backward and the fused softmax + crossentropy (sparse labels and dense targets):
// loss, gradient w.r.t. the logits, and the accuracy counters, against the float64 reference.
// These kernels have no SIMD code (rows are short and exp has no wasm SIMD instruction), so all
// three variants must agree bit for bit; that is asserted too.
import { beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, mulberry32, randomArray, randomInts, softmaxGradRef, softmaxRef, xentDenseRef, xentSparseRef } from './reference.js';
import { createVariants, expectBitwise, expectClose, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** Every variant's outputs equal to the plain SIMD build's, bit for bit. */
function allSame(out: Record<string, Float32Array>, label: string): void {
  for (const [name, v] of Object.entries(out)) if (name !== 'simd') expectBitwise(v, out.simd, `${label}: ${name} vs simd`);
}

const shapes: [number, number][] = [
  [1, 1],
  [1, 2],
  [3, 10],
  [5, 7],
  [2, 33],
  [4, 1000],
  [7, 3],
];

describe('softmax kernels vs float64 reference', () => {
  for (const [N, C] of shapes) {
    it(`softmax x=[${N},${C}] forward and backward, stable for logits of +-80`, () => {
      const rnd = mulberry32(N * 100 + C);
      const x = randomArray(N * C, rnd, 3),
        dy = randomArray(N * C, rnd);
      x[0] = 80; // exp(80) overflows float32 unless the row maximum is subtracted first
      if (N > 1) x[C] = -80;
      if (N > 2) x.fill(0.5, 2 * C, 3 * C); // a row of equal logits: uniform
      const p = softmaxRef(x, N, C),
        dx = softmaxGradRef(p, dy, N, C);
      const fwd: Record<string, Float32Array> = {},
        bwd: Record<string, Float32Array> = {};
      for (const { name, be } of vs) {
        [fwd[name], bwd[name]] = withArena(be, (ar) => {
          const px = ar.f32('x', x),
            py = ar.out('y', N * C),
            pdy = ar.f32('dy', dy),
            pdx = ar.out('dx', N * C);
          ar.run(`softmax forward [${N},${C}]`, [py], () => be.k.softmax_forward(px, py, N, C));
          ar.run(`softmax backward [${N},${C}]`, [pdx], () => be.k.softmax_backward(py, pdy, pdx, N, C));
          return [ar.read(py), ar.read(pdx)];
        });
        // exp and the row sum in float32: a few ulp per probability.
        expectClose(fwd[name], p, { rtol: 1e-5, atol: 1e-8, shape: [N, C] }, `${name} softmax`);
        expectClose(bwd[name], dx, { rtol: 1e-4, atol: 1e-6 * Math.sqrt(C), shape: [N, C] }, `${name} softmax grad`);
      }
      allSame(fwd, 'softmax');
      allSame(bwd, 'softmax grad');
    });
  }

  for (const [N, C] of shapes) {
    for (const scale of [1 / N, 0.37]) {
      it(`softmax-crossentropy p=[${N},${C}] scale=${+scale.toFixed(4)}: sparse and dense loss, fused gradient, per-row weights, accuracy`, () => {
        const rnd = mulberry32(N * 7 + C + Math.round(scale * 100));
        const p32 = Float32Array.from(softmaxRef(randomArray(N * C, rnd, 2), N, C));
        const labels = randomInts(N, rnd, C);
        // Clipping: a row whose label has probability exactly 0, one where it is exactly 1.
        if (N > 2 && C > 1) {
          p32.fill(0, 0, C);
          p32[(labels[0] + 1) % C] = 1;
          p32.fill(0, C, 2 * C);
          p32[C + labels[1]] = 1;
        }
        const onehot = new Float32Array(N * C);
        labels.forEach((l, i) => (onehot[i * C + l] = 1));
        // Soft targets whose rows sum to 1, 0.5 and (row 0) 0: the dense gradient scales p by the row sum.
        const soft = randomArray(N * C, rnd).map((v) => Math.abs(v));
        for (let i = 0; i < N; i++) {
          let s = 0;
          for (let j = 0; j < C; j++) s += soft[i * C + j];
          const want = i === 0 ? 0 : i % 2 ? 0.5 : 1;
          for (let j = 0; j < C; j++) soft[i * C + j] = (soft[i * C + j] / s) * want;
        }
        const sc = Math.fround(scale); // the kernel takes scale as float32
        const sparse = xentSparseRef(p32, labels, N, C, sc),
          dense = xentDenseRef(p32, onehot, N, C, sc),
          softRef = xentDenseRef(p32, soft, N, C, sc);
        // Per-row weights in [0, 3), one of them 0 (a class weighted out).
        const weights = Float32Array.from(randomArray(N, rnd), (v) => Math.abs(v) * 3);
        weights[N - 1] = 0;
        const wSparse = xentSparseRef(p32, labels, N, C, sc, weights),
          wSoft = xentDenseRef(p32, soft, N, C, sc, weights);
        const correct = Array.from(labels).filter((l, i) => argmaxRow(p32, i, C) === l).length;
        const gradTol = { rtol: 1e-5, atol: 1e-7, shape: [N, C] };
        const grads: Record<string, Float32Array[]> = {};
        for (const { name, be } of vs) {
          grads[name] = withArena(be, (ar) => {
            const pp = ar.f32('p', p32),
              pl = ar.i32('labels', labels),
              pt = ar.f32('onehot', onehot),
              ps = ar.f32('soft', soft);
            const g1 = ar.out('dlogits sparse', N * C),
              g2 = ar.out('dlogits one-hot', N * C),
              g3 = ar.out('dlogits soft', N * C);
            const pw = ar.f32('weights', weights),
              g4 = ar.out('dlogits sparse weighted', N * C),
              g5 = ar.out('dlogits soft weighted', N * C);
            const l1 = ar.run('xent sparse', [g1], () => be.k.softmax_xent_sparse(pp, pl, 0, g1, N, C, scale, 0, 0));
            const l2 = ar.run('xent dense one-hot', [g2], () => be.k.softmax_xent_dense(pp, pt, 0, g2, N, C, scale, 0, 0));
            const l3 = ar.run('xent dense soft', [g3], () => be.k.softmax_xent_dense(pp, ps, 0, g3, N, C, scale, 0, 0));
            // dlogits = 0: the loss only, nothing written anywhere.
            const l4 = ar.run('xent sparse, loss only', [], () => be.k.softmax_xent_sparse(pp, pl, 0, 0, N, C, scale, 0, 0));
            const l5 = ar.run('xent dense, loss only', [], () => be.k.softmax_xent_dense(pp, ps, 0, 0, N, C, scale, 0, 0));
            const l6 = ar.run('xent sparse weighted', [g4], () => be.k.softmax_xent_sparse(pp, pl, pw, g4, N, C, scale, 0, 0));
            const l7 = ar.run('xent dense soft weighted', [g5], () => be.k.softmax_xent_dense(pp, ps, pw, g5, N, C, scale, 0, 0));
            // Loss as float64 from float32 probabilities; the clip bounds are float32 (1e-7 and 1 - 1e-7 rounded).
            const lossTol = { rtol: 1e-6, atol: 1e-6 * N };
            for (const [got, want, what] of [
              [l1, sparse.loss, 'sparse'],
              [l2, dense.loss, 'one-hot'],
              [l3, softRef.loss, 'soft'],
              [l4, sparse.loss, 'sparse loss-only'],
              [l5, softRef.loss, 'soft loss-only'],
              [l6, wSparse.loss, 'sparse weighted'],
              [l7, wSoft.loss, 'soft weighted'],
            ] as const) {
              expectClose([got], [want], lossTol, `${name} ${what} loss`);
            }
            expect(
              ar.run('count_correct_sparse', [], () => be.k.count_correct_sparse(pp, pl, N, C)),
              `${name} count_correct_sparse`,
            ).toBe(correct);
            expect(
              ar.run('count_correct_dense', [], () => be.k.count_correct_dense(pp, pt, N, C)),
              `${name} count_correct_dense`,
            ).toBe(correct);
            return [ar.read(g1), ar.read(g2), ar.read(g3), ar.read(g4), ar.read(g5)];
          });
          expectClose(grads[name][0], sparse.grad, gradTol, `${name} sparse gradient`);
          expectClose(grads[name][1], dense.grad, gradTol, `${name} one-hot gradient`);
          expectClose(grads[name][2], softRef.grad, gradTol, `${name} soft-target gradient`);
          expectClose(grads[name][3], wSparse.grad, gradTol, `${name} weighted sparse gradient`);
          expectClose(grads[name][4], wSoft.grad, gradTol, `${name} weighted soft-target gradient`);
        }
        for (let i = 0; i < 5; i++) allSame(Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v[i]])), `xent gradient ${i}`);
      });
    }
  }

  it('count_correct p=[4,5]: ties go to the first maximum, in predictions and in targets', () => {
    const N = 4,
      C = 5;
    const p = Float32Array.from([
      0.3,
      0.3,
      0.2,
      0.1,
      0.1, // tie 0/1 -> 0
      0.1,
      0.2,
      0.2,
      0.2,
      0.3, // clear 4
      0.25,
      0.25,
      0.25,
      0.25,
      0, // four-way tie -> 0
      0,
      0,
      0.5,
      0,
      0.5, // tie 2/4 -> 2
    ]);
    const t = Float32Array.from([
      0,
      0.5,
      0,
      0,
      0.5, // target argmax 1 (first of the tie): miss
      0,
      0,
      0,
      0,
      1, // 4: hit
      0.5,
      0,
      0,
      0,
      0.5, // 0: hit
      0,
      0,
      0,
      0,
      1, // 4: miss
    ]);
    const labels = Int32Array.from([0, 4, 1, 2]); // hit, hit, miss, hit
    for (const { name, be } of vs) {
      withArena(be, (ar) => {
        const pp = ar.f32('p', p),
          pl = ar.i32('labels', labels),
          pt = ar.f32('t', t);
        expect(be.k.count_correct_sparse(pp, pl, N, C), `${name} sparse`).toBe(3);
        expect(be.k.count_correct_dense(pp, pt, N, C), `${name} dense`).toBe(2);
      });
    }
  });
});
