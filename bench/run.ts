// simdcnn vs TF.js (wasm/XNNPACK and cpu backends) and ConvNetJS, in one process, pinned to one core.
// npm run bench [-- --quick] [-- --only tutorial|lenet|kernels]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { currentBackend, SGD, tensor, type Sequential, type Tensor } from '../src/node.js';
import { lenet, tutorialNet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { kernelRows } from './kernels.js';
import { convnet, initTfWasm, type NetName, tf, tfModel } from './peers.js';
import { fmt, maxAbsDiff, median, pinToOneCore } from './util.js';

pinToOneCore();
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const REPS = quick ? 3 : 5;
const LIBS = ['simdcnn', 'tfjs-wasm', 'tfjs-cpu', 'convnetjs'] as const;
type Lib = (typeof LIBS)[number];

const notes = await initTfWasm();
const rng = new Rng(123);
const images = (n: number) => tensor(Float32Array.from({ length: n * 784 }, () => rng.uniform() - 0.5), [n, 28, 28, 1]);
const labels = (n: number) => Int32Array.from({ length: n }, () => rng.int(10));
const lrOf = (net: NetName) => (net === 'tutorial' ? 0.005 : 0.01);

async function onBackend<T>(name: 'wasm' | 'cpu', f: () => Promise<T> | T): Promise<T> {
  if (tf.getBackend() !== name) await tf.setBackend(name);
  return f();
}

interface Peers { ours: Sequential; tfw: tf.Sequential; tfc: tf.Sequential; cn: ReturnType<typeof convnet> }
async function makePeers(net: NetName, batchSize: number): Promise<Peers> {
  const ours = net === 'tutorial' ? tutorialNet(1) : lenet(1);
  ours.compile({ optimizer: new SGD({ learningRate: lrOf(net) }), loss: 'sparseCategoricalCrossentropy' });
  const tfw = await onBackend('wasm', () => tfModel(net, ours, lrOf(net)));
  const tfc = await onBackend('cpu', () => tfModel(net, ours, lrOf(net)));
  return { ours, tfw, tfc, cn: convnet(net, ours, lrOf(net), batchSize) };
}

/** Same predictions and the same SGD step from the same weights, before any race. */
async function fairness(net: NetName): Promise<string[]> {
  const B = 8, x = images(B), y = labels(B);
  const p = await makePeers(net, B);
  const lines: string[] = [];
  const ref = p.ours.predict(x).data;
  const tfPred = async (m: tf.Sequential, b: 'wasm' | 'cpu') => onBackend(b, async () => (m.predict(tf.tensor4d(x.data, [B, 28, 28, 1])) as tf.Tensor).data());
  const cnPred = () => { const out = new Float32Array(B * 10); for (let i = 0; i < B; i++) out.set(Array.from(p.cn.net.forward(p.cn.vol(x.data, i * 784)).w), i * 10); return out; };
  const preds: Record<string, ArrayLike<number>> = { 'tfjs-wasm': await tfPred(p.tfw, 'wasm'), 'tfjs-cpu': await tfPred(p.tfc, 'cpu'), convnetjs: cnPred() };
  p.ours.trainOnBatch(x, y);
  const w0 = p.ours.getWeights().filter((_, i) => p.ours.weightSpecs()[i].name.endsWith('kernel'));
  const step = async (m: tf.Sequential, b: 'wasm' | 'cpu') => onBackend(b, async () => {
    await m.trainOnBatch(tf.tensor4d(x.data, [B, 28, 28, 1]), tf.tensor1d(y, 'float32'));
    return m.getWeights().filter((t) => t.shape.length > 1).map((t) => t.dataSync() as Float32Array);
  });
  for (let i = 0; i < B; i++) p.cn.trainer.train(p.cn.vol(x.data, i * 784), y[i]);
  const steps: Record<string, ArrayLike<number>[]> = { 'tfjs-wasm': await step(p.tfw, 'wasm'), 'tfjs-cpu': await step(p.tfc, 'cpu'), convnetjs: p.cn.weights() };
  const diff = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => Math.max(...a.map((w, i) => maxAbsDiff(w, b[i])));
  for (const lib of ['tfjs-wasm', 'tfjs-cpu', 'convnetjs']) {
    const dp = maxAbsDiff(ref, preds[lib]);
    const dw = diff(w0, steps[lib]);
    const ok = dp < 1e-4 && dw < 1e-4;
    let line = `${ok ? 'PASS' : '**FAIL**'} ${net} vs ${lib}: predictions differ by ${dp.toExponential(1)}, weights after one SGD step (batch 8) by ${dw.toExponential(1)} (tolerance 1e-4)`;
    if (!ok && lib === 'tfjs-wasm' && diff(steps['tfjs-cpu'], steps['tfjs-wasm']) > 1e-4 && diff(steps['tfjs-cpu'], w0) < 1e-4) {
      // Every layer's gradient but the one below a max-pool agrees; TF.js's own cpu backend sides with simdcnn.
      const bad = w0.map((w, i) => maxAbsDiff(w, steps['tfjs-wasm'][i]) > 1e-4).map((b, i) => (b ? p.ours.weightSpecs().filter((s) => s.name.endsWith('kernel'))[i].name : '')).filter(Boolean);
      line += `: TF.js wasm also disagrees with TF.js cpu (which agrees with simdcnn and ConvNetJS) on ${bad.join(', ')}; the tutorial net has no ReLU, so max-pool windows of all-negative values reach tfjs-backend-wasm's MaxPoolGrad, which (per the shared notes) routes their gradient wrongly. The speed race is unaffected (same work)`;
    }
    lines.push(line);
    if (!ok) console.error(`FAIRNESS CHECK FAILED: ${line}`);
  }
  return lines;
}

type Case = { what: string; net: NetName; mode: 'train' | 'infer'; batch: number; counts: Record<Lib, number | null>; reps?: Partial<Record<Lib, number>> };

async function runCase(c: Case): Promise<Record<Lib, number | undefined>> {
  const p = await makePeers(c.net, c.batch);
  const n = Math.max(...Object.values(c.counts).map((v) => v ?? 0));
  const x = images(n), y = labels(n);
  const xs: Record<string, Tensor> = {};
  for (const lib of LIBS) if (c.counts[lib]) xs[lib] = x.slice(0, c.counts[lib]!);
  const tfx = (k: number) => tf.tensor4d(x.data.subarray(0, k * 784), [k, 28, 28, 1]);
  const run: Record<Lib, () => Promise<void>> = {
    simdcnn: async () => {
      const k = c.counts.simdcnn!;
      if (c.mode === 'train') await p.ours.fit(xs.simdcnn, y.subarray(0, k), { batchSize: c.batch, shuffle: false, epochs: 1, checkFinite: true });
      else for (let i = 0; i < k; i += c.batch) p.ours.predict(xs.simdcnn.slice(i, Math.min(k, i + c.batch)), { batchSize: c.batch });
    },
    'tfjs-wasm': () => tfRun(p.tfw, 'wasm', c.counts['tfjs-wasm']!),
    'tfjs-cpu': () => tfRun(p.tfc, 'cpu', c.counts['tfjs-cpu']!),
    convnetjs: async () => {
      const k = c.counts.convnetjs!;
      for (let i = 0; i < k; i++) {
        const v = p.cn.vol(x.data, i * 784);
        if (c.mode === 'train') p.cn.trainer.train(v, y[i]); else p.cn.net.forward(v);
      }
    },
  };
  // Inputs are cut into batches before timing, and batch-1 training uses trainOnBatch (fit's per-batch
  // bookkeeping would dominate), so TF.js is timed at its best.
  const tfBatches: Record<string, [tf.Tensor, tf.Tensor][]> = {};
  async function tfRun(m: tf.Sequential, b: 'wasm' | 'cpu', k: number) {
    await onBackend(b, async () => {
      const batches = (tfBatches[b] ??= Array.from({ length: Math.ceil(k / c.batch) }, (_, i) => {
        const n0 = i * c.batch, n1 = Math.min(k, n0 + c.batch);
        return [tf.tensor4d(x.data.slice(n0 * 784, n1 * 784), [n1 - n0, 28, 28, 1]), tf.tensor1d(y.slice(n0, n1), 'float32')];
      }));
      if (c.mode === 'train' && c.batch === 1) for (const [bx, by] of batches) await m.trainOnBatch(bx, by);
      else if (c.mode === 'train') {
        const tx = tfx(k), ty = tf.tensor1d(y.subarray(0, k), 'float32');
        await m.fit(tx, ty, { batchSize: c.batch, epochs: 1, shuffle: false, verbose: 0 });
        tx.dispose(); ty.dispose();
      } else for (const [bx] of batches) { const o = m.predict(bx) as tf.Tensor; o.dataSync(); o.dispose(); }
    });
  }
  const times: Record<string, number[]> = {};
  const libs = LIBS.filter((l) => c.counts[l]);
  for (const lib of libs) await run[lib](); // warm-up (and V8 tier-up) of every library first
  const reps = Math.max(...libs.map((l) => c.reps?.[l] ?? REPS));
  for (let r = 0; r < reps; r++) {
    for (const lib of libs) {
      if (r >= (c.reps?.[lib] ?? REPS)) continue;
      const t = performance.now();
      await run[lib]();
      (times[lib] ??= []).push((performance.now() - t) / 1000);
    }
  }
  p.ours.dispose();
  const out = {} as Record<Lib, number | undefined>;
  for (const lib of LIBS) out[lib] = c.counts[lib] ? c.counts[lib]! / median(times[lib]) : undefined;
  return out;
}

const q = (full: number, small: number) => (quick ? small : full);
const cases: Case[] = [
  { what: 'tutorial net, train, batch 1', net: 'tutorial', mode: 'train', batch: 1, counts: { simdcnn: q(6000, 1000), 'tfjs-wasm': q(600, 100), 'tfjs-cpu': q(40, 10), convnetjs: q(400, 100) } },
  { what: 'tutorial net, train, batch 32', net: 'tutorial', mode: 'train', batch: 32, counts: { simdcnn: q(8192, 1024), 'tfjs-wasm': q(1024, 256), 'tfjs-cpu': q(64, 32), convnetjs: q(320, 64) } },
  { what: 'tutorial net, infer, batch 1', net: 'tutorial', mode: 'infer', batch: 1, counts: { simdcnn: q(5000, 1000), 'tfjs-wasm': q(1000, 200), 'tfjs-cpu': q(200, 50), convnetjs: q(500, 100) } },
  { what: 'tutorial net, infer, batch 256', net: 'tutorial', mode: 'infer', batch: 256, counts: { simdcnn: q(4096, 512), 'tfjs-wasm': q(2048, 256), 'tfjs-cpu': q(512, 256), convnetjs: q(512, 256) } },
  { what: 'LeNet, train, batch 64', net: 'lenet', mode: 'train', batch: 64, counts: { simdcnn: q(1024, 128), 'tfjs-wasm': q(256, 64), 'tfjs-cpu': null, convnetjs: q(64, 16) }, reps: { convnetjs: q(3, 1) } },
  { what: 'LeNet, infer, batch 1', net: 'lenet', mode: 'infer', batch: 1, counts: { simdcnn: q(300, 50), 'tfjs-wasm': q(100, 20), 'tfjs-cpu': q(10, 3), convnetjs: q(20, 5) }, reps: { 'tfjs-cpu': 3, convnetjs: 3 } },
  { what: 'LeNet, infer, batch 256', net: 'lenet', mode: 'infer', batch: 256, counts: { simdcnn: q(768, 256), 'tfjs-wasm': 256, 'tfjs-cpu': q(256, null as unknown as number), convnetjs: q(256, null as unknown as number) }, reps: { 'tfjs-cpu': 1, convnetjs: 1 } },
];

const out: string[] = [];
const log = (s = '') => { console.log(s); out.push(s); };
const build = currentBackend().build;
log(`# simdcnn benchmark${quick ? ' (quick)' : ''}`);
log();
log(`${cpus()[0].model}, Node ${process.version}, pinned to one core: ${process.env.BENCH_PINNED ? 'yes (taskset -c 0)' : 'no'}; simdcnn wasm build '${build}'; ${new Date().toISOString()}`);
log(`Medians of ${REPS} interleaved runs after a warm-up run of each library. Images/s (higher is better).`);
log();
for (const n of notes) log(`- ${n}`);
const json: Record<string, unknown> = { date: new Date().toISOString(), cpu: cpus()[0].model, node: process.version, build, quick, fairness: [], cases: [], kernels: [] };
if (only !== 'kernels') {
  log();
  log('## Fairness check (same weights, same data)');
  for (const net of ['tutorial', 'lenet'] as NetName[]) {
    if (only && only !== net) continue;
    for (const l of await fairness(net)) { log(`- ${l}`); (json.fairness as string[]).push(l); }
  }
  log();
  log('## Networks (images/s)');
  log();
  log('| case | simdcnn | TF.js wasm | TF.js cpu | ConvNetJS | simdcnn / TF.js wasm | simdcnn / TF.js cpu | simdcnn / ConvNetJS |');
  log('|---|---|---|---|---|---|---|---|');
  for (const c of cases) {
    if (only && only !== c.net) continue;
    const r = await runCase(c);
    const ratio = (l: Lib) => (r[l] ? `${fmt(r.simdcnn! / r[l]!, 1)}x` : 'skipped (too slow)');
    log(`| ${c.what} | ${fmt(r.simdcnn)} | ${fmt(r['tfjs-wasm'])} | ${r['tfjs-cpu'] ? fmt(r['tfjs-cpu'], 1) : 'skipped (too slow)'} | ${r.convnetjs ? fmt(r.convnetjs, 1) : 'skipped (too slow)'} | ${ratio('tfjs-wasm')} | ${ratio('tfjs-cpu')} | ${ratio('convnetjs')} |`);
    (json.cases as unknown[]).push({ case: c.what, imagesPerSecond: r });
  }
}
if (!only || only === 'kernels') {
  log();
  log('## Kernels (ms per call, GFLOP/s, share of the 57 GFLOP/s single-core 128-bit SIMD ceiling)');
  log();
  log('| kernel | simdcnn ms | simdcnn GFLOP/s | % of ceiling | TF.js wasm ms | TF.js wasm GFLOP/s | simdcnn / TF.js |');
  log('|---|---|---|---|---|---|---|');
  for (const k of await kernelRows(REPS)) {
    log(`| ${k.name} | ${fmt(k.ours * 1e3, 2)} | ${fmt(k.flops / k.ours / 1e9, 1)} | ${fmt((100 * k.flops) / k.ours / 57e9, 0)}% | ${fmt(k.tfjs * 1e3, 2)}${k.note ? ` (${k.note})` : ''} | ${fmt(k.flops / k.tfjs / 1e9, 1)} | ${fmt(k.tfjs / k.ours, 1)}x |`);
    (json.kernels as unknown[]).push(k);
  }
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
if (!quick && !only) {
  writeFileSync(new URL('./results/latest.md', import.meta.url), out.join('\n') + '\n');
  writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(json, null, 2) + '\n');
  console.log('\nwrote bench/results/latest.md and latest.json');
}
