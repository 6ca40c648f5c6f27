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

export const Flatten = callable(FlattenLayer);
export type Flatten = FlattenLayer;
