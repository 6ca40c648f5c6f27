// Datasets (src/data/dataset.ts): sources, transformations, sizes and their errors, as tf.data defines them.
import { describe, expect, it } from 'vitest';
import { array, Dataset, generator, tensors, zip } from '../src/data/dataset.js';
import { DataError, ValueError } from '../src/errors.js';
import { Tensor, tensor } from '../src/tensor.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('Dataset sources', () => {
  it('array(7 items) iterates in order, again on every pass, with size 7', async () => {
    const ds = array(range(7));
    expect(ds.size).toBe(7);
    expect(await ds.toArray()).toEqual(range(7));
    expect(await ds.toArray()).toEqual(range(7));
    const it = await ds.iterator();
    expect(await it.next()).toEqual({ value: 0, done: false });
  });
  it('generator() calls the function once per pass; sync and async generators alike; size unknown', async () => {
    let calls = 0;
    const sync = generator(function* () {
      calls++;
      yield* [1, 2, 3];
    });
    const asyncGen = generator(async function* () {
      yield 'a';
      yield 'b';
    });
    expect(sync.size).toBeNull();
    expect(await sync.toArray()).toEqual([1, 2, 3]);
    expect(await sync.toArray()).toEqual([1, 2, 3]);
    expect(calls).toBe(2);
    expect(await asyncGen.toArray()).toEqual(['a', 'b']);
    const plain = generator(() => {
      let i = 0;
      return { next: () => (i < 2 ? { value: i++, done: false } : { value: undefined, done: true }) } as Iterator<number>;
    });
    expect(await plain.toArray()).toEqual([0, 1]);
  });
  it('refuses what is not a source', () => {
    expect(() => array(3 as unknown as number[])).toThrow(ValueError);
    expect(() => generator(5 as unknown as () => Iterator<number>)).toThrow(ValueError);
    expect(() => new Dataset(null as unknown as () => number[])).toThrow(ValueError);
  });
  it('a generator returning a non-iterator is a ValueError at iteration', async () => {
    await expect(generator(() => 42 as unknown as Iterator<number>).toArray()).rejects.toThrow(ValueError);
  });
});

describe('Dataset transformations', () => {
  it('map/filter/take/skip/concatenate on 10 items, with their sizes', async () => {
    const ds = array(range(10));
    expect(await ds.map((x) => x * 2).toArray()).toEqual(range(10).map((x) => x * 2));
    expect(await ds.map(async (x) => x + 1).toArray()).toEqual(range(10).map((x) => x + 1));
    const odd = ds.filter((x) => x % 2 === 1);
    expect(odd.size).toBeNull();
    expect(await odd.toArray()).toEqual([1, 3, 5, 7, 9]);
    expect(ds.take(3).size).toBe(3);
    expect(ds.take(30).size).toBe(10);
    expect(await ds.take(3).toArray()).toEqual([0, 1, 2]);
    expect(await ds.take(0).toArray()).toEqual([]);
    expect(ds.skip(7).size).toBe(3);
    expect(await ds.skip(7).toArray()).toEqual([7, 8, 9]);
    expect(await ds.take(2).concatenate(ds.skip(8)).toArray()).toEqual([0, 1, 8, 9]);
  });
  it('take() stops pulling from the source (a never-ending generator is fine)', async () => {
    let pulled = 0;
    const endless = generator(function* () {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    });
    expect(await endless.take(5).toArray()).toEqual(range(5));
    expect(pulled).toBe(5);
  });
  it('repeat(3) of 4 items gives 12, size 12; repeat() is endless (size Infinity) and toArray refuses it', async () => {
    const ds = array(range(4));
    expect(ds.repeat(3).size).toBe(12);
    expect(await ds.repeat(3).toArray()).toEqual([...range(4), ...range(4), ...range(4)]);
    expect(ds.repeat().size).toBe(Infinity);
    expect(await ds.repeat().take(10).toArray()).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    await expect(ds.repeat().toArray()).rejects.toThrow(ValueError);
    expect(await array([]).repeat().take(3).toArray()).toEqual([]);
  });
  it('batch(4) of 10 numbers: [4,4,2] as number[]; smallLastBatch=false drops the 2; sizes ceil/floor', async () => {
    const ds = array(range(10));
    expect(ds.batch(4).size).toBe(3);
    expect(ds.batch(4, false).size).toBe(2);
    expect(await ds.batch(4).toArray()).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(await ds.batch(4, false).toArray()).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });
  it('batch(3) of {xs: Tensor [2,2,1], ys: number} stacks xs into [3,2,2,1] and ys into number[]', async () => {
    const items = range(5).map((i) => ({ xs: tensor([i, i, i, i + 0.5], [2, 2, 1]), ys: i % 2 }));
    const [b0, b1] = await array(items).batch(3).toArray();
    expect(b0.xs).toBeInstanceOf(Tensor);
    expect(b0.xs.shape).toEqual([3, 2, 2, 1]);
    expect(Array.from(b0.xs.data)).toEqual([0, 0, 0, 0.5, 1, 1, 1, 1.5, 2, 2, 2, 2.5]);
    expect(b0.ys).toEqual([0, 1, 0]);
    expect(b1.xs.shape).toEqual([2, 2, 2, 1]);
    expect(b1.ys).toEqual([1, 0]);
  });
  it('batch errors name the element: mixed shapes, a missing key, an unbatchable value', async () => {
    const mixed = array([tensor([1, 2], [2]), tensor([1, 2, 3], [3])]).batch(2);
    await expect(mixed.toArray()).rejects.toThrow(DataError);
    await expect(mixed.toArray()).rejects.toThrow(/element 1 of the batch is a Tensor \[3\], expected a Tensor \[2\]/);
    await expect(
      array([{ xs: 1, ys: 2 }, { xs: 3 }] as { xs: number; ys: number }[])
        .batch(2)
        .toArray(),
    ).rejects.toThrow(/element 1 of the batch has no 'ys'/);
    await expect(
      array(['a', 'b'] as unknown as number[])
        .batch(2)
        .toArray(),
    ).rejects.toThrow(/cannot batch string/);
    await expect(
      array([{ xs: 1 }, { xs: 'x' }] as unknown as { xs: number }[])
        .batch(2)
        .toArray(),
    ).rejects.toThrow(/batch\.xs: element 1 of the batch is string/);
  });
  it('shuffle with a seed: a permutation, reproducible, new order each pass unless reshuffleEachIteration=false', async () => {
    const ds = array(range(50));
    const a = ds.shuffle(50, 7),
      b = ds.shuffle(50, 7);
    const [a1, a2] = [await a.toArray(), await a.toArray()];
    expect([...a1].sort((x, y) => x - y)).toEqual(range(50));
    expect(a1).not.toEqual(range(50));
    expect(a2).not.toEqual(a1);
    expect(await b.toArray()).toEqual(a1);
    expect(await b.toArray()).toEqual(a2);
    const fixed = ds.shuffle(50, 7, false);
    expect(await fixed.toArray()).toEqual(await fixed.toArray());
    expect(await ds.shuffle(50, 8).toArray()).not.toEqual(a1);
  });
  it('shuffle with a small buffer (5) keeps every element once and moves none ahead by more than the buffer', async () => {
    const out = await array(range(40)).shuffle(5, 1).toArray();
    expect([...out].sort((x, y) => x - y)).toEqual(range(40));
    out.forEach((v, pos) => expect(v).toBeLessThanOrEqual(pos + 4));
  });
  it('prefetch(3) yields the same elements, asks ahead, and passes errors on', async () => {
    let asked = 0;
    const src = generator(async function* () {
      for (let i = 0; i < 6; i++) {
        asked++;
        yield i;
      }
    });
    const it = await src.prefetch(3).iterator();
    expect((await it.next()).value).toBe(0);
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(await src.prefetch(3).toArray()).toEqual(range(6));
    const failing = generator(async function* () {
      yield 1;
      throw new DataError('broken file');
    });
    await expect(failing.prefetch(2).toArray()).rejects.toThrow('broken file');
  });
  it('zip({xs, ys}) pairs elements and stops at the shorter; arrays zip to arrays', async () => {
    const z = zip({ xs: array([1, 2, 3]), ys: array(['a', 'b']) });
    expect(z.size).toBe(2);
    expect(await z.toArray()).toEqual([
      { xs: 1, ys: 'a' },
      { xs: 2, ys: 'b' },
    ]);
    expect(await zip([array([1]), array([2])] as unknown as Record<string, Dataset<number>>).toArray()).toEqual([[1, 2]]);
    expect(() => zip({})).toThrow(ValueError);
  });
  it('bad arguments are ValueErrors naming the method', () => {
    const ds = array([1]);
    expect(() => ds.batch(0)).toThrow(/Dataset\.batch: batchSize must be a positive integer, received 0/);
    expect(() => ds.shuffle(2.5)).toThrow(/shuffle: bufferSize/);
    expect(() => ds.shuffle(2, 1.5)).toThrow(/seed must be an integer/);
    expect(() => ds.take(-1)).toThrow(/take: count/);
    expect(() => ds.skip(NaN)).toThrow(/skip: count/);
    expect(() => ds.repeat(-2)).toThrow(/repeat: count/);
    expect(() => ds.prefetch(0)).toThrow(/prefetch: bufferSize/);
  });
  it('for await works directly on a Dataset, forEachAsync too', async () => {
    const seen: number[] = [];
    for await (const x of array([3, 1, 2])) seen.push(x);
    await array([9]).forEachAsync((x) => void seen.push(x));
    expect(seen).toEqual([3, 1, 2, 9]);
  });
});

describe('tensors(x, y): batches straight from arrays', () => {
  const x = tensor(Float32Array.from(range(7 * 3)), [7, 3]);
  it('x [7,3] with Uint8Array labels in batches of 3: [3,3,1] rows in order, labels keep their type', async () => {
    const ds = tensors(x, Uint8Array.from([0, 1, 2, 0, 1, 2, 0]), { batchSize: 3 });
    expect(ds.size).toBe(3);
    const bs = await ds.toArray();
    expect(bs.map((b) => b.xs.shape)).toEqual([
      [3, 3],
      [3, 3],
      [1, 3],
    ]);
    expect(Array.from(bs[2].xs.data)).toEqual([18, 19, 20]);
    expect(bs[1].ys).toBeInstanceOf(Uint8Array);
    expect(Array.from(bs[1].ys as Uint8Array)).toEqual([0, 1, 2]);
  });
  it('shuffled with a seed: each pass a permutation of the rows, rows and labels kept together, reproducible', async () => {
    const labels = range(7);
    const ds = tensors(x, labels, { batchSize: 4, shuffle: true, seed: 3 });
    const pass = async () => (await ds.toArray()).flatMap((b) => Array.from(b.ys as number[]).map((l, r) => [l, b.xs.data[r * 3]]));
    const p1 = await pass(),
      p2 = await pass();
    expect(p1.map(([l]) => l).sort()).toEqual(labels);
    for (const [l, v] of [...p1, ...p2]) expect(v).toBe(l * 3);
    expect(p1).not.toEqual(p2);
    expect(
      await (async () => (await tensors(x, labels, { batchSize: 4, shuffle: true, seed: 3 }).toArray()).flatMap((b) => b.ys as number[]))(),
    ).toEqual(p1.map(([l]) => l));
  });
  it('one-hot targets [7,2] are batched as Tensors; non-integer labels pass through unchanged for the model to refuse', async () => {
    const onehot = tensor(Float32Array.from(range(14).map((i) => i % 2)), [7, 2]);
    const [b] = await tensors(x, onehot, { batchSize: 7 }).toArray();
    expect((b.ys as Tensor).shape).toEqual([7, 2]);
    const [c] = await tensors(x, [0.5, 1, 2, 3, 4, 5, 6], { batchSize: 2 }).toArray();
    expect(c.ys).toEqual([0.5, 1]);
  });
  it('mismatched sample counts and bad options are ValueErrors', () => {
    expect(() => tensors(x, [1, 2])).toThrow(/x has 7 samples but y has 2/);
    expect(() => tensors(x, range(7), { batchSize: 0 })).toThrow(ValueError);
    expect(() => tensors([1, 2] as unknown as Tensor, [1, 2])).toThrow(ValueError);
  });
});
