// ZeroPadding2D and Cropping2D: zeros added around each image, or rows and columns cut from its borders.
// Each one's gradient is the other applied to dy (assembly/pad.ts).
import { ShapeError, ValueError } from '../errors.js';
import { formatShape } from '../tensor.js';
import {
  asNHWC,
  checkDataFormat,
  imageAxes,
  type DataFormat,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  type RunContext,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

/** [[top, bottom], [left, right]] */
export type Sides = [[number, number], [number, number]];
/** n (all four sides), [h, w] (top and bottom h, left and right w) or [[top, bottom], [left, right]], as TF.js takes it. */
export type SidesArg = number | [number, number] | Sides;

export function checkSides(v: unknown, what: string, layer: string): Sides {
  const ok = (d: unknown): d is number => Number.isInteger(d) && (d as number) >= 0;
  const bad = () =>
    new ValueError(
      `${layer}: ${what} must be a non-negative integer, [h, w] or [[top, bottom], [left, right]] of them, received ${JSON.stringify(v)}`,
    );
  if (ok(v))
    return [
      [v, v],
      [v, v],
    ];
  if (!Array.isArray(v) || v.length !== 2) throw bad();
  if (ok(v[0]) && ok(v[1]))
    return [
      [v[0], v[0]],
      [v[1], v[1]],
    ];
  if (v.every((p) => Array.isArray(p) && p.length === 2 && p.every(ok)))
    return [
      [v[0][0], v[0][1]],
      [v[1][0], v[1][1]],
    ];
  throw bad();
}

export interface ZeroPadding2DArgs extends LayerArgs {
  /** Default 1 on every side. */
  padding?: SidesArg;
  dataFormat?: DataFormat;
}

export interface Cropping2DArgs extends LayerArgs {
  /** Default 0 (Keras's; TF.js requires it). */
  cropping?: SidesArg;
  dataFormat?: DataFormat;
}

/** Shared by both: an image reshaped by adding (or, with sign -1, removing) rows and columns at its sides. */
abstract class Sided2D extends Layer {
  readonly dataFormat: DataFormat;
  protected abstract readonly sides: Sides;
  protected abstract readonly sign: 1 | -1;
  readonly backwardReads = { input: false, output: false };

  constructor(args: LayerArgs & { dataFormat?: DataFormat }, base: string) {
    super(args, base);
    this.dataFormat = checkDataFormat(args.dataFormat, this.name);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const s = this.expectRank(inputShapes, 3, imageAxes(this.dataFormat));
    const [[t, b], [l, r]] = this.sides;
    const [h, w] = this.dataFormat === 'channelsLast' ? [0, 1] : [1, 2];
    const out = s.slice();
    out[h] += this.sign * (t + b);
    out[w] += this.sign * (l + r);
    if (out[h] < 1 || out[w] < 1)
      throw new ShapeError(
        `${this.name} (${this.className}): cropping ${JSON.stringify(this.sides)} leaves nothing of an input of ${formatShape([null, ...s])}`,
      );
    return out;
  }

  /** Zero-pads src (of `shape`, per sample) into dst, or crops it. */
  protected pad({ be }: RunContext, n: number, src: number, dst: number, shape: number[], crop: boolean): void {
    const g = asNHWC(shape, this.dataFormat);
    const [[t, b], [l, r]] = this.sides;
    (crop ? be.k.crop2d : be.k.zero_pad2d)(src, dst, n * g.images, g.H, g.W, g.C, t, b, l, r);
  }
}

/** Zeros around each image: [H, W, C] -> [H + top + bottom, W + left + right, C]. */
class ZeroPadding2DLayer extends Sided2D {
  static readonly className = 'ZeroPadding2D';
  static readonly options = ['padding', 'dataFormat'];
  protected readonly sides: Sides;
  protected readonly sign = 1;
  constructor(args: ZeroPadding2DArgs = {}) {
    super(args, 'zero_padding2d');
    this.sides = checkSides(args.padding ?? 1, 'padding', this.name);
  }
  get padding(): Sides {
    return structuredClone(this.sides);
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    this.pad(ctx, n, io.x[0], io.y, io.shapes.in[0], false);
  }
  backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void {
    if (need.dx[0]) this.pad(ctx, n, io.dy, io.dx[0], io.shapes.out, true);
  }
  getConfig(): Record<string, unknown> {
    return { padding: this.padding, dataFormat: this.dataFormat, ...super.getConfig() };
  }
}
registerLayer(ZeroPadding2DLayer);

/** Rows and columns cut from each image's borders: [H, W, C] -> [H - top - bottom, W - left - right, C]. */
class Cropping2DLayer extends Sided2D {
  static readonly className = 'Cropping2D';
  static readonly options = ['cropping', 'dataFormat'];
  protected readonly sides: Sides;
  protected readonly sign = -1;
  constructor(args: Cropping2DArgs = {}) {
    super(args, 'cropping2d');
    this.sides = checkSides(args.cropping ?? 0, 'cropping', this.name);
  }
  get cropping(): Sides {
    return structuredClone(this.sides);
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    this.pad(ctx, n, io.x[0], io.y, io.shapes.in[0], true);
  }
  backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void {
    if (need.dx[0]) this.pad(ctx, n, io.dy, io.dx[0], io.shapes.out, false);
  }
  getConfig(): Record<string, unknown> {
    return { cropping: this.cropping, dataFormat: this.dataFormat, ...super.getConfig() };
  }
}
registerLayer(Cropping2DLayer);

export const ZeroPadding2D = callable(ZeroPadding2DLayer);
export type ZeroPadding2D = ZeroPadding2DLayer;
export const Cropping2D = callable(Cropping2DLayer);
export type Cropping2D = Cropping2DLayer;
