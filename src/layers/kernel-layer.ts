// What Dense and Conv2D (and so Conv2DTranspose) share: a kernel, an optional bias and a fusable activation,
// with TF.js's options for them, checked once here. Each layer keeps its own getConfig, in its TF.js class's
// key order.
import { gradSource } from '../activations.js';
import { checkInitializer, type Initializer, type InitializerConfig, type InitializerName } from '../initializers.js';
import { checkRegularizer, type Regularizer, type RegularizerConfig } from '../regularizers.js';
import { type ActivationName, checkActivation, type FoldKind, Layer, type LayerArgs, type WeightSpec } from './layer.js';

export interface KernelLayerArgs extends LayerArgs {
  useBias?: boolean;
  activation?: ActivationName;
  kernelInitializer?: InitializerName | InitializerConfig;
  biasInitializer?: InitializerName | InitializerConfig;
  /** tf.regularizers.l1l2({l1, l2}) (or 'l1l2', Keras's 'l1', 'l2'): its penalty joins the training loss. */
  kernelRegularizer?: string | RegularizerConfig | null;
  biasRegularizer?: string | RegularizerConfig | null;
}

/** The options of KernelLayerArgs, in the order unknown-option errors list them. */
export const KERNEL_LAYER_OPTIONS = [
  'useBias',
  'activation',
  'kernelInitializer',
  'biasInitializer',
  'kernelRegularizer',
  'biasRegularizer',
] as const;

export abstract class KernelLayer extends Layer {
  readonly useBias: boolean;
  readonly activation: ActivationName;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  readonly backwardReads: { input: boolean; output: boolean };

  constructor(args: KernelLayerArgs, base: string) {
    super(args, base);
    this.useBias = args.useBias ?? true;
    this.activation = checkActivation(args.activation, this.name);
    this.backwardReads = { input: true, output: gradSource(this.activation) === 'output' };
    this.kernelInitializer = checkInitializer(args.kernelInitializer, this.name, 'kernelInitializer', 'glorotUniform');
    this.biasInitializer = checkInitializer(args.biasInitializer, this.name, 'biasInitializer', 'zeros');
    this.kernelRegularizer = checkRegularizer(args.kernelRegularizer, this.name, 'kernelRegularizer');
    this.biasRegularizer = checkRegularizer(args.biasRegularizer, this.name, 'biasRegularizer');
  }

  /** The kernel, then (with useBias) a bias of the kernel's last axis: TF.js's order. Fans as TF.js computes them. */
  protected kernelAndBias(shape: number[], fanIn: number, fanOut: number): WeightSpec[] {
    const units = shape[shape.length - 1];
    const w: WeightSpec[] = [
      { name: 'kernel', shape, initializer: this.kernelInitializer, regularizer: this.kernelRegularizer, fanIn, fanOut, trainable: true },
    ];
    if (this.useBias)
      w.push({
        name: 'bias',
        shape: [units],
        initializer: this.biasInitializer,
        regularizer: this.biasRegularizer,
        fanIn: 1,
        fanOut: units,
        trainable: true,
      });
    return w;
  }

  /** A following BN (into kernel and bias) and activation (into the kernel's epilogue) fold in when this is linear. */
  absorbs(kind: FoldKind): boolean {
    return this.activation === 'linear' && kind !== 'softmax';
  }
}
