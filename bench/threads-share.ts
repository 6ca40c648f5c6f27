// Whether the chunks of a training batch share what they derive from the weights (Winograd's transformed
// filters, Dense's packed kernel and its transpose; setChunkCacheSharing), and whether their gradient sum
// runs in the chunks' dispatch, each range as soon as every chunk has written it, or in a dispatch of its own
// after them (setChunkSumOverlap): LeNet b64 steps unchunked, and on 1 and 2 threads, interleaved rounds in
// one process, medians.
// npx tsx bench/threads-share.ts [rounds] (pin it: taskset -c 0,1).
import { loadavg } from 'node:os';
import { SGD, setThreads } from '../src/node.js';
import { lenet } from '../src/nets.js';
import { setChunkCacheSharing, setChunkSumOverlap } from '../src/threads/chunked.js';
import { capThreads } from '../src/threads/config.js';
import { median, randomLenetBatch } from './util.js';

const B = 64;
const [x, y] = randomLenetBatch(B);
const rounds = Number(process.argv[2] ?? 15);

await setThreads(2);
const m = lenet(1);
m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
const configs = [
  { name: 'unchunked', threads: 0, share: true, overlap: true },
  { name: '1 thread, caches of their own', threads: 1, share: false, overlap: true },
  { name: '1 thread, shared', threads: 1, share: true, overlap: true },
  { name: '2 threads, caches of their own', threads: 2, share: false, overlap: true },
  { name: '2 threads, shared, sum after the chunks', threads: 2, share: true, overlap: false },
  { name: '2 threads, shared, sum with the chunks', threads: 2, share: true, overlap: true },
];
const ms = configs.map(() => [] as number[]);
const load0 = loadavg()[0];
for (let r = -1; r < rounds; r++)
  configs.forEach((c, i) => {
    capThreads(c.threads);
    setChunkCacheSharing(c.share);
    setChunkSumOverlap(c.overlap);
    for (let s = 0; s < 3; s++) m.trainOnBatch(x, y);
    const t = performance.now();
    for (let s = 0; s < 10; s++) m.trainOnBatch(x, y);
    if (r >= 0) ms[i].push((performance.now() - t) / 10);
  });
capThreads(Infinity);
setChunkCacheSharing(true);
setChunkSumOverlap(true);
console.log(
  `load ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}; ms per b64 LeNet step, medians of ${rounds} interleaved rounds of 10 steps\n`,
);
console.log('| configuration | ms/step | unchunked / this |\n|---|---|---|');
const base = median(ms[0]);
configs.forEach((c, i) => console.log(`| ${c.name} | ${median(ms[i]).toFixed(2)} | ${(base / median(ms[i])).toFixed(3)}x |`));
m.dispose();
await setThreads(1);
