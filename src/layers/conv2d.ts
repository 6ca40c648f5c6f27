import { FLAG_BIAS } from '../backend.js';
import { checkInitializer, type Initializer, initializerConfig, type InitializerConfig, type InitializerName } from '../initializers.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dCacheFloats, conv2dForward, conv2dScratchFloats } from '../kernels/conv2d.js';
import { checkDilation, pair, type Padding, type Window2D, windowsOf } from '../kernels/geometry.js';
import {
  type ActivationName,
  activationBackward,
  finishActivation,
  fusedOutput,
  fusedSavedFloats,
  checkActivation,
  checkPadding,
  checkPositiveInt,
  type FoldKind,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  type NodeShapes,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';
import { checkRegularizer, type Regularizer, regularizerConfig, type RegularizerConfig } from '../regularizers.js';
import { shapeSize } from '../tensor.js';
import { gradSource } from '../activations.js';

export interface Conv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  /** Atrous convolution: kernel taps this many pixels apart. Strides must then be 1 (as in TF.js and Keras). */
  dilationRate?: number | [number, number];
  useBias?: boolean;
  activation?: ActivationName;
  kernelInitializer?: InitializerName | InitializerConfig;
  biasInitializer?: InitializerName | InitializerConfig;
  /** tf.regularizers.l1l2({l1, l2}) (or 'l1l2', Keras's 'l1', 'l2'): its penalty joins the training loss. */
  kernelRegularizer?: string | RegularizerConfig | null;
  biasRegularizer?: string | RegularizerConfig | null;
}

/**
 * 2D convolution. Each of the `filters` filters has the depth of its input: kh x kw x inC weights whose
 * responses over all input channels are summed into one output channel. Weights [kh, kw, inC, filters].
 */
class Conv2DLayer extends Layer {
  static readonly className: string = 'Conv2D';
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
    'kernelRegularizer',
    'biasRegularizer',
  ];
  static readonly fixedOptions = {
    dataFormat: 'channelsLast',
    groups: 1,
    activityRegularizer: null,
    kernelConstraint: null,
    biasConstraint: null,
  };
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly dilationRate: [number, number];
  readonly useBias: boolean;
  readonly activation: ActivationName;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  readonly backwardReads: { input: boolean; output: boolean };
  /** The convolution's window per input shape (for Conv2DTranspose: the convolution it transposes). */
  protected readonly geometry: (inShape: number[]) => Window2D;

  constructor(args: Conv2DArgs, base = 'conv2d') {
    super(args, base);
    this.filters = checkPositiveInt(args.filters, 'filters', this.name);
    this.kernelSize = pair(args.kernelSize, 'kernelSize', this.name);
    this.strides = pair(args.strides ?? 1, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    this.dilationRate = checkDilation(args.dilationRate, this.strides, this.name);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.backwardReads = { input: true, output: gradSource(this.activation) === 'output' };
    this.kernelInitializer = checkInitializer(args.kernelInitializer, this.name, 'kernelInitializer', 'glorotUniform');
    this.biasInitializer = checkInitializer(args.biasInitializer, this.name, 'biasInitializer', 'zeros');
    this.kernelRegularizer = checkRegularizer(args.kernelRegularizer, this.name, 'kernelRegularizer');
    this.biasRegularizer = checkRegularizer(args.biasRegularizer, this.name, 'biasRegularizer');
    this.geometry = this.windows();
  }

  protected windows(): (inShape: number[]) => Window2D {
    return windowsOf(this.name, this.kernelSize, this.strides, this.padding, this.dilationRate);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const g = this.geometry(this.expectRank(inputShapes, 3, ' [batch, height, width, channels]'));
    return [g.OH, g.OW, this.filters];
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const [kh, kw] = this.kernelSize;
    const inC = inputShapes[0][2];
    const w: WeightSpec[] = [
      {
        name: 'kernel',
        shape: [kh, kw, inC, this.filters],
        initializer: this.kernelInitializer,
        regularizer: this.kernelRegularizer,
        fanIn: kh * kw * inC,
        fanOut: kh * kw * this.filters,
        trainable: true,
      },
    ];
    if (this.useBias)
      w.push({
        name: 'bias',
        shape: [this.filters],
        initializer: this.biasInitializer,
        regularizer: this.biasRegularizer,
        fanIn: 1,
        fanOut: this.filters,
        trainable: true,
      });
    return w;
  }

  scratchFloats(s: NodeShapes): number {
    return conv2dScratchFloats(this.geometry(s.in[0]), this.filters);
  }

  /** Winograd's transformed filters (3x3 stride-1 only), made once per weight update. */
  cacheFloats(s: NodeShapes, training: boolean): number {
    return conv2dCacheFloats(this.geometry(s.in[0]), this.filters, training);
  }

  savedFloatsPerSample(s: NodeShapes): number {
    return fusedSavedFloats(this.activation, shapeSize(s.out));
  }

  /** A following BN (into kernel and bias) and activation (into the kernel's epilogue) fold in when this is linear. */
  absorbs(kind: FoldKind): boolean {
    return this.activation === 'linear' && kind !== 'softmax';
  }

  forward(io: NodeIO, n: number, { be, training, weightsVersion }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]);
    const [kernel, b] = io.fold?.params ?? [io.params[0], this.useBias ? io.params[1] : 0],
      activation = io.fold?.activation ?? this.activation;
    const { out, flags } = fusedOutput(activation, io, training);
    conv2dForward(be, io.x[0], kernel, b, out, io.scratch, g, n, this.filters, flags | (b ? FLAG_BIAS : 0), io.cache, weightsVersion);
    finishActivation(activation, io, n * g.OH * g.OW * this.filters, this.filters, training, be);
  }

  backward(io: NodeIO, n: number, need: Need, { be, weightsVersion }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]);
    activationBackward(this.activation, io, n * g.OH * g.OW * this.filters, this.filters, be);
    if (need.dw)
      conv2dBackwardFilter(
        be,
        io.x[0],
        io.dy,
        io.grads[0],
        this.useBias ? io.grads[1] : 0,
        io.scratch,
        g,
        n,
        this.filters,
        this.useBias ? FLAG_BIAS : 0,
        io.cache,
      );
    if (need.dx[0]) conv2dBackwardInput(be, io.dy, io.params[0], io.dx[0], io.scratch, g, n, this.filters, io.cache, weightsVersion);
  }

  getConfig(): Record<string, unknown> {
    return {
      filters: this.filters,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      kernelConstraint: null,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dataFormat: 'channelsLast',
      dilationRate: this.dilationRate,
      activation: this.activation,
      useBias: this.useBias,
      biasInitializer: initializerConfig(this.biasInitializer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
      activityRegularizer: null,
      biasConstraint: null,
      ...super.getConfig(),
    };
  }
}
registerLayer(Conv2DLayer);

export const Conv2D = callable(Conv2DLayer);
export type Conv2D = Conv2DLayer;
