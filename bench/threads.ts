// The threads sweep (npm run bench -- --threads 1,2): LeNet training at batch 64 and inference at batch 256,
// images/s per thread count, in interleaved rounds over one pool of workers (capThreads limits a round to
// its count), next to the unchunked single-thread order simdcnn keeps when setThreads is never called.
import { loadavg } from 'node:os';
import { SGD, setThreads, type Sequential, type Tensor } from '../src/node.js';
import { lenet } from '../src/nets.js';
import { capThreads } from '../src/threads/config.js';
import { median } from './util.js';

export interface ThreadRow {
  /** 0: unchunked, one thread (as without setThreads). */
  threads: number;
  train: number;
  infer: number;
}

/** Images/s for each count (and the unchunked baseline), medians of `reps` interleaved rounds. */
export async function threadRows(
  counts: number[],
  reps: number,
  x: Tensor,
  y: Int32Array,
): Promise<{ rows: ThreadRow[]; load: [number, number] }> {
  const max = Math.max(...counts);
  const info = await setThreads(max);
  if (info.active < max) throw new Error(`bench --threads: only ${info.active} thread(s) run here (${info.note})`);
  const load0 = loadavg()[0];
  const configs = [0, ...counts];
  const models: Sequential[] = configs.map(() => {
    const m = lenet(1);
    m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    return m;
  });
  const B = 64,
    steps = Math.floor(x.shape[0] / B),
    batches = Array.from({ length: steps }, (_, i) => [x.slice(i * B, (i + 1) * B), y.subarray(i * B, (i + 1) * B)] as const);
  const infer = x.slice(0, 256);
  const trainRound = (m: Sequential) => {
    const t = performance.now();
    for (const [bx, by] of batches) m.trainOnBatch(bx, by);
    return (steps * B) / ((performance.now() - t) / 1000);
  };
  const inferRound = (m: Sequential) => {
    const t = performance.now();
    for (let i = 0; i < 4; i++) m.predict(infer, { batchSize: 256 });
    return (4 * 256) / ((performance.now() - t) / 1000);
  };
  const results = configs.map(() => ({ train: [] as number[], infer: [] as number[] }));
  for (let r = -1; r < reps; r++) {
    configs.forEach((c, i) => {
      capThreads(c);
      const tr = trainRound(models[i]),
        inf = inferRound(models[i]);
      if (r >= 0) {
        results[i].train.push(tr);
        results[i].infer.push(inf);
      }
    });
  }
  capThreads(Infinity);
  for (const m of models) m.dispose();
  await setThreads(1);
  return {
    rows: configs.map((c, i) => ({ threads: c, train: median(results[i].train), infer: median(results[i].infer) })),
    load: [load0, loadavg()[0]],
  };
}
