// The whole wasm32 address space: models and batches placed past 2 GiB compute exactly what they compute
// below it, memory grows to the full 4 GiB, and past that every allocation fails with a MemoryError before
// anything is written, nothing leaks and no other model changes. Fillers are allocated but never
// touched (fresh pages are not committed), so only the models' own bytes cost RAM and time.
import { describe, expect, it } from 'vitest';
import {
  AvgPool2D,
  type Backend,
  Conv2D,
  Dense,
  Flatten,
  MaxPool2D,
  MemoryError,
  ReLU,
  Sequential,
  SGD,
  setBackend,
  Adam,
  tensor,
  Tensor,
} from '../src/node.js';
import { MAX_MEMORY_BYTES } from '../src/backend.js';
import { Rng } from '../src/random.js';

const GiB = 2 ** 30;
const TWO_GIB = 2 ** 31;
/** Where a model's blocks are (white box: its weights' first block, its runtime's gradient and arena blocks). */
const ptrs = (m: Sequential) => {
  const rt = (m as unknown as { rt: { gradBlock: number; arenaBlock: number; params: { entries: { ptr: number }[] } } }).rt;
  return { paramBlock: rt.params.entries[0].ptr, gradBlock: rt.gradBlock, arena: rt.arenaBlock ? { block: rt.arenaBlock } : undefined };
};

/** Uniform values in [lo, hi) from a seeded generator. */
function data(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r.uniform());
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Allocates what is left of wasm memory but `leave` bytes (never touched, so it costs no RAM). */
function fillTo(be: Backend, leave: number): number {
  const probe = be.alloc(64);
  be.release(probe);
  return be.alloc(MAX_MEMORY_BYTES - probe - leave, 'filler');
}

describe('wasm memory past 2 GiB', () => {
  it('V8 grows wasm memory to the full 4 GiB: a block ending at 2^32 is written and read back; one more block is a MemoryError', async () => {
    const be = await setBackend({});
    expect(MAX_MEMORY_BYTES).toBe(4 * GiB);
    const filler = fillTo(be, 4096);
    const last = be.alloc(4096, 'last');
    expect(last + 4096).toBe(2 ** 32);
    expect(be.memoryBytes).toBe(2 ** 32);
    be.write(
      last,
      Float32Array.from({ length: 1024 }, (_, i) => i + 0.5),
    );
    expect(be.read(last + 4092, 1)[0]).toBe(1023.5);
    expect(be.view(last, 1024)[1023]).toBe(1023.5);
    const used = be.allocatedBytes;
    expect(() => be.alloc(64, 'one more')).toThrow(MemoryError);
    expect(be.allocatedBytes).toBe(used);
    be.checkHeap();
    be.release(last);
    be.release(filler);
    expect(be.allocatedBytes).toBe(0);
    be.checkHeap();
  });

  it('predict: Conv2D(64,1x1) [1100,64,64,1] -> Flatten -> Dense(2,softmax) at batch 1,100 (activations past 2 GiB) equals batch 32; so does evaluate', async () => {
    const be = await setBackend({});
    const m = new Sequential(
      [new Conv2D({ filters: 64, kernelSize: 1, inputShape: [64, 64, 1] }), new Flatten(), new Dense({ units: 2, activation: 'softmax' })],
      { seed: 1 },
    );
    const N = 1100;
    const x = tensor(data(N * 4096, 2), [N, 64, 64, 1]);
    const y = Int32Array.from({ length: N }, (_, i) => i % 2);
    const small = m.predict(x, { batchSize: 32 });
    const evSmall = m.evaluate(x, y, { batchSize: 32 });
    // Inference plans no gradients (about 1.2 GB of activations at batch 1,100): an untouched filler puts them past 2 GiB.
    const filler = be.alloc(GiB, 'filler');
    const big = m.predict(x, { batchSize: N });
    expect(be.memoryBytes).toBeGreaterThan(TWO_GIB);
    expect(ptrs(m).arena!.block + be.sizeOf(ptrs(m).arena!.block)!).toBeGreaterThan(TWO_GIB);
    expect(maxDiff(small.data, big.data)).toBeLessThan(1e-6);
    expect(big.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    const evBig = m.evaluate(x, y, { batchSize: N });
    expect(evBig.loss).toBeCloseTo(evSmall.loss, 5);
    expect(evBig.accuracy).toBe(evSmall.accuracy);
    m.dispose();
    be.release(filler);
    expect(be.allocatedBytes).toBe(0);
  }, 60_000);

  it('a model whose weights, gradients, optimizer state and activations sit past 2 GiB trains bit-identically to its twin below (conv same/valid, max/avg pool, relu, dense, softmax)', async () => {
    const be = await setBackend({});
    const make = () =>
      new Sequential(
        [
          new Conv2D({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [11, 9, 3] }),
          new MaxPool2D({ poolSize: 2 }),
          new Conv2D({ filters: 7, kernelSize: 2 }),
          new ReLU(),
          new AvgPool2D({ poolSize: 2, padding: 'same' }),
          new Flatten(),
          new Dense({ units: 13, activation: 'relu' }),
          new Dense({ units: 3, activation: 'softmax' }),
        ],
        { seed: 4 },
      );
    const N = 37;
    const x = tensor(data(N * 11 * 9 * 3, 5, -1, 1), [N, 11, 9, 3]);
    const y = Int32Array.from({ length: N }, (_, i) => (i * 7) % 3);
    // Each twin: weights, activations for batches up to N and optimizer state placed before anything else comes.
    const place = (m: Sequential) => {
      m.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
      m.predict(x, { batchSize: N });
      m.trainOnBatch(x.slice(0, 4), y.subarray(0, 4));
    };
    const low = make();
    place(low);
    const filler = be.alloc(TWO_GIB + 12_345 * 64, 'filler');
    const high = make();
    place(high);
    for (const p of [ptrs(high).paramBlock, ptrs(high).gradBlock, ptrs(high).arena!.block]) expect(p).toBeGreaterThan(TWO_GIB);
    for (const p of [ptrs(low).paramBlock, ptrs(low).arena!.block]) expect(p).toBeLessThan(TWO_GIB);
    const runs = [low, high].map(async (m) => {
      const h = await m.fit(x, y, { epochs: 3, batchSize: 8, seed: 3 });
      return {
        h,
        w: m.getWeights(),
        s: m.getOptimizerState(),
        p: m.predict(x, { batchSize: 16 }).data,
        e: m.evaluate(x, y),
        g: m.computeGradients(x, y),
      };
    });
    const [a, b] = await Promise.all(runs);
    expect(b.w).toEqual(a.w);
    expect(b.s).toEqual(a.s);
    expect(b.p).toEqual(a.p);
    expect(b.e).toEqual(a.e);
    expect(b.g).toEqual(a.g);
    expect(b.h).toEqual(a.h);
    expect(a.h.history.loss[2]).toBeLessThan(a.h.history.loss[0]);
    const dy = tensor(data(N * 3, 6), [N, 3]);
    expect(high.vjp(x, dy)).toEqual(low.vjp(x, dy));
    low.dispose();
    high.dispose();
    be.release(filler);
    expect(be.allocatedBytes).toBe(0);
    be.checkHeap();
  });

  it('filling memory with models, disposing every other one and refilling: each refusal is a MemoryError that frees what it took, and every live model keeps its weights', async () => {
    const be = await setBackend({});
    const filler = fillTo(be, 200 * 2 ** 20);
    const x = tensor(data(1024 * 2, 8), [2, 1024]);
    const live = new Map<Sequential, number>();
    let tag = 0;
    // Dense 1024 -> 1024: 4 MiB of weights (a distinct constant per model) and 4 MiB of gradients.
    const add = () => {
      const m = new Sequential([new Dense({ units: 1024, inputShape: [1024], kernelInitializer: 'zeros' })], { seed: 0 });
      m.build();
      m.setWeights([new Float32Array(1024 * 1024).fill(++tag), new Float32Array(1024).fill(-tag)]);
      if (tag === 1) m.predict(x); // its activations below the rest: it can still predict when memory is full
      live.set(m, tag);
    };
    const fill = () => {
      for (;;) {
        const before = be.allocatedBytes;
        try {
          add();
        } catch (e) {
          expect(e).toBeInstanceOf(MemoryError);
          expect(be.allocatedBytes).toBe(before);
          be.checkHeap();
          return;
        }
      }
    };
    const intact = () => {
      for (const [m, t] of live) {
        const [k, bias] = m.getWeights();
        expect(k.every((v) => v === t) && bias.every((v) => v === -t), `model ${t}`).toBe(true);
      }
      const held = [...live.keys()].reduce((s, m) => s + m.memoryBytes, 0);
      expect(be.allocatedBytes).toBe(held + be.sizeOf(filler)!);
      be.checkHeap();
    };
    fill();
    expect(live.size).toBeGreaterThan(15);
    intact();
    [...live.keys()].forEach((m, i) => {
      if (i % 2) {
        m.dispose();
        live.delete(m);
      }
    });
    fill();
    intact();
    // Past the limit at predict time too: refused before a byte is written, and the model still predicts.
    const [m] = live.keys();
    const before = m.predict(x).data;
    const used = be.allocatedBytes;
    expect(() => m.predict(tensor(new Float32Array(1024 * 4000), [4000, 1024]), { batchSize: 4000 })).toThrow(MemoryError);
    expect(m.predict(x).data).toEqual(before);
    expect(be.allocatedBytes).toBe(used);
    intact();
    for (const k of live.keys()) k.dispose();
    be.release(filler);
    expect(be.allocatedBytes).toBe(0);
  }, 60_000);

  it('Dense(10) on [8] with memory full but for 16 KiB: predict of 1000 is a MemoryError giving the activations in KiB, not "0 MiB"', async () => {
    const be = await setBackend({});
    const m = new Sequential([new Dense({ units: 10, inputShape: [8] })], { seed: 0 });
    m.build();
    const filler = fillTo(be, 16 * 1024);
    expect(() => m.predict(tensor(new Float32Array(8000), [1000, 8]), { batchSize: 1000 })).toThrow(
      /batches of 1000 need \d+ KiB of activations, more than wasm memory allows \(4096 MiB, 4096 MiB in use\)/,
    );
    be.release(filler);
    expect(m.predict(tensor(new Float32Array(8000), [1000, 8]), { batchSize: 1000 }).shape).toEqual([1000, 10]);
    m.dispose();
  });

  it('a failed build frees what it took: room for the weights but not the gradients leaves nothing allocated', async () => {
    const be = await setBackend({});
    const make = () => new Sequential([new Dense({ units: 1000, inputShape: [1000] })], { seed: 0 });
    const weightBytes = 4 * 1_001_008; // 1000x1000 kernel + 1000 bias, each padded to 16 floats
    const filler = fillTo(be, weightBytes + weightBytes / 2);
    const before = be.allocatedBytes;
    expect(() => make().build()).toThrow(/gradients.*needs/);
    expect(be.allocatedBytes).toBe(before);
    be.checkHeap();
    be.release(filler);
    const m = make();
    m.build();
    expect(m.memoryBytes).toBe(2 * weightBytes);
    m.dispose();
  });

  it('plan() frees the old activation block first: a batch that fits only in its place runs; one that does not fit at all leaves the model predicting as before', async () => {
    const be = await setBackend({});
    const make = () =>
      new Sequential([new Dense({ units: 64, activation: 'relu', inputShape: [4096] }), new Dense({ units: 3, activation: 'softmax' })], {
        seed: 2,
      });
    const x = (n: number) => tensor(data(n * 4096, n), [n, 4096]);
    const predict = (m: Sequential, n: number) => m.predict(x(n), { batchSize: n }).data;
    const probe = make();
    probe.build();
    const weights = probe.memoryBytes;
    predict(probe, 64);
    const s64 = probe.memoryBytes - weights;
    predict(probe, 128);
    const s128 = probe.memoryBytes - weights;
    probe.dispose();
    const m = make();
    m.build();
    const filler = fillTo(be, s128 + s64 / 2); // room for the batch-128 block, not for both
    const p64 = predict(m, 64);
    const p128 = predict(m, 128);
    expect(m.memoryBytes - weights).toBe(s128);
    expect(p128.subarray(0, 64 * 3)).not.toEqual(p64); // different inputs, a real prediction
    const used = be.allocatedBytes;
    expect(() => m.predict(x(1024), { batchSize: 1024 })).toThrow(MemoryError);
    expect(be.allocatedBytes).toBe(used);
    be.checkHeap();
    expect(predict(m, 128)).toEqual(p128);
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const loss = m.trainOnBatch(
      x(128),
      Int32Array.from({ length: 128 }, (_, i) => i % 3),
    ).loss;
    expect(Number.isFinite(loss)).toBe(true);
    m.dispose();
    be.release(filler);
    expect(be.allocatedBytes).toBe(0);
  });

  it('a tensor whose data outgrows its shape is refused, and a write can never leave its region', async () => {
    const be = await setBackend({});
    const m = new Sequential([new Dense({ units: 2, activation: 'softmax', inputShape: [3] })], { seed: 0 });
    m.build();
    const x = new Tensor(new Float32Array(6), [2, 3]);
    m.predict(x);
    (x as { data: Float32Array }).data = new Float32Array(6000);
    expect(() => m.predict(x)).toThrow(/its data holds 6000/);
    const block = be.alloc(64);
    expect(() => be.write(block, new Float32Array(17))).toThrow(/not inside one allocated region/);
    expect(() => be.view(block + 32, 9)).toThrow(/not inside one allocated region/);
    be.release(block);
    m.dispose();
  });
});
