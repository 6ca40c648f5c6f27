// LeNet inference in one pinned process, interleaved rounds: simdcnn as it is, simdcnn with the fused
// kernels and folding off (setFusedConv(false), setInferenceFolding(false): conv2d_forward + its bias/ReLU
// pass, Winograd's output written whole, and the pooling layers), and
// TF.js wasm (1 thread). Medians, with the 1-minute load at the start and the end.
// npx tsx bench/infer-ab.ts [batch ...]   (default: 256 1)
import { loadavg } from 'node:os';
import { tensor } from '../src/node.js';
import { lenet } from '../src/nets.js';
import { setFusedConv } from '../src/kernels/conv2d.js';
import { setInferenceFolding } from '../src/engine/fold.js';
import { initTfWasm, tf, tfModel } from './peers.js';
import { fmt, maxAbsDiff, median, pinToOneCore, roundTimes } from './util.js';

pinToOneCore();
const batches = process.argv.slice(2).map(Number);
const REPS = Number(process.env.REPS ?? 9);
await initTfWasm();
const load0 = loadavg()[0];
for (const B of batches.length ? batches : [256, 1]) {
  const images = Math.max(B, 1024);
  const rnd = (i: number) => (Math.sin(i * 12.9898) * 43758.5453) % 1;
  const data = Float32Array.from({ length: images * 784 }, (_, i) => Math.abs(rnd(i)));
  // Two models with the same weights: an inference plan folds the pool in or not when it is made.
  const m = lenet(1),
    mOff = lenet(1);
  const xs = Array.from({ length: images / B }, (_, i) => tensor(data.subarray(i * B * 784, (i + 1) * B * 784), [B, 28, 28, 1]));
  const tfm = tfModel('lenet', m, 0.01);
  const txs = xs.map((x) => tf.tensor4d(x.data, [B, 28, 28, 1]));
  const ours = (fused: boolean) => () => {
    setFusedConv(fused);
    setInferenceFolding(fused);
    try {
      for (const x of xs) (fused ? m : mOff).predict(x, { batchSize: B });
    } finally {
      setFusedConv(true);
      setInferenceFolding(true);
    }
  };
  const tfjs = () => {
    for (const x of txs) {
      const o = tfm.predict(x) as tf.Tensor;
      o.dataSync();
      o.dispose();
    }
  };
  const a = ours(true),
    b = ours(false);
  ours(false)(); // plans mOff with folding off
  setFusedConv(false);
  const old = mOff.predict(xs[0], { batchSize: B }).data;
  setFusedConv(true);
  const now = m.predict(xs[0], { batchSize: B }).data;
  const tp = (tfm.predict(txs[0]) as tf.Tensor).dataSync();
  const fns = [a, b, tfjs];
  const t = roundTimes(fns, REPS);
  const [ta, tb, tt] = t.map(median).map((ms) => (images / ms) * 1000);
  console.log(
    `LeNet infer b${B}: simdcnn ${fmt(ta)} img/s, fused off ${fmt(tb)} (${fmt(ta / tb, 2)}x), TF.js wasm ${fmt(tt)}: ${fmt(ta / tt, 2)}x (fused off ${fmt(tb / tt, 2)}x); fused vs off max diff ${maxAbsDiff(old, now)}, vs TF.js ${maxAbsDiff(now, tp).toExponential(1)}`,
  );
  m.dispose();
  mOff.dispose();
  tfm.dispose();
  for (const x of txs) x.dispose();
}
console.log(`medians of ${REPS} interleaved rounds; 1-minute load ${fmt(load0, 1)} -> ${fmt(loadavg()[0], 1)} (2 cores)`);
