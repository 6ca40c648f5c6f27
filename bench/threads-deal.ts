// Whether run()'s jobs (the chunks of a batch) are dealt out to the threads, chunk c to thread c mod T
// (setJobDealing(true), the default), or taken by whichever thread is free, so a chunk's arena moves between
// the cores from step to step: LeNet b64 training on MNIST images, unchunked, 1 and 2 threads, interleaved
// rounds in one process; img/s (median round) and step-time quantiles.
// npx tsx bench/threads-deal.ts [rounds] (pin it: taskset -c 0,1).
import { loadavg } from 'node:os';
import { type Model, SGD, setThreads, tensor } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { lenet } from '../src/nets.js';
import { capThreads } from '../src/threads/config.js';
import { setJobDealing } from '../src/threads/record.js';
import { fmt, median } from './util.js';

const n = 2048,
  B = 64,
  rounds = Number(process.argv[2] ?? 9);
const mn = await loadMnist({ trainLimit: n, testLimit: 1 });
const x = tensor(mn.train.images.data, [n, 28, 28, 1]),
  y = Int32Array.from(mn.train.labels);
const batches = Array.from({ length: n / B }, (_, i) => [x.slice(i * B, (i + 1) * B), y.subarray(i * B, (i + 1) * B)] as const);
await setThreads(2);
const configs = [
  { name: 'unchunked', threads: 0, dealt: true },
  { name: '1 thread', threads: 1, dealt: true },
  { name: '2 threads, any thread takes any chunk', threads: 2, dealt: false },
  { name: '2 threads, chunks dealt', threads: 2, dealt: true },
];
const models: Model[] = configs.map(() => {
  const m = lenet(1);
  m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  return m;
});
const steps = configs.map(() => [] as number[]),
  imgs = configs.map(() => [] as number[]);
const load0 = loadavg()[0];
for (let r = -1; r < rounds; r++)
  configs.forEach((c, i) => {
    capThreads(c.threads);
    setJobDealing(c.dealt);
    models[i].trainOnBatch(...batches[0]); // untimed: the other configurations' rounds left this one cold
    const t0 = performance.now();
    for (let k = 1, last = t0; k < batches.length; k++) {
      models[i].trainOnBatch(...batches[k]);
      const now = performance.now();
      if (r >= 0) steps[i].push(now - last);
      last = now;
    }
    if (r >= 0) imgs[i].push(((batches.length - 1) * B) / ((performance.now() - t0) / 1000));
  });
capThreads(Infinity);
setJobDealing(true);
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
console.log(`load ${fmt(load0, 2)} -> ${fmt(loadavg()[0], 2)}; ${rounds} interleaved rounds of ${batches.length - 1} timed steps\n`);
console.log('| configuration | img/s | vs unchunked | step ms: 10th percentile | median | 90th percentile |\n|---|---|---|---|---|---|');
configs.forEach((c, i) =>
  console.log(
    `| ${c.name} | ${fmt(median(imgs[i]))} | ${fmt(median(imgs[i]) / median(imgs[0]), 3)}x | ${fmt(q(steps[i], 0.1), 2)} | ${fmt(q(steps[i], 0.5), 2)} | ${fmt(q(steps[i], 0.9), 2)} |`,
  ),
);
for (const m of models) m.dispose();
await setThreads(1);
