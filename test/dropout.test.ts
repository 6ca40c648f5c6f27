// Dropout kernels: the mask is a pure function of (element index, keys), the same in the SIMD, scalar and
// relaxed builds and in this test's plain-TypeScript restatement of the hash; kept elements are x * scale
// exactly, dropped ones 0; the kept fraction is 1 - rate within 5 standard deviations; spatial dropout
// keeps or drops a whole channel of a sample. Sizes not divisible by 4, guarded writes, end of memory.
// The layers: forward and backward use the reference mask of their call (a seeded layer's stream is known),
// rate 0 is no dropout at all, a model seed fixes the weights after fit, configs as TF.js/Keras write them.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropoutConstants, dropoutKeys } from '../src/kernels/dropout.js';
import { Dense, Dropout, Sequential, SpatialDropout2D } from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';
import { createVariants, expectBitwise, type Variant, withArena } from './helpers.js';
import { keptRef, seededMask } from './batchnorm-reference.js';
import { mulberry32, randomArray } from './reference.js';
import { trainingForward } from './training-forward.js';

const keysOf = (rng: Rng, rate: number) => ({ ...dropoutKeys(rng), ...dropoutConstants(rate) });

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});

function dropoutRef(x: Float32Array, k: ReturnType<typeof keysOf>): Float32Array {
  return Float32Array.from(x, (v, i) => v * (keptRef(i, k.k1, k.k2, k.threshold) ? k.scale : 0));
}

const sizes = [1, 3, 4, 5, 17, 64, 1001];
const rates = [0.1, 0.5, 0.77];

describe('dropout kernels', () => {
  for (const n of sizes)
    for (const rate of rates) {
      it(`dropout n=${n} rate=${rate}: mask of the reference hash, x * scale kept, 0 dropped, every build alike; dy gets the same mask`, () => {
        const rnd = mulberry32(n * 7 + Math.round(rate * 100));
        const x = randomArray(n, rnd, 3),
          dy = randomArray(n, rnd);
        const k = keysOf(new Rng(n), rate);
        expect(k.k1 & 1, 'k1 odd').toBe(1);
        expect(k.scale).toBe(Math.fround(1 / Math.fround(1 - rate)));
        for (const v of vs) {
          withArena(v.be, (ar) => {
            const px = ar.f32('x', x),
              pdy = ar.f32('dy', dy),
              py = ar.out('y', n),
              pdx = ar.out('dx', n);
            ar.run('forward', [py], () => v.be.k.dropout_apply(px, py, n, k.k1, k.k2, k.threshold, k.scale));
            ar.run('backward', [pdx], () => v.be.k.dropout_apply(pdy, pdx, n, k.k1, k.k2, k.threshold, k.scale));
            expectBitwise(ar.read(py), dropoutRef(x, k), `[${v.name}] y`);
            expectBitwise(ar.read(pdx), dropoutRef(dy, k), `[${v.name}] dx`);
          });
        }
      });
    }

  it('dropout n=200003 rate=0.3: kept fraction 1 - rate within 5 sigma, kept values scaled by 1/(1 - rate), mean preserved', () => {
    const n = 200003,
      rate = 0.3;
    const x = new Float32Array(n).fill(1);
    const k = keysOf(new Rng(9), rate);
    const be = vs[0].be;
    withArena(be, (ar) => {
      const px = ar.f32('x', x),
        py = ar.out('y', n);
      ar.run('forward', [py], () => be.k.dropout_apply(px, py, n, k.k1, k.k2, k.threshold, k.scale));
      const y = ar.read(py);
      const kept = y.filter((v) => v !== 0).length;
      expect(Math.abs(kept / n - (1 - rate))).toBeLessThan(5 * Math.sqrt((rate * (1 - rate)) / n));
      expect(new Set(y.filter((v) => v !== 0)).size).toBe(1);
      expect(y.find((v) => v !== 0)).toBe(Math.fround(1 / 0.7));
      expect(Math.abs(y.reduce((s, v) => s + v, 0) / n - 1)).toBeLessThan(0.01);
    });
  });

  it('dropout: successive calls on one generator draw different masks, and the same seed gives the same ones', () => {
    const n = 4096,
      a = new Rng(5),
      b = new Rng(5);
    const masks = [0, 1, 2].map(() => keysOf(a, 0.5));
    const again = [0, 1, 2].map(() => keysOf(b, 0.5));
    expect(again).toEqual(masks);
    const bits = masks.map((k) => Array.from({ length: n }, (_, i) => keptRef(i, k.k1, k.k2, k.threshold)));
    for (const [i, j] of [
      [0, 1],
      [1, 2],
      [0, 2],
    ]) {
      const same = bits[i].filter((v, t) => v === bits[j][t]).length / n;
      expect(Math.abs(same - 0.5), `masks ${i} and ${j} agree on ${same} of elements`).toBeLessThan(0.05);
    }
  });

  it('dropout rate=0 keys keep everything', () => {
    const k = keysOf(new Rng(1), 0);
    expect(k.threshold).toBe(0);
    expect(k.scale).toBe(1);
  });

  for (const [N, P, C] of [
    [1, 1, 1],
    [2, 5, 3],
    [3, 7, 17],
    [2, 4, 8],
  ]) {
    it(`spatial dropout x=[${N},${P},${C}] rate=0.4: whole channels per sample, the hash of s * C + c`, () => {
      const rnd = mulberry32(N * 100 + C);
      const x = randomArray(N * P * C, rnd, 2);
      const k = keysOf(new Rng(C), 0.4);
      const ref = Float32Array.from(x, (v, i) => {
        const s = Math.floor(i / (P * C)),
          c = i % C;
        return v * (keptRef(s * C + c, k.k1, k.k2, k.threshold) ? k.scale : 0);
      });
      for (const v of vs) {
        withArena(v.be, (ar) => {
          const px = ar.f32('x', x),
            py = ar.out('y', x.length),
            scratch = ar.out('scratch', C);
          ar.run('forward', [py, scratch], () => v.be.k.spatial_dropout_apply(px, py, N, P, C, k.k1, k.k2, k.threshold, k.scale, scratch));
          expectBitwise(ar.read(py), ref, `[${v.name}] y`);
        });
      }
    });
  }

  it('dropout n=37 in place at the very end of memory', () => {
    const n = 37,
      x = randomArray(n, mulberry32(2)),
      k = keysOf(new Rng(3), 0.5);
    for (const v of vs) {
      withArena(v.be, (ar) => {
        const px = ar.atEnd('x', x);
        ar.run('in place', [px], () => v.be.k.dropout_apply(px, px, n, k.k1, k.k2, k.threshold, k.scale));
        expectBitwise(v.be.f32.slice(px / 4, px / 4 + n), dropoutRef(x, k), `[${v.name}]`);
      });
    }
  });
});

describe('Dropout and SpatialDropout2D layers', () => {
  it("dropout x=[3,1001] rate=0.4 seed=7: the training forward is x times the reference mask, vjp dy times the next call's mask", () => {
    const m = new Sequential([Dropout({ rate: 0.4, seed: 7, inputShape: [1001] })]);
    const x = randomTensor([3, 1001], new Rng(1), 2),
      dy = randomTensor([3, 1001], new Rng(2));
    const m0 = seededMask(7, 0, 0.4, 3003, (i) => i),
      m1 = seededMask(7, 1, 0.4, 3003, (i) => i);
    expectBitwise(
      trainingForward(m, x),
      Float32Array.from(x.data, (v, i) => v * m0[i]),
      'forward',
    );
    expectBitwise(
      m.vjp(x, dy).dx.data,
      Float32Array.from(dy.data, (v, i) => v * m1[i]),
      'backward: same mask as its forward',
    );
    const kept = m0.filter((v) => v !== 0).length / m0.length;
    expect(Math.abs(kept - 0.6)).toBeLessThan(5 * Math.sqrt(0.24 / 3003));
    expectBitwise(m.predict(x).data, x.data, 'predict: the identity');
    m.dispose();
  });

  it('spatial dropout x=[2,3,5,7] rate=0.5 seed=3: whole channels of a sample, in forward and backward', () => {
    const m = new Sequential([SpatialDropout2D({ rate: 0.5, seed: 3, inputShape: [3, 5, 7] })]);
    const x = randomTensor([2, 3, 5, 7], new Rng(3));
    const group = (i: number) => Math.floor(i / (3 * 5 * 7)) * 7 + (i % 7);
    const y = trainingForward(m, x),
      mask = seededMask(3, 0, 0.5, x.data.length, group);
    expectBitwise(
      y,
      Float32Array.from(x.data, (v, i) => v * mask[i]),
      'forward',
    );
    const dy = randomTensor([2, 3, 5, 7], new Rng(4)),
      m1 = seededMask(3, 1, 0.5, x.data.length, group);
    expectBitwise(
      m.vjp(x, dy).dx.data,
      Float32Array.from(dy.data, (v, i) => v * m1[i]),
      'backward',
    );
    expect(() => new Sequential([SpatialDropout2D({ rate: 0.5, inputShape: [4, 4], name: 'sd' })]).build()).toThrow(
      /sd \(SpatialDropout2D\): expected input of rank 4 \[\?, height, width, channels\], received \[null,4,4\]/,
    );
    m.dispose();
  });

  /** dense(8, relu) - [dropout(rate)] - dense(3, softmax) on [12, 6]. */
  const net = (rate: number | null, seed: number) =>
    new Sequential(
      [
        Dense({ units: 8, activation: 'relu', inputShape: [6] }),
        ...(rate === null ? [] : [Dropout({ rate })]),
        Dense({ units: 3, activation: 'softmax' }),
      ],
      { seed },
    );
  const data = () => {
    const rng = new Rng(11);
    return [randomTensor([12, 6], rng), Int32Array.from({ length: 12 }, () => rng.int(3))] as const;
  };
  const trained = async (rate: number | null, seed: number) => {
    const m = net(rate, seed);
    const [x, y] = data();
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(x, y, { epochs: 3, batchSize: 4 });
    const w = m.getWeights();
    m.dispose();
    return w;
  };

  it('rate 0 trains exactly as no dropout at all', async () => {
    const a = await trained(0, 5),
      b = await trained(null, 5);
    a.forEach((w, i) => expectBitwise(w, b[i], `weight ${i}`));
  });

  it('rate 0.5: the same model seed gives bit-identical weights after fit; another seed other ones', async () => {
    const a = await trained(0.5, 5),
      b = await trained(0.5, 5),
      c = await trained(0.5, 6);
    a.forEach((w, i) => expectBitwise(w, b[i], `weight ${i}`));
    expect(a[0]).not.toEqual(c[0]);
    expect(a[0]).not.toEqual((await trained(0, 5))[0]);
  });

  it('bad rates and seeds, and a noiseShape, are errors naming the layer', () => {
    expect(() => Dropout({ rate: 1, name: 'd1' })).toThrow(/d1: rate must be a number in \[0, 1\), received 1/);
    expect(() => Dropout({ rate: -0.1, name: 'd2' })).toThrow(/d2: rate must be/);
    expect(() => Dropout({ rate: 0.5, seed: 1.5, name: 'd3' })).toThrow(/d3: seed must be an integer or null/);
    expect(() => Dropout({ rate: 0.5, noiseShape: [1, 4] as never, name: 'd4' })).toThrow(
      /d4 \(Dropout\): option noiseShape=\[1,4\] is not supported \(only null\)/,
    );
    expect(() => SpatialDropout2D({ rate: 0.5, dataFormat: 'channelsFirst', name: 'd5' } as never)).toThrow(
      /d5 \(SpatialDropout2D\): option dataFormat='channelsFirst' is not supported/,
    );
  });

  it("getConfig: TF.js's Dropout keys; SpatialDropout2D with Keras 3's (no noise_shape)", () => {
    expect(Dropout({ rate: 0.3, name: 'dc' }).getConfig()).toEqual({
      rate: 0.3,
      noiseShape: null,
      seed: null,
      name: 'dc',
      trainable: true,
    });
    expect(SpatialDropout2D({ rate: 0.3, seed: 2, name: 'sc' }).getConfig()).toEqual({
      rate: 0.3,
      seed: 2,
      name: 'sc',
      trainable: true,
      dataFormat: 'channelsLast',
    });
  });
});

describe('dropout determinism across processes and builds', () => {
  const fixture = resolve(import.meta.dirname, 'fixtures/determinism-dropout.ts');
  const run = (build: string) =>
    JSON.parse(
      execFileSync('npx', ['tsx', fixture], { env: { ...process.env, SIMDCNN_BUILD: build }, encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop()!,
    );
  it('conv-BN-SpatialDropout2D-Dropout-dense, seed 42: two one-epoch trainings from the seed end with the same weights in each build; the same masks in both builds (two processes)', () => {
    const runs = ['simd', 'relaxed'].map(run);
    expect(runs.map((r) => r.build)).toEqual(['simd', 'relaxed']);
    for (const r of runs) expect(r.weights[1]).toBe(r.weights[0]);
    expect(runs[1].mask).toBe(runs[0].mask);
  }, 120_000);
});
