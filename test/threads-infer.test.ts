// predict at batch 1 over threads: the big conv and dense calls split into output rows / columns
// (src/kernels/split.ts, src/threads/inference.ts), one dispatch per call. The outputs must be the same
// bits as on one thread for 1, 2 and 3 threads, over every conv path a part can take (Winograd with output
// rows not a multiple of its tile, direct strided 'same' with odd sizes, the fused few-channel kernel) and
// dense layers whose width is not a multiple of 8. The threshold is lowered so these small nets split.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Conv2D, Dense, Flatten, MaxPool2D, Sequential, setThreads, Tensor } from '../src/node.js';
import { currentBackend } from '../src/backend.js';
import { ThreadPool } from '../src/threads/pool.js';
import { DEFAULT_SPLIT_FLOPS, setSplitThreshold } from '../src/threads/inference.js';
import { mulberry32, randomArray } from './reference.js';

afterAll(async () => {
  setSplitThreshold(DEFAULT_SPLIT_FLOPS);
  await setThreads(1);
});

/** [name, input shape, calls split per sample, model] */
const nets: [string, number[], number, (seed: number) => Sequential][] = [
  [
    'x=[13,11,2]: conv(9,3x3,same,relu) fused -> conv(16,3x3,same,relu) Winograd (13 rows: tiles of 4 and a short one) -> conv(11,3x3,stride 2,same) direct -> dense(37,relu) -> dense(5)',
    [13, 11, 2],
    4,
    (seed) =>
      new Sequential(
        [
          new Conv2D({ filters: 9, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [13, 11, 2] }),
          new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
          new Conv2D({ filters: 11, kernelSize: 3, strides: 2, padding: 'same' }),
          new Flatten(),
          new Dense({ units: 37, activation: 'relu' }),
          new Dense({ units: 5 }),
        ],
        { seed },
      ),
  ],
  [
    'x=[17,17,1]: conv(8,5x5,valid,relu) fused with the pool (13 rows: parts of whole pool rows) -> conv(24,3x3,same,relu) Winograd -> dense(13, softmax)',
    [17, 17, 1],
    3,
    (seed) =>
      new Sequential(
        [
          new Conv2D({ filters: 8, kernelSize: 5, activation: 'relu', inputShape: [17, 17, 1] }),
          new MaxPool2D({ poolSize: 2 }),
          new Conv2D({ filters: 24, kernelSize: 3, padding: 'same', activation: 'relu' }),
          new Flatten(),
          new Dense({ units: 13, activation: 'softmax' }),
        ],
        { seed },
      ),
  ],
];

describe('predict at batch 1 over threads: big calls split into rows / columns', () => {
  nets.forEach(([name, shape, splitCalls, make], idx) => {
    it(`${name}: the same bits on 1, 2 and 3 threads`, async () => {
      const x = new Tensor(randomArray(3 * shape[0] * shape[1] * shape[2], mulberry32(60 + idx)), [3, ...shape]);
      setSplitThreshold(500);
      const got: Float32Array[] = [];
      for (const threads of [1, 2, 3]) {
        await setThreads(threads);
        const m = make(20 + idx);
        const run = vi.spyOn(ThreadPool.prototype, 'run');
        got.push(m.predict(x, { batchSize: 1 }).data);
        if (threads > 1) expect(run.mock.calls.length, 'dispatches').toBe(3 * splitCalls);
        run.mockRestore();
        const be = currentBackend(),
          before = be.allocatedBytes;
        m.dispose();
        be.checkHeap();
        expect(be.allocatedBytes).toBeLessThan(before);
      }
      expect(Array.from(got[1])).toEqual(Array.from(got[0]));
      expect(Array.from(got[2])).toEqual(Array.from(got[0]));
    });
  });
});
