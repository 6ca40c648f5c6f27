// Preprocessing layers that always apply, in training and at inference: Rescaling (TF.js) and
// Normalization (Keras, with adapt()). Their kernels live in assembly/augment.ts.
import { ShapeError, ValueError } from '../errors.js';
import { formatShape, shapeSize, Tensor } from '../tensor.js';
import {
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  type NodeShapes,
  quote,
  type RunContext,
  type WeightSpec,
  weightStore,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export interface RescalingArgs extends LayerArgs {
  scale: number;
  offset?: number;
}

/** TF.js's Rescaling: y = x * scale + offset (e.g. scale 1/255 to take pixels to [0, 1]). */
class RescalingLayer extends Layer {
  static readonly className = 'Rescaling';
  static readonly options = ['scale', 'offset'];
  readonly backwardReads = { input: false, output: false };
  readonly scale: number;
  readonly offset: number;
  constructor(args: RescalingArgs) {
    super(args, 'rescaling');
    if (!finite(args?.scale))
      throw new ValueError(`${this.name} (Rescaling): scale must be a finite number, received ${quote(args?.scale)}`);
    if (args.offset !== undefined && !finite(args.offset))
      throw new ValueError(`${this.name} (Rescaling): offset must be a finite number, received ${quote(args.offset)}`);
    this.scale = args.scale;
    this.offset = args.offset ?? 0;
  }
  computeOutputShape(inputShapes: number[][]): number[] {
    return inputShapes[0].slice();
  }
  forward(io: NodeIO, n: number, { be }: RunContext): void {
    be.k.rescale_f32(io.x[0], io.y, n * shapeSize(io.shapes.out), this.scale, this.offset);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (need.dx[0]) be.k.rescale_f32(io.dy, io.dx[0], n * shapeSize(io.shapes.out), this.scale, 0);
  }
  getConfig(): Record<string, unknown> {
    return { scale: this.scale, offset: this.offset, ...super.getConfig() };
  }
}
registerLayer(RescalingLayer);

type Stat = number | number[] | null;
/** Running per-channel statistics of adapt(): rows seen, means, sums of squared deviations. */
interface Moments {
  count: number;
  mean: Float64Array;
  m2: Float64Array;
}

export interface NormalizationArgs extends LayerArgs {
  /** The last axis only: -1 (default), or its index counting the batch axis (as Keras files write it). */
  axis?: number | number[];
  /** Fixed statistics (a number, or one per channel): the layer then has no weights and adapt() is not needed. */
  mean?: Stat;
  variance?: Stat;
  /** y = mean + x * sqrt(variance): undoes a normalization. */
  invert?: boolean;
}

/**
 * Keras's Normalization over the last axis: y = (x - mean) / max(sqrt(variance), 1e-7) per channel. The
 * statistics are given in the config, or learned by adapt(data) and kept as the non-trainable weights
 * 'mean' and 'variance' (saved with the model).
 */
class NormalizationLayer extends Layer {
  static readonly className = 'Normalization';
  static readonly options = ['axis', 'mean', 'variance', 'invert'];
  readonly backwardReads = { input: false, output: false };
  readonly axis: number;
  readonly invert: boolean;
  readonly mean: Stat;
  readonly variance: Stat;
  private adapted?: [Float32Array, Float32Array];

  constructor(args: NormalizationArgs = {}) {
    super(args, 'normalization');
    const a = Array.isArray(args.axis) && args.axis.length === 1 ? args.axis[0] : (args.axis ?? -1);
    if (!Number.isInteger(a))
      throw new ValueError(`${this.name} (Normalization): axis ${quote(args.axis)} is not supported (only the last axis)`);
    this.axis = a as number;
    this.invert = args.invert ?? false;
    if (typeof this.invert !== 'boolean')
      throw new ValueError(`${this.name} (Normalization): invert must be true or false, received ${quote(args.invert)}`);
    this.mean = args.mean ?? null;
    this.variance = args.variance ?? null;
    if ((this.mean === null) !== (this.variance === null))
      throw new ValueError(`${this.name} (Normalization): give both mean and variance, or neither (then call adapt)`);
    for (const [k, v] of [
      ['mean', this.mean],
      ['variance', this.variance],
    ] as const) {
      const vals = v === null ? [] : Array.isArray(v) ? v : [v];
      if (!vals.every(finite) || (Array.isArray(v) && !v.length))
        throw new ValueError(`${this.name} (Normalization): ${k} must be a finite number or a list of them, received ${quote(v)}`);
      if (k === 'variance' && vals.some((x) => x < 0))
        throw new ValueError(`${this.name} (Normalization): variance must not be negative, received ${quote(v)}`);
    }
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const s = inputShapes[0];
    if (this.axis !== -1 && this.axis !== s.length)
      throw new ShapeError(`${this.name} (Normalization): axis ${this.axis} is not supported (only the last axis, -1 or ${s.length} here)`);
    const C = s[s.length - 1];
    for (const v of [this.mean, this.variance])
      if (Array.isArray(v) && v.length !== C)
        throw new ShapeError(
          `${this.name} (Normalization): the statistics have ${v.length} values but the input ${formatShape([null, ...s])} has ${C} channels`,
        );
    return s.slice();
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    if (this.mean !== null) return [];
    const s = inputShapes[0],
      C = s[s.length - 1];
    const [m, v] = this.adapted ?? [];
    const spec = (name: string, initializer: 'zeros' | 'ones', values?: Float32Array): WeightSpec => ({
      name,
      shape: [C],
      initializer: { className: initializer === 'zeros' ? 'Zeros' : 'Ones', config: {} },
      fanIn: C,
      fanOut: C,
      trainable: false,
      values,
    });
    return [spec('mean', 'zeros', m), spec('variance', 'ones', v)];
  }

  /** mean, variance and the divisors: fixed statistics are written into scratch per call. */
  scratchFloats(s: NodeShapes): number {
    return 3 * s.out[s.out.length - 1];
  }

  private stats(io: NodeIO, be: RunContext['be']): [number, number] {
    if (this.mean === null) return [io.params[0], io.params[1]];
    const C = io.shapes.out[io.shapes.out.length - 1];
    const fill = (v: Stat) => (Array.isArray(v) ? v : new Array<number>(C).fill(v as number));
    be.write(io.scratch + C * 4, fill(this.mean));
    be.write(io.scratch + C * 8, fill(this.variance));
    return [io.scratch + C * 4, io.scratch + C * 8];
  }

  forward(io: NodeIO, n: number, { be }: RunContext): void {
    const C = io.shapes.out[io.shapes.out.length - 1];
    const [mean, variance] = this.stats(io, be);
    be.k.normalize_channels(io.x[0], io.y, mean, variance, (n * shapeSize(io.shapes.out)) / C, C, this.invert ? 1 : 0, io.scratch);
  }
  backward(io: NodeIO, n: number, need: Need, { be }: RunContext): void {
    if (!need.dx[0]) return;
    const C = io.shapes.out[io.shapes.out.length - 1];
    const [, variance] = this.stats(io, be);
    be.k.normalize_channels(io.dy, io.dx[0], 0, variance, (n * shapeSize(io.shapes.out)) / C, C, this.invert ? 1 : 0, io.scratch);
  }

  /**
   * Learns the mean and variance of each channel (the last axis) from data: a Tensor [N, ..., C], or (async)
   * a Dataset or other async iterable of such Tensors or of {xs} batches, merged batch by batch in float64
   * (Chan's update), so a dataset larger than memory adapts in one pass. Before the layer is in a built
   * model the statistics become its initial weights; after, they overwrite them.
   */
  adapt(data: Tensor): void;
  adapt(data: AsyncIterable<Tensor | { xs: Tensor }>): Promise<void>;
  adapt(data: Tensor | AsyncIterable<Tensor | { xs: Tensor }>): void | Promise<void> {
    if (this.mean !== null) throw new ValueError(`${this.name} (Normalization): adapt() needs a layer without fixed mean and variance`);
    if (data instanceof Tensor) return this.finish(this.merge(undefined, data));
    if (!data || typeof (data as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')
      throw new ValueError(`${this.name} (Normalization).adapt: expected a Tensor or a Dataset of them, received ${String(data)}`);
    return (async () => {
      let m: Moments | undefined;
      for await (const b of data) m = this.merge(m, b instanceof Tensor ? b : b?.xs);
      this.finish(m);
    })();
  }

  /** Adds one batch to the running count, means and sums of squared deviations per channel. */
  private merge(m: Moments | undefined, t: Tensor | undefined): Moments {
    const what = `${this.name} (Normalization).adapt`;
    if (!(t instanceof Tensor) || t.rank < 2)
      throw new ShapeError(
        `${what}: expected a Tensor [N, ..., channels], received ${t instanceof Tensor ? formatShape(t.shape) : String(t)}`,
      );
    const C = t.shape[t.shape.length - 1];
    const have = m ? m.mean.length : this.built ? this.inputShape[this.inputShape.length - 1] : C;
    if (have !== C) throw new ShapeError(`${what}: expected ${have} channels, received a batch of shape ${formatShape(t.shape)}`);
    const rows = t.size / C,
      d = t.data;
    const mean = new Float64Array(C),
      m2 = new Float64Array(C);
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) throw new ValueError(`${what}: the data holds ${d[i]} at index ${i}`);
      mean[i % C] += d[i] / rows;
    }
    for (let i = 0; i < d.length; i++) m2[i % C] += (d[i] - mean[i % C]) ** 2;
    if (!m || !m.count) return { count: rows, mean, m2 };
    const n = m.count + rows;
    for (let c = 0; c < C; c++) {
      const delta = mean[c] - m.mean[c];
      m.m2[c] += m2[c] + (delta * delta * m.count * rows) / n;
      m.mean[c] += (delta * rows) / n;
    }
    m.count = n;
    return m;
  }

  private finish(m: Moments | undefined): void {
    if (!m?.count) throw new ValueError(`${this.name} (Normalization).adapt: the data is empty`);
    const mean = Float32Array.from(m.mean),
      variance = Float32Array.from(m.m2, (s) => s / m.count);
    this.adapted = [mean, variance];
    if (!weightStore.write(this, [mean, variance])) for (const [i, w] of this.weights.entries()) w.values = this.adapted[i];
  }

  getConfig(): Record<string, unknown> {
    return { axis: this.axis, mean: this.mean, variance: this.variance, invert: this.invert, ...super.getConfig() };
  }
}
registerLayer(NormalizationLayer);

export const Rescaling = callable(RescalingLayer);
export type Rescaling = RescalingLayer;
export const Normalization = callable(NormalizationLayer);
export type Normalization = NormalizationLayer;
