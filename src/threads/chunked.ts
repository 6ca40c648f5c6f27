// Data-parallel training over fixed chunks. A batch of n > CHUNK samples is split into chunks of CHUNK
// (the last one shorter), whatever the thread count. Each chunk has a runtime of its own (an arena planned
// for CHUNK samples, and its own gradient block); the main thread runs each chunk's layers in "record"
// mode, where kernel calls are written down instead of run, then the chunks' lists (forward, loss and
// backward) run on the threads (dealt: chunk c to thread c mod T, so its arena stays in one core's caches;
// see ThreadPool.run), the losses are added on the main thread in chunk order, and the chunk gradients are
// summed in chunk order by sum_blocks_f32: in jobs of the same dispatch that each wait until every chunk has
// written their range, so a thread whose chunks are done sums the layers the others have passed while they
// finish.
// Every number a chunk computes is therefore the same whichever thread runs it, and the sum's order is
// fixed: the weights after training are bit-identical for 1, 2 or 3 threads.
//
// A layer that needs sums over the whole batch (BatchNormalization in training) syncs the chunks
// (ctx.split): the chunks' lists are cut there into phases, and between two phases one thread merges the
// chunks' partial sums in chunk order and hands the result to every chunk, so the statistics are the whole
// batch's and the same bits for any thread count. Its pending updates (the moving statistics) are then the
// same in every chunk: the first chunk's are applied once the step is accepted.
//
// Recording (src/threads/record.ts) is exact for layers that only call kernels and write JS-made data;
// one that reads kernel results from JS while it runs makes the model train unchunked on one thread, with
// one note. So does a layer with updates (applyUpdates) that does not sync the chunks (syncsChunks).
import type { Backend } from '../backend.js';
import { lossOf } from '../engine/evaluation.js';
import type { Loss } from '../engine/losses.js';
import type { Arena } from '../engine/arena.js';
import { layerOf } from '../engine/graph.js';
import { Runtime } from '../engine/runtime.js';
import { FIRST_CHUNK, OTHER_CHUNK, STAGE, TRAIN } from '../engine/state.js';
import type { IOShapes } from '../engine/validation.js';
import { type BatchSplit, Layer } from '../layers/layer.js';
import type { UpdateRun } from '../optimizers.js';
import { shapeSize } from '../tensor.js';
import { CHUNK, chunkedTraining } from './config.js';
import { kernelNames } from './pool.js';
import { NotThreadable, Replayer, threadsFor } from './record.js';

interface ChunkSet {
  rts: Runtime[];
  /** Samples in each chunk of the batch being recorded. */
  sizes: number[];
  /** count blocks of `stride` bytes: chunk c's gradients. */
  grads: number;
  stride: number;
  rep: Replayer;
  /** Whether the chunks share the caches of layers that allow it (sharing, when the set was made). */
  shares: boolean;
}

let sharing = true;
/** Benchmarks (A/B): false gives every chunk caches of its own, each derived in the chunk's own job. */
export function setChunkCacheSharing(on: boolean): void {
  sharing = on;
}

let overlapSum = true;
/** Benchmarks (A/B): false sums the chunk gradients in a dispatch of their own, after the chunks'. */
export function setChunkSumOverlap(on: boolean): void {
  overlapSum = on;
}

const sets = new WeakMap<Runtime, ChunkSet>();
/** Models that train unchunked, and why (noted once). */
const unchunked = new WeakMap<Runtime, string>();

function release(rt: Runtime): void {
  const s = sets.get(rt);
  if (!s) return;
  sets.delete(rt);
  rt.updatesFrom = rt;
  for (const c of s.rts) c.dispose();
  rt.be.release(s.grads);
  s.rep.dispose();
}

function chunkSet(rt: Runtime, count: number): ChunkSet {
  const old = sets.get(rt);
  if (old && old.rts.length >= count && old.shares === sharing) return old;
  release(rt);
  const be = rt.be,
    stride = rt.params.floats * 4;
  const grads = be.alloc(stride * count, `${rt.name} chunk gradients`);
  const rep = new Replayer(be, rt.name);
  rep.hoistsAhead = sharing; // the chunks share their caches (shareCaches)
  const s: ChunkSet = { rts: [], sizes: [], grads, stride, rep, shares: sharing };
  sets.set(rt, s);
  if (!hooked.has(rt)) {
    hooked.add(rt);
    rt.onDispose.push(() => release(rt));
  }
  const split = (c: number): BatchSplit => ({
    sync: (io, combine) => {
      const at = s.rts[c].current!.steps.findIndex((st) => st.io === io);
      rep.sync(at, () =>
        combine(
          s.sizes.map((_, d) => s.rts[d].current!.steps[at].io),
          s.sizes,
        ),
      );
    },
  });
  for (let c = 0; c < count; c++) s.rts.push(new Runtime(rep.view, rt.graph, rt.params, rt.rng, rt.name, grads + c * stride, split(c)));
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

/** Floats of the gradient block one sum job adds up (a few hundredths of a millisecond). */
const SUM_PIECE = 32768;

/**
 * The chunk gradients summed into rt.gradBlock in chunk order, as jobs that follow the chunks' in their
 * dispatch: ranges of the block, each first waiting until every chunk's backward has passed the step that
 * writes it (Backend.backwardDone), the ranges the backward writes first first.
 */
function sumJobs(rt: Runtime, s: ChunkSet, chunks: number, wait: boolean): number[][] {
  const steps = s.rts[0].current!.steps,
    code = kernelNames(rt.be).indexOf('sum_blocks_f32');
  // Per weight entry (offset order): the progress count after which no chunk writes it (0: none does).
  const after = new Map<number, number>();
  steps.forEach((st, i) => {
    if (st.need.dw) for (const o of rt.params.offsetsOf(st.layer)) after.set(o, Math.max(after.get(o) ?? 0, steps.length - i));
  });
  const pieces: { from: number; n: number; count: number }[] = [];
  const add = (from: number, to: number, count: number) => {
    for (let at = from; at < to; at += SUM_PIECE) {
      const last = pieces[pieces.length - 1],
        n = Math.min(SUM_PIECE, to - at);
      if (last && last.count === count && last.from + last.n === at && last.n + n <= SUM_PIECE) last.n += n;
      else pieces.push({ from: at, n, count });
    }
  };
  let at = 0;
  for (const e of [...rt.params.entries].sort((p, q) => p.offset - q.offset)) {
    add(at, e.offset, 0);
    add(e.offset, e.offset + e.size, after.get(e.offset) ?? 0);
    at = e.offset + e.size;
  }
  add(at, rt.params.floats, 0);
  return pieces
    .sort((a, b) => a.count - b.count)
    .map((p) => [
      ...(p.count && wait ? Replayer.awaitJobs(chunks, p.count) : []),
      ...[code, 5, rt.gradBlock + p.from * 4, s.grads + p.from * 4, s.stride, chunks, p.n],
    ]);
}

/** Points the chunk arena's caches of layers that share them (Layer.sharesCache) at the first chunk's. */
function shareCaches(first: Arena, a: Arena): void {
  a.steps.forEach((st, i) => {
    if (st.layer.sharesCache) st.io.cache = first.steps[i].io.cache;
  });
}

/** A layer whose updates need the whole batch and that cannot sync the chunks, if any. */
function coupledLayer(rt: Runtime): Layer | undefined {
  // Asked twice per step; a graph's layers and their classes never change, so the answer is kept.
  let found = coupledOf.get(rt.graph);
  if (found === undefined) {
    found = rt.graph.nodes.map(layerOf).find((l) => l.applyUpdates !== Layer.prototype.applyUpdates && !l.syncsChunks) ?? null;
    coupledOf.set(rt.graph, found);
  }
  return found ?? undefined;
}
const coupledOf = new WeakMap<Runtime['graph'], Layer | null>();

/** Whether a training batch of n runs in chunks, each in an arena of its own (noting once why a model cannot). */
function stagesBatch(rt: Runtime, n: number): boolean {
  if (!chunkedTraining() || n <= CHUNK || unchunked.has(rt)) return false;
  const coupled = coupledLayer(rt);
  if (coupled) noteOnce(rt, `${coupled.name} updates state from the whole batch and cannot sync a batch split into chunks`);
  return !coupled;
}

/**
 * The arena a training batch of n (of batches up to `capacity`) is loaded into: one that holds only its
 * inputs and targets when it runs in chunks, else a whole training arena (of n when other batches may run
 * in chunks, so a short last batch does not plan a whole arena for all of them).
 */
export function trainingArena(rt: Runtime, capacity: number, n: number): Arena {
  if (stagesBatch(rt, n)) return rt.ensure(capacity, STAGE);
  return rt.ensure(chunkedTraining() && !unchunked.has(rt) ? n : capacity, TRAIN);
}

/**
 * The batch's data loss and correct count, with its gradients summed into rt.gradBlock, computed over
 * fixed chunks; undefined when this batch or model trains unchunked (then the caller runs it as ever).
 * `check` judges the loss before the gradients reach rt.gradBlock.
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
  if (!stagesBatch(rt, n)) return undefined;
  const a = rt.current!;
  const chunks = Math.ceil(n / CHUNK);
  const s = chunkSet(rt, chunks);
  const size = (c: number) => Math.min(CHUNK, n - c * CHUNK);
  s.sizes = Array.from({ length: chunks }, (_, c) => size(c));
  const row = shapeSize(io.input),
    out = shapeSize(io.output);
  for (let c = 0; c < chunks; c++) {
    const ca = s.rts[c].ensure(CHUNK, !s.shares ? TRAIN : c === 0 ? FIRST_CHUNK : OTHER_CHUNK);
    if (c > 0 && s.shares) shareCaches(s.rts[0].current!, ca);
  }
  // Recorded into the chunk's job: each thread copies the samples of the chunks it runs.
  const load = (c: number) => {
    const ca = s.rts[c].current!,
      from = c * CHUNK;
    s.rep.view.copy(ca.input, a.input + from * row * 4, size(c) * row);
    s.rep.view.copy(ca.labels, a.labels + from * 4, size(c));
    s.rep.view.copy(ca.targets, a.targets + from * out * 4, size(c) * out);
  };
  const lossOfChunk = (c: number) => lossOf(s.rts[c], loss, size(c), io, true, fused, weights && weights + c * CHUNK * 4, n);
  try {
    // Each chunk's forward, loss and backward, one job per chunk (cut into phases where a layer syncs the
    // chunks), then the gradient sum's jobs; the loss kernels' results come back kept.
    s.rep.run(
      chunks,
      (c) => {
        load(c);
        s.rts[c].forward(size(c), true);
        s.rep.keep(() => lossOfChunk(c));
        s.rts[c].backward(size(c), fused);
      },
      overlapSum ? sumJobs(rt, s, chunks, true) : [],
    );
    rt.updatesFrom = s.rts[0];
    let sum = 0,
      correct = 0;
    s.rep.playback(() => {
      for (let c = 0; c < chunks; c++) {
        const [l, k] = lossOfChunk(c);
        sum += l;
        correct += k;
      }
    });
    // Only the gradient block is written yet: a loss judged bad here leaves the model as it was.
    check(sum);
    if (!overlapSum) s.rep.dispatch(sumJobs(rt, s, chunks, false));
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

/**
 * Runs an elementwise update (the optimizer's) over the trainable runs split across the threads, when this
 * model trains chunked on more than one: `apply` is called once, in record mode, with the runs cut into
 * one stretch per thread (on 16-float boundaries), and each stretch's kernel calls run on its thread.
 * Elementwise, so the bits are those of one call over the whole runs. Returns false (nothing done) when
 * the update should run as ever on this thread.
 */
export function parallelUpdate(rt: Runtime, runs: UpdateRun[], apply: (be: Backend, runs: UpdateRun[]) => void): boolean {
  const s = sets.get(rt);
  const total = runs.reduce((t, r) => t + r.floats, 0);
  const threads = s ? threadsFor(rt.be, Math.floor(total / 65536)) : 1;
  if (!s || threads < 2) return false;
  const per = Math.ceil(total / threads / 16) * 16;
  const pieces: UpdateRun[] = [],
    owner: number[] = [];
  let done = 0;
  for (const r of runs)
    for (let at = 0; at < r.floats;) {
      const t = Math.floor(done / per),
        n = Math.min(r.floats - at, (t + 1) * per - done);
      pieces.push({ ptr: r.ptr + at * 4, offset: r.offset + at, floats: n });
      owner.push(t);
      at += n;
      done += n;
    }
  const ops = s.rep.record(() => apply(s.rep.view, pieces));
  const starts = Replayer.calls(ops);
  const perThread: number[][] = Array.from({ length: threads }, () => []);
  // The same number of calls per piece: piece p's are calls [p*k, (p+1)*k). Otherwise all run here, in order.
  const k = starts.length / pieces.length;
  if (!Number.isInteger(k)) perThread[0] = ops;
  else
    starts.forEach((st, i) => {
      const list = perThread[owner[Math.floor(i / k)]];
      for (let j = st; j < st + 2 + ops[st + 1]; j++) list.push(ops[j]);
    });
  s.rep.dispatch(perThread);
  return true;
}
