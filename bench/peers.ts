// The peers on the same networks with the same initial weights: TF.js (wasm backend with XNNPACK, and the
// cpu backend) and ConvNetJS. Weights are copied from simdcnn's, whose layout TF.js shares.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Sequential } from '../src/node.js';
import { ensureFilterGradStandIn, FILTER_GRAD_STAND_IN_NOTE, type NetName, tfNet } from './tfjs-peer.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const convnetjs: any = require('convnetjs');

export type { NetName };
export { tf };

export async function initTfWasm(): Promise<string[]> {
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const notes = [`TF.js wasm backend: SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, 1 thread`];
  if (ensureFilterGradStandIn()) notes.push(FILTER_GRAD_STAND_IN_NOTE);
  return notes;
}

/**
 * TF.js wasm's own MaxPoolGrad on one 4x4 input (2x2 windows, two of them all-negative) against the cpu
 * backend's: measured in every run so a fairness FAIL on a ReLU-free net can be traced to it, not guessed.
 */
export async function probeWasmMaxPoolGrad(): Promise<{ ok: boolean; wasm: number[]; cpu: number[] }> {
  const x = [-3, -1, -2, -5, 1, -1, 2, 0.5, -4, -4, -0.5, -7, -1, -2, -3, -4];
  const grad = async (b: 'wasm' | 'cpu') => {
    await tf.setBackend(b);
    const g = tf.grad((t: tf.Tensor) =>
      tf
        .maxPool(t as tf.Tensor4D, 2, 2, 'valid')
        .mul(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]))
        .sum(),
    );
    return Array.from(await g(tf.tensor4d(x, [1, 4, 4, 1])).data());
  };
  const cpu = await grad('cpu'),
    wasm = await grad('wasm');
  return { ok: cpu.every((v, i) => v === wasm[i]), wasm, cpu };
}

export function tfModel(net: NetName, ours: Sequential, lr: number): tf.Sequential {
  return tfNet(
    net,
    ours.getWeights(),
    ours.weightSpecs().map((s) => s.shape),
    lr,
  );
}

export interface ConvNet {
  net: { forward(v: unknown): { w: ArrayLike<number> } };
  trainer: { train(v: unknown, label: number): unknown };
  vol(data: Float32Array, offset: number): unknown;
  /** Kernel (and bias, where simdcnn's layer has one) per parameter layer, in simdcnn's getWeights order. */
  weights(): Float64Array[];
}

/** ConvNetJS volumes are [y][x][depth] like NHWC; a conv filter is [ky][kx][c], an fc filter [in]. */
export function convnet(net: NetName, ours: Sequential, lr: number, batchSize: number): ConvNet {
  const defs =
    net === 'tutorial'
      ? [
          { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
          { type: 'conv', sx: 3, filters: 8, stride: 1, pad: 0 },
          { type: 'pool', sx: 2, stride: 2 },
          { type: 'softmax', num_classes: 10 },
        ]
      : [
          { type: 'input', out_sx: 28, out_sy: 28, out_depth: 1 },
          { type: 'conv', sx: 3, filters: 32, stride: 1, pad: 1, activation: 'relu' },
          { type: 'pool', sx: 2, stride: 2 },
          { type: 'conv', sx: 3, filters: 64, stride: 1, pad: 1, activation: 'relu' },
          { type: 'pool', sx: 2, stride: 2 },
          { type: 'fc', num_neurons: 128, activation: 'relu' },
          { type: 'softmax', num_classes: 10 },
        ];
  const n = new convnetjs.Net();
  n.makeLayers(defs);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const param = n.layers.filter((l: any) => l.layer_type === 'conv' || l.layer_type === 'fc');
  const w = ours.getWeights(),
    specs = ours.weightSpecs();
  // ConvNetJS always has biases; where simdcnn's layer has none (the tutorial conv) they start at 0 and are
  // left out of the comparison (ConvNetJS trains them: a few adds more work per image, not less).
  const hasBias: boolean[] = [];
  let k = 0;
  for (const l of param) {
    const shape = specs[k].shape,
      W = w[k++];
    const OC = shape[shape.length - 1],
      per = W.length / OC;
    l.filters.forEach((f: { w: Float64Array }, o: number) => {
      for (let i = 0; i < per; i++) f.w[i] = W[i * OC + o];
    });
    hasBias.push(k < specs.length && specs[k].name.endsWith('/bias'));
    if (hasBias[hasBias.length - 1]) {
      const b = w[k++];
      for (let o = 0; o < OC; o++) l.biases.w[o] = b[o];
    } else l.biases.w.fill(0);
  }
  const trainer = new convnetjs.Trainer(n, { method: 'sgd', learning_rate: lr, batch_size: batchSize, l2_decay: 0, momentum: 0 });
  return {
    net: n,
    trainer,
    vol(data, offset) {
      const v = new convnetjs.Vol(28, 28, 1, 0);
      for (let i = 0; i < 784; i++) v.w[i] = data[offset + i];
      return v;
    },
    weights() {
      const out: Float64Array[] = [];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      param.forEach((l: any, j: number) => {
        const OC = l.filters.length,
          per = l.filters[0].w.length,
          W = new Float64Array(per * OC);
        l.filters.forEach((f: { w: Float64Array }, o: number) => {
          for (let i = 0; i < per; i++) W[i * OC + o] = f.w[i];
        });
        out.push(W);
        if (hasBias[j]) out.push(Float64Array.from(l.biases.w));
      });
      return out;
    },
  };
}
