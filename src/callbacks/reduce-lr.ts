// ReduceLROnPlateau as Keras 3 has it (TF.js has none): when the monitored log stops improving for
// `patience` epochs, the learning rate is multiplied by `factor` (not below minLr), then `cooldown`
// epochs pass before counting again. Each epoch's logs (and the history) gain learning_rate.
import { ValueError } from '../errors.js';
import { Callback, type Logs, type Mode, monitored, resolveMode } from './callback.js';

export interface ReduceLROnPlateauArgs {
  monitor?: string;
  /** The rate is multiplied by this (default 0.1; must be < 1). */
  factor?: number;
  patience?: number;
  verbose?: number;
  mode?: Mode;
  /** An improvement must be larger than this (default 1e-4). */
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
}

export class ReduceLROnPlateau extends Callback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly verbose: number;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  best = Infinity;
  wait = 0;
  cooldownCounter = 0;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    this.monitor = args.monitor ?? 'val_loss';
    this.factor = args.factor ?? 0.1;
    if (!(this.factor < 1) || !(this.factor > 0))
      throw new ValueError(`ReduceLROnPlateau does not support a factor >= 1.0 (or <= 0); received ${args.factor}`);
    this.patience = args.patience ?? 10;
    this.verbose = args.verbose ?? 0;
    this.minDelta = args.minDelta ?? 1e-4;
    this.cooldown = args.cooldown ?? 0;
    this.minLr = args.minLr ?? 0;
    for (const [k, v] of Object.entries({ patience: this.patience, minDelta: this.minDelta, cooldown: this.cooldown, minLr: this.minLr }))
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        throw new ValueError(`ReduceLROnPlateau: ${k} must be a finite number >= 0, received ${v}`);
    // Keras: 'auto' is 'min' unless the monitor names an accuracy.
    this.mode = resolveMode(args.mode, this.monitor, 'Learning rate reduction');
  }

  private improved(current: number): boolean {
    return this.mode === 'min' ? current < this.best - this.minDelta : current > this.best + this.minDelta;
  }

  onTrainBegin(): void {
    const o = this.model.optimizer;
    if (o?.learningRateSchedule)
      throw new ValueError(
        `ReduceLROnPlateau: the optimizer's learning rate follows a ${o.learningRateSchedule.className} schedule; it needs a constant one`,
      );
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.wait = 0;
    this.cooldownCounter = 0;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const o = this.model.optimizer!;
    logs.learning_rate = o.learningRate;
    const current = monitored(logs, this.monitor, 'Learning rate reduction');
    if (current === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter === 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = o.learningRate;
        if (old > Math.fround(this.minLr)) {
          const lr = Math.max(old * this.factor, this.minLr);
          o.learningRate = lr;
          if (this.verbose) console.log(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${lr}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}
