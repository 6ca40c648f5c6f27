// Reshape: the same values per sample under another shape. NHWC rows are contiguous, so the output is the
// input's buffer under a new name wherever the memory plan lets them share it.
import { ShapeError, ValueError } from '../errors.js';
import { formatShape, shapeSize } from '../tensor.js';
import { copyFloats, Layer, type LayerArgs, type Need, type NodeIO, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

export interface ReshapeArgs extends LayerArgs {
  /** The shape without the batch axis; one entry may be -1 (or null): whatever size makes the count match. */
  targetShape: (number | null)[];
}

class ReshapeLayer extends Layer {
  static readonly className = 'Reshape';
  static readonly options = ['targetShape'];
  readonly aliasesInput = true;
  readonly backwardReads = { input: false, output: false };
  /** As TF.js keeps it: the unknown entry as null. */
  readonly targetShape: (number | null)[];

  constructor(args: ReshapeArgs) {
    super(args, 'reshape');
    const t = args?.targetShape;
    const unknown = (d: unknown) => d === null || d === -1;
    if (
      !Array.isArray(t) ||
      t.length === 0 ||
      !t.every((d) => unknown(d) || (Number.isInteger(d) && (d as number) > 0)) ||
      t.filter(unknown).length > 1
    ) {
      throw new ValueError(
        `${this.name}: targetShape must be a non-empty array of positive integers with at most one -1 (or null), received ${JSON.stringify(t)}`,
      );
    }
    this.targetShape = t.map((d) => (unknown(d) ? null : d));
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const size = shapeSize(inputShapes[0]);
    const known = this.targetShape.reduce<number>((a, d) => a * (d ?? 1), 1);
    const fits = this.targetShape.includes(null) ? size % known === 0 : size === known;
    if (!fits)
      throw new ShapeError(
        `${this.name} (Reshape): cannot reshape ${formatShape([null, ...inputShapes[0]])} (${size} values per sample) into ${formatShape([null, ...this.targetShape])}`,
      );
    return this.targetShape.map((d) => d ?? size / known);
  }

  forward(io: NodeIO, n: number, { be }: RunContext): void {
    copyFloats(be, io.y, io.x[0], n * shapeSize(io.shapes.out));
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) copyFloats(be, io.dx[0], io.dy, n * shapeSize(io.shapes.out));
  }

  getConfig(): Record<string, unknown> {
    return { targetShape: this.targetShape.slice(), ...super.getConfig() };
  }
}
registerLayer(ReshapeLayer);

export const Reshape = callable(ReshapeLayer);
export type Reshape = ReshapeLayer;
