// Property-based: random graphs of convolutions (some shared), ReLUs and merges (Add, Multiply, Average,
// Concatenate) with fan-outs everywhere, on random shapes. Forward, input gradient and weight gradients
// (summed over the uses of shared layers) against a float64 evaluation of the same graph. This exercises
// the arena planner: buffers reused by liveness, aliases, and gradients accumulated from several consumers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Add,
  Average,
  Concatenate,
  Conv2D,
  currentBackend,
  input,
  type Layer,
  model,
  Multiply,
  ReLU,
  type SymbolicTensor,
  tensor,
} from '../src/node.js';
import { expectClose } from './helpers.js';
import { biasGradRef, conv2dGradFilterRef, conv2dGradInputRef, conv2dRef, type ConvCase, mulberry32, randomArray } from './reference.js';

type Op = {
  op: 'conv' | 'shared' | 'relu' | 'add' | 'mul' | 'avg' | 'concat';
  a: number;
  b: number;
  c: number;
  f: number;
  k: 1 | 3;
  three: boolean;
};
const op: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom(
    'conv' as const,
    'shared' as const,
    'relu' as const,
    'add' as const,
    'mul' as const,
    'avg' as const,
    'concat' as const,
  ),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
  f: fc.integer({ min: 1, max: 5 }),
  k: fc.constantFrom(1 as const, 3 as const),
  three: fc.boolean(),
});

interface Conv {
  layer: Layer;
  C: number;
  f: number;
  k: number;
  w?: Float32Array;
  b?: Float32Array;
}
interface RefNode {
  kind: Op['op'] | 'concat';
  ins: number[];
  out: number;
  conv?: Conv;
}

/** Builds the graph from the ops: every tensor in `ts` (index = tensor id) with its channel count. */
function build(ops: Op[], shape: number[]) {
  const inp = input({ shape });
  const ts: { t: SymbolicTensor; C: number }[] = [{ t: inp, C: shape[2] }];
  const convs: Conv[] = [],
    nodes: RefNode[] = [];
  const used = new Set<number>();
  const add = (kind: RefNode['kind'], ins: number[], t: SymbolicTensor, C: number, conv?: Conv) => {
    ins.forEach((i) => used.add(i));
    nodes.push({ kind, ins, out: ts.length, conv });
    ts.push({ t, C });
  };
  for (const o of ops) {
    const i = o.a % ts.length,
      x = ts[i];
    if (o.op === 'conv' || o.op === 'shared') {
      const same = convs.filter((cv) => cv.C === x.C);
      const cv =
        o.op === 'shared' && same.length
          ? same[o.b % same.length]
          : { layer: Conv2D({ filters: o.f, kernelSize: o.k, padding: 'same' }), C: x.C, f: o.f, k: o.k };
      if (!convs.includes(cv)) convs.push(cv);
      add('conv', [i], cv.layer.apply(x.t), cv.f, cv);
    } else if (o.op === 'relu') add('relu', [i], ReLU().apply(x.t), x.C);
    else if (o.op === 'concat') {
      const ins = [i, o.b % ts.length, ...(o.three ? [o.c % ts.length] : [])];
      add(
        'concat',
        ins,
        Concatenate().apply(ins.map((j) => ts[j].t)),
        ins.reduce((s, j) => s + ts[j].C, 0),
      );
    } else {
      const cand = ts.map((_, j) => j).filter((j) => ts[j].C === x.C);
      const ins = [i, cand[o.b % cand.length], ...(o.three ? [cand[o.c % cand.length]] : [])];
      const L = o.op === 'add' ? Add : o.op === 'mul' ? Multiply : Average;
      add(o.op, ins, L().apply(ins.map((j) => ts[j].t)), x.C);
    }
  }
  // The output joins every tensor nothing consumed, so (almost) every node matters.
  let leaves = ts.map((_, j) => j).filter((j) => j > 0 && !used.has(j));
  if (leaves.length === 0) {
    add('relu', [0], ReLU().apply(inp), shape[2]);
    leaves = [ts.length - 1];
  }
  if (leaves.length > 1)
    add(
      'concat',
      leaves,
      Concatenate().apply(leaves.map((j) => ts[j].t)),
      leaves.reduce((s, j) => s + ts[j].C, 0),
    );
  const out = ts.length - 1;
  return { inp, ts, convs, nodes, out, m: model({ inputs: inp, outputs: ts[out].t, seed: 1 }) };
}

const convCase = (N: number, H: number, W: number, cv: Conv): ConvCase => ({
  N,
  H,
  W,
  C: cv.C,
  KH: cv.k,
  KW: cv.k,
  OC: cv.f,
  SH: 1,
  SW: 1,
  pad: 'same',
});

/** Float64 forward and reverse pass over the same graph (pixels P = N*H*W rows of C channels each). */
function reference(g: ReturnType<typeof build>, x: Float32Array, r: Float64Array, N: number, H: number, W: number) {
  const P = N * H * W;
  const v: Float64Array[] = [Float64Array.from(x)];
  for (const n of g.nodes) {
    const xs = n.ins.map((i) => v[i]),
      C = g.ts[n.out].C;
    if (n.kind === 'conv') v[n.out] = conv2dRef(convCase(N, H, W, n.conv!), xs[0], n.conv!.w!, n.conv!.b!, false);
    else if (n.kind === 'relu') v[n.out] = xs[0].map((t) => Math.max(0, t));
    else if (n.kind === 'concat') {
      const y = new Float64Array(P * C);
      let off = 0;
      n.ins.forEach((i, k) => {
        const c = g.ts[i].C;
        for (let p = 0; p < P; p++) for (let j = 0; j < c; j++) y[p * C + off + j] = xs[k][p * c + j];
        off += c;
      });
      v[n.out] = y;
    } else
      v[n.out] = xs[0].map((_, e) =>
        n.kind === 'mul' ? xs.reduce((s, t) => s * t[e], 1) : xs.reduce((s, t) => s + t[e], 0) / (n.kind === 'avg' ? xs.length : 1),
      );
  }
  const grad: Float64Array[] = v.map((t) => new Float64Array(t.length));
  grad[g.out] = Float64Array.from(r);
  const wg = new Map<Conv, { dw: Float64Array; db: Float64Array }>();
  for (const n of [...g.nodes].reverse()) {
    const dy = grad[n.out],
      C = g.ts[n.out].C;
    if (n.kind === 'conv') {
      const c = convCase(N, H, W, n.conv!);
      conv2dGradInputRef(c, n.conv!.w!, dy).forEach((t, e) => (grad[n.ins[0]][e] += t));
      const acc = wg.get(n.conv!) ?? { dw: new Float64Array(n.conv!.w!.length), db: new Float64Array(n.conv!.f) };
      conv2dGradFilterRef(c, v[n.ins[0]], dy).forEach((t, e) => (acc.dw[e] += t));
      biasGradRef(dy, P, c.OC).forEach((t, e) => (acc.db[e] += t));
      wg.set(n.conv!, acc);
    } else if (n.kind === 'relu') v[n.ins[0]].forEach((t, e) => (grad[n.ins[0]][e] += t > 0 ? dy[e] : 0));
    else if (n.kind === 'concat') {
      let off = 0;
      n.ins.forEach((i) => {
        const c = g.ts[i].C;
        for (let p = 0; p < P; p++) for (let j = 0; j < c; j++) grad[i][p * c + j] += dy[p * C + off + j];
        off += c;
      });
    } else {
      n.ins.forEach((i, k) =>
        dy.forEach((d, e) => {
          grad[i][e] +=
            n.kind === 'mul' ? n.ins.reduce((s, j, q) => (q === k ? s : s * v[j][e]), d) : n.kind === 'avg' ? d / n.ins.length : d;
        }),
      );
    }
  }
  return { y: v[g.out], dx: grad[0], wg };
}

describe('random graphs against a float64 evaluation', () => {
  it('convs (3x3 and 1x1, some shared), relu, add/multiply/average/concatenate with fan-outs: predict, vjp dx and weight gradients', () => {
    const be = currentBackend();
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 2 }),
          H: fc.integer({ min: 1, max: 5 }),
          W: fc.integer({ min: 1, max: 5 }),
          C: fc.integer({ min: 1, max: 4 }),
        }),
        fc.array(op, { minLength: 1, maxLength: 9 }),
        fc.integer(),
        ({ N, H, W, C }, ops, seed) => {
          const before = be.allocatedBytes;
          const g = build(ops, [H, W, C]);
          const rnd = mulberry32(seed);
          const byName = new Map<string, Float32Array>();
          for (const cv of g.convs) {
            cv.w = randomArray(cv.k * cv.k * cv.C * cv.f, rnd);
            cv.b = randomArray(cv.f, rnd);
            byName.set(`${cv.layer.name}/kernel`, cv.w).set(`${cv.layer.name}/bias`, cv.b);
          }
          const specs = g.m.weightSpecs();
          g.m.setWeights(specs.map((s) => byName.get(s.name)!));
          const x = randomArray(N * H * W * C, rnd);
          const out = g.m.predict(tensor(x, [N, H, W, C]));
          const r = Float64Array.from(randomArray(out.data.length, rnd));
          const ref = reference(g, x, r, N, H, W);
          const tol = { rtol: 1e-3, atol: 1e-4 };
          expectClose(out.data, ref.y, tol, 'forward');
          const { dx, grads } = g.m.vjp(tensor(x, [N, H, W, C]), tensor(Float32Array.from(r), out.shape));
          expectClose(dx.data, ref.dx, tol, 'input gradient');
          specs.forEach((s, i) => {
            const cv = g.convs.find((q) => s.name.startsWith(`${q.layer.name}/`))!;
            const want = ref.wg.get(cv) ?? { dw: new Float64Array(cv.w!.length), db: new Float64Array(cv.f) };
            expectClose(grads[i], s.name.endsWith('kernel') ? want.dw : want.db, tol, `${s.name} gradient`);
          });
          g.m.dispose();
          expect(be.allocatedBytes).toBe(before);
        },
      ),
      { seed: 11, numRuns: 150 },
    );
  });
});
