// Keras's random augmentation layers: active in training only (at inference the identity, RandomCrop a
// centred resize), seeded, applied to the whole batch in wasm memory (assembly/augment.ts). Each draws its
// samples' parameters once per training call and keeps them (io.saved) for backward, which applies the
// exact transpose, so the layers also work mid-graph.
import {
  contrastFactors,
  cropMaps,
  ERASE_WORDS,
  erasingParams,
  FILL_MODES,
  type FillMode,
  flipMaps,
  INTERPOLATIONS,
  type Interpolation,
  MAP_FLOATS,
  rotationMaps,
  smartResizeMap,
  translationMaps,
  warp,
  type WarpMode,
  type WarpShape,
  zoomMaps,
} from '../kernels/augment.js';
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../random.js';
import { formatShape, shapeSize } from '../tensor.js';
import { copyFloats, Layer, type LayerArgs, type Need, type NodeIO, type NodeShapes, quote, type RunContext } from './layer.js';
import { callable, registerLayer } from './registry.js';

export interface RandomArgs extends LayerArgs {
  /**
   * A seed of the layer's own: its draws then come from a generator of its own, the same in every run.
   * Default: the model's generator, so the model's seed fixes them.
   */
  seed?: number | null;
}

type Range = [number, number];
/** Keras's factor: a number f is [-f, f] (or [f, f] where `symmetric` is false), a pair is [lower, upper]. */
function range(v: unknown, what: string, layer: string, limits: Range, symmetric = true): Range {
  const r = typeof v === 'number' ? (symmetric ? [-v, v] : [v, v]) : v;
  if (
    !Array.isArray(r) ||
    r.length !== 2 ||
    !r.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= limits[0] && x <= limits[1]) ||
    (symmetric && r[0] > r[1])
  )
    throw new ValueError(
      `${layer}: ${what} must be a number or a pair [lower, upper]${symmetric ? ' with lower <= upper' : ''}, each in [${limits[0]}, ${limits[1]}], received ${quote(v)}`,
    );
  return r as Range;
}

function oneOf<T extends string>(v: unknown, options: readonly T[], what: string, layer: string, fallback: T): T {
  const x = v ?? fallback;
  if (!options.includes(x as T)) throw new ValueError(`${layer}: ${what} ${quote(v)} is not supported (${options.join(', ')})`);
  return x as T;
}

/** Samples per kernel call when the parameters go through scratch. */
const CHUNK = 32;

/**
 * Puts each sample's `per` parameter words into wasm memory and runs `call(at, first, count)`: all at once
 * in io.saved when the plan keeps them for backward, else CHUNK samples at a time through scratch at
 * `scratch` (a node that runs no backward, as at a model's input, has no saved state).
 */
function perSample(
  be: RunContext['be'],
  io: NodeIO,
  n: number,
  per: number,
  params: Float32Array,
  scratch: number,
  call: (at: number, first: number, count: number) => void,
): void {
  if (io.saved) {
    be.write(io.saved, params);
    return call(io.saved, 0, n);
  }
  for (let b = 0; b < n; b += CHUNK) {
    const k = Math.min(CHUNK, n - b);
    be.write(scratch, params.subarray(b * per, (b + k) * per));
    call(scratch, b, k);
  }
}

/** Shared by every random layer: the seed, the generator, images of rank 4 [batch, height, width, channels]. */
abstract class RandomLayer extends Layer {
  /** The identity at inference shares its input's memory. */
  readonly aliasesInput: boolean | 'inference' = 'inference';
  readonly backwardReads: { readonly input: boolean; readonly output: boolean } = { input: false, output: false };
  readonly seed: number | null;
  private ownRng?: Rng;

  constructor(args: RandomArgs, base: string) {
    super(args, base);
    this.seed = args.seed ?? null;
    if (this.seed !== null && !Number.isInteger(this.seed))
      throw new ValueError(`${this.name} (${this.className}): seed must be an integer or null, received ${quote(args.seed)}`);
  }
  protected rng(ctx: RunContext): Rng {
    return this.seed === null ? ctx.rng : (this.ownRng ??= new Rng(this.seed));
  }
  protected image(inputShapes: number[][]): number[] {
    const s = inputShapes[0];
    if (s.length !== 3)
      throw new ShapeError(
        `${this.name} (${this.className}): expected images of rank 4 [?, height, width, channels], received ${formatShape([null, ...s])}`,
      );
    return s;
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return this.image(inputShapes).slice();
  }
  getConfig(): Record<string, unknown> {
    return { seed: this.seed, ...super.getConfig() };
  }
}

/** A random layer whose samples are affine warps of their input (flip, translation, rotation, zoom, crop). */
abstract class WarpLayer extends RandomLayer {
  protected abstract readonly mode: WarpMode;
  /** This call's maps, MAP_FLOATS per sample. */
  protected abstract draw(rng: Rng, n: number, s: WarpShape): Float32Array;

  savedFloatsPerSample(): number {
    return MAP_FLOATS;
  }
  scratchFloats(s: NodeShapes): number {
    return s.in[0][2] + CHUNK * MAP_FLOATS; // the fill pixel, then maps
  }
  protected shape(io: NodeIO): WarpShape {
    const [H, W, C] = io.shapes.in[0],
      [OH, OW] = io.shapes.out;
    return { H, W, C, OH, OW };
  }
  /** At inference: the identity (RandomCrop overrides it). */
  protected inference(io: NodeIO, n: number, { be }: RunContext): void {
    copyFloats(be, io.y, io.x[0], n * shapeSize(io.shapes.out));
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    if (!ctx.training) return this.inference(io, n, ctx);
    const s = this.shape(io);
    const inBytes = s.H * s.W * s.C * 4,
      outBytes = s.OH * s.OW * s.C * 4;
    perSample(ctx.be, io, n, MAP_FLOATS, this.draw(this.rng(ctx), n, s), io.scratch + s.C * 4, (at, b, k) =>
      warp(ctx.be, io.x[0] + b * inBytes, io.y + b * outBytes, at, false, k, s, this.mode, io.scratch),
    );
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) warp(be, io.dy, io.dx[0], io.saved, false, n, this.shape(io), this.mode, io.scratch, true);
  }
}

const FLIP_MODES = ['horizontal', 'vertical', 'horizontal_and_vertical'] as const;
export interface RandomFlipArgs extends RandomArgs {
  mode?: (typeof FLIP_MODES)[number];
}

/** Keras's RandomFlip: each sample flipped left-right and/or upside down, each with probability 1/2. */
class RandomFlipLayer extends WarpLayer {
  static readonly className = 'RandomFlip';
  static readonly options = ['mode', 'seed'];
  readonly flip: (typeof FLIP_MODES)[number];
  protected readonly mode: WarpMode = { fill: 'constant', interpolation: 'nearest', fillValue: 0 };
  constructor(args: RandomFlipArgs = {}) {
    super(args, 'random_flip');
    this.flip = oneOf(args.mode, FLIP_MODES, 'mode', `${this.name} (RandomFlip)`, 'horizontal_and_vertical');
  }
  protected draw(rng: Rng, n: number, { H, W }: WarpShape): Float32Array {
    return flipMaps(rng, n, H, W, this.flip !== 'vertical', this.flip !== 'horizontal');
  }
  getConfig(): Record<string, unknown> {
    return { mode: this.flip, ...super.getConfig() };
  }
}
registerLayer(RandomFlipLayer);

/** Options of the layers that resample (translation, rotation, zoom), with Keras's defaults. */
export interface ResampleArgs extends RandomArgs {
  fillMode?: FillMode;
  interpolation?: Interpolation;
  fillValue?: number;
}
const RESAMPLE_OPTIONS = ['fillMode', 'interpolation', 'seed', 'fillValue'];

abstract class ResampleLayer extends WarpLayer {
  protected readonly mode: WarpMode;
  constructor(args: ResampleArgs, base: string) {
    super(args, base);
    const layer = `${this.name} (${this.className})`;
    const fillValue = args.fillValue ?? 0;
    if (typeof fillValue !== 'number' || !Number.isFinite(fillValue))
      throw new ValueError(`${layer}: fillValue must be a finite number, received ${quote(args.fillValue)}`);
    this.mode = {
      fill: oneOf(args.fillMode, FILL_MODES, 'fillMode', layer, 'reflect'),
      interpolation: oneOf(args.interpolation, INTERPOLATIONS, 'interpolation', layer, 'bilinear'),
      fillValue,
    };
  }
  getConfig(): Record<string, unknown> {
    return { fillMode: this.mode.fill, interpolation: this.mode.interpolation, fillValue: this.mode.fillValue, ...super.getConfig() };
  }
}

export interface RandomTranslationArgs extends ResampleArgs {
  /** Fraction of the height: f shifts by up to f * height either way; [lower, upper] within [-1, 1]. */
  heightFactor: number | Range;
  widthFactor: number | Range;
}

/** Keras's RandomTranslation: each sample shifted by a uniform fraction of its height and width. */
class RandomTranslationLayer extends ResampleLayer {
  static readonly className = 'RandomTranslation';
  static readonly options = ['heightFactor', 'widthFactor', ...RESAMPLE_OPTIONS];
  readonly heightFactor: number | Range;
  readonly widthFactor: number | Range;
  private readonly ranges: [Range, Range];
  constructor(args: RandomTranslationArgs) {
    super(args, 'random_translation');
    const layer = `${this.name} (RandomTranslation)`;
    this.ranges = [range(args.heightFactor, 'heightFactor', layer, [-1, 1]), range(args.widthFactor, 'widthFactor', layer, [-1, 1])];
    this.heightFactor = args.heightFactor;
    this.widthFactor = args.widthFactor;
  }
  protected draw(rng: Rng, n: number, { H, W }: WarpShape): Float32Array {
    return translationMaps(rng, n, H, W, ...this.ranges);
  }
  getConfig(): Record<string, unknown> {
    return { heightFactor: this.heightFactor, widthFactor: this.widthFactor, ...super.getConfig() };
  }
}
registerLayer(RandomTranslationLayer);

export interface RandomRotationArgs extends ResampleArgs {
  /** Fraction of a full turn: f turns by up to f * 2 pi either way; or [lower, upper]. */
  factor: number | Range;
}

/** Keras's RandomRotation: each sample turned about its centre by a uniform angle. */
class RandomRotationLayer extends ResampleLayer {
  static readonly className = 'RandomRotation';
  static readonly options = ['factor', ...RESAMPLE_OPTIONS];
  readonly factor: number | Range;
  private readonly turns: Range;
  constructor(args: RandomRotationArgs) {
    super(args, 'random_rotation');
    this.turns = range(args.factor, 'factor', `${this.name} (RandomRotation)`, [-1e3, 1e3]);
    this.factor = args.factor;
  }
  protected draw(rng: Rng, n: number, { H, W }: WarpShape): Float32Array {
    return rotationMaps(rng, n, H, W, this.turns);
  }
  getConfig(): Record<string, unknown> {
    return { factor: this.factor, ...super.getConfig() };
  }
}
registerLayer(RandomRotationLayer);

export interface RandomZoomArgs extends ResampleArgs {
  /** Zoom of the height: a positive value zooms out (the picture gets smaller), negative in; in [-1, ...]. */
  heightFactor: number | Range;
  /** null (default): the width zooms as the height, keeping the aspect ratio. */
  widthFactor?: number | Range | null;
}

/** Keras's RandomZoom: each sample zoomed about its centre by 1 + a uniform factor per axis. */
class RandomZoomLayer extends ResampleLayer {
  static readonly className = 'RandomZoom';
  static readonly options = ['heightFactor', 'widthFactor', ...RESAMPLE_OPTIONS];
  readonly heightFactor: number | Range;
  readonly widthFactor: number | Range | null;
  private readonly ranges: [Range, Range | null];
  constructor(args: RandomZoomArgs) {
    super(args, 'random_zoom');
    const layer = `${this.name} (RandomZoom)`;
    this.heightFactor = args.heightFactor;
    this.widthFactor = args.widthFactor ?? null;
    this.ranges = [
      range(args.heightFactor, 'heightFactor', layer, [-1, 1e3]),
      this.widthFactor === null ? null : range(this.widthFactor, 'widthFactor', layer, [-1, 1e3]),
    ];
  }
  protected draw(rng: Rng, n: number, { H, W }: WarpShape): Float32Array {
    return zoomMaps(rng, n, H, W, ...this.ranges);
  }
  getConfig(): Record<string, unknown> {
    return { heightFactor: this.heightFactor, widthFactor: this.widthFactor, ...super.getConfig() };
  }
}
registerLayer(RandomZoomLayer);

export interface RandomCropArgs extends RandomArgs {
  height: number;
  width: number;
}

/**
 * Keras's RandomCrop: in training a height x width window at a uniform offset (per sample; Keras draws
 * one per batch); at inference, and in training on a smaller image, Keras's smart_resize (the largest
 * centred window of the target's aspect ratio, resized bilinearly).
 */
class RandomCropLayer extends WarpLayer {
  static readonly className = 'RandomCrop';
  static readonly options = ['height', 'width', 'seed'];
  readonly aliasesInput = false; // a resize at inference
  readonly height: number;
  readonly width: number;
  protected readonly mode: WarpMode = { fill: 'constant', interpolation: 'nearest', fillValue: 0 };
  private readonly resizeMode: WarpMode = { fill: 'nearest', interpolation: 'bilinear', fillValue: 0 };
  constructor(args: RandomCropArgs) {
    super(args, 'random_crop');
    for (const k of ['height', 'width'] as const)
      if (!Number.isInteger(args?.[k]) || args[k] < 1)
        throw new ValueError(`${this.name} (RandomCrop): ${k} must be a positive integer, received ${quote(args?.[k])}`);
    this.height = args.height;
    this.width = args.width;
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    const [, , C] = this.image(inputShapes);
    return [this.height, this.width, C];
  }
  private fits(s: WarpShape): boolean {
    return s.H >= s.OH && s.W >= s.OW;
  }
  protected draw(rng: Rng, n: number, s: WarpShape): Float32Array {
    return cropMaps(rng, n, s.H, s.W, s.OH, s.OW);
  }
  protected inference(io: NodeIO, n: number, { be }: RunContext): void {
    const s = this.shape(io);
    const at = io.scratch + s.C * 4;
    be.write(at, smartResizeMap(s.H, s.W, s.OH, s.OW));
    warp(be, io.x[0], io.y, at, true, n, s, this.resizeMode, io.scratch);
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    if (ctx.training && this.fits(this.shape(io))) return super.forward(io, n, ctx);
    this.inference(io, n, ctx); // in training too on a smaller image (Keras); backward then resizes' transpose
  }
  backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void {
    if (!need.dx[0]) return;
    const s = this.shape(io);
    if (this.fits(s)) return super.backward(io, n, need, ctx);
    const at = io.scratch + s.C * 4;
    ctx.be.write(at, smartResizeMap(s.H, s.W, s.OH, s.OW));
    warp(ctx.be, io.dy, io.dx[0], at, true, n, s, this.resizeMode, io.scratch, true);
  }
  getConfig(): Record<string, unknown> {
    return { height: this.height, width: this.width, ...super.getConfig() };
  }
}
registerLayer(RandomCropLayer);

export interface RandomContrastArgs extends RandomArgs {
  /** f: factors uniform in [1 - f, 1 + f]; [lower, upper]: in [1 - lower, 1 + upper]. */
  factor: number | Range;
  /** The range outputs are clipped to (Keras 3's default [0, 255]). */
  valueRange?: Range;
}

/** Keras's RandomContrast: each sample's channels pushed away from (or towards) their mean by a uniform factor, then clipped. */
class RandomContrastLayer extends RandomLayer {
  static readonly className = 'RandomContrast';
  static readonly options = ['factor', 'valueRange', 'seed'];
  readonly backwardReads = { input: false, output: true };
  readonly factor: number | Range;
  readonly valueRange: Range;
  private readonly bounds: Range;
  constructor(args: RandomContrastArgs) {
    super(args, 'random_contrast');
    const layer = `${this.name} (RandomContrast)`;
    this.bounds = range(args?.factor, 'factor', layer, [0, 1e3], false);
    if (this.bounds[0] > 1) throw new ValueError(`${layer}: the factor's lower bound must be at most 1, received ${quote(args.factor)}`);
    this.factor = args.factor;
    this.valueRange = args.valueRange ?? [0, 255];
    const v = this.valueRange;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && !Number.isNaN(x)) || !(v[0] < v[1]))
      throw new ValueError(`${layer}: valueRange must be a pair [low, high] with low < high, received ${quote(args.valueRange)}`);
  }
  savedFloatsPerSample(): number {
    return 1;
  }
  scratchFloats(s: NodeShapes): number {
    return s.in[0][2] + CHUNK; // channel means, then factors
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    if (!ctx.training) return copyFloats(ctx.be, io.y, io.x[0], n * shapeSize(io.shapes.out));
    const [H, W, C] = io.shapes.in[0];
    const bytes = H * W * C * 4;
    perSample(ctx.be, io, n, 1, contrastFactors(this.rng(ctx), n, ...this.bounds), io.scratch + C * 4, (at, b, k) =>
      ctx.be.k.contrast_forward(io.x[0] + b * bytes, io.y + b * bytes, at, k, H * W, C, this.valueRange[0], this.valueRange[1], io.scratch),
    );
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const [H, W, C] = io.shapes.in[0];
    be.k.contrast_backward(io.y, io.dy, io.dx[0], io.saved, n, H * W, C, this.valueRange[0], this.valueRange[1], io.scratch);
  }
  getConfig(): Record<string, unknown> {
    return { factor: this.factor, valueRange: this.valueRange, ...super.getConfig() };
  }
}
registerLayer(RandomContrastLayer);

export interface RandomErasingArgs extends RandomArgs {
  /** Probability of erasing a sample: p, or [lower, upper] (p uniform in it per sample). Default 1. */
  factor?: number | Range;
  /** Area of the rectangle as a fraction of the image's, uniform in [lower, upper]. Default [0.02, 0.33]. */
  scale?: Range;
  /** The erased value; null (default): a uniform value in valueRange per sample (Keras draws normal noise). */
  fillValue?: number | null;
  valueRange?: Range;
}

/** Keras's RandomErasing (cutout): a rectangle of each sample, with the image's aspect ratio, set to one value. */
class RandomErasingLayer extends RandomLayer {
  static readonly className = 'RandomErasing';
  static readonly options = ['factor', 'scale', 'fillValue', 'valueRange', 'seed'];
  readonly factor: number | Range;
  readonly scale: Range;
  readonly fillValue: number | null;
  readonly valueRange: Range;
  private readonly probability: Range;
  constructor(args: RandomErasingArgs = {}) {
    super(args, 'random_erasing');
    const layer = `${this.name} (RandomErasing)`;
    this.factor = args.factor ?? 1;
    this.probability = range(this.factor, 'factor', layer, [0, 1], false);
    this.scale = range(args.scale ?? [0.02, 0.33], 'scale', layer, [0, 1]);
    this.fillValue = args.fillValue ?? null;
    if (this.fillValue !== null && !Number.isFinite(this.fillValue))
      throw new ValueError(`${layer}: fillValue must be a finite number or null, received ${quote(args.fillValue)}`);
    this.valueRange = range(args.valueRange ?? [0, 255], 'valueRange', layer, [-Infinity, Infinity]);
  }
  /** The rectangle (4 int32) and its fill value. */
  savedFloatsPerSample(): number {
    return ERASE_WORDS;
  }
  scratchFloats(): number {
    return CHUNK * ERASE_WORDS;
  }
  forward(io: NodeIO, n: number, ctx: RunContext): void {
    if (!ctx.training) return copyFloats(ctx.be, io.y, io.x[0], n * shapeSize(io.shapes.out));
    const [H, W, C] = io.shapes.in[0];
    const bytes = H * W * C * 4;
    const params = erasingParams(this.rng(ctx), n, H, W, this.probability, this.scale, this.fillValue ?? this.valueRange);
    perSample(ctx.be, io, n, ERASE_WORDS, params, io.scratch, (at, b, k) =>
      ctx.be.k.erase_rect(io.x[0] + b * bytes, io.y + b * bytes, at, k, H, W, C, 1),
    );
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    const [H, W, C] = io.shapes.in[0];
    if (need.dx[0]) be.k.erase_rect(io.dy, io.dx[0], io.saved, n, H, W, C, 0);
  }
  getConfig(): Record<string, unknown> {
    return { factor: this.factor, scale: this.scale, fillValue: this.fillValue, valueRange: this.valueRange, ...super.getConfig() };
  }
}
registerLayer(RandomErasingLayer);

export const RandomFlip = callable(RandomFlipLayer);
export type RandomFlip = RandomFlipLayer;
export const RandomTranslation = callable(RandomTranslationLayer);
export type RandomTranslation = RandomTranslationLayer;
export const RandomRotation = callable(RandomRotationLayer);
export type RandomRotation = RandomRotationLayer;
export const RandomZoom = callable(RandomZoomLayer);
export type RandomZoom = RandomZoomLayer;
export const RandomCrop = callable(RandomCropLayer);
export type RandomCrop = RandomCropLayer;
export const RandomContrast = callable(RandomContrastLayer);
export type RandomContrast = RandomContrastLayer;
export const RandomErasing = callable(RandomErasingLayer);
export type RandomErasing = RandomErasingLayer;
