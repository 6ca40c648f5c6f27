// Optimizers with TensorFlow.js's update formulas, applied by SIMD kernels over the trainable runs of a
// model's weights, and the one registry of their names: strings for compile(), TF.js's optimizer_config
// both ways. Every reader of optimizers (compile, model files, the worker, the CLI) goes through it.
import type { Backend } from './backend.js';
import { SimdcnnError, ValueError } from './errors.js';

/** Trainable weights contiguous in memory and in the gradient/state layout (float offset). */
export interface UpdateRun {
  ptr: number;
  offset: number;
  floats: number;
}

/** The most state blocks any optimizer keeps (Adam's m and v); saved files are checked against it. */
export const MAX_OPTIMIZER_SLOTS = 2;

export abstract class Optimizer {
  abstract readonly className: string;
  /** Float buffers of state per parameter (0 for SGD, 1 for momentum, 2 for Adam). */
  abstract readonly slots: number;
  /** Updates taken so far (Adam's bias correction uses it; saved with the state). */
  iterations = 0;
  /** One step: every run updated from the gradient block and state blocks (same layout). */
  apply(be: Backend, runs: UpdateRun[], grads: number, state: number[]): void {
    this.iterations++;
    for (const r of runs) this.update(be, r.ptr, grads + r.offset * 4, state.length ? state.map((s) => s + r.offset * 4) : state, r.floats);
  }
  protected abstract update(be: Backend, w: number, g: number, state: number[], n: number): void;
  abstract getConfig(): Record<string, number>;
  /** An upper bound on how far the next update moves any weight, given the largest |gradient|; Infinity if unknown. */
  maxUpdate(_gradMaxAbs: number): number {
    return Infinity;
  }
}

function positive(v: number, what: string, opt: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new ValueError(`${opt}: ${what} must be a ${allowZero ? 'non-negative' : 'positive'} finite number, received ${v}`);
  }
  return v;
}

export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly learningRate: number;
  readonly momentum: number;
  constructor(args: { learningRate?: number; momentum?: number } = {}) {
    super();
    this.learningRate = positive(args.learningRate ?? 0.01, 'learningRate', 'SGD');
    this.momentum = positive(args.momentum ?? 0, 'momentum', 'SGD', true);
    if (this.momentum >= 1) throw new ValueError(`SGD: momentum must be in [0, 1), received ${this.momentum}`);
  }
  get slots(): number {
    return this.momentum > 0 ? 1 : 0;
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    if (this.momentum > 0) be.k.momentum_update(w, g, state[0], n, this.learningRate, this.momentum);
    else be.k.sgd_update(w, g, n, this.learningRate);
  }
  getConfig(): Record<string, number> {
    return { learningRate: this.learningRate, momentum: this.momentum };
  }
  /** Plain SGD moves a weight by lr * g exactly; momentum's accumulator depends on history. */
  maxUpdate(gradMaxAbs: number): number {
    return this.momentum > 0 ? Infinity : this.learningRate * gradMaxAbs * (1 + 2 ** -20);
  }
}

export class Adam extends Optimizer {
  readonly className = 'Adam';
  readonly slots = 2;
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private c1 = 1;
  private c2 = 1;
  constructor(args: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } = {}) {
    super();
    this.learningRate = positive(args.learningRate ?? 0.001, 'learningRate', 'Adam');
    this.beta1 = positive(args.beta1 ?? 0.9, 'beta1', 'Adam', true);
    this.beta2 = positive(args.beta2 ?? 0.999, 'beta2', 'Adam', true);
    this.epsilon = positive(args.epsilon ?? 1e-7, 'epsilon', 'Adam');
    if (this.beta1 >= 1 || this.beta2 >= 1)
      throw new ValueError(`Adam: beta1 and beta2 must be in [0, 1), received ${this.beta1}, ${this.beta2}`);
  }
  apply(be: Backend, runs: UpdateRun[], grads: number, state: number[]): void {
    const t = this.iterations + 1;
    // TF.js keeps the running powers in float32; Math.fround matches that closely for the correction.
    this.c1 = Math.fround(1 - Math.pow(this.beta1, t));
    this.c2 = Math.fround(1 - Math.pow(this.beta2, t));
    super.apply(be, runs, grads, state);
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    be.k.adam_update(w, g, state[0], state[1], n, this.learningRate, this.beta1, this.beta2, this.epsilon, this.c1, this.c2);
  }
  getConfig(): Record<string, number> {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

/** An optimizer, its compile() string, or its TF.js serialized form {className, config}. */
export type OptimizerLike = Optimizer | 'sgd' | 'adam' | { className: string; config?: Record<string, unknown> };

interface Entry {
  /** compile()'s string and the class names files use (TF.js's 'Momentum' is SGD with momentum). */
  names: string[];
  create(config: Record<string, number | undefined>): Optimizer;
  /** Where a saved optimizer's own state lives: TF.js's per-weight suffixes, one per slot. */
  slotNames(o: Optimizer): string[];
}

const REGISTRY: Entry[] = [
  {
    names: ['sgd', 'SGD', 'Momentum', 'momentum'],
    create: (c) => new SGD({ learningRate: c.learningRate, momentum: c.momentum }),
    slotNames: (o) => (o.slots ? ['momentum'] : []),
  },
  {
    names: ['adam', 'Adam'],
    create: (c) => new Adam({ learningRate: c.learningRate, beta1: c.beta1, beta2: c.beta2, epsilon: c.epsilon }),
    slotNames: () => ['m', 'v'],
  },
];

/** The strings compile() takes. */
export const OPTIMIZER_NAMES = ['sgd', 'adam'] as const;

const entryOf = (name: unknown) => REGISTRY.find((e) => e.names.includes(name as string));

export function getOptimizer(o: OptimizerLike, where = 'compile'): Optimizer {
  if (o instanceof Optimizer) return o;
  if (typeof o === 'string' && (OPTIMIZER_NAMES as readonly string[]).includes(o)) return entryOf(o)!.create({});
  if (o && typeof o === 'object' && entryOf(o.className)) return entryOf(o.className)!.create((o.config ?? {}) as Record<string, number>);
  throw new ValueError(
    `${where}: optimizer must be ${OPTIMIZER_NAMES.map((n) => `'${n}'`).join(', ')}, new SGD({...}), new Adam({...}) or {className: 'SGD'|'Adam', config}, received ${JSON.stringify(o)}`,
  );
}

/** TF.js's optimizer_config for it (SGD with momentum is tfjs's Momentum). */
export function optimizerConfig(o: Optimizer): { className: string; config: Record<string, unknown> } {
  const c = o.getConfig();
  if (o instanceof SGD) {
    return o.momentum > 0
      ? { className: 'Momentum', config: { learningRate: c.learningRate, momentum: c.momentum, useNesterov: false } }
      : { className: 'SGD', config: { learningRate: c.learningRate } };
  }
  return { className: o.className, config: { ...c } };
}

export const slotNames = (o: Optimizer) => entryOf(o.className)!.slotNames(o);

/** The optimizer a training config describes (tfjs or Keras keys), or undefined if simdcnn cannot run exactly that one. */
export function optimizerFromConfig(oc: unknown): Optimizer | undefined {
  if (!oc || typeof oc !== 'object') return undefined;
  const { class_name: cls, config = {} } = oc as { class_name?: unknown; config?: Record<string, unknown> };
  const entry = entryOf(cls) ?? entryOf(typeof cls === 'string' ? cls.toLowerCase() : cls);
  if (!entry) return undefined;
  // Keras options that change the update; absent, null, 0 or false is fine.
  for (const k of [
    'decay',
    'weight_decay',
    'clipnorm',
    'clipvalue',
    'global_clipnorm',
    'use_ema',
    'amsgrad',
    'nesterov',
    'useNesterov',
    'loss_scale_factor',
  ]) {
    if (config[k] !== undefined && config[k] !== null && config[k] !== 0 && config[k] !== false) return undefined;
  }
  if ((config.gradient_accumulation_steps ?? 1) !== 1 && config.gradient_accumulation_steps !== null) return undefined;
  const num = (...keys: string[]) => {
    for (const k of keys) if (config[k] !== undefined) return config[k] as number;
    return undefined;
  };
  try {
    return entry.create({
      learningRate: num('learningRate', 'learning_rate', 'lr'),
      momentum: num('momentum'),
      beta1: num('beta1', 'beta_1'),
      beta2: num('beta2', 'beta_2'),
      epsilon: num('epsilon'),
    });
  } catch (e) {
    if (e instanceof SimdcnnError) return undefined; // e.g. a learning-rate schedule object
    throw e;
  }
}
