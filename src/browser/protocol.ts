// Types shared by the training worker and trainInWorker(): the model description, the data, the options,
// the progress reports and the messages. Types only, so the client bundle stays free of the library.
import type { BuildName } from '../backend.js';
import type { LossName } from '../engine/losses.js';
import type { History } from '../engine/training.js';
import type { ModelFiles } from '../io/registry.js';
import type { ScheduleConfig } from '../schedules.js';

/**
 * An optimizer as compile() takes it: a name, or TF.js's serialized form (Momentum is SGD with momentum).
 * Its learningRate may be a schedule's config ({className: 'OneCycle', config: {...}}), as compile() takes it.
 */
export type OptimizerSpec =
  | 'sgd'
  | 'adam'
  | 'adamw'
  | 'rmsprop'
  | 'adagrad'
  | {
      className: 'SGD' | 'Momentum' | 'Adam' | 'AdamW' | 'RMSProp' | 'RMSprop' | 'Adagrad';
      config?: Record<string, number | boolean | ScheduleConfig>;
    };

/** A model as plain data, so it can cross to the worker. */
export interface ModelSpec {
  /**
   * The model as TF.js layers JSON: what model.toJSON() returns (string or object), or the modelTopology of
   * a saved model.json (Sequential or functional).
   */
  modelTopology: Record<string, unknown> | string;
  /** Seed of the initial weights (and of shuffling unless options.seed is given). */
  seed?: number;
  compile: { optimizer: OptimizerSpec; loss?: LossName };
  /** Start from these weights (getWeights order) instead of a fresh initialisation. Copied, not transferred. */
  weights?: Float32Array[];
}

export interface TrainSplit {
  /** Samples, row-major [N, ...inputShape]. */
  x: Float32Array;
  /** Shape of x including the batch axis, e.g. [N, 28, 28, 1]. */
  shape: number[];
  /** Class index per sample. */
  y: Uint8Array | Int32Array | Uint16Array;
}

export interface TrainData extends TrainSplit {
  /** Evaluated after every epoch (val_loss, val_acc in the progress reports and the history). */
  validation?: TrainSplit;
}

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of the shuffling. */
  seed?: number;
  /** Which wasm build the worker uses: 'relaxed' (FMA, default when the engine has it) or 'simd'. */
  build?: BuildName;
  /** Where the worker script is (default: worker.js next to this module, which bundlers emit with the app). */
  workerUrl?: string | URL;
  /** Minimum time between progress reports, ms (default 100). */
  progressInterval?: number;
  /**
   * Send the weights (getWeights order) with the first progress report after each epoch, e.g. to draw the
   * filters as they learn (default false). Epochs that end between two reports send only the latest weights.
   */
  epochWeights?: boolean;
  /** Move the data's buffers to the worker instead of copying them (default true: trainInWorker detaches them at once). */
  transfer?: boolean;
  /**
   * Threads that train (setThreads in the worker; any count gives the same weights). Default: the cores,
   * where the page is cross-origin isolated; elsewhere one thread, in the unchunked order, with a note.
   */
  threads?: number;
}

export interface EpochLogs {
  epoch: number;
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
}

export interface TrainProgress {
  /** 0-based epoch and batch being trained. */
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Mean loss and accuracy of the batches since the previous report (the previous values if none ended since). */
  loss: number;
  acc: number;
  /** Training throughput since the previous report (time between batches only, not validation). */
  imagesPerSec: number;
  /** Samples trained so far, over all epochs. */
  images: number;
  elapsedMs: number;
  /** Epochs that ended since the previous report, with their mean loss/accuracy (and validation). */
  epochsDone: EpochLogs[];
  /** With options.epochWeights: the weights at the end of the last epoch in epochsDone (transferred). */
  weights?: Float32Array[];
}

export interface TrainResult {
  /** Trained weights in getWeights order (transferred from the worker). */
  weights: Float32Array[];
  /** Names and shapes of the weights, as model.weightSpecs(). */
  weightSpecs: { name: string; shape: number[] }[];
  history: History;
  /** The trained model in the TF.js layers format with its optimizer state: `await loadModel(result.files)`. */
  files: ModelFiles;
  /** True when cancel() stopped training early (weights are those reached so far). */
  cancelled: boolean;
  build: BuildName;
  /** Threads that trained, and why fewer than asked for, if so. */
  threads: { active: number; note?: string };
  images: number;
  elapsedMs: number;
}

/** To the worker itself: the port that carries the requests below. */
export type ToWorker = { type: 'connect'; port: MessagePort; cancelled: boolean } | TrainRequest;
/** Over the port, in order. */
export type TrainRequest =
  { type: 'train'; spec: ModelSpec; data: TrainData; options: Omit<TrainOptions, 'workerUrl' | 'transfer'> } | { type: 'cancel' };

export type FromWorker =
  | { type: 'ready'; build: BuildName }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'done'; result: TrainResult }
  | { type: 'error'; name: string; message: string };
