import { FLAG_BIAS, FLAG_NEED_DX, FLAG_SKIP_DW } from '../backend.js';
import { checkInitializer, type Initializer, initializerConfig, type InitializerConfig, type InitializerName } from '../initializers.js';
import { denseBackward, denseForward, denseScratchFloats } from '../kernels/dense.js';
import {
  type ActivationName,
  activationBackward,
  finishActivation,
  fusedOutput,
  fusedSavedFloats,
  checkActivation,
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
import { gradSource } from '../activations.js';

export interface DenseArgs extends LayerArgs {
  units: number;
  useBias?: boolean;
  activation?: ActivationName;
  kernelInitializer?: InitializerName | InitializerConfig;
  biasInitializer?: InitializerName | InitializerConfig;
  /** tf.regularizers.l1l2({l1, l2}) (or 'l1l2', Keras's 'l1', 'l2'): its penalty joins the training loss. */
  kernelRegularizer?: string | RegularizerConfig | null;
  biasRegularizer?: string | RegularizerConfig | null;
}

/** Fully connected: y = act(x w + b), w [in, units]. */
class DenseLayer extends Layer {
  static readonly className = 'Dense';
  static readonly options = [
    'units',
    'useBias',
    'activation',
    'kernelInitializer',
    'biasInitializer',
    'kernelRegularizer',
    'biasRegularizer',
  ];
  static readonly fixedOptions = {
    activityRegularizer: null,
    kernelConstraint: null,
    biasConstraint: null,
    loraRank: null,
  };
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: ActivationName;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  readonly backwardReads: { input: boolean; output: boolean };

  constructor(args: DenseArgs) {
    super(args, 'dense');
    this.units = checkPositiveInt(args.units, 'units', this.name);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.backwardReads = { input: true, output: gradSource(this.activation) === 'output' };
    this.kernelInitializer = checkInitializer(args.kernelInitializer, this.name, 'kernelInitializer', 'glorotUniform');
    this.biasInitializer = checkInitializer(args.biasInitializer, this.name, 'biasInitializer', 'zeros');
    this.kernelRegularizer = checkRegularizer(args.kernelRegularizer, this.name, 'kernelRegularizer');
    this.biasRegularizer = checkRegularizer(args.biasRegularizer, this.name, 'biasRegularizer');
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    this.expectRank(inputShapes, 1, '; put a Flatten() layer before Dense');
    return [this.units];
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const inUnits = inputShapes[0][0];
    const w: WeightSpec[] = [
      {
        name: 'kernel',
        shape: [inUnits, this.units],
        initializer: this.kernelInitializer,
        regularizer: this.kernelRegularizer,
        fanIn: inUnits,
        fanOut: this.units,
        trainable: true,
      },
    ];
    if (this.useBias)
      w.push({
        name: 'bias',
        shape: [this.units],
        initializer: this.biasInitializer,
        regularizer: this.biasRegularizer,
        fanIn: 1,
        fanOut: this.units,
        trainable: true,
      });
    return w;
  }

  scratchFloats(s: NodeShapes): number {
    return denseScratchFloats(s.in[0][0], this.units);
  }

  savedFloatsPerSample(_s: NodeShapes): number {
    return fusedSavedFloats(this.activation, this.units);
  }

  /** A following BN (into kernel and bias) and activation (into the kernel's epilogue) fold in when this is linear. */
  absorbs(kind: FoldKind): boolean {
    return this.activation === 'linear' && kind !== 'softmax';
  }

  forward(io: NodeIO, n: number, { be, training }: RunContext): void {
    const [kernel, b] = io.fold?.params ?? [io.params[0], this.useBias ? io.params[1] : 0],
      activation = io.fold?.activation ?? this.activation;
    const { out, flags } = fusedOutput(activation, io, training);
    denseForward(be, io.x[0], kernel, b, out, io.scratch, n, io.shapes.in[0][0], this.units, flags | (b ? FLAG_BIAS : 0));
    finishActivation(activation, io, n * this.units, this.units, training, be);
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    activationBackward(this.activation, io, n * this.units, this.units, be);
    const flags = (this.useBias ? FLAG_BIAS : 0) | (need.dx[0] ? FLAG_NEED_DX : 0) | (need.dw ? 0 : FLAG_SKIP_DW);
    denseBackward(
      be,
      io.x[0],
      io.params[0],
      io.dy,
      io.dx[0],
      io.grads[0] ?? 0,
      this.useBias ? (io.grads[1] ?? 0) : 0,
      io.scratch,
      n,
      io.shapes.in[0][0],
      this.units,
      flags,
    );
  }

  getConfig(): Record<string, unknown> {
    return {
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
      activityRegularizer: null,
      kernelConstraint: null,
      biasConstraint: null,
      ...super.getConfig(),
    };
  }
}
registerLayer(DenseLayer);

export const Dense = callable(DenseLayer);
export type Dense = DenseLayer;
