// Worker threads that run kernels over one shared wasm memory. A worker instantiates the backend's
// module over the backend's memory and then only executes op lists the main thread wrote into that
// memory: it never allocates (the main thread's allocator owns every byte) and keeps no state but the
// module instance. Dispatch is synchronous: the main thread posts the lists through a control block of
// atomics, runs its own list, and waits until every worker is done, so a training step or a predict
// stays a plain function call.
import type { Backend } from '../backend.js';
import { SimdcnnError } from '../errors.js';

// Control block words (Int32Array over a SharedArrayBuffer).
const GEN = 0; // bumped once per dispatch
const DONE = 1; // workers finished with this dispatch
const STOP = 2; // set when the pool is disposed
const ERR = 3; // characters of the first error message (0: none)
const TEXT = 8; // the message, one UTF-16 unit per word
const TEXT_MAX = 1000;

/** An op in a list: code >= 0 calls kernel names[code] with argc args; COPY copies floats (dst, src, n). */
export const COPY = -1;

/**
 * Runs the op list at byte `at` of `len` float64s. The worker runs the same loop from its source text
 * (WORKER_SOURCE) since a worker gets no modules: keep the two in step.
 */
export function runOps(fns: ((...a: number[]) => unknown)[], buffer: ArrayBufferLike, at: number, len: number): void {
  const ops = new Float64Array(buffer, at, len);
  const f32 = new Float32Array(buffer);
  for (let i = 0; i < len;) {
    const code = ops[i],
      argc = ops[i + 1];
    const a = ops.subarray(i + 2, i + 2 + argc);
    if (code === COPY) f32.copyWithin(a[0] / 4, a[1] / 4, a[1] / 4 + a[2]);
    else fns[code](...a);
    i += 2 + argc;
  }
}

const WORKER_SOURCE = `
'use strict';
function start(d) {
  const c = new Int32Array(d.ctrl), slots = new Float64Array(d.slots), memory = d.memory;
  let fns;
  try {
    const ex = new WebAssembly.Instance(d.module, { env: { memory } }).exports;
    ex.set_scalar(d.scalar);
    fns = d.names.map((n) => ex[n]);
  } catch (e) {
    fail(e);
  }
  post('ready');
  let gen = d.gen;
  for (;;) {
    Atomics.wait(c, ${GEN}, gen);
    gen = Atomics.load(c, ${GEN});
    if (Atomics.load(c, ${STOP})) return;
    const at = slots[2 * d.id], len = slots[2 * d.id + 1];
    if (len > 0) {
      try {
        if (!fns) throw new Error('the worker could not instantiate the kernels');
        const ops = new Float64Array(memory.buffer, at, len), f32 = new Float32Array(memory.buffer);
        for (let i = 0; i < len; ) {
          const code = ops[i], argc = ops[i + 1], a = ops.subarray(i + 2, i + 2 + argc);
          if (code === ${COPY}) f32.copyWithin(a[0] / 4, a[1] / 4, a[1] / 4 + a[2]);
          else fns[code](...a);
          i += 2 + argc;
        }
      } catch (e) {
        fail(e);
      }
    }
    Atomics.add(c, ${DONE}, 1);
    Atomics.notify(c, ${DONE});
  }
  function fail(e) {
    const m = 'worker ' + d.id + ': ' + ((e && e.message) || String(e));
    if (Atomics.compareExchange(c, ${ERR}, 0, -1) !== 0) return;
    const n = Math.min(m.length, ${TEXT_MAX});
    for (let i = 0; i < n; i++) c[${TEXT} + i] = m.charCodeAt(i);
    Atomics.store(c, ${ERR}, n);
  }
}
let post;
`;

export interface WorkerHandle {
  terminate(): void;
  onMessage(f: (m: unknown) => void): void;
  onError(f: (e: unknown) => void): void;
  /** Once started, idle kernel threads must not keep the process alive (Node). */
  unref(): void;
}
/**
 * Starts a worker from source text with its start data (Node: worker_threads; browsers: a Blob Worker).
 * The source defines start(data) and leaves `post` (the reply to the main thread) to the platform's
 * own lines, which each factory appends.
 */
export type WorkerFactory = (source: string, data: unknown) => WorkerHandle;

function browserWorker(source: string, data: unknown): WorkerHandle {
  const boot = 'post = (m) => self.postMessage(m);\nself.onmessage = (e) => start(e.data);\n';
  const url = URL.createObjectURL(new Blob([source, boot], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  w.postMessage(data);
  return {
    terminate: () => w.terminate(),
    onMessage: (f) => w.addEventListener('message', (e) => f(e.data)),
    onError: (f) => w.addEventListener('error', (e) => f(e.message ?? e)),
    unref: () => {},
  };
}
let factory: WorkerFactory | undefined = typeof Worker === 'function' ? browserWorker : undefined;
/** The Node entry sets worker_threads here. */
export function setWorkerFactory(f: WorkerFactory): void {
  factory = f;
}
export const canStartWorkers = () => factory !== undefined;

/** One list per worker: byte offset and length (float64s) in wasm memory; len 0 for none. */
export interface OpList {
  at: number;
  len: number;
}

export class ThreadPool {
  readonly ready: Promise<void>;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * (TEXT + TEXT_MAX)));
  private readonly slots: Float64Array;
  private readonly handles: WorkerHandle[] = [];
  private isReady = false;
  private broken?: string;

  /** `workers` threads besides the main thread, over be's shared memory. */
  constructor(
    readonly be: Backend,
    readonly workers: number,
  ) {
    if (!be.sharedModule) throw new SimdcnnError('thread pool: the backend has no shared memory');
    if (!factory) throw new SimdcnnError('thread pool: this engine cannot start workers');
    this.slots = new Float64Array(new SharedArrayBuffer(16 * workers));
    const names = kernelNames(be);
    let started = 0;
    this.ready = new Promise<void>((resolve, reject) => {
      for (let id = 0; id < workers; id++) {
        const h = factory!(WORKER_SOURCE, {
          id,
          module: be.sharedModule,
          memory: be.k.memory,
          ctrl: this.ctrl.buffer,
          slots: this.slots.buffer,
          names,
          scalar: be.scalar ? 1 : 0,
          gen: 0,
        });
        h.onMessage(() => {
          if (++started === workers) {
            this.isReady = !this.broken;
            for (const w of this.handles) w.unref();
            resolve();
          }
        });
        h.onError((e) => {
          this.broken = `a worker thread failed: ${(e as Error)?.message ?? String(e)}`;
          this.isReady = false;
          reject(new SimdcnnError(this.broken));
        });
        this.handles.push(h);
      }
    });
    this.ready.catch(() => {});
  }

  /** Started, and no worker has failed: dispatches may go to the workers. */
  get running(): boolean {
    return this.isReady && !this.broken && !Atomics.load(this.ctrl, STOP);
  }

  /**
   * Runs lists[w] on worker w and `own` on this thread, and returns when all are done. A kernel error in a
   * worker (or in `own`) is thrown here as a SimdcnnError once every thread has stopped.
   */
  run(lists: OpList[], own: () => void): void {
    if (!this.running) throw new SimdcnnError(this.broken ?? 'thread pool: not running');
    const c = this.ctrl;
    for (let w = 0; w < this.workers; w++) {
      this.slots[2 * w] = lists[w]?.at ?? 0;
      this.slots[2 * w + 1] = lists[w]?.len ?? 0;
    }
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    let ownError: unknown;
    try {
      own();
    } catch (e) {
      ownError = e;
    }
    for (let d = Atomics.load(c, DONE); d < this.workers; d = Atomics.load(c, DONE)) Atomics.wait(c, DONE, d);
    if (ownError) throw ownError;
    const n = Atomics.load(c, ERR);
    if (n !== 0) {
      let m = '';
      for (let i = 0; i < n; i++) m += String.fromCharCode(c[TEXT + i]);
      Atomics.store(c, ERR, 0);
      throw new SimdcnnError(`a kernel failed in a worker thread (${m})`);
    }
  }

  /** Stops and terminates every worker. */
  dispose(): void {
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    for (const h of this.handles) h.terminate();
    this.handles.length = 0;
  }
}

/** The kernel exports in a fixed order: an op's code is its index here. */
const namesOf = new WeakMap<Backend, string[]>();
export function kernelNames(be: Backend): string[] {
  let n = namesOf.get(be);
  if (!n) {
    n = Object.keys(be.k)
      .filter((k) => typeof (be.k as unknown as Record<string, unknown>)[k] === 'function')
      .sort();
    namesOf.set(be, n);
  }
  return n;
}
