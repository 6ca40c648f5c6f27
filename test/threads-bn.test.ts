// BatchNormalization trained over threads (src/threads/chunked.ts): a batch split into chunks of 16 keeps
// the whole batch's statistics (each chunk's partial sums merged in chunk order between two phases), so the
// weights and moving statistics are the same bits on 1, 2 and 3 threads, agree with the unchunked step within
// rounding, a frozen BN trains chunked too, and a refused step leaves everything as it was.
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  Add,
  BatchNormalization,
  Conv2D,
  Dense,
  GlobalAveragePooling2D,
  input,
  type Model,
  model,
  ReLU,
  setThreads,
  Tensor,
} from '../src/node.js';
import { capThreads } from '../src/threads/config.js';
import { ThreadPool } from '../src/threads/pool.js';
import { Replayer } from '../src/threads/record.js';
import { mulberry32, randomArray, randomInts } from './reference.js';

afterAll(async () => {
  capThreads(Infinity);
  await setThreads(1);
});

/** conv-BN-ReLU, then conv-BN added back to it (the skip), ReLU, global average pooling, dense softmax. */
function net(seed: number): Model {
  const img = input({ shape: [6, 5, 3] });
  const a = new ReLU().apply(
    new BatchNormalization({ name: 'bn1' }).apply(new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(img)),
  );
  const b = new BatchNormalization({ name: 'bn2', momentum: 0.9 }).apply(
    new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(a),
  );
  const h = new ReLU().apply(new Add().apply([a, b]));
  const out = new Dense({ units: 5, activation: 'softmax' }).apply(new GlobalAveragePooling2D().apply(h));
  return model({ inputs: img, outputs: out, seed });
}

const N = 50; // chunks of 16, 16, 16 and 2
const X = new Tensor(
  randomArray(N * 90, mulberry32(1)).map((v, i) => v * 2 + (i % 3)),
  [N, 6, 5, 3],
);
const Y = randomInts(N, mulberry32(2), 5);

function sha(m: Model): string {
  const h = createHash('sha256');
  for (const w of m.getWeights()) h.update(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  return h.digest('hex');
}

const weight = (m: Model, name: string) => m.getWeights()[m.weightSpecs().findIndex((s) => s.name === name)];

/** Three Adam steps on x=[50,6,5,3] (bn1 frozen if asked) on `threads` threads. */
async function trained(threads: number, frozen = false): Promise<{ sha: string; loss: number[]; m: Model }> {
  await setThreads(threads);
  const m = net(7);
  if (frozen) m.getLayer('bn1').trainable = false;
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const loss: number[] = [];
  for (let s = 0; s < 3; s++) loss.push(m.trainOnBatch(X, Y).loss);
  return { sha: sha(m), loss, m };
}

describe('BatchNormalization over threads: the whole batch statistics, the same bits for any thread count', () => {
  it('conv-BN-relu + conv-BN skip, GAP, x=[50,6,5,3] (chunks 16/16/16/2), 3 Adam steps: the same sha256 (moving statistics included) on 1, 2 and 3 threads, no note, 2 phases per BN', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const sync = vi.spyOn(Replayer.prototype, 'sync');
    const one = await trained(1);
    // Per step and chunk: two BN forwards and two BN backwards (both need dx: conv1's kernel gradient reads bn1's).
    expect(sync.mock.calls.length).toBe(3 * 4 * 4);
    sync.mockRestore();
    const run = vi.spyOn(ThreadPool.prototype, 'run');
    const two = await trained(2);
    // Per step: 5 phases of the chunks (4 syncs), the gradient sum (one dispatch at this size or none).
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(3 * 5);
    run.mockRestore();
    const three = await trained(3);
    expect(two.sha).toBe(one.sha);
    expect(three.sha).toBe(one.sha);
    expect(three.loss).toEqual(one.loss);
    expect(info.mock.calls.filter((c) => /one thread/.test(String(c[0])))).toEqual([]);
    info.mockRestore();
    // The moving statistics moved (from zeros and ones).
    expect(weight(one.m, 'bn2/moving_mean').some((v) => v !== 0)).toBe(true);
    for (const r of [one, two, three]) r.m.dispose();
  });

  it('x=[50,6,5,3]: 3 chunked SGD steps on 2 threads agree with 3 unchunked steps within 1e-5 relative, moving statistics included', async () => {
    await setThreads(2);
    const steps = (chunked: boolean) => {
      capThreads(chunked ? Infinity : 0);
      const m = net(3);
      m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      const loss = [0, 1, 2].map(() => m.trainOnBatch(X, Y).loss);
      return { m, loss };
    };
    const c = steps(true),
      u = steps(false);
    capThreads(Infinity);
    c.loss.forEach((l, i) => expect(Math.abs(l - u.loss[i])).toBeLessThan(1e-5 * Math.abs(u.loss[i])));
    const specs = u.m.weightSpecs();
    c.m.getWeights().forEach((w, i) => {
      const ref = u.m.getWeights()[i];
      const scale = Math.max(...ref.map(Math.abs));
      let worst = 0;
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - ref[j]) / scale);
      expect(worst, specs[i].name).toBeLessThan(1e-5);
    });
    // Not trivially equal: the statistics moved, and the two orders of summation differ somewhere.
    expect(weight(u.m, 'bn1/moving_variance').some((v) => v !== 1)).toBe(true);
    c.m.dispose();
    u.m.dispose();
  });

  it('bn1 frozen (inference mode, no sync) trains chunked too: same sha256 on 1 and 2 threads, bn1 unchanged', async () => {
    const sync = vi.spyOn(Replayer.prototype, 'sync');
    const one = await trained(1, true);
    // bn2 only: forward and backward, 4 chunks, 3 steps.
    expect(sync.mock.calls.length).toBe(2 * 4 * 3);
    sync.mockRestore();
    const two = await trained(2, true);
    expect(two.sha).toBe(one.sha);
    const fresh = net(7);
    for (const w of ['gamma', 'beta', 'moving_mean', 'moving_variance'])
      expect(Array.from(weight(two.m, `bn1/${w}`))).toEqual(Array.from(weight(fresh, `bn1/${w}`)));
    for (const m of [one.m, two.m, fresh]) m.dispose();
  });

  it('a chunked BN step whose loss is not finite (dense kernel 3e38) on 2 threads: DivergenceError, weights and moving statistics unchanged', async () => {
    await setThreads(2);
    const m = net(5);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(X, Y);
    const specs = m.weightSpecs();
    m.setWeights(m.getWeights().map((w, i) => (specs[i].name.endsWith('kernel') && w.length === 40 ? w.fill(3e38) : w)));
    const before = m.getWeights().map((w) => w.slice());
    const sync = vi.spyOn(Replayer.prototype, 'sync');
    expect(() => m.trainOnBatch(X, Y)).toThrow(/the loss became (NaN|Infinity)/);
    // The step ran split (both BNs' forward syncs, per chunk) before its loss was judged.
    expect(sync.mock.calls.length).toBeGreaterThanOrEqual(2 * 4);
    sync.mockRestore();
    m.getWeights().forEach((w, i) => expect(w, specs[i].name).toEqual(before[i]));
    m.dispose();
  });
});
