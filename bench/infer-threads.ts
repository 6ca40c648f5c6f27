// Batch-1 predict over 2 threads: the big conv and dense calls split into rows / columns, against the same
// model with splitting off (one thread), for split thresholds (floating-point operations per part) around
// the default. Pinned to cores 0,1; interleaved rounds of R single-image predicts; medians.
// npx tsx bench/infer-threads.ts (REPS=15 rounds; THRESHOLDS=1,2,4 in MFLOP per part)
import { loadavg } from 'node:os';
import { setThreads, tensor, type Model } from '../src/node.js';
import { buildNet, type NetName } from '../src/nets.js';
import { setSplitThreshold } from '../src/threads/inference.js';
import { fmt, median, pinToOneCore, roundTimes } from './util.js';

pinToOneCore('0,1');
const R = 24,
  REPS = Number(process.env.REPS ?? 9);
const THRESHOLDS = (process.env.THRESHOLDS ?? '1,3,4,16').split(',').map((t) => Number(t) * 1e6);
await setThreads(2);
const load0 = loadavg()[0];
const cases: [NetName, number[]][] = [
  ['lenet', [28, 28, 1]],
  ['resnet8', [32, 32, 3]],
  ['resnet20', [32, 32, 3]],
  ['cnn3', [64, 64, 3]],
  ['cnn3', [128, 128, 3]],
];
console.log(
  `| net, batch 1, input | one thread (no split) img/s | ${THRESHOLDS.map((t) => `split >= ${t / 1e6} MFLOP/part`).join(' | ')} |`,
);
console.log(`|---|---|${THRESHOLDS.map(() => '---|').join('')}`);
for (const [name, shape] of cases) {
  const m: Model = buildNet(name, 1, { inputShape: shape });
  const x = tensor(
    Float32Array.from({ length: R * shape[0] * shape[1] * shape[2] }, (_, i) => Math.abs(Math.sin(i))),
    [R, ...shape],
  );
  const at = (t: number) => () => {
    setSplitThreshold(t);
    m.predict(x, { batchSize: 1 });
  };
  const fns = [at(Infinity), ...THRESHOLDS.map(at)];
  const t = roundTimes(fns, REPS);
  // Medians, then (in brackets) the best rounds' ratio: on a loaded machine the other core is often taken,
  // and the best round shows what a free core gives.
  const ips = t.map(median).map((ms) => (R / ms) * 1000),
    best = t.map((v) => (R / Math.min(...v)) * 1000);
  const cell = (i: number) => `${fmt(ips[i])} (${fmt(ips[i] / ips[0], 2)}x) [${fmt(best[i] / best[0], 2)}x]`;
  console.log(`| ${name} [${shape}] | ${fmt(ips[0])} [best ${fmt(best[0])}] | ${THRESHOLDS.map((_, i) => cell(i + 1)).join(' | ')} |`);
  m.dispose();
}
setSplitThreshold(16e6);
console.log(
  `\nmedians of ${REPS} interleaved rounds of ${R} predicts; 1-minute load ${fmt(load0, 1)} -> ${fmt(loadavg()[0], 1)} (2 cores)`,
);
await setThreads(1);
