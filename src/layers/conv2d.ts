import { FLAG_BIAS } from '../backend.js';
import { initializerConfig } from '../initializers.js';
import {
  conv2dBackwardFilter,
  conv2dBackwardInput,
  conv2dCacheFloats,
  conv2dForward,
  conv2dScratchFloats,
  fusedConvApplies,
} from '../kernels/conv2d.js';
import { winogradTileFor } from '../kernels/winograd.js';
import { checkDilation, pair, type Padding, type Window2D, windowsOf } from '../kernels/geometry.js';
import {
  activationBackward,
  finishActivation,
  fusedOutput,
  fusedSavedFloats,
  checkPadding,
  type FoldKind,
  checkPositiveInt,
  type Need,
  type NodeIO,
  type NodeShapes,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';
import { regularizerConfig } from '../regularizers.js';
import { shapeSize } from '../tensor.js';
import { KernelLayer, type KernelLayerArgs, KERNEL_LAYER_OPTIONS } from './kernel-layer.js';

export interface Conv2DArgs extends KernelLayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  /** Atrous convolution: kernel taps this many pixels apart. Strides must then be 1 (as in TF.js and Keras). */
  dilationRate?: number | [number, number];
}

/**
 * 2D convolution. Each of the `filters` filters has the depth of its input: kh x kw x inC weights whose
 * responses over all input channels are summed into one output channel. Weights [kh, kw, inC, filters].
 */
class Conv2DLayer extends KernelLayer {
  static readonly className: string = 'Conv2D';
  static readonly options = ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate', ...KERNEL_LAYER_OPTIONS];
  static readonly fixedOptions = {
    dataFormat: 'channelsLast',
    groups: 1,
    activityRegularizer: null,
    kernelConstraint: null,
    biasConstraint: null,
  };
  readonly filters: number;
  readonly sharesCache = true;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly dilationRate: [number, number];
  /** The convolution's window per input shape (for Conv2DTranspose: the convolution it transposes). */
  protected readonly geometry: (inShape: number[]) => Window2D;

  constructor(args: Conv2DArgs, base = 'conv2d') {
    super(args, base);
    this.filters = checkPositiveInt(args.filters, 'filters', this.name);
    this.kernelSize = pair(args.kernelSize, 'kernelSize', this.name);
    this.strides = pair(args.strides ?? 1, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    this.dilationRate = checkDilation(args.dilationRate, this.strides, this.name);
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
    return this.kernelAndBias([kh, kw, inC, this.filters], kh * kw * inC, kh * kw * this.filters);
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

  forward(io: NodeIO, n: number, { be, training, weightsVersion }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]);
    const [kernel, b] = io.fold?.params ?? [io.params[0], this.useBias ? io.params[1] : 0],
      activation = io.fold?.activation ?? this.activation;
    const { out, flags } = fusedOutput(activation, io, training);
    const pool = io.fold?.pool === true;
    conv2dForward(be, io.x[0], kernel, b, out, io.scratch, g, n, this.filters, flags | (b ? FLAG_BIAS : 0), io.cache, weightsVersion, pool);
    if (!pool) finishActivation(activation, io, n * g.OH * g.OW * this.filters, this.filters, training, be);
  }

  /**
   * Besides what every kernel layer folds in, a 2x2 max pool, where Winograd or conv2d_forward_fused can
   * pool as they finish their tiles (conv2dForward pools in place after conv2d_forward when the algorithm
   * or a folded activation rules them out: no gain, same results). No softmax: it would run after the pool.
   */
  absorbs(kind: FoldKind): boolean {
    if (kind !== 'maxpool2x2') return super.absorbs(kind);
    const shape = this.inputShapes[0];
    if (shape === undefined || this.activation === 'softmax') return false;
    const g = this.geometry(shape);
    return (
      winogradTileFor(g, this.filters, 'forward', 1) !== 0 ||
      ((this.activation === 'linear' || this.activation === 'relu') && fusedConvApplies(g, 0))
    );
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
