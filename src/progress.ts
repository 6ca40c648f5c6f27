// A one-line terminal progress bar for fit(): images/s, loss, accuracy, ETA. Redraws at most every 100 ms.
export interface ProgressBar {
  onEpochBegin(epoch: number): void;
  onBatchEnd(batch: number, logs: { loss: number; acc?: number; size: number }): void;
  onEpochEnd(epoch: number, logs: { val_loss?: number; val_acc?: number }): void;
}

export function progressBar(total: number, epochs: number, write: (s: string) => void, tty: boolean): ProgressBar {
  let seen = 0,
    lossSum = 0,
    correct = 0,
    start = 0,
    last = 0,
    epochNo = 0;
  const width = 24;
  const fmtTime = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`);
  const line = (final: boolean) => {
    const t = (performance.now() - start) / 1000;
    const rate = seen / Math.max(t, 1e-9);
    const frac = seen / total;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const eta = final ? `in ${fmtTime(t)}` : `ETA ${fmtTime((total - seen) / Math.max(rate, 1e-9))}`;
    return `epoch ${epochNo + 1}/${epochs} ${bar} ${String(seen).padStart(String(total).length)}/${total}  ${Math.round(rate).toLocaleString('en-US')} img/s  loss ${(lossSum / Math.max(seen, 1)).toFixed(4)}  acc ${(correct / Math.max(seen, 1)).toFixed(4)}  ${eta}`;
  };
  return {
    onEpochBegin(epoch) {
      epochNo = epoch;
      seen = 0;
      lossSum = 0;
      correct = 0;
      start = performance.now();
      last = 0;
    },
    onBatchEnd(_b, logs) {
      seen += logs.size;
      lossSum += logs.loss * logs.size;
      correct += (logs.acc ?? NaN) * logs.size;
      const t = performance.now();
      if (tty && t - last > 100) {
        last = t;
        write(`\r${line(false)}`);
      }
    },
    onEpochEnd(_e, logs) {
      let s = line(true);
      if (logs.val_acc !== undefined) s += `  val_loss ${logs.val_loss!.toFixed(4)}  val_acc ${logs.val_acc.toFixed(4)}`;
      write(`${tty ? '\r' : ''}${s}\n`);
    },
  };
}
