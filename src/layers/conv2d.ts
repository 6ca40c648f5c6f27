import { FLAG_BIAS, FLAG_RELU } from '../backend.js';
import { checkInitializer, type InitializerName } from '../initializers.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../kernels/conv2d.js';
import { computeWindow2D, pair, type Padding, type Window2D } from '../kernels/geometry.js';
import { type Activation, checkActivation, checkPadding, checkPositiveInt, Layer, type LayerArgs, type ParamSpec } from './layer.js';

export interface Conv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  useBias?: boolean;
  activation?: Activation;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/**
 * 2D convolution. Each of the `filters` filters has the depth of its input: kh x kw x inC weights whose
 * responses over all input channels are summed into one output channel. Weights [kh, kw, inC, filters].
 */
export class Conv2D extends Layer {
  readonly className = 'Conv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly useBias: boolean;
  readonly activation: Activation;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  geom!: Window2D;

  constructor(args: Conv2DArgs) {
    super(args, 'conv2d');
    this.filters = checkPositiveInt(args.filters, 'filters', this.name);
    this.kernelSize = pair(args.kernelSize, 'kernelSize', this.name);
    this.strides = pair(args.strides ?? 1, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.kernelInitializer = checkInitializer(args.kernelInitializer ?? 'glorotUniform', this.name, 'kernelInitializer');
    this.biasInitializer = checkInitializer(args.biasInitializer ?? 'zeros', this.name, 'biasInitializer');
  }

  computeOutputShape(inputShape: number[]): number[] {
    this.expectRank(inputShape, 3, ' [batch, height, width, channels]');
    this.geom = computeWindow2D(this.name, inputShape, this.kernelSize, this.strides, this.padding);
    return [this.geom.OH, this.geom.OW, this.filters];
  }

  protected paramSpecs(): ParamSpec[] {
    const [kh, kw] = this.kernelSize;
    const inC = this.geom.C;
    const specs: ParamSpec[] = [
      { name: 'kernel', shape: [kh, kw, inC, this.filters], init: this.kernelInitializer, fanIn: kh * kw * inC, fanOut: kh * kw * this.filters },
    ];
    if (this.useBias) specs.push({ name: 'bias', shape: [this.filters], init: this.biasInitializer, fanIn: 1, fanOut: this.filters });
    return specs;
  }

  scratchFloats(): number {
    return conv2dScratchFloats(this.geom, this.filters);
  }

  private get flags(): number {
    return (this.useBias ? FLAG_BIAS : 0) | (this.activation === 'relu' ? FLAG_RELU : 0);
  }

  forward(n: number): void {
    const b = this.b;
    conv2dForward(this.be, b.x, b.params[0], this.useBias ? b.params[1] : 0, b.y, b.scratch, this.geom, n, this.filters, this.flags);
    if (this.activation === 'softmax') this.be.k.softmax_forward(b.y, b.y, n * this.geom.OH * this.geom.OW, this.filters);
  }

  backward(n: number, needDx: boolean): void {
    const b = this.b, k = this.be.k;
    const count = n * this.geom.OH * this.geom.OW * this.filters;
    if (this.activation === 'relu') k.relu_backward(b.y, b.dy, b.dy, count);
    else if (this.activation === 'softmax' && !this.fusedSoftmaxGrad) k.softmax_backward(b.y, b.dy, b.dy, count / this.filters, this.filters);
    conv2dBackwardFilter(this.be, b.x, b.dy, b.grads[0], this.useBias ? b.grads[1] : 0, b.scratch, this.geom, n, this.filters, this.useBias ? FLAG_BIAS : 0);
    if (needDx) conv2dBackwardInput(this.be, b.dy, b.params[0], b.dx, b.scratch, this.geom, n, this.filters);
  }

  getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding,
      useBias: this.useBias, activation: this.activation,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer,
    };
  }
}
