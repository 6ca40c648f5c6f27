// The threads sweep (npm run bench -- --threads 1,2): LeNet training at batch 64 and inference at batch 256,
// and ResNet-8 (BatchNormalization after every conv: its statistics merged across the chunks) training at
// batch 64 on random 32x32x3 images, images/s per thread count, in interleaved rounds over one pool of
// workers (capThreads limits a round to its count), next to the unchunked single-thread order simdcnn
// keeps when setThreads is never called. Each round also times two independent single-thread trainings,
// one per core (bench/solo-trainer.ts): what the host gives two cores at that moment; and the core-to-core
// latency (bench/core-latency.ts), which says how far apart the host put the two vCPUs.
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Model, SGD, setThreads, Tensor } from '../src/node.js';
import { buildNet, lenet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { capThreads } from '../src/threads/config.js';
import { coreLatencyProbe } from './core-latency.js';
import type { SoloCommand } from './solo-trainer.js';
import { median } from './util.js';

export interface ThreadRow {
  /** 0: unchunked, one thread (as without setThreads). */
  threads: number;
  train: number;
  infer: number;
  /** ResNet-8 training, batch 64. */
  resnet: number;
  /** LeNet b64 step times over every timed step (ms): 10th percentile, median, 90th percentile. */
  stepMs: [number, number, number];
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];

/** Two independent single-thread LeNet trainings, one process per core, as measured in the same rounds. */
export interface HostCeiling {
  /** img/s of one process alone, on core 0 and on core 1. */
  alone: [number, number];
  /** img/s of both processes together (the sum), over the faster one alone (per round, then the median). */
  ratio: number;
}

/** A LeNet trainer in a process of its own pinned to `core`; run() times `steps` steps. */
async function soloTrainer(core: number, images: number): Promise<{ run: (steps: number) => Promise<number>; stop: () => void }> {
  const script = fileURLToPath(new URL('./solo-trainer.ts', import.meta.url));
  const child: ChildProcess = spawn('taskset', ['-c', String(core), process.execPath, ...process.execArgv, script, String(images)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // One reply at a time: the listeners stay two, however many runs.
  let pending: { resolve: (m: unknown) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m) => pending?.resolve(m));
  child.on('exit', (code) => pending?.reject(new Error(`bench: the solo trainer on core ${core} exited (${code})`)));
  child.on('error', (e) =>
    pending?.reject(new Error(`bench: could not start the solo trainer on core ${core} (taskset missing?): ${e.message}`)),
  );
  const next = () => new Promise<unknown>((resolve, reject) => (pending = { resolve, reject }));
  await next();
  return {
    run: (steps) => {
      const reply = next();
      child.send({ steps } satisfies SoloCommand);
      return reply as Promise<number>;
    },
    stop: () => child.kill(),
  };
}

/** `batches` batches of 64 random 32x32x3 images with labels of 10 classes. */
function cifarLike(batches: number): [Tensor, Int32Array][] {
  const rng = new Rng(5);
  return Array.from({ length: batches }, () => [
    new Tensor(
      Float32Array.from({ length: 64 * 32 * 32 * 3 }, () => rng.uniform()),
      [64, 32, 32, 3],
    ),
    Int32Array.from({ length: 64 }, () => rng.int(10)),
  ]);
}

/** Images/s for each count (and the unchunked baseline), medians of `reps` interleaved rounds. */
export async function threadRows(
  counts: number[],
  reps: number,
  x: Tensor,
  y: Int32Array,
): Promise<{ rows: ThreadRow[]; ceiling?: HostCeiling; latencyNs?: [number, number]; load: [number, number] }> {
  const max = Math.max(...counts);
  const info = await setThreads(max);
  if (info.active < max) throw new Error(`bench --threads: only ${info.active} thread(s) run here (${info.note})`);
  const load0 = loadavg()[0];
  const configs = [0, ...counts];
  const compiled = (m: Model) => {
    m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    return m;
  };
  const models = configs.map(() => compiled(lenet(1)));
  const resnets = configs.map(() => compiled(buildNet('resnet8', 1)));
  const resnetBatches = cifarLike(reps > 3 ? 5 : 3);
  const B = 64,
    steps = Math.floor(x.shape[0] / B),
    batches = Array.from({ length: steps }, (_, i) => [x.slice(i * B, (i + 1) * B), y.subarray(i * B, (i + 1) * B)] as const);
  const infer = x.slice(0, 256);
  // The first step of a round is not timed: the other configurations' rounds left this one's model out of
  // cache and its workers asleep (a fit's steady state has neither), and they cost every thread count alike.
  // `stepMs` collects each timed step's duration (the quantiles say whether the host was quiet throughout).
  const trainRound = (m: Model, data: readonly (readonly [Tensor, Int32Array])[], stepMs?: number[]) => {
    m.trainOnBatch(...data[0]);
    const t = performance.now();
    for (let i = 1, last = t; i < data.length; i++) {
      m.trainOnBatch(...data[i]);
      const now = performance.now();
      stepMs?.push(now - last);
      last = now;
    }
    return ((data.length - 1) * B) / ((performance.now() - t) / 1000);
  };
  const inferRound = (m: Model) => {
    const t = performance.now();
    for (let i = 0; i < 4; i++) m.predict(infer, { batchSize: 256 });
    return (4 * 256) / ((performance.now() - t) / 1000);
  };
  const results = configs.map(() => ({ train: [] as number[], infer: [] as number[], resnet: [] as number[], stepMs: [] as number[] }));
  // Two cores or more: the ceiling of a 2-thread sweep.
  const solos = max >= 2 ? await Promise.all([0, 1].map((core) => soloTrainer(core, x.shape[0]))) : [];
  const alone: [number, number][] = [],
    together: number[] = [],
    latency: number[] = [];
  const probe = max >= 2 ? await coreLatencyProbe() : undefined;
  try {
    for (let r = -1; r < reps; r++) {
      // The trainers wait on a pipe while this process runs: they take no CPU from the rounds below.
      if (solos.length) {
        const a0 = await solos[0].run(steps - 1),
          a1 = await solos[1].run(steps - 1),
          both = await Promise.all(solos.map((s) => s.run(steps - 1)));
        if (r >= 0) {
          alone.push([a0, a1]);
          together.push(both[0] + both[1]);
        }
      }
      const ns = probe?.sample();
      if (ns !== undefined && r >= 0) latency.push(ns);
      configs.forEach((c, i) => {
        capThreads(c);
        const tr = trainRound(models[i], batches, r >= 0 ? results[i].stepMs : undefined),
          inf = inferRound(models[i]),
          res = trainRound(resnets[i], resnetBatches);
        if (r >= 0) {
          results[i].train.push(tr);
          results[i].infer.push(inf);
          results[i].resnet.push(res);
        }
      });
    }
  } finally {
    for (const s of solos) s.stop();
    await probe?.stop();
  }
  capThreads(Infinity);
  for (const m of [...models, ...resnets]) m.dispose();
  await setThreads(1);
  return {
    rows: configs.map((c, i) => ({
      threads: c,
      train: median(results[i].train),
      infer: median(results[i].infer),
      resnet: median(results[i].resnet),
      stepMs: [0.1, 0.5, 0.9].map((q) => quantile(results[i].stepMs, q)) as [number, number, number],
    })),
    ceiling: solos.length
      ? {
          alone: [median(alone.map((a) => a[0])), median(alone.map((a) => a[1]))],
          ratio: median(together.map((t, i) => t / Math.max(...alone[i]))),
        }
      : undefined,
    latencyNs: latency.length ? [median(latency), Math.max(...latency)] : undefined,
    load: [load0, loadavg()[0]],
  };
}
