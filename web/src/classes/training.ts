// Training in the Web Worker with live charts: the training loss and accuracy as a line (a point per
// progress report, ~10 a second), validation as dots per epoch; a stop button that keeps what was learned.
import type { TrainData, TrainProgress, TrainResult } from '../../../src/browser/protocol.js';
import { type TrainJob, trainInWorker } from '../../../src/browser/train-in-worker.js';
import { currentBackend } from '../../../src/index.js';
import { accuracyChart, lossChart } from '../charts.js';
import { $, fmt, pct } from './dom.js';
import { type Recipe, trainingSpec } from './net.js';

export class Trainer {
  readonly loss = lossChart($<HTMLCanvasElement>('loss-chart'));
  readonly acc = accuracyChart($<HTMLCanvasElement>('acc-chart'));
  /** Called with the first convolution's kernel after each epoch (as the worker reports it). */
  onKernel: (kernel: Float32Array, shape: number[]) => void = () => {};
  private job?: TrainJob;
  /** Every progress report of the current run (for tests and the console). */
  progress: TrainProgress[] = [];
  valDots = 0;

  get busy(): boolean {
    return !!this.job;
  }

  /** Trains a fresh net on `data`; resolves with the worker's result (also when stopped). */
  async run(data: TrainData, classes: number, recipe: Recipe): Promise<TrainResult> {
    if (this.job) throw new Error('already training');
    const n = data.shape[0];
    const total = n * recipe.epochs;
    this.loss.reset(total);
    this.acc.reset(total);
    this.progress = [];
    this.valDots = 0;
    this.stats({});
    $('progress-bar').style.width = '0';
    const { kernel, ...spec } = trainingSpec(classes, n, recipe);
    this.job = trainInWorker(
      spec,
      data,
      {
        epochs: recipe.epochs,
        batchSize: recipe.batchSize,
        seed: 1,
        build: currentBackend().build,
        progressInterval: 80,
        epochWeights: !!kernel,
      },
      (p) => {
        this.onProgress(p, n, total, recipe.epochs);
        if (kernel && p.weights) this.onKernel(p.weights[kernel.index], kernel.shape);
      },
    );
    try {
      return await this.job.promise;
    } finally {
      this.job = undefined;
    }
  }

  stop(): void {
    this.job?.cancel();
  }

  private onProgress(p: TrainProgress, n: number, total: number, epochs: number): void {
    this.progress.push(p);
    this.loss.push(p.images, p.loss);
    this.acc.push(p.images, p.acc);
    let val: number | undefined;
    for (const e of p.epochsDone) {
      const at = Math.min(total, (e.epoch + 1) * n, p.images);
      if (e.epoch + 1 < epochs) {
        this.loss.epochMark(at);
        this.acc.epochMark(at);
      }
      if (e.val_loss !== undefined) this.loss.dot(at, e.val_loss);
      if (e.val_acc !== undefined) {
        this.acc.dot(at, e.val_acc);
        this.valDots++;
        val = e.val_acc;
      }
    }
    this.stats({ epoch: `${p.epoch + 1} / ${p.epochs}`, ips: p.imagesPerSec, loss: p.loss, acc: p.acc, val });
    $('progress-bar').style.width = `${Math.min(100, (p.images / total) * 100)}%`;
  }

  private stats(s: { epoch?: string; ips?: number; loss?: number; acc?: number; val?: number }): void {
    $('s-epoch').textContent = s.epoch ?? '–';
    $('s-ips').textContent = s.ips !== undefined ? Math.round(s.ips).toLocaleString('en-US') : '–';
    $('s-loss').textContent = fmt(s.loss);
    $('s-acc').textContent = pct(s.acc);
    if (s.val !== undefined || s.epoch === undefined) $('s-val').textContent = pct(s.val);
  }
}
