import { ShapeError, ValueError } from '../errors.js';
import { shapeSize } from '../tensor.js';
import {
  type ActivationName,
  checkActivation,
  copyFloats,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  quote,
  type RunContext,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

/** max(x, 0). */
class ReLULayer extends Layer {
  static readonly className = 'ReLU';
  static readonly fixedOptions = { maxValue: null, negativeSlope: 0, threshold: 0 };
  readonly backwardReads = { input: false, output: true };
  constructor(args: LayerArgs = {}) {
    super(args, 're_lu');
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    be.k.relu_forward(io.x[0], io.y, n * shapeSize(io.shapes.out));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) be.k.relu_backward(io.y, io.dy, io.dx[0], n * shapeSize(io.shapes.out));
  }
  getConfig(): Record<string, unknown> {
    return { maxValue: null, ...super.getConfig() };
  }
}
registerLayer(ReLULayer);

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

/** Keras's Activation layer: 'relu', 'softmax' or 'linear' (the identity, which shares its input's memory). */
class ActivationLayer extends Layer {
  static readonly className = 'Activation';
  static readonly options = ['activation'];
  readonly activation: ActivationName;
  readonly aliasesInput: boolean;
  readonly backwardReads = { input: false, output: true };
  constructor(args: ActivationArgs) {
    super(args, 'activation');
    this.activation = checkActivation(args.activation, this.name);
    this.aliasesInput = this.activation === 'linear';
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const count = n * shapeSize(io.shapes.out);
    if (this.activation === 'relu') be.k.relu_forward(io.x[0], io.y, count);
    else if (this.activation === 'softmax') softmaxForward(io, n, be);
    else copyFloats(be, io.y, io.x[0], count);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const count = n * shapeSize(io.shapes.out);
    if (this.activation === 'relu') be.k.relu_backward(io.y, io.dy, io.dx[0], count);
    else if (this.activation === 'softmax') softmaxBackward(io, n, be);
    else copyFloats(be, io.dx[0], io.dy, count);
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
