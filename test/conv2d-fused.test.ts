// conv2d_forward_fused (inference: few input channels, bias + ReLU and optionally a 2x2 stride-2 max pool
// applied in registers) against the float64 reference, against the path it replaces (conv2d_forward, whose
// bias/ReLU pass it must equal bit for bit in every build, then maxpool2x2_forward), and its scalar sibling
// (bit for bit in the plain SIMD build; the relaxed build fuses multiply-adds, so it is compared with the
// reference and with conv2d_forward of its own build). Then at model level: an inference plan folds a
// 2x2 max pool into such a convolution and predicts the same bits as the unfolded plan.
import { beforeAll, describe, expect, it } from 'vitest';
import { FLAG_BIAS, FLAG_RELU } from '../src/backend.js';
import { conv2dForward, conv2dForwardFused, conv2dScratchFloats, fusedConvApplies, setFusedConv } from '../src/kernels/conv2d.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import {
  FLAG_POOL2X2,
  type WinogradTile,
  winogradBlocks,
  winogradFilterFloats,
  winogradForward,
  winogradScratchFloats,
  winogradTransformFilter,
} from '../src/kernels/winograd.js';
import { setInferenceFolding } from '../src/engine/fold.js';
import { Activation, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, tensor } from '../src/node.js';
import { conv2dRef, type ConvCase, convGeometry, mulberry32, randomArray } from './reference.js';
import { type Arena, createVariants, expectBitwise, expectClose, sumTol, type Variant, withArena } from './helpers.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

const RELU_CODE = 1 << 8; // bias_act's ACT_RELU in the activation-code bits, as layers pass it

/** "N,H,W,C k=KH,KW oc=OC s=SH,SW pad" */
function parse(s: string): ConvCase {
  const m = s.match(/^(\d+),(\d+),(\d+),(\d+) k=(\d+),(\d+) oc=(\d+) s=(\d+),(\d+) (valid|same)$/)!;
  const [N, H, W, C, KH, KW, OC, SH, SW] = m.slice(1, 10).map(Number);
  return { N, H, W, C, KH, KW, OC, SH, SW, pad: m[10] as 'valid' | 'same' };
}
const cases = [
  '2,28,28,1 k=3,3 oc=32 s=1,1 same', // LeNet's first layer
  '1,7,7,1 k=3,3 oc=5 s=1,1 same',
  '3,13,11,3 k=3,3 oc=13 s=1,1 same',
  '2,9,7,2 k=5,3 oc=8 s=2,1 valid',
  '1,11,13,3 k=2,2 oc=33 s=1,1 valid',
  '2,5,5,1 k=3,1 oc=7 s=1,2 same',
  '1,17,5,2 k=7,7 oc=1 s=3,3 same',
  '1,3,3,3 k=3,3 oc=17 s=1,1 same',
  '2,6,9,1 k=1,3 oc=9 s=1,1 valid',
].map(parse);
const FLAGS = [FLAG_BIAS | RELU_CODE, FLAG_BIAS, FLAG_RELU, 0];
const flagName = (f: number) =>
  [f & FLAG_BIAS ? 'bias' : '', f & (FLAG_RELU | RELU_CODE) ? 'relu' : ''].filter(Boolean).join('+') || 'no bias/act';
const caseName = (c: ConvCase) => `x=[${c.N},${c.H},${c.W},${c.C}] k=[${c.KH},${c.KW},${c.C},${c.OC}] stride=[${c.SH},${c.SW}] ${c.pad}`;

/** Float64 2x2 stride-2 max pool of y [N, OH, OW, C] (rounded down). */
function poolRef(y: Float64Array, N: number, OH: number, OW: number, C: number): Float64Array {
  const PH = OH >> 1,
    PW = OW >> 1,
    out = new Float64Array(N * PH * PW * C);
  for (let n = 0; n < N; n++)
    for (let py = 0; py < PH; py++)
      for (let px = 0; px < PW; px++)
        for (let c = 0; c < C; c++) {
          let m = -Infinity;
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++) m = Math.max(m, y[((n * OH + 2 * py + dy) * OW + 2 * px + dx) * C + c]);
          out[((n * PH + py) * PW + px) * C + c] = m;
        }
  return out;
}

type Which = 'x' | 'w' | 'b' | 'y' | 'yp' | 'scratch';
/** The fused kernel (plain and pooled) and the path it replaces, on one backend; `last` flush against the end of memory. */
function run(ar: Arena, c: ConvCase, d: { x: Float32Array; w: Float32Array; b: Float32Array }, flags: number, last: Which | null = null) {
  const g = computeWindow2D('t', [c.H, c.W, c.C], [c.KH, c.KW], [c.SH, c.SW], c.pad, c.N);
  const Y = c.N * g.OH * g.OW * c.OC,
    YP = c.N * (g.OH >> 1) * (g.OW >> 1) * c.OC;
  const p = ar.place<Which>({ x: d.x, w: d.w, b: d.b, y: Y, yp: Math.max(1, YP), scratch: conv2dScratchFloats(g, c.OC) }, last);
  const bias = flags & FLAG_BIAS ? p.b : 0;
  expect(fusedConvApplies(g, flags), 'the rule takes this call').toBe(true);
  ar.run('fused', [p.y, p.scratch], () => conv2dForward(ar.be, p.x, p.w, bias, p.y, p.scratch, g, c.N, c.OC, flags));
  const fused = ar.read(p.y);
  ar.refill(p.scratch);
  ar.run('fused + pool', [p.yp, p.scratch], () => conv2dForwardFused(ar.be, p.x, p.w, bias, p.yp, p.scratch, g, c.N, c.OC, flags, true));
  const pooled = ar.read(p.yp).slice(0, YP);
  ar.refill(p.scratch);
  setFusedConv(false);
  try {
    ar.run('conv2d_forward', [p.y, p.scratch], () => conv2dForward(ar.be, p.x, p.w, bias, p.y, p.scratch, g, c.N, c.OC, flags));
  } finally {
    setFusedConv(true);
  }
  const old = ar.read(p.y);
  ar.run('maxpool2x2_forward', [p.yp], () => ar.be.k.maxpool2x2_forward(p.y, p.yp, 0, c.N, g.OH, g.OW, c.OC, g.OH >> 1, g.OW >> 1));
  return { fused, pooled, old, oldPooled: ar.read(p.yp).slice(0, YP), g };
}

describe('conv2d_forward_fused vs float64 reference, conv2d_forward (+ maxpool2x2_forward) and its scalar sibling', () => {
  cases.forEach((c, idx) => {
    const flags = FLAGS[idx % FLAGS.length];
    it(`fused conv2d ${caseName(c)} (${flagName(flags)}), plain and with 2x2 max pool`, () => {
      const rnd = mulberry32(300 + idx);
      const d = { x: randomArray(c.N * c.H * c.W * c.C, rnd), w: randomArray(c.KH * c.KW * c.C * c.OC, rnd), b: randomArray(c.OC, rnd) };
      const { OH, OW } = convGeometry(c);
      const ref = conv2dRef(c, d.x, d.w, flags & FLAG_BIAS ? d.b : null, (flags & (FLAG_RELU | RELU_CODE)) !== 0);
      const tol = sumTol(c.KH * c.KW * c.C);
      const out: Record<string, ReturnType<typeof run>> = {};
      for (const { name, be } of vs) {
        const r = withArena(be, (ar) => run(ar, c, d, flags));
        expectClose(r.fused, ref, { ...tol, shape: [c.N, OH, OW, c.OC] }, `${name} fused`);
        expectClose(r.pooled, poolRef(ref, c.N, OH, OW, c.OC), tol, `${name} fused + pool`);
        expectBitwise(r.fused, r.old, `${name} fused vs conv2d_forward + bias/act`);
        expectBitwise(r.pooled, r.oldPooled, `${name} fused + pool vs conv2d_forward + maxpool2x2_forward`);
        out[name] = r;
      }
      expectBitwise(out.simd.fused, out.scalar.fused, 'simd vs scalar fused');
      expectBitwise(out.simd.pooled, out.scalar.pooled, 'simd vs scalar fused + pool');
    });
  });

  const edge = ['2,7,9,3 k=3,3 oc=5 s=1,1 same', '1,6,5,1 k=2,2 oc=13 s=1,1 valid'].map(parse);
  edge.forEach((c, idx) => {
    it(`fused conv2d ${caseName(c)}: x, w, b, y, pooled y and scratch each last in memory`, () => {
      const rnd = mulberry32(900 + idx);
      const d = { x: randomArray(c.N * c.H * c.W * c.C, rnd), w: randomArray(c.KH * c.KW * c.C * c.OC, rnd), b: randomArray(c.OC, rnd) };
      const { OH, OW } = convGeometry(c);
      const ref = conv2dRef(c, d.x, d.w, d.b, true);
      for (const { name, be } of vs)
        for (const last of ['x', 'w', 'b', 'y', 'yp', 'scratch'] as Which[]) {
          const r = withArena(be, (ar) => run(ar, c, d, FLAG_BIAS | RELU_CODE, last));
          expectClose(r.fused, ref, sumTol(c.KH * c.KW * c.C), `${name} with ${last} last: fused`);
          expectClose(r.pooled, poolRef(ref, c.N, OH, OW, c.OC), sumTol(c.KH * c.KW * c.C), `${name} with ${last} last: pooled`);
        }
    });
  });

  it('the rule: up to 3 input channels, undilated, not 1x1, no activation or ReLU', () => {
    const g = (C: number, k = 3, d = 1) => computeWindow2D('t', [8, 8, C], [k, k], [1, 1], 'same', 1, [d, d]);
    expect([1, 2, 3, 4].map((C) => fusedConvApplies(g(C), FLAG_BIAS | RELU_CODE))).toEqual([true, true, true, false]);
    expect(fusedConvApplies(g(1, 1), FLAG_BIAS)).toBe(false);
    expect(fusedConvApplies(g(1, 3, 2), FLAG_BIAS)).toBe(false);
    expect(fusedConvApplies(g(1), FLAG_BIAS | (6 << 8))).toBe(false); // tanh
    setFusedConv(false);
    expect(fusedConvApplies(g(1), FLAG_BIAS)).toBe(false);
    setFusedConv(true);
  });
});

describe('winograd_forward with FLAG_POOL2X2 (inference: the pool taken as output tiles are finished)', () => {
  const wcases = ['2,13,11,8 k=3,3 oc=13 s=1,1 same', '1,14,14,32 k=3,3 oc=64 s=1,1 same', '1,10,7,12 k=3,3 oc=24 s=1,1 valid'].map(parse);
  wcases.forEach((c, idx) => {
    for (const m of [2, 4] as WinogradTile[]) {
      const flags = FLAGS[(idx + m) % FLAGS.length];
      it(`winograd F(${m}x${m},3x3) ${caseName(c)} (${flagName(flags)}) + 2x2 max pool: equals the pool of its output bit for bit, simd == scalar, vs float64`, () => {
        const rnd = mulberry32(500 + idx);
        const x = randomArray(c.N * c.H * c.W * c.C, rnd),
          w = randomArray(9 * c.C * c.OC, rnd),
          b = randomArray(c.OC, rnd);
        const g = computeWindow2D('t', [c.H, c.W, c.C], [3, 3], [1, 1], c.pad, c.N);
        const TB = winogradBlocks(g, c.OC, m).forward;
        const PH = g.OH >> 1,
          PW = g.OW >> 1,
          Y = c.N * g.OH * g.OW * c.OC,
          YP = c.N * PH * PW * c.OC;
        const ref = poolRef(
          conv2dRef(c, x, w, flags & FLAG_BIAS ? b : null, (flags & (FLAG_RELU | RELU_CODE)) !== 0),
          c.N,
          g.OH,
          g.OW,
          c.OC,
        );
        const pooled: Record<string, Float32Array> = {};
        for (const { name, be } of vs) {
          const [got, want] = withArena(be, (ar) => {
            const p = ar.place({
              x,
              w,
              b,
              u: winogradFilterFloats(c.C, c.OC, m),
              y: Y,
              yp: YP,
              scratch: winogradScratchFloats(g, c.OC, m, { forward: TB, input: TB, filter: TB }),
            });
            const bias = flags & FLAG_BIAS ? p.b : 0;
            winogradTransformFilter(be, p.w, p.u, c.C, c.OC, m, false);
            ar.run('pooled', [p.yp, p.scratch], () =>
              winogradForward(be, p.x, p.u, bias, p.yp, p.scratch, g, c.N, c.OC, m, flags | FLAG_POOL2X2, TB),
            );
            const a = ar.read(p.yp);
            ar.run('unpooled', [p.y, p.scratch], () => winogradForward(be, p.x, p.u, bias, p.y, p.scratch, g, c.N, c.OC, m, flags, TB));
            ar.run('maxpool2x2_forward', [p.yp], () => be.k.maxpool2x2_forward(p.y, p.yp, 0, c.N, g.OH, g.OW, c.OC, PH, PW));
            return [a, ar.read(p.yp)];
          });
          expectBitwise(got, want, `${name} pooled vs pool of the output`);
          expectClose(got, ref, { rtol: 1e-4, atol: 1e-4 * Math.sqrt(9 * c.C) }, `${name} pooled vs float64`);
          pooled[name] = got;
        }
        expectBitwise(pooled.simd, pooled.scalar, 'simd vs scalar pooled');
      });
    }
  });
});

describe('inference plans fold a 2x2 max pool into the convolution before it', () => {
  /** Models with the same weights; the one planned with folding and the fused kernels off keeps the pooling layer. */
  function pair(make: () => Sequential) {
    const on = make();
    setFusedConv(false);
    try {
      const off = make();
      return { on, off };
    } finally {
      setFusedConv(true);
    }
  }
  const nets: [string, (seed: number) => Sequential][] = [
    [
      'conv(8,3x3,same,relu)-maxpool2-dense(3) x=[11,11,1] (odd: the last row and column are never pooled)',
      (seed) =>
        new Sequential(
          [
            new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [11, 11, 1] }),
            new MaxPool2D({ poolSize: 2 }),
            new Flatten(),
            new Dense({ units: 3 }),
          ],
          { seed },
        ),
    ],
    [
      'conv(13,5x3,valid)-ReLU-maxpool2-dense(5) x=[12,9,3] (a folded ReLU layer, then the pool)',
      (seed) =>
        new Sequential(
          [
            new Conv2D({ filters: 13, kernelSize: [5, 3], inputShape: [12, 9, 3] }),
            new ReLU(),
            new MaxPool2D({ poolSize: 2 }),
            new Flatten(),
            new Dense({ units: 5 }),
          ],
          { seed },
        ),
    ],
    [
      'conv(6,3x3,same)-Activation(tanh)-maxpool2-dense(2) x=[8,10,2] (a folded tanh rules the fused kernel out: the pool runs in place after the conv)',
      (seed) =>
        new Sequential(
          [
            new Conv2D({ filters: 6, kernelSize: 3, padding: 'same', inputShape: [8, 10, 2] }),
            new Activation({ activation: 'tanh' }),
            new MaxPool2D({ poolSize: 2 }),
            new Flatten(),
            new Dense({ units: 2 }),
          ],
          { seed },
        ),
    ],
  ];
  nets.push([
    'conv(16,3x3,same,relu) Winograd -> maxpool2 -> dense(4) x=[13,10,8] (odd rows: the last is never pooled)',
    (seed) =>
      new Sequential(
        [
          new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [13, 10, 8] }),
          new MaxPool2D({ poolSize: 2 }),
          new Flatten(),
          new Dense({ units: 4 }),
        ],
        { seed },
      ),
  ]);
  nets.forEach(([name, make], idx) => {
    it(`${name}: same bits as the unfolded plan at batch 1 and 5`, () => {
      const { on, off } = pair(() => make(7 + idx));
      const [h, w, c] = on.inputs[0].shape.slice(1) as number[];
      const rnd = mulberry32(40 + idx);
      for (const n of [1, 5]) {
        const x = tensor(randomArray(n * h * w * c, rnd), [n, h, w, c]);
        const a = on.predict(x).data;
        setFusedConv(false);
        setInferenceFolding(false);
        const b = off.predict(x).data;
        setInferenceFolding(true);
        setFusedConv(true);
        expectBitwise(a, b, `batch ${n}`);
      }
      const steps = (m: Sequential) => m.runtime('t').current!.steps.map((s) => s.layer.className);
      expect(steps(on)).not.toContain('MaxPooling2D');
      expect(steps(off)).toContain('MaxPooling2D');
      on.dispose();
      off.dispose();
    });
  });
});
