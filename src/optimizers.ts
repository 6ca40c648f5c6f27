// Optimizers with TensorFlow.js's update formulas, applied by SIMD kernels over the trainable runs of a
// model's weights, and the one registry of their names: strings for compile(), TF.js's optimizer_config
// both ways. Every reader of optimizers (compile, model files, the worker, the CLI) goes through it.
import type { Backend } from './backend.js';
import { SimdcnnError, ValueError } from './errors.js';
import { type LearningRateSchedule, type ScheduleConfig, scheduleFromConfig, kerasScheduleConfig } from './schedules.js';

/** A learning rate: a number, or a schedule (an instance or its config) evaluated at every step. */
export type LearningRate = number | LearningRateSchedule | ScheduleConfig;

/** Trainable weights contiguous in memory and in the gradient/state layout (float offset). */
export interface UpdateRun {
  ptr: number;
  offset: number;
  floats: number;
}

/** The most state blocks any optimizer keeps (centered RMSprop's); saved files are checked against it. */
export const MAX_OPTIMIZER_SLOTS = 3;

/** Gradient clipping as Keras's optimizers take it (at most one of the three). */
export interface ClipArgs {
  /** Each weight's gradient is scaled to an L2 norm of at most this (Keras's clipnorm, per variable). */
  clipNorm?: number;
  /** Every gradient element is clipped to [-clipValue, clipValue] (Keras's clipvalue). */
  clipValue?: number;
  /** All gradients together are scaled to an L2 norm of at most this (Keras's global_clipnorm). */
  globalClipNorm?: number;
}

/** A trainable weight's gradient in the gradient block (float offset and size). */
export interface GradSlice {
  offset: number;
  size: number;
}

export abstract class Optimizer {
  abstract readonly className: string;
  /** Float buffers of state per parameter (0 for SGD, 1 for momentum, 2 for Adam). */
  abstract readonly slots: number;
  /** Updates taken so far (Adam's bias correction uses it; saved with the state). */
  iterations = 0;
  readonly clipNorm?: number;
  readonly clipValue?: number;
  readonly globalClipNorm?: number;
  private lr = 0;
  private schedule?: LearningRateSchedule;

  constructor(clip: ClipArgs = {}, name = 'optimizer') {
    const set = (['clipNorm', 'clipValue', 'globalClipNorm'] as const).filter((k) => clip[k] != null);
    if (set.length > 1)
      throw new ValueError(`${name}: set at most one of clipNorm, clipValue, globalClipNorm (received ${set.join(', ')})`);
    for (const k of set) this[k] = positive(clip[k] as number, k, name);
  }

  /** A number, or a schedule: the rate is then schedule.at(iterations) at every step (Keras's step count). */
  protected setLearningRate(v: LearningRate | undefined, byDefault: number, name: string): void {
    if (v !== null && typeof v === 'object') {
      this.schedule = scheduleFromConfig(v, name);
      this.lr = this.schedule.at(this.iterations);
    } else this.lr = positive(v ?? byDefault, 'learningRate', name);
  }
  /** The rate of the last step (or of the next, before any); ReduceLROnPlateau and users may set it, unless scheduled. */
  get learningRate(): number {
    return this.lr;
  }
  set learningRate(v: number) {
    if (this.schedule)
      throw new ValueError(`${this.className}: the learning rate follows a ${this.schedule.className} schedule; it cannot be set`);
    this.lr = positive(v, 'learningRate', this.className);
  }
  get learningRateSchedule(): LearningRateSchedule | undefined {
    return this.schedule;
  }
  /** The rate the next step will take. */
  protected get nextLearningRate(): number {
    return this.schedule ? this.schedule.at(this.iterations) : this.lr;
  }
  /** The value each state slot starts at (Adagrad's accumulator starts at 0.1). */
  slotInitialValue(_slot: number): number {
    return 0;
  }
  /** One step: every run updated from the gradient block and state blocks (same layout). */
  apply(be: Backend, runs: UpdateRun[], grads: number, state: number[]): void {
    this.lr = this.nextLearningRate;
    this.iterations++;
    const at = this.stateAt;
    at.length = state.length;
    for (const r of runs) {
      for (let i = 0; i < state.length; i++) at[i] = state[i] + r.offset * 4;
      this.update(be, r.ptr, grads + r.offset * 4, at, r.floats);
    }
  }
  /** The state blocks' pointers at the run being updated: one array reused every step. */
  private readonly stateAt: number[] = [];
  /**
   * Clips the gradients of the trainable weights in place, as Keras does before the update: each weight's
   * by its own norm (clipNorm), all by their joint norm (globalClipNorm), or each element (clipValue).
   */
  clip(be: Backend, grads: number, weights: GradSlice[]): void {
    const at = (w: GradSlice) => grads + w.offset * 4;
    if (this.clipValue !== undefined) for (const w of weights) be.k.clip_f32(at(w), w.size, -this.clipValue, this.clipValue);
    else if (this.clipNorm !== undefined)
      for (const w of weights) scaleTo(be, at(w), w.size, Math.sqrt(be.k.sumsq_f32(at(w), w.size)), this.clipNorm);
    else if (this.globalClipNorm !== undefined) {
      const norm = Math.sqrt(weights.reduce((s, w) => s + be.k.sumsq_f32(at(w), w.size), 0));
      for (const w of weights) scaleTo(be, at(w), w.size, norm, this.globalClipNorm);
    }
  }
  get clips(): boolean {
    return this.clipNorm !== undefined || this.clipValue !== undefined || this.globalClipNorm !== undefined;
  }
  protected abstract update(be: Backend, w: number, g: number, state: number[], n: number): void;
  /** Hyper-parameters (camelCase), clipping included when set. */
  getConfig(): Record<string, number | boolean> {
    const c: Record<string, number | boolean> = { ...this.hyper() };
    for (const k of ['clipNorm', 'clipValue', 'globalClipNorm'] as const) if (this[k] !== undefined) c[k] = this[k]!;
    return c;
  }
  protected abstract hyper(): Record<string, number | boolean>;
  /** An upper bound on how far the next update moves any weight, given the largest |gradient|; Infinity if unknown. */
  maxUpdate(_gradMaxAbs: number): number {
    return Infinity;
  }
}

/** g *= limit / max(norm, limit): tf.clip_by_norm. */
function scaleTo(be: Backend, g: number, n: number, norm: number, limit: number): void {
  if (norm > limit) be.k.scale_f32(g, g, limit / norm, n);
}

function positive(v: number, what: string, opt: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new ValueError(`${opt}: ${what} must be a ${allowZero ? 'non-negative' : 'positive'} finite number, received ${v}`);
  }
  return v;
}
function fraction(v: number, what: string, opt: string): number {
  positive(v, what, opt, true);
  if (v >= 1) throw new ValueError(`${opt}: ${what} must be in [0, 1), received ${v}`);
  return v;
}

export interface SGDArgs extends ClipArgs {
  learningRate?: LearningRate;
  momentum?: number;
  /** Nesterov momentum (TF.js's MomentumOptimizer useNesterov, Keras's nesterov). */
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;
  constructor(args: SGDArgs = {}) {
    super(args, 'SGD');
    this.setLearningRate(args.learningRate, 0.01, 'SGD');
    this.momentum = fraction(args.momentum ?? 0, 'momentum', 'SGD');
    this.nesterov = args.nesterov ?? false;
    if (typeof this.nesterov !== 'boolean')
      throw new ValueError(`SGD: nesterov must be true or false, received ${JSON.stringify(args.nesterov)}`);
    if (this.nesterov && this.momentum === 0) throw new ValueError('SGD: nesterov needs momentum > 0');
  }
  get slots(): number {
    return this.momentum > 0 ? 1 : 0;
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    if (this.momentum > 0) be.k.momentum_update(w, g, state[0], n, this.learningRate, this.momentum, this.nesterov ? 1 : 0);
    else be.k.sgd_update(w, g, n, this.learningRate);
  }
  protected hyper(): Record<string, number | boolean> {
    return this.nesterov
      ? { learningRate: this.learningRate, momentum: this.momentum, nesterov: true }
      : { learningRate: this.learningRate, momentum: this.momentum };
  }
  /** Plain SGD moves a weight by lr * g exactly; momentum's accumulator depends on history. */
  maxUpdate(gradMaxAbs: number): number {
    return this.momentum > 0 ? Infinity : this.nextLearningRate * gradMaxAbs * (1 + 2 ** -20);
  }
}

export interface AdamArgs extends ClipArgs {
  learningRate?: LearningRate;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam extends Optimizer {
  readonly className: string = 'Adam';
  readonly slots = 2;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private c1 = 1;
  private c2 = 1;
  constructor(args: AdamArgs = {}, name = 'Adam') {
    super(args, name);
    this.setLearningRate(args.learningRate, 0.001, name);
    this.beta1 = positive(args.beta1 ?? 0.9, 'beta1', name, true);
    this.beta2 = positive(args.beta2 ?? 0.999, 'beta2', name, true);
    this.epsilon = positive(args.epsilon ?? 1e-7, 'epsilon', name);
    if (this.beta1 >= 1 || this.beta2 >= 1)
      throw new ValueError(`${name}: beta1 and beta2 must be in [0, 1), received ${this.beta1}, ${this.beta2}`);
  }
  apply(be: Backend, runs: UpdateRun[], grads: number, state: number[]): void {
    const t = this.iterations + 1;
    // TF.js keeps the running powers in float32; Math.fround matches that closely for the correction.
    this.c1 = Math.fround(1 - Math.pow(this.beta1, t));
    this.c2 = Math.fround(1 - Math.pow(this.beta2, t));
    super.apply(be, runs, grads, state);
  }
  /** lr * weightDecay for AdamW's decoupled decay; 0 for Adam. */
  protected get decay(): number {
    return 0;
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    be.k.adam_update(w, g, state[0], state[1], n, this.learningRate, this.beta1, this.beta2, this.epsilon, this.c1, this.c2, this.decay);
  }
  protected hyper(): Record<string, number | boolean> {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

export interface AdamWArgs extends AdamArgs {
  /** Decoupled weight decay: w -= learningRate * weightDecay * w before each Adam step (Keras's default 0.004). */
  weightDecay?: number;
}

/**
 * Adam with decoupled weight decay. TF.js 4.22 has no AdamW: this is Keras's AdamW formula (the decay step
 * w -= lr * weightDecay * w first, then Adam) around TF.js's Adam update (epsilon added after the bias
 * correction of v; Keras adds it to sqrt(v) before correcting, a difference of order epsilon).
 */
export class AdamW extends Adam {
  readonly className = 'AdamW';
  readonly weightDecay: number;
  constructor(args: AdamWArgs = {}) {
    super(args, 'AdamW');
    this.weightDecay = positive(args.weightDecay ?? 0.004, 'weightDecay', 'AdamW', true);
  }
  protected get decay(): number {
    return Math.fround(this.learningRate * this.weightDecay);
  }
  protected hyper(): Record<string, number | boolean> {
    return { ...super.hyper(), weightDecay: this.weightDecay };
  }
}

export interface RMSpropArgs extends ClipArgs {
  learningRate?: LearningRate;
  /** Decay of the mean square (TF.js's decay, Keras's rho); default 0.9. */
  rho?: number;
  decay?: number;
  momentum?: number;
  epsilon?: number;
  /** Divide by the gradient's variance rather than its mean square. */
  centered?: boolean;
}

/** RMSprop with TF.js's update (epsilon inside the square root) and defaults rho 0.9, momentum 0, epsilon 1e-7. */
export class RMSprop extends Optimizer {
  readonly className = 'RMSprop';
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;
  constructor(args: RMSpropArgs = {}) {
    super(args, 'RMSprop');
    if (args.rho != null && args.decay != null && args.rho !== args.decay)
      throw new ValueError(`RMSprop: rho and decay are the same option; received both (${args.rho}, ${args.decay})`);
    this.setLearningRate(args.learningRate, 0.001, 'RMSprop');
    this.rho = fraction(args.rho ?? args.decay ?? 0.9, 'rho', 'RMSprop');
    this.momentum = fraction(args.momentum ?? 0, 'momentum', 'RMSprop');
    this.epsilon = positive(args.epsilon ?? 1e-7, 'epsilon', 'RMSprop');
    this.centered = args.centered ?? false;
    if (typeof this.centered !== 'boolean')
      throw new ValueError(`RMSprop: centered must be true or false, received ${JSON.stringify(args.centered)}`);
  }
  get slots(): number {
    return this.centered ? 3 : 2;
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    be.k.rmsprop_update(
      w,
      g,
      state[0],
      state[1],
      this.centered ? state[2] : 0,
      n,
      this.learningRate,
      this.rho,
      this.momentum,
      this.epsilon,
    );
  }
  protected hyper(): Record<string, number | boolean> {
    return { learningRate: this.learningRate, rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: this.centered };
  }
}

export interface AdagradArgs extends ClipArgs {
  learningRate?: LearningRate;
  initialAccumulatorValue?: number;
}

/** Adagrad as TF.js: accumulator from initialAccumulatorValue (0.1), w -= lr g / sqrt(acc + 1e-7). */
export class Adagrad extends Optimizer {
  readonly className = 'Adagrad';
  readonly slots = 1;
  readonly initialAccumulatorValue: number;
  constructor(args: AdagradArgs = {}) {
    super(args, 'Adagrad');
    this.setLearningRate(args.learningRate, 0.001, 'Adagrad');
    this.initialAccumulatorValue = positive(args.initialAccumulatorValue ?? 0.1, 'initialAccumulatorValue', 'Adagrad', true);
  }
  slotInitialValue(): number {
    return this.initialAccumulatorValue;
  }
  protected update(be: Backend, w: number, g: number, state: number[], n: number): void {
    be.k.adagrad_update(w, g, state[0], n, this.learningRate, ADAGRAD_EPSILON);
  }
  protected hyper(): Record<string, number | boolean> {
    return { learningRate: this.learningRate, initialAccumulatorValue: this.initialAccumulatorValue };
  }
}
/** TF.js's backend epsilon, which its Adagrad adds under the square root. */
const ADAGRAD_EPSILON = 1e-7;

/** An optimizer, its compile() string, or its TF.js serialized form {className, config}. */
export type OptimizerLike =
  Optimizer | 'sgd' | 'adam' | 'adamw' | 'rmsprop' | 'adagrad' | { className: string; config?: Record<string, unknown> };

type Config = Record<string, number | boolean | ScheduleConfig | undefined>;

interface Entry {
  /** compile()'s string and the class names files use (TF.js's 'Momentum' is SGD with momentum). */
  names: string[];
  create(config: Config): Optimizer;
  /** Where a saved optimizer's own state lives: TF.js's per-weight suffixes, one per slot. */
  slotNames(o: Optimizer): string[];
}

const clipOf = (c: Config): ClipArgs => ({
  clipNorm: c.clipNorm as number | undefined,
  clipValue: c.clipValue as number | undefined,
  globalClipNorm: c.globalClipNorm as number | undefined,
});
const num = (v: unknown) => v as number | undefined;
/** A learning rate as configs hold it: a number or a schedule's config. */
const rate = (v: unknown) => v as LearningRate | undefined;

const REGISTRY: Entry[] = [
  {
    names: ['sgd', 'SGD', 'Momentum', 'momentum'],
    create: (c) =>
      new SGD({
        learningRate: rate(c.learningRate),
        momentum: num(c.momentum),
        nesterov: (c.nesterov ?? c.useNesterov) as boolean | undefined,
        ...clipOf(c),
      }),
    slotNames: (o) => (o.slots ? ['momentum'] : []),
  },
  {
    names: ['adam', 'Adam'],
    create: (c) => {
      const a = { learningRate: rate(c.learningRate), beta1: num(c.beta1), beta2: num(c.beta2), epsilon: num(c.epsilon), ...clipOf(c) };
      // Keras 3's Adam with weight_decay decays decoupled, as AdamW.
      return c.weightDecay ? new AdamW({ ...a, weightDecay: num(c.weightDecay) }) : new Adam(a);
    },
    slotNames: () => ['m', 'v'],
  },
  {
    names: ['adamw', 'AdamW'],
    create: (c) =>
      new AdamW({
        learningRate: rate(c.learningRate),
        beta1: num(c.beta1),
        beta2: num(c.beta2),
        epsilon: num(c.epsilon),
        weightDecay: num(c.weightDecay),
        ...clipOf(c),
      }),
    slotNames: () => ['m', 'v'],
  },
  {
    names: ['rmsprop', 'RMSProp', 'RMSprop'],
    create: (c) =>
      new RMSprop({
        learningRate: rate(c.learningRate),
        rho: num(c.rho ?? c.decay),
        momentum: num(c.momentum),
        epsilon: num(c.epsilon),
        centered: c.centered as boolean | undefined,
        ...clipOf(c),
      }),
    slotNames: (o) => ['rms', 'momentum', ...((o as RMSprop).centered ? ['mg'] : [])],
  },
  {
    names: ['adagrad', 'Adagrad'],
    create: (c) =>
      new Adagrad({ learningRate: rate(c.learningRate), initialAccumulatorValue: num(c.initialAccumulatorValue), ...clipOf(c) }),
    slotNames: () => ['accumulator'],
  },
];

/** The strings compile() takes. */
export const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'] as const;

const entryOf = (name: unknown) => REGISTRY.find((e) => e.names.includes(name as string));

export function getOptimizer(o: OptimizerLike, where = 'compile'): Optimizer {
  if (o instanceof Optimizer) return o;
  if (typeof o === 'string' && (OPTIMIZER_NAMES as readonly string[]).includes(o)) return entryOf(o)!.create({});
  if (o && typeof o === 'object' && entryOf(o.className)) return entryOf(o.className)!.create((o.config ?? {}) as Config);
  throw new ValueError(
    `${where}: optimizer must be ${OPTIMIZER_NAMES.map((n) => `'${n}'`).join(', ')}, an Optimizer (new SGD({...}), new RMSprop({...}), ...) or {className: 'SGD'|'Adam'|'RMSProp'|'Adagrad'|..., config}, received ${JSON.stringify(o)}`,
  );
}

/**
 * TF.js's optimizer_config for it: SGD with momentum is tfjs's Momentum, RMSprop its 'RMSProp' with
 * `decay`. AdamW is written as Adam with Keras's weight_decay (TF.js has no AdamW and reads it as Adam;
 * Keras 3's Adam decays decoupled, as AdamW). Clipping goes in Keras's names (clipnorm, clipvalue,
 * global_clipnorm), which TF.js ignores.
 */
export function optimizerConfig(o: Optimizer): { className: string; config: Record<string, unknown> } {
  const c = constantConfig(o);
  // A schedule goes where the rate would, in Keras 3's serialized form (TF.js has no schedules).
  if (o.learningRateSchedule) c.config.learningRate = kerasScheduleConfig(o.learningRateSchedule);
  return c;
}

function constantConfig(o: Optimizer): { className: string; config: Record<string, unknown> } {
  const clip: Record<string, number> = {};
  if (o.clipNorm !== undefined) clip.clipnorm = o.clipNorm;
  if (o.clipValue !== undefined) clip.clipvalue = o.clipValue;
  if (o.globalClipNorm !== undefined) clip.global_clipnorm = o.globalClipNorm;
  if (o instanceof SGD) {
    return o.momentum > 0
      ? { className: 'Momentum', config: { learningRate: o.learningRate, momentum: o.momentum, useNesterov: o.nesterov, ...clip } }
      : { className: 'SGD', config: { learningRate: o.learningRate, ...clip } };
  }
  if (o instanceof RMSprop) {
    return {
      className: 'RMSProp',
      config: { learningRate: o.learningRate, decay: o.rho, momentum: o.momentum, epsilon: o.epsilon, centered: o.centered, ...clip },
    };
  }
  if (o instanceof AdamW) {
    return {
      className: 'Adam',
      config: { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, weight_decay: o.weightDecay, ...clip },
    };
  }
  const c = o.getConfig();
  for (const k of ['clipNorm', 'clipValue', 'globalClipNorm']) delete c[k];
  return { className: o.className, config: { ...c, ...clip } };
}

export const slotNames = (o: Optimizer) => entryOf(o.className)!.slotNames(o);

/** The optimizer a training config describes (tfjs or Keras keys), or undefined if simdcnn cannot run exactly that one. */
export function optimizerFromConfig(oc: unknown): Optimizer | undefined {
  if (!oc || typeof oc !== 'object') return undefined;
  const { class_name: cls, config = {} } = oc as { class_name?: unknown; config?: Record<string, unknown> };
  const entry = entryOf(cls) ?? entryOf(typeof cls === 'string' ? cls.toLowerCase() : cls);
  if (!entry) return undefined;
  // Keras options that change the update; absent, null, 0 or false is fine.
  for (const k of ['decay', 'use_ema', 'amsgrad', 'loss_scale_factor']) {
    // TF.js's RMSProp calls rho 'decay'; beside a rho (Keras 2) it is a learning-rate decay.
    if (k === 'decay' && entry.names.includes('rmsprop') && config.rho == null) continue;
    if (config[k] !== undefined && config[k] !== null && config[k] !== 0 && config[k] !== false) return undefined;
  }
  if (config.weight_decay && !entry.names.includes('adam') && !entry.names.includes('adamw')) return undefined;
  if ((config.gradient_accumulation_steps ?? 1) !== 1 && config.gradient_accumulation_steps !== null) return undefined;
  const pick = (...keys: string[]) => {
    for (const k of keys) if (config[k] !== undefined && config[k] !== null) return config[k] as number | boolean;
    return undefined;
  };
  try {
    return entry.create({
      learningRate: pick('learningRate', 'learning_rate', 'lr'),
      momentum: pick('momentum'),
      nesterov: pick('nesterov', 'useNesterov', 'use_nesterov'),
      beta1: pick('beta1', 'beta_1'),
      beta2: pick('beta2', 'beta_2'),
      epsilon: pick('epsilon'),
      rho: pick('rho', 'decay'),
      centered: pick('centered'),
      initialAccumulatorValue: pick('initialAccumulatorValue', 'initial_accumulator_value'),
      weightDecay: pick('weightDecay', 'weight_decay'),
      clipNorm: pick('clipnorm', 'clipNorm'),
      clipValue: pick('clipvalue', 'clipValue'),
      globalClipNorm: pick('global_clipnorm', 'globalClipnorm', 'globalClipNorm'),
    });
  } catch (e) {
    if (e instanceof SimdcnnError) return undefined; // e.g. a learning-rate schedule object
    throw e;
  }
}
