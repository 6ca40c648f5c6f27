// Dataset files in their official formats, generated small in a temp folder: CIFAR-10 binary batches and
// the IDX files of Fashion-MNIST, KMNIST and EMNIST, plain and gzipped, from paths and from URLs (served
// by a local node:http server: nothing is downloaded). Damaged, oversized and hostile files are errors
// naming the file, raised before large allocations.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, loadCifar10, parseCifar10 } from '../src/data/cifar.js';
import { loadIdxDataset } from '../src/data/idx-datasets.js';
import '../src/data/node-files.js';
import { readSource } from '../src/data/source.js';
import { DataError, FileError } from '../src/errors.js';
import { readIdx } from '../src/idx.js';
import { idxBytes } from './data-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-data-'));
const dir = (name: string) => {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
};

/** n CIFAR records; record k's label is (k + seed) % 10 and channel c of pixel p is (k*7 + c*50 + p + seed) % 256. */
function cifarBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n * 3073);
  for (let k = 0; k < n; k++) {
    b[k * 3073] = (k + seed) % 10;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[k * 3073 + 1 + c * 1024 + p] = (k * 7 + c * 50 + p + seed) % 256;
  }
  return b;
}

/** n pictures rows x cols: pixel (r, c) of picture k is (k*31 + r*cols + c) % 256; labels k % classes + first. */
function writeIdxPair(
  folder: string,
  prefix: string,
  n: number,
  rows: number,
  cols: number,
  classes: number,
  gz: boolean,
  first = 0,
): void {
  const img = idxBytes(
    [n, rows, cols],
    Array.from({ length: n * rows * cols }, (_, i) => (Math.floor(i / (rows * cols)) * 31 + (i % (rows * cols))) % 256),
  );
  const lab = idxBytes(
    [n],
    Array.from({ length: n }, (_, k) => (k % classes) + first),
  );
  writeFileSync(join(folder, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(img) : img);
  writeFileSync(join(folder, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(lab) : lab);
}

const cifarDir = dir('cifar');
for (let i = 1; i <= 5; i++) {
  const bytes = cifarBytes(3, i * 10);
  if (i === 2) writeFileSync(join(cifarDir, `data_batch_${i}.bin.gz`), gzipSync(bytes));
  else writeFileSync(join(cifarDir, `data_batch_${i}.bin`), bytes);
}
writeFileSync(join(cifarDir, 'test_batch.bin'), cifarBytes(2, 99));
const NAMES = CIFAR10_CLASSES.map((c) => c.toUpperCase());
writeFileSync(join(cifarDir, 'batches.meta.txt'), `${NAMES.join('\n')}\n\n`);

let server: Server,
  base = '';
/** Routes of the test server besides the temp folder: /bytes?n= (Content-Length), /endless (chunked, never ends), /fail. */
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/fail') {
      res.writeHead(500);
      return res.end('no');
    }
    if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': '999999' });
      return res.end();
    }
    if (url.pathname === '/endless') {
      res.writeHead(200);
      const chunk = Buffer.alloc(4096);
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      return pump();
    }
    try {
      const body = await readFile(join(tmp, decodeURIComponent(url.pathname)));
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
);

describe('CIFAR-10 binary', () => {
  it('5 training files (one gzipped) and test_batch: 15 + 2 pictures [32,32,3], CHW planes turned into NHWC, labels, class names from batches.meta.txt', async () => {
    const { train, test } = await loadCifar10({ dir: cifarDir });
    expect(train.shape).toEqual([15, 32, 32, 3]);
    expect(test.shape).toEqual([2, 32, 32, 3]);
    expect(train.classNames).toEqual(NAMES);
    for (const [k, file, rec] of [
      [0, 1, 0],
      [4, 2, 1],
      [14, 5, 2],
    ]) {
      const seed = file * 10;
      expect(train.labels[k]).toBe((rec + seed) % 10);
      for (const [y, x, c] of [
        [0, 0, 0],
        [0, 1, 2],
        [31, 30, 1],
        [17, 5, 2],
      ]) {
        expect(train.pixels[((k * 32 + y) * 32 + x) * 3 + c]).toBe((rec * 7 + c * 50 + y * 32 + x + seed) % 256);
      }
    }
  });
  it('trainLimit 4 reads only the first two files (the others may be missing)', async () => {
    const d = dir('cifar-partial');
    writeFileSync(join(d, 'data_batch_1.bin'), cifarBytes(3, 0));
    writeFileSync(join(d, 'data_batch_2.bin'), cifarBytes(3, 1));
    writeFileSync(join(d, 'test_batch.bin'), cifarBytes(1, 0));
    const { train, test } = await loadCifar10({ dir: d, trainLimit: 4 });
    expect(train.count).toBe(4);
    expect(train.labels[3]).toBe(1);
    expect(test.classNames).toEqual(CIFAR10_CLASSES);
    await expect(loadCifar10({ dir: d })).rejects.toThrow(FileError);
    await expect(loadCifar10({ dir: d })).rejects.toThrow(/none of data_batch_3\.bin, data_batch_3\.bin\.gz is there/);
  });
  it('the same pictures from a URL as from the path', async () => {
    const local = await loadCifar10({ dir: cifarDir, testLimit: 1 });
    const remote = await loadCifar10({ dir: `${base}/cifar/`, testLimit: 1 });
    expect(remote.train.pixels).toEqual(local.train.pixels);
    expect(remote.test.labels).toEqual(local.test.labels);
    expect(remote.train.classNames).toEqual(NAMES);
  });
  it('a file of 2 records minus 5 bytes, a label of 10, an empty file: DataErrors naming the file', () => {
    expect(() => parseCifar10(cifarBytes(2, 0).subarray(0, 6141), 'x.bin')).toThrow(
      /^x\.bin: 6141 bytes is not a whole number of CIFAR-10 records \(3073 bytes each.*truncated/,
    );
    const b = cifarBytes(3, 0);
    b[2 * 3073] = 10;
    expect(() => parseCifar10(b, 'y.bin')).toThrow(/^y\.bin: record 2 has label 10, expected a class in \[0, 9\]/);
    expect(() => parseCifar10(new Uint8Array(0), 'z.bin')).toThrow(DataError);
  });
  it('a batches.meta.txt with 9 names is a DataError naming it', async () => {
    const d = dir('cifar-meta');
    for (const f of ['data_batch_1.bin', 'test_batch.bin']) writeFileSync(join(d, f), cifarBytes(1, 0));
    writeFileSync(join(d, 'batches.meta.txt'), NAMES.slice(0, 9).join('\n'));
    await expect(loadCifar10({ dir: d, trainLimit: 1 })).rejects.toThrow(
      /batches\.meta\.txt: expected 10 class names, one a line, found 9/,
    );
  });
});

describe('IDX datasets', () => {
  it('Fashion-MNIST (gzipped): 12 training and 5 test pictures [28,28,1] with its class names', async () => {
    const d = dir('fashion');
    writeIdxPair(d, 'train', 12, 28, 28, 10, true);
    writeIdxPair(d, 't10k', 5, 28, 28, 10, true);
    const { train, test } = await loadIdxDataset('fashion-mnist', { dir: d });
    expect(train.shape).toEqual([12, 28, 28, 1]);
    expect(test.count).toBe(5);
    expect(train.classNames[9]).toBe('Ankle boot');
    expect(train.pixels[28 * 28 + 5]).toBe((31 + 5) % 256);
    expect(Array.from(train.labels.subarray(9, 12))).toEqual([9, 0, 1]);
  });
  it('KMNIST (plain files) from a URL, limits applied', async () => {
    const d = dir('kmnist');
    writeIdxPair(d, 'train', 6, 28, 28, 10, false);
    writeIdxPair(d, 't10k', 3, 28, 28, 10, false);
    const { train, test } = await loadIdxDataset('kmnist', { dir: `${base}/kmnist`, trainLimit: 4 });
    expect(train.count).toBe(4);
    expect(test.count).toBe(3);
    expect(train.classNames[0]).toBe('o');
  });
  it('EMNIST balanced: pictures turned upright (stored transposed), names from the mapping file; transpose: false keeps them as stored', async () => {
    const d = dir('emnist');
    writeIdxPair(d, 'emnist-balanced-train', 4, 28, 28, 47, true);
    writeIdxPair(d, 'emnist-balanced-test', 2, 28, 28, 47, true);
    writeFileSync(join(d, 'emnist-balanced-mapping.txt'), Array.from({ length: 47 }, (_, i) => `${i} ${48 + i}`).join('\n') + '\n');
    const { train } = await loadIdxDataset('emnist', { dir: d });
    // Stored (row 0, col 5) of picture 1 becomes upright (row 5, col 0).
    expect(train.pixels[28 * 28 + 5 * 28]).toBe((31 + 5) % 256);
    expect(train.classNames.slice(0, 3)).toEqual(['0', '1', '2']);
    expect(train.classNames[17]).toBe('A');
    const raw = await loadIdxDataset('emnist', { dir: d, transpose: false });
    expect(raw.train.pixels[28 * 28 + 5]).toBe((31 + 5) % 256);
  });
  it('EMNIST letters: files label 1..26, loaded as classes 0..25; a label 0 in them is a DataError', async () => {
    const d = dir('emnist-letters');
    writeIdxPair(d, 'emnist-letters-train', 27, 28, 28, 26, false, 1);
    writeIdxPair(d, 'emnist-letters-test', 2, 28, 28, 26, false, 1);
    const { train } = await loadIdxDataset('emnist', { dir: d, split: 'letters' });
    expect(train.labels[0]).toBe(0);
    expect(train.labels[25]).toBe(25);
    expect(train.classNames[0]).toBe('1');
    writeIdxPair(d, 'emnist-letters-test', 2, 28, 28, 26, false, 0);
    await expect(loadIdxDataset('emnist', { dir: d, split: 'letters' })).rejects.toThrow(
      /emnist-letters-test-labels-idx1-ubyte: label 0 is 0, expected a class in \[1, 26\]/,
    );
  });
  it('images and labels of different counts, an unknown dataset or split: errors', async () => {
    const d = dir('mismatch');
    writeIdxPair(d, 'train', 3, 28, 28, 10, false);
    writeFileSync(join(d, 'train-labels-idx1-ubyte'), idxBytes([2], [1, 2]));
    writeIdxPair(d, 't10k', 1, 28, 28, 10, false);
    await expect(loadIdxDataset('mnist', { dir: d })).rejects.toThrow(/has 3 images but .*train-labels-idx1-ubyte has 2 labels/);
    await expect(loadIdxDataset('svhn' as 'mnist', { dir: d })).rejects.toThrow(/unknown dataset 'svhn'/);
    await expect(loadIdxDataset('emnist', { dir: d, split: 'bogus' as 'balanced' })).rejects.toThrow(/split must be one of/);
  });
});

describe('gzip and size caps', () => {
  const img = idxBytes(
    [2, 3, 4],
    Array.from({ length: 24 }, (_, i) => i),
  );
  it('a gzipped IDX file reads like the plain one, told by its bytes whatever its name', async () => {
    expect((await readIdx(gzipSync(img))).dims).toEqual([2, 3, 4]);
    expect(Array.from((await readIdx(gzipSync(img))).data)).toEqual(Array.from(img.subarray(16)));
  });
  it('a gzipped header that declares 10^6 x 28 x 28 bytes is refused against the cap before decompressing the rest', async () => {
    const head = idxBytes([1_000_000, 28, 28], []);
    const bomb = gzipSync(Buffer.concat([head, Buffer.alloc(2_000_000)]));
    await expect(readIdx(bomb, 1_000_000)).rejects.toThrow(/the IDX header declares 784000016 bytes, more than the 1000000 allowed/);
  });
  it('gzipped data longer than its header declares stops at the declared size; a truncated gzip is a DataError', async () => {
    await expect(readIdx(gzipSync(Buffer.concat([img, Buffer.alloc(100000)])))).rejects.toThrow(
      /more than the 40 decompressed bytes allowed/,
    );
    await expect(readIdx(gzipSync(img).subarray(0, 20))).rejects.toThrow(/not a valid gzip file, or a truncated one/);
  });
  it('URLs: a 500 is a FileError naming the URL, a Content-Length over the cap and an endless body are DataErrors at the cap', async () => {
    await expect(readSource(`${base}/fail`)).rejects.toThrow(FileError);
    await expect(readSource(`${base}/fail`)).rejects.toThrow(`${base}/fail: the server answered 500`);
    await expect(readSource(`${base}/big`, 1000)).rejects.toThrow(/999999 bytes is more than the 1000 allowed/);
    await expect(readSource(`${base}/endless`, 100_000)).rejects.toThrow(/endless: more than the 100000 bytes allowed/);
  });
  it('paths: a FIFO is refused at once (no hanging read), a folder too; a symlink named directly is followed to its regular file', async () => {
    const fifo = join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(readSource(fifo)).rejects.toThrow(/fifo: not a regular file \(a FIFO\)/);
    await expect(readSource(tmp)).rejects.toThrow(/not a regular file \(a folder\)/);
    writeFileSync(join(tmp, 'real.idx'), img);
    symlinkSync(join(tmp, 'real.idx'), join(tmp, 'link.idx'));
    expect((await readIdx(join(tmp, 'link.idx'))).dims).toEqual([2, 3, 4]);
    await expect(readSource(join(tmp, 'real.idx'), 10)).rejects.toThrow(/40 bytes is more than the 10 allowed/);
    await expect(readSource(join(tmp, 'missing.idx'))).rejects.toThrow(/missing\.idx: cannot open \(ENOENT\)/);
  });
});
