// The CIFAR-10 binary format (cifar-10-batches-bin: data_batch_1.bin ... data_batch_5.bin, test_batch.bin,
// batches.meta.txt): records of 1 label byte and 3072 pixel bytes, the 32x32 red plane, then green, then
// blue (CHW), turned into NHWC bytes. Parsed strictly: a file that is not a whole number of records, or a
// label outside 0..9, is a DataError naming the file. Browser-safe (files come through src/data/source.ts).
import { DataError, ValueError } from '../errors.js';
import { LabeledImages } from './labeled-images.js';
import { DEFAULT_MAX_BYTES, gunzip, isGzip, isNotFound, joinSource, readFirst, readSource } from './source.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const SIDE = 32,
  PLANE = SIDE * SIDE,
  RECORD = 1 + 3 * PLANE;
export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_FILES = ['test_batch.bin'];

/** The records of one CIFAR-10 binary file (at most `limit` of them) as [n, 32, 32, 3] bytes. */
export function parseCifar10(bytes: Uint8Array, name: string, limit = Infinity, classNames = CIFAR10_CLASSES): LabeledImages {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DataError(
      `${name}: ${bytes.length} bytes is not a whole number of CIFAR-10 records (${RECORD} bytes each: 1 label byte + 3072 pixel bytes)${bytes.length > RECORD ? '; the file is truncated or not CIFAR-10' : ''}`,
    );
  }
  const n = Math.min(bytes.length / RECORD, limit);
  const pixels = new Uint8Array(n * 3 * PLANE),
    labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const r = k * RECORD;
    if (bytes[r] > 9) throw new DataError(`${name}: record ${k} has label ${bytes[r]}, expected a class in [0, 9]`);
    labels[k] = bytes[r];
    const o = k * 3 * PLANE;
    for (let p = 0; p < PLANE; p++) {
      pixels[o + 3 * p] = bytes[r + 1 + p];
      pixels[o + 3 * p + 1] = bytes[r + 1 + PLANE + p];
      pixels[o + 3 * p + 2] = bytes[r + 1 + 2 * PLANE + p];
    }
  }
  return new LabeledImages(pixels, [n, SIDE, SIDE, 3], labels, classNames, name);
}

/** Joins sets of same-size pictures into one. */
export function concatImages(parts: LabeledImages[], classNames: string[]): LabeledImages {
  const total = parts.reduce((s, p) => s + p.count, 0);
  const [h, w, c] = parts[0].imageShape;
  const pixels = new Uint8Array(total * h * w * c),
    labels = new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * h * w * c);
    labels.set(p.labels, at);
    at += p.count;
  }
  return new LabeledImages(pixels, [total, h, w, c], labels, classNames);
}

export interface Cifar10Options {
  /** The cifar-10-batches-bin folder: a path (Node) or a URL. Files may also be gzipped (name.bin.gz). */
  dir: string | URL;
  /** Keep only the first N training / test pictures (reading stops there). */
  trainLimit?: number;
  testLimit?: number;
  /** Largest file accepted, in bytes (default 2 GiB). */
  maxBytes?: number;
}

/** CIFAR-10's 50,000 training and 10,000 test pictures as bytes [n, 32, 32, 3]; class names from batches.meta.txt. */
export async function loadCifar10(opts: Cifar10Options): Promise<{ train: LabeledImages; test: LabeledImages }> {
  if (!opts || (typeof opts.dir !== 'string' && !(opts.dir instanceof URL)))
    throw new ValueError('loadCifar10: expected { dir: path or URL of the cifar-10-batches-bin folder }');
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const classNames = await readClassNames(opts.dir, max);
  const split = async (files: string[], limit = Infinity): Promise<LabeledImages> => {
    if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1)))
      throw new ValueError(`loadCifar10: limits must be positive integers, received ${limit}`);
    const parts: LabeledImages[] = [];
    for (let i = 0, have = 0; i < files.length && have < limit; i++) {
      const { bytes, name } = await readFirst(opts.dir, [files[i], `${files[i]}.gz`], max);
      const raw = isGzip(bytes) ? await gunzip(bytes, name, () => max, 0) : bytes;
      parts.push(parseCifar10(raw, name, limit - have, classNames));
      have += parts[parts.length - 1].count;
    }
    return parts.length === 1 ? parts[0] : concatImages(parts, classNames);
  };
  const train = await split(CIFAR10_TRAIN_FILES, opts.trainLimit);
  return { train, test: await split(CIFAR10_TEST_FILES, opts.testLimit) };
}

/** batches.meta.txt: one class name a line; the standard names when it is absent. */
async function readClassNames(dir: string | URL, max: number): Promise<string[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readSource(joinSource(dir, 'batches.meta.txt'), Math.min(max, 2 ** 16));
  } catch (e) {
    if (isNotFound(e)) return CIFAR10_CLASSES;
    throw e;
  }
  const names = new TextDecoder()
    .decode(bytes)
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length !== 10)
    throw new DataError(`${joinSource(dir, 'batches.meta.txt')}: expected 10 class names, one a line, found ${names.length}`);
  return names;
}
