// Recording a runtime's kernel calls and replaying them on threads. While recording, the runtime's backend
// (a view of the real one) writes kernel calls down instead of running them, and stages the data layers
// write from JS (augmentation and dropout draws) to be copied in place at the same point of the list. The
// words layers keep in memory for themselves (a cache's weights stamp, dropout's keys) are read and written
// at once, which is what a sequential run would see, since no kernel touches them. Reading kernel results
// from JS, or allocating, throws NotThreadable: such a model runs on the main thread as ever. Kernel results
// a caller needs (a loss sum) are kept: recorded under keep(), stored by the thread that runs the call, and
// handed back in order when the same code runs again under playback().
// A job of run() may sync(): its list is cut there into phases, and every job's phase k runs before a
// combine list (recorded once) that runs on this thread, before any job's phase k + 1.
// A job's recorded backward marks its progress (Backend.backwardDone); jobs added to run() after the
// recorded ones (tail) may wait for the recorded jobs' progress (awaitJobs): they start on whichever thread
// is free while the recorded jobs still run, and wait there only for what they need.
import type { Backend } from '../backend.js';
import { poolFor, threadCap } from './config.js';
import { COPY, KEEP, kernelNames, runOps, SIGNAL, WAIT } from './pool.js';

const STAGED = -2; // a write recorded before the staging area has its address: [STAGED, 3, dst, offset, n]
const KEPT = -5; // a kept call recorded before the results have their address: [KEPT, argc + 2, slot, code, ...args]
const SYNC = -6; // the end of a job's phase: [SYNC, 1, key]
const PROGRESS = -9; // job's progress, before the progress words have their address: [PROGRESS, 2, job, count]
const AWAIT = -10; // a wait for every recorded job's progress: [AWAIT, 3, 0, jobs, count]

export class NotThreadable extends Error {}

let dealing = true;
/** Benchmarks (A/B): false lets any thread take any of run()'s jobs, in order (no job stays with a thread). */
export function setJobDealing(on: boolean): void {
  dealing = on;
}

/** Threads a dispatch of `jobs` independent jobs uses: the pool's workers and this one, at most `jobs`. */
export function threadsFor(be: Backend, jobs: number): number {
  const pool = poolFor(be);
  return pool ? Math.max(1, Math.min(pool.workers + 1, jobs, threadCap())) : 1;
}

export class Replayer {
  private on = false;
  private ops: number[] = [];
  private staged: number[] = [];
  private keeping = false;
  /** Results kept by the current recording. */
  private kept = 0;
  /** The last dispatch's kept results, and the next one playback hands out (-1: not playing back). */
  private results = new Float64Array(0);
  private next = -1;
  /** The job run() is recording (-1: none), and the combine lists of its sync points, in order. */
  private job = -1;
  private syncs = 0;
  private combines: { key: number; ops: number[] }[] = [];
  /** Progress words the next dispatch zeroes: one per job of run(). */
  private progressWords = 0;
  /** Lists recorded under ahead(): they run before the dispatch's jobs, as jobs of their own. */
  private prelude: number[][] = [];
  /**
   * Whether ahead() records into the prelude: the jobs share what it derives (the chunks of a batch share
   * their caches). Otherwise ahead() records in place, in the job that asked.
   */
  hoistsAhead = false;
  private readonly kernels: Record<string, (...a: number[]) => number> = {};
  private readonly played: Record<string, () => number> = {};
  private readonly fns: ((...a: number[]) => unknown)[];
  /** Where a dispatch's op lists and staged data go. */
  private region = { ptr: 0, bytes: 0 };
  /** be as the recorded runtimes see it: itself, except while recording. */
  readonly view: Backend;

  constructor(
    readonly be: Backend,
    private readonly what: string,
  ) {
    const names = kernelNames(be);
    names.forEach((name, code) => {
      this.kernels[name] = (...a: number[]) => {
        if (this.keeping) this.ops.push(KEPT, a.length + 2, this.kept++, code, ...a);
        else this.ops.push(code, a.length, ...a);
        return 0;
      };
      this.played[name] = () => {
        if (this.next >= this.results.length) throw new Error(`${this.what}: playback asked for more results than were kept`);
        return this.results[this.next++];
      };
    });
    this.fns = names.map((n) => (be.k as unknown as Record<string, (...a: number[]) => unknown>)[n]);
    this.view = this.recordingView();
  }

  private recordingView(): Backend {
    const bound = new Map<PropertyKey, unknown>();
    const refuse = (what: string) => () => {
      throw new NotThreadable(what);
    };
    const recording: Record<PropertyKey, unknown> = {
      write: (ptr: number, data: ArrayLike<number>) => {
        this.ops.push(STAGED, 3, ptr, this.staged.length, data.length);
        for (let i = 0; i < data.length; i++) this.staged.push(data[i]);
      },
      copy: (dst: number, src: number, n: number) => void this.ops.push(COPY, 3, dst, src, n),
      backwardDone: (count: number) => {
        if (this.job >= 0) this.ops.push(PROGRESS, 2, this.job, count);
      },
      ahead: (fn: () => void) => {
        if (!this.hoistsAhead) return fn();
        const own = this.ops;
        this.ops = [];
        try {
          fn();
          if (this.ops.length) this.prelude.push(this.ops);
        } finally {
          this.ops = own;
        }
      },
      view: refuse('view'),
      read: refuse('read'),
      viewI32: refuse('viewI32'),
      alloc: refuse('alloc'),
      release: refuse('release'),
    };
    return new Proxy(this.be, {
      get: (t, p) => {
        if (this.next >= 0 && p === 'k') return this.played;
        if (this.on) {
          if (p === 'k') return this.kernels;
          if (p === 'f32') throw new NotThreadable('f32');
          if (p in recording) return recording[p];
        }
        const v = Reflect.get(t, p, t);
        if (typeof v !== 'function') return v;
        if (!bound.has(p)) bound.set(p, v.bind(t));
        return bound.get(p);
      },
    });
  }

  /** A tail list's op that waits until every job of run() has marked progress >= count. */
  static awaitJobs(jobs: number, count: number): number[] {
    return [AWAIT, 3, 0, jobs, count];
  }

  /**
   * Records fn(j) for jobs 0..jobs-1, each into a list of its own, and runs the lists as jobs on the threads,
   * phase by phase when they sync; `tail` (lists made by the caller, which may awaitJobs) runs as more jobs
   * of the last phase.
   */
  run(jobs: number, fn: (j: number) => void, tail: number[][] = []): void {
    const lists: number[][] = Array.from({ length: jobs }, () => []);
    this.combines = [];
    try {
      this.record(() => {
        for (let j = 0; j < jobs; j++) {
          this.job = j;
          this.syncs = 0;
          this.ops = lists[j];
          fn(j);
          if (this.syncs !== this.combines.length)
            throw new Error(`${this.what}: job ${j} synced ${this.syncs} times, job 0 ${this.combines.length} times (internal error)`);
        }
      });
    } finally {
      this.job = -1;
    }
    const phases: number[][][] = this.combines.map(() => []);
    phases.push([]);
    for (const ops of lists) {
      let from = 0,
        k = 0;
      for (let i = 0; i < ops.length; i += 2 + ops[i + 1]) {
        if (ops[i] !== SYNC) continue;
        phases[k++].push(ops.slice(from, i));
        from = i + 3;
      }
      phases[k].push(from ? ops.slice(from) : ops);
    }
    phases[phases.length - 1].push(...tail);
    this.progressWords = jobs;
    this.dispatchPhases(
      phases,
      this.combines.map((c) => c.ops),
      dealing ? jobs : 0,
    );
  }

  /**
   * While run() records a job: this job's phase ends here. `combine` is recorded once (in job 0), into a
   * list that runs on this thread after every job's phase; `key` names the point (the same in every job).
   */
  sync(key: number, combine: () => void): void {
    if (!this.on || this.job < 0) throw new Error(`${this.what}: sync outside a recorded run (internal error)`);
    const at = this.syncs++;
    this.ops.push(SYNC, 1, key);
    if (this.job === 0) {
      const own = this.ops;
      this.ops = [];
      try {
        combine();
        this.combines.push({ key, ops: this.ops });
      } finally {
        this.ops = own;
      }
    } else if (this.combines[at]?.key !== key)
      throw new Error(`${this.what}: job ${this.job} synced at ${key}, job 0 at ${this.combines[at]?.key} (internal error)`);
  }

  /** While recording: the kernel calls fn makes keep their results (see playback). */
  keep<T>(fn: () => T): T {
    this.keeping = true;
    try {
      return fn();
    } finally {
      this.keeping = false;
    }
  }

  /** Runs fn (the code that ran under keep, in the same order) with its kernel calls answered by the kept results. */
  playback<T>(fn: () => T): T {
    this.next = 0;
    try {
      return fn();
    } finally {
      this.next = -1;
    }
  }

  /** Records what fn does into one list (returned) and the staged data, without running anything. */
  record(fn: () => void): number[] {
    // A dispatch follows: sleeping workers wake while this thread records.
    if (threadsFor(this.be, 2) > 1) poolFor(this.be)!.wake();
    this.staged = [];
    this.kept = 0;
    this.prelude = [];
    this.ops = [];
    const first = this.ops;
    this.on = true;
    try {
      fn();
    } finally {
      this.on = false;
    }
    return first;
  }

  /** Offsets of the calls in a recorded list. */
  static calls(ops: number[]): number[] {
    const starts: number[] = [];
    for (let i = 0; i < ops.length; i += 2 + ops[i + 1]) starts.push(i);
    return starts;
  }

  /**
   * Writes the lists (and the data staged by the last recording) and a table of them into the op region,
   * then runs them as jobs: taken by whichever thread is free (in order on this one without a pool).
   */
  dispatch(lists: number[][]): void {
    this.dispatchPhases([lists], []);
  }

  /**
   * Writes every phase's lists and the combines into the op region, then runs the prelude (the lists
   * recorded under ahead(), as jobs), phase 0, combine 0, phase 1, ...; the first `owned` lists of each
   * recorded phase (run()'s jobs) are dealt out to the threads (ThreadPool.run).
   */
  private dispatchPhases(recorded: number[][][], recordedCombines: number[][], owned = 0): void {
    const be = this.be,
      staged = this.staged;
    const phases = this.prelude.length ? [this.prelude, ...recorded] : recorded,
      combines = this.prelude.length ? [[], ...recordedCombines] : recordedCombines;
    this.prelude = [];
    const groups = [...phases, ...combines.map((c) => [c])];
    const opFloats = groups.reduce((t, g) => t + g.reduce((u, l) => u + l.length, 0), 0),
      jobs = groups.reduce((t, g) => t + g.length, 0);
    const words = this.progressWords;
    this.progressWords = 0;
    const bytes = (opFloats + 2 * jobs + this.kept) * 8 + (staged.length + words) * 4;
    if (this.region.bytes < bytes) {
      this.releaseRegion();
      this.region = { ptr: be.alloc(bytes * 2, `${this.what} thread op lists`), bytes: bytes * 2 };
    }
    const tables = this.region.ptr + opFloats * 8,
      results = tables + 2 * jobs * 8,
      stage = results + this.kept * 8,
      progress = stage + staged.length * 4;
    const buffer = be.k.memory.buffer;
    new Float32Array(buffer, stage, staged.length).set(staged);
    new Int32Array(buffer, progress, words).fill(0);
    let at = this.region.ptr,
      row = 0;
    const placed = groups.map((lists) => {
      const table = tables + row * 16;
      const t = new Float64Array(buffer, table, 2 * lists.length);
      lists.forEach((ops, j) => {
        const f = new Float64Array(buffer, at, ops.length);
        f.set(ops);
        for (let i = 0; i < ops.length; i += 2 + ops[i + 1]) {
          if (ops[i] === STAGED) {
            f[i] = COPY;
            f[i + 3] = stage + ops[i + 3] * 4;
          } else if (ops[i] === KEPT) {
            f[i] = KEEP;
            f[i + 2] = results + ops[i + 2] * 8;
          } else if (ops[i] === PROGRESS) {
            f[i] = SIGNAL;
            f[i + 2] = progress + ops[i + 2] * 4;
          } else if (ops[i] === AWAIT) {
            f[i] = WAIT;
            f[i + 2] = progress;
          }
        }
        t[2 * j] = at;
        t[2 * j + 1] = ops.length;
        at += ops.length * 8;
      });
      row += lists.length;
      return { ptr: table, table: t, jobs: lists.length };
    });
    this.staged = [];
    const pool = poolFor(be);
    // Without a pool the jobs run in order: a wait finds what it waits for done.
    const stuck = pool ? () => pool.stuck() : () => 'the jobs run in order on one thread (internal error)';
    const runJob = (at: number, len: number) => runOps(this.fns, buffer, at, len, stuck);
    const prelude = phases.length - recorded.length;
    phases.forEach((lists, k) => {
      const { ptr, table, jobs: n } = placed[k],
        threads = threadsFor(be, n);
      if (pool && threads > 1) pool.run(ptr, n, runJob, threads - 1, k < prelude ? 0 : owned);
      else for (let j = 0; j < n; j++) runJob(table[2 * j], table[2 * j + 1]);
      const c = placed[phases.length + k];
      if (c && c.table[1] > 0) runJob(c.table[0], c.table[1]);
    });
    this.results = new Float64Array(buffer, results, this.kept).slice();
  }

  private releaseRegion(): void {
    if (this.region.ptr) this.be.release(this.region.ptr);
    this.region = { ptr: 0, bytes: 0 };
  }

  dispose(): void {
    this.releaseRegion();
  }
}
