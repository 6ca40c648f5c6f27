// Learning-rate schedules, usable wherever a learning rate is (an optimizer's learningRate): the rate of a
// step is schedule.at(step), step = the optimizer's iterations before that update, as Keras evaluates its
// LearningRateSchedule. Keras's formulas and config names (PiecewiseConstantDecay, ExponentialDecay,
// CosineDecay with warm-up); OneCycle is PyTorch's OneCycleLR (cosine annealing), which Keras lacks.
// Configs are Keras 3's {className, config}, which the saved optimizer config carries as its learning rate.
import { ValueError } from './errors.js';

export interface ScheduleConfig {
  className: string;
  config: Record<string, unknown>;
}

export abstract class LearningRateSchedule {
  abstract readonly className: string;
  /** The learning rate of the update taken at `step` (0 for the first). */
  abstract at(step: number): number;
  /** Keras's camelCase config of the schedule. */
  abstract getConfig(): Record<string, unknown>;
  toConfig(): ScheduleConfig {
    return { className: this.className, config: this.getConfig() };
  }
}

const finite = (v: unknown, what: string, cls: string, min = -Infinity, strict = false): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (strict && v === min))
    throw new ValueError(`${cls}: ${what} must be a finite number ${strict ? '>' : '>='} ${min}, received ${JSON.stringify(v)}`);
  return v;
};
const positiveInt = (v: unknown, what: string, cls: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ValueError(`${cls}: ${what} must be a positive integer, received ${JSON.stringify(v)}`);
  return v;
};

export interface PiecewiseConstantDecayArgs {
  /** Increasing step numbers; values[i] holds up to and including boundaries[i]. */
  boundaries: number[];
  /** One more than the boundaries. */
  values: number[];
}

/** values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i], the last after. */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  readonly className = 'PiecewiseConstantDecay';
  readonly boundaries: number[];
  readonly values: number[];
  constructor(args: PiecewiseConstantDecayArgs) {
    super();
    const cls = this.className;
    if (!args || !Array.isArray(args.boundaries) || !Array.isArray(args.values))
      throw new ValueError(`${cls}: expected {boundaries: number[], values: number[]}, received ${JSON.stringify(args)}`);
    this.boundaries = args.boundaries.map((b, i) => finite(b, `boundaries[${i}]`, cls, 0));
    this.values = args.values.map((v, i) => finite(v, `values[${i}]`, cls, 0, true));
    if (this.values.length !== this.boundaries.length + 1)
      throw new ValueError(
        `${cls}: values must have one more entry than boundaries (${this.boundaries.length + 1}), received ${this.values.length}`,
      );
    if (this.boundaries.some((b, i) => i > 0 && b <= this.boundaries[i - 1])) throw new ValueError(`${cls}: boundaries must increase`);
  }
  at(step: number): number {
    let i = 0;
    while (i < this.boundaries.length && step > this.boundaries[i]) i++;
    return this.values[i];
  }
  getConfig() {
    return { boundaries: this.boundaries.slice(), values: this.values.slice(), name: 'PiecewiseConstant' };
  }
}

export interface ExponentialDecayArgs {
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  /** Decay in whole periods of decaySteps (default false: continuously). */
  staircase?: boolean;
}

/** initialLearningRate * decayRate ^ (step / decaySteps), the exponent floored with staircase. */
export class ExponentialDecay extends LearningRateSchedule {
  readonly className = 'ExponentialDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;
  constructor(args: ExponentialDecayArgs) {
    super();
    const cls = this.className;
    this.initialLearningRate = finite(args?.initialLearningRate, 'initialLearningRate', cls, 0, true);
    this.decaySteps = finite(args.decaySteps, 'decaySteps', cls, 0, true);
    this.decayRate = finite(args.decayRate, 'decayRate', cls, 0, true);
    this.staircase = args.staircase ?? false;
    if (typeof this.staircase !== 'boolean')
      throw new ValueError(`${cls}: staircase must be true or false, received ${JSON.stringify(args.staircase)}`);
  }
  at(step: number): number {
    const p = step / this.decaySteps;
    return this.initialLearningRate * Math.pow(this.decayRate, this.staircase ? Math.floor(p) : p);
  }
  getConfig() {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      decayRate: this.decayRate,
      staircase: this.staircase,
      name: 'ExponentialDecay',
    };
  }
}

export interface CosineDecayArgs {
  /** The rate at step 0 (where warm-up starts, when there is one). */
  initialLearningRate: number;
  /** Steps of the cosine, after the warm-up. */
  decaySteps: number;
  /** The floor, as a fraction of the rate it decays from (default 0). */
  alpha?: number;
  /** With warmupSteps: the rate warm-up reaches (linearly from initialLearningRate), and the cosine starts from. */
  warmupTarget?: number | null;
  warmupSteps?: number;
}

/**
 * Keras's CosineDecay: an optional linear warm-up from initialLearningRate to warmupTarget over warmupSteps,
 * then from that rate d(s) = (1 - alpha) * (1 + cos(pi * s / decaySteps)) / 2 + alpha, constant after decaySteps.
 */
export class CosineDecay extends LearningRateSchedule {
  readonly className = 'CosineDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;
  constructor(args: CosineDecayArgs) {
    super();
    const cls = this.className;
    this.initialLearningRate = finite(args?.initialLearningRate, 'initialLearningRate', cls, 0);
    this.decaySteps = finite(args.decaySteps, 'decaySteps', cls, 0, true);
    this.alpha = finite(args.alpha ?? 0, 'alpha', cls, 0);
    this.warmupTarget = args.warmupTarget == null ? null : finite(args.warmupTarget, 'warmupTarget', cls, 0, true);
    this.warmupSteps = finite(args.warmupSteps ?? 0, 'warmupSteps', cls, 0);
    if (this.warmupTarget === null && this.initialLearningRate === 0)
      throw new ValueError(`${cls}: initialLearningRate must be > 0 without a warm-up`);
  }
  private decayed(step: number, from: number): number {
    const done = Math.min(step, this.decaySteps) / this.decaySteps;
    return from * ((1 - this.alpha) * 0.5 * (1 + Math.cos(Math.PI * done)) + this.alpha);
  }
  at(step: number): number {
    if (this.warmupTarget === null) return this.decayed(step, this.initialLearningRate);
    const s = Math.min(step, this.decaySteps + this.warmupSteps);
    if (s < this.warmupSteps) return (this.warmupTarget - this.initialLearningRate) * (s / this.warmupSteps) + this.initialLearningRate;
    return this.decayed(s - this.warmupSteps, this.warmupTarget);
  }
  getConfig() {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      alpha: this.alpha,
      name: 'CosineDecay',
      warmupTarget: this.warmupTarget,
      warmupSteps: this.warmupSteps,
    };
  }
}

export interface OneCycleArgs {
  maxLearningRate: number;
  /** Steps of the whole cycle (epochs * batches per epoch). */
  totalSteps: number;
  /** Fraction of the steps spent rising (default 0.3). */
  pctStart?: number;
  /** The start is maxLearningRate / divFactor (default 25). */
  divFactor?: number;
  /** The end is the start / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
}

/**
 * One-cycle (Smith; PyTorch's OneCycleLR with cosine annealing): from maxLearningRate / divFactor up to
 * maxLearningRate over the first pctStart of the steps, then down to start / finalDivFactor at the last
 * step; that floor after it.
 */
export class OneCycle extends LearningRateSchedule {
  readonly className = 'OneCycle';
  readonly maxLearningRate: number;
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly divFactor: number;
  readonly finalDivFactor: number;
  constructor(args: OneCycleArgs) {
    super();
    const cls = this.className;
    this.maxLearningRate = finite(args?.maxLearningRate, 'maxLearningRate', cls, 0, true);
    this.totalSteps = positiveInt(args.totalSteps, 'totalSteps', cls);
    this.pctStart = finite(args.pctStart ?? 0.3, 'pctStart', cls, 0, true);
    if (this.pctStart >= 1) throw new ValueError(`${cls}: pctStart must be in (0, 1), received ${this.pctStart}`);
    this.divFactor = finite(args.divFactor ?? 25, 'divFactor', cls, 0, true);
    this.finalDivFactor = finite(args.finalDivFactor ?? 1e4, 'finalDivFactor', cls, 0, true);
  }
  at(step: number): number {
    const start = this.maxLearningRate / this.divFactor,
      end = start / this.finalDivFactor;
    const peak = this.pctStart * this.totalSteps - 1,
      last = this.totalSteps - 1;
    const anneal = (from: number, to: number, pct: number) => to + ((from - to) / 2) * (1 + Math.cos(Math.PI * pct));
    if (step <= peak) return anneal(start, this.maxLearningRate, peak > 0 ? step / peak : 1);
    if (step >= last) return end;
    return anneal(this.maxLearningRate, end, (step - peak) / (last - peak));
  }
  getConfig() {
    return {
      maxLearningRate: this.maxLearningRate,
      totalSteps: this.totalSteps,
      pctStart: this.pctStart,
      divFactor: this.divFactor,
      finalDivFactor: this.finalDivFactor,
    };
  }
}

const CLASSES: Record<string, (c: Record<string, unknown>) => LearningRateSchedule> = {
  PiecewiseConstantDecay: (c) => new PiecewiseConstantDecay(c as never),
  ExponentialDecay: (c) => new ExponentialDecay(c as never),
  CosineDecay: (c) => new CosineDecay(c as never),
  OneCycle: (c) => new OneCycle(c as never),
};

const camel = (k: string) => k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** A schedule from its config: {className, config} (camelCase) or Keras's {class_name, config} (snake_case). */
export function scheduleFromConfig(v: unknown, where: string): LearningRateSchedule {
  if (v instanceof LearningRateSchedule) return v;
  const o = v as { className?: unknown; class_name?: unknown; config?: Record<string, unknown> };
  const cls = o && typeof o === 'object' ? (o.className ?? o.class_name) : undefined;
  const make = typeof cls === 'string' ? CLASSES[cls] : undefined;
  if (!make)
    throw new ValueError(
      `${where}: learning-rate schedule ${JSON.stringify(cls)} is not supported; expected one of ${Object.keys(CLASSES).join(', ')}`,
    );
  const config = Object.fromEntries(Object.entries(o.config ?? {}).map(([k, x]) => [camel(k), x]));
  delete config.name;
  try {
    return make(config);
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${where}: ${e.message}`);
    throw e;
  }
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Keras 3's serialized schedule (what an optimizer config holds as its learning_rate); OneCycle as a custom class. */
export function kerasScheduleConfig(s: LearningRateSchedule): Record<string, unknown> {
  const keras = s.className !== 'OneCycle';
  return {
    module: keras ? 'keras.optimizers.schedules' : 'simdcnn',
    class_name: s.className,
    config: Object.fromEntries(Object.entries(s.getConfig()).map(([k, v]) => [snake(k), v])),
    registered_name: keras ? null : `simdcnn>${s.className}`,
  };
}
