// The IDX datasets of the MNIST family by their published file names: MNIST, Fashion-MNIST, KMNIST
// (train-/t10k- images and labels) and EMNIST (emnist-<split>-train/test-..., with its mapping file for
// class names). Each file may be plain or gzipped (name or name.gz). Browser-safe.
import { DataError, ValueError } from '../errors.js';
import { decodeIdx, idxImagePixels, idxLabels } from '../idx.js';
import { LabeledImages } from './labeled-images.js';
import { DEFAULT_MAX_BYTES, isNotFound, joinSource, readFirst, readSource } from './source.js';

export type IdxDatasetName = 'mnist' | 'fashion-mnist' | 'kmnist' | 'emnist';
export const IDX_DATASETS: readonly IdxDatasetName[] = ['mnist', 'fashion-mnist', 'kmnist', 'emnist'];
export type EmnistSplit = 'balanced' | 'byclass' | 'bymerge' | 'digits' | 'letters' | 'mnist';
const EMNIST_SPLITS: readonly EmnistSplit[] = ['balanced', 'byclass', 'bymerge', 'digits', 'letters', 'mnist'];

const DIGITS = [...'0123456789'];
const CLASS_NAMES: Record<Exclude<IdxDatasetName, 'emnist'>, string[]> = {
  mnist: DIGITS,
  'fashion-mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  kmnist: ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'],
};
/** Classes per EMNIST split; 'letters' labels its 26 classes 1..26 in the files, loaded as 0..25. */
const EMNIST_CLASSES: Record<EmnistSplit, number> = { balanced: 47, byclass: 62, bymerge: 47, digits: 10, letters: 26, mnist: 10 };

export interface IdxDatasetOptions {
  /** Folder of the files: a path (Node) or a URL. */
  dir: string | URL;
  /** EMNIST's split (default 'balanced'). */
  split?: EmnistSplit;
  /**
   * EMNIST stores every picture transposed; true (the default for EMNIST, false for the others) turns
   * them upright, so they look like MNIST digits.
   */
  transpose?: boolean;
  /** Keep only the first N training / test pictures. */
  trainLimit?: number;
  testLimit?: number;
  /** Largest file accepted, in bytes, compressed or not (default 2 GiB). */
  maxBytes?: number;
}

/** A dataset's training and test pictures as bytes [n, 28, 28, 1], with class names. */
export async function loadIdxDataset(
  name: IdxDatasetName,
  opts: IdxDatasetOptions,
): Promise<{ train: LabeledImages; test: LabeledImages }> {
  if (!IDX_DATASETS.includes(name))
    throw new ValueError(`loadIdxDataset: unknown dataset '${name}'; expected one of ${IDX_DATASETS.join(', ')}`);
  if (!opts || (typeof opts.dir !== 'string' && !(opts.dir instanceof URL)))
    throw new ValueError(`loadIdxDataset('${name}'): expected { dir: path or URL of the folder with the IDX files }`);
  const split = opts.split ?? 'balanced';
  if (name === 'emnist' && !EMNIST_SPLITS.includes(split))
    throw new ValueError(`loadIdxDataset('emnist'): split must be one of ${EMNIST_SPLITS.join(', ')}, received '${split}'`);
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const emnist = name === 'emnist';
  const prefix = (part: 'train' | 'test') => (emnist ? `emnist-${split}-${part}` : part === 'train' ? 'train' : 't10k');
  const classes = emnist ? EMNIST_CLASSES[split] : 10;
  const first = emnist && split === 'letters' ? 1 : 0;
  const classNames = emnist ? await emnistNames(opts.dir, split, first, max) : CLASS_NAMES[name];
  const load = async (part: 'train' | 'test', limit: number | undefined) => {
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
      throw new ValueError(`loadIdxDataset('${name}'): limits must be positive integers, received ${limit}`);
    const [img, lab] = await Promise.all(
      ['images-idx3-ubyte', 'labels-idx1-ubyte'].map(async (kind) => {
        const base = `${prefix(part)}-${kind}`;
        const { bytes, name: file } = await readFirst(opts.dir, [base, `${base}.gz`], max);
        return { idx: await decodeIdx(bytes, file, max), file };
      }),
    );
    if (img.idx.dims[0] !== lab.idx.dims[0])
      throw new DataError(`${img.file} has ${img.idx.dims[0]} images but ${lab.file} has ${lab.idx.dims[0]} labels`);
    const labels = Int32Array.from(idxLabels(lab.idx, lab.file, classes, first), (v) => v - first);
    const { pixels, shape } = idxImagePixels(img.idx, img.file, opts.transpose ?? emnist);
    const set = new LabeledImages(pixels, shape, labels, classNames, img.file);
    return limit === undefined ? set : set.slice(0, limit);
  };
  const train = await load('train', opts.trainLimit);
  return { train, test: await load('test', opts.testLimit) };
}

/** Class names from emnist-<split>-mapping.txt ("label code [code...]" a line); the labels themselves when it is absent. */
async function emnistNames(dir: string | URL, split: EmnistSplit, first: number, max: number): Promise<string[]> {
  const file = joinSource(dir, `emnist-${split}-mapping.txt`);
  const n = EMNIST_CLASSES[split];
  let text: string;
  try {
    text = new TextDecoder().decode(await readSource(file, Math.min(max, 2 ** 16)));
  } catch (e) {
    if (isNotFound(e)) return Array.from({ length: n }, (_, i) => String(i + first));
    throw e;
  }
  const names: string[] = new Array(n).fill('');
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const [label, code] = line.trim().split(/\s+/).map(Number);
    const k = label - first;
    if (!(Number.isInteger(k) && k >= 0 && k < n && Number.isInteger(code) && code > 0 && code < 0x110000))
      throw new DataError(`${file}: line '${line.trim()}' is not 'label charcode' for one of ${n} classes`);
    names[k] = String.fromCodePoint(code);
  }
  const missing = names.findIndex((s) => s === '');
  if (missing >= 0) throw new DataError(`${file}: no name for class ${missing + first}`);
  return names;
}
