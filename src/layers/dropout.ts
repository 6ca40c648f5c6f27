import { ShapeError, ValueError } from '../errors.js';
import { dropoutConstants, dropoutKeys } from '../kernels/dropout.js';
import { Rng } from '../random.js';
import { formatShape, shapeSize } from '../tensor.js';
import { copyFloats, Layer, type LayerArgs, type Need, type NodeIO, type NodeShapes, quote, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

export interface DropoutArgs extends LayerArgs {
  /** Fraction of the inputs dropped in training, in [0, 1). */
  rate: number;
  /** Only null (the whole input shape), as TF.js's default. */
  noiseShape?: null;
  /**
   * A seed of the layer's own: its masks then come from a generator of its own, the same in every run
   * whatever else draws from the model's (TF.js instead repeats one mask at every step). Default: the
   * model's generator, so the model's seed fixes them.
   */
  seed?: number | null;
}

// io.cache holds the keys of the last training forward, which backward uses to make the same mask again.
const CACHE_FLOATS = 16;

/**
 * Inverted dropout (TF.js's Dropout and Keras's SpatialDropout2D): in training each element (or, spatial,
 * each channel of each sample) is zeroed with probability `rate` and the kept ones scaled by 1 / (1 - rate);
 * at inference the identity, sharing its input's memory. Masks come from a counter-based hash of keys drawn
 * per call, so a seed fixes them in every build and backward makes the same mask instead of storing it.
 */
abstract class DropoutBase extends Layer {
  static readonly options = ['rate', 'seed'];
  readonly aliasesInput = 'inference';
  readonly backwardReads = { input: false, output: false };
  readonly rate: number;
  readonly seed: number | null;
  private ownRng?: Rng;

  constructor(args: DropoutArgs, base: string) {
    super(args, base);
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1))
      throw new ValueError(`${this.name}: rate must be a number in [0, 1), received ${quote(args.rate)}`);
    this.rate = args.rate;
    this.seed = args.seed ?? null;
    if (this.seed !== null && !Number.isInteger(this.seed))
      throw new ValueError(`${this.name}: seed must be an integer or null, received ${quote(args.seed)}`);
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  cacheFloats(_s: NodeShapes, training: boolean): number {
    return training && this.rate > 0 ? CACHE_FLOATS : 0;
  }

  forward(io: NodeIO, n: number, ctx: RunContext): void {
    if (!ctx.training || this.rate === 0) {
      copyFloats(ctx.be, io.y, io.x[0], n * shapeSize(io.shapes.out));
      return;
    }
    const { k1, k2 } = dropoutKeys(this.seed === null ? ctx.rng : (this.ownRng ??= new Rng(this.seed)));
    const i32 = ctx.be.i32,
      at = io.cache / 4;
    i32[at] = k1;
    i32[at + 1] = k2;
    this.mask(io.x[0], io.y, io, n, ctx, k1, k2);
  }

  backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void {
    if (!need.dx[0]) return;
    if (this.rate === 0) {
      copyFloats(ctx.be, io.dx[0], io.dy, n * shapeSize(io.shapes.out));
      return;
    }
    const i32 = ctx.be.i32,
      at = io.cache / 4;
    this.mask(io.dy, io.dx[0], io, n, ctx, i32[at], i32[at + 1]);
  }

  /** dst = src times this call's mask (drawn from keys k1, k2). */
  protected abstract mask(src: number, dst: number, io: NodeIO, n: number, ctx: RunContext, k1: number, k2: number): void;

  getConfig(): Record<string, unknown> {
    return { rate: this.rate, noiseShape: null, seed: this.seed, ...super.getConfig() };
  }
}

/** TF.js's Dropout: each element dropped on its own. */
class DropoutLayer extends DropoutBase {
  static readonly className = 'Dropout';
  static readonly fixedOptions = { noiseShape: null };
  constructor(args: DropoutArgs) {
    super(args, 'dropout');
  }
  protected mask(src: number, dst: number, io: NodeIO, n: number, { be }: RunContext, k1: number, k2: number): void {
    const { threshold, scale } = dropoutConstants(this.rate);
    be.k.dropout_apply(src, dst, n * shapeSize(io.shapes.out), k1, k2, threshold, scale);
  }
}
registerLayer(DropoutLayer);

/** Keras's SpatialDropout2D: whole feature maps (one channel of one sample) dropped together; NHWC input. */
class SpatialDropout2DLayer extends DropoutBase {
  static readonly className = 'SpatialDropout2D';
  static readonly fixedOptions = { noiseShape: null, dataFormat: 'channelsLast' };
  constructor(args: DropoutArgs) {
    super(args, 'spatial_dropout2d');
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    const s = inputShapes[0];
    if (s.length !== 3)
      throw new ShapeError(
        `${this.name} (SpatialDropout2D): expected input of rank 4 [?, height, width, channels], received ${formatShape([null, ...s])}`,
      );
    return s.slice();
  }
  scratchFloats(s: NodeShapes): number {
    return s.out[2];
  }
  protected mask(src: number, dst: number, io: NodeIO, n: number, { be }: RunContext, k1: number, k2: number): void {
    const [H, W, C] = io.shapes.out;
    const { threshold, scale } = dropoutConstants(this.rate);
    be.k.spatial_dropout_apply(src, dst, n, H * W, C, k1, k2, threshold, scale, io.scratch);
  }
  /** Keras 3's keys (its SpatialDropout2D takes no noise_shape). */
  getConfig(): Record<string, unknown> {
    const { noiseShape: _, ...c } = super.getConfig();
    return { ...c, dataFormat: 'channelsLast' };
  }
}
registerLayer(SpatialDropout2DLayer);

export const Dropout = callable(DropoutLayer);
export type Dropout = DropoutLayer;
export const SpatialDropout2D = callable(SpatialDropout2DLayer);
export type SpatialDropout2D = SpatialDropout2DLayer;
