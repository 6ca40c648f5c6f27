import { pair, type Padding, type Window2D, windowsOf } from '../kernels/geometry.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../kernels/pool.js';
import { checkPadding, type FoldKind, Layer, type LayerArgs, type Need, type NodeIO, type NodeShapes, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

export interface Pool2DArgs extends LayerArgs {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

abstract class Pool2D extends Layer {
  static readonly options = ['poolSize', 'strides', 'padding'];
  static readonly fixedOptions = { dataFormat: 'channelsLast' };
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  protected readonly geometry: (inShape: number[]) => Window2D;

  constructor(args: Pool2DArgs, base: string) {
    super(args, base);
    this.poolSize = pair(args.poolSize ?? 2, 'poolSize', this.name);
    this.strides = pair(args.strides ?? this.poolSize, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
    this.geometry = windowsOf(this.name, this.poolSize, this.strides, this.padding);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const g = this.geometry(this.expectRank(inputShapes, 3, ' [batch, height, width, channels]'));
    return [g.OH, g.OW, g.C];
  }

  getConfig(): Record<string, unknown> {
    return { poolSize: this.poolSize, padding: this.padding, strides: this.strides, dataFormat: 'channelsLast', ...super.getConfig() };
  }
}

/** Max over each window; backward sends the gradient to the window's winner (first one on ties). */
class MaxPool2DLayer extends Pool2D {
  static readonly className = 'MaxPooling2D';
  readonly backwardReads = { input: false, output: false };
  constructor(args: Pool2DArgs = {}) {
    super(args, 'max_pooling2d');
  }
  savedFloatsPerSample(s: NodeShapes): number {
    return s.out[0] * s.out[1] * s.out[2]; // the int32 index of each window's winner
  }
  /** LeNet's pooling, 2x2 windows at stride 2 with no padding, folds into a convolution before it at inference. */
  inferenceFold(): FoldKind | undefined {
    const [ph, pw] = this.poolSize,
      [sh, sw] = this.strides;
    return ph === 2 && pw === 2 && sh === 2 && sw === 2 && this.padding === 'valid' ? 'maxpool2x2' : undefined;
  }
  forward(io: NodeIO, n: number, { be, training }: RunContext): void {
    maxPoolForward(be, io.x[0], io.y, training ? io.saved : 0, this.geometry(io.shapes.in[0]), n);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) maxPoolBackward(be, io.dy, io.saved, io.dx[0], this.geometry(io.shapes.in[0]), n);
  }
}
registerLayer(MaxPool2DLayer, { aliases: ['MaxPool2D'] });

/** Mean over each window's in-bounds positions (padding is not counted, as in TensorFlow). */
class AvgPool2DLayer extends Pool2D {
  static readonly className = 'AveragePooling2D';
  readonly backwardReads = { input: false, output: false };
  constructor(args: Pool2DArgs = {}) {
    super(args, 'average_pooling2d');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    avgPoolForward(be, io.x[0], io.y, this.geometry(io.shapes.in[0]), n);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) avgPoolBackward(be, io.dy, io.dx[0], this.geometry(io.shapes.in[0]), n);
  }
}
registerLayer(AvgPool2DLayer, { aliases: ['AvgPool2D'] });

export const MaxPool2D = callable(MaxPool2DLayer);
export type MaxPool2D = MaxPool2DLayer;
export const MaxPooling2D = MaxPool2D;
export const AvgPool2D = callable(AvgPool2DLayer);
export type AvgPool2D = AvgPool2DLayer;
export const AveragePooling2D = AvgPool2D;
