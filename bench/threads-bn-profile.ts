// Where a ResNet-8 training step (batch 64 = 4 chunks of 16; 9 BatchNormalization layers, so 19 chunk
// dispatches with the whole batch's statistics merged on the main thread between them) goes on 1 and 2
// threads: the step, the time inside the pool's dispatches, and the main thread's own chunk jobs there (the
// rest of a dispatch is waiting for the worker). Alternating rounds of 12 steps; the medians per round.
// taskset -c 0,1 npx tsx bench/threads-bn-profile.ts
import { SGD, setThreads, Tensor } from '../src/node.js';
import { buildNet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { capThreads } from '../src/threads/config.js';
import { ThreadPool } from '../src/threads/pool.js';
import { median } from './util.js';

await setThreads(2);
const rng = new Rng(5);
const x = new Tensor(
  Float32Array.from({ length: 64 * 32 * 32 * 3 }, () => rng.uniform()),
  [64, 32, 32, 3],
);
const y = Int32Array.from({ length: 64 }, () => rng.int(10));
const m = buildNet('resnet8', 1);
m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });

const t = { run: 0, own: 0, dispatches: 0 };
const run = ThreadPool.prototype.run;
ThreadPool.prototype.run = function (table, jobs, runJob, open) {
  const at = performance.now();
  const mine =
    runJob &&
    ((ptr: number, len: number) => {
      const u = performance.now();
      runJob(ptr, len);
      t.own += performance.now() - u;
    });
  try {
    run.call(this, table, jobs, mine, open);
  } finally {
    t.run += performance.now() - at;
    t.dispatches++;
  }
};
console.log('| threads | step (ms) | in dispatches | main thread own jobs | main thread waiting | dispatches |\n|---|---|---|---|---|---|');
for (const threads of [1, 2, 1, 2, 1, 2]) {
  capThreads(threads);
  const rows: number[][] = [];
  for (let i = 0; i < 12; i++) {
    Object.assign(t, { run: 0, own: 0, dispatches: 0 });
    const at = performance.now();
    m.trainOnBatch(x, y);
    rows.push([performance.now() - at, t.run, t.own, t.run - t.own]);
  }
  const med = (i: number) => median(rows.map((r) => r[i])).toFixed(2);
  console.log(`| ${threads} | ${med(0)} | ${med(1)} | ${med(2)} | ${med(3)} | ${t.dispatches} |`);
}
capThreads(Infinity);
m.dispose();
await setThreads(1);
