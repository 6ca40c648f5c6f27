// The depthwise family: DepthwiseConv2D and SeparableConv2D (depthwise, then a 1x1 pointwise convolution).
import { actBackward, activationCode, actForward, gradSource } from '../activations.js';
import { type Backend, FLAG_BIAS, FLAG_NEED_DX, FLAG_RELU, FLAG_SKIP_DW } from '../backend.js';
import { ValueError } from '../errors.js';
import { checkInitializer, initializerConfig, type Initializer, type InitializerConfig, type InitializerName } from '../initializers.js';
import { denseBackward, denseForward, denseScratchFloats } from '../kernels/dense.js';
import {
  depthwiseBackwardFilter,
  depthwiseBackwardInput,
  depthwiseForward,
  type DepthwiseGeometry,
  depthwiseScratchFloats,
  depthwiseWindowsOf,
} from '../kernels/depthwise.js';
import { pair, type Padding } from '../kernels/geometry.js';
import { checkRegularizer, type Regularizer, regularizerConfig, type RegularizerConfig } from '../regularizers.js';
import {
  type ActivationName,
  ACT_SHIFT,
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
import { shapeSize } from '../tensor.js';

export interface DepthwiseConv2DArgs extends LayerArgs {
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  /** Output channels per input channel (default 1): output channel c * depthMultiplier + m reads input channel c. */
  depthMultiplier?: number;
  dilationRate?: number | [number, number];
  useBias?: boolean;
  activation?: ActivationName;
  depthwiseInitializer?: InitializerName | InitializerConfig;
  biasInitializer?: InitializerName | InitializerConfig;
  /** tf.regularizers.l1l2({l1, l2}) (or 'l1l2', Keras's 'l1', 'l2'): its penalty joins the training loss. */
  depthwiseRegularizer?: string | RegularizerConfig | null;
  biasRegularizer?: string | RegularizerConfig | null;
}

export interface SeparableConv2DArgs extends DepthwiseConv2DArgs {
  filters: number;
  pointwiseInitializer?: InitializerName | InitializerConfig;
  pointwiseRegularizer?: string | RegularizerConfig | null;
}

const NULL_OPTIONS = { dataFormat: 'channelsLast', activityRegularizer: null, biasConstraint: null };

/** What both layers share: the depthwise window, its options and their TF.js config. */
abstract class DepthwiseBase extends Layer {
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly depthMultiplier: number;
  readonly dilationRate: [number, number];
  readonly useBias: boolean;
  readonly activation: ActivationName;
  readonly depthwiseInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly depthwiseRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  readonly backwardReads: { input: boolean; output: boolean };
  protected readonly geometry: (inShape: number[]) => DepthwiseGeometry;

  constructor(args: DepthwiseConv2DArgs, base: string, depthwiseDefault: InitializerName) {
    super(args, base);
    if (args.kernelSize === undefined) throw new ValueError(`${this.name} (${this.className}): kernelSize is required`);
    this.kernelSize = pair(args.kernelSize, 'kernelSize', this.name);
    this.strides = pair(args.strides ?? 1, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    this.depthMultiplier = checkPositiveInt(args.depthMultiplier ?? 1, 'depthMultiplier', this.name);
    this.dilationRate = pair(args.dilationRate ?? 1, 'dilationRate', this.name);
    if (Math.max(...this.strides) > 1 && Math.max(...this.dilationRate) > 1) {
      throw new ValueError(
        `${this.name} (${this.className}): strides ${JSON.stringify(this.strides)} with dilationRate ${JSON.stringify(this.dilationRate)}: ` +
          'one of them must be 1 (as in TensorFlow)',
      );
    }
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.backwardReads = { input: true, output: gradSource(this.activation) === 'output' };
    this.depthwiseInitializer = checkInitializer(args.depthwiseInitializer, this.name, 'depthwiseInitializer', depthwiseDefault);
    this.biasInitializer = checkInitializer(args.biasInitializer, this.name, 'biasInitializer', 'zeros');
    this.depthwiseRegularizer = checkRegularizer(args.depthwiseRegularizer, this.name, 'depthwiseRegularizer');
    this.biasRegularizer = checkRegularizer(args.biasRegularizer, this.name, 'biasRegularizer');
    this.geometry = depthwiseWindowsOf(this.name, this.kernelSize, this.strides, this.dilationRate, this.padding, this.depthMultiplier);
  }

  protected abstract outChannels(inC: number): number;

  computeOutputShape(inputShapes: number[][]): number[] {
    const g = this.geometry(this.expectRank(inputShapes, 3, ' [batch, height, width, channels]'));
    return [g.OH, g.OW, this.outChannels(g.C)];
  }

  protected depthwiseKernelSpec(inC: number, initializer: Initializer): WeightSpec {
    const [kh, kw] = this.kernelSize,
      dm = this.depthMultiplier;
    return {
      name: 'depthwise_kernel',
      shape: [kh, kw, inC, dm],
      initializer,
      fanIn: kh * kw * inC,
      fanOut: kh * kw * dm,
      trainable: true,
      regularizer: this.depthwiseRegularizer,
    };
  }

  protected biasSpec(units: number): WeightSpec[] {
    return this.useBias
      ? [
          {
            name: 'bias',
            shape: [units],
            initializer: this.biasInitializer,
            fanIn: 1,
            fanOut: units,
            trainable: true,
            regularizer: this.biasRegularizer,
          },
        ]
      : [];
  }

  /**
   * After a kernel wrote y without its activation (the depthwise kernel fuses ReLU only): the activation in
   * place, or from the pre-activation at pre; softmax too.
   */
  protected activate(be: Backend, pre: number, y: number, count: number, classes: number, fused: boolean): void {
    const a = this.activation;
    if (a === 'softmax') be.k.softmax_forward(y, y, count / classes, classes);
    else if (!fused || pre !== y) actForward(be, activationCode(a), pre, y, count);
  }

  /** dy through the activation's derivative, from y or from the pre-activation at pre (nothing when the loss fused it). */
  protected deactivate(be: Backend, io: NodeIO, pre: number, count: number, classes: number): void {
    const a = this.activation;
    if (io.preActivationGrad || a === 'linear') return;
    if (a === 'softmax') be.k.softmax_backward(io.y, io.dy, io.dy, count / classes, classes);
    else actBackward(be, activationCode(a), gradSource(a) === 'input' ? pre : io.y, io.dy, io.dy, count);
  }

  /** Where the kernel writes: the saved pre-activation when the derivative needs it (training), else y. */
  protected preActivation(io: NodeIO, training: boolean, at: number): number {
    return training && gradSource(this.activation) === 'input' && at ? at : io.y;
  }

  getConfig(): Record<string, unknown> {
    return {
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
      depthMultiplier: this.depthMultiplier,
      depthwiseInitializer: initializerConfig(this.depthwiseInitializer),
      depthwiseRegularizer: regularizerConfig(this.depthwiseRegularizer),
      depthwiseConstraint: null,
      ...super.getConfig(),
    };
  }
}

const DEPTHWISE_OPTIONS = [
  'kernelSize',
  'strides',
  'padding',
  'depthMultiplier',
  'dilationRate',
  'useBias',
  'activation',
  'depthwiseInitializer',
  'biasInitializer',
  'depthwiseRegularizer',
  'biasRegularizer',
];

/**
 * Depthwise 2D convolution: each input channel is convolved with its own depthMultiplier filters of kh x kw,
 * with no sum across channels. Weights [kh, kw, inC, depthMultiplier] (TF.js's layout); output channel
 * c * depthMultiplier + m. dilationRate is applied as Keras does (tfjs-layers 4.22 accepts it but ignores it).
 */
class DepthwiseConv2DLayer extends DepthwiseBase {
  static readonly className = 'DepthwiseConv2D';
  static readonly options = [...DEPTHWISE_OPTIONS, 'depthwiseConstraint'];
  static readonly fixedOptions = NULL_OPTIONS;

  constructor(args: DepthwiseConv2DArgs) {
    // TF.js's BaseConv default for the depthwise kernel is glorotNormal; normal initialisers are not here yet.
    super(args, 'depthwise_conv2d', 'glorotUniform');
    // No constraints here; but tfjs-layers 4.22's getConfig writes the depthwiseRegularizer as depthwiseConstraint
    // too, so a TF.js file with a regularizer carries that copy: it is not a constraint.
    const c = (args as { depthwiseConstraint?: unknown }).depthwiseConstraint;
    if (c != null && JSON.stringify(checkCopy(c, this.name)) !== JSON.stringify(this.depthwiseRegularizer))
      throw new ValueError(
        `${this.name} (${this.className}): option depthwiseConstraint=${JSON.stringify(c)} is not supported (only null)`,
      );
  }

  protected outChannels(inC: number): number {
    return inC * this.depthMultiplier;
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const inC = inputShapes[0][2];
    return [this.depthwiseKernelSpec(inC, this.depthwiseInitializer), ...this.biasSpec(inC * this.depthMultiplier)];
  }

  scratchFloats(s: NodeShapes): number {
    return depthwiseScratchFloats(this.geometry(s.in[0]));
  }

  /** The pre-activation, when the activation's derivative reads it. */
  savedFloatsPerSample(s: NodeShapes): number {
    return gradSource(this.activation) === 'input' ? shapeSize(s.out) : 0;
  }

  forward(io: NodeIO, n: number, { be, training }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      CC = g.C * g.DM;
    const pre = this.preActivation(io, training, io.saved),
      relu = this.activation === 'relu';
    const flags = (this.useBias ? FLAG_BIAS : 0) | (relu ? FLAG_RELU : 0);
    depthwiseForward(be, io.x[0], io.params[0], this.useBias ? io.params[1] : 0, pre, io.scratch, g, n, flags);
    if (!relu && this.activation !== 'linear') this.activate(be, pre, io.y, n * g.OH * g.OW * CC, CC, false);
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      CC = g.C * g.DM;
    this.deactivate(be, io, io.saved, n * g.OH * g.OW * CC, CC);
    if (need.dw)
      depthwiseBackwardFilter(
        be,
        io.x[0],
        io.dy,
        io.grads[0],
        this.useBias ? io.grads[1] : 0,
        io.scratch,
        g,
        n,
        this.useBias ? FLAG_BIAS : 0,
      );
    if (need.dx[0]) depthwiseBackwardInput(be, io.dy, io.params[0], io.dx[0], io.scratch, g, n);
  }
}
registerLayer(DepthwiseConv2DLayer);

/** The regularizer a TF.js depthwiseConstraint copies, or undefined when it is no regularizer config. */
function checkCopy(c: unknown, layer: string): Regularizer | null | undefined {
  const name = typeof c === 'object' && c !== null ? (c as RegularizerConfig).className : undefined;
  return name === 'L1L2' || name === 'L1' || name === 'L2' ? checkRegularizer(c, layer, 'depthwiseConstraint') : undefined;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

/**
 * Depthwise-separable 2D convolution: a depthwise convolution (no bias) into inC * depthMultiplier channels,
 * then a 1x1 convolution to `filters` channels, bias and activation. Weights in TF.js's order:
 * depthwise_kernel [kh, kw, inC, dm], pointwise_kernel [1, 1, inC * dm, filters], bias [filters].
 * In training the intermediate image is kept (saved state) for the pointwise gradients, followed by room
 * for its gradient; at inference it goes image by image through scratch.
 */
class SeparableConv2DLayer extends DepthwiseBase {
  static readonly className = 'SeparableConv2D';
  static readonly options = ['filters', ...DEPTHWISE_OPTIONS, 'pointwiseInitializer', 'pointwiseRegularizer'];
  static readonly fixedOptions = { ...NULL_OPTIONS, depthwiseConstraint: null, pointwiseConstraint: null };
  readonly filters: number;
  readonly pointwiseInitializer: Initializer;
  readonly pointwiseRegularizer: Regularizer | null;

  constructor(args: SeparableConv2DArgs) {
    super(args, 'separable_conv2d', 'glorotUniform');
    this.filters = checkPositiveInt(args.filters, 'filters', this.name);
    this.pointwiseInitializer = checkInitializer(args.pointwiseInitializer, this.name, 'pointwiseInitializer', 'glorotUniform');
    this.pointwiseRegularizer = checkRegularizer(args.pointwiseRegularizer, this.name, 'pointwiseRegularizer');
  }

  protected outChannels(): number {
    return this.filters;
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const inC = inputShapes[0][2],
      CC = inC * this.depthMultiplier;
    return [
      this.depthwiseKernelSpec(inC, this.depthwiseInitializer),
      {
        name: 'pointwise_kernel',
        shape: [1, 1, CC, this.filters],
        initializer: this.pointwiseInitializer,
        fanIn: CC,
        fanOut: this.filters,
        trainable: true,
        regularizer: this.pointwiseRegularizer,
      },
      ...this.biasSpec(this.filters),
    ];
  }

  /** Floats of the intermediate (depthwise) image of one sample. */
  private midFloats(g: DepthwiseGeometry): number {
    return g.OH * g.OW * g.C * g.DM;
  }

  /** Scratch of the kernels (the depthwise ones, then the pointwise GEMM's), where the intermediate image starts. */
  private kernelScratch(g: DepthwiseGeometry): number {
    return align16(Math.max(depthwiseScratchFloats(g), denseScratchFloats(g.C * g.DM, this.filters)));
  }

  /** [kernel scratch | one intermediate image, at inference]. */
  scratchFloats(s: NodeShapes): number {
    const g = this.geometry(s.in[0]);
    return this.kernelScratch(g) + this.midFloats(g);
  }

  /** The intermediate image, in backward its gradient, and the pre-activation when its derivative reads it. */
  savedFloatsPerSample(s: NodeShapes): number {
    return 2 * this.midFloats(this.geometry(s.in[0])) + (gradSource(this.activation) === 'input' ? shapeSize(s.out) : 0);
  }

  forward(io: NodeIO, n: number, { be, training }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      CC = g.C * g.DM,
      pixels = g.OH * g.OW;
    const [dk, pk] = io.params,
      bias = this.useBias ? io.params[2] : 0,
      code = this.activation === 'softmax' ? 0 : activationCode(this.activation);
    const flags = (this.useBias ? FLAG_BIAS : 0) | (code << ACT_SHIFT);
    // The dense kernel fuses every string activation but softmax; a saved pre-activation takes a second pass.
    let pre = io.y;
    if (training && io.saved) {
      pre = this.preActivation(io, training, io.saved + 2 * n * this.midFloats(g) * 4);
      depthwiseForward(be, io.x[0], dk, 0, io.saved, io.scratch, g, n, 0);
      denseForward(be, io.saved, pk, bias, pre, io.scratch, n * pixels, CC, this.filters, pre === io.y ? flags : flags & FLAG_BIAS);
    } else {
      const mid = io.scratch + this.kernelScratch(g) * 4;
      for (let i = 0; i < n; i++) {
        depthwiseForward(be, io.x[0] + i * g.H * g.W * g.C * 4, dk, 0, mid, io.scratch, g, 1, 0);
        denseForward(be, mid, pk, bias, io.y + i * pixels * this.filters * 4, io.scratch, pixels, CC, this.filters, flags);
      }
    }
    if (pre !== io.y || this.activation === 'softmax') this.activate(be, pre, io.y, n * pixels * this.filters, this.filters, true);
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const g = this.geometry(io.shapes.in[0]),
      CC = g.C * g.DM,
      rows = n * g.OH * g.OW;
    this.deactivate(be, io, io.saved + 2 * rows * CC * 4, rows * this.filters, this.filters);
    if (!need.dw && !need.dx[0]) return;
    const mid = io.saved,
      dmid = io.saved + rows * CC * 4;
    const flags = (this.useBias ? FLAG_BIAS : 0) | FLAG_NEED_DX | (need.dw ? 0 : FLAG_SKIP_DW);
    denseBackward(
      be,
      mid,
      io.params[1],
      io.dy,
      dmid,
      io.grads[1] ?? 0,
      this.useBias ? (io.grads[2] ?? 0) : 0,
      io.scratch,
      rows,
      CC,
      this.filters,
      flags,
    );
    if (need.dw) depthwiseBackwardFilter(be, io.x[0], dmid, io.grads[0], 0, io.scratch, g, n, 0);
    if (need.dx[0]) depthwiseBackwardInput(be, dmid, io.params[0], io.dx[0], io.scratch, g, n);
  }

  getConfig(): Record<string, unknown> {
    return {
      filters: this.filters,
      ...super.getConfig(),
      pointwiseInitializer: initializerConfig(this.pointwiseInitializer),
      pointwiseRegularizer: regularizerConfig(this.pointwiseRegularizer),
      pointwiseConstraint: null,
    };
  }
}
registerLayer(SeparableConv2DLayer);

export const DepthwiseConv2D = callable(DepthwiseConv2DLayer);
export type DepthwiseConv2D = DepthwiseConv2DLayer;
export const SeparableConv2D = callable(SeparableConv2DLayer);
export type SeparableConv2D = SeparableConv2DLayer;
