// Data-parallel training over threads (src/threads/): the fixed-order gradient reduction kernel against
// a float32 reference in every variant, the shared-memory module made from a build's bytes, and training
// whose weights are the same bits with 1, 2 and 3 threads (workers over one shared memory), equal to a
// plain unchunked step within rounding, a BatchNormalization model too (test/threads-bn.test.ts), the workers'
// failures reported, the memory returned, and the fallback where shared memory is missing.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BatchNormalization,
  Conv2D,
  createBackend,
  Dense,
  DepthwiseConv2D,
  Dropout,
  Flatten,
  MaxPool2D,
  RandomFlip,
  SGD,
  Sequential,
  setConvAlgorithm,
  setThreads,
  Tensor,
  threadsInfo,
} from '../src/node.js';
import { type Backend, currentBackend } from '../src/backend.js';
import { sharedMemoryModule } from '../src/threads/shared-module.js';
import { capThreads, workersRestarted } from '../src/threads/config.js';
import { alignFloats } from '../src/engine/plan.js';
import type { Runtime } from '../src/engine/runtime.js';
import type { ArenaMode } from '../src/engine/arena.js';
import { FIRST_CHUNK, OTHER_CHUNK, TRAIN } from '../src/engine/state.js';
import { Layer, type Need, type NodeIO, type RunContext } from '../src/layers/layer.js';
import { shapeSize } from '../src/tensor.js';
import { COPY, EXIT, kernelNames, runOps, SIGNAL, ThreadPool, WAIT } from '../src/threads/pool.js';
import { createVariants, type Variant, withArena } from './helpers.js';
import { mulberry32, randomArray, randomInts } from './reference.js';

let vs: Variant[];
beforeAll(async () => {
  vs = await createVariants();
});
afterAll(async () => {
  await setThreads(1);
});

describe('sum_blocks_f32 (fixed-order gradient reduction) vs float32 reference', () => {
  for (const count of [1, 2, 3, 5])
    for (const n of [0, 1, 3, 4, 7, 8, 9, 13, 31, 101]) {
      it(`sum_blocks_f32 blocks=${count} n=${n} stride=${n + 5}`, () => {
        const stride = n + 5;
        const src = randomArray(count * stride, mulberry32(count * 100 + n), 1000);
        const want = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          let a = src[i];
          for (let c = 1; c < count; c++) a = Math.fround(a + src[c * stride + i]);
          want[i] = a;
        }
        for (const { name, be } of vs) {
          const got = withArena(be, (ar) => {
            const s = ar.f32('src', src),
              d = ar.out('dst', n);
            ar.run(`sum_blocks ${name}`, [d], () => be.k.sum_blocks_f32(d, s, stride * 4, count, n));
            return ar.read(d);
          });
          expect(Array.from(got), name).toEqual(Array.from(want));
        }
      });
    }
  it('sum_blocks_f32 in place (dst = block 0), 3 blocks of 37 floats', () => {
    const be = vs[0].be;
    const src = randomArray(3 * 40, mulberry32(9));
    const want = Array.from({ length: 37 }, (_, i) => Math.fround(Math.fround(src[i] + src[40 + i]) + src[80 + i]));
    const got = withArena(be, (ar) => {
      const s = ar.f32('src', src);
      be.k.sum_blocks_f32(s, s, 160, 3, 37);
      return ar.read(s).slice(0, 37);
    });
    expect(Array.from(got)).toEqual(want);
  });
});

describe('shared-memory module', () => {
  it('imports one shared memory of up to 65,536 pages and keeps every export', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const m = be.sharedModule!;
    expect(WebAssembly.Module.imports(m)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(kernelNames(be)).toEqual(kernelNames(vs[0].be));
    expect(be.k.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Grown in place: a view made before still sees the same bytes.
    const p = be.alloc(64);
    be.write(p, [1, 2, 3]);
    const before = be.k.memory.buffer.byteLength;
    be.alloc(8 << 20);
    expect(be.k.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(Array.from(be.read(p, 3))).toEqual([1, 2, 3]);
  });
  it('refuses bytes without a memory section', () => {
    const empty = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(() => sharedMemoryModule(empty)).toThrow(/defines no memory/);
  });
});

/** A small net with every kind of step a chunk replays: staged writes (RandomFlip), dropout keys, the Winograd cache, depthwise. */
function net(seed: number, bn = false): Sequential {
  return new Sequential(
    [
      RandomFlip({ mode: 'horizontal', inputShape: [10, 10, 3] }),
      new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      ...(bn ? [new BatchNormalization()] : []),
      new DepthwiseConv2D({ kernelSize: 3, activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dropout({ rate: 0.25 }),
      new Dense({ units: 7, activation: 'softmax' }),
    ],
    { seed },
  );
}

const N = 53; // chunks of 16, 16, 16 and 5
const X = new Tensor(randomArray(N * 300, mulberry32(5)), [N, 10, 10, 3]);
const Y = randomInts(N, mulberry32(6), 7);

function sha(m: Sequential): string {
  const h = createHash('sha256');
  for (const w of m.getWeights()) h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  return h.digest('hex');
}

async function trained(threads: number | undefined, bn = false): Promise<{ sha: string; loss: number[] }> {
  if (threads !== undefined) await setThreads(threads);
  const m = net(3, bn);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const h = await m.fit(X, Y, { batchSize: 40, epochs: 2, seed: 11 });
  const out = { sha: sha(m), loss: h.history.loss };
  m.dispose();
  return out;
}

describe('data-parallel training', () => {
  it('x=[53,10,10,3] batch 40, 2 epochs: the same sha256 of the weights with 1, 2 and 3 threads', async () => {
    const one = await trained(1);
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    const two = await trained(2);
    expect(run.mock.calls.length).toBeGreaterThan(0);
    run.mockRestore();
    expect(threadsInfo()).toMatchObject({ requested: 2, active: 2 });
    expect(currentBackend().sharedModule).toBeDefined();
    // The shared memory started at 16 pages with the workers; it grew in place under them.
    expect(currentBackend().memoryBytes).toBeGreaterThan(16 * 65536);
    const three = await trained(3);
    expect(threadsInfo().active).toBe(3);
    expect(two.sha).toBe(one.sha);
    expect(three.sha).toBe(one.sha);
    expect(three.loss).toEqual(one.loss);
  });

  it('x=[53,10,10,3] -> dense 460 -> 7 (138K weights: the sum and the Adam update split across threads): same sha256 with 1, 2, 3 threads', async () => {
    const run = async (threads: number) => {
      await setThreads(threads);
      const m = new Sequential(
        [
          new Flatten({ inputShape: [10, 10, 3] }),
          new Dense({ units: 460, activation: 'relu' }),
          new Dense({ units: 7, activation: 'softmax' }),
        ],
        { seed: 8 },
      );
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(X, Y, { batchSize: 53, epochs: 3, seed: 2 });
      const h = sha(m);
      m.dispose();
      return h;
    };
    const one = await run(1);
    expect(await run(2)).toBe(one);
    expect(await run(3)).toBe(one);
  });

  it('one chunked step equals the unchunked step within float32 rounding (x=[53,10,10,3], SGD)', async () => {
    await setThreads(2);
    const m = new Sequential(
      [
        new Flatten({ inputShape: [10, 10, 3] }),
        new Dense({ units: 9, activation: 'relu' }),
        new Dense({ units: 7, activation: 'softmax' }),
      ],
      {
        seed: 4,
      },
    );
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const { grads, loss } = m.computeGradients(X, Y); // computeGradients always runs the whole batch at once
    const w0 = m.getWeights().map((w) => w.slice());
    const r = m.trainOnBatch(X, Y);
    expect(r.loss).toBeCloseTo(loss, 6);
    m.getWeights().forEach((w, i) => {
      for (let j = 0; j < w.length; j++) expect(w[j]).toBeCloseTo(w0[i][j] - 0.01 * grads[i][j], 7);
    });
    m.dispose();
  });

  it('x=[53,10,10,3] conv 8->16 3x3 (Winograd) on 2 threads: its transformed filters and the dense kernel packed (and transposed) are made once per step before the chunks (a first dispatch of 4 jobs), and 3 SGD steps equal unchunked direct-convolution steps within float32 rounding', async () => {
    await setThreads(2);
    const make = () => {
      const m = new Sequential(
        [
          new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [10, 10, 3] }),
          new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
          new MaxPool2D({ poolSize: 2 }),
          new Flatten(),
          new Dense({ units: 7, activation: 'softmax' }),
        ],
        { seed: 9 },
      );
      m.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
      return m;
    };
    const chunked = make(),
      whole = make();
    // The kernels each job of a dispatch calls, read back from its table.
    const names = kernelNames(currentBackend());
    const kernelsOf = (table: number, jobs: number) => {
      const f64 = new Float64Array(currentBackend().k.memory.buffer);
      return Array.from({ length: jobs }, (_, j) => {
        const at = f64[table / 8 + 2 * j] / 8,
          len = f64[table / 8 + 2 * j + 1];
        const called: string[] = [];
        for (let i = at; i < at + len; i += 2 + f64[i + 1]) if (f64[i] >= 0) called.push(names[f64[i]]);
        return called;
      });
    };
    // A job's ops as [code, ...args] (the op lists are written afresh for every dispatch).
    const opsOf = (table: number, j: number) => {
      const f64 = new Float64Array(currentBackend().k.memory.buffer);
      const at = f64[table / 8 + 2 * j] / 8,
        len = f64[table / 8 + 2 * j + 1];
      const ops: number[][] = [];
      for (let i = at; i < at + len; i += 2 + f64[i + 1]) ops.push([f64[i], ...f64.subarray(i + 2, i + 2 + f64[i + 1])]);
      return ops;
    };
    const dispatched: string[][][] = [],
      lists: number[][][][] = [];
    const original = ThreadPool.prototype.run;
    const run = vi.spyOn(ThreadPool.prototype, 'run').mockImplementation(function (this: ThreadPool, table, jobs, runJob, open) {
      dispatched.push(kernelsOf(table, jobs));
      lists.push(Array.from({ length: jobs }, (_, j) => opsOf(table, j)));
      return original.call(this, table, jobs, runJob, open);
    });
    const rt = (chunked as unknown as { runtime(what: string): Runtime }).runtime('test');
    for (let i = 0; i < 3; i++) {
      dispatched.length = 0;
      chunked.trainOnBatch(X, Y);
      // First conv 8->16's two transforms and the dense kernel's two packings, then 4 chunks that use them.
      expect(dispatched[0].map((j) => j.join())).toEqual(
        expect.arrayContaining(['winograd_filter_transform', 'dense_pack', 'dense_pack_t', 'winograd_filter_transform']),
      );
      expect(dispatched[0]).toHaveLength(4);
      const count = (name: string) => dispatched[1].slice(0, 4).map((chunk) => chunk.filter((k) => k === name).length);
      expect(count('winograd_forward')).toEqual([2, 2, 2, 2]); // forward and input gradient
      // Forward and input gradient; the last chunk's 5 rows run the forward on the kernel in place (below 8 rows).
      expect(count('dense_forward_packed')).toEqual([2, 2, 2, 1]);
      expect(count('winograd_filter_transform').concat(count('dense_pack'), count('dense_pack_t'))).toEqual(new Array(12).fill(0));
      // The chunks mark their backward progress after each layer with weights: dense (step 5 of 5, the first
      // back), conv 8->16, conv 3->8 (the last).
      for (const chunk of lists[1].slice(0, 4)) expect(chunk.filter((o) => o[0] === SIGNAL).map((o) => o[2])).toEqual([1, 4, 5]);
      // Then the sum: jobs that each wait for all 4 chunks to pass the step that writes their range and add
      // it up, the dense range first; together they cover the gradient block once.
      const sums = lists[1].slice(4);
      expect(dispatched[1].slice(4).every((j) => j.join() === 'sum_blocks_f32')).toBe(true);
      const waits = sums.map((ops) => (ops[0][0] === WAIT ? (expect(ops[0][2]).toBe(4), ops[0][3]) : 0));
      expect(waits).toEqual([...waits].sort((a, b) => a - b));
      const ranges = sums.map((ops) => ops[ops.length - 1]).map(([, dst, , , , n]) => [(dst - rt.gradBlock) / 4, n]);
      ranges.sort((a, b) => a[0] - b[0]);
      let covered = 0;
      for (const [from, n] of ranges) {
        expect(from).toBe(covered);
        covered += n;
      }
      expect(covered).toBe(rt.params.floats);
      const denseKernel = rt.params.entries.find((e) => e.name.endsWith('kernel') && e.layer instanceof Dense)!;
      const waitOf = (offset: number) =>
        waits[
          sums.findIndex(
            (ops) =>
              ops[ops.length - 1][1] <= rt.gradBlock + offset * 4 &&
              rt.gradBlock + offset * 4 < ops[ops.length - 1][1] + ops[ops.length - 1][5] * 4,
          )
        ];
      expect(waitOf(denseKernel.offset)).toBe(1);
      expect(waitOf(0)).toBe(5); // the first conv's kernel
    }
    run.mockRestore();
    // The reference runs unchunked (as without setThreads) and by direct convolution: no transformed filters.
    capThreads(0);
    setConvAlgorithm('direct');
    try {
      for (let i = 0; i < 3; i++) whole.trainOnBatch(X, Y);
    } finally {
      setConvAlgorithm('auto');
      capThreads(Infinity);
    }
    const a = chunked.getWeights(),
      b = whole.getWeights();
    let worst = 0;
    a.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / (Math.abs(b[i][j]) + 1e-3)))));
    expect(worst).toBeLessThan(1e-4);
    chunked.dispose();
    whole.dispose();
  });

  it('a chunked step whose loss is not finite (x=[53,10,10,3], dense weights 3e38) is refused on 2 threads: DivergenceError, weights unchanged', async () => {
    await setThreads(2);
    const m = new Sequential([new Flatten({ inputShape: [10, 10, 3] }), new Dense({ units: 7, activation: 'softmax' })], { seed: 4 });
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    m.setWeights([new Float32Array(300 * 7).fill(3e38), new Float32Array(7)]);
    const before = sha(m);
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    expect(() => m.trainOnBatch(X, Y)).toThrow(/the loss became (NaN|Infinity)/);
    expect(run).toHaveBeenCalled();
    run.mockRestore();
    expect(sha(m)).toBe(before);
    m.dispose();
  });

  it('x=[53,10,10,3] batch 40 with BatchNormalization after RandomFlip and convs: trains split over 2 threads (no note), the same sha256 as 1 thread', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    const two = await trained(2, true);
    expect(run.mock.calls.length).toBeGreaterThan(0);
    run.mockRestore();
    expect(info.mock.calls.filter((c) => /one thread/.test(String(c[0])))).toEqual([]);
    info.mockRestore();
    const one = await trained(1, true);
    expect(two.sha).toBe(one.sha);
  });

  it('a chunked batch holds only its input, labels and targets in the main arena, not a second set of activations; predictions after a chunked fit unchanged', async () => {
    const planned = async (threads: number) => {
      await setThreads(threads);
      const m = net(3);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      m.trainOnBatch(X, Y);
      const a = (m as unknown as { rt: Runtime }).rt.current!;
      const staged = { mode: a.mode, bytes: a.bytes };
      await m.fit(X, Y, { batchSize: 40, epochs: 1, seed: 11 }); // batches of 40 (staged) and 13 (unchunked)
      const predicted = Array.from(m.predict(X, { batchSize: 53 }).data);
      m.dispose();
      return { ...staged, predicted };
    };
    const two = await planned(2);
    // 53 x (300 input floats + 1 label + 7 targets), each block aligned: nothing else.
    expect(two.mode.staging).toBe(true);
    expect(two.bytes).toBe(4 * (alignFloats(53 * 300) + alignFloats(53) + alignFloats(53 * 7)));
    capThreads(0); // unchunked, as without setThreads
    const unthreaded = net(3);
    unthreaded.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    unthreaded.trainOnBatch(X, Y);
    capThreads(Infinity);
    const whole = (unthreaded as unknown as { rt: Runtime }).rt.current!;
    expect(whole.mode.staging).toBeFalsy();
    expect(whole.bytes).toBeGreaterThan(20 * two.bytes);
    unthreaded.dispose();
    expect(two.predicted).toEqual((await planned(1)).predicted);
  });

  it('chunks of 16 for x=[*,10,10,3] -> dense 3000 -> 7 and conv 8->16 (Winograd): the first chunk plans the shared caches, the others none, and no chunk plans the dense packing scratch', () => {
    const m = new Sequential(
      [
        new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [10, 10, 3] }),
        new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
        new Flatten(),
        new Dense({ units: 3000, activation: 'relu' }),
        new Dense({ units: 7, activation: 'softmax' }),
      ],
      { seed: 2 },
    );
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const rt = (m as unknown as { runtime(what: string): Runtime }).runtime('test');
    const bytes = (mode: ArenaMode) => rt.plannedBytes(16, mode);
    // dense 1600 -> 3000: its packed kernel and packed transpose, 2 x 4.8M floats, in the first chunk only.
    const packed = 4 * (alignFloats(1600 * 3000) * 2);
    expect(bytes(FIRST_CHUNK) - bytes(OTHER_CHUNK)).toBeGreaterThanOrEqual(packed);
    // An unchunked training plan packs per call into scratch (the larger packing, 4.8M floats); a chunk's
    // scratch is only the convolutions' (under 5% of that).
    expect(bytes(TRAIN) - bytes(OTHER_CHUNK)).toBeGreaterThan(0.95 * 4 * 1600 * 3000);
    m.dispose();
  });

  it('a layer that reads wasm memory from JavaScript: the first chunked batch falls back to one thread (note once) with the batch intact, and trains as without threads', async () => {
    class ReadsMemory extends Layer {
      static readonly className = 'ReadsMemoryForTest';
      constructor() {
        super({}, 'reads_memory');
      }
      computeOutputShape(s: number[][]): number[] {
        return s[0].slice();
      }
      forward(io: NodeIO, n: number, { be }: RunContext): void {
        be.write(io.y, be.read(io.x[0], n * shapeSize(io.shapes.out)));
      }
      backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
        if (need.dx[0]) be.write(io.dx[0], be.read(io.dy, n * shapeSize(io.shapes.out)));
      }
    }
    const fitted = async (threads: number | undefined) => {
      await setThreads(threads ?? 1);
      capThreads(threads ? Infinity : 0);
      const m = new Sequential(
        [
          new Flatten({ inputShape: [10, 10, 3] }),
          new Dense({ units: 9, activation: 'relu' }),
          new ReadsMemory(),
          new Dense({ units: 7, activation: 'softmax' }),
        ],
        { seed: 4 },
      );
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      await m.fit(X, Y, { batchSize: 40, epochs: 2, seed: 1 });
      const h = sha(m);
      m.dispose();
      return h;
    };
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const two = await fitted(2);
    const notes = info.mock.calls.filter((c) => /trains on one thread: a layer reads wasm memory/.test(String(c[0])));
    info.mockRestore();
    expect(notes.length).toBe(1);
    expect(two).toBe(await fitted(undefined));
    capThreads(Infinity);
  });

  it('workers return every byte: the heap is consistent and back to its size after dispose', async () => {
    await setThreads(2);
    const be = currentBackend();
    const before = be.allocatedBytes;
    await trained(undefined);
    be.checkHeap();
    expect(be.allocatedBytes).toBe(before);
  });
});

describe('predict over threads', () => {
  it("x=[53,10,10,3] batch 53 and 20 on 3 threads (parts of 18/18/17, then 10/10, and a last batch of 13 on one, the only one in the model's arena): the same bits as one thread", async () => {
    await setThreads(1);
    const m1 = net(12);
    const want = [m1.predict(X, { batchSize: 53 }), m1.predict(X, { batchSize: 20 })];
    m1.dispose();
    await setThreads(3);
    const m = net(12);
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    const got = [m.predict(X, { batchSize: 53 }), m.predict(X, { batchSize: 20 })];
    expect(run).toHaveBeenCalledTimes(3);
    run.mockRestore();
    // Only the last batch (13) ran on this thread: the model's own arena holds 13 samples, not 53.
    expect((m as unknown as { rt: Runtime }).rt.current!.capacity).toBe(13);
    expect(got[0].shape).toEqual([53, 7]);
    got.forEach((g, i) => expect(Array.from(g.data)).toEqual(Array.from(want[i].data)));
    const be = currentBackend(),
      before = be.allocatedBytes;
    m.dispose();
    be.checkHeap();
    expect(be.allocatedBytes).toBeLessThan(before);
  });
  it('predict x=[25,10,10,3] through dense 37 -> 7 on 3 threads (parts of 8/8/9: none below the 8 rows of the batched path): the same bits as one thread', async () => {
    const X25 = new Tensor(randomArray(25 * 300, mulberry32(5)), [25, 10, 10, 3]);
    const out: Float32Array[] = [];
    for (const t of [1, 3]) {
      await setThreads(t);
      const m = new Sequential([new Flatten({ inputShape: [10, 10, 3] }), new Dense({ units: 37 }), new Dense({ units: 7 })], { seed: 3 });
      out.push(m.predict(X25, { batchSize: 25 }).data as Float32Array);
      m.dispose();
    }
    expect(Array.from(out[1])).toEqual(Array.from(out[0]));
  });
});

describe('evaluate over threads', () => {
  it('evaluate x=[53,10,10,3] batch 53, 40 and 25 (3 threads: parts of 17/18/18; 13/13/14, then 13 on one; 8/8/9 twice, then 3 on one): the same bits as one thread', async () => {
    const evals = async (threads: number) => {
      await setThreads(threads);
      const m = net(12);
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      const r = [53, 40, 25].map((batchSize) => m.evaluate(X, Y, { batchSize }));
      m.dispose();
      return r;
    };
    const one = await evals(1);
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    const two = await evals(2);
    expect(run).toHaveBeenCalledTimes(1 + 1 + 2);
    run.mockRestore();
    const three = await evals(3);
    expect(two).toEqual(one);
    expect(three).toEqual(one);
  });

  it("fit's validationData x=[53,10,10,3] on 2 threads: val_loss and val_acc the same bits as on 1 thread and as evaluate", async () => {
    const run = async (threads: number) => {
      await setThreads(threads);
      const m = net(5);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      const h = await m.fit(X, Y, { batchSize: 40, epochs: 2, seed: 3, validationData: [X, Y] });
      const e = m.evaluate(X, Y, { batchSize: 40 });
      m.dispose();
      return { h: h.history, e };
    };
    const one = await run(1),
      two = await run(2);
    expect(two.h.val_loss).toEqual(one.h.val_loss);
    expect(two.h.val_acc).toEqual(one.h.val_acc);
    expect(one.h.val_loss![1]).toBe(one.e.loss);
  });
});

/** A job table in be's memory: (at, len) per op list. */
function table(be: Backend, jobs: [number, number][]): number {
  const t = be.alloc(16 * jobs.length);
  new Float64Array(be.k.memory.buffer, t, 2 * jobs.length).set(jobs.flat());
  return t;
}

describe('thread pool', () => {
  /** Runs a job's op list on this thread, as the pool's dispatches do. */
  const runHere = (be: Backend, pool: ThreadPool) => (at: number, len: number) =>
    runOps(
      kernelNames(be).map((n) => (be.k as unknown as Record<string, (...a: number[]) => unknown>)[n]),
      be.k.memory.buffer,
      at,
      len,
      () => pool.stuck(),
    );

  it('a kernel error in a worker is thrown on the main thread, and the pool keeps working; 9 jobs on 2 workers and this thread all run', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 2);
    await pool.ready;
    const code = kernelNames(be).indexOf('add_f32');
    expect(code).toBeGreaterThanOrEqual(0);
    const ops = be.alloc(8 * 6 * 9);
    const list = new Float64Array(be.k.memory.buffer, ops, 6 * 9);
    list.set([code, 4, 2 ** 32 - 64, 0, 0, 1000]); // writes 4000 bytes from 64 below the end of the address space
    expect(() => pool.run(table(be, [[ops, 6]]), 1, null)).toThrow(/worker thread \(worker \d: .*out of bounds/);
    // Job j doubles the 3 + j floats at buf + 64 j: whoever takes it, each is done once.
    const buf = be.alloc(64 * 9);
    for (let j = 0; j < 9; j++) {
      be.write(buf + 64 * j, [j, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].slice(0, 3 + j));
      list.set([code, 4, buf + 64 * j, buf + 64 * j, buf + 64 * j, 3 + j], 6 * j);
    }
    const here: number[] = [];
    const jobs = Array.from({ length: 9 }, (_, j): [number, number] => [ops + 48 * j, 6]);
    pool.run(table(be, jobs), 9, (at, len) => {
      here.push(at);
      runHere(be, pool)(at, len);
    });
    for (let j = 0; j < 9; j++)
      expect(Array.from(be.read(buf + 64 * j, 3 + j))).toEqual([2 * j, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22].slice(0, 3 + j));
    expect(here.length).toBeLessThanOrEqual(9);
    pool.dispose();
    expect(pool.running).toBe(false);
    expect(() => pool.run(0, 0, null)).toThrow(/not running/);
  });

  /** The jobs this thread ran in one dispatch (job j's list at ops + 8 * width * j), running each here. */
  function recordingRun(be: Backend, pool: ThreadPool, ops: number, width: number, here: number[], after?: (j: number) => void) {
    return (at: number, len: number) => {
      const j = (at - ops) / (8 * width);
      here.push(j);
      runHere(be, pool)(at, len);
      after?.(j);
    };
  }
  /** Polls until word `w` (an int32 at byte w) is >= 1; throws after 5 s (the job it waits for was not taken). */
  function awaitWord(be: Backend, w: number, what: string) {
    const end = performance.now() + 5000;
    while (Atomics.load(be.viewI32(w, 1), 0) < 1) if (performance.now() > end) throw new Error(`${what} never ran`);
  }

  it("dealt jobs (owned 4 of 4, this thread and 1 worker): each thread takes its own (0, 2 here; 1, 3 there) before another's, 30 dispatches", async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 1);
    await pool.ready;
    const words = be.alloc(5 * 4),
      ops = be.alloc(8 * 10 * 4);
    // Job j marks word j; job 2 also marks word 4, which job 3 waits for: the worker, holding job 3, cannot
    // take job 2, and this thread waits in job 0 until the worker ran job 1, so job 2 is left to this thread.
    for (let r = 0; r < 30; r++) {
      be.viewI32(words, 5).fill(0);
      const w = (k: number) => words + 4 * k;
      const lists = [
        [SIGNAL, 2, w(0), 1],
        [SIGNAL, 2, w(1), 1],
        [SIGNAL, 2, w(4), 1, SIGNAL, 2, w(2), 1],
        [WAIT, 3, w(4), 1, 1, SIGNAL, 2, w(3), 1],
      ];
      lists.forEach((l, j) => new Float64Array(be.k.memory.buffer, ops + 80 * j, l.length).set(l));
      const here: number[] = [];
      const t = table(
        be,
        lists.map((l, j): [number, number] => [ops + 80 * j, l.length]),
      );
      pool.run(
        t,
        4,
        recordingRun(be, pool, ops, 10, here, (j) => j === 0 && awaitWord(be, w(1), 'job 1')),
        1,
        4,
      );
      expect(here).toEqual([0, 2]);
      expect(Array.from(be.viewI32(words, 4))).toEqual([1, 1, 1, 1]);
    }
    pool.dispose();
  });

  it("dealt jobs: a thread a whole job behind gives its next away (this thread busy in job 0 until the worker ran 1, 3 and this thread's 2), then the rest in order; 9 jobs, owned 5, 2 workers: each runs once", async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const one = new ThreadPool(be, 1);
    await one.ready;
    const words = be.alloc(4 * 4),
      ops = be.alloc(8 * 4 * 4);
    be.viewI32(words, 4).fill(0);
    for (let j = 0; j < 4; j++) new Float64Array(be.k.memory.buffer, ops + 32 * j, 4).set([SIGNAL, 2, words + 4 * j, 1]);
    const here: number[] = [];
    const t = table(
      be,
      [0, 1, 2, 3].map((j): [number, number] => [ops + 32 * j, 4]),
    );
    one.run(
      t,
      4,
      recordingRun(be, one, ops, 4, here, (j) => j === 0 && [1, 2, 3].forEach((k) => awaitWord(be, words + 4 * k, `job ${k}`))),
      1,
      4,
    );
    expect(here).toEqual([0]);
    one.dispose();

    const pool = new ThreadPool(be, 2);
    await pool.ready;
    const code = kernelNames(be).indexOf('add_f32');
    const buf = be.alloc(64 * 9),
      list = be.alloc(8 * 6 * 9);
    for (let r = 0; r < 20; r++) {
      for (let j = 0; j < 9; j++) {
        be.write(buf + 64 * j, [j, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].slice(0, 3 + j));
        new Float64Array(be.k.memory.buffer, list + 48 * j, 6).set([code, 4, buf + 64 * j, buf + 64 * j, buf + 64 * j, 3 + j]);
      }
      const mine: number[] = [];
      pool.run(
        table(
          be,
          Array.from({ length: 9 }, (_, j): [number, number] => [list + 48 * j, 6]),
        ),
        9,
        recordingRun(be, pool, list, 6, mine),
        2,
        5,
      );
      for (let j = 0; j < 9; j++)
        expect(Array.from(be.read(buf + 64 * j, 3 + j))).toEqual([2 * j, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22].slice(0, 3 + j));
      expect(new Set(mine).size).toBe(mine.length);
    }
    pool.dispose();
  });

  // Job 0 doubles 5 floats and marks its progress; job 1 waits for that mark, then copies them. `bad`: job
  // 0's kernel writes out of bounds first and never marks.
  function waitingPair(be: Backend, bad: boolean) {
    const add = kernelNames(be).indexOf('add_f32');
    const buf = be.alloc(64),
      words = be.alloc(16),
      ops = be.alloc(8 * 20);
    be.write(buf, [1, 2, 3, 4, 5, 0, 0, 0, 0, 0]);
    be.viewI32(words, 1)[0] = 0;
    const first = bad ? [add, 4, 2 ** 32 - 64, 0, 0, 1000] : [add, 4, buf, buf, buf, 5];
    new Float64Array(be.k.memory.buffer, ops, 20).set([...first, SIGNAL, 2, words, 1, WAIT, 3, words, 1, 1, COPY, 3, buf + 20, buf, 5]);
    return {
      buf,
      t: table(be, [
        [ops, 10],
        [ops + 80, 10],
      ]),
    };
  }

  it("a job that waits (WAIT) for another job's progress (SIGNAL) runs after it, whichever thread takes which: 30 dispatches on this thread and a worker", async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 1);
    await pool.ready;
    for (let r = 0; r < 30; r++) {
      const { buf, t } = waitingPair(be, false);
      pool.run(t, 2, runHere(be, pool));
      expect(Array.from(be.read(buf + 20, 5))).toEqual([2, 4, 6, 8, 10]);
    }
    pool.dispose();
  });

  it('a job waiting for a job that failed gives up, no hang: between 2 workers (this thread takes none) and between this thread and a worker, 10 dispatches each; the pool keeps working', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 2);
    await pool.ready;
    const t0 = performance.now();
    for (let r = 0; r < 10; r++) {
      expect(() => pool.run(waitingPair(be, true).t, 2, null)).toThrow(/worker thread \(worker \d: .*out of bounds/);
      expect(() => pool.run(waitingPair(be, true).t, 2, runHere(be, pool), 1)).toThrow(/out of bounds/);
    }
    expect(performance.now() - t0).toBeLessThan(5000);
    const { buf, t } = waitingPair(be, false);
    pool.run(t, 2, runHere(be, pool));
    expect(Array.from(be.read(buf + 20, 5))).toEqual([2, 4, 6, 8, 10]);
    pool.dispose();
  });

  it('a job waiting for one whose worker exits mid-dispatch (EXIT; or that fails here, when this thread takes it) gives up, no hang: 4 fresh pools', async () => {
    for (let r = 0; r < 4; r++) {
      const be = await createBackend({ build: 'simd', shared: true });
      const pool = new ThreadPool(be, 1);
      await pool.ready;
      const words = be.alloc(16),
        ops = be.alloc(8 * 8);
      be.viewI32(words, 1)[0] = 0;
      new Float64Array(be.k.memory.buffer, ops, 8).set([EXIT, 1, 7, WAIT, 3, words, 1, 1]);
      const t0 = performance.now();
      expect(() =>
        pool.run(
          table(be, [
            [ops, 3],
            [ops + 24, 5],
          ]),
          2,
          runHere(be, pool),
        ),
      ).toThrow(/exited with code 7|did not finish|is not a function/); // this thread runs no EXIT op: it fails
      expect(performance.now() - t0).toBeLessThan(2000);
      pool.dispose();
    }
  });

  it('idle workers poll for at most spinMs after a dispatch, then sleep: 2 workers use < 60 ms of CPU over 300 ms idle', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 2, 20);
    await pool.ready;
    const ops = be.alloc(8 * 5),
      buf = be.alloc(64);
    new Float64Array(be.k.memory.buffer, ops, 5).set([COPY, 3, buf, buf + 32, 4]);
    pool.run(
      table(be, [
        [ops, 5],
        [ops, 5],
      ]),
      2,
      null,
    );
    await new Promise((r) => setTimeout(r, 60));
    const before = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 300));
    const used = process.cpuUsage(before);
    expect((used.user + used.system) / 1000).toBeLessThan(60);
    // And a dispatch after the sleep still wakes them.
    be.write(buf + 32, [1, 2, 3, 4]);
    pool.run(table(be, [[ops, 5]]), 1, null);
    expect(Array.from(be.read(buf, 4))).toEqual([1, 2, 3, 4]);
    pool.dispose();
  });

  it('a job table and op list past 2 GiB (offsets above int32): the worker finds and runs them', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 1);
    await pool.ready;
    const filler = be.alloc(2 ** 31 + (1 << 20)); // never touched: its pages are not committed
    const ops = be.alloc(64),
      buf = be.alloc(64);
    expect(ops).toBeGreaterThan(2 ** 31);
    be.write(buf, [5, 6]);
    new Float64Array(be.k.memory.buffer, ops, 6).set([kernelNames(be).indexOf('add_f32'), 4, buf, buf, buf, 2]);
    pool.run(table(be, [[ops, 6]]), 1, null);
    expect(Array.from(be.read(buf, 2))).toEqual([10, 12]);
    pool.dispose();
    be.release(filler);
  });

  it('a worker terminated while the main thread is blocked waiting for its job (no event arrives): run throws naming it, no hang', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 1);
    await pool.ready;
    const ops = be.alloc(8 * 5);
    const buf = be.alloc(64);
    new Float64Array(be.k.memory.buffer, ops, 5).set([COPY, 3, buf, buf + 32, 4]);
    pool.kill(0);
    const t0 = performance.now();
    expect(() => pool.run(table(be, [[ops, 5]]), 1, null)).toThrow(/a worker thread died: worker 0: terminated/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(pool.running).toBe(false);
    expect(() => pool.run(0, 0, null)).toThrow(/thread pool: worker 0: terminated/);
    pool.dispose();
  });

  it('a kernel that does not return within stallMs (gemm_nn M=2^30 rows): the worker is terminated, run throws naming it', async () => {
    const be = await createBackend({ build: 'simd', shared: true });
    const pool = new ThreadPool(be, 1);
    await pool.ready;
    pool.stallMs = 100;
    const code = kernelNames(be).indexOf('gemm_nn');
    const buf = be.alloc(4096);
    const ops = be.alloc(8 * 13);
    // M = 2^30 rows of K = 8 against 8 columns, every row read from and written to the same place (lda = ldc = 0): minutes of work.
    new Float64Array(be.k.memory.buffer, ops, 13).set([code, 11, 2 ** 30, 8, 8, buf, 0, buf + 1024, 8, buf + 2048, 0, 0, 0]);
    const t0 = performance.now();
    expect(() => pool.run(table(be, [[ops, 13]]), 1, null)).toThrow(
      /worker 0: ran one kernel for over 0.1 s \(hung\?\) and was terminated/,
    );
    expect(performance.now() - t0).toBeLessThan(3000);
    pool.dispose();
  });

  it('fit x=[53,10,10,3] batch 40 on 2 threads whose worker exits mid-step: fit rejects naming it, the workers restart, the next fit gives the 1-thread sha256', async () => {
    const want = (await trained(1)).sha;
    await setThreads(2);
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const be = currentBackend();
    const exitOps = be.alloc(24);
    new Float64Array(be.k.memory.buffer, exitOps, 3).set([EXIT, 1, 7]);
    const exitJob = table(be, [[exitOps, 3]]);
    const real = ThreadPool.prototype.run;
    // The step's first dispatch becomes one job that makes the worker exit (this thread takes none).
    const run = vi.spyOn(ThreadPool.prototype, 'run').mockImplementationOnce(function (this: ThreadPool) {
      return real.call(this, exitJob, 1, null);
    });
    const m = net(3);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(X, Y, { batchSize: 40, epochs: 1 })).rejects.toThrow(/a worker thread died: worker 0: exited with code 7/);
    m.dispose();
    run.mockRestore();
    be.release(exitOps);
    be.release(exitJob);
    // The next step finds the pool broken, starts new workers and meanwhile trains on this thread.
    const meanwhile = await trained(undefined);
    expect(info.mock.calls.some((c) => /one thread while its workers restart \(worker 0: exited with code 7\)/.test(String(c[0])))).toBe(
      true,
    );
    await workersRestarted();
    info.mockRestore();
    expect(threadsInfo()).toMatchObject({ active: 2, note: undefined });
    const after = await trained(undefined);
    expect(meanwhile.sha).toBe(want);
    expect(after.sha).toBe(want);
  });

  it('setThreads(1) terminates the workers; bad counts are refused', async () => {
    await setThreads(2);
    expect(threadsInfo().active).toBe(2);
    await setThreads(1);
    expect(threadsInfo()).toMatchObject({ requested: 1, active: 1 });
    await expect(setThreads(0)).rejects.toThrow(/whole number of threads/);
    await expect(setThreads(1.5)).rejects.toThrow(/received 1.5/);
  });

  it('without SharedArrayBuffer: one thread, a note once, training still runs', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const sab = globalThis.SharedArrayBuffer;
    try {
      (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
      const t = await setThreads(2);
      expect(t.active).toBe(1);
      expect(t.note).toMatch(/one thread: this engine has no SharedArrayBuffer/);
      expect(info.mock.calls).toEqual([[t.note]]);
    } finally {
      globalThis.SharedArrayBuffer = sab;
      info.mockRestore();
    }
    const one = await trained(undefined);
    await setThreads(1);
    expect(one.sha).toBe((await trained(1)).sha);
  });
});
