// Merge layers: several inputs of one shape (Add, Multiply, Average) or of one height and width
// (Concatenate along channels) into one output.
import { ShapeError, ValueError } from '../errors.js';
import { formatShape, shapeSize } from '../tensor.js';
import { copyFloats, Layer, type LayerArgs, type Need, type NodeIO, quote, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

type Binary = (y: number, a: number, b: number, n: number) => void;
/** y = x0 op x1 op x2 ..., left to right (as TF.js folds), with a kernel that may write over its first operand. */
function fold(op: Binary, io: NodeIO, count: number): void {
  op(io.y, io.x[0], io.x[1], count);
  for (let i = 2; i < io.x.length; i++) op(io.y, io.y, io.x[i], count);
}

abstract class ElementwiseMerge extends Layer {
  readonly arity = 'many';
  computeOutputShape(inputShapes: number[][]): number[] {
    const [first, ...rest] = inputShapes;
    const bad = rest.find((s) => formatShape(s) !== formatShape(first));
    if (bad)
      throw new ShapeError(
        `${this.name} (${this.className}): expected inputs of one shape, received ${inputShapes.map((s) => formatShape([null, ...s])).join(' and ')}`,
      );
    return first.slice();
  }
}

/** Sum of its inputs (residual connections). */
class AddLayer extends ElementwiseMerge {
  static readonly className = 'Add';
  readonly backwardReads = { input: false, output: false };
  constructor(args: LayerArgs = {}) {
    super(args, 'add');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    fold(be.k.add_f32, io, n * shapeSize(io.shapes.out));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const count = n * shapeSize(io.shapes.out);
    io.dx.forEach((dx, i) => need.dx[i] && copyFloats(be, dx, io.dy, count));
  }
}
registerLayer(AddLayer);

/** Elementwise product of its inputs (gating). */
class MultiplyLayer extends ElementwiseMerge {
  static readonly className = 'Multiply';
  readonly backwardReads = { input: true, output: false };
  constructor(args: LayerArgs = {}) {
    super(args, 'multiply');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    fold(be.k.mul_f32, io, n * shapeSize(io.shapes.out));
  }
  /** d/dx_i = dy times the product of the other inputs. */
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const count = n * shapeSize(io.shapes.out);
    io.dx.forEach((dx, i) => {
      if (!need.dx[i]) return;
      let src = io.dy;
      io.x.forEach((x, j) => {
        if (j === i) return;
        be.k.mul_f32(dx, src, x, count);
        src = dx;
      });
    });
  }
}
registerLayer(MultiplyLayer);

/** Mean of its inputs: their sum times 1/k, as TF.js computes it. */
class AverageLayer extends ElementwiseMerge {
  static readonly className = 'Average';
  readonly backwardReads = { input: false, output: false };
  constructor(args: LayerArgs = {}) {
    super(args, 'average');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const count = n * shapeSize(io.shapes.out);
    fold(be.k.add_f32, io, count);
    be.k.scale_f32(io.y, io.y, 1 / io.x.length, count);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const count = n * shapeSize(io.shapes.out);
    io.dx.forEach((dx, i) => need.dx[i] && be.k.scale_f32(dx, io.dy, 1 / io.x.length, count));
  }
}
registerLayer(AverageLayer);

export interface ConcatenateArgs extends LayerArgs {
  /** The last (channel) axis only: -1, or its index counting the batch axis. */
  axis?: number;
}

/** Joins its inputs along the channel (last) axis; the other dimensions must agree. */
class ConcatenateLayer extends Layer {
  static readonly className = 'Concatenate';
  static readonly options = ['axis'];
  readonly arity = 'many';
  readonly backwardReads = { input: false, output: false };
  readonly axis: number;
  constructor(args: ConcatenateArgs = {}) {
    super(args, 'concatenate');
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis)) throw new ValueError(`${this.name}: axis ${quote(args.axis)} must be an integer`);
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    const [first] = inputShapes,
      rank = first.length;
    if (this.axis !== -1 && this.axis !== rank)
      throw new ShapeError(`${this.name} (Concatenate): axis ${this.axis} is not supported (only the last axis, -1 or ${rank} here)`);
    const lead = formatShape(first.slice(0, -1));
    const bad = inputShapes.find((s) => s.length !== rank || formatShape(s.slice(0, -1)) !== lead);
    if (bad)
      throw new ShapeError(
        `${this.name} (Concatenate): inputs must agree in all but the last axis, received ${inputShapes.map((s) => formatShape([null, ...s])).join(' and ')}`,
      );
    return [...first.slice(0, -1), inputShapes.reduce((c, s) => c + s[rank - 1], 0)];
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const out = io.shapes.out,
      C = out[out.length - 1],
      rows = (n * shapeSize(out)) / C;
    let off = 0;
    io.x.forEach((x, i) => {
      const c = io.shapes.in[i][out.length - 1];
      be.k.copy_rows_f32(io.y + off * 4, C, x, c, rows, c);
      off += c;
    });
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const out = io.shapes.out,
      C = out[out.length - 1],
      rows = (n * shapeSize(out)) / C;
    let off = 0;
    io.dx.forEach((dx, i) => {
      const c = io.shapes.in[i][out.length - 1];
      if (need.dx[i]) be.k.copy_rows_f32(dx, c, io.dy + off * 4, C, rows, c);
      off += c;
    });
  }
  getConfig(): Record<string, unknown> {
    return { axis: this.axis, ...super.getConfig() };
  }
}
registerLayer(ConcatenateLayer);

export const Add = callable(AddLayer);
export type Add = AddLayer;
export const Multiply = callable(MultiplyLayer);
export type Multiply = MultiplyLayer;
export const Average = callable(AverageLayer);
export type Average = AverageLayer;
export const Concatenate = callable(ConcatenateLayer);
export type Concatenate = ConcatenateLayer;
