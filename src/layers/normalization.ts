import { FLAG_RELU } from '../backend.js';
import { ShapeError, ValueError } from '../errors.js';
import { checkInitializer, type Initializer, initializerConfig, type InitializerConfig, type InitializerName } from '../initializers.js';
import { checkRegularizer, type Regularizer, regularizerConfig, type RegularizerConfig } from '../regularizers.js';
import { formatShape, shapeSize } from '../tensor.js';
import {
  type FoldKind,
  Layer,
  type LayerArgs,
  type Need,
  type NodeIO,
  type NodeShapes,
  quote,
  type RunContext,
  type WeightSpec,
} from './layer.js';
import { callable, registerLayer } from './registry.js';

type Init = InitializerName | InitializerConfig;

export interface BatchNormalizationArgs extends LayerArgs {
  /** The last axis only: -1, or its index counting the batch axis (3 after a conv), as Keras files write it. */
  axis?: number | number[];
  /** Of the moving averages: moving = moving * momentum + batch * (1 - momentum). Default 0.99. */
  momentum?: number;
  /** Added to the variance before its square root. Default 1e-3. */
  epsilon?: number;
  /** Learn an offset beta (default true). */
  center?: boolean;
  /** Learn a scale gamma (default true). */
  scale?: boolean;
  betaInitializer?: Init;
  gammaInitializer?: Init;
  movingMeanInitializer?: Init;
  movingVarianceInitializer?: Init;
  /** tf.regularizers.l1l2({l1, l2}) (or 'l1l2', Keras's 'l1', 'l2'): its penalty joins the training loss. */
  betaRegularizer?: string | RegularizerConfig | null;
  gammaRegularizer?: string | RegularizerConfig | null;
}

// io.cache, in floats: a header (int32 stamp of the inference scale, int32 "statistics pending"), then
// per-channel blocks of C rounded up to whole vectors: inference scale, zeros, batch mean, batch variance,
// batch scale; for a batch split into chunks, dx's coefficients (3 blocks) and the chunk's float64 sums
// (4 blocks).
const STAMP = 0,
  PENDING = 1,
  HEADER = 16;
const enum Block {
  InferScale,
  Zeros,
  Mean,
  Variance,
  TrainScale,
  DxCoefficients,
  Sums = DxCoefficients + 3,
  Count = Sums + 4,
}

/**
 * Batch normalization over the last axis (channels), as tfjs-layers and Keras: in training the batch's
 * mean and biased variance over every other axis, and the moving averages updated as TF.js does (applied
 * once the training step is accepted); at inference, and whenever the layer is frozen (trainable false,
 * Keras semantics, also inside fit), the moving statistics. Weights gamma, beta (trainable),
 * moving_mean, moving_variance (never trained: getWeights lists them after every trainable weight).
 */
class BatchNormalizationLayer extends Layer {
  static readonly className = 'BatchNormalization';
  static readonly options = [
    'axis',
    'momentum',
    'epsilon',
    'center',
    'scale',
    'betaInitializer',
    'gammaInitializer',
    'movingMeanInitializer',
    'movingVarianceInitializer',
    'betaRegularizer',
    'gammaRegularizer',
  ];
  static readonly fixedOptions = {
    betaConstraint: null,
    gammaConstraint: null,
    renorm: false,
    virtualBatchSize: null,
    synchronized: false,
  };
  readonly backwardReads = { input: true, output: false };
  readonly syncsChunks = true;
  /** As given (-1 or the last axis counting the batch), so a re-saved file says the same. */
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly betaInitializer: Initializer;
  readonly gammaInitializer: Initializer;
  readonly movingMeanInitializer: Initializer;
  readonly movingVarianceInitializer: Initializer;
  readonly betaRegularizer: Regularizer | null;
  readonly gammaRegularizer: Regularizer | null;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args, 'batch_normalization');
    const a = Array.isArray(args.axis) && args.axis.length === 1 ? args.axis[0] : (args.axis ?? -1);
    if (!Number.isInteger(a)) throw new ValueError(`${this.name}: axis ${quote(args.axis)} is not supported (only the last axis, -1)`);
    this.axis = a as number;
    this.momentum = args.momentum ?? 0.99;
    if (typeof this.momentum !== 'number' || !(this.momentum >= 0 && this.momentum <= 1))
      throw new ValueError(`${this.name}: momentum must be a number in [0, 1], received ${quote(args.momentum)}`);
    this.epsilon = args.epsilon ?? 1e-3;
    if (typeof this.epsilon !== 'number' || !(this.epsilon > 0 && Number.isFinite(this.epsilon)))
      throw new ValueError(`${this.name}: epsilon must be a positive number, received ${quote(args.epsilon)}`);
    this.center = flag(args.center, 'center', this.name);
    this.scale = flag(args.scale, 'scale', this.name);
    this.betaInitializer = checkInitializer(args.betaInitializer, this.name, 'betaInitializer', 'zeros');
    this.gammaInitializer = checkInitializer(args.gammaInitializer, this.name, 'gammaInitializer', 'ones');
    this.movingMeanInitializer = checkInitializer(args.movingMeanInitializer, this.name, 'movingMeanInitializer', 'zeros');
    this.movingVarianceInitializer = checkInitializer(args.movingVarianceInitializer, this.name, 'movingVarianceInitializer', 'ones');
    this.betaRegularizer = checkRegularizer(args.betaRegularizer, this.name, 'betaRegularizer');
    this.gammaRegularizer = checkRegularizer(args.gammaRegularizer, this.name, 'gammaRegularizer');
  }

  computeOutputShape(inputShapes: number[][]): number[] {
    const s = inputShapes[0];
    if (this.axis !== -1 && this.axis !== s.length) {
      throw new ShapeError(
        `${this.name} (BatchNormalization): axis ${this.axis} is not supported for input ${formatShape([null, ...s])}; only the last axis (-1 or ${s.length}), the channels`,
      );
    }
    return s.slice();
  }

  protected declareWeights(inputShapes: number[][]): WeightSpec[] {
    const C = channelsOf(inputShapes[0]),
      fan = Math.sqrt(C);
    const w = (name: string, initializer: Initializer, trainable: boolean, regularizer: Regularizer | null = null): WeightSpec => ({
      name,
      shape: [C],
      initializer,
      fanIn: fan,
      fanOut: fan,
      trainable,
      regularizer,
    });
    return [
      ...(this.scale ? [w('gamma', this.gammaInitializer, true, this.gammaRegularizer)] : []),
      ...(this.center ? [w('beta', this.betaInitializer, true, this.betaRegularizer)] : []),
      w('moving_mean', this.movingMeanInitializer, false),
      w('moving_variance', this.movingVarianceInitializer, false),
    ];
  }

  scratchFloats(s: NodeShapes): number {
    return 7 * channelsOf(s.out);
  }
  cacheFloats(s: NodeShapes): number {
    return HEADER + Block.Count * blockFloats(channelsOf(s.out));
  }

  forward(io: NodeIO, n: number, ctx: RunContext): void {
    const { be } = ctx,
      k = be.k,
      C = channelsOf(io.shapes.out),
      rows = (n * shapeSize(io.shapes.out)) / C;
    const p = this.pointers(io);
    be.i32[io.cache / 4 + PENDING] = 0;
    if (this.usesBatchStatistics(ctx)) {
      if (ctx.split) {
        k.batchnorm_partial_moments(io.x[0], rows, C, p.block(Block.Sums), io.scratch);
        ctx.split.sync(io, (ios, sizes) => this.mergeMoments(ios, sizes, ctx));
      } else {
        k.batchnorm_moments(io.x[0], rows, C, p.block(Block.Mean), p.block(Block.Variance), io.scratch);
        k.batchnorm_scale(p.gamma, p.block(Block.Variance), C, this.epsilon, p.block(Block.TrainScale));
      }
      k.batchnorm_apply(io.x[0], io.y, rows, C, p.block(Block.Mean), p.block(Block.TrainScale), p.beta, 0);
      be.i32[io.cache / 4 + PENDING] = 1;
    } else {
      const relu = io.fold?.activation === 'relu' ? FLAG_RELU : 0;
      k.batchnorm_apply(io.x[0], io.y, rows, C, p.movingMean, this.inferenceScale(io, ctx), p.beta, relu);
    }
  }

  /** At inference a per-channel map, (x - moving_mean) * scale + beta: it folds into a conv or dense before it. */
  inferenceFold(): FoldKind {
    return 'affine';
  }
  /** A following ReLU is applied as the output is written (where no layer before absorbs this one). */
  absorbs(kind: FoldKind): boolean {
    return kind === 'relu';
  }
  foldAffine(io: NodeIO, ctx: RunContext, kernel: number, kernelOut: number, rows: number, bias: number, biasOut: number): void {
    const C = channelsOf(io.shapes.out),
      p = this.pointers(io),
      zeros = p.block(Block.Zeros),
      scale = this.inferenceScale(io, ctx);
    ctx.be.k.batchnorm_apply(kernel, kernelOut, rows, C, zeros, scale, zeros, 0);
    ctx.be.k.batchnorm_apply(bias || zeros, biasOut, 1, C, p.movingMean, scale, p.beta, 0);
  }

  backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void {
    const k = ctx.be.k,
      C = channelsOf(io.shapes.out),
      rows = (n * shapeSize(io.shapes.out)) / C;
    const p = this.pointers(io);
    if (this.usesBatchStatistics(ctx)) {
      const g = need.dw ? (io.grads[0] ?? 0) : 0;
      const dgamma = this.scale ? g : 0,
        dbeta = this.center && need.dw ? (io.grads[this.scale ? 1 : 0] ?? 0) : 0;
      const mean = p.block(Block.Mean),
        variance = p.block(Block.Variance);
      if (!ctx.split) {
        k.batchnorm_backward(
          io.x[0],
          io.dy,
          need.dx[0] ? io.dx[0] : 0,
          dgamma,
          dbeta,
          rows,
          C,
          mean,
          variance,
          p.gamma,
          this.epsilon,
          io.scratch,
        );
        return;
      }
      // Each chunk's dgamma and dbeta are its own sums (added up as every chunk gradient is); dx needs the batch's.
      k.batchnorm_backward_sums(io.x[0], io.dy, dgamma, dbeta, rows, C, mean, variance, this.epsilon, p.block(Block.Sums), io.scratch);
      if (!need.dx[0]) return;
      ctx.split.sync(io, (ios, sizes) => this.mergeSums(ios, sizes, ctx));
      k.batchnorm_dx(io.x[0], io.dy, io.dx[0], rows, C, mean, p.block(Block.DxCoefficients));
    } else if (need.dx[0]) {
      // Frozen: a fixed per-channel affine map, dx = dy * scale.
      const zeros = p.block(Block.Zeros);
      k.batchnorm_apply(io.dy, io.dx[0], rows, C, zeros, this.inferenceScale(io, ctx), zeros, 0);
    }
  }

  applyUpdates(io: NodeIO, _n: number, { be }: RunContext): boolean {
    if (!io.cache || be.i32[io.cache / 4 + PENDING] === 0) return false;
    be.i32[io.cache / 4 + PENDING] = 0;
    const p = this.pointers(io);
    be.k.batchnorm_moving_update(
      p.movingMean,
      p.movingVariance,
      p.block(Block.Mean),
      p.block(Block.Variance),
      channelsOf(io.shapes.out),
      1 - this.momentum,
    );
    return true;
  }

  getConfig(): Record<string, unknown> {
    return {
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: initializerConfig(this.betaInitializer),
      gammaInitializer: initializerConfig(this.gammaInitializer),
      movingMeanInitializer: initializerConfig(this.movingMeanInitializer),
      movingVarianceInitializer: initializerConfig(this.movingVarianceInitializer),
      betaRegularizer: regularizerConfig(this.betaRegularizer),
      gammaRegularizer: regularizerConfig(this.gammaRegularizer),
      betaConstraint: null,
      gammaConstraint: null,
      ...super.getConfig(),
    };
  }

  /**
   * A split batch's forward: the chunks' moments merged in chunk order into the batch's mean, variance and
   * scale, which every chunk gets (they are contiguous blocks).
   */
  private mergeMoments(ios: NodeIO[], sizes: number[], { be }: RunContext): void {
    const C = channelsOf(ios[0].shapes.out),
      first = this.pointers(ios[0]);
    const acc = first.block(Block.Sums),
      mean = first.block(Block.Mean),
      variance = first.block(Block.Variance);
    this.eachChunk(ios, sizes, (io, before, rows) =>
      be.k.batchnorm_merge_moments(acc, this.pointers(io).block(Block.Sums), before, rows, C, mean, variance),
    );
    be.k.batchnorm_scale(first.gamma, variance, C, this.epsilon, first.block(Block.TrainScale));
    for (const io of ios.slice(1)) be.copy(this.pointers(io).block(Block.Mean), mean, 3 * blockFloats(C));
  }

  /** A split batch's backward: the chunks' sums merged in chunk order into dx's coefficients, which every chunk gets. */
  private mergeSums(ios: NodeIO[], sizes: number[], { be }: RunContext): void {
    const C = channelsOf(ios[0].shapes.out),
      first = this.pointers(ios[0]);
    const acc = first.block(Block.Sums),
      coefficients = first.block(Block.DxCoefficients);
    this.eachChunk(ios, sizes, (io, before, rows) =>
      be.k.batchnorm_merge_sums(
        acc,
        this.pointers(io).block(Block.Sums),
        before,
        rows,
        C,
        first.block(Block.Variance),
        first.gamma,
        this.epsilon,
        coefficients,
      ),
    );
    for (const io of ios.slice(1)) be.copy(this.pointers(io).block(Block.DxCoefficients), coefficients, 3 * blockFloats(C));
  }

  /** f(io, rows of the chunks before it, its rows) for each chunk in order. */
  private eachChunk(ios: NodeIO[], sizes: number[], f: (io: NodeIO, before: number, rows: number) => void): void {
    const perSample = shapeSize(ios[0].shapes.out) / channelsOf(ios[0].shapes.out);
    let before = 0;
    ios.forEach((io, c) => {
      f(io, before, sizes[c] * perSample);
      before += sizes[c] * perSample;
    });
  }

  /** Keras: the batch's statistics in training, unless the layer is frozen. */
  private usesBatchStatistics(ctx: RunContext): boolean {
    return ctx.training && this.trainable;
  }

  /** gamma / sqrt(moving_variance + epsilon), made once per weights version in the node's cache. */
  private inferenceScale(io: NodeIO, { be, weightsVersion }: RunContext): number {
    const p = this.pointers(io),
      at = io.cache / 4 + STAMP;
    if (be.i32[at] !== weightsVersion + 1) {
      be.k.batchnorm_scale(p.gamma, p.movingVariance, channelsOf(io.shapes.out), this.epsilon, p.block(Block.InferScale));
      be.i32[at] = weightsVersion + 1;
    }
    return p.block(Block.InferScale);
  }

  private pointers(io: NodeIO) {
    const w = io.params,
      g = this.scale ? 1 : 0,
      b = this.center ? 1 : 0;
    const size = blockFloats(channelsOf(io.shapes.out));
    const block = (i: Block) => io.cache + (HEADER + i * size) * 4;
    return {
      gamma: this.scale ? w[0] : 0,
      beta: this.center ? w[g] : block(Block.Zeros),
      movingMean: w[g + b],
      movingVariance: w[g + b + 1],
      block,
    };
  }
}
registerLayer(BatchNormalizationLayer);

const channelsOf = (shape: number[]) => shape[shape.length - 1];
const blockFloats = (C: number) => Math.ceil(C / 4) * 4;

function flag(v: unknown, what: string, layer: string): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== 'boolean') throw new ValueError(`${layer}: ${what} must be true or false, received ${quote(v)}`);
  return v;
}

export const BatchNormalization = callable(BatchNormalizationLayer);
export type BatchNormalization = BatchNormalizationLayer;
