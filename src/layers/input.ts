// The model's input: a layer with no inputs whose one node yields the symbolic tensor input() returns.
import { ValueError } from '../errors.js';
import { Layer, type LayerArgs } from './layer.js';
import { callable, registerLayer } from './registry.js';
import { Node, type SymbolicTensor } from './symbolic.js';

export interface InputLayerArgs extends LayerArgs {
  /** Keras 3's name for batchInputShape. */
  batchShape?: (number | null)[];
  sparse?: boolean;
  ragged?: boolean;
}

class InputLayerImpl extends Layer {
  static readonly className = 'InputLayer';
  static readonly options = ['batchShape'];
  static readonly fixedOptions = { sparse: false, ragged: false };
  readonly arity = 0;
  readonly backwardReads = { input: false, output: false };
  constructor(args: InputLayerArgs) {
    const { batchShape, ...rest } = args ?? {};
    // As in TF.js, an input has nothing to train.
    super(
      {
        ...rest,
        ...(batchShape !== undefined && rest.batchInputShape === undefined ? { batchInputShape: batchShape } : {}),
        trainable: false,
      },
      'input',
    );
    if (!this.declaredInputShape) throw new ValueError(`${this.name} (InputLayer): needs a shape (input({ shape: [28, 28, 1] }))`);
    this.build([]);
    this.inboundNodes.push(new Node(this, [], this.declaredInputShape, 0));
  }
  computeOutputShape(): number[] {
    return this.declaredInputShape!.slice();
  }
  forward(): void {}
  backward(): void {}
  getConfig(): Record<string, unknown> {
    return { batchInputShape: [null, ...this.declaredInputShape!], dtype: 'float32', sparse: false, name: this.name };
  }
}
registerLayer(InputLayerImpl);

export const InputLayer = callable(InputLayerImpl);
export type InputLayer = InputLayerImpl;

/** A model input of the given shape (without the batch axis), as TF.js's tf.input({ shape }). */
export function input(args: { shape: number[]; name?: string; dtype?: 'float32' }): SymbolicTensor {
  if (!args || !Array.isArray(args.shape))
    throw new ValueError(`input: expected { shape: [...] } (without the batch axis), received ${JSON.stringify(args)}`);
  return new InputLayerImpl({ inputShape: args.shape, name: args.name, dtype: args.dtype }).inboundNodes[0].output;
}
