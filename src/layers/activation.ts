import { ShapeError, ValueError } from '../errors.js';
import { shapeSize } from '../tensor.js';
import {
  ACT,
  type ActivationName,
  actBackward,
  activationCode,
  actForward,
  type ActParams,
  checkActivation,
  gradSource,
  type GradSource,
  NO_PARAMS,
} from '../activations.js';
import { copyFloats, type FoldKind, Layer, type LayerArgs, type Need, type NodeIO, quote, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

/** One elementwise activation kernel with its parameters: what the ReLU, LeakyReLU and ELU layers run. */
abstract class ElementwiseLayer extends Layer {
  protected abstract readonly code: number;
  protected readonly params: ActParams = NO_PARAMS;
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  /** Which tensor the derivative reads (the output for the plain ReLU and ELU, the input otherwise). */
  protected get gradFrom(): GradSource {
    return this.backwardReads.output ? 'output' : 'input';
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    actForward(be, this.code, io.x[0], io.y, n * shapeSize(io.shapes.out), this.params);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const src = this.gradFrom === 'output' ? io.y : io.x[0];
    actBackward(be, this.code, src, io.dy, io.dx[0], n * shapeSize(io.shapes.out), this.params);
  }
}

function finiteOption(v: unknown, fallback: number, what: string, layer: string, min = -Infinity): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min)
    throw new ValueError(`${layer}: ${what} must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, received ${JSON.stringify(v)}`);
  return x;
}

export interface ReLUArgs extends LayerArgs {
  /** Clip the output at this value (TF.js's only ReLU option); null or undefined: no clipping. */
  maxValue?: number | null;
  /** Keras's ReLU options: slope below the threshold (default 0) and the threshold (default 0). */
  negativeSlope?: number;
  threshold?: number;
}

/** max(x, 0), or Keras's ReLU with maxValue / negativeSlope / threshold: x >= max ? max : x > t ? x : slope (x - t). */
class ReLULayer extends ElementwiseLayer {
  static readonly className = 'ReLU';
  static readonly options = ['maxValue', 'negativeSlope', 'threshold'];
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;
  protected readonly code: number;
  protected readonly params: ActParams;
  readonly backwardReads: { input: boolean; output: boolean };
  constructor(args: ReLUArgs = {}) {
    super(args, 're_lu');
    this.maxValue = args.maxValue == null ? null : finiteOption(args.maxValue, 0, 'maxValue', this.name, 0);
    this.negativeSlope = finiteOption(args.negativeSlope, 0, 'negativeSlope', this.name, 0);
    this.threshold = finiteOption(args.threshold, 0, 'threshold', this.name, 0);
    const plain = this.maxValue === null && this.negativeSlope === 0 && this.threshold === 0;
    this.code = plain ? ACT.relu : ACT.reluGeneral;
    this.params = { a: this.negativeSlope, b: this.threshold, c: this.maxValue ?? Infinity };
    this.backwardReads = { input: !plain, output: plain };
  }
  /** The plain ReLU folds into the layer before it at inference. */
  inferenceFold(): FoldKind | undefined {
    return this.code === ACT.relu ? 'relu' : undefined;
  }
  getConfig(): Record<string, unknown> {
    const keras = this.negativeSlope !== 0 || this.threshold !== 0 ? { negativeSlope: this.negativeSlope, threshold: this.threshold } : {};
    return { maxValue: this.maxValue, ...keras, ...super.getConfig() };
  }
}
registerLayer(ReLULayer);

export interface LeakyReLUArgs extends LayerArgs {
  /** Slope for x < 0 (default 0.3, as TF.js; Keras 3 files call it negativeSlope). */
  alpha?: number;
  negativeSlope?: number;
}

/** x > 0 ? x : alpha x. */
class LeakyReLULayer extends ElementwiseLayer {
  static readonly className = 'LeakyReLU';
  static readonly options = ['alpha', 'negativeSlope'];
  readonly alpha: number;
  protected readonly code = ACT.reluGeneral;
  protected readonly params: ActParams;
  readonly backwardReads = { input: true, output: false };
  constructor(args: LeakyReLUArgs = {}) {
    super(args, 'leaky_re_lu');
    this.alpha = finiteOption(args.alpha ?? args.negativeSlope, 0.3, 'alpha', this.name);
    this.params = { a: this.alpha, b: 0, c: Infinity };
  }
  getConfig(): Record<string, unknown> {
    return { alpha: this.alpha, ...super.getConfig() };
  }
}
registerLayer(LeakyReLULayer);

export interface ELUArgs extends LayerArgs {
  /** Scale of the negative part, alpha (e^x - 1) (default 1; TF.js supports only 1, Keras any positive value). */
  alpha?: number;
}

/** x > 0 ? x : alpha (e^x - 1). */
class ELULayer extends ElementwiseLayer {
  static readonly className = 'ELU';
  static readonly options = ['alpha'];
  readonly alpha: number;
  protected readonly code = ACT.elu;
  protected readonly params: ActParams;
  readonly backwardReads = { input: false, output: true };
  constructor(args: ELUArgs = {}) {
    super(args, 'elu');
    this.alpha = finiteOption(args.alpha, 1, 'alpha', this.name, Number.MIN_VALUE);
    this.params = { a: this.alpha, b: 0, c: Infinity };
  }
  getConfig(): Record<string, unknown> {
    return { alpha: this.alpha, ...super.getConfig() };
  }
}
registerLayer(ELULayer);

function softmaxForward(io: NodeIO, n: number, be: RunContext['be']): void {
  const C = io.shapes.out[io.shapes.out.length - 1];
  be.k.softmax_forward(io.x[0], io.y, (n * shapeSize(io.shapes.out)) / C, C);
}
/** Softmax's Jacobian on dy, or dy itself when the loss already gave the gradient before the softmax. */
function softmaxBackward(io: NodeIO, n: number, be: RunContext['be']): void {
  const count = n * shapeSize(io.shapes.out),
    C = io.shapes.out[io.shapes.out.length - 1];
  if (io.preActivationGrad) copyFloats(be, io.dx[0], io.dy, count);
  else be.k.softmax_backward(io.y, io.dy, io.dx[0], count / C, C);
}

export interface SoftmaxArgs extends LayerArgs {
  /** The last axis only: -1, or its index counting the batch axis (as Keras files write it). */
  axis?: number | number[];
}

/** Softmax over the last axis. As the last layer with a crossentropy loss, its gradient is fused with the loss. */
class SoftmaxLayer extends Layer {
  static readonly className = 'Softmax';
  static readonly options = ['axis'];
  readonly activation = 'softmax';
  readonly backwardReads = { input: false, output: true };
  /** Kept as given, so a re-saved file says the same. */
  readonly axis: number;
  constructor(args: SoftmaxArgs = {}) {
    super(args, 'softmax');
    const a = Array.isArray(args.axis) && args.axis.length === 1 ? args.axis[0] : (args.axis ?? -1);
    if (!Number.isInteger(a)) throw new ValueError(`${this.name}: axis ${quote(args.axis)} is not supported (only the last axis)`);
    this.axis = a as number;
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    const rank = inputShapes[0].length;
    if (this.axis !== -1 && this.axis !== rank)
      throw new ShapeError(`${this.name} (Softmax): axis ${this.axis} is not supported (only the last axis, -1 or ${rank} here)`);
    return inputShapes[0].slice();
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    softmaxForward(io, n, be);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) softmaxBackward(io, n, be);
  }
  getConfig(): Record<string, unknown> {
    return { axis: this.axis, ...super.getConfig() };
  }
}
registerLayer(SoftmaxLayer);

export interface ActivationArgs extends LayerArgs {
  activation: ActivationName;
}

/** Keras's Activation layer: any activation name ('linear' is the identity and shares its input's memory). */
class ActivationLayer extends Layer {
  static readonly className = 'Activation';
  static readonly options = ['activation'];
  readonly activation: ActivationName;
  readonly aliasesInput: boolean;
  readonly backwardReads: { input: boolean; output: boolean };
  constructor(args: ActivationArgs) {
    super(args, 'activation');
    this.activation = checkActivation(args?.activation, this.name);
    this.aliasesInput = this.activation === 'linear';
    const from = gradSource(this.activation);
    this.backwardReads = { input: from === 'input', output: from === 'output' };
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  /** Elementwise activations fold into the layer before it at inference. */
  inferenceFold(): FoldKind | undefined {
    return this.activation === 'softmax' || this.activation === 'linear' ? undefined : this.activation;
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    if (this.activation === 'softmax') softmaxForward(io, n, be);
    else actForward(be, activationCode(this.activation), io.x[0], io.y, n * shapeSize(io.shapes.out));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const count = n * shapeSize(io.shapes.out);
    if (this.activation === 'softmax') softmaxBackward(io, n, be);
    else if (io.preActivationGrad) copyFloats(be, io.dx[0], io.dy, count);
    else {
      const src = gradSource(this.activation) === 'input' ? io.x[0] : io.y;
      actBackward(be, activationCode(this.activation), src, io.dy, io.dx[0], count);
    }
  }
  getConfig(): Record<string, unknown> {
    return { activation: this.activation, ...super.getConfig() };
  }
}
registerLayer(ActivationLayer);

export const ReLU = callable(ReLULayer);
export type ReLU = ReLULayer;
export const Softmax = callable(SoftmaxLayer);
export type Softmax = SoftmaxLayer;
export const Activation = callable(ActivationLayer);
export type Activation = ActivationLayer;
export const LeakyReLU = callable(LeakyReLULayer);
export type LeakyReLU = LeakyReLULayer;
export const ELU = callable(ELULayer);
export type ELU = ELULayer;
