// TF.js in the side-by-side page: its wasm backend with setThreadsCount(n), which in a cross-origin
// isolated page loads the threaded SIMD binary (XNNPACK's pthreadpool over Emscripten pthreads), the same
// LeNet with simdcnn's initial weights, and the Node bench's stand-in for the filter gradient it lacks.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ensureFilterGradStandIn, FILTER_GRAD_STAND_IN_NOTE, tfNet } from '../../../bench/tfjs-peer.js';
import { LEARNING_RATE, serveRunner } from './protocol.js';

/** Where the page's server mounts node_modules/@tensorflow/tfjs-backend-wasm/dist (scripts/serve.mjs). */
const TFJS_WASM_URL = '/tfjs-wasm/';

let m: tf.Sequential, images: Float32Array, labels: Int32Array, initial: tf.Tensor[];
const batches = new Map<string, [tf.Tensor4D, tf.Tensor1D][]>();

const xs = (from: number, to: number) => tf.tensor4d(images.subarray(from * 784, to * 784), [to - from, 28, 28, 1]);
const ys = (from: number, to: number) => tf.tensor1d(labels.subarray(from, to), 'float32');

/** Inputs cut into batches once, before any timing (TF.js timed at its best, as in the Node bench). */
function batchesOf(batch: number, count: number): [tf.Tensor4D, tf.Tensor1D][] {
  const key = `${batch}x${count}`;
  let b = batches.get(key);
  if (!b) {
    b = [];
    for (let i = 0; i < count; i += batch) b.push([xs(i, Math.min(count, i + batch)), ys(i, Math.min(count, i + batch))]);
    batches.set(key, b);
  }
  return b;
}

/**
 * TF.js wasm gives XNNPACK at most navigator.hardwareConcurrency / 2 threads (its backend.cc assumes two
 * hyperthreads per core): 1 on this 2-core machine, whatever setThreadsCount asks. To measure it on the
 * threads asked for, this worker reports twice that many cores to it before it starts.
 */
function liftCoreCap(threads: number): string | undefined {
  const cores = navigator.hardwareConcurrency;
  if (threads <= Math.floor(cores / 2)) return undefined;
  Object.defineProperty(Object.getPrototypeOf(navigator), 'hardwareConcurrency', { get: () => 2 * threads, configurable: true });
  return `TF.js wasm caps its threads at navigator.hardwareConcurrency / 2 (${cores} / 2 here); its worker reported ${2 * threads} cores to it so that setThreadsCount(${threads}) runs ${threads} threads`;
}

serveRunner({
  async init(r) {
    images = r.images;
    labels = r.labels;
    setWasmPaths(new URL(TFJS_WASM_URL, self.location.origin).href);
    const notes = [liftCoreCap(r.threads)].filter((n) => n !== undefined);
    setThreadsCount(r.threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js could not start its wasm backend');
    await tf.ready();
    if (ensureFilterGradStandIn()) notes.push(FILTER_GRAD_STAND_IN_NOTE);
    m = tfNet('lenet', r.weights!, r.shapes!, LEARNING_RATE);
    initial = m.getWeights().map((w) => w.clone());
    const flag = (f: string) => tf.env().getBool(f);
    return {
      info: {
        lib: 'tfjs',
        requested: r.threads,
        active: getThreadsCount(),
        build: `SIMD ${flag('WASM_HAS_SIMD_SUPPORT')}, multithread ${flag('WASM_HAS_MULTITHREAD_SUPPORT')}`,
        isolated: crossOriginIsolated,
        wasmFiles: performance
          .getEntriesByType('resource')
          .map((e) => e.name.slice(e.name.lastIndexOf('/') + 1))
          .filter((n) => n.endsWith('.wasm')),
        notes,
      },
      weights: [],
      shapes: [],
    };
  },
  async predict(n) {
    const x = xs(0, n),
      o = m.predict(x) as tf.Tensor;
    const out = (await o.data()) as Float32Array;
    x.dispose();
    o.dispose();
    return out;
  },
  async step(batch) {
    const x = xs(0, batch),
      y = ys(0, batch);
    await m.trainOnBatch(x, y);
    tf.dispose([x, y]);
    const w = m.getWeights().map((t) => t.dataSync() as Float32Array);
    m.setWeights(initial);
    return w;
  },
  async run(mode, batch, count) {
    for (const [bx, by] of batchesOf(batch, count)) {
      if (mode === 'train') await m.trainOnBatch(bx, by);
      else {
        const o = m.predict(bx) as tf.Tensor;
        o.dataSync();
        o.dispose();
      }
    }
  },
});
