// Conv2DTranspose (a "deconvolution"): the adjoint of a strided convolution, which enlarges images. With
// TF.js's weight layout [kh, kw, filters, inC] it is exactly the convolution it transposes, seen backwards:
// its forward pass is conv2d's input gradient, its input gradient is conv2d's forward pass, and its filter
// gradient is conv2d's filter gradient with the roles of input and output gradient swapped. So it runs on
// the conv2d kernels, on the weights in place (no transposed copy).
import { FLAG_BIAS, FLAG_RELU } from '../backend.js';
import { ValueError } from '../errors.js';
import { checkInitializer, initializerConfig, type InitializerConfig, type InitializerName } from '../initializers.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchFloats } from '../kernels/conv2d.js';
import { memoByShape, pair, type Padding, transposedWindow2D, type Window2D } from '../kernels/geometry.js';
import {
  type ActivationName,
  activationBackward,
  checkActivation,
  checkPadding,
  checkPositiveInt,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  type NodeShapes,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

export interface Conv2DTransposeArgs extends LayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  /** 'same': output = input * strides; 'valid': input * strides + max(kernel - strides, 0) (TF.js's rule). */
  padding?: Padding;
  /** Only 1 (TF.js's Conv2DTranspose has no dilation). */
  dilationRate?: number | [number, number];
  useBias?: boolean;
  activation?: ActivationName;
  kernelInitializer?: InitializerName | InitializerConfig;
  biasInitializer?: InitializerName | InitializerConfig;
}

/**
 * Transposed 2D convolution: [h, w, inC] -> [H, W, filters] with H = h * strides[0] ('same'). Each input
 * pixel adds its kh x kw x filters footprint, weighted by its channels, into the output. Weights
 * [kh, kw, filters, inC], as TF.js and Keras store them.
 */
class Conv2DTransposeLayer extends Layer {
  static readonly className = 'Conv2DTranspose';
  static readonly options = [
    'filters',
    'kernelSize',
    'strides',
    'padding',
    'dilationRate',
    'useBias',
    'activation',
    'kernelInitializer',
    'biasInitializer',
  ];
  static readonly fixedOptions = {
    dataFormat: 'channelsLast',
    outputPadding: null,
    groups: 1,
    kernelRegularizer: null,
    biasRegularizer: null,
    activityRegularizer: null,
    kernelConstraint: null,
    biasConstraint: null,
  };
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly useBias: boolean;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  readonly backwardReads: { input: boolean; output: boolean };
  /** The convolution this layer transposes, per input shape. */
  private readonly geometry: (inShape: number[]) => Window2D;

  constructor(args: Conv2DTransposeArgs) {
    super(args, 'conv2d_transpose');
    this.filters = checkPositiveInt(args.filters, 'filters', this.name);
    this.kernelSize = pair(args.kernelSize, 'kernelSize', this.name);
    this.strides = pair(args.strides ?? 1, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    const d = pair(args.dilationRate ?? 1, 'dilationRate', this.name);
    if (d[0] !== 1 || d[1] !== 1)
      throw new ValueError(`${this.name} (Conv2DTranspose): dilationRate ${JSON.stringify(d)} is not supported (only 1, as in TF.js)`);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.backwardReads = { input: true, output: this.activation !== 'linear' };
    this.kernelInitializer = checkInitializer(args.kernelInitializer, this.name, 'kernelInitializer', 'glorotUniform');
    this.biasInitializer = checkInitializer(args.biasInitializer, this.name, 'biasInitializer', 'zeros');
    this.geometry = memoByShape((s) => transposedWindow2D(this.name, s, this.kernelSize, this.strides, this.padding, this.filters));
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const g = this.geometry(this.expectRank(inputShapes, 3, ' [batch, height, width, channels]'));
    return [g.H, g.W, this.filters];
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const [kh, kw] = this.kernelSize;
    const inC = inputShapes[0][2];
    // Fans as TF.js computes them from the kernel's shape: its last two axes are in and out.
    const w: WeightSpec[] = [
      {
        name: 'kernel',
        shape: [kh, kw, this.filters, inC],
        initializer: this.kernelInitializer,
        fanIn: kh * kw * this.filters,
        fanOut: kh * kw * inC,
        trainable: true,
      },
    ];
    if (this.useBias)
      w.push({ name: 'bias', shape: [this.filters], initializer: this.biasInitializer, fanIn: 1, fanOut: this.filters, trainable: true });
    return w;
  }

  scratchFloats(s: NodeShapes): number {
    return conv2dScratchFloats(this.geometry(s.in[0]), s.in[0][2]);
  }

  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      inC = io.shapes.in[0][2];
    conv2dBackwardInput(be, io.x[0], io.params[0], io.y, io.scratch, g, n, inC);
    const flags = (this.useBias ? FLAG_BIAS : 0) | (this.activation === 'relu' ? FLAG_RELU : 0);
    be.k.bias_act(n * g.H * g.W, this.filters, io.y, this.useBias ? io.params[1] : 0, flags);
    if (this.activation === 'softmax') be.k.softmax_forward(io.y, io.y, n * g.H * g.W, this.filters);
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      inC = io.shapes.in[0][2];
    activationBackward(this.activation, io, n * g.H * g.W * this.filters, this.filters, be);
    if (need.dw) {
      conv2dBackwardFilter(be, io.dy, io.x[0], io.grads[0], 0, io.scratch, g, n, inC, 0);
      if (this.useBias) be.k.bias_grad(n * g.H * g.W, this.filters, io.dy, io.grads[1]);
    }
    if (need.dx[0]) conv2dForward(be, io.dy, io.params[0], 0, io.dx[0], io.scratch, g, n, inC, 0);
  }

  /** TF.js's Conv2DTranspose config: Conv2D's without dilationRate. */
  getConfig(): Record<string, unknown> {
    return {
      filters: this.filters,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      kernelRegularizer: null,
      kernelConstraint: null,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dataFormat: 'channelsLast',
      activation: this.activation,
      useBias: this.useBias,
      biasInitializer: initializerConfig(this.biasInitializer),
      biasRegularizer: null,
      activityRegularizer: null,
      biasConstraint: null,
      ...super.getConfig(),
    };
  }
}
registerLayer(Conv2DTransposeLayer, { aliases: ['Convolution2DTranspose'] });

export const Conv2DTranspose = callable(Conv2DTransposeLayer);
export type Conv2DTranspose = Conv2DTransposeLayer;
