// web/bench.html: simdcnn on setThreads(n) against TF.js's threaded SIMD wasm backend with
// setThreadsCount(n), LeNet inference at batch 1 and 256 and a training step at batch 64, n = 1 and 2, in
// one cross-origin isolated page. Each library and thread count runs in a Worker of its own (simdcnn's
// threads need one: a page's main thread cannot Atomics.wait), all start from the same weights, and the
// page times them in turn, round after round, so a slow spell hits every column alike. Query: ?quick
// (tiny counts, one round), ?reps=N, ?warm=N, ?threads=1,2. The result goes to window.simdcnnBench.
import { loadMnist, toFloat } from '../data.js';
import type { BenchReply, BenchRequest, Lib, Mode, Ready, WorkerInfo } from './protocol.js';

interface Case {
  what: string;
  mode: Mode;
  batch: number;
  counts: Record<Lib, number>;
}
export interface Row {
  what: string;
  threads: number;
  simdcnn: number;
  tfjs: number;
}
export interface BenchResult {
  isolated: boolean;
  userAgent: string;
  cores: number;
  reps: number;
  warm: number;
  workers: WorkerInfo[];
  /** Max |difference| of simdcnn's and TF.js's softmax outputs on CHECK_N images, per thread count. */
  predictionDiff: number[];
  /** Max |difference| of their weights after one SGD step at batch 64, per thread count. */
  stepDiff: number[];
  rows: Row[];
  markdown: string;
}
type State = { state: 'running'; status: string } | { state: 'done'; result: BenchResult } | { state: 'error'; message: string };
const win = window as unknown as { simdcnnBench: State };

const TOLERANCE = 1e-4;
const CHECK_N = 256;
const params = new URLSearchParams(location.search);
const quick = params.has('quick');
const reps = Number(params.get('reps') ?? (quick ? 1 : 7));
const warm = Number(params.get('warm') ?? (quick ? 0 : 1));
const threadCounts = (params.get('threads') ?? '1,2').split(',').map(Number);
const q = (full: Record<Lib, number>, small: Record<Lib, number>) => (quick ? small : full);
// Each timed run takes ~0.1-1 s per library on one thread of this machine.
const CASES: Case[] = [
  { what: 'LeNet, infer, batch 1', mode: 'infer', batch: 1, counts: q({ simdcnn: 1000, tfjs: 300 }, { simdcnn: 4, tfjs: 4 }) },
  { what: 'LeNet, infer, batch 256', mode: 'infer', batch: 256, counts: q({ simdcnn: 2048, tfjs: 768 }, { simdcnn: 256, tfjs: 256 }) },
  { what: 'LeNet, train, batch 64', mode: 'train', batch: 64, counts: q({ simdcnn: 1024, tfjs: 256 }, { simdcnn: 64, tfjs: 64 }) },
];

const out = document.getElementById('out')!;
const say = (status: string) => {
  win.simdcnnBench = { state: 'running', status };
  document.getElementById('status')!.textContent = status;
};

class Client {
  private readonly w: Worker;
  constructor(
    readonly lib: Lib,
    readonly threads: number,
  ) {
    this.w = new Worker(`dist/bench-${lib}.js`, { type: 'module', name: `${lib}-${threads}` });
  }
  ask<T>(req: BenchRequest): Promise<T> {
    return new Promise((resolve, reject) => {
      this.w.onmessage = (e: MessageEvent<BenchReply>) =>
        e.data.ok ? resolve(e.data.value as T) : reject(new Error(`${this.lib} (${this.threads} threads): ${e.data.message}`));
      this.w.onerror = (e) => reject(new Error(`${this.lib} (${this.threads} threads): ${e.message || 'the worker failed to load'}`));
      this.w.postMessage(req);
    });
  }
}

function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((x, k) => {
    if (x.length !== b[k].length) m = Infinity;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - b[k][i]));
  });
  return a.length === b.length ? m : Infinity;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (v: number, d = 0) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

async function run(): Promise<BenchResult> {
  if (!crossOriginIsolated)
    throw new Error('this page is not cross-origin isolated (no COOP/COEP headers): neither library could use threads');
  say('loading MNIST');
  const N = Math.max(CHECK_N, ...CASES.flatMap((c) => [c.counts.simdcnn, c.counts.tfjs]));
  const mnist = await loadMnist('data/mnist-12k.bin.gz');
  if (mnist.train.count < N) throw new Error(`data/mnist-12k.bin.gz: ${mnist.train.count} training images, the bench needs ${N}`);
  const images = toFloat(mnist.train.images, N, 784, [0, 1]);
  const labels = Int32Array.from(mnist.train.labels.subarray(0, N));

  const pairs: Record<Lib, Client>[] = [];
  const infos: WorkerInfo[] = [];
  let start: Ready | undefined;
  for (const threads of threadCounts) {
    say(`starting simdcnn and TF.js on ${threads} thread(s)`);
    const pair = { simdcnn: new Client('simdcnn', threads), tfjs: new Client('tfjs', threads) };
    const s = await pair.simdcnn.ask<Ready>({ type: 'init', threads, images, labels });
    start ??= s;
    const t = await pair.tfjs.ask<Ready>({ type: 'init', threads, images, labels, weights: start.weights, shapes: start.shapes });
    infos.push(s.info, t.info);
    pairs.push(pair);
  }

  say('checking that both libraries compute the same predictions and SGD step');
  const predictionDiff: number[] = [],
    stepDiff: number[] = [];
  for (const p of pairs) {
    const [a, b] = [
      await p.simdcnn.ask<Float32Array>({ type: 'predict', n: CHECK_N }),
      await p.tfjs.ask<Float32Array>({ type: 'predict', n: CHECK_N }),
    ];
    predictionDiff.push(maxAbsDiff([a], [b]));
    const [wa, wb] = [
      await p.simdcnn.ask<Float32Array[]>({ type: 'step', batch: 64 }),
      await p.tfjs.ask<Float32Array[]>({ type: 'step', batch: 64 }),
    ];
    stepDiff.push(maxAbsDiff(wa, wb));
  }

  const rows: Row[] = [];
  for (const c of CASES) {
    const times = pairs.map(() => ({ simdcnn: [] as number[], tfjs: [] as number[] }));
    for (let r = -warm; r < reps; r++) {
      say(`${c.what}: ${r < 0 ? 'warm-up' : `round ${r + 1} of ${reps}`}`);
      for (const [i, p] of pairs.entries())
        for (const lib of ['simdcnn', 'tfjs'] as const) {
          const s = await p[lib].ask<number>({ type: 'time', mode: c.mode, batch: c.batch, count: c.counts[lib] });
          if (r >= 0) times[i][lib].push(s);
        }
    }
    pairs.forEach((p, i) =>
      rows.push({
        what: c.what,
        threads: p.simdcnn.threads,
        simdcnn: c.counts.simdcnn / median(times[i].simdcnn),
        tfjs: c.counts.tfjs / median(times[i].tfjs),
      }),
    );
  }
  const result = {
    isolated: crossOriginIsolated,
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency,
    reps,
    warm,
    workers: infos,
  };
  return { ...result, predictionDiff, stepDiff, rows, markdown: markdown({ ...result, predictionDiff, stepDiff, rows, markdown: '' }) };
}

function markdown(r: BenchResult): string {
  const chrome = /Chrome\/([\d.]+)/.exec(r.userAgent)?.[1] ?? r.userAgent;
  const lines = [
    `Chromium ${chrome}, cross-origin isolated: ${r.isolated}, navigator.hardwareConcurrency ${r.cores}. Medians of ${r.reps} interleaved rounds after ${r.warm} warm-up round(s); images/s.`,
    '',
    ...r.workers.map((w) =>
      w.lib === 'simdcnn'
        ? `- simdcnn, setThreads(${w.requested}) in a Worker: ${w.active} thread(s) running, ${w.build} build`
        : `- TF.js wasm, setThreadsCount(${w.requested}) in a Worker: getThreadsCount() = ${w.active}, ${w.build}, fetched ${w.wasmFiles.join(', ') || 'no .wasm file'}`,
    ),
    ...[...new Set(r.workers.flatMap((w) => w.notes))].map((n) => `- ${n}`),
    ...threadCounts.map(
      (t, i) =>
        `- ${r.predictionDiff[i] <= TOLERANCE && r.stepDiff[i] <= TOLERANCE ? 'PASS' : 'FAIL'} ${t} thread(s): predictions of ${CHECK_N} images differ by ${r.predictionDiff[i].toExponential(1)}, weights after one SGD step (batch 64) by ${r.stepDiff[i].toExponential(1)} (tolerance ${TOLERANCE})`,
    ),
    '',
    '| case | threads | simdcnn img/s | TF.js wasm img/s | simdcnn / TF.js | simdcnn vs 1 thread | TF.js vs 1 thread |',
    '|---|---|---|---|---|---|---|',
    ...r.rows.map((row) => {
      const one = r.rows.find((o) => o.what === row.what && o.threads === 1);
      const vs = (lib: Lib) => (one ? `${fmt(row[lib] / one[lib], 2)}x` : '—');
      return `| ${row.what} | ${row.threads} | ${fmt(row.simdcnn)} | ${fmt(row.tfjs)} | ${fmt(row.simdcnn / row.tfjs, 2)}x | ${vs('simdcnn')} | ${vs('tfjs')} |`;
    }),
  ];
  return lines.join('\n');
}

say('starting');
run().then(
  (result) => {
    win.simdcnnBench = { state: 'done', result };
    document.getElementById('status')!.textContent = 'done';
    out.textContent = result.markdown;
  },
  (e: Error) => {
    win.simdcnnBench = { state: 'error', message: e.message };
    document.getElementById('status')!.textContent = `failed: ${e.message}`;
  },
);
