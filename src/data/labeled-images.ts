// A set of same-size pictures kept as bytes (NHWC, 0..255) with their class labels: what the CIFAR-10 and
// IDX loaders return, what a folder loader caches and what a page collecting webcam frames can build.
// Floats are made per batch, so 50,000 CIFAR pictures take 150 MB rather than 600 MB. Browser-safe.
import { DataError, ValueError } from '../errors.js';
import { randomSeed, Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { type Batch, Dataset } from './dataset.js';

export type PixelRange = [number, number];

/** Byte -> float table: exactly lo + (hi - lo) * p / 255, so 0 maps to lo and 255 to hi. */
export function pixelTable(range: PixelRange = [0, 1], where = 'pixel range'): Float32Array {
  if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isFinite)) {
    throw new ValueError(`${where}: range must be [lo, hi] of finite numbers, received ${JSON.stringify(range)}`);
  }
  const [lo, hi] = range;
  const table = new Float32Array(256);
  for (let p = 0; p < 256; p++) table[p] = lo + ((hi - lo) * p) / 255;
  table[255] = hi;
  return table;
}

/** Bytes to floats through a pixelTable. */
export function bytesToFloats(bytes: Uint8Array, table: Float32Array, out = new Float32Array(bytes.length), offset = 0): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[offset + i] = table[bytes[i]];
  return out;
}

export interface ImageBatchOptions {
  /** Samples per batch (default 32). */
  batchSize?: number;
  /** Shuffle at every pass (default false). */
  shuffle?: boolean;
  seed?: number;
  /** Pixel range of the floats (default [0, 1]). */
  range?: PixelRange;
}

export class LabeledImages {
  /** [count, height, width, channels]. */
  readonly shape: [number, number, number, number];
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  /** Names of the classes, label i is classNames[i] (may be shorter than the class count when unknown). */
  readonly classNames: string[];

  constructor(pixels: Uint8Array, shape: readonly number[], labels: ArrayLike<number>, classNames: string[] = [], what = 'LabeledImages') {
    const [n, h, w, c] = shape;
    if (shape.length !== 4 || ![n, h, w, c].every((d) => Number.isInteger(d) && d >= 0))
      throw new ValueError(`${what}: shape must be [count, height, width, channels], received [${shape.join(',')}]`);
    if (!(pixels instanceof Uint8Array) || pixels.length !== n * h * w * c)
      throw new DataError(`${what}: ${n}x${h}x${w}x${c} pictures need ${n * h * w * c} bytes, received ${pixels?.length}`);
    if (labels.length !== n) throw new DataError(`${what}: ${n} pictures but ${labels.length} labels`);
    const lab = Int32Array.from(labels);
    const bad = lab.findIndex((v) => v < 0 || !Number.isInteger(v));
    if (bad >= 0) throw new DataError(`${what}: label ${bad} is ${labels[bad]}; labels are class indices 0, 1, 2...`);
    this.pixels = pixels;
    this.shape = [n, h, w, c];
    this.labels = lab;
    this.classNames = classNames.slice();
  }

  /** Builds a set from per-picture byte arrays (each height x width x channels, e.g. from imagePixels). */
  static fromList(images: Uint8Array[], labels: ArrayLike<number>, shape: readonly number[], classNames: string[] = []): LabeledImages {
    const [h, w, c] = shape;
    const row = h * w * c;
    const pixels = new Uint8Array(images.length * row);
    images.forEach((p, i) => {
      if (!(p instanceof Uint8Array) || p.length !== row)
        throw new DataError(`LabeledImages.fromList: picture ${i} has ${p?.length} bytes, expected ${h}x${w}x${c} = ${row}`);
      pixels.set(p, i * row);
    });
    return new LabeledImages(pixels, [images.length, h, w, c], labels, classNames, 'LabeledImages.fromList');
  }

  get count(): number {
    return this.shape[0];
  }
  /** [height, width, channels]: a model's inputShape for these pictures. */
  get imageShape(): [number, number, number] {
    return [this.shape[1], this.shape[2], this.shape[3]];
  }
  /** One more than the largest label, or the number of class names if larger. */
  get numClasses(): number {
    let m = -1;
    for (const v of this.labels) if (v > m) m = v;
    return Math.max(m + 1, this.classNames.length);
  }

  /** Pictures [from, to) as a set sharing these bytes. */
  slice(from: number, to: number): LabeledImages {
    const row = this.shape[1] * this.shape[2] * this.shape[3];
    const a = Math.max(0, Math.min(from, this.count)),
      b = Math.max(a, Math.min(to, this.count));
    return new LabeledImages(
      this.pixels.subarray(a * row, b * row),
      [b - a, ...this.imageShape],
      this.labels.subarray(a, b),
      this.classNames,
    );
  }

  /** [training, validation]: the validation set is the LAST `fraction` of the pictures, as fit's validationSplit takes it. */
  split(fraction: number): [LabeledImages, LabeledImages] {
    if (!(fraction > 0 && fraction < 1))
      throw new ValueError(`LabeledImages.split: fraction must be between 0 and 1, received ${fraction}`);
    const at = Math.floor(this.count * (1 - fraction));
    return [this.slice(0, at), this.slice(at, this.count)];
  }

  /** All pictures as floats in `range` ([count, h, w, c]) and the labels. */
  toTensors(range: PixelRange = [0, 1]): { xs: Tensor; ys: Int32Array } {
    return {
      xs: new Tensor(bytesToFloats(this.pixels, pixelTable(range, 'LabeledImages.toTensors')), this.shape.slice()),
      ys: this.labels.slice(),
    };
  }

  /** Batches made on demand from the bytes: memory holds one batch of floats at a time. */
  dataset(opts: ImageBatchOptions = {}): Dataset<Batch> {
    const source = {
      count: this.count,
      imageShape: this.imageShape,
      pixelsOf: (i: number) => this.pictureBytes(i),
      labelOf: (i: number) => this.labels[i],
    };
    return pictureDataset(source, opts, 'LabeledImages.dataset');
  }

  /** Picture i's bytes (a view). */
  pictureBytes(i: number): Uint8Array {
    const row = this.shape[1] * this.shape[2] * this.shape[3];
    return this.pixels.subarray(i * row, (i + 1) * row);
  }
}

/** Pictures that can be served in batches: picture i's bytes (now or after a read and decode) and label. */
export interface PictureSource {
  count: number;
  imageShape: readonly number[];
  pixelsOf(i: number): Uint8Array | Promise<Uint8Array>;
  labelOf(i: number): number;
}

/** Batches of pictures made on demand (floats in `range`, shuffled at every pass when asked). */
export function pictureDataset(src: PictureSource, opts: ImageBatchOptions, where: string): Dataset<Batch> {
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ValueError(`${where}: batchSize must be a positive integer, received ${batchSize}`);
  if (opts.seed !== undefined && !Number.isInteger(opts.seed))
    throw new ValueError(`${where}: seed must be an integer, received ${opts.seed}`);
  const table = pixelTable(opts.range, where);
  const rng = opts.shuffle ? new Rng(opts.seed ?? randomSeed()) : undefined;
  return new Dataset(() => pictureBatches(src, batchSize, table, rng?.permutation(src.count)), Math.ceil(src.count / batchSize));
}

/** One pass over the pictures in batches (in `order` when shuffled), floats made batch by batch. */
async function* pictureBatches(src: PictureSource, batchSize: number, table: Float32Array, order?: Int32Array): AsyncGenerator<Batch> {
  const N = src.count,
    row = src.imageShape.reduce((a, d) => a * d, 1);
  for (let from = 0; from < N; from += batchSize) {
    const n = Math.min(batchSize, N - from);
    const xs = new Float32Array(n * row),
      ys = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const i = order ? order[from + r] : from + r;
      bytesToFloats(await src.pixelsOf(i), table, xs, r * row);
      ys[r] = src.labelOf(i);
    }
    yield { xs: new Tensor(xs, [n, ...src.imageShape]), ys };
  }
}
