// The augmentation and preprocessing layers: what each draws for a seed (forward against the float64
// reference with the maps its generator gives, both through saved state and through scratch in chunks),
// backward as the exact transpose, determinism, the identity at inference (RandomCrop: Keras's centred
// resize, against TF.js), inside models (fit, predict, mid-graph gradients), Normalization.adapt, Rescaling
// against TF.js, configs both ways (registry, save/load) and errors that name the layer.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.js';
import { contrastFactors, cropMaps, flipMaps, rotationMaps, smartResizeMap, translationMaps, zoomMaps } from '../src/kernels/augment.js';
import type { Layer, NodeIO } from '../src/layers/layer.js';
import { getLayerClass } from '../src/layers/registry.js';
import {
  Conv2D,
  createBackend,
  data,
  Dense,
  Flatten,
  loadModel,
  Normalization,
  RandomContrast,
  RandomCrop,
  RandomErasing,
  RandomFlip,
  RandomRotation,
  RandomTranslation,
  RandomZoom,
  Rescaling,
  Sequential,
  SGD,
  ShapeError,
  Tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { contrastBackRef, contrastRef, type Shape, warpBackRef, warpRef } from './augment-reference.js';
import { expectBitwise, expectClose } from './helpers.js';
import { mulberry32, randomArray } from './reference.js';
import { tf } from './tfjs-helpers.js';

let be: Backend;
beforeAll(async () => {
  be = await createBackend({ build: 'simd' });
});

interface Run {
  y: Float32Array;
  dx: Float32Array;
  out: number[];
}

/** One node of `layer` on a batch, as the engine runs it: training with or without saved state, or inference. */
function runLayer(
  layer: Layer,
  shape: number[],
  x: Float32Array,
  dy: Float32Array | null,
  mode: 'saved' | 'chunks' | 'inference',
  rng = new Rng(1),
): Run {
  const n = shape[0],
    inShape = shape.slice(1);
  layer.build(inShape);
  const out = layer.computeOutputShape([inShape]);
  const shapes = { in: [inShape], out };
  const outFloats = n * out.reduce((a, b) => a * b, 1);
  const ptrs: number[] = [];
  const alloc = (floats: number) => {
    const p = be.alloc(Math.max(1, floats) * 4, 'test');
    ptrs.push(p);
    return p;
  };
  try {
    const io: NodeIO = {
      x: [alloc(x.length)],
      y: alloc(outFloats),
      dx: [alloc(x.length)],
      dy: alloc(outFloats),
      saved: mode === 'saved' ? alloc(n * layer.savedFloatsPerSample(shapes)) : 0,
      params: [],
      grads: [],
      scratch: alloc(layer.scratchFloats(shapes)),
      cache: 0,
      shapes,
      preActivationGrad: false,
    };
    be.write(io.x[0], x);
    const ctx = { be, training: mode !== 'inference', rng, weightsVersion: 0 };
    layer.forward(io, n, ctx);
    const y = be.read(io.y, outFloats);
    let dx: Float32Array = new Float32Array(0);
    if (dy && mode === 'saved') {
      be.write(io.dy, dy);
      layer.backward(io, n, { dx: [true], dw: false }, ctx);
      dx = be.read(io.dx[0], x.length);
    }
    return { y, dx, out };
  } finally {
    for (const p of ptrs) be.release(p);
  }
}

interface Case {
  name: string;
  make: (seed: number | null) => Layer;
  /** The maps (per sample) the layer's generator gives for this batch, as the layer draws them. */
  maps: (rng: Rng, s: Shape) => Float32Array;
  fill: 'constant' | 'reflect' | 'wrap' | 'nearest';
  interp: 'nearest' | 'bilinear';
  fillValue?: number;
  out?: [number, number];
}
const warpCases: Case[] = [
  {
    name: 'RandomFlip horizontal_and_vertical',
    make: (seed) => RandomFlip({ seed }),
    maps: (r, s) => flipMaps(r, s.N, s.H, s.W, true, true),
    fill: 'constant',
    interp: 'nearest',
  },
  {
    name: 'RandomFlip horizontal',
    make: (seed) => RandomFlip({ mode: 'horizontal', seed }),
    maps: (r, s) => flipMaps(r, s.N, s.H, s.W, true, false),
    fill: 'constant',
    interp: 'nearest',
  },
  {
    name: 'RandomTranslation 0.2/[-0.1,0.3] reflect bilinear',
    make: (seed) => RandomTranslation({ heightFactor: 0.2, widthFactor: [-0.1, 0.3], seed }),
    maps: (r, s) => translationMaps(r, s.N, s.H, s.W, [-0.2, 0.2], [-0.1, 0.3]),
    fill: 'reflect',
    interp: 'bilinear',
  },
  {
    name: 'RandomTranslation 0.25 constant 0.5 nearest',
    make: (seed) =>
      RandomTranslation({ heightFactor: 0.25, widthFactor: 0.25, fillMode: 'constant', fillValue: 0.5, interpolation: 'nearest', seed }),
    maps: (r, s) => translationMaps(r, s.N, s.H, s.W, [-0.25, 0.25], [-0.25, 0.25]),
    fill: 'constant',
    interp: 'nearest',
    fillValue: 0.5,
  },
  {
    name: 'RandomRotation 0.1 wrap bilinear',
    make: (seed) => RandomRotation({ factor: 0.1, fillMode: 'wrap', seed }),
    maps: (r, s) => rotationMaps(r, s.N, s.H, s.W, [-0.1, 0.1]),
    fill: 'wrap',
    interp: 'bilinear',
  },
  {
    name: 'RandomZoom [-0.3,0.4] x [0.1,0.2] nearest-fill',
    make: (seed) => RandomZoom({ heightFactor: [-0.3, 0.4], widthFactor: [0.1, 0.2], fillMode: 'nearest', seed }),
    maps: (r, s) => zoomMaps(r, s.N, s.H, s.W, [-0.3, 0.4], [0.1, 0.2]),
    fill: 'nearest',
    interp: 'bilinear',
  },
  {
    name: 'RandomZoom 0.2 (width as height)',
    make: (seed) => RandomZoom({ heightFactor: 0.2, seed }),
    maps: (r, s) => zoomMaps(r, s.N, s.H, s.W, [-0.2, 0.2], null),
    fill: 'reflect',
    interp: 'bilinear',
  },
  {
    name: 'RandomCrop 5x6',
    make: (seed) => RandomCrop({ height: 5, width: 6, seed }),
    maps: (r, s) => cropMaps(r, s.N, s.H, s.W, 5, 6),
    fill: 'constant',
    interp: 'nearest',
    out: [5, 6],
  },
];

describe('random warp layers: the seed fixes the maps; forward and backward against float64', () => {
  const shape = [40, 9, 7, 3]; // 40 samples: two chunks through scratch when no state is saved
  const x = randomArray(
    shape.reduce((a, b) => a * b),
    mulberry32(1),
  );
  for (const c of warpCases)
    it(`${c.name} x=[${shape}]: y (saved and chunked) and dx vs float64 with its seed's maps; same seed same y, another seed another`, () => {
      const s: Shape = { N: 40, H: 9, W: 7, C: 3, OH: c.out?.[0] ?? 9, OW: c.out?.[1] ?? 7 };
      const dy = randomArray(s.N * s.OH * s.OW * s.C, mulberry32(2));
      const maps = c.maps(new Rng(11), s);
      const a = runLayer(c.make(11), shape, x, dy, 'saved');
      const b = runLayer(c.make(11), shape, x, null, 'chunks');
      expect(a.out).toEqual([s.OH, s.OW, 3]);
      expectClose(a.y, warpRef(s, x, maps, false, c.fill, c.interp, c.fillValue ?? 0), { rtol: 1e-5, atol: 1e-6 }, 'y');
      expectClose(a.dx, warpBackRef(s, dy, maps, false, c.fill, c.interp), { rtol: 1e-5, atol: 1e-5 }, 'dx');
      expectBitwise(b.y, a.y, 'chunked y');
      expect(Array.from(a.y)).not.toEqual(Array.from(runLayer(c.make(12), shape, x, null, 'chunks').y));
      // Without a seed of its own the layer draws from the model's generator.
      expectBitwise(runLayer(c.make(null), shape, x, null, 'chunks', new Rng(11)).y, a.y, 'model generator');
    });

  for (const c of warpCases.filter((c) => !c.out))
    it(`${c.name}: the identity at inference, bit for bit`, () => {
      expectBitwise(runLayer(c.make(3), shape, x, null, 'inference').y, x, 'inference');
    });

  it('RandomCrop at inference and on smaller images: Keras smart_resize (centred window of the aspect ratio, bilinear), as TF.js resizeBilinear', () => {
    const img = randomArray(2 * 10 * 8 * 3, mulberry32(5));
    const got = runLayer(RandomCrop({ height: 5, width: 4 }), [2, 10, 8, 3], img, null, 'inference').y;
    const want = tf.tidy(() =>
      tf.image
        .resizeBilinear(tf.tensor4d(img, [2, 10, 8, 3]), [5, 4], false, true)
        .dataSync()
        .slice(),
    );
    expectClose(got, want, { rtol: 1e-5, atol: 1e-6 }, 'same aspect ratio vs TF.js');
    const s: Shape = { N: 2, H: 9, W: 7, C: 3, OH: 4, OW: 6 };
    const x2 = randomArray(2 * 9 * 7 * 3, mulberry32(6));
    const ref = warpRef(s, x2, smartResizeMap(9, 7, 4, 6), true, 'nearest', 'bilinear', 0);
    expectClose(
      runLayer(RandomCrop({ height: 4, width: 6 }), [2, 9, 7, 3], x2, null, 'inference').y,
      ref,
      { rtol: 1e-5, atol: 1e-6 },
      'centre crop + resize',
    );
    // Training on an image smaller than the crop resizes as well (Keras), and backward is that resize's transpose.
    const small: Shape = { N: 2, H: 4, W: 5, C: 3, OH: 6, OW: 6 };
    const xs = randomArray(2 * 4 * 5 * 3, mulberry32(7)),
      dy = randomArray(2 * 6 * 6 * 3, mulberry32(8));
    const r = runLayer(RandomCrop({ height: 6, width: 6, seed: 1 }), [2, 4, 5, 3], xs, dy, 'saved');
    const map = smartResizeMap(4, 5, 6, 6);
    expectClose(r.y, warpRef(small, xs, map, true, 'nearest', 'bilinear', 0), { rtol: 1e-5, atol: 1e-6 }, 'training resize');
    expectClose(r.dx, warpBackRef(small, dy, map, true, 'nearest', 'bilinear'), { rtol: 1e-5, atol: 1e-5 }, 'training resize dx');
  });
});

describe('RandomContrast and RandomErasing layers', () => {
  const shape = [37, 5, 6, 4];
  const x = Float32Array.from(randomArray(37 * 5 * 6 * 4, mulberry32(3)), (v) => 100 + 80 * v);
  it('RandomContrast factor 0.5 x=[37,5,6,4]: y and dx vs float64 with its seed factors (clipped to [0, 255]); chunked equal; identity at inference', () => {
    const dy = randomArray(x.length, mulberry32(4));
    const f = contrastFactors(new Rng(5), 37, 0.5, 0.5);
    const a = runLayer(RandomContrast({ factor: 0.5, seed: 5 }), shape, x, dy, 'saved');
    expectClose(a.y, contrastRef(x, f, 37, 30, 4, 0, 255), { rtol: 1e-5, atol: 1e-4 }, 'y');
    expectClose(a.dx, contrastBackRef(a.y, dy, f, 37, 30, 4, 0, 255), { rtol: 1e-5, atol: 1e-6 }, 'dx');
    expectBitwise(runLayer(RandomContrast({ factor: 0.5, seed: 5 }), shape, x, null, 'chunks').y, a.y, 'chunked');
    expectBitwise(runLayer(RandomContrast({ factor: 0.5, seed: 5 }), shape, x, null, 'inference').y, x, 'inference');
  });
  it('RandomErasing x=[37,5,6,4]: rectangles of the right area set to one value each, dx zero exactly there; chunked equal; identity at inference', () => {
    const dy = randomArray(x.length, mulberry32(6));
    const make = () => RandomErasing({ factor: 0.7, scale: [0.1, 0.3], fillValue: 7, seed: 9 });
    const a = runLayer(make(), shape, x, dy, 'saved');
    let erased = 0,
      samples = 0;
    for (let b = 0; b < 37; b++) {
      let k = 0;
      for (let i = b * 120; i < (b + 1) * 120; i++) {
        const hit = a.y[i] !== x[i];
        if (hit) expect(a.y[i]).toBe(7);
        expect(a.dx[i]).toBe(hit ? 0 : dy[i]);
        k += hit ? 1 : 0;
      }
      if (k) samples++;
      erased += k;
      expect(k === 0 || (k >= 0.05 * 120 && k <= 0.45 * 120)).toBe(true);
    }
    expect(samples).toBeGreaterThan(15);
    expect(samples).toBeLessThan(37);
    expect(erased).toBeGreaterThan(0);
    expectBitwise(runLayer(make(), shape, x, null, 'chunks').y, a.y, 'chunked');
    expectBitwise(runLayer(make(), shape, x, null, 'inference').y, x, 'inference');
  });
});

function smallNet(augment: Layer[], seed: number) {
  return new Sequential(
    [...augment, Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }), Flatten(), Dense({ units: 3, activation: 'softmax' })],
    { seed },
  );
}

describe('in models', () => {
  const N = 12;
  const x = new Tensor(
    Float32Array.from(randomArray(N * 9 * 7 * 3, mulberry32(1)), (v) => 0.5 + 0.5 * v),
    [N, 9, 7, 3],
  );
  const y = Int32Array.from({ length: N }, (_, i) => i % 3);
  const augment = () => [
    Rescaling({ scale: 2, offset: -1, inputShape: [9, 7, 3] }),
    RandomFlip({ mode: 'horizontal' }),
    RandomTranslation({ heightFactor: 0.2, widthFactor: 0.2 }),
    RandomRotation({ factor: 0.05 }),
    RandomZoom({ heightFactor: 0.1 }),
    RandomContrast({ factor: 0.2, valueRange: [-1, 1] }),
    RandomErasing({ factor: 0.5, fillValue: 0 }),
  ];
  async function trained(layers: Layer[], seed: number): Promise<Float32Array[]> {
    const m = smallNet(layers, seed);
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    await m.fit(x, y, { epochs: 2, batchSize: 5 });
    const w = m.getWeights();
    m.dispose();
    return w;
  }

  it('fit with every augmentation layer: the model seed fixes the run bit for bit; the augmentation changed it', async () => {
    const a = await trained(augment(), 4),
      b = await trained(augment(), 4);
    a.forEach((w, i) => expectBitwise(b[i], w, `weight ${i}`));
    const plain = await trained([Rescaling({ scale: 2, offset: -1, inputShape: [9, 7, 3] })], 4);
    expect(Array.from(plain[0])).not.toEqual(Array.from(a[0]));
  });

  it('predict and evaluate ignore the random layers (Rescaling applies)', () => {
    const withAug = smallNet(augment(), 6),
      without = smallNet([Rescaling({ scale: 2, offset: -1, inputShape: [9, 7, 3] })], 6);
    expectBitwise(withAug.predict(x).data, without.predict(x).data, 'predict');
    withAug.dispose();
    without.dispose();
  });

  it('mid-graph: conv -> RandomFlip -> dense; vjp equals conv->dense with the flip transposed in by hand', () => {
    const s: Shape = { N: 3, H: 7, W: 5, C: 4, OH: 7, OW: 5 };
    const conv = () => Conv2D({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [7, 5, 2] });
    const full = new Sequential([conv(), RandomFlip({ seed: 21 }), Flatten(), Dense({ units: 2 })], { seed: 3 });
    const head = new Sequential([conv(), Flatten(), Dense({ units: 2 })], { seed: 3 });
    head.setWeights(full.getWeights());
    const xs = new Tensor(randomArray(3 * 7 * 5 * 2, mulberry32(2)), [3, 7, 5, 2]);
    const r = new Tensor(randomArray(6, mulberry32(3)), [3, 2]);
    const got = full.vjp(xs, r);
    // dL/d(flip output) from the dense head, flipped back with the maps seed 21 draws, into the conv alone.
    const dense = head.getWeights()[2];
    const dFlip = new Float64Array(3 * 140);
    for (let b = 0; b < 3; b++)
      for (let i = 0; i < 140; i++) dFlip[b * 140 + i] = dense[i * 2] * r.data[b * 2] + dense[i * 2 + 1] * r.data[b * 2 + 1];
    const dConv = Float32Array.from(warpBackRef(s, dFlip, flipMaps(new Rng(21), 3, 7, 5, true, true), false, 'constant', 'nearest'));
    const convOnly = new Sequential([conv()], { seed: 3 });
    convOnly.setWeights(head.getWeights().slice(0, 2));
    const want = convOnly.vjp(xs, new Tensor(dConv, [3, 7, 5, 4]));
    expectClose(got.dx.data, want.dx.data, { rtol: 1e-4, atol: 1e-5 }, 'dx');
    expectClose(got.grads[0], want.grads[0], { rtol: 1e-4, atol: 1e-5 }, 'conv kernel gradient');
    for (const m of [full, head, convOnly]) m.dispose();
  });

  it('save and load keep every layer config and the adapted statistics; predictions bit-identical', async () => {
    const norm = Normalization();
    norm.adapt(x);
    const m = new Sequential(
      [...augment(), RandomCrop({ height: 7, width: 5 }), norm, Flatten(), Dense({ units: 3, activation: 'softmax' })],
      { seed: 8 },
    );
    const back = await loadModel(await m.save());
    expect(back.toJSON()).toEqual(m.toJSON());
    expectBitwise(back.predict(x).data, m.predict(x).data, 'predict');
    m.dispose();
    back.dispose();
  });
});

describe('Normalization and Rescaling', () => {
  const x = new Tensor(
    Float32Array.from(randomArray(6 * 5 * 3 * 7, mulberry32(4)), (v, i) => 3 * v + (i % 7)),
    [6, 5, 3, 7],
  );
  it('adapt x=[6,5,3,7]: per-channel mean and variance (float64), non-trainable weights listed after the trainable ones; predict normalises', () => {
    const norm = Normalization({ inputShape: [5, 3, 7] });
    norm.adapt(x);
    const m = new Sequential([norm, Flatten(), Dense({ units: 2 })], { seed: 1 });
    const w = m.getWeights();
    const names = m.weightSpecs().map((s) => s.name);
    expect(names.map((k) => k.replace(/_\d+\//, '/'))).toEqual([
      'dense/kernel',
      'dense/bias',
      'normalization/mean',
      'normalization/variance',
    ]);
    const mean = new Float64Array(7),
      sq = new Float64Array(7);
    x.data.forEach((v, i) => (mean[i % 7] += v / 90));
    x.data.forEach((v, i) => (sq[i % 7] += (v - mean[i % 7]) ** 2 / 90));
    expectClose(w[2], mean, { rtol: 1e-6, atol: 1e-6 }, 'mean');
    expectClose(w[3], sq, { rtol: 1e-6, atol: 1e-6 }, 'variance');
    // Adapting again once the weights are in memory overwrites them.
    const shifted = new Tensor(
      Float32Array.from(x.data, (v) => v + 10),
      x.shape,
    );
    norm.adapt(shifted);
    expectClose(
      m.getWeights()[2],
      Float64Array.from(mean, (v) => v + 10),
      { rtol: 1e-6, atol: 1e-5 },
      'mean after a second adapt',
    );
    m.dispose();
    const alone = new Sequential([Normalization({ mean: Array.from(mean), variance: Array.from(sq), inputShape: [5, 3, 7] })]);
    const ref = Float64Array.from(x.data, (v, i) => (v - Math.fround(mean[i % 7])) / Math.sqrt(Math.fround(sq[i % 7])));
    expectClose(alone.predict(x).data, ref, { rtol: 1e-5, atol: 1e-5 }, 'fixed statistics');
    expect(alone.getWeights().length).toBe(0);
    alone.dispose();
  });

  it('adapt on a Dataset of batches (Tensors or {xs, ys}) in one pass equals adapt on the whole Tensor; bad batches name the layer', async () => {
    const whole = Normalization(),
      batched = Normalization(),
      pairs = Normalization();
    for (const l of [whole, batched, pairs]) l.build([5, 3, 7]);
    whole.adapt(x);
    const rows = (i: number, k: number) => new Tensor(x.data.slice(i * 105, (i + k) * 105), [k, 5, 3, 7]);
    await batched.adapt(data.array([rows(0, 1), rows(1, 3), rows(4, 2)]));
    await pairs.adapt(
      data.array([
        { xs: rows(0, 4), ys: [0, 1, 0, 1] },
        { xs: rows(4, 2), ys: [1, 0] },
      ]),
    );
    const stats = (l: Layer) => l.weights.map((w) => w.values!);
    for (const l of [batched, pairs])
      stats(l).forEach((v, i) => expectClose(v, stats(whole)[i], { rtol: 1e-6, atol: 1e-6 }, `weight ${i}`));
    await expect(Normalization().adapt(data.array([rows(0, 1), new Tensor(new Float32Array(6), [1, 6])]))).rejects.toThrow(
      /\(Normalization\)\.adapt: expected 7 channels, received a batch of shape \[1,6\]/,
    );
    await expect(Normalization().adapt(data.array([]))).rejects.toThrow(/the data is empty/);
  });

  it('Rescaling: predictions bit-identical to TF.js tf.layers.rescaling, same config', () => {
    const ours = new Sequential([Rescaling({ scale: 1 / 255, offset: -0.5, inputShape: [5, 3, 7] })]);
    const theirs = tf.sequential({ layers: [tf.layers.rescaling({ scale: 1 / 255, offset: -0.5, inputShape: [5, 3, 7] })] });
    const want = tf.tidy(() => (theirs.predict(tf.tensor4d(x.data, [6, 5, 3, 7])) as tf.Tensor).dataSync().slice());
    expectBitwise(ours.predict(x).data, Float32Array.from(want), 'predict');
    const cfg = theirs.layers[0].getConfig();
    expect({ scale: cfg.scale, offset: cfg.offset }).toEqual({ scale: 1 / 255, offset: -0.5 });
    expect(ours.layers[0].getConfig()).toMatchObject({ scale: 1 / 255, offset: -0.5 });
    ours.dispose();
    theirs.dispose();
  });
});

describe('configs and errors', () => {
  const made: [string, () => Layer][] = [
    ['Rescaling', () => Rescaling({ scale: 0.5, offset: 1 })],
    ['Normalization', () => Normalization({ mean: [1, 2], variance: [3, 4], invert: true })],
    ['RandomFlip', () => RandomFlip({ mode: 'vertical', seed: 3 })],
    [
      'RandomTranslation',
      () => RandomTranslation({ heightFactor: [-0.2, 0.1], widthFactor: 0.3, fillMode: 'wrap', interpolation: 'nearest', fillValue: 2 }),
    ],
    ['RandomRotation', () => RandomRotation({ factor: 0.25, seed: 1 })],
    ['RandomZoom', () => RandomZoom({ heightFactor: 0.2, widthFactor: [-0.1, 0.3] })],
    ['RandomCrop', () => RandomCrop({ height: 3, width: 5, seed: 2 })],
    ['RandomContrast', () => RandomContrast({ factor: [0.2, 0.5], valueRange: [0, 1] })],
    ['RandomErasing', () => RandomErasing({ factor: 0.5, scale: [0.1, 0.2], fillValue: null })],
  ];
  for (const [cls, make] of made)
    it(`${cls}: fromConfig(getConfig()) gives the same config`, () => {
      const l = make();
      expect(l.className).toBe(cls);
      expect(getLayerClass(cls)!.fromConfig(l.getConfig()).getConfig()).toEqual(l.getConfig());
    });

  it('a Keras 3 file with the augmentation layers (snake_case configs) loads; unsupported values are errors naming the layer', async () => {
    const layer = (class_name: string, config: object) => ({
      class_name,
      config: { name: class_name.toLowerCase(), trainable: true, dtype: 'float32', ...config },
    });
    const topology = {
      class_name: 'Sequential',
      config: {
        name: 'keras3',
        layers: [
          { class_name: 'InputLayer', config: { batch_shape: [null, 8, 8, 3], name: 'input_layer' } },
          layer('Rescaling', { scale: 0.00392156862745098, offset: 0.0 }),
          layer('RandomFlip', { mode: 'horizontal', seed: null }),
          layer('RandomTranslation', {
            height_factor: 0.1,
            width_factor: 0.1,
            fill_mode: 'reflect',
            interpolation: 'bilinear',
            seed: null,
            fill_value: 0.0,
          }),
          layer('RandomRotation', { factor: [-0.1, 0.1], fill_mode: 'reflect', interpolation: 'bilinear', seed: null, fill_value: 0.0 }),
          layer('RandomZoom', {
            height_factor: 0.1,
            width_factor: null,
            fill_mode: 'reflect',
            interpolation: 'bilinear',
            seed: null,
            fill_value: 0.0,
          }),
          layer('RandomContrast', { factor: 0.2, value_range: [0, 255], seed: null }),
          layer('Flatten', {}),
        ],
      },
    };
    const files = {
      modelJson: { modelTopology: topology, format: 'layers-model', weightsManifest: [{ paths: [], weights: [] }] },
      weights: new ArrayBuffer(0),
    };
    const m = await loadModel(files as never);
    expect(m.layers.map((l) => l.className)).toEqual([
      'Rescaling',
      'RandomFlip',
      'RandomTranslation',
      'RandomRotation',
      'RandomZoom',
      'RandomContrast',
      'Flatten',
    ]);
    m.dispose();
    topology.config.layers[3] = layer('RandomTranslation', { height_factor: 0.1, width_factor: 0.1, fill_mode: 'mirror' });
    await expect(loadModel(files as never)).rejects.toThrow(/RandomTranslation.*fillMode 'mirror' is not supported/);
  });

  it('bad options and shapes: errors naming the layer, expected vs received', () => {
    expect(() => RandomFlip({ mode: 'diagonal' as never })).toThrow(
      /random_flip.*\(RandomFlip\): mode 'diagonal' is not supported \(horizontal, vertical, horizontal_and_vertical\)/,
    );
    expect(() => RandomTranslation({ heightFactor: 1.5, widthFactor: 0 })).toThrow(
      /\(RandomTranslation\): heightFactor must be .* in \[-1, 1\], received 1.5/,
    );
    expect(() => RandomTranslation({ heightFactor: [0.2, -0.2], widthFactor: 0 })).toThrow(/lower <= upper/);
    expect(() => RandomRotation({ factor: Number.NaN })).toThrow(/\(RandomRotation\): factor/);
    expect(() => RandomZoom({ heightFactor: -1.5 })).toThrow(/\(RandomZoom\): heightFactor/);
    expect(() => RandomCrop({ height: 0, width: 3 })).toThrow(/\(RandomCrop\): height must be a positive integer, received 0/);
    expect(() => RandomContrast({ factor: 1.5 })).toThrow(/\(RandomContrast\): the factor's lower bound must be at most 1/);
    expect(() => RandomErasing({ factor: 2 })).toThrow(/\(RandomErasing\): factor/);
    expect(() => RandomFlip({ seed: 1.5 })).toThrow(/\(RandomFlip\): seed must be an integer or null, received 1.5/);
    expect(() => Rescaling({ scale: Number.POSITIVE_INFINITY })).toThrow(/\(Rescaling\): scale must be a finite number/);
    expect(() => Normalization({ mean: 1 })).toThrow(/\(Normalization\): give both mean and variance/);
    expect(() => Normalization({ mean: 0, variance: -1 })).toThrow(/variance must not be negative/);
    expect(() => new Sequential([RandomFlip({ inputShape: [10] }), Dense({ units: 2 })]).build()).toThrow(ShapeError);
    expect(() => new Sequential([RandomFlip({ inputShape: [10] }), Dense({ units: 2 })]).build()).toThrow(
      /random_flip.*\(RandomFlip\): expected images of rank 4 \[\?, height, width, channels\], received \[null,10\]/,
    );
    expect(() => new Sequential([Normalization({ mean: [1, 2], variance: [1, 1], inputShape: [4, 4, 3] })]).build()).toThrow(
      /\(Normalization\): the statistics have 2 values but the input \[null,4,4,3\] has 3 channels/,
    );
    const norm = Normalization();
    expect(() => norm.adapt(new Tensor(Float32Array.of(1, Number.NaN), [1, 2]))).toThrow(ValueError);
    expect(() => norm.adapt(new Tensor(Float32Array.of(1, Number.NaN), [1, 2]))).toThrow(
      /\(Normalization\)\.adapt: the data holds NaN at index 1/,
    );
  });
});
