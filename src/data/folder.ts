// An image folder as training data, in Node: root/<class>/**/*.{png,jpg,jpeg}, one class per
// sub-folder, class names sorted (label i is the i-th name, as Keras's image_dataset_from_directory).
// Scanning reads every picture's header only (size and colour, checked against the size limit); pixels
// are decoded batch by batch while training, so memory holds one batch however large the folder. When
// the fitted pictures fit in `cacheBytes` they are kept as bytes after their first decode.
// The folder is treated as hostile: symbolic links are never followed inside it, FIFOs, sockets and
// devices are skipped (listed in `skipped`), and every read is size-capped (src/data/node-files.ts).
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DataError, FileError, ValueError } from '../errors.js';
import { checkImageSize, DEFAULT_IMAGE_LIMIT, type ImageInfo, type ImageLimit, imageInfo, maxImageFileBytes } from '../image.js';
import { Rng } from '../random.js';
import type { Batch, Dataset } from './dataset.js';
import { decodeImage } from './decode.js';
import { type ImageBatchOptions, LabeledImages, pictureDataset } from './labeled-images.js';
import { readDataFile } from './node-files.js';
import { type Fit, fitPixels, pixelShape, type PixelShape } from './pixels.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
const HEADER_BYTES = 2 ** 16;
const MAX_DEPTH = 16;

export interface ImageFolderOptions {
  /** Model input side, or [height, width]; by default chosen from the pictures (see suggestInput). */
  imageSize?: number | [number, number];
  /** 1 (grey) or 3 (RGB); by default 1 when every picture is stored grey, else 3. */
  channels?: 1 | 3;
  /** 'crop' (default): the centred box with the input's aspect ratio; 'stretch': the whole picture. */
  fit?: Fit;
  /** Fraction of each class held out for validation (default 0): a seeded random pick per class. */
  validationSplit?: number;
  /** Seed of the validation pick (default 0, so the split is the same every run). */
  seed?: number;
  /** Largest picture accepted, checked from its header before decoding (default 4096x4096). */
  maxImageSize?: ImageLimit;
  /** Keep fitted pictures as bytes after their first decode when all of them fit in this many bytes (default 256 MiB; 0: never). */
  cacheBytes?: number;
}

export interface ImageFile {
  path: string;
  label: number;
  info: ImageInfo;
}

export type Subset = 'training' | 'validation' | 'all';

/** The input shape the rule picks for these pictures: square, side = median short side clamped to [8, 64]; grey only if all are grey. */
export function suggestInput(infos: readonly ImageInfo[]): [number, number, 1 | 3] {
  if (infos.length === 0) return [32, 32, 3];
  const short = infos.map((i) => Math.min(i.width, i.height)).sort((a, b) => a - b);
  const side = Math.min(64, Math.max(8, short[Math.floor((short.length - 1) / 2)]));
  return [side, side, infos.every((i) => i.grey) ? 1 : 3];
}

export class ImageFolder {
  readonly root: string;
  readonly classNames: string[];
  readonly files: ImageFile[];
  /** Entries that are not training pictures, and why (links, FIFOs, other file types, WebP...). */
  readonly skipped: { path: string; reason: string }[];
  readonly shape: Required<PixelShape>;
  readonly validationSplit: number;
  private readonly subsets: Record<Subset, number[]>;
  private readonly limit: ImageLimit;
  private readonly cache?: { bytes: Uint8Array; filled: Uint8Array };

  /** Use imageFolder(root, options), which scans the folder. */
  constructor(
    root: string,
    classNames: string[],
    files: ImageFile[],
    skipped: { path: string; reason: string }[],
    opts: ImageFolderOptions,
  ) {
    this.root = root;
    this.classNames = classNames;
    this.files = files;
    this.skipped = skipped;
    const [h, w, c] = suggestInput(files.map((f) => f.info));
    const size = opts.imageSize ?? [h, w];
    const [height, width] = typeof size === 'number' ? [size, size] : size;
    this.shape = pixelShape([height, width, opts.channels ?? c], opts.fit ?? 'crop', `imageFolder(${root})`) as Required<PixelShape>;
    this.limit = opts.maxImageSize ?? DEFAULT_IMAGE_LIMIT;
    this.validationSplit = opts.validationSplit ?? 0;
    this.subsets = splitByClass(files, classNames.length, this.validationSplit, opts.seed ?? 0);
    const row = this.rowBytes,
      budget = opts.cacheBytes ?? 256 * 2 ** 20;
    if (files.length * row <= budget) this.cache = { bytes: new Uint8Array(files.length * row), filled: new Uint8Array(files.length) };
  }

  /** [height, width, channels]: the model's inputShape. */
  get inputShape(): [number, number, number] {
    return [this.shape.height, this.shape.width, this.shape.channels];
  }
  private get rowBytes(): number {
    return this.shape.height * this.shape.width * this.shape.channels;
  }
  /** Number of pictures in a subset. */
  count(subset: Subset = 'all'): number {
    return this.subsets[subset].length;
  }

  /** One picture fitted to the input, as bytes (from the cache when it was decoded before). */
  async pixels(i: number): Promise<Uint8Array> {
    const row = this.rowBytes,
      c = this.cache;
    if (c?.filled[i]) return c.bytes.subarray(i * row, (i + 1) * row);
    const f = this.files[i];
    const img = await decodeImage(await readDataFile(f.path, maxImageFileBytes(this.limit), { noFollow: true }), f.path, this.limit);
    const out = fitPixels(img, this.shape, c?.bytes, c ? i * row : 0);
    if (!c) return out;
    c.filled[i] = 1;
    return c.bytes.subarray(i * row, (i + 1) * row);
  }

  /** Batches of a subset, decoded as they are needed (one batch in memory at a time). */
  dataset(subset: Subset = 'training', opts: ImageBatchOptions = {}): Dataset<Batch> {
    const idx = this.subsetIndices(subset);
    const source = {
      count: idx.length,
      imageShape: this.inputShape,
      pixelsOf: (k: number) => this.pixels(idx[k]),
      labelOf: (k: number) => this.files[idx[k]].label,
    };
    return pictureDataset(source, opts, 'ImageFolder.dataset');
  }

  /** Every picture of a subset decoded into memory at once (for folders that fit). */
  async load(subset: Subset = 'all'): Promise<LabeledImages> {
    const idx = this.subsetIndices(subset),
      row = this.rowBytes;
    const pixels = new Uint8Array(idx.length * row);
    for (let k = 0; k < idx.length; k++) pixels.set(await this.pixels(idx[k]), k * row);
    return new LabeledImages(
      pixels,
      [idx.length, ...this.inputShape],
      idx.map((i) => this.files[i].label),
      this.classNames,
      this.root,
    );
  }

  private subsetIndices(subset: Subset): number[] {
    const idx = this.subsets[subset];
    if (!idx) throw new ValueError(`ImageFolder: subset must be 'training', 'validation' or 'all', received ${JSON.stringify(subset)}`);
    if (idx.length === 0)
      throw new ValueError(
        `ImageFolder(${this.root}): the ${subset} subset is empty${subset === 'validation' ? ' (validationSplit is 0, or every class has one picture)' : ''}`,
      );
    return idx;
  }
}

/** Per class, a seeded pick of round(fraction * n) pictures (leaving at least one) for validation. */
function splitByClass(files: ImageFile[], classes: number, fraction: number, seed: number): Record<Subset, number[]> {
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction < 1))
    throw new ValueError(`imageFolder: validationSplit must be in [0, 1), received ${fraction}`);
  if (!Number.isInteger(seed)) throw new ValueError(`imageFolder: seed must be an integer, received ${seed}`);
  const rng = new Rng(seed);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  files.forEach((f, i) => byClass[f.label].push(i));
  const val = new Set<number>();
  for (const members of byClass) {
    const k = Math.min(members.length - 1, Math.round(fraction * members.length));
    if (k <= 0) continue;
    const p = rng.permutation(members.length);
    for (let j = 0; j < k; j++) val.add(members[p[j]]);
  }
  const all = files.map((_, i) => i);
  return { all, training: all.filter((i) => !val.has(i)), validation: all.filter((i) => val.has(i)) };
}

/** Scans root/<class>/... and checks every picture's header. */
export async function imageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
  if (typeof root !== 'string' || root === '')
    throw new ValueError('imageFolder: expected the path of a folder with one sub-folder per class');
  let st;
  try {
    st = await stat(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(`${root}: cannot read the image folder (${code ?? (e as Error).message})`, root, code);
  }
  if (!st.isDirectory()) throw new DataError(`${root}: not a folder; expected root/<class>/<pictures>`);
  const limit = opts.maxImageSize ?? DEFAULT_IMAGE_LIMIT;
  const skipped: { path: string; reason: string }[] = [];
  const classNames: string[] = [];
  const found: { path: string; label: number }[] = [];
  for (const e of sorted(await list(root))) {
    const path = join(root, e.name);
    if (e.isDirectory()) {
      const label = classNames.push(e.name) - 1;
      for (const p of await walk(path, skipped, 1)) found.push({ path: p, label });
    } else
      skipped.push({
        path,
        reason: e.isSymbolicLink()
          ? 'a symbolic link (not followed)'
          : e.isFile()
            ? 'not inside a class folder'
            : 'not a regular file or folder',
      });
  }
  if (classNames.length < 2)
    throw new DataError(
      `${root}: found ${classNames.length} class folder(s)${classNames.length ? ` (${classNames[0]})` : ''}; an image folder needs one sub-folder per class, at least two`,
    );
  const files: ImageFile[] = new Array(found.length);
  await inParallel(found.length, 16, async (i) => {
    const { path, label } = found[i];
    files[i] = { path, label, info: await headerOf(path, limit) };
  });
  const empty = classNames.filter((_, k) => !files.some((f) => f.label === k));
  if (empty.length)
    throw new DataError(`${root}: class folder(s) ${empty.map((c) => `'${c}'`).join(', ')} hold no ${IMAGE_EXTENSIONS.join('/')} pictures`);
  return new ImageFolder(root, classNames, files, skipped, opts);
}

async function list(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(`${dir}: cannot list the folder (${code ?? (e as Error).message})`, dir, code);
  }
}

/** Code-point order, as Python's sorted(); hidden entries (.DS_Store, .git) left out. */
const sorted = (es: Dirent[]) => es.filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Picture files under a class folder, sorted, sub-folders included; everything else goes to `skipped`. */
async function walk(dir: string, skipped: { path: string; reason: string }[], depth: number): Promise<string[]> {
  const out: string[] = [];
  for (const e of sorted(await list(dir))) {
    const path = join(dir, e.name);
    if (e.isSymbolicLink()) skipped.push({ path, reason: 'a symbolic link (not followed)' });
    else if (e.isDirectory()) {
      if (depth < MAX_DEPTH) out.push(...(await walk(path, skipped, depth + 1)));
      else skipped.push({ path, reason: `nested deeper than ${MAX_DEPTH} folders` });
    } else if (!e.isFile()) skipped.push({ path, reason: 'not a regular file (FIFO, socket or device)' });
    else if (IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(path);
    else
      skipped.push({
        path,
        reason: extname(e.name).toLowerCase() === '.webp' ? 'WebP is not decoded in Node' : `not a ${IMAGE_EXTENSIONS.join('/')} file`,
      });
  }
  return out;
}

/** A picture's header (size, colour), checked against the limit; JPEGs with large metadata are read further. */
async function headerOf(path: string, limit: ImageLimit): Promise<ImageInfo> {
  let head = await readDataFile(path, HEADER_BYTES, { noFollow: true, prefix: HEADER_BYTES });
  let info: ImageInfo;
  try {
    info = imageInfo(head, path);
  } catch (e) {
    if (head.length < HEADER_BYTES) throw e;
    head = await readDataFile(path, maxImageFileBytes(limit), { noFollow: true });
    info = imageInfo(head, path);
  }
  checkImageSize(info, limit, path, 'maxImageSize');
  return info;
}

async function inParallel(n: number, width: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await f(next++);
    }),
  );
}
