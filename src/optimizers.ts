// Optimizers with TensorFlow.js's update formulas, applied by one SIMD kernel call over all parameters.
import type { Backend } from './backend.js';
import { ValueError } from './errors.js';

/** The most state blocks any optimizer keeps (Adam's m and v); saved files are checked against it. */
export const MAX_OPTIMIZER_SLOTS = 2;

export abstract class Optimizer {
  abstract readonly className: string;
  /** Float buffers of state per parameter (0 for SGD, 1 for momentum, 2 for Adam). */
  abstract readonly slots: number;
  /** Updates taken so far (Adam's bias correction uses it; saved with the state). */
  iterations = 0;
  abstract apply(be: Backend, params: number, grads: number, state: number[], n: number): void;
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
  apply(be: Backend, params: number, grads: number, state: number[], n: number): void {
    this.iterations++;
    if (this.momentum > 0) be.k.momentum_update(params, grads, state[0], n, this.learningRate, this.momentum);
    else be.k.sgd_update(params, grads, n, this.learningRate);
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
  constructor(args: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } = {}) {
    super();
    this.learningRate = positive(args.learningRate ?? 0.001, 'learningRate', 'Adam');
    this.beta1 = positive(args.beta1 ?? 0.9, 'beta1', 'Adam', true);
    this.beta2 = positive(args.beta2 ?? 0.999, 'beta2', 'Adam', true);
    this.epsilon = positive(args.epsilon ?? 1e-7, 'epsilon', 'Adam');
    if (this.beta1 >= 1 || this.beta2 >= 1) throw new ValueError(`Adam: beta1 and beta2 must be in [0, 1), received ${this.beta1}, ${this.beta2}`);
  }
  apply(be: Backend, params: number, grads: number, state: number[], n: number): void {
    this.iterations++;
    const t = this.iterations;
    // TF.js keeps the running powers in float32; Math.fround matches that closely for the correction.
    const c1 = Math.fround(1 - Math.pow(this.beta1, t));
    const c2 = Math.fround(1 - Math.pow(this.beta2, t));
    be.k.adam_update(params, grads, state[0], state[1], n, this.learningRate, this.beta1, this.beta2, this.epsilon, c1, c2);
  }
  getConfig(): Record<string, number> {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

export type OptimizerLike = Optimizer | 'sgd' | 'adam';

export function getOptimizer(o: OptimizerLike): Optimizer {
  if (o instanceof Optimizer) return o;
  if (o === 'sgd') return new SGD();
  if (o === 'adam') return new Adam();
  throw new ValueError(`compile: optimizer must be 'sgd', 'adam', new SGD({...}) or new Adam({...}), received ${JSON.stringify(o)}`);
}
