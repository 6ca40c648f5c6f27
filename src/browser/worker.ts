// The training worker (lib/browser/worker.js for bundlers, dist/worker.js prebundled): builds the model from
// its TF.js JSON, trains it on the transferred data, reports progress at most every `progressInterval` ms,
// stops on 'cancel' after the current batch and sends back the weights (transferred) with the history and the
// model as files.
import { currentBackend, getBackend, setBackend, sharedMemoryUnavailable } from '../backend.js';
import { setThreads, type ThreadsInfo } from '../threads/config.js';
import { type Model, modelFromJSON, ValueError } from '../index.js'; // starts compiling the wasm (synchronously: this is a worker)
import { tensor } from '../tensor.js';
import type { EpochLogs, FromWorker, ModelSpec, ToWorker, TrainData, TrainProgress, TrainRequest, TrainResult } from './protocol.js';

interface Scope {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as Scope;

interface Job {
  model?: Model;
  cancelled: boolean;
}
let job: Job | undefined;

const now = () => performance.now();
const buffers = (arrays: (ArrayBufferView | ArrayBuffer | undefined)[]) => {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    const b = a instanceof ArrayBuffer ? a : a?.buffer;
    if (b instanceof ArrayBuffer) out.add(b);
  }
  return [...out];
};

/** The spec's model, built (from its weights or its seed) and compiled. */
function modelFromSpec(spec: ModelSpec): Model {
  if (!spec || typeof spec !== 'object' || !spec.modelTopology)
    throw new ValueError('model spec: modelTopology must be the model as TF.js layers JSON (model.toJSON())');
  const m = modelFromJSON(spec.modelTopology, { seed: spec.seed });
  try {
    if (spec.weights) m.setWeights(spec.weights);
    m.compile({ optimizer: spec.compile?.optimizer, loss: spec.compile?.loss ?? 'sparseCategoricalCrossentropy' });
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m;
}

/** The threads asked for; by default the cores where the page allows shared memory, else one, unchunked, with a note. */
async function threadsFor(asked: number | undefined): Promise<ThreadsInfo> {
  const why = asked === undefined ? sharedMemoryUnavailable() : undefined;
  if (!why) return setThreads(asked);
  const note = `simdcnn runs on one thread: ${why}`;
  console.info(note);
  return { requested: undefined, active: 1, note };
}

async function train(msg: Extract<TrainRequest, { type: 'train' }>): Promise<void> {
  const { spec, data, options } = msg;
  const me: Job = { cancelled: cancelledEarly };
  job = me;
  if (options.build && options.build !== currentBackend().build) await setBackend({ build: options.build });
  const threads = await threadsFor(options.threads);
  const model = modelFromSpec(spec);
  me.model = model;
  try {
    const d = data as TrainData;
    const x = tensor(d.x, d.shape);
    const val = d.validation ? ([tensor(d.validation.x, d.validation.shape), d.validation.y] as const) : undefined;
    const epochs = options.epochs ?? 1;
    const batchSize = options.batchSize ?? 32;
    const N = d.shape[0];
    const batches = Math.ceil(N / batchSize);
    const interval = options.progressInterval ?? 100;
    const t0 = now();
    let last = t0,
      lossSum = 0,
      accSum = 0,
      count = 0,
      imagesSince = 0,
      images = 0,
      epoch = 0,
      batch = 0;
    // Throughput counts the time from one batch's end to the next only (not validation, not model setup).
    let batchClock = t0,
      trainMs = 0,
      rate = 0,
      lastLoss = NaN,
      lastAcc = NaN;
    let epochsDone: EpochLogs[] = [];
    let epochWeights: Float32Array[] | undefined;
    const report = (force: boolean) => {
      const t = now();
      if (!force && t - last < interval) return;
      if (count === 0 && epochsDone.length === 0) return;
      const p: TrainProgress = {
        epoch,
        epochs,
        batch,
        batches,
        loss: count ? (lastLoss = lossSum / count) : lastLoss,
        acc: count ? (lastAcc = accSum / count) : lastAcc,
        imagesPerSec: imagesSince > 0 ? (rate = imagesSince / Math.max(trainMs / 1000, 1e-6)) : rate,
        images,
        elapsedMs: t - t0,
        epochsDone,
        ...(epochWeights ? { weights: epochWeights } : {}),
      };
      scope.postMessage({ type: 'progress', progress: p }, buffers(epochWeights ?? []));
      epochWeights = undefined;
      last = t;
      lossSum = 0;
      accSum = 0;
      count = 0;
      imagesSince = 0;
      trainMs = 0;
      epochsDone = [];
    };
    // A cancel that arrived while the model was being built is handled before the first batch.
    await new Promise((r) => setTimeout(r, 0));
    let history: TrainResult['history'] = { epoch: [], history: { loss: [], acc: [] } };
    if (!me.cancelled) {
      history = await model.fit(x, d.y, {
        epochs,
        batchSize,
        shuffle: options.shuffle,
        seed: options.seed,
        validationData: val ? [val[0], val[1]] : undefined,
        yieldEvery: Math.min(50, interval), // how soon a cancel message gets through
        onEpochBegin: (e) => {
          epoch = e;
          batchClock = now();
        },
        onBatchEnd: (b, logs) => {
          const t = now();
          trainMs += t - batchClock;
          batchClock = t;
          batch = b;
          lossSum += logs.loss * logs.size;
          accSum += (logs.acc ?? NaN) * logs.size;
          count += logs.size;
          images += logs.size;
          imagesSince += logs.size;
          if (me.cancelled) model.stopTraining = true;
          report(false);
        },
        onEpochEnd: (e, logs) => {
          epochsDone.push({ epoch: e, loss: logs.loss ?? NaN, acc: logs.acc ?? NaN, val_loss: logs.val_loss, val_acc: logs.val_acc });
          if (options.epochWeights) epochWeights = model.getWeights();
          report(false);
        },
      });
    }
    report(true);
    const weights = model.getWeights();
    const files = await model.save();
    const result: TrainResult = {
      weights,
      weightSpecs: model.weightSpecs(),
      history,
      cancelled: me.cancelled,
      files: { modelJson: files.modelJson, weights: files.weights, optimizerWeights: files.optimizerWeights },
      build: model.backend.build,
      threads: { active: threads.active, ...(threads.note ? { note: threads.note } : {}) },
      images,
      elapsedMs: now() - t0,
    };
    const fw = Array.isArray(files.weights) ? files.weights : [files.weights];
    scope.postMessage({ type: 'done', result }, buffers([...weights, ...fw, files.optimizerWeights]));
  } finally {
    model.dispose();
    if (job === me) job = undefined;
  }
}

function handle(msg: TrainRequest): void {
  if (msg?.type === 'cancel') {
    if (job) {
      job.cancelled = true;
      if (job.model) job.model.stopTraining = true;
    } else {
      cancelledEarly = true;
    }
    return;
  }
  if (msg?.type === 'train') {
    train(msg).catch((err: unknown) => {
      const er = err instanceof Error ? err : new Error(String(err));
      scope.postMessage({ type: 'error', name: er.name, message: er.message });
    });
  }
}
let cancelledEarly = false;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg?.type === 'connect') {
    cancelledEarly = msg.cancelled; // cancel() before the worker was up: build, but do not train
    msg.port.onmessage = (ev: MessageEvent<TrainRequest>) => handle(ev.data);
  } else handle(msg);
};

// No top-level await: bundlers may emit this file as a classic script.
getBackend().then(
  (b) => scope.postMessage({ type: 'ready', build: b.build }),
  (e: Error) => scope.postMessage({ type: 'error', name: e.name, message: e.message }),
);
