// fit's watch over the numbers: inputs within a sane range, and a run that diverges stopped before the
// step that would wreck its weights.
import { ValueError } from './errors.js';

/** Inputs beyond this magnitude are refused unless the call raises the limit (maxInputAbs). */
export const DEFAULT_MAX_INPUT_ABS = 1e6;

export interface DivergenceOptions {
  /** Stop when the smoothed loss rises above this many times its lowest value in the run (or 1 nat, if higher). Default 4. */
  lossFactor?: number;
  /** Stop when a gradient or a weight grows beyond this magnitude. Default 1e8. */
  maxAbs?: number;
}

export interface DivergenceLimits {
  lossFactor: number;
  maxAbs: number;
}

export const DEFAULT_DIVERGENCE: DivergenceLimits = { lossFactor: 4, maxAbs: 1e8 };

/** A limit given as an option: a positive number (Infinity allowed), else the default. */
export function limitOption(v: unknown, dflt: number, what: string, fn: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0))
    throw new ValueError(`${fn}: ${what} must be a positive number (Infinity turns the check off), received ${JSON.stringify(v)}`);
  return v;
}

export function divergenceLimits(o: DivergenceOptions | undefined, fn: string): DivergenceLimits {
  if (o === undefined) return DEFAULT_DIVERGENCE;
  if (typeof o !== 'object' || o === null)
    throw new ValueError(`${fn}: divergence must be {lossFactor, maxAbs}, received ${JSON.stringify(o)}`);
  const lossFactor = limitOption(o.lossFactor, DEFAULT_DIVERGENCE.lossFactor, 'divergence.lossFactor', fn);
  if (lossFactor <= 1) throw new ValueError(`${fn}: divergence.lossFactor must be above 1, received ${lossFactor}`);
  return { lossFactor, maxAbs: limitOption(o.maxAbs, DEFAULT_DIVERGENCE.maxAbs, 'divergence.maxAbs', fn) };
}

/**
 * The loss smoothed over about the last ten steps against its lowest value so far. A single bad batch
 * moves the average by a tenth of its loss; only a sustained rise crosses the line. The floor of 1 nat
 * keeps a well-trained model (loss near 0) from being stopped by ordinary noise.
 */
export class LossMonitor {
  private smoothed = NaN;
  private lowest = Infinity;
  constructor(private readonly factor: number) {}

  /** Feeds one step's mean loss; returns why the step must not be taken, or undefined. */
  observe(loss: number): string | undefined {
    this.smoothed = Number.isNaN(this.smoothed) ? loss : 0.9 * this.smoothed + 0.1 * loss;
    const limit = this.factor * Math.max(this.lowest, 1);
    if (this.smoothed > limit) {
      return `the smoothed loss rose to ${this.smoothed.toPrecision(4)}, more than ${this.factor}x its lowest value in this run (${this.lowest.toPrecision(4)})`;
    }
    this.lowest = Math.min(this.lowest, this.smoothed);
    return undefined;
  }
}
