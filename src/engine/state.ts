// What compile() fixes and the fit lifecycle: the optimizer, its state blocks and the loss of a model, the
// calls that must wait while fit runs, and saving and restoring the optimizer's state.
import { ShapeError, StateError, ValueError } from '../errors.js';
import type { Layer } from '../layers/layer.js';
import { getOptimizer, type Optimizer, type OptimizerLike } from '../optimizers.js';
import type { Rng } from '../random.js';
import { getLoss, type Loss, type LossLike } from './losses.js';
import type { Runtime } from './runtime.js';
import type { IOShapes } from './validation.js';

export interface CompileArgs {
  optimizer: OptimizerLike;
  /** A loss name, or {className, config: {labelSmoothing, fromLogits}} as Keras's loss classes take them. */
  loss: LossLike | Loss;
  /** Accepted for Keras compatibility; accuracy is reported where the loss has one (categorical, binary). */
  metrics?: string[];
}

/** What compile() fixed: the optimizer, its state blocks (twins of the gradient block), the loss and an undo copy. */
export interface Compiled {
  optimizer: Optimizer;
  loss: Loss;
  /** The loss's gradient is taken before the output layer's final activation (softmax, sigmoid). */
  fused: boolean;
  states: number[];
  /** The trainable weights and their optimizer state from before the last checked update, to undo one that diverged. */
  undo: number;
}

/** What training needs of a model. */
export interface TrainHost {
  readonly name: string;
  readonly rng: Rng;
  readonly isDisposed: boolean;
  stopTraining: boolean;
  compiled?: Compiled;
  /** Throws StateError if the model was disposed. */
  alive(what: string): void;
  /** The built model's runtime (building it if need be); throws StateError if disposed. */
  runtime(what: string): Runtime;
  ioShapes(): IOShapes;
  outputLayer(): Layer;
}

export const TRAIN = { training: true, inputGrad: false };
export const INFER = { training: false, inputGrad: false };
/** The chunks of a training batch split into chunks (src/threads/chunked.ts): the first, and the others. */
export const FIRST_CHUNK = { training: true, inputGrad: false, chunk: 'first' as const };
export const OTHER_CHUNK = { training: true, inputGrad: false, chunk: 'other' as const };
/** A training batch's inputs and targets only (it trains in chunks with arenas of their own). */
export const STAGE = { training: true, inputGrad: false, staging: true };

// ------------------------------------------------------------------------------------------- lifecycle

export const running = new WeakSet<TrainHost>();
/** Whether fit() is running on this model. */
export const isTraining = (host: TrainHost) => running.has(host);

/**
 * Runs fn as if no training were on: for callbacks that write weights as training ends (EarlyStopping's
 * restoreBestWeights, from its onTrainEnd, where no step can run in between).
 */
export function duringRun<T>(host: TrainHost, fn: () => T): T {
  const on = running.has(host);
  running.delete(host);
  try {
    return fn();
  } finally {
    if (on) running.add(host);
  }
}

/** Calls that change the weights, the optimizer or the model itself wait for fit to finish. */
export function idle(host: TrainHost, what: string): void {
  host.alive(what);
  if (running.has(host)) {
    throw new StateError(
      `${host.name}.${what}: fit() is running on this model; ${what} must wait until it ends (from a callback, predict, evaluate and save work; set model.stopTraining = true to stop early)`,
    );
  }
}

export function compile(host: TrainHost, args: CompileArgs): Compiled {
  idle(host, 'compile');
  if (!args || typeof args !== 'object') throw new ValueError(`${host.name}.compile: expected {optimizer, loss}, received ${String(args)}`);
  const optimizer = getOptimizer(args.optimizer, `${host.name}.compile`);
  const loss = getLoss(args.loss, `${host.name}.compile`);
  const last = host.outputLayer();
  const why = loss.refuses(last.activation);
  if (why) throw new ValueError(`${host.name}.compile: ${why}; the last layer is '${last.name}' (${last.className})`);
  releaseState(host);
  return { optimizer, loss, fused: loss.fusedWith(last.activation), states: [], undo: 0 };
}

/** Frees the optimizer state and the undo copy (recompiling, disposing); they exist only in a built model. */
export function releaseState(host: TrainHost): void {
  const c = host.compiled;
  if (!c || (!c.states.length && !c.undo)) return;
  const be = host.runtime('compile').be;
  for (const s of c.states) be.release(s);
  if (c.undo) be.release(c.undo);
  c.states = [];
  c.undo = 0;
}

export function requireCompiled(host: TrainHost, what: string): Compiled {
  host.runtime(what);
  if (!host.compiled)
    throw new StateError(
      `${host.name}.${what}: compile the model first, e.g. model.compile({optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy'})`,
    );
  return host.compiled;
}

export function checkTrainable(host: TrainHost, rt: Runtime, what: string): void {
  for (const l of rt.graph.layers) {
    const why = l.trainingBlocker();
    if (why) throw new StateError(`${host.name}.${what}: ${why}`);
  }
}

// ------------------------------------------------------------------------------------------- optimizer state

/** Copies of the optimizer's state blocks (gradient-block layout), for saving. */
export function getOptimizerState(host: TrainHost): Float32Array[] {
  const rt = host.runtime('getOptimizerState');
  return (host.compiled?.states ?? []).map((b) => rt.be.read(b, rt.params.floats));
}

/**
 * Restores saved optimizer state so training resumes exactly where it stopped: one block per optimizer
 * slot (none resets it), each in this model's state layout.
 */
export function setOptimizerState(host: TrainHost, slots: Float32Array[], iterations: number): void {
  const c = requireCompiled(host, 'setOptimizerState');
  idle(host, 'setOptimizerState');
  const rt = host.runtime('setOptimizerState'),
    floats = rt.params.floats,
    opt = c.optimizer;
  const where = `${host.name}.setOptimizerState`;
  if (!Array.isArray(slots)) throw new ValueError(`${where}: expected an array of state blocks, received ${typeof slots}`);
  if (slots.length !== 0 && slots.length !== opt.slots)
    throw new ValueError(`${where}: ${opt.className} keeps ${opt.slots} state blocks, received ${slots.length}`);
  const copies = slots.map((s) => (s && typeof s === 'object' && typeof s.length === 'number' ? Float32Array.from(s) : undefined));
  if (copies.some((s) => s?.length !== floats))
    throw new ShapeError(
      `${where}: each state block must hold ${floats} floats (this model's parameter layout), received ${copies.map((s) => s?.length ?? 'none').join(', ')}`,
    );
  copies.forEach((s, k) => {
    const at = s!.findIndex((v) => !Number.isFinite(v));
    if (at >= 0) throw new ValueError(`${where}: state block ${k} holds ${s![at]} at ${at}; expected finite numbers`);
  });
  if (!Number.isSafeInteger(iterations) || iterations < 0)
    throw new ValueError(`${where}: iterations must be a non-negative integer, received ${iterations}`);
  idle(host, 'setOptimizerState'); // the arrays' getters ran user code
  const blocks: number[] = [];
  try {
    for (const s of copies) {
      const b = rt.be.alloc(floats * 4, `${host.name} optimizer state`);
      blocks.push(b);
      rt.be.write(b, s!);
    }
  } catch (e) {
    for (const b of blocks) rt.be.release(b);
    throw e;
  }
  for (const b of c.states) rt.be.release(b);
  c.states = blocks;
  opt.iterations = iterations;
}
