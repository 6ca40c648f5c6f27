import { ValueError } from '../errors.js';
import { shapeSize } from '../tensor.js';
import { copyFloats, Layer, type LayerArgs, type Need, type NodeIO, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

/** [N, ...dims] -> [N, prod(dims)]. NHWC rows are already contiguous, so it only renames the buffer. */
class FlattenLayer extends Layer {
  static readonly className = 'Flatten';
  static readonly fixedOptions = { dataFormat: 'channelsLast' };
  readonly aliasesInput = true;
  readonly backwardReads = { input: false, output: false };
  constructor(args: LayerArgs = {}) {
    super(args, 'flatten');
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return [shapeSize(inputShapes[0])];
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    copyFloats(be, io.y, io.x[0], n * shapeSize(io.shapes.out));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) copyFloats(be, io.dx[0], io.dy, n * shapeSize(io.shapes.out));
  }
}
registerLayer(FlattenLayer);

export interface DropoutArgs extends LayerArgs {
  rate: number;
  /** Accepted from files; unused, as Dropout only runs at inference here. */
  seed?: number | null;
}

/**
 * Dropout, for models loaded from Keras/TF.js files: the identity at inference, as there. Training a model
 * with rate > 0 is refused by fit() rather than silently trained without dropout.
 */
class DropoutLayer extends Layer {
  static readonly className = 'Dropout';
  static readonly options = ['rate', 'seed'];
  static readonly fixedOptions = { noiseShape: null };
  readonly aliasesInput = true;
  readonly backwardReads = { input: false, output: false };
  readonly rate: number;
  constructor(args: DropoutArgs) {
    super(args, 'dropout');
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1))
      throw new ValueError(`${this.name}: rate must be in [0, 1), received ${args.rate}`);
    this.rate = args.rate;
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  trainingBlocker(): string | undefined {
    if (this.rate > 0)
      return `layer '${this.name}' is Dropout with rate ${this.rate}; simdcnn runs Dropout at inference only, so training would silently differ. Remove it (or use rate 0) to train`;
    return undefined;
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    copyFloats(be, io.y, io.x[0], n * shapeSize(io.shapes.out));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) copyFloats(be, io.dx[0], io.dy, n * shapeSize(io.shapes.out));
  }
  getConfig(): Record<string, unknown> {
    return { rate: this.rate, noiseShape: null, seed: null, ...super.getConfig() };
  }
}
registerLayer(DropoutLayer);

export const Flatten = callable(FlattenLayer);
export type Flatten = FlattenLayer;
export const Dropout = callable(DropoutLayer);
export type Dropout = DropoutLayer;
