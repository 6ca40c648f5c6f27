// Datasets as in tf.data: a re-iterable, lazy stream of elements (each iteration is one pass, e.g. one
// epoch), built from arrays, generators or files and transformed by map/filter/shuffle/batch/take/skip/
// repeat/prefetch. What `fitDataset` trains on is a Dataset of {xs, ys} batches. Browser-safe.
import { DataError, ValueError } from '../errors.js';
import { randomSeed, Rng } from '../random.js';
import { formatShape, Tensor } from '../tensor.js';
import type { Labels } from '../engine/validation.js';

/** One training batch: inputs [n, ...inputShape] and class indices or one-hot targets for the n samples. */
export interface Batch {
  xs: Tensor;
  ys: Labels;
}

/** What batch() makes of an element: Tensors stacked along a new first axis, numbers gathered into number[], objects key by key. */
export type Batched<T> = T extends Tensor
  ? Tensor
  : T extends number
    ? number[]
    : T extends object
      ? { [K in keyof T]: Batched<T[K]> }
      : never;

type Source<T> = () => AsyncIterable<T> | Iterable<T>;

export class Dataset<T> implements AsyncIterable<T> {
  /**
   * Elements per pass when known: a number, Infinity after repeat(), null when it cannot be known without
   * iterating (generators, filter).
   */
  readonly size: number | null;
  private readonly source: Source<T>;

  constructor(source: Source<T>, size: number | null = null) {
    if (typeof source !== 'function')
      throw new ValueError(`Dataset: expected a function that returns an iterable, received ${typeof source}`);
    this.source = source;
    this.size = size;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const it = this.source();
    if (it && typeof (it as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') return (it as AsyncIterable<T>)[Symbol.asyncIterator]();
    if (it && typeof (it as Iterable<T>)[Symbol.iterator] === 'function') return toAsync((it as Iterable<T>)[Symbol.iterator]());
    throw new ValueError(`Dataset: the source returned ${it === null ? 'null' : typeof it}, expected an iterable or async iterable`);
  }

  /** A fresh pass over the elements (TF.js's dataset.iterator()). */
  async iterator(): Promise<AsyncIterator<T>> {
    return this[Symbol.asyncIterator]();
  }

  map<U>(f: (x: T) => U | Promise<U>): Dataset<U> {
    return new Dataset(() => mapped(this, f), this.size);
  }

  filter(pred: (x: T) => boolean | Promise<boolean>): Dataset<T> {
    return new Dataset(() => filtered(this, pred), null);
  }

  /**
   * Groups consecutive elements: Tensors of one shape are stacked into [n, ...shape], numbers become
   * number[] (class indices), plain objects such as {xs, ys} are batched key by key. The last batch may be
   * smaller unless smallLastBatch is false.
   */
  batch(batchSize: number, smallLastBatch = true): Dataset<Batched<T>> {
    positiveInt(batchSize, 'batch: batchSize');
    const size =
      this.size === null || !Number.isFinite(this.size)
        ? this.size
        : smallLastBatch
          ? Math.ceil(this.size / batchSize)
          : Math.floor(this.size / batchSize);
    return new Dataset(() => batched(this, batchSize, smallLastBatch), size);
  }

  /**
   * Shuffles through a buffer of bufferSize elements (a buffer as large as the dataset shuffles it fully).
   * A seed makes the order reproducible; each pass draws a new order unless reshuffleEachIteration is false.
   */
  shuffle(bufferSize: number, seed?: number, reshuffleEachIteration = true): Dataset<T> {
    positiveInt(bufferSize, 'shuffle: bufferSize');
    if (seed !== undefined && !Number.isInteger(seed)) throw new ValueError(`Dataset.shuffle: seed must be an integer, received ${seed}`);
    const base = seed ?? randomSeed(),
      master = new Rng(base);
    return new Dataset(() => shuffled(this, bufferSize, new Rng(reshuffleEachIteration ? master.nextU32() : base)), this.size);
  }

  /** The first n elements of each pass. */
  take(n: number): Dataset<T> {
    nonNegativeInt(n, 'take: count');
    return new Dataset(() => taken(this, n), this.size === null ? null : Math.min(this.size, n));
  }

  /** Each pass without its first n elements. */
  skip(n: number): Dataset<T> {
    nonNegativeInt(n, 'skip: count');
    return new Dataset(() => skipped(this, n), this.size === null ? null : Math.max(0, this.size - n));
  }

  /** count passes in one (forever without a count): one iteration of the result runs the source again and again. */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined) nonNegativeInt(count, 'repeat: count');
    const size = count === undefined ? (this.size === 0 ? 0 : Infinity) : this.size === null ? null : this.size * count;
    return new Dataset(() => repeated(this, count), size);
  }

  /** This dataset's elements, then the other's. */
  concatenate(other: Dataset<T>): Dataset<T> {
    return new Dataset(() => concatenated(this, other), this.size === null || other.size === null ? null : this.size + other.size);
  }

  /**
   * Asks for up to n elements ahead while the consumer works on the current one, so that file reads and
   * decoding overlap with training steps.
   */
  prefetch(n: number): Dataset<T> {
    positiveInt(n, 'prefetch: bufferSize');
    return new Dataset(() => prefetched(this, n), this.size);
  }

  async forEachAsync(f: (x: T) => void | Promise<void>): Promise<void> {
    for await (const x of this) await f(x);
  }

  /** Every element of one pass (refused for endless datasets). */
  async toArray(): Promise<T[]> {
    if (this.size === Infinity) throw new ValueError('Dataset.toArray: the dataset repeats forever; take(n) first');
    const out: T[] = [];
    for await (const x of this) out.push(x);
    return out;
  }
}

// One pass of each transformation, as a generator over the source dataset's pass.
async function* mapped<T, U>(src: AsyncIterable<T>, f: (x: T) => U | Promise<U>): AsyncGenerator<U> {
  for await (const x of src) yield await f(x);
}

async function* filtered<T>(src: AsyncIterable<T>, pred: (x: T) => boolean | Promise<boolean>): AsyncGenerator<T> {
  for await (const x of src) if (await pred(x)) yield x;
}

async function* batched<T>(src: AsyncIterable<T>, batchSize: number, smallLastBatch: boolean): AsyncGenerator<Batched<T>> {
  let group: T[] = [];
  for await (const x of src) {
    group.push(x);
    if (group.length === batchSize) {
      yield stack(group, 'batch') as Batched<T>;
      group = [];
    }
  }
  if (group.length > 0 && smallLastBatch) yield stack(group, 'batch') as Batched<T>;
}

async function* shuffled<T>(src: AsyncIterable<T>, bufferSize: number, rng: Rng): AsyncGenerator<T> {
  const buf: T[] = [];
  for await (const x of src) {
    if (buf.length < bufferSize) {
      buf.push(x);
      continue;
    }
    const i = rng.int(bufferSize);
    yield buf[i];
    buf[i] = x;
  }
  while (buf.length > 0) {
    const i = rng.int(buf.length);
    yield buf[i];
    buf[i] = buf[buf.length - 1];
    buf.pop();
  }
}

async function* taken<T>(src: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  if (n === 0) return;
  let k = 0;
  for await (const x of src) {
    yield x;
    if (++k >= n) return;
  }
}

async function* skipped<T>(src: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  let k = 0;
  for await (const x of src) if (k++ >= n) yield x;
}

async function* repeated<T>(src: AsyncIterable<T>, count: number | undefined): AsyncGenerator<T> {
  for (let r = 0; count === undefined || r < count; r++) {
    let any = false;
    for await (const x of src) {
      any = true;
      yield x;
    }
    if (!any) return; // an empty source repeated forever is still empty, not a busy loop
  }
}

async function* concatenated<T>(a: AsyncIterable<T>, b: AsyncIterable<T>): AsyncGenerator<T> {
  yield* a;
  yield* b;
}

async function* prefetched<T>(src: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  const it = src[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (queue.length < n) queue.push(it.next());
      const r = await queue.shift()!;
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // Requests still queued may reject (e.g. after the one that failed): nobody awaits them.
    for (const q of queue) q.catch(() => {});
    await it.return?.();
  }
}

async function* toAsync<T>(it: Iterator<T>): AsyncGenerator<T> {
  try {
    for (let r = it.next(); !r.done; r = it.next()) yield r.value;
  } finally {
    it.return?.();
  }
}

function positiveInt(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ValueError(`Dataset.${what} must be a positive integer, received ${JSON.stringify(v)}`);
}
function nonNegativeInt(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ValueError(`Dataset.${what} must be a non-negative integer, received ${JSON.stringify(v)}`);
}

/** Stacks a group of like elements (see Dataset.batch); `path` names the key in errors. */
function stack(items: unknown[], path: string): unknown {
  const first = items[0];
  if (first instanceof Tensor) {
    const shape = first.shape,
      row = first.data.length;
    const out = new Float32Array(items.length * row);
    items.forEach((t, i) => {
      if (!(t instanceof Tensor) || t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k]) || t.data.length !== row) {
        throw new DataError(
          `Dataset.${path}: element ${i} of the batch is ${t instanceof Tensor ? `a Tensor ${formatShape(t.shape)}` : describe(t)}, expected a Tensor ${formatShape(shape)} like the first`,
        );
      }
      out.set(t.data, i * row);
    });
    return new Tensor(out, [items.length, ...shape]);
  }
  if (typeof first === 'number') {
    items.forEach((v, i) => {
      if (typeof v !== 'number')
        throw new DataError(`Dataset.${path}: element ${i} of the batch is ${describe(v)}, expected a number like the first`);
    });
    return items.slice() as number[];
  }
  if (first !== null && typeof first === 'object' && Object.getPrototypeOf(first) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) {
      out[key] = stack(
        items.map((x, i) => {
          if (x === null || typeof x !== 'object' || !(key in x))
            throw new DataError(`Dataset.${path}: element ${i} of the batch has no '${key}', unlike the first`);
          return (x as Record<string, unknown>)[key];
        }),
        `${path}.${key}`,
      );
    }
    return out;
  }
  throw new DataError(`Dataset.${path}: cannot batch ${describe(first)}; elements must be Tensors, numbers, or plain objects of them`);
}

const describe = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : ArrayBuffer.isView(v) ? v.constructor.name : typeof v;

/** A dataset of the given items, in order. */
export function array<T>(items: readonly T[]): Dataset<T> {
  if (!Array.isArray(items)) throw new ValueError(`data.array: expected an array, received ${describe(items)}`);
  return new Dataset(() => items, items.length);
}

/**
 * A dataset whose passes come from calling `make` (a generator function, or any function returning an
 * iterator or async iterator), once per pass.
 */
export function generator<T>(make: () => Iterator<T> | AsyncIterator<T> | Iterable<T> | AsyncIterable<T>): Dataset<T> {
  if (typeof make !== 'function') throw new ValueError(`data.generator: expected a generator function, received ${typeof make}`);
  return new Dataset(() => {
    const it = make() as Iterator<T> & AsyncIterator<T> & Partial<Iterable<T> & AsyncIterable<T>>;
    if (it && (typeof it[Symbol.asyncIterator] === 'function' || typeof it[Symbol.iterator] === 'function')) return it as Iterable<T>;
    if (it && typeof it.next === 'function') return { [Symbol.asyncIterator]: () => it } as AsyncIterable<T>;
    throw new ValueError(`data.generator: the function returned ${it === null ? 'null' : typeof it}, expected an iterator`);
  });
}

/** Zips datasets into one of objects (or arrays): element i holds element i of each; stops at the shortest. */
export function zip<T extends Record<string, Dataset<unknown>>>(
  sets: T,
): Dataset<{ [K in keyof T]: T[K] extends Dataset<infer U> ? U : never }> {
  const keys = Object.keys(sets);
  if (keys.length === 0 || keys.some((k) => !(sets[k] instanceof Dataset)))
    throw new ValueError('data.zip: expected an object (or array) of Datasets');
  const sizes = keys.map((k) => sets[k].size);
  const size = sizes.includes(null) ? null : Math.min(...(sizes as number[]));
  return new Dataset(async function* () {
    const its = keys.map((k) => sets[k][Symbol.asyncIterator]());
    try {
      for (;;) {
        const rs = await Promise.all(its.map((it) => it.next()));
        if (rs.some((r) => r.done)) return;
        const out = (Array.isArray(sets) ? [] : {}) as Record<string, unknown>;
        keys.forEach((k, i) => (out[k] = rs[i].value));
        yield out as { [K in keyof T]: T[K] extends Dataset<infer U> ? U : never };
      }
    } finally {
      await Promise.all(its.map((it) => it.return?.()));
    }
  }, size);
}

export interface TensorDatasetOptions {
  /** Samples per batch (default 32). */
  batchSize?: number;
  /** Shuffle the samples at every pass (default false). */
  shuffle?: boolean;
  /** Seed of the shuffling. */
  seed?: number;
}

/**
 * Batches straight from an x Tensor [N, ...] and its labels (class indices or a [N, C] target Tensor),
 * without a per-sample detour: each batch copies its rows once.
 */
export function tensors(x: Tensor, y: Labels, opts: TensorDatasetOptions = {}): Dataset<Batch> {
  if (!(x instanceof Tensor) || x.shape.length < 1 || x.shape[0] < 1)
    throw new ValueError(
      `data.tensors: x must be a Tensor with samples along its first axis, received ${x instanceof Tensor ? formatShape(x.shape) : describe(x)}`,
    );
  const N = x.shape[0];
  const ny = y instanceof Tensor ? y.shape[0] : (y as ArrayLike<number>)?.length;
  if (ny !== N) throw new ValueError(`data.tensors: x has ${N} samples but y has ${ny === undefined ? 'no length' : ny}`);
  const batchSize = opts.batchSize ?? 32;
  positiveInt(batchSize, 'tensors: batchSize');
  if (opts.seed !== undefined && !Number.isInteger(opts.seed))
    throw new ValueError(`data.tensors: seed must be an integer, received ${opts.seed}`);
  const rng = opts.shuffle ? new Rng(opts.seed ?? randomSeed()) : undefined;
  return new Dataset(
    function* () {
      const order = rng ? rng.permutation(N) : undefined;
      for (let from = 0; from < N; from += batchSize) {
        const n = Math.min(batchSize, N - from);
        yield { xs: gatherRows(x, order, from, n), ys: gatherLabels(y, order, from, n) };
      }
    },
    Math.ceil(N / batchSize),
  );
}

/** Rows order[from..from+n) (or from..from+n) of a Tensor, copied. */
export function gatherRows(t: Tensor, order: Int32Array | undefined, from: number, n: number): Tensor {
  const row = t.data.length / t.shape[0];
  const out = new Float32Array(n * row);
  for (let r = 0; r < n; r++) {
    const i = order ? order[from + r] : from + r;
    out.set(t.data.subarray(i * row, (i + 1) * row), r * row);
  }
  return new Tensor(out, [n, ...t.shape.slice(1)]);
}

function gatherLabels(y: Labels, order: Int32Array | undefined, from: number, n: number): Labels {
  if (y instanceof Tensor) return gatherRows(y, order, from, n);
  // The same kind of array: a label the model would refuse (1.5, -1) must reach it unchanged.
  const out: number[] | Int32Array | Uint8Array | Uint16Array = Array.isArray(y)
    ? new Array<number>(n)
    : new (y.constructor as new (n: number) => Int32Array)(n);
  for (let r = 0; r < n; r++) out[r] = y[order ? order[from + r] : from + r];
  return out;
}
