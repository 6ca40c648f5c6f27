import { computeWindow2D, pair, type Padding, type Window2D } from '../kernels/geometry.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from '../kernels/pool.js';
import { checkPadding, Layer, type LayerArgs } from './layer.js';

export interface Pool2DArgs extends LayerArgs {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

abstract class Pool2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  geom!: Window2D;

  constructor(args: Pool2DArgs, base: string) {
    super(args, base);
    this.poolSize = pair(args.poolSize ?? 2, 'poolSize', this.name);
    this.strides = pair(args.strides ?? this.poolSize, 'strides', this.name);
    this.padding = checkPadding(args.padding, this.name);
  }

  computeOutputShape(inputShape: number[]): number[] {
    this.expectRank(inputShape, 3, ' [batch, height, width, channels]');
    this.geom = computeWindow2D(this.name, inputShape, this.poolSize, this.strides, this.padding);
    return [this.geom.OH, this.geom.OW, this.geom.C];
  }

  getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

/** Max over each window; backward sends the gradient to the window's winner (first one on ties). */
export class MaxPool2D extends Pool2D {
  readonly className = 'MaxPooling2D';
  constructor(args: Pool2DArgs = {}) {
    super(args, 'max_pooling2d');
  }
  extraBytesPerSample(): number {
    return 4 * this.geom.OH * this.geom.OW * this.geom.C; // int32 index of each window's winner
  }
  forward(n: number, training: boolean): void {
    maxPoolForward(this.be, this.b.x, this.b.y, training ? this.b.extra : 0, this.geom, n);
  }
  backward(n: number, needDx: boolean): void {
    if (needDx) maxPoolBackward(this.be, this.b.dy, this.b.extra, this.b.dx, this.geom, n);
  }
}

/** Mean over each window's in-bounds positions (padding is not counted, as in TensorFlow). */
export class AvgPool2D extends Pool2D {
  readonly className = 'AveragePooling2D';
  constructor(args: Pool2DArgs = {}) {
    super(args, 'average_pooling2d');
  }
  forward(n: number): void {
    avgPoolForward(this.be, this.b.x, this.b.y, this.geom, n);
  }
  backward(n: number, needDx: boolean): void {
    if (needDx) avgPoolBackward(this.be, this.b.dy, this.b.dx, this.geom, n);
  }
}
