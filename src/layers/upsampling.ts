// UpSampling2D: each image enlarged by whole factors, by repeating pixels ('nearest') or by bilinear
// interpolation, computed exactly as TF.js's resizeNearestNeighbor / resizeBilinear (assembly/upsample.ts).
import { ValueError } from '../errors.js';
import { pair } from '../kernels/geometry.js';
import {
  asNHWC,
  checkDataFormat,
  imageAxes,
  type DataFormat,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  quote,
  type RunContext,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

export type Interpolation = 'nearest' | 'bilinear';

export interface UpSampling2DArgs extends LayerArgs {
  /** Factors for rows and columns, default [2, 2]. */
  size?: number | [number, number];
  dataFormat?: DataFormat;
  interpolation?: Interpolation;
}

class UpSampling2DLayer extends Layer {
  static readonly className = 'UpSampling2D';
  static readonly options = ['size', 'dataFormat', 'interpolation'];
  readonly size: [number, number];
  readonly dataFormat: DataFormat;
  readonly interpolation: Interpolation;
  readonly backwardReads = { input: false, output: false };

  constructor(args: UpSampling2DArgs = {}) {
    super(args, 'up_sampling2d');
    this.size = pair(args.size ?? 2, 'size', this.name);
    this.dataFormat = checkDataFormat(args.dataFormat, this.name);
    const i = args.interpolation ?? 'nearest';
    if (i !== 'nearest' && i !== 'bilinear')
      throw new ValueError(`${this.name}: interpolation ${quote(args.interpolation)} is not supported (nearest, bilinear, as in TF.js)`);
    this.interpolation = i;
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const last = this.dataFormat === 'channelsLast';
    const s = this.expectRank(inputShapes, 3, imageAxes(this.dataFormat));
    const [h, w] = last ? [0, 1] : [1, 2];
    const out = s.slice();
    out[h] *= this.size[0];
    out[w] *= this.size[1];
    return out;
  }

  /** The kernels' trailing arguments N, H, W, C, OH, OW for a batch of n. */
  private dims(io: NodeIO, n: number): [number, number, number, number, number, number] {
    const g = asNHWC(io.shapes.in[0], this.dataFormat);
    return [n * g.images, g.H, g.W, g.C, g.H * this.size[0], g.W * this.size[1]];
  }

  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const f = this.interpolation === 'nearest' ? be.k.upsample_nearest_forward : be.k.upsample_bilinear_forward;
    f(io.x[0], io.y, ...this.dims(io, n));
  }

  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const f = this.interpolation === 'nearest' ? be.k.upsample_nearest_backward : be.k.upsample_bilinear_backward;
    f(io.dy, io.dx[0], ...this.dims(io, n));
  }

  getConfig(): Record<string, unknown> {
    return { size: this.size, dataFormat: this.dataFormat, interpolation: this.interpolation, ...super.getConfig() };
  }
}
registerLayer(UpSampling2DLayer);

export const UpSampling2D = callable(UpSampling2DLayer);
export type UpSampling2D = UpSampling2DLayer;
