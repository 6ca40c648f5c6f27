// How long idle threads should poll before they sleep (ThreadPool.spinMs): LeNet b64 training steps on
// 2 threads at several spin times against 1 thread, interleaved rounds in one process, medians.
// npx tsx bench/threads-spin.ts (pin it: taskset -c 0,1). Run it on a quiet machine and on a loaded one:
// a long spin wins when the cores are free and loses badly when a third process wants one.
import { loadavg } from 'node:os';
import { SGD, setThreads } from '../src/node.js';
import { currentBackend } from '../src/backend.js';
import { lenet } from '../src/nets.js';
import { capThreads, poolFor } from '../src/threads/config.js';
import { median, randomLenetBatch } from './util.js';

const B = 64;
const [x, y] = randomLenetBatch(B);
const spins = (process.argv[2] ?? '0,0.1,0.3,1,2').split(',').map(Number);

await setThreads(2);
const pool = poolFor(currentBackend())!;
const m = lenet(1);
m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
const configs = [{ threads: 1, spin: pool.spinMs }, ...spins.map((spin) => ({ threads: 2, spin }))];
const ms = configs.map(() => [] as number[]);
const load0 = loadavg()[0];
for (let r = -1; r < 15; r++)
  configs.forEach((c, i) => {
    capThreads(c.threads);
    pool.spinMs = c.spin;
    for (let s = 0; s < 3; s++) m.trainOnBatch(x, y);
    const t = performance.now();
    for (let s = 0; s < 10; s++) m.trainOnBatch(x, y);
    if (r >= 0) ms[i].push((performance.now() - t) / 10);
  });
capThreads(Infinity);
console.log(
  `load ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}; ms per b64 LeNet step, medians of 15 interleaved rounds of 10 steps\n`,
);
console.log('| threads | spin ms | ms/step | vs 1 thread |\n|---|---|---|---|');
const one = median(ms[0]);
configs.forEach((c, i) =>
  console.log(`| ${c.threads} | ${c.threads === 1 ? '-' : c.spin} | ${median(ms[i]).toFixed(2)} | ${(one / median(ms[i])).toFixed(2)}x |`),
);
m.dispose();
await setThreads(1);
