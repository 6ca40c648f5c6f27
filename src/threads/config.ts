// setThreads: how many threads train and predict. Unset, training runs today's single-threaded order;
// once set (to any count, 1 included), a batch is split into fixed chunks whose gradients are summed in a
// fixed order, so the weights after training are the same bits whatever the count (src/threads/chunked.ts).
// More than one thread needs one shared wasm memory and workers: where the engine or page cannot give
// them, everything runs on this thread, threadsInfo().note says why, and the console says so once.
import { type Backend, getBackend, setBackend, sharedMemoryUnavailable } from '../backend.js';
import { ValueError } from '../errors.js';
import { canStartWorkers, ThreadPool } from './pool.js';

/** Samples per chunk of a training or evaluated batch: fixed, so the arithmetic never depends on the thread count. */
export const CHUNK = 16;

/** More threads than this rarely pay for small nets (each keeps a chunk's activations). */
export const MAX_DEFAULT_THREADS = 8;

let cores = typeof navigator === 'object' && navigator?.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1;
/** The Node entry reports os.availableParallelism() here. */
export function setCoreCount(n: number): void {
  if (n > 0) cores = n;
}

let requested: number | undefined;
let note: string | undefined;
let pool: ThreadPool | undefined;

export interface ThreadsInfo {
  /** What setThreads asked for (undefined: never called; training keeps the unchunked order). */
  requested: number | undefined;
  /** Threads that run kernels now: 1 plus the started workers of the current backend's pool. */
  active: number;
  /** Why fewer threads run than requested, if so. */
  note: string | undefined;
}

export function threadsInfo(): ThreadsInfo {
  return { requested, active: 1 + (pool?.running ? pool.workers : 0), note };
}

let cap = Infinity;
/** Benchmarks: use at most n threads of the running pool; 0 runs unchunked, as before setThreads. */
export function capThreads(n: number): void {
  cap = n;
}
/** The most threads a dispatch may use. */
export const threadCap = () => cap;

/** Whether training splits batches into fixed chunks (setThreads was called). */
export const chunkedTraining = () => requested !== undefined && cap > 0;

/** The running pool over this backend's memory, if any. A pool whose worker died is replaced here. */
export function poolFor(be: Backend): ThreadPool | undefined {
  if (pool?.be !== be) return undefined;
  if (pool.running) return pool;
  if (pool.failure) restart(pool);
  return undefined;
}

/**
 * Replaces a pool whose worker died with a fresh one; until it is up everything runs on this thread (same
 * bits: chunks do not depend on the thread count), with the note. A pool that fails to start is not retried.
 */
function restart(old: ThreadPool): void {
  old.dispose();
  note = `simdcnn runs on one thread while its workers restart (${old.failure})`;
  console.info(note);
  const next = new ThreadPool(old.be, old.workers);
  pool = next;
  restarting = next.ready.then(
    () => {
      if (pool === next) note = undefined;
    },
    (e: Error) => {
      if (pool !== next) return;
      stopPool();
      note = `simdcnn runs on one thread: ${e.message}`;
      console.info(note);
    },
  );
}
let restarting: Promise<void> = Promise.resolve();
/** Settles once the last restart of the workers did (tests). */
export const workersRestarted = () => restarting;

function why(): string | undefined {
  const shared = sharedMemoryUnavailable();
  if (shared) return shared;
  if (!canStartWorkers()) return 'this engine cannot start workers';
  // A page's main thread may not block in Atomics.wait: train there through trainInWorker.
  if (typeof (globalThis as { document?: unknown }).document === 'object')
    return "a page's main thread cannot wait for workers (Atomics.wait); use trainInWorker to train on threads";
  return undefined;
}

/**
 * Sets the threads that train (data-parallel over fixed chunks of each batch) and predict (split
 * batches). Default: the cores available, at most MAX_DEFAULT_THREADS. More than one thread moves the
 * backend NEW models use to one shared wasm memory: call it before building models (earlier models keep
 * training on one thread, with the same results). Resolves once the workers are running; never rejects
 * for want of threads: it falls back to one and says why (threadsInfo().note, one console note).
 */
export async function setThreads(n?: number): Promise<ThreadsInfo> {
  const count = n ?? Math.min(cores, MAX_DEFAULT_THREADS);
  if (!Number.isInteger(count) || count < 1 || count > 256)
    throw new ValueError(`setThreads: expected a whole number of threads from 1 to 256, received ${n}`);
  requested = count;
  note = undefined;
  if (count === 1) {
    stopPool();
    return threadsInfo();
  }
  const reason = why();
  if (reason) {
    stopPool();
    note = `simdcnn runs on one thread: ${reason}`;
    console.info(note);
    return threadsInfo();
  }
  let be = await getBackend();
  if (!be.sharedModule) be = await setBackend({ build: be.build, shared: true });
  if (pool && (pool.be !== be || pool.workers !== count - 1)) stopPool();
  pool ??= new ThreadPool(be, count - 1);
  try {
    await pool.ready;
  } catch (e) {
    stopPool();
    note = `simdcnn runs on one thread: ${(e as Error).message}`;
    console.info(note);
  }
  return threadsInfo();
}

/** Terminates the workers (setThreads(1) does too); models keep working on this thread. */
export function stopPool(): void {
  pool?.dispose();
  pool = undefined;
}
