// Where a chunked LeNet training step (batch 64 = 4 chunks of 16) goes, per phase, on 1 and 2 threads:
// recording on the main thread, each dispatch's own list and its wait for the workers (chunks: forward, loss
// and backward; the chunk-gradient sum; the update). npx tsx bench/threads-profile.ts (pin it: taskset -c 0,1).
import { loadavg } from 'node:os';
import { SGD, setThreads } from '../src/node.js';
import { lenet } from '../src/nets.js';
import { capThreads } from '../src/threads/config.js';
import { ThreadPool } from '../src/threads/pool.js';
import { Replayer } from '../src/threads/record.js';
import { median, randomLenetBatch } from './util.js';

const B = 64;
const [x, y] = randomLenetBatch(B);

const acc = new Map<string, number>();
const add = (k: string, t: number) => acc.set(k, (acc.get(k) ?? 0) + t);
let dispatchNo = 0;
const phase = () => ['forward+loss+backward+sum', 'update'][dispatchNo] ?? `dispatch ${dispatchNo}`;
function wrap<T extends object>(proto: T, name: keyof T, key: (() => string) | string, after?: () => void) {
  const f = proto[name] as unknown as (...a: unknown[]) => unknown;
  (proto as Record<keyof T, unknown>)[name] = function (this: unknown, ...a: unknown[]) {
    const k = typeof key === 'string' ? key : key();
    const t = performance.now();
    try {
      return f.apply(this, a);
    } finally {
      add(k, performance.now() - t);
      after?.();
    }
  };
}
wrap(Replayer.prototype, 'record', () => `record (main thread, JS) before ${phase()}`);
// Every dispatch (chunks, with their BN phases; the sum; the update) goes through dispatchPhases.
wrap(
  Replayer.prototype as unknown as { dispatchPhases: unknown },
  'dispatchPhases',
  () => `${phase()} dispatch (lists written + run)`,
  () => dispatchNo++,
);
const run = ThreadPool.prototype.run;
ThreadPool.prototype.run = function (table, jobs, runJob, open) {
  const t0 = performance.now();
  let own = 0,
    taken = 0;
  const timed =
    runJob &&
    ((at: number, len: number) => {
      const t = performance.now();
      runJob(at, len);
      own += performance.now() - t;
      taken++;
    });
  run.call(this, table, jobs, timed, open);
  add(`${phase()}: main's jobs`, own);
  add(`${phase()}: jobs the main thread took (of ${jobs})`, taken);
  add(`${phase()}: main waits for the workers`, performance.now() - t0 - own);
};

await setThreads(2);
const m = lenet(1);
m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
const rows = new Map<number, Map<string, number[]>>();
for (let r = -1; r < 15; r++)
  for (const threads of [1, 2]) {
    capThreads(threads);
    for (let i = 0; i < 3; i++) m.trainOnBatch(x, y);
    acc.clear();
    const steps = 10;
    const t = performance.now();
    for (let i = 0; i < steps; i++) {
      dispatchNo = 0;
      m.trainOnBatch(x, y);
    }
    add('whole step', performance.now() - t);
    if (r < 0) continue;
    const row = rows.get(threads) ?? new Map<string, number[]>();
    rows.set(threads, row);
    for (const [k, v] of acc) row.set(k, [...(row.get(k) ?? []), v / steps]);
  }
capThreads(Infinity);
const keys = [...rows.get(2)!.keys()].sort();
console.log(`load ${loadavg()[0].toFixed(2)}; ms per step, medians of 15 rounds of 10 steps\n`);
console.log('| part | 1 thread | 2 threads |\n|---|---|---|');
for (const k of keys)
  console.log(`| ${k} | ${median(rows.get(1)!.get(k) ?? [0]).toFixed(3)} | ${median(rows.get(2)!.get(k)!).toFixed(3)} |`);
m.dispose();
await setThreads(1);
