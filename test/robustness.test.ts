// Resource behaviour, memory limits, determinism and parser fuzzing.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AvgPool2D,
  Conv2D,
  currentBackend,
  DataError,
  Dense,
  Flatten,
  MaxPool2D,
  MemoryError,
  Sequential,
  Tensor,
  tensor,
} from '../src/node.js';
import { parseIdx } from '../src/idx.js';
import { Rng } from '../src/random.js';

const small = () =>
  new Sequential(
    [
      new Conv2D({ filters: 4, kernelSize: 3, inputShape: [10, 10, 2] }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 1 },
  );

describe('memory', () => {
  it('building, training and disposing 1,000 models [?,10,10,2] returns every byte; wasm memory stays flat', () => {
    const be = currentBackend();
    const x = tensor(new Float32Array(8 * 200).fill(0.5), [8, 10, 10, 2]);
    const warm = small();
    warm.predict(x);
    warm.dispose();
    const base = be.allocatedBytes,
      mem = be.memoryBytes;
    for (let i = 0; i < 1000; i++) {
      const m = small();
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      if (i % 50 === 0) m.trainOnBatch(x, [0, 1, 2, 0, 1, 2, 0, 1]);
      else m.predict(x);
      m.dispose();
    }
    expect(be.allocatedBytes).toBe(base);
    expect(be.memoryBytes).toBe(mem);
  });

  it('10,000 predict calls leave wasm memory and the process heap flat', () => {
    const be = currentBackend();
    const m = small();
    const x = tensor(new Float32Array(200).fill(0.1), [1, 10, 10, 2]);
    for (let i = 0; i < 500; i++) m.predict(x);
    const mem = be.memoryBytes;
    global.gc?.();
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) m.predict(x);
    global.gc?.();
    expect(be.memoryBytes).toBe(mem);
    // Without --expose-gc garbage may still be pending: bound the growth, not exact equality.
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(32 * 2 ** 20);
    m.dispose();
  });

  it('a model whose weights exceed the 4 GiB wasm limit is refused at build, before anything runs', () => {
    const before = currentBackend().memoryBytes;
    const m = new Sequential([new Dense({ units: 40_000, inputShape: [40_000] }), new Dense({ units: 2, activation: 'softmax' })]);
    expect(() => m.summary(() => {})).toThrow(MemoryError);
    expect(currentBackend().memoryBytes).toBe(before);
  });

  it('a batch whose activations exceed the limit is refused with a hint to lower the batch size', () => {
    // One 2048x2048 image through 256 filters: 4 GiB of activations for a single sample.
    const m = new Sequential([
      new Conv2D({ filters: 256, kernelSize: 1, inputShape: [2048, 2048, 1] }),
      new AvgPool2D({ poolSize: 2048 }),
      new Flatten(),
      new Dense({ units: 2, activation: 'softmax' }),
    ]);
    const x = tensor(new Float32Array(2048 * 2048), [1, 2048, 2048, 1]);
    const mem = currentBackend().memoryBytes;
    expect(() => m.predict(x)).toThrow(/batches of 1 need \d+ MiB of activations.*use a smaller batch size/);
    expect(() => m.predict(x)).toThrow(MemoryError);
    expect(currentBackend().memoryBytes).toBe(mem);
    expect(() => m.predict(new Tensor(new Float32Array(3), [1, 2048, 2048, 1]))).toThrow(/its data holds 3/);
  });
});

describe('determinism', () => {
  const fixture = resolve(import.meta.dirname, 'fixtures/determinism.ts');
  const runChild = (build: string) =>
    JSON.parse(
      execFileSync('npx', ['tsx', fixture], { env: { ...process.env, SIMDCNN_BUILD: build }, encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop()!,
    );
  for (const build of ['simd', 'relaxed']) {
    it(`same seed, same weights after an epoch, in two processes (${build} build)`, () => {
      const a = runChild(build),
        b = runChild(build);
      expect(a.build).toBe(build);
      expect(a.hash).toBe(b.hash);
    }, 60_000);
  }
  it('same seed twice in one process gives bit-identical weights', async () => {
    const rng = new Rng(5);
    const x = tensor(
      Float32Array.from({ length: 40 * 200 }, () => rng.uniform()),
      [40, 10, 10, 2],
    );
    const y = Int32Array.from({ length: 40 }, (_, i) => i % 3);
    const runOnce = async () => {
      const m = small();
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(x, y, { epochs: 2, batchSize: 8, seed: 9 });
      const w = m.getWeights();
      m.dispose();
      return w;
    };
    expect(await runOnce()).toEqual(await runOnce());
  });
});

describe('IDX parser fuzzing', () => {
  it('random bytes either parse consistently or throw DataError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, header) => {
        if (header && bytes.length >= 4) {
          bytes[0] = 0;
          bytes[1] = 0;
          bytes[2] = 8;
          bytes[3] = (bytes[3] % 4) + 1;
        }
        try {
          const r = parseIdx(bytes, 'fuzz');
          expect(r.data.length).toBe(r.dims.reduce((a, b) => a * b, 1));
        } catch (e) {
          expect(e).toBeInstanceOf(DataError);
        }
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
  it('every truncation of a valid file is rejected', () => {
    const valid = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    expect(parseIdx(valid, 'ok').dims).toEqual([2, 3]);
    for (let n = 0; n < valid.length; n++) expect(() => parseIdx(valid.subarray(0, n), 'cut')).toThrow(DataError);
  });
});
