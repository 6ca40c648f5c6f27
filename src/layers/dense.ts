import { FLAG_BIAS, FLAG_NEED_DX, FLAG_RELU } from '../backend.js';
import { checkInitializer, type InitializerName } from '../initializers.js';
import { denseBackward, denseForward, denseScratchFloats } from '../kernels/dense.js';
import { type Activation, checkActivation, checkPositiveInt, Layer, type LayerArgs, type ParamSpec } from './layer.js';

export interface DenseArgs extends LayerArgs {
  units: number;
  useBias?: boolean;
  activation?: Activation;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** Fully connected: y = act(x w + b), w [in, units]. */
export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: Activation;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;

  constructor(args: DenseArgs) {
    super(args, 'dense');
    this.units = checkPositiveInt(args.units, 'units', this.name);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.kernelInitializer = checkInitializer(args.kernelInitializer ?? 'glorotUniform', this.name, 'kernelInitializer');
    this.biasInitializer = checkInitializer(args.biasInitializer ?? 'zeros', this.name, 'biasInitializer');
  }

  private get inUnits(): number {
    return this.inputShape[0];
  }

  computeOutputShape(inputShape: number[]): number[] {
    this.expectRank(inputShape, 1, '; put a Flatten() layer before Dense');
    return [this.units];
  }

  protected paramSpecs(): ParamSpec[] {
    const specs: ParamSpec[] = [
      { name: 'kernel', shape: [this.inUnits, this.units], init: this.kernelInitializer, fanIn: this.inUnits, fanOut: this.units },
    ];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.units], init: this.biasInitializer, fanIn: 1, fanOut: this.units });
    return specs;
  }

  scratchFloats(): number {
    return denseScratchFloats(this.inUnits, this.units);
  }

  forward(n: number): void {
    const b = this.b;
    const flags = (this.useBias ? FLAG_BIAS : 0) | (this.activation === 'relu' ? FLAG_RELU : 0);
    denseForward(this.be, b.x, b.params[0], this.useBias ? b.params[1] : 0, b.y, b.scratch, n, this.inUnits, this.units, flags);
    if (this.activation === 'softmax') this.be.k.softmax_forward(b.y, b.y, n, this.units);
  }

  backward(n: number, needDx: boolean): void {
    const b = this.b, k = this.be.k;
    if (this.activation === 'relu') k.relu_backward(b.y, b.dy, b.dy, n * this.units);
    else if (this.activation === 'softmax' && !this.fusedSoftmaxGrad) k.softmax_backward(b.y, b.dy, b.dy, n, this.units);
    const flags = (this.useBias ? FLAG_BIAS : 0) | (needDx ? FLAG_NEED_DX : 0);
    denseBackward(this.be, b.x, b.params[0], b.dy, b.dx, b.grads[0], this.useBias ? b.grads[1] : 0, b.scratch, n, this.inUnits, this.units, flags);
  }

  getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units, useBias: this.useBias, activation: this.activation,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer,
    };
  }
}
