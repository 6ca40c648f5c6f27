// The base of simdcnn's callback classes (Keras's Callback): fit and fitDataset hand each the model before
// training begins (setModel), then call the hooks it has, in the order the callbacks were given.
import type { Model } from '../engine/model.js';
import type { BatchLogs, Callbacks, Logs } from '../engine/loop.js';
import type { TrainHost } from '../engine/state.js';
import { ValueError } from '../errors.js';

export type { BatchLogs, Logs };

export abstract class Callback implements Callbacks {
  private m?: Model;
  setModel(model: TrainHost): void {
    this.m = model as Model;
  }
  /** The model being trained (set when training begins). */
  protected get model(): Model {
    if (!this.m) throw new ValueError(`${this.constructor.name}: used outside fit/fitDataset (no model set)`);
    return this.m;
  }
}

export type Mode = 'auto' | 'min' | 'max';

/** Keras's and TF.js's reading of mode: 'auto' is 'max' for metrics named like accuracy, else 'min'. Invalid modes warn and act as 'auto'. */
export function resolveMode(mode: unknown, monitor: string, who: string, isMax = (m: string) => m.includes('acc')): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  if (mode !== undefined && mode !== 'auto') console.warn(`${who} mode '${String(mode)}' is invalid. Falling back to mode 'auto'.`);
  return isMax(monitor) ? 'max' : 'min';
}

/** The monitored value of the logs, or undefined with the warning TF.js and Keras give. */
export function monitored(logs: Logs | undefined, monitor: string, who: string): number | undefined {
  const v = logs?.[monitor];
  if (v == null)
    console.warn(
      `${who} conditioned on metric ${monitor} which is not available. Available metrics are: ${Object.keys(logs ?? {}).join(',')}`,
    );
  return v ?? undefined;
}

/** A file or save target: a non-empty string. */
export function checkPath(v: unknown, who: string, what: string): string {
  if (typeof v !== 'string' || !v) throw new ValueError(`${who}: ${what} must be a non-empty string, received ${JSON.stringify(v)}`);
  return v;
}
