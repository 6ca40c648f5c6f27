// EarlyStopping with TF.js's semantics (its stopping rule, defaults and baseline) plus what TF.js leaves
// unimplemented: restoreBestWeights, as Keras 3 does it, restores the weights of the best epoch when
// training ends, whether it stopped early or ran all its epochs.
import { duringRun } from '../engine/state.js';
import { ValueError } from '../errors.js';
import { Callback, type Logs, type Mode, monitored, resolveMode } from './callback.js';

export interface EarlyStoppingArgs {
  /** The log to watch (default 'val_loss'). */
  monitor?: string;
  /** A change smaller than this is no improvement (default 0). */
  minDelta?: number;
  /** Epochs without improvement before stopping (default 0: stop at the first). */
  patience?: number;
  verbose?: number;
  /** 'min', 'max', or 'auto' (default): 'max' for metrics whose name contains 'acc'. */
  mode?: Mode;
  /** The value to beat; training stops if it is not beaten within patience epochs. */
  baseline?: number;
  /** When training ends, put back the weights of the epoch with the best monitored value. */
  restoreBestWeights?: boolean;
}

export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly verbose: number;
  readonly mode: 'min' | 'max';
  readonly baseline?: number;
  readonly restoreBestWeights: boolean;
  /** The epoch training stopped at (0 if it did not stop early). */
  stoppedEpoch = 0;
  /** The epoch of the best value seen (-1 if none beat the start). */
  bestEpoch = -1;
  best = Infinity;
  wait = 0;
  private bestWeights?: Float32Array[];

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    this.monitor = args.monitor || 'val_loss';
    this.minDelta = Math.abs(args.minDelta || 0);
    this.patience = args.patience || 0;
    this.verbose = args.verbose || 0;
    this.mode = resolveMode(args.mode, this.monitor, 'EarlyStopping');
    this.baseline = args.baseline;
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    for (const [k, v] of [
      ['minDelta', this.minDelta],
      ['patience', this.patience],
    ] as const)
      if (!Number.isFinite(v) || v < 0) throw new ValueError(`EarlyStopping: ${k} must be a finite number >= 0, received ${v}`);
  }

  private improved(current: number): boolean {
    return this.mode === 'min' ? current + this.minDelta < this.best : current - this.minDelta > this.best;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.bestEpoch = -1;
    this.bestWeights = undefined;
    this.best = this.baseline ?? (this.mode === 'min' ? Infinity : -Infinity);
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored(logs, this.monitor, 'EarlyStopping');
    if (current === undefined) return;
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.model.getWeights();
      return;
    }
    this.wait++;
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose) console.log(`Epoch ${this.stoppedEpoch}: early stopping.`);
    if (!this.bestWeights) return;
    if (this.verbose) console.log(`Restoring model weights from the end of the best epoch (${this.bestEpoch + 1}).`);
    const best = this.bestWeights;
    this.bestWeights = undefined;
    duringRun(this.model, () => this.model.setWeights(best));
  }
}
