// Epoch loggers for Node: CSVLogger (Keras's: an 'epoch' column, 0-based, then the log keys sorted, val_
// columns added when the first epoch has none, 'NA' for a missing value) and JSONLogger (one JSON object
// per epoch and line: {epoch, ...logs}). Each line is appended when its epoch ends, so a crash keeps the
// epochs before it.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Callback, checkPath, type Logs } from './callback.js';

export interface CSVLoggerArgs {
  separator?: string;
  /** Append to an existing file (its header kept) instead of starting it again. */
  append?: boolean;
}

export class CSVLogger extends Callback {
  readonly separator: string;
  readonly append: boolean;
  private keys?: string[];
  private header = true;

  constructor(
    readonly filename: string,
    args: CSVLoggerArgs = {},
  ) {
    super();
    checkPath(filename, 'CSVLogger', 'filename');
    this.separator = args.separator ?? ',';
    this.append = args.append ?? false;
  }

  onTrainBegin(): void {
    this.keys = undefined;
    if (this.append && existsSync(this.filename)) this.header = readFileSync(this.filename, 'utf8').length === 0;
    else {
      writeFileSync(this.filename, '');
      this.header = true;
    }
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      if (this.keys.length && !this.keys.some((k) => k.startsWith('val_'))) this.keys.push(...this.keys.map((k) => `val_${k}`));
    }
    const cell = (v: unknown) => {
      const s = v === undefined || v === null ? 'NA' : String(v);
      return s.includes(this.separator) || s.includes('"') || s.includes('\n') ? `"${s.replace(/"/g, '""')}"` : s;
    };
    let text = '';
    if (this.header) {
      text += ['epoch', ...this.keys].map(cell).join(this.separator) + '\r\n';
      this.header = false;
    }
    text += [epoch, ...this.keys.map((k) => logs[k])].map(cell).join(this.separator) + '\r\n';
    appendFileSync(this.filename, text);
  }
}

export interface JSONLoggerArgs {
  append?: boolean;
}

export class JSONLogger extends Callback {
  readonly append: boolean;
  constructor(
    readonly filename: string,
    args: JSONLoggerArgs = {},
  ) {
    super();
    checkPath(filename, 'JSONLogger', 'filename');
    this.append = args.append ?? false;
  }
  onTrainBegin(): void {
    if (!this.append) writeFileSync(this.filename, '');
  }
  onEpochEnd(epoch: number, logs: Logs): void {
    appendFileSync(this.filename, JSON.stringify({ epoch, ...logs }) + '\n');
  }
}
