// The merge family. Kernels (add, multiply, scale, strided row copy) that Add, Multiply, Average, Concatenate and
// the engine's gradient accumulation run on: every variant against float64 references on lengths around
// the 4-lane width, in place where the engine uses them in place, and flush against the end of memory.
// Each computes one float32 operation per element, so every variant must match the reference's single
// rounding exactly and the plain SIMD build must equal its scalar sibling bit for bit.
import { beforeAll, describe, expect, it } from 'vitest';
import { Add, Average, Concatenate, Conv2D, input, model, Multiply, tensor } from '../src/node.js';
import { Rng } from '../src/random.js';
import { checkVjp, randomTensor } from './gradcheck.js';
import { denseBackwardRef, denseForwardRef, mulberry32, randomArray } from './reference.js';
import { createVariants, expectBitwise, expectClose, type Tol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

/** One float32 rounding of the exact float64 result. */
const oneRounding: Tol = { rtol: 2 ** -24, atol: 0 };
const f32 = (v: number) => Math.fround(v);

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 33, 1000];

describe('elementwise merge kernels vs float64', () => {
  for (const n of SIZES) {
    it(`add_f32 / mul_f32 / scale_f32 x=[${n}], out of place, in place and last in memory`, () => {
      const rnd = mulberry32(n * 7 + 1);
      const a = randomArray(n, rnd),
        b = randomArray(n, rnd, 3),
        s = f32(1 / 3);
      const refs = {
        add: Float64Array.from(a, (v, i) => v + b[i]),
        mul: Float64Array.from(a, (v, i) => v * b[i]),
        scale: Float64Array.from(a, (v) => s * v),
      };
      const out: Record<string, Float32Array[]> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const pa = ar.f32('a', a),
            pb = ar.f32('b', b),
            py = ar.out('y', n);
          const r: Float32Array[] = [];
          ar.run(`add n=${n}`, [py], () => be.k.add_f32(py, pa, pb, n));
          r.push(ar.read(py));
          ar.run(`mul n=${n}`, [py], () => be.k.mul_f32(py, pa, pb, n));
          r.push(ar.read(py));
          ar.run(`scale n=${n}`, [py], () => be.k.scale_f32(py, pa, s, n));
          r.push(ar.read(py));
          // In place, as gradient accumulation runs it: a += b.
          const qa = ar.f32('a (in place)', a);
          ar.run(`add in place n=${n}`, [qa], () => be.k.add_f32(qa, qa, pb, n));
          r.push(ar.read(qa));
          // Output flush against the end of memory: a wider store than the tail allows traps.
          const end = ar.atEnd('y (last in memory)', n);
          be.k.add_f32(end, pa, pb, n);
          r.push(ar.read(end));
          return r;
        });
        const [add, mul, scale, inPlace, last] = out[name];
        expectClose(add, refs.add, oneRounding, `${name} add`);
        expectClose(mul, refs.mul, oneRounding, `${name} mul`);
        expectClose(scale, refs.scale, oneRounding, `${name} scale`);
        expectBitwise(inPlace, add, `${name} add in place`);
        expectBitwise(last, add, `${name} add last in memory`);
      }
      out.simd.forEach((r, i) => expectBitwise(r, out.scalar[i], `simd vs scalar #${i}`));
    });
  }
});

describe('copy_rows_f32: a block between row strides (Concatenate forward and backward)', () => {
  const cases: [number, number, number, number][] = [
    // rows, cols, source stride, destination stride
    [1, 1, 1, 1],
    [3, 5, 5, 12],
    [7, 4, 4, 9],
    [13, 3, 11, 3],
    [6, 17, 17, 23],
    [2, 8, 8, 8],
    [11, 9, 13, 29],
  ];
  for (const [rows, cols, ss, ds] of cases) {
    it(`copy rows=${rows} cols=${cols} strides src ${ss} dst ${ds}: the block moves, nothing around it changes`, () => {
      const rnd = mulberry32(rows * 100 + cols);
      const src = randomArray(rows * ss, rnd),
        dst0 = randomArray(rows * ds, rnd);
      const want = Float32Array.from(dst0);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) want[r * ds + j] = src[r * ss + j];
      const out: Record<string, Float32Array> = {};
      for (const { name, be } of vs) {
        out[name] = withArena(be, (ar) => {
          const ps = ar.f32('src', src),
            pd = ar.f32('dst', dst0);
          ar.run(`copy rows=${rows} cols=${cols}`, [pd], () => be.k.copy_rows_f32(pd, ds, ps, ss, rows, cols));
          const end = ar.atEnd('dst (last in memory)', dst0);
          be.k.copy_rows_f32(end, ds, ps, ss, rows, cols);
          expectBitwise(ar.read(end), want, `${name} last in memory`);
          return ar.read(pd);
        });
        expectBitwise(out[name], want, `${name} copy`);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// The merge layers in a model: two or three 1x1-conv branches of one input, merged. Checked against a
// float64 evaluation (forward, the input gradient through the branches' fan-out, the branch weights'
// gradients) and by finite differences.

type Kind = 'add' | 'multiply' | 'average' | 'concatenate';
const LAYERS = { add: Add, multiply: Multiply, average: Average, concatenate: Concatenate };

/** Float64 y = merge(x w_i + b_i), and for a cotangent r its gradients w.r.t. x and each w_i, b_i. */
function mergeRef(
  kind: Kind,
  x: Float32Array,
  ws: Float32Array[],
  bs: Float32Array[],
  rows: number,
  C: number,
  outs: number[],
  r: Float64Array | null,
) {
  const ys = ws.map((w, i) => Float64Array.from(denseForwardRef(x, w, bs[i], rows, C, outs[i], false)));
  const O = kind === 'concatenate' ? outs.reduce((a, b) => a + b, 0) : outs[0];
  const y = new Float64Array(rows * O);
  for (let p = 0; p < rows; p++) {
    if (kind === 'concatenate') {
      let o = 0;
      ys.forEach((v, i) => {
        for (let j = 0; j < outs[i]; j++) y[p * O + o + j] = v[p * outs[i] + j];
        o += outs[i];
      });
      continue;
    }
    for (let j = 0; j < O; j++) {
      const v = ys.map((t) => t[p * O + j]);
      y[p * O + j] =
        kind === 'multiply' ? v.reduce((a, b) => a * b, 1) : v.reduce((a, b) => a + b, 0) / (kind === 'average' ? v.length : 1);
    }
  }
  if (!r) return { y };
  const dys = ys.map((_, i) => new Float64Array(rows * outs[i]));
  for (let p = 0; p < rows; p++) {
    let o = 0;
    ys.forEach((v, i) => {
      for (let j = 0; j < outs[i]; j++) {
        const q = p * O + (kind === 'concatenate' ? o : 0) + j;
        const others = ys.reduce((a, t, k) => (k === i ? a : a * t[p * outs[k] + j]), 1);
        dys[i][p * outs[i] + j] = kind === 'multiply' ? r[q] * others : kind === 'average' ? r[q] / ys.length : r[q];
      }
      o += outs[i];
    });
  }
  const dx = new Float64Array(rows * C);
  const grads = ws.map((w, i) => {
    const g = denseBackwardRef(x, w, dys[i], rows, C, outs[i]);
    g.dx.forEach((v, k) => (dx[k] += v));
    return { dw: g.dw, db: g.db };
  });
  return { y, dx, grads };
}

function mergeModel(kind: Kind, shape: number[], outs: number[], seed: number) {
  const inp = input({ shape });
  const branches = outs.map((f, i) => Conv2D({ filters: f, kernelSize: 1, name: `branch${i}` }).apply(inp));
  return model({ inputs: inp, outputs: LAYERS[kind]({ name: kind }).apply(branches), seed });
}

const mergeCases: [Kind, number[], number[]][] = [
  ['add', [2, 5, 7, 3], [5, 5]],
  ['add', [1, 3, 3, 4], [7, 7, 7]],
  ['multiply', [2, 5, 7, 3], [5, 5]],
  ['multiply', [3, 2, 3, 2], [9, 9, 9]],
  ['average', [2, 5, 7, 3], [5, 5]],
  ['average', [1, 4, 4, 5], [3, 3, 3]],
  ['concatenate', [2, 5, 7, 3], [3, 5]],
  ['concatenate', [1, 3, 5, 2], [2, 7, 1]],
  ['concatenate', [3, 2, 2, 4], [4, 4]],
];

describe('merge layers vs float64: forward, input gradient over the fan-out, branch weight gradients', () => {
  mergeCases.forEach(([kind, [N, H, W, C], outs], idx) => {
    it(`${kind} x=[${N},${H},${W},${C}] branches conv1x1 ${C}->[${outs}]`, () => {
      const m = mergeModel(kind, [H, W, C], outs, 1);
      const rnd = mulberry32(700 + idx);
      const ws = outs.map((f) => randomArray(C * f, rnd)),
        bs = outs.map((f) => randomArray(f, rnd));
      m.setWeights(ws.flatMap((w, i) => [w, bs[i]]));
      const x = randomArray(N * H * W * C, rnd);
      const out = m.predict(tensor(x, [N, H, W, C]));
      const r = Float64Array.from(randomArray(out.data.length, rnd));
      const ref = mergeRef(kind, x, ws, bs, N * H * W, C, outs, r);
      expectClose(out.data, ref.y, { rtol: 1e-5, atol: 1e-6 }, 'forward');
      const g = m.vjp(tensor(x, [N, H, W, C]), tensor(Float32Array.from(r), out.shape));
      expectClose(g.dx.data, ref.dx!, { rtol: 1e-4, atol: 1e-5 }, 'input gradient (sum over branches)');
      ref.grads!.forEach((rg, i) => {
        expectClose(g.grads[2 * i], rg.dw, { rtol: 1e-4, atol: 1e-5 }, `branch${i}/kernel gradient`);
        expectClose(g.grads[2 * i + 1], rg.db, { rtol: 1e-4, atol: 1e-5 }, `branch${i}/bias gradient`);
      });
      m.dispose();
    });
  });
});

describe('merge layers: gradient check by finite differences', () => {
  mergeCases.forEach(([kind, [N, H, W, C], outs], idx) => {
    it(`${kind} x=[${N},${H},${W},${C}] branches conv1x1 ${C}->[${outs}]`, () => {
      const m = mergeModel(kind, [H, W, C], outs, 40 + idx);
      checkVjp(m, randomTensor([N, H, W, C], new Rng(50 + idx)), 60 + idx);
      m.dispose();
    });
  });
  it('add([x, x]) and multiply([x, x]): one tensor in two slots of one node gets both gradients', () => {
    for (const [kind, f] of [
      ['add', () => 2],
      ['multiply', (v: number) => 2 * v],
    ] as const) {
      const inp = input({ shape: [3, 5] });
      const m = model({ inputs: inp, outputs: LAYERS[kind]().apply([inp, inp]) });
      const x = randomArray(2 * 15, mulberry32(3));
      const dx = m.vjp(tensor(x, [2, 3, 5]), tensor(new Float32Array(30).fill(1), [2, 3, 5])).dx.data;
      expectClose(dx, Float64Array.from(x, f), { rtol: 1e-6, atol: 0 }, `${kind} dx`);
      m.dispose();
    }
  });
});

describe('merge layers refuse inputs they cannot merge, naming the layer', () => {
  it('shapes, counts and axes', () => {
    const a = input({ shape: [4, 4, 3] }),
      b = input({ shape: [4, 4, 5] }),
      c = input({ shape: [4, 5, 3] });
    expect(() => Add({ name: 'sum' }).apply([a, b])).toThrow(
      /sum \(Add\): expected inputs of one shape, received \[null,4,4,3\] and \[null,4,4,5\]/,
    );
    expect(() => Concatenate({ name: 'cat' }).apply([a, c])).toThrow(/cat \(Concatenate\): inputs must agree in all but the last axis/);
    expect(() => Concatenate({ axis: 1, name: 'cat1' }).apply([a, b])).toThrow(
      /cat1 \(Concatenate\): axis 1 is not supported \(only the last axis, -1 or 3 here\)/,
    );
    expect(() => Multiply({ name: 'one' }).apply([a])).toThrow(/one \(Multiply\): expected a list of at least 2 input\(s\), received 1/);
    expect(() => Add().apply(a)).toThrow(/expected a list of at least 2 input/);
  });
});
