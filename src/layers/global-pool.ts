// Global pooling: one value per channel over the whole image, [H, W, C] -> [C] (channelsFirst [C, H, W] ->
// [C]), as TF.js computes it bit for bit (assembly/global-pool.ts).
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

export interface GlobalPool2DArgs extends LayerArgs {
  dataFormat?: DataFormat;
}

abstract class GlobalPool2D extends Layer {
  static readonly options = ['dataFormat'];
  /** Keras writes keepdims; TF.js 4.22 has no such option, so only its default is accepted. */
  static readonly fixedOptions = { keepdims: false };
  readonly dataFormat: DataFormat;

  constructor(args: GlobalPool2DArgs, base: string) {
    super(args, base);
    this.dataFormat = checkDataFormat(args.dataFormat, this.name);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const s = this.expectRank(inputShapes, 3, imageAxes(this.dataFormat));
    return [this.dataFormat === 'channelsLast' ? s[2] : s[0]];
  }

  /** The kernels' [images, pixels, channels] for a batch of n. */
  protected dims(io: NodeIO, n: number): [number, number, number] {
    const g = asNHWC(io.shapes.in[0], this.dataFormat);
    return [n * g.images, g.H * g.W, g.C];
  }

  getConfig(): Record<string, unknown> {
    return { dataFormat: this.dataFormat, ...super.getConfig() };
  }
}

/** Mean over each channel's pixels; its gradient spreads dy / (H*W) over them. */
class GlobalAvgPool2DLayer extends GlobalPool2D {
  static readonly className = 'GlobalAveragePooling2D';
  readonly backwardReads = { input: false, output: false };
  constructor(args: GlobalPool2DArgs = {}) {
    super(args, 'global_average_pooling2d');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    be.k.global_avgpool_forward(io.x[0], io.y, ...this.dims(io, n));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) be.k.global_avgpool_backward(io.dy, io.dx[0], ...this.dims(io, n));
  }
}
registerLayer(GlobalAvgPool2DLayer, { aliases: ['GlobalAvgPool2D'] });

/** Max over each channel's pixels; its gradient goes to every pixel equal to the max (TF.js's rule for ties). */
class GlobalMaxPool2DLayer extends GlobalPool2D {
  static readonly className = 'GlobalMaxPooling2D';
  readonly backwardReads = { input: true, output: true };
  constructor(args: GlobalPool2DArgs = {}) {
    super(args, 'global_max_pooling2d');
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    be.k.global_maxpool_forward(io.x[0], io.y, ...this.dims(io, n));
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) be.k.global_maxpool_backward(io.x[0], io.y, io.dy, io.dx[0], ...this.dims(io, n));
  }
}
registerLayer(GlobalMaxPool2DLayer, { aliases: ['GlobalMaxPool2D'] });

export const GlobalAveragePooling2D = callable(GlobalAvgPool2DLayer);
export type GlobalAveragePooling2D = GlobalAvgPool2DLayer;
export const GlobalAvgPool2D = GlobalAveragePooling2D;
export const GlobalMaxPooling2D = callable(GlobalMaxPool2DLayer);
export type GlobalMaxPooling2D = GlobalMaxPool2DLayer;
export const GlobalMaxPool2D = GlobalMaxPooling2D;
