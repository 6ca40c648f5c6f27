// Rows for the layers modern CNNs are made of, each against TF.js wasm in the same interleaved rounds:
// BatchNormalization forward + backward (with the memory-bandwidth bound of its shape), conv-BN-ReLU
// inference with BN folded into the conv and without, and a ResNet-style block's training step.
import { currentBackend } from '../src/backend.js';
import { setInferenceFolding } from '../src/engine/fold.js';
import {
  Add,
  BatchNormalization,
  Conv2D,
  Dense,
  Flatten,
  input,
  type Model,
  model,
  ReLU,
  Rng,
  SGD,
  Sequential,
  tensor,
} from '../src/node.js';
import { tf } from './peers.js';
import { fmt, maxAbsDiff, timeInterleaved } from './util.js';

export interface LayerRow {
  name: string;
  /** Seconds per call. */
  ours: number;
  tfjs: number;
  /** More columns: label -> seconds per call. */
  extra?: Record<string, number>;
  note?: string;
}

const random = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
const tsync = async (ts: tf.Tensor | tf.Tensor[]) => {
  for (const t of Array.isArray(ts) ? ts : [ts]) {
    await t.data();
    t.dispose();
  }
};

/** BN training forward (moments, scale, normalise) + backward on [N,H,W,C], and a copy of the same tensor. */
async function batchNormRow(reps: number, shape: [number, number, number, number]): Promise<LayerRow> {
  const be = currentBackend(),
    k = be.k,
    rng = new Rng(1);
  const C = shape[3],
    rows = shape[0] * shape[1] * shape[2],
    S = rows * C;
  const buf = (n: number, fill = true) => {
    const p = be.alloc(n * 4);
    if (fill) be.view(p, n).set(random(n, rng));
    return p;
  };
  const x = buf(S),
    y = buf(S, false),
    dy = buf(S),
    dx = buf(S, false);
  const gamma = buf(C),
    beta = buf(C),
    mean = buf(C, false),
    variance = buf(C, false),
    scale = buf(C, false),
    dgamma = buf(C, false),
    dbeta = buf(C, false),
    scratch = buf(7 * C, false);
  const ours = () => {
    k.batchnorm_moments(x, rows, C, mean, variance, scratch);
    k.batchnorm_scale(gamma, variance, C, 1e-3, scale);
    k.batchnorm_apply(x, y, rows, C, mean, scale, beta, 0);
    k.batchnorm_backward(x, dy, dx, dgamma, dbeta, rows, C, mean, variance, gamma, 1e-3, scratch);
  };
  const copy = () => be.copy(dx, x, S);
  await tf.setBackend('wasm');
  const tx = tf.tensor4d(be.view(x, S).slice(), shape),
    tdy = tf.tensor4d(be.view(dy, S).slice(), shape),
    tg = tf.tensor1d(be.view(gamma, C).slice()),
    tb = tf.tensor1d(be.view(beta, C).slice());
  // What tfjs-layers' BatchNormalization computes in training; its gradients by TF.js's autodiff.
  const bn = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const m = tf.moments(xx, [0, 1, 2]);
    return tf.batchNorm(xx, m.mean, m.variance, b, g, 1e-3);
  };
  const grads = tf.grads(bn as (...a: tf.Tensor[]) => tf.Tensor);
  const theirs = () => tsync([bn(tx, tg, tb), ...grads([tx, tg, tb], tdy)]);
  // Same dx from both (the fairness of the row), before timing.
  ours();
  const tdx = grads([tx, tg, tb], tdy);
  const dxDiff = maxAbsDiff(be.view(dx, S), await tdx[0].data());
  tdx.forEach((t) => t.dispose());
  // Against the copy in rounds of their own (a TF.js call between them would leave the caches cold for
  // the first calls of each round); against TF.js in the same interleaved rounds.
  const [tBound, tCopy] = await timeInterleaved([ours, copy], { reps, inner: 10 });
  const [tOurs, tTheirs] = await timeInterleaved([ours, theirs], { reps, inner: 3 });
  for (const p of [x, y, dy, dx, gamma, beta, mean, variance, scale, dgamma, dbeta, scratch]) be.release(p);
  [tx, tdy, tg, tb].forEach((t) => t.dispose());
  // Bytes BN must move once x is larger than the caches: the statistics need all of x before any y (x read
  // twice, y written), the backward sums all of x and dy before any dx (x, dy read twice, dx written): 8
  // tensors. Without that constraint (everything cache-resident) the floor is 5: x, y, x, dy, dx.
  const bandwidth = (2 * S * 4) / tCopy,
    bound = (8 * S * 4) / bandwidth,
    floor = (5 * S * 4) / bandwidth;
  return {
    name: `BatchNormalization training forward + backward [${shape}]`,
    ours: tOurs,
    tfjs: tTheirs,
    extra: { 'copy of x': tCopy, 'bandwidth bound (8 tensors)': bound },
    note: `BN ${fmt(tBound * 1e3, 2)} ms in rounds with the copy; copy of the ${fmt((S * 4) / 2 ** 20, 0)} MiB x (read + write): ${fmt(bandwidth / 1e9, 1)} GB/s this run; bound = 8 x ${fmt((S * 4) / 2 ** 20, 0)} MiB (two passes forward: x; x->y; two backward: x+dy; x+dy->dx) / that = ${fmt(bound * 1e3, 2)} ms: simdcnn at ${fmt(tBound / bound, 2)}x it (${fmt(tBound / floor, 2)}x the 5-tensor floor x, y, x, dy, dx); dx vs TF.js ${dxDiff.toExponential(1)}`,
  };
}

/** conv(same, no bias) - BN - ReLU at inference: folded (the BN scaled into the conv), unfolded, TF.js wasm. */
async function foldRow(reps: number, shape: [number, number, number, number], filters: number, kernelSize: number): Promise<LayerRow> {
  const [N, H, W, C] = shape;
  const make = () =>
    new Sequential([Conv2D({ inputShape: [H, W, C], filters, kernelSize, padding: 'same', useBias: false }), BatchNormalization(), ReLU()]);
  const folded = make(),
    unfolded = make();
  const rng = new Rng(2),
    specs = folded.weightSpecs();
  const w = folded
    .getWeights()
    .map((v, i) => v.map(() => (/(variance|gamma)$/.test(specs[i].name) ? 0.5 + rng.uniform() : rng.uniform() - 0.5)));
  folded.setWeights(w);
  unfolded.setWeights(w);
  const x = tensor(random(N * H * W * C, rng), shape);
  folded.predict(x, { batchSize: N }); // plans the folded arena
  setInferenceFolding(false);
  unfolded.predict(x, { batchSize: N });
  setInferenceFolding(true);
  await tf.setBackend('wasm');
  const tm = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [H, W, C], filters, kernelSize, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
    ],
  });
  tm.setWeights(w.map((v, i) => tf.tensor(v, specs[i].shape)));
  const tx = tf.tensor4d(x.data, shape);
  const diff = maxAbsDiff(folded.predict(x).data, await (tm.predict(tx) as tf.Tensor).data());
  // Folded against unfolded in rounds of their own, both sides starting alike (in rounds with TF.js, the
  // side after it paid for the garbage and cold caches it left); then against TF.js.
  const fold = () => folded.predict(x, { batchSize: N }),
    unfold = () => unfolded.predict(x, { batchSize: N });
  const [tFold, tUnfold] = await timeInterleaved([fold, unfold, unfold, fold], { reps, inner: 5 }).then((t) => [
    (t[0] + t[3]) / 2,
    (t[1] + t[2]) / 2,
  ]);
  const [, tTheirs] = await timeInterleaved([fold, () => tsync(tm.predict(tx) as tf.Tensor)], { reps, inner: 5 });
  folded.dispose();
  unfolded.dispose();
  tm.dispose();
  tx.dispose();
  return {
    name: `conv(${filters},${kernelSize}x${kernelSize},same)-BN-ReLU inference [${shape}]`,
    ours: tFold,
    tfjs: tTheirs,
    extra: { 'BN not folded': tUnfold },
    note: `folding ${fmt(tUnfold / tFold, 2)}x faster than the unfolded plan; predictions vs TF.js ${diff.toExponential(1)}`,
  };
}

/** x -> conv-BN-ReLU-conv-BN, + x, ReLU -> flatten - dense(10, softmax): one SGD training step. */
function resnetBlock(H: number, C: number): Model {
  const x = input({ shape: [H, H, C] });
  const conv = () => Conv2D({ filters: C, kernelSize: 3, padding: 'same', useBias: false });
  let h = ReLU().apply(BatchNormalization().apply(conv().apply(x)));
  h = BatchNormalization().apply(conv().apply(h));
  h = ReLU().apply(Add().apply([h, x]));
  return model({ inputs: x, outputs: Dense({ units: 10, activation: 'softmax' }).apply(Flatten().apply(h)) });
}
function tfResnetBlock(H: number, C: number): tf.LayersModel {
  const x = tf.input({ shape: [H, H, C] });
  const conv = () => tf.layers.conv2d({ filters: C, kernelSize: 3, padding: 'same', useBias: false });
  let h = tf.layers.reLU().apply(tf.layers.batchNormalization().apply(conv().apply(x))) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization().apply(conv().apply(h)) as tf.SymbolicTensor;
  h = tf.layers.reLU().apply(tf.layers.add().apply([h, x])) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(tf.layers.flatten().apply(h)) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: out });
}

async function resnetRow(reps: number, N: number, H: number, C: number): Promise<LayerRow> {
  const ours = resnetBlock(H, C);
  const lr = 0.01;
  ours.compile({ optimizer: new SGD({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy' });
  const rng = new Rng(3);
  const x = tensor(random(N * H * H * C, rng), [N, H, H, C]),
    y = Int32Array.from({ length: N }, () => rng.int(10));
  await tf.setBackend('wasm');
  const theirs = tfResnetBlock(H, C);
  theirs.setWeights(ours.getWeights().map((w, i) => tf.tensor(w, ours.weightSpecs()[i].shape)));
  theirs.compile({ optimizer: tf.train.sgd(lr), loss: 'sparseCategoricalCrossentropy' });
  const tx = tf.tensor4d(x.data, [N, H, H, C]),
    ty = tf.tensor1d(y, 'float32');
  // Fairness: the weights (moving statistics included) after one step from the same weights.
  ours.trainOnBatch(x, y);
  await theirs.trainOnBatch(tx, ty);
  const tw = theirs.getWeights();
  const ow = ours.getWeights();
  let dw = 0;
  for (let i = 0; i < ow.length; i++) dw = Math.max(dw, maxAbsDiff(ow[i], await tw[i].data()));
  const [tOurs, tTheirs] = await timeInterleaved([() => ours.trainOnBatch(x, y), () => theirs.trainOnBatch(tx, ty)], { reps, inner: 2 });
  ours.dispose();
  theirs.dispose();
  tx.dispose();
  ty.dispose();
  return {
    name: `ResNet block training step, batch ${N}, [${H},${H},${C}], ${C} filters (conv-BN-ReLU-conv-BN + skip, ReLU; flatten-dense(10) head)`,
    ours: tOurs,
    tfjs: tTheirs,
    note: `weights after one SGD step vs TF.js ${dw.toExponential(1)}; TF.js wasm's Conv2DBackpropFilter is the harness's stand-in (its own Conv2D on transposes)`,
  };
}

export async function layerRows(reps: number, quick: boolean): Promise<LayerRow[]> {
  await tf.setBackend('wasm');
  return [
    await batchNormRow(reps, quick ? [16, 16, 16, 64] : [64, 32, 32, 32]),
    await foldRow(reps, quick ? [8, 16, 16, 16] : [64, 32, 32, 16], 16, 3),
    await foldRow(reps, quick ? [8, 16, 16, 32] : [64, 32, 32, 32], 32, 1),
    await resnetRow(reps, quick ? 8 : 32, 16, 32),
  ];
}
