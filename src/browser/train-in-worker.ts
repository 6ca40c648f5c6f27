// trainInWorker(): train a model in a Web Worker so the page stays responsive ('simdcnn/worker-client').
// This module does not contain the library: the worker (./worker.js) does, and compiles the wasm itself.
//
//   const job = trainInWorker(
//     { modelTopology: model.toJSON(),                // any Sequential or functional model, as TF.js layers JSON
//       seed: 0, compile: { optimizer: { className: 'SGD', config: { learningRate: 0.005 } } } },
//     { x, shape: [N, 28, 28, 1], y },             // x: Float32Array, y: Uint8Array; their buffers move to the worker
//     { epochs: 3, batchSize: 1 },
//     (p) => console.log(p.epoch, p.batch, p.loss, p.acc, p.imagesPerSec));
//   // options.epochWeights: true also sends p.weights (getWeights order) after each epoch, e.g. to draw filters
//   cancelButton.onclick = () => job.cancel();      // stops after the current batch; the promise still resolves
//   const { weights, history, files, cancelled } = await job.promise;
//   const trained = await loadModel(files);          // or: model.setWeights(weights)
import type { FromWorker, ModelSpec, ToWorker, TrainData, TrainOptions, TrainProgress, TrainResult } from './protocol.js';

export type { EpochLogs, ModelSpec, OptimizerSpec, TrainData, TrainOptions, TrainProgress, TrainResult, TrainSplit } from './protocol.js';

export interface TrainJob {
  /** Resolves with the trained weights (also after cancel()); rejects if the worker fails. */
  promise: Promise<TrainResult>;
  /**
   * Stops training after the current batch (the worker looks at its messages at least every 50 ms); the
   * promise then resolves with the weights reached so far. Before training started: the initial weights.
   */
  cancel(): void;
  /** Ends the worker at once; the promise rejects with an AbortError-named error. */
  terminate(): void;
}

let defaultWorkerUrl: string | URL | undefined;
/** Where every later trainInWorker() finds the worker script, unless its options say otherwise. */
export function setWorkerUrl(url: string | URL | undefined): void {
  defaultWorkerUrl = url;
}

/** The URL of the script this module was loaded by, for bundles without import.meta (esbuild's iife). */
const scriptSrc = typeof document === 'undefined' ? undefined : (document.currentScript as HTMLScriptElement | null)?.src;

function startWorker(url: string | URL | undefined): Worker {
  if (typeof Worker === 'undefined') throw new Error('trainInWorker needs Web Workers (a browser main thread or a worker)');
  if (url !== undefined) return new Worker(url, { type: 'module' });
  try {
    // Exactly this form, once, so that Vite, webpack 5 and Parcel find the worker and bundle it.
    return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  } catch (e) {
    // import.meta.url is empty in an iife bundle: look next to the script instead.
    if (!scriptSrc) throw e;
    return new Worker(new URL('worker.js', scriptSrc), { type: 'module' });
  }
}

function notStarted(url: string | URL | undefined): string {
  if (url !== undefined) return `could not start the training worker from ${String(url)} (is it served, as JavaScript?)`;
  return "could not start the training worker (worker.js next to this module or bundle): with esbuild or rollup copy node_modules/simdcnn/dist/worker.js next to your bundle; under Vite 6/7's dev server set optimizeDeps.exclude: ['simdcnn']; or give its URL to setWorkerUrl()";
}

function transferables(data: TrainData): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of [data.x, data.y, data.validation?.x, data.validation?.y]) {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  }
  return [...out];
}

function checkData(d: TrainData): void {
  const check = (s: TrainData | NonNullable<TrainData['validation']>, what: string) => {
    if (!s || !(s.x instanceof Float32Array)) throw new TypeError(`trainInWorker: ${what}.x must be a Float32Array`);
    if (!Array.isArray(s.shape) || s.shape.reduce((a, b) => a * b, 1) !== s.x.length)
      throw new RangeError(`trainInWorker: ${what}.shape [${s.shape}] does not match ${what}.x (${s.x.length} values)`);
    if (!(s.y instanceof Uint8Array || s.y instanceof Int32Array || s.y instanceof Uint16Array))
      throw new TypeError(`trainInWorker: ${what}.y must be a Uint8Array, Uint16Array or Int32Array of class indices`);
    if (s.y.length !== s.shape[0]) throw new RangeError(`trainInWorker: ${what} has ${s.shape[0]} samples but ${s.y.length} labels`);
  };
  check(d, 'data');
  if (d.validation) check(d.validation, 'data.validation');
}

/**
 * Trains `spec` on `data` in a new module Worker. `onProgress` is called at most every
 * options.progressInterval ms (default 100). The worker ends when the promise settles.
 */
export function trainInWorker(
  spec: ModelSpec,
  data: TrainData,
  options: TrainOptions = {},
  onProgress?: (p: TrainProgress) => void,
): TrainJob {
  let worker: Worker | undefined;
  let settled = false;
  let cancelRequested = false;
  let rejectFn: (e: Error) => void = () => {};
  // Requests travel over a channel of their own: the data is moved into it right here (so the caller's
  // buffers are detached when this returns), and it waits, in order with any cancel, until the worker has
  // compiled the wasm and asks for it.
  const channel = new MessageChannel();
  const promise = new Promise<TrainResult>((resolve, reject) => {
    rejectFn = reject;
    checkData(data);
    const { workerUrl, transfer, ...rest } = options;
    const url = workerUrl ?? defaultWorkerUrl;
    const msg: ToWorker = { type: 'train', spec, data, options: rest };
    channel.port1.postMessage(msg, transfer === false ? [] : transferables(data));
    worker = startWorker(url);
    const finish = () => {
      settled = true;
      worker?.terminate();
      channel.port1.close();
    };
    const fail = (e: Error) => {
      if (!settled) {
        finish();
        reject(e);
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault?.();
      fail(new Error(e.message ? `training worker: ${e.message}` : notStarted(url)));
    };
    worker.onmessageerror = () => fail(new Error('training worker: a message could not be deserialised'));
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      if (settled) return;
      if (m.type === 'ready') {
        worker!.postMessage({ type: 'connect', port: channel.port2, cancelled: cancelRequested } satisfies ToWorker, [channel.port2]);
      } else if (m.type === 'progress') {
        onProgress?.(m.progress);
      } else if (m.type === 'done') {
        finish();
        resolve(m.result);
      } else if (m.type === 'error') {
        const err = new Error(m.message);
        err.name = m.name;
        fail(err);
      }
    };
  });
  return {
    promise,
    cancel() {
      if (settled || cancelRequested) return;
      cancelRequested = true;
      channel.port1.postMessage({ type: 'cancel' } satisfies ToWorker);
    },
    terminate() {
      if (settled) return;
      settled = true;
      worker?.terminate();
      channel.port1.close();
      const e = new Error('trainInWorker: terminated');
      e.name = 'AbortError';
      rejectFn(e);
    },
  };
}
