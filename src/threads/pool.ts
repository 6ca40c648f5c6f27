// Worker threads that run kernels over one shared wasm memory. A worker instantiates the backend's
// module over the backend's memory and then only executes op lists the main thread wrote into that
// memory: it never allocates (the main thread's allocator owns every byte) and keeps no state but the
// module instance. Dispatch is synchronous: the main thread posts a table of jobs (op lists) through a
// control block of atomics, and every thread, this one included, takes the next job until none is left, so
// a thread that the machine's other work slows down takes fewer jobs instead of holding the step up; the
// main thread returns once every job is done (a training step or a predict stays a plain function call).
// The first `owned` jobs of a dispatch (the chunks of a batch, which reuse their arenas step after step) are
// dealt out: job j belongs to thread j mod T (this thread is 0), which takes its own in order, then the next
// of another's it finds untaken. A chunk's arena thus stays in one core's caches while the threads keep
// pace, and a thread that falls a whole job behind still gives its next one away.
// An idle thread polls the control block for SPIN_MS before it sleeps in Atomics.wait: a training step is
// three dispatches microseconds apart, and each futex wake-up cost 0.1-0.2 ms on these machines (the
// sum and update dispatches took 2x longer on 2 threads than their kernels).
// Jobs never depend on which thread runs them, so neither do the results.
//
// A blocked main thread gets no events, so a worker that dies during a job must be noticed from the
// control block: a worker that exits through JavaScript (process.exit, an error outside a kernel) marks
// itself dead on the way out, and the main thread waits in slices of SLICE_MS; a wait that times out
// (never on a normal step) checks the dead marks, the workers this thread terminated, and the beat of each
// worker holding a job (bumped per op): one that ran no op for stallMs is terminated. The dispatch then
// throws a SimdcnnError naming the worker, once the live workers have finished their jobs; the pool stops
// running (and src/threads/config.ts starts a fresh one).
import type { Backend } from '../backend.js';
import { SimdcnnError } from '../errors.js';

// Control block words (Int32Array over a SharedArrayBuffer).
const GEN = 0; // bumped once per dispatch
const DONE = 1; // jobs of this dispatch finished
const STOP = 2; // set when the pool is disposed
const ERR = 3; // characters of the first error message (0: none)
const NEXT = 4; // (dispatch & 0xffff) << 16 | the next job to take: a late worker cannot take another dispatch's job
const JOBS = 5; // jobs in this dispatch
const TABLE = 6; // byte offset of its table (as an int32: read it >>> 0): (at, len) float64 pairs, one per job
const OPEN = 7; // workers 0..OPEN-1 may take jobs
const SPIN = 8; // how long an idle worker polls before it sleeps, in microseconds
const ABORT = 9; // set when a job on the main thread failed: jobs waiting for others (WAIT) give up
const OWNED = 10; // jobs 0..OWNED-1 are dealt out: job j to thread j mod TEAM; NEXT starts after them
const TEAM = 11; // threads taking jobs in this dispatch (this one is thread 0, worker id is thread id + 1)
const TEXT = 12; // the message, one UTF-16 unit per word
const TEXT_MAX = 1000;
// Per worker, at WORKER + 3 * id: 1 + the job it runs (0: none), 1 once it is dead, ops it has run.
const WORKER = TEXT + TEXT_MAX;
// Then per thread t of the team, at QUEUE + t (QUEUE = WORKER + 3 * workers): (dispatch & 0xffff) << 16 | how
// many of t's own jobs were taken.
const CUR = 0,
  DEAD = 1,
  BEAT = 2;
/** Jobs one dispatch may hold (NEXT keeps the job index in 16 bits). */
export const MAX_JOBS = 0xffff;
/** How long a wait blocks before it checks that the workers are alive; a normal dispatch ends sooner. */
const SLICE_MS = 50;
/** How long an idle thread polls before it sleeps in Atomics.wait. */
export const SPIN_MS = 0.3;
/**
 * A worker that runs no op for this long is taken to be hung (a kernel that never returns). Long: one
 * legitimate kernel call (a big convolution at batch 1 in a slow browser) can run for a minute or more.
 */
export const DEFAULT_STALL_MS = 600_000;

/**
 * An op in a list: code >= 0 calls kernel names[code] with argc args; COPY copies floats (dst, src, n); KEEP
 * calls kernel a[1] with a[2..] and stores what it returns as a float64 at byte a[0]; SIGNAL stores the int32
 * a[1] at byte a[0] (a job's progress); WAIT polls until the a[1] int32s from byte a[0] are all >= a[2] (a
 * job that needs other jobs' progress: only ever for jobs taken before it, which live threads are running;
 * every dealt job is taken before any other).
 */
export const COPY = -1;
export const KEEP = -4;
export const SIGNAL = -7;
export const WAIT = -8;
/** Fault injection for tests: the worker that runs it exits (code a[0]) as a crashed thread would. */
export const EXIT = -3;

/**
 * Runs the op list at byte `at` of `len` float64s. The worker runs the same loop from its source text
 * (WORKER_SOURCE) since a worker gets no modules: keep the two in step.
 */
export function runOps(
  fns: ((...a: number[]) => unknown)[],
  buffer: ArrayBufferLike,
  at: number,
  len: number,
  stuck: () => string | undefined,
): void {
  const ops = new Float64Array(buffer, at, len);
  const f32 = new Float32Array(buffer),
    i32 = new Int32Array(buffer);
  for (let i = 0; i < len;) {
    const code = ops[i],
      argc = ops[i + 1];
    const a = ops.subarray(i + 2, i + 2 + argc);
    if (code === COPY) f32.copyWithin(a[0] / 4, a[1] / 4, a[1] / 4 + a[2]);
    else if (code === KEEP) new Float64Array(buffer, a[0], 1)[0] = fns[a[1]](...a.subarray(2)) as number;
    else if (code === SIGNAL) Atomics.store(i32, a[0] / 4, a[1]);
    else if (code === WAIT) waitFor(i32, a[0] / 4, a[1], a[2], stuck);
    else fns[code](...a);
    i += 2 + argc;
  }
}

/**
 * The next job thread t takes in dispatch `gen` (-1: none left): its own dealt jobs, then the next untaken of
 * each other thread's, then the rest in order. The worker source has the same steps.
 */
function claim(c: Int32Array, gen: number, t: number, queue: number): number {
  const team = Atomics.load(c, TEAM),
    owned = Atomics.load(c, OWNED),
    tag = gen & 0xffff;
  for (let i = 0; i < team; i++) {
    const u = (t + i) % team;
    for (let w = Atomics.load(c, queue + u); w >>> 16 === tag && u + (w & 0xffff) * team < owned; w = Atomics.load(c, queue + u))
      if (Atomics.compareExchange(c, queue + u, w, w + 1) === w) return u + (w & 0xffff) * team;
  }
  for (let w = Atomics.load(c, NEXT); w >>> 16 === tag && (w & 0xffff) < Atomics.load(c, JOBS); w = Atomics.load(c, NEXT))
    if (Atomics.compareExchange(c, NEXT, w, w + 1) === w) return w & 0xffff;
  return -1;
}

/** Polls until words [from, from + n) of i32 are all >= atLeast; stuck() (checked every 1024 polls) names why they never will be. */
function waitFor(i32: Int32Array, from: number, n: number, atLeast: number, stuck: () => string | undefined): void {
  for (let i = 0; ; i++) {
    let q = 0;
    while (q < n && Atomics.load(i32, from + q) >= atLeast) q++;
    if (q === n) return;
    const why = (i & 1023) === 1023 ? stuck() : undefined;
    if (why) throw new SimdcnnError(`a job this one waited for did not finish (${why})`);
  }
}

const WORKER_SOURCE = `
'use strict';
let dying;
function start(d) {
  const c = new Int32Array(d.ctrl), memory = d.memory;
  const me = ${WORKER} + 3 * d.id, queue = ${WORKER} + 3 * d.workers;
  let fns;
  dying = (why) => {
    fail(new Error(why));
    Atomics.store(c, me + ${DEAD}, 1);
    Atomics.notify(c, ${DONE});
  };
  try {
    const ex = new WebAssembly.Instance(d.module, { env: { memory } }).exports;
    ex.set_scalar(d.scalar);
    fns = d.names.map((n) => ex[n]);
  } catch (e) {
    fail(e);
  }
  post('ready');
  let gen = d.gen;
  try {
    for (;;) {
      // Poll first: the step's next dispatch usually comes within microseconds.
      for (let i = 1, end = 0; Atomics.load(c, ${GEN}) === gen; i++)
        if ((i & 255) === 0 && (end ||= performance.now() + Atomics.load(c, ${SPIN}) / 1000) < performance.now()) break;
      Atomics.wait(c, ${GEN}, gen);
      gen = Atomics.load(c, ${GEN});
      if (Atomics.load(c, ${STOP})) return;
      if (d.id >= Atomics.load(c, ${OPEN})) continue;
      for (;;) {
        const j = claim(gen);
        if (j < 0) break;
        const table = new Float64Array(memory.buffer, Atomics.load(c, ${TABLE}) >>> 0, 2 * (j + 1));
        const at = table[2 * j], len = table[2 * j + 1];
        Atomics.store(c, me + ${CUR}, j + 1);
        try {
          if (!fns) throw new Error('the worker could not instantiate the kernels');
          const ops = new Float64Array(memory.buffer, at, len), f32 = new Float32Array(memory.buffer), i32 = new Int32Array(memory.buffer);
          for (let i = 0; i < len; ) {
            const code = ops[i], argc = ops[i + 1], a = ops.subarray(i + 2, i + 2 + argc);
            if (code === ${COPY}) f32.copyWithin(a[0] / 4, a[1] / 4, a[1] / 4 + a[2]);
            else if (code === ${KEEP}) new Float64Array(memory.buffer, a[0], 1)[0] = fns[a[1]](...a.subarray(2));
            else if (code === ${SIGNAL}) Atomics.store(i32, a[0] / 4, a[1]);
            else if (code === ${WAIT}) {
              for (let n = 0; ; n++) {
                let q = 0;
                while (q < a[1] && Atomics.load(i32, a[0] / 4 + q) >= a[2]) q++;
                if (q === a[1]) break;
                if ((n & 1023) === 1023 && (Atomics.load(c, ${ERR}) || Atomics.load(c, ${ABORT}) || Atomics.load(c, ${STOP})))
                  throw new Error('a job it waited for failed');
              }
            }
            else if (code === ${EXIT}) exit(a[0]);
            else fns[code](...a);
            c[me + ${BEAT}]++;
            i += 2 + argc;
          }
        } catch (e) {
          fail(e);
        }
        Atomics.store(c, me + ${CUR}, 0);
        Atomics.add(c, ${DONE}, 1);
        Atomics.notify(c, ${DONE});
      }
    }
  } catch (e) {
    dying('stopped (' + ((e && e.message) || String(e)) + ')');
  }
  // As claim() in pool.ts, for thread d.id + 1.
  function claim(gen) {
    const team = Atomics.load(c, ${TEAM}), owned = Atomics.load(c, ${OWNED}), tag = gen & 0xffff;
    for (let i = 0; i < team; i++) {
      const u = (d.id + 1 + i) % team;
      for (let w = Atomics.load(c, queue + u); w >>> 16 === tag && u + (w & 0xffff) * team < owned; w = Atomics.load(c, queue + u))
        if (Atomics.compareExchange(c, queue + u, w, w + 1) === w) return u + (w & 0xffff) * team;
    }
    for (let w = Atomics.load(c, ${NEXT}); w >>> 16 === tag && (w & 0xffff) < Atomics.load(c, ${JOBS}); w = Atomics.load(c, ${NEXT}))
      if (Atomics.compareExchange(c, ${NEXT}, w, w + 1) === w) return w & 0xffff;
    return -1;
  }
  function fail(e) {
    const m = 'worker ' + d.id + ': ' + ((e && e.message) || String(e));
    if (Atomics.compareExchange(c, ${ERR}, 0, -1) !== 0) return;
    const n = Math.min(m.length, ${TEXT_MAX});
    for (let i = 0; i < n; i++) c[${TEXT} + i] = m.charCodeAt(i);
    Atomics.store(c, ${ERR}, n);
  }
}
let post, exit;
`;

export interface WorkerHandle {
  terminate(): void;
  onMessage(f: (m: unknown) => void): void;
  onError(f: (e: unknown) => void): void;
  /** The thread ended (Node's 'exit'; browsers have no such event). */
  onExit(f: (code: number) => void): void;
  /** Once started, idle kernel threads must not keep the process alive (Node). */
  unref(): void;
}
/**
 * Starts a worker from source text with its start data (Node: worker_threads; browsers: a Blob Worker).
 * The source defines start(data) and leaves `post` (the reply to the main thread) and `exit` (end this
 * thread; the EXIT op) to the platform's own lines, which each factory appends; Node's also marks the
 * worker dead when its thread exits.
 */
export type WorkerFactory = (source: string, data: unknown) => WorkerHandle;

function browserWorker(source: string, data: unknown): WorkerHandle {
  const boot =
    'post = (m) => self.postMessage(m);\n' +
    "exit = (code) => { self.close(); dying('exited with code ' + code); throw new Error('exited'); };\n" +
    'self.onmessage = (e) => start(e.data);\n';
  const url = URL.createObjectURL(new Blob([source, boot], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  w.postMessage(data);
  return {
    terminate: () => w.terminate(),
    onMessage: (f) => w.addEventListener('message', (e) => f(e.data)),
    onError: (f) => w.addEventListener('error', (e) => f(e.message ?? e)),
    onExit: () => {},
    unref: () => {},
  };
}
let factory: WorkerFactory | undefined = typeof Worker === 'function' ? browserWorker : undefined;
/** The Node entry sets worker_threads here. */
export function setWorkerFactory(f: WorkerFactory): void {
  factory = f;
}
export const canStartWorkers = () => factory !== undefined;

export class ThreadPool {
  readonly ready: Promise<void>;
  private readonly ctrl: Int32Array;
  private readonly handles: WorkerHandle[] = [];
  /** Why each worker this thread terminated (or found dead) is gone. */
  private readonly gone = new Map<number, string>();
  private isReady = false;
  private broken?: string;
  /** A worker that runs no op for this long during a dispatch is terminated as hung. */
  stallMs = DEFAULT_STALL_MS;
  /** Where the team's job queues start in the control block. */
  private get queue(): number {
    return WORKER + 3 * this.workers;
  }
  /** How long an idle thread polls before it sleeps: the main thread for the workers' last jobs, a worker for the next dispatch. */
  get spinMs(): number {
    return Atomics.load(this.ctrl, SPIN) / 1000;
  }
  set spinMs(ms: number) {
    Atomics.store(this.ctrl, SPIN, Math.round(Math.min(Math.max(ms, 0), 1000) * 1000));
  }

  /** `workers` threads besides the main thread, over be's shared memory. */
  constructor(
    readonly be: Backend,
    readonly workers: number,
    spinMs = SPIN_MS,
  ) {
    if (!be.sharedModule) throw new SimdcnnError('thread pool: the backend has no shared memory');
    if (!factory) throw new SimdcnnError('thread pool: this engine cannot start workers');
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (WORKER + 4 * workers + 1)));
    this.spinMs = spinMs;
    const names = kernelNames(be);
    let started = 0;
    this.ready = new Promise<void>((resolve, reject) => {
      for (let id = 0; id < workers; id++) {
        const h = factory!(WORKER_SOURCE, {
          id,
          module: be.sharedModule,
          memory: be.k.memory,
          ctrl: this.ctrl.buffer,
          names,
          workers,
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
        const fail = (why: string) => {
          if (Atomics.load(this.ctrl, STOP)) return;
          this.broken ??= `worker ${id} ${why}`;
          this.isReady = false;
          reject(new SimdcnnError(`a worker thread failed: ${this.broken}`));
        };
        h.onError((e) => fail(`failed: ${(e as Error)?.message ?? String(e)}`));
        h.onExit((code) => fail(`exited with code ${code}`));
        this.handles.push(h);
      }
    });
    this.ready.catch(() => {});
  }

  /** Started, and no worker has failed: dispatches may go to the workers. */
  get running(): boolean {
    return this.isReady && !this.broken && !Atomics.load(this.ctrl, STOP);
  }

  /** Why the pool stopped running after it started (a worker died), if it did. */
  get failure(): string | undefined {
    return this.broken;
  }

  /**
   * Runs the `jobs` op lists of the table at byte `table` ((at, len) float64 pairs) on workers 0..open-1 and,
   * unless runJob is null (tests), on this thread through runJob; returns when every job is done. The first
   * `owned` jobs are dealt out to the threads (this one takes part: runJob is not null). A kernel
   * error in a job is thrown here as a SimdcnnError once the jobs have stopped; so is a worker's death (then
   * the pool stops running).
   */
  run(table: number, jobs: number, runJob: ((at: number, len: number) => void) | null, open = this.workers, owned = 0): void {
    if (!this.running) throw new SimdcnnError(this.broken ? `thread pool: ${this.broken}` : 'thread pool: not running');
    if (jobs > MAX_JOBS) throw new SimdcnnError(`thread pool: ${jobs} jobs in one dispatch, more than ${MAX_JOBS}`);
    const c = this.ctrl;
    this.watch = undefined;
    const gen = (Atomics.load(c, GEN) + 1) | 0,
      tag = (gen & 0xffff) << 16,
      team = open + 1,
      dealt = runJob ? Math.min(owned, jobs) : 0;
    // NEXT and the queues first: a worker still on the last dispatch finds its jobs closed before the table changes.
    Atomics.store(c, NEXT, tag | dealt);
    for (let t = 0; t < team; t++) Atomics.store(c, this.queue + t, tag);
    Atomics.store(c, OWNED, dealt);
    Atomics.store(c, TEAM, team);
    Atomics.store(c, JOBS, jobs);
    Atomics.store(c, TABLE, table);
    Atomics.store(c, OPEN, open);
    Atomics.store(c, ABORT, 0);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, GEN, gen);
    Atomics.notify(c, GEN);
    let ownError: unknown;
    if (runJob) {
      const t = new Float64Array(this.be.k.memory.buffer, table, 2 * jobs);
      for (let j = claim(c, gen, 0, this.queue); j >= 0; j = claim(c, gen, 0, this.queue)) {
        try {
          runJob(t[2 * j], t[2 * j + 1]);
        } catch (e) {
          ownError ??= e;
          Atomics.store(c, ABORT, 1);
        }
        Atomics.add(c, DONE, 1);
      }
    }
    // The workers usually finish within the spin; then normal dispatches end within the first slice, and a
    // slice that times out (or a death's wake-up) checks liveness.
    for (let i = 1, end = 0; Atomics.load(c, DONE) < jobs; i++)
      if ((i & 255) === 0 && (end ||= performance.now() + this.spinMs) < performance.now()) break;
    for (let d = Atomics.load(c, DONE); d < jobs; d = Atomics.load(c, DONE))
      if (Atomics.wait(c, DONE, d, SLICE_MS) !== 'not-equal' && Atomics.load(c, DONE) < jobs && this.waitOut()) break;
    if (this.broken) throw new SimdcnnError(`a worker thread died: ${this.broken}; the pool restarts its workers`);
    const n = Atomics.load(c, ERR);
    Atomics.store(c, ERR, 0);
    // This thread's own error first: a worker that waited for its job failed only because of it.
    if (ownError) throw ownError;
    if (n !== 0) throw new SimdcnnError(`a kernel failed in a worker thread (${this.errorText(n)})`);
  }

  /**
   * Why a job this thread runs will wait in vain for another job's progress, if it will: a job failed (on a
   * worker or here), or a worker died (by its own mark, terminated from here, or hung: the checks a blocked
   * wait for the workers makes).
   */
  stuck(): string | undefined {
    const c = this.ctrl;
    const n = Atomics.load(c, ERR);
    if (n > 0) return this.errorText(n);
    if (Atomics.load(c, ABORT)) return 'a job on the main thread failed';
    this.waitOut();
    return this.gone.size ? [...this.gone.values()].join('; ') : undefined;
  }

  /**
   * Wakes sleeping workers ahead of a dispatch this thread is about to make, so their wake-up overlaps its
   * preparation (recording, copies) and they are polling when the jobs arrive. They find no jobs and poll.
   */
  wake(): void {
    if (this.running) Atomics.notify(this.ctrl, GEN);
  }

  private errorText(n: number): string {
    let m = '';
    for (let i = 0; i < n; i++) m += String.fromCharCode(this.ctrl[TEXT + i]);
    return m;
  }

  /**
   * Called when a wait ends with jobs still out: true once no live worker holds one and some worker is dead
   * (this.broken says which), false while live ones are at work or none has died.
   */
  private waitOut(): boolean {
    const c = this.ctrl,
      now = performance.now();
    const watch = (this.watch ??= {
      since: new Float64Array(this.workers).fill(now),
      seen: new Int32Array(this.workers).fill(-1),
    });
    let out = false;
    for (let w = 0; w < this.workers; w++) {
      const base = WORKER + 3 * w;
      if (!this.gone.has(w) && Atomics.load(c, base + DEAD)) {
        const n = Atomics.load(c, ERR);
        const text = n > 0 ? this.errorText(n) : '';
        this.gone.set(w, text.startsWith(`worker ${w}: `) ? text : `worker ${w}: died`);
      }
      if (this.gone.has(w) || Atomics.load(c, base + CUR) === 0) continue;
      const beat = Atomics.load(c, base + BEAT);
      if (beat !== watch.seen[w]) {
        watch.seen[w] = beat;
        watch.since[w] = now;
      } else if (now - watch.since[w] > this.stallMs) {
        this.handles[w]?.terminate();
        this.gone.set(w, `worker ${w}: ran one kernel for over ${this.stallMs / 1000} s (hung?) and was terminated`);
        continue;
      }
      out = true;
    }
    if (this.gone.size === 0) return false;
    this.broken ??= [...this.gone.values()].join('; ');
    this.isReady = false;
    return !out;
  }
  /** Each worker's beat when last seen to change, and when, during the current dispatch's slow wait. */
  private watch?: { since: Float64Array; seen: Int32Array };

  /** Fault injection for tests: terminates worker `id` as a crash would, without telling the pool. */
  kill(id: number): void {
    this.handles[id].terminate();
    this.gone.set(id, `worker ${id}: terminated`);
  }

  /** Stops and terminates every worker. */
  dispose(): void {
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.store(this.ctrl, NEXT, 0);
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
