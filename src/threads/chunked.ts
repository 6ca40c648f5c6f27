// Data-parallel training over fixed chunks. A batch of n > CHUNK samples is split into chunks of CHUNK
// (the last one shorter), whatever the thread count. Each chunk has a runtime of its own (an arena planned
// for CHUNK samples, and its own gradient block); the main thread runs each chunk's layers in "record"
// mode, where kernel calls are written down instead of run, then the chunks' lists run on the threads
// (chunk c on thread c mod T), the loss of each chunk is taken on the main thread in chunk order, the
// backward lists run the same way, and the chunk gradients are summed in chunk order by sum_blocks_f32.
// Every number a chunk computes is therefore the same whichever thread runs it, and the sum's order is
// fixed: the weights after training are bit-identical for 1, 2 or 3 threads.
//
// Recording is exact because layers only call kernels and write JS-made data (augmentation and dropout
// draws, taken in chunk order from the model's generator): such writes are staged and replayed in place.
// The few words layers keep in memory for themselves (a cache's weights stamp, dropout's keys) are read and
// written at once, which is what the sequential run would see: no kernel touches them. A layer that reads
// kernel results from JS in forward or backward, or allocates there, makes recording throw NotThreadable:
// that model then trains unchunked on one thread, with one note. So does a layer with batch-coupled
// updates (BatchNormalization's batch statistics and moving averages), known by its applyUpdates.
import type { Backend } from '../backend.js';
import { lossOf } from '../engine/evaluation.js';
import type { Loss } from '../engine/losses.js';
import { Runtime } from '../engine/runtime.js';
import { TRAIN } from '../engine/state.js';
import type { IOShapes } from '../engine/validation.js';
import { Layer } from '../layers/layer.js';
import { shapeSize } from '../tensor.js';
import { chunkedTraining, poolFor } from './config.js';
import { COPY, kernelNames, type OpList, runOps } from './pool.js';

/** Samples per chunk: fixed, so the arithmetic never depends on the thread count. */
export const CHUNK = 16;
const STAGED = -2; // a write recorded before the staging area has its address: [STAGED, 3, dst, offset, n]

class NotThreadable extends Error {}

/** Kernel calls and staged writes, recorded while `on`. */
class Recorder {
  on = false;
  ops: number[] = [];
  staged: number[] = [];
  readonly kernels: Record<string, (...a: number[]) => number> = {};

  constructor(be: Backend) {
    kernelNames(be).forEach((name, code) => {
      this.kernels[name] = (...a: number[]) => {
        this.ops.push(code, a.length, ...a);
        return 0;
      };
    });
  }
}

/** be as the chunk runtimes see it: itself, except that while recording, kernels and writes are recorded. */
function recordingBackend(be: Backend, rec: Recorder): Backend {
  const bound = new Map<PropertyKey, unknown>();
  const refuse = (what: string) => () => {
    throw new NotThreadable(what);
  };
  const recording: Record<PropertyKey, unknown> = {
    write: (ptr: number, data: ArrayLike<number>) => {
      rec.ops.push(STAGED, 3, ptr, rec.staged.length, data.length);
      for (let i = 0; i < data.length; i++) rec.staged.push(data[i]);
    },
    copy: (dst: number, src: number, n: number) => void rec.ops.push(COPY, 3, dst, src, n),
    view: refuse('view'),
    read: refuse('read'),
    viewI32: refuse('viewI32'),
    alloc: refuse('alloc'),
    release: refuse('release'),
  };
  return new Proxy(be, {
    get(t, p) {
      if (rec.on) {
        if (p === 'k') return rec.kernels;
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

interface ChunkSet {
  rts: Runtime[];
  /** count blocks of `stride` bytes: chunk c's gradients. */
  grads: number;
  stride: number;
  rec: Recorder;
  /** Where the op lists and staged data of a phase go. */
  region: { ptr: number; bytes: number };
}

const sets = new WeakMap<Runtime, ChunkSet>();
/** Models that train unchunked, and why (noted once). */
const unchunked = new WeakMap<Runtime, string>();

function release(rt: Runtime): void {
  const s = sets.get(rt);
  if (!s) return;
  sets.delete(rt);
  for (const c of s.rts) c.dispose();
  rt.be.release(s.grads);
  if (s.region.ptr) rt.be.release(s.region.ptr);
}

function chunkSet(rt: Runtime, count: number): ChunkSet {
  let s = sets.get(rt);
  if (s && s.rts.length >= count) return s;
  release(rt);
  const be = rt.be,
    stride = rt.params.floats * 4;
  const grads = be.alloc(stride * count, `${rt.name} chunk gradients`);
  const rec = new Recorder(be);
  const view = recordingBackend(be, rec);
  s = { rts: [], grads, stride, rec, region: { ptr: 0, bytes: 0 } };
  sets.set(rt, s);
  if (!hooked.has(rt)) {
    hooked.add(rt);
    rt.onDispose.push(() => release(rt));
  }
  for (let c = 0; c < count; c++) s.rts.push(new Runtime(view, rt.graph, rt.params, rt.rng, rt.name, grads + c * stride));
  return s;
}
const hooked = new WeakSet<Runtime>();

function noteOnce(rt: Runtime, why: string): void {
  if (unchunked.has(rt)) return;
  unchunked.set(rt, why);
  console.info(`${rt.name} trains on one thread: ${why}`);
}

/** Why this model trains unchunked, or undefined. */
export const unchunkedReason = (rt: Runtime): string | undefined => unchunked.get(rt);

/** Records fn(c) for every chunk, then runs the lists: chunk c on thread c mod T. */
function phase(rt: Runtime, s: ChunkSet, chunks: number, fn: (c: number) => void): void {
  const be = rt.be,
    rec = s.rec;
  const lists: number[][] = [];
  rec.staged = [];
  rec.on = true;
  try {
    for (let c = 0; c < chunks; c++) {
      rec.ops = [];
      fn(c);
      lists.push(rec.ops);
    }
  } finally {
    rec.on = false;
  }
  const pool = poolFor(be);
  const threads = pool ? Math.min(pool.workers + 1, chunks) : 1;
  const perThread: number[][] = Array.from({ length: threads }, () => []);
  lists.forEach((ops, c) => {
    const t = perThread[c % threads];
    for (let i = 0; i < ops.length; i++) t.push(ops[i]);
  });
  const opFloats = perThread.reduce((t, l) => t + l.length, 0);
  const bytes = opFloats * 8 + rec.staged.length * 4;
  if (s.region.bytes < bytes) {
    if (s.region.ptr) be.release(s.region.ptr);
    s.region = { ptr: 0, bytes: 0 };
    s.region = { ptr: be.alloc(bytes * 2, `${rt.name} thread op lists`), bytes: bytes * 2 };
  }
  const stage = s.region.ptr + opFloats * 8;
  const buffer = be.k.memory.buffer;
  new Float32Array(buffer, stage, rec.staged.length).set(rec.staged);
  const out: OpList[] = [];
  let at = s.region.ptr;
  for (const ops of perThread) {
    const f = new Float64Array(buffer, at, ops.length);
    for (let i = 0; i < ops.length;) {
      const argc = ops[i + 1];
      f.set(ops.slice(i, i + 2 + argc), i);
      if (ops[i] === STAGED) {
        f[i] = COPY;
        f[i + 3] = stage + ops[i + 3] * 4;
      }
      i += 2 + argc;
    }
    out.push({ at, len: ops.length });
    at += ops.length * 8;
  }
  const fns = kernelNames(be).map((n) => (be.k as unknown as Record<string, (...a: number[]) => unknown>)[n]);
  const own = () => runOps(fns, buffer, out[0].at, out[0].len);
  if (pool && threads > 1) pool.run(out.slice(1), own);
  else own();
}

/**
 * The batch's data loss and correct count, with its gradients summed into rt.gradBlock, computed over
 * fixed chunks; undefined when this batch or model trains unchunked (then the caller runs it as ever).
 * `check` judges the loss before anything runs backward.
 */
export function chunkedGradients(
  rt: Runtime,
  loss: Loss,
  fused: boolean,
  n: number,
  io: IOShapes,
  weights: number,
  check: (dataLoss: number) => void,
): [number, number] | undefined {
  if (!chunkedTraining() || n <= CHUNK || unchunked.has(rt)) return undefined;
  const a = rt.current!;
  if (a.steps.some((st) => st.layer.applyUpdates !== Layer.prototype.applyUpdates)) {
    noteOnce(rt, 'a layer couples the samples of a batch (BatchNormalization); its batch statistics need the whole batch');
    return undefined;
  }
  const chunks = Math.ceil(n / CHUNK);
  const s = chunkSet(rt, chunks);
  const size = (c: number) => Math.min(CHUNK, n - c * CHUNK);
  const row = shapeSize(io.input),
    out = shapeSize(io.output);
  for (let c = 0; c < chunks; c++) {
    const ca = s.rts[c].ensure(CHUNK, TRAIN),
      from = c * CHUNK;
    rt.be.copy(ca.input, a.input + from * row * 4, size(c) * row);
    rt.be.copy(ca.labels, a.labels + from * 4, size(c));
    rt.be.copy(ca.targets, a.targets + from * out * 4, size(c) * out);
  }
  try {
    phase(rt, s, chunks, (c) => s.rts[c].forward(size(c), true));
    let sum = 0,
      correct = 0;
    for (let c = 0; c < chunks; c++) {
      const [l, k] = lossOf(s.rts[c], loss, size(c), io, true, fused, weights && weights + c * CHUNK * 4, n);
      sum += l;
      correct += k;
    }
    check(sum);
    phase(rt, s, chunks, (c) => s.rts[c].backward(size(c), fused));
    rt.be.k.sum_blocks_f32(rt.gradBlock, s.grads, s.stride, chunks, rt.params.floats);
    return [sum, correct];
  } catch (e) {
    // A failed dispatch leaves the chunks' caches stamped for work that never ran: start them afresh.
    release(rt);
    if (!(e instanceof NotThreadable)) throw e;
    // Nothing was updated yet: the caller runs the whole batch again, unchunked.
    noteOnce(rt, `a layer reads wasm memory from JavaScript while it runs (${e.message})`);
    return undefined;
  }
}
