// ModelCheckpoint (Keras): saves the model through model.save (atomic in Node: a failed save leaves the
// previous files) after every epoch, or only when the monitored log improves (saveBestOnly). The target may
// hold Python-style fields filled from the epoch (1-based) and the logs: 'ckpt-{epoch:02d}-{val_loss:.3f}'.
import { ValueError } from '../errors.js';
import { Callback, checkPath, type Logs, type Mode, monitored, resolveMode } from './callback.js';

export interface ModelCheckpointArgs {
  monitor?: string;
  verbose?: number;
  /** Save only when the monitored value improves on the best so far. */
  saveBestOnly?: boolean;
  mode?: Mode;
  /** With saveBestOnly: the value to beat first. */
  initialValueThreshold?: number;
}

/** Keras's filepath.format(epoch=epoch + 1, **logs) for {key}, {key:0Nd} and {key:.Nf}. */
export function formatPath(path: string, epoch: number, logs: Logs): string {
  const values: Record<string, number | undefined> = { ...logs, epoch: epoch + 1 };
  return path.replace(/\{(\w+)(?::([^}]*))?\}/g, (all, key: string, spec?: string) => {
    const v = values[key];
    if (v === undefined)
      throw new ValueError(
        `ModelCheckpoint: the path ${JSON.stringify(path)} names {${key}}, which the logs do not have (${Object.keys(values).join(', ')})`,
      );
    if (!spec) return String(v);
    const f = /^\.(\d+)f$/.exec(spec);
    if (f) return v.toFixed(Number(f[1]));
    const d = /^0(\d+)d$/.exec(spec);
    if (d) return String(Math.round(v)).padStart(Number(d[1]), '0');
    throw new ValueError(`ModelCheckpoint: format ${JSON.stringify(all)} is not supported ({key}, {key:02d}, {key:.3f})`);
  });
}

export class ModelCheckpoint extends Callback {
  readonly monitor: string;
  readonly verbose: number;
  readonly saveBestOnly: boolean;
  readonly mode: 'min' | 'max';
  best: number;
  /** Where each save went, in order. */
  readonly saved: string[] = [];

  constructor(
    readonly filepath: string,
    args: ModelCheckpointArgs = {},
  ) {
    super();
    checkPath(filepath, 'ModelCheckpoint', 'filepath');
    this.monitor = args.monitor ?? 'val_loss';
    this.verbose = args.verbose ?? 0;
    this.saveBestOnly = args.saveBestOnly ?? false;
    // Keras: 'auto' is 'max' for accuracies and f-measures.
    this.mode = resolveMode(args.mode, this.monitor, 'ModelCheckpoint', (m) => m.includes('acc') || m.startsWith('fmeasure'));
    this.best = args.initialValueThreshold ?? (this.mode === 'min' ? Infinity : -Infinity);
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (this.saveBestOnly) {
      const current = monitored(logs, this.monitor, 'ModelCheckpoint');
      if (current === undefined) return;
      if (!(this.mode === 'min' ? current < this.best : current > this.best)) {
        if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best}`);
        return;
      }
      if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best} to ${current}, saving model`);
      this.best = current;
    }
    const path = formatPath(this.filepath, epoch, logs);
    await this.model.save(path);
    this.saved.push(path);
  }
}
