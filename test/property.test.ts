// Property-based: random layer stacks on random shapes, forward and backward (vjp) against a float64
// reference assembled from test/reference.ts. fast-check with a fixed seed, so failures replay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, tensor } from '../src/node.js';
import type { Layer } from '../src/layers/layer.js';
import { conv2dBackwardRef, conv2dRef, type ConvCase, matmulRef, mulberry, type PoolCase, poolRef, randomArray } from './reference.js';
import { expectClose } from './helpers.js';

type Spec =
  | { kind: 'conv'; filters: number; k: [number, number]; s: [number, number]; pad: 'valid' | 'same'; relu: boolean; bias: boolean }
  | { kind: 'maxpool' | 'avgpool'; p: [number, number]; s: [number, number]; pad: 'valid' | 'same' }
  | { kind: 'relu' };

const size = fc.integer({ min: 1, max: 4 });
const spec: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({
    kind: fc.constant('conv' as const),
    filters: fc.integer({ min: 1, max: 9 }),
    k: fc.tuple(size, size),
    s: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pad: fc.constantFrom('valid' as const, 'same' as const),
    relu: fc.boolean(),
    bias: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('maxpool' as const, 'avgpool' as const),
    p: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    s: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pad: fc.constantFrom('valid' as const, 'same' as const),
  }),
  fc.record({ kind: fc.constant('relu' as const) }),
);

interface Step {
  spec: Spec | { kind: 'flatten' } | { kind: 'dense'; units: number };
  inShape: number[];
  w?: Float32Array;
  b?: Float32Array;
}

/** Float64 forward through the stack, keeping each layer's input for the backward pass. */
function refForward(steps: Step[], x: Float64Array, N: number): { ys: Float64Array[] } {
  const ys: Float64Array[] = [x];
  let cur = x;
  for (const st of steps) {
    const [H, W, C] = st.inShape,
      sp = st.spec;
    if (sp.kind === 'conv') {
      const c: ConvCase = { N, H, W, C, KH: sp.k[0], KW: sp.k[1], OC: sp.filters, SH: sp.s[0], SW: sp.s[1], pad: sp.pad };
      cur = conv2dRef(c, cur, st.w!, st.b ?? null, sp.relu);
    } else if (sp.kind === 'maxpool' || sp.kind === 'avgpool') {
      const c: PoolCase = { N, H, W, C, PH: sp.p[0], PW: sp.p[1], SH: sp.s[0], SW: sp.s[1], pad: sp.pad };
      cur = poolRef(c, sp.kind === 'maxpool' ? 'max' : 'avg', cur, new Float64Array(0)).y;
    } else if (sp.kind === 'relu') cur = cur.map((v) => Math.max(0, v));
    else if (sp.kind === 'dense') {
      const IN = st.inShape[0],
        OUT = sp.units,
        xx = cur;
      cur = matmulRef(
        N,
        OUT,
        IN,
        (i, k) => xx[i * IN + k],
        (k, j) => st.w![k * OUT + j],
      ).map((v, i) => v + st.b![i % OUT]);
    }
    ys.push(cur);
  }
  return { ys };
}

/** Float64 gradient of sum(r * output) w.r.t. the input, layer by layer backwards. */
function refBackward(steps: Step[], ys: Float64Array[], r: Float64Array, N: number): Float64Array {
  let g = r;
  for (let i = steps.length - 1; i >= 0; i--) {
    const st = steps[i],
      sp = st.spec,
      [H, W, C] = st.inShape,
      x = ys[i],
      y = ys[i + 1];
    if (sp.kind === 'conv') {
      const gz = sp.relu ? g.map((v, j) => (y[j] > 0 ? v : 0)) : g;
      g = conv2dBackwardRef(
        { N, H, W, C, KH: sp.k[0], KW: sp.k[1], OC: sp.filters, SH: sp.s[0], SW: sp.s[1], pad: sp.pad },
        x,
        st.w!,
        gz,
      ).dx;
    } else if (sp.kind === 'maxpool' || sp.kind === 'avgpool') {
      g = poolRef(
        { N, H, W, C, PH: sp.p[0], PW: sp.p[1], SH: sp.s[0], SW: sp.s[1], pad: sp.pad },
        sp.kind === 'maxpool' ? 'max' : 'avg',
        x,
        g,
      ).dx;
    } else if (sp.kind === 'relu') g = g.map((v, j) => (x[j] > 0 ? v : 0));
    else if (sp.kind === 'dense') {
      const IN = st.inShape[0],
        OUT = sp.units,
        gg = g;
      g = matmulRef(
        N,
        IN,
        OUT,
        (a, k) => gg[a * OUT + k],
        (k, j) => st.w![j * OUT + k],
      );
    }
  }
  return g;
}

describe('random layer stacks against the float64 reference', () => {
  it('conv/pool/relu stacks + flatten + dense on random [N,H,W,C]: predict and vjp input gradient', () => {
    fc.assert(
      fc.property(
        fc.record({
          N: fc.integer({ min: 1, max: 3 }),
          H: fc.integer({ min: 1, max: 9 }),
          W: fc.integer({ min: 1, max: 9 }),
          C: fc.integer({ min: 1, max: 6 }),
        }),
        fc.array(spec, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer(),
        ({ N, H, W, C }, specs, units, seed) => {
          const rnd = mulberry(seed);
          const layers: Layer[] = [];
          const steps: Step[] = [];
          let shape = [H, W, C];
          for (const sp of specs) {
            let l: Layer;
            if (sp.kind === 'conv')
              l = new Conv2D({
                filters: sp.filters,
                kernelSize: sp.k,
                strides: sp.s,
                padding: sp.pad,
                activation: sp.relu ? 'relu' : 'linear',
                useBias: sp.bias,
              });
            else if (sp.kind === 'relu') l = new ReLU();
            else l = new (sp.kind === 'maxpool' ? MaxPool2D : AvgPool2D)({ poolSize: sp.p, strides: sp.s, padding: sp.pad });
            try {
              l.build(shape);
            } catch {
              continue;
            } // a window that cannot fit: the generator asked for the impossible
            layers.push(l);
            steps.push({ spec: sp, inShape: shape });
            shape = l.outputShape;
          }
          const flat = shape.reduce((a, b) => a * b, 1);
          layers.push(new Flatten(), new Dense({ units }));
          steps.push({ spec: { kind: 'flatten' }, inShape: shape }, { spec: { kind: 'dense', units }, inShape: [flat] });
          const model = new Sequential(
            layers.map((l, i) => (i === 0 ? rebuildWithInput(l, [H, W, C]) : l)),
            { seed: 1 },
          );
          model.build();
          // Weights from the reference's generator, so both sides use the same values.
          const weights = model.weightSpecs().map((s) =>
            randomArray(
              s.shape.reduce((a, b) => a * b, 1),
              rnd,
            ),
          );
          model.setWeights(weights);
          let k = 0;
          for (const st of steps) {
            const l = model.layers[steps.indexOf(st)];
            if (l.weights.length) {
              st.w = weights[k++];
              if (l.weights.length > 1) st.b = weights[k++];
            }
          }
          const x = randomArray(N * H * W * C, rnd);
          const { ys } = refForward(steps, Float64Array.from(x), N);
          const out = model.predict(tensor(x, [N, H, W, C]));
          expectClose(out.data, ys[ys.length - 1], { rtol: 1e-3, atol: 1e-4 }, 'forward');
          const r = randomArray(out.data.length, rnd);
          const dx = model.vjp(tensor(x, [N, H, W, C]), tensor(r, out.shape)).dx;
          expectClose(dx.data, refBackward(steps, ys, Float64Array.from(r), N), { rtol: 1e-3, atol: 1e-4 }, 'input gradient');
          model.dispose();
        },
      ),
      { seed: 42, numRuns: 120 },
    );
  });
});

/** The same layer with inputShape set (layers are immutable after construction). */
function rebuildWithInput(l: Layer, inputShape: number[]): Layer {
  const c = l.getConfig() as Record<string, unknown>;
  delete c.name;
  const Ctor = l.constructor as new (a: Record<string, unknown>) => Layer;
  const made = new Ctor({ ...c, inputShape });
  expect(made.className).toBe(l.className);
  return made;
}
