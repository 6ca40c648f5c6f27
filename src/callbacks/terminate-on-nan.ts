// TerminateOnNaN (Keras): stops training after a batch whose loss is NaN or infinite. fit's own checks
// (checkFinite, on by default) already end such a run with a DivergenceError before the update; this is
// for runs with checkFinite: false.
import { type BatchLogs, Callback } from './callback.js';

export class TerminateOnNaN extends Callback {
  onBatchEnd(batch: number, logs: BatchLogs): void {
    if (!Number.isFinite(logs.loss)) {
      console.log(`Batch ${batch}: Invalid loss, terminating training`);
      this.model.stopTraining = true;
    }
  }
}
