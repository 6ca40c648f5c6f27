// The contract every layer keeps (docs/architecture.md, "How to add a layer"). A layer is a shape rule,
// a list of weights it declares, and forward/backward over buffers the engine planned for each of its
// nodes; it stores no pointers. A layer used twice has two nodes that share its weights.
import { type ActivationName, actBackward, activationCode, actForward, gradSource } from '../activations.js';
import type { Backend } from '../backend.js';
import { ShapeError, SimdcnnError, ValueError } from '../errors.js';
import type { Initializer } from '../initializers.js';
import type { Regularizer } from '../regularizers.js';
import type { Rng } from '../random.js';
import { formatShape } from '../tensor.js';
import { applyLayer, type Node, type SymbolicTensor } from './symbolic.js';

export { type ActivationName, checkActivation } from '../activations.js';

/** bias_act's flags carry the activation code from this bit on (assembly/activation.ts ACT_SHIFT). */
export const ACT_SHIFT = 8;

/** A weight the layer declares at build; the engine allocates, initialises and saves it. */
export interface WeightSpec {
  /** 'kernel', 'bias', ...: saved as '<layer name>/<name>'. */
  name: string;
  shape: number[];
  initializer: Initializer;
  /** Its penalty joins the training loss and its gradient this weight's (Conv2D's, Dense's kernelRegularizer). */
  regularizer?: Regularizer | null;
  fanIn: number;
  fanOut: number;
  /** False for statistics that are not learned by gradient (e.g. moving means). */
  trainable: boolean;
  /** Values to start from instead of the initializer (Normalization's adapted statistics). */
  values?: Float32Array;
}

/**
 * Where built layers' weights live, set by the engine (layers do not import it): writes a layer's weights
 * in declaration order; false when they are not in memory yet (then `values` applies when they are).
 */
export const weightStore = { write: (_layer: Layer, _values: Float32Array[]): boolean => false };

/** Shapes of one node, without the batch axis. */
export interface NodeShapes {
  in: number[][];
  out: number[];
}

/**
 * Where the engine put one node's tensors (byte pointers into wasm memory), valid for batches up to the
 * plan's capacity. `dx[i]` is 0 when input i needs no gradient. Kernels overwrite their outputs: the
 * engine hands a temporary `dx`/`grads` and adds it up where several nodes feed one gradient.
 */
export interface NodeIO {
  x: number[];
  y: number;
  dx: number[];
  dy: number;
  /** State kept from forward to backward (savedFloatsPerSample floats per sample), 0 outside training. */
  saved: number;
  params: number[];
  grads: number[];
  /** Shared scratch of at least scratchFloats() floats. */
  scratch: number;
  /** This node's cacheFloats() floats, kept across calls and zeroed when planned; 0 when it has none. */
  cache: number;
  shapes: NodeShapes;
  /** dy already is the gradient before this layer's final activation (the loss fused with it). */
  preActivationGrad: boolean;
  /** Inference plans only: what the plan folded into this node's forward (engine/fold.ts). */
  fold?: Fold;
}

/**
 * A forward with the layers after it folded in: weights to use instead of params ([kernel, bias or 0], with
 * a following BN scaled in, or the layer's own) and the activation to apply instead of the layer's own.
 */
export interface Fold {
  params: number[];
  activation: ActivationName;
  /** A 2x2 stride-2 max pool (padding 'valid') of the output, written in its place. */
  pool?: boolean;
}

/** What an inference plan can fold into the layer before: a per-channel affine map, an activation, or a 2x2 max pool (last). */
export type FoldKind = 'affine' | 'maxpool2x2' | ActivationName;

export interface Need {
  dx: boolean[];
  dw: boolean;
}

export interface RunContext {
  be: Backend;
  training: boolean;
  rng: Rng;
  /** Changes whenever any weights are written: what a cache derives from weights is stale when it does. */
  weightsVersion: number;
  /** Set in the runtime of each chunk of a training batch split into chunks (threads). */
  split?: BatchSplit;
}

/**
 * A training batch split into chunks that run as separate passes (src/threads/chunked.ts), as one chunk
 * sees it. A layer whose training pass needs sums over the whole batch writes its chunk's partial sums,
 * then calls sync: every chunk stops there, `combine` runs once, on one thread, with every chunk's io of
 * this node in chunk order and their sample counts, and then the chunks go on.
 */
export interface BatchSplit {
  sync(io: NodeIO, combine: (ios: NodeIO[], sizes: number[]) => void): void;
}

/** Constructor options every layer takes. */
export interface LayerArgs {
  name?: string;
  trainable?: boolean;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
  /** Only 'float32'. */
  dtype?: string;
}

const BASE_OPTIONS = ['name', 'trainable', 'inputShape', 'batchInputShape', 'dtype'];

const counters = new Map<string, number>();
/** Keras-style unique names: conv2d, conv2d_1, ... */
export function autoName(base: string): string {
  const n = counters.get(base) ?? 0;
  counters.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

let trainableVersion = 0;
/** Changes whenever any layer's trainable flag does, so plans know when to recompute what needs gradients. */
export const trainableChanges = () => trainableVersion;

/** The static side of a layer class, as the registry and the file loader use it. */
export interface LayerClass<L extends Layer = Layer> {
  new (args: never): L;
  readonly className: string;
  /** Constructor options besides the common ones (TF.js camelCase names). */
  readonly options: readonly string[];
  /** Options TF.js and Keras write that simdcnn supports at one value only: option -> that value. */
  readonly fixedOptions: Readonly<Record<string, unknown>>;
  fromConfig(config: Record<string, unknown>): Layer;
}

export abstract class Layer {
  static readonly className: string = 'Layer';
  static readonly options: readonly string[] = [];
  static readonly fixedOptions: Readonly<Record<string, unknown>> = {};
  /** Builds the layer from a TF.js camelCase config (what getConfig returns). */
  static fromConfig(this: new (args: never) => Layer, config: Record<string, unknown>): Layer {
    return new this(config as never);
  }

  readonly name: string;
  /** Input shape without the batch axis, when the config gives one. */
  readonly declaredInputShape?: number[];
  /** One node per call of apply(), in call order (TF.js's inboundNodes). */
  readonly inboundNodes: Node[] = [];
  /** Declared by build(); the engine allocates them. */
  weights: WeightSpec[] = [];
  built = false;
  /** The activation applied last: a loss may fuse its gradient with it. */
  readonly activation: ActivationName = 'linear';
  /** Inputs apply() takes: 1, or 'many' (two or more, as merge layers). */
  readonly arity: number | 'many' = 1;
  /**
   * The output can share the input's buffer (reshapes, identities); forward/backward then find x === y.
   * 'inference': only in plans without training (Dropout, which is the identity there).
   */
  readonly aliasesInput: boolean | 'inference' = false;
  /** Which forward tensors backward reads, so the plan can reuse their memory early. */
  readonly backwardReads: { readonly input: boolean; readonly output: boolean } = { input: true, output: true };
  /**
   * Training couples the samples of a batch, and the layer syncs the chunks of a split batch for it
   * (ctx.split), so its pending updates (applyUpdates) are the whole batch's in every chunk. A model with a
   * layer that has updates and does not sync trains unchunked.
   */
  readonly syncsChunks: boolean = false;
  /**
   * io.cache holds only what the layer derives from its weights, stamped with their version, and is written
   * under be.ahead(): the chunks of a split batch share one (their first chunk's).
   */
  readonly sharesCache: boolean = false;
  private _trainable: boolean;
  private builtFor?: string;

  constructor(args: LayerArgs, base: string) {
    this.name = args.name ?? autoName(base);
    if (typeof this.name !== 'string' || !this.name)
      throw new ValueError(`${base}: name must be a non-empty string, received ${JSON.stringify(args.name)}`);
    checkOptions(this.constructor as unknown as LayerClass, args as Record<string, unknown>, this.name);
    this._trainable = args.trainable ?? true;
    if (args.dtype !== undefined && args.dtype !== 'float32')
      throw new ValueError(`${this.name}: dtype '${String(args.dtype)}' is not supported (only float32)`);
    if (args.inputShape !== undefined || args.batchInputShape !== undefined) {
      const s = args.inputShape ?? args.batchInputShape!.slice(1);
      if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isInteger(d) && (d as number) > 0)) {
        throw new ShapeError(
          `${this.name}: inputShape must be an array of positive integers (without the batch axis), received ${JSON.stringify(s)}`,
        );
      }
      this.declaredInputShape = s as number[];
    }
  }

  /** The TF.js class name (Keras's), as saved in model.json. */
  get className(): string {
    return (this.constructor as typeof Layer).className;
  }

  /** False: no gradient for this layer's weights and no optimizer update (fine-tuning). */
  get trainable(): boolean {
    return this._trainable;
  }
  set trainable(v: boolean) {
    if (typeof v !== 'boolean') throw new ValueError(`${this.name}: trainable must be true or false, received ${JSON.stringify(v)}`);
    if (v !== this._trainable) trainableVersion++;
    this._trainable = v;
  }

  /** Output shape (without batch) for these input shapes; throws ShapeError naming the layer if they do not fit. */
  abstract computeOutputShape(inputShapes: number[][]): number[];

  /**
   * Declares the weights for these input shapes (one shape, or a list for merge layers; no batch axis). A
   * built layer accepts only inputs that give the same weights.
   */
  build(inputShape: number[] | number[][]): void {
    const inputShapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as number[][];
    this.computeOutputShape(inputShapes);
    const weights = this.declareWeights(inputShapes);
    const key = JSON.stringify(weights.map((w) => w.shape));
    if (this.built && key !== this.builtFor) {
      throw new ShapeError(
        `${this.name} (${this.className}): its weights were built for input ${formatShape([null, ...this.inputShapes[0]])}; it cannot also take ${formatShape([null, ...inputShapes[0]])}`,
      );
    }
    if (!this.built) {
      this.weights = weights;
      this.builtFor = key;
      this.built = true;
      this.firstShapes = inputShapes.map((s) => s.slice());
    }
  }
  private firstShapes: number[][] = [];

  protected declareWeights(_inputShapes: number[][]): WeightSpec[] {
    return [];
  }
  /** Floats of scratch one call needs (shared by all nodes of a model); `chunk`: in a chunk of a split batch. */
  scratchFloats(_s: NodeShapes, _chunk = false): number {
    return 0;
  }
  /**
   * Floats kept across calls (io.cache) for what the layer derives from its weights (Winograd's transformed
   * filters, Dense's packed kernel) or keeps between a training forward and applyUpdates, valid while ctx.weightsVersion stays the
   * same; `training`: the plan also runs backward; `chunk`: in a chunk of a split batch (see sharesCache).
   */
  cacheFloats(_s: NodeShapes, _training: boolean, _chunk = false): number {
    return 0;
  }
  /**
   * Keras's layer updates: state a training step changes besides the gradients (BatchNormalization's moving
   * statistics). forward(training) leaves them pending in io.cache; the engine calls this once the step is
   * accepted (after the optimizer's update passed the divergence checks), in forward order, so a refused
   * step changes nothing and computeGradients/vjp never do. Returns whether it wrote any weights.
   */
  applyUpdates(_io: NodeIO, _n: number, _ctx: RunContext): boolean {
    return false;
  }
  /**
   * At inference, this layer is 'affine' (a per-channel map over the last axis; foldAffine applies it to the
   * producer's kernel and bias) or only an activation (its name): an inference plan may then fold it into
   * the layer before it, when that layer absorbs() it.
   */
  inferenceFold(): FoldKind | undefined {
    return undefined;
  }
  /**
   * Whether forward honours io.fold of this kind. For 'affine' the layer computes x * kernel + bias over
   * the kernel's last axis (weights [kernel, bias?]), so a per-channel map of its output folds into them.
   */
  absorbs(_kind: FoldKind): boolean {
    return false;
  }
  /**
   * 'affine' layers: kernelOut = kernel [rows, C] with column c scaled as this map scales channel c, and
   * biasOut = the whole map applied to bias (0: zeros), at ctx's weights version.
   */
  foldAffine(_io: NodeIO, _ctx: RunContext, _kernel: number, _kernelOut: number, _rows: number, _bias: number, _biasOut: number): void {
    throw new SimdcnnError(`${this.name}: has no per-channel affine map to fold (internal error)`);
  }
  /** Floats per sample kept from forward to backward (max-pool winners). */
  savedFloatsPerSample(_s: NodeShapes): number {
    return 0;
  }
  /** Why this layer cannot be trained as configured, or undefined. */
  trainingBlocker(): string | undefined {
    return undefined;
  }
  abstract forward(io: NodeIO, n: number, ctx: RunContext): void;
  /** Writes dx[i] where need.dx[i], the weight gradients where need.dw; may overwrite dy. */
  abstract backward(io: NodeIO, n: number, need: Need, ctx: RunContext): void;

  /** TF.js's getConfig: camelCase keys, the values tfjs-layers writes. */
  getConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = { name: this.name, trainable: this.trainable };
    if (this.declaredInputShape) Object.assign(c, { batchInputShape: [null, ...this.declaredInputShape], dtype: 'float32' });
    return c;
  }

  /** Connects the layer to one or several symbolic tensors (from input() or another layer); returns its output. */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    return applyLayer(this, inputs);
  }

  /** The output of the layer's only node (TF.js's layer.output); use getOutputAt for shared layers. */
  get output(): SymbolicTensor {
    return this.onlyNode('output').output;
  }
  get input(): SymbolicTensor | SymbolicTensor[] {
    const ins = this.onlyNode('input').inputs;
    return ins.length === 1 ? ins[0] : ins;
  }
  getOutputAt(nodeIndex: number): SymbolicTensor {
    const node = this.inboundNodes[nodeIndex];
    if (!node) throw new ValueError(`${this.name}: has ${this.inboundNodes.length} node(s), asked for node ${nodeIndex}`);
    return node.output;
  }
  private onlyNode(what: string): Node {
    if (this.inboundNodes.length === 0) throw new ValueError(`${this.name}: not connected yet, so it has no ${what}; apply() it first`);
    if (this.inboundNodes.length > 1)
      throw new ValueError(
        `${this.name}: is used ${this.inboundNodes.length} times, so its ${what} is ambiguous; use getOutputAt(nodeIndex)`,
      );
    return this.inboundNodes[0];
  }

  /** Input shapes of the first node (or of build), without the batch axis. */
  get inputShapes(): number[][] {
    return this.inboundNodes[0]?.inputs.map((t) => t.dims) ?? this.firstShapes;
  }
  /** Input shape without the batch axis (the first input's, for merge layers). */
  get inputShape(): number[] {
    return this.inputShapes[0]?.slice() ?? [];
  }
  get outputShape(): number[] {
    const node = this.inboundNodes[0];
    if (node) return node.output.dims.slice();
    return this.built ? this.computeOutputShape(this.firstShapes) : [];
  }

  countParams(): number {
    return this.weights.reduce((s, w) => s + w.shape.reduce((a, d) => a * d, 1), 0);
  }

  protected expectRank(inputShapes: number[][], rank: number, hint = ''): number[] {
    const s = inputShapes[0];
    if (s.length !== rank) {
      throw new ShapeError(
        `${this.name} (${this.className}): expected input of rank ${rank + 1} ${formatShape([null, ...Array(rank).fill(null)]).replace(/null/g, '?')}, received ${formatShape([null, ...s])}${hint}`,
      );
    }
    return s;
  }
}

/** How option names and values appear in messages: as given, or as a model file wrote them. */
export interface OptionNames {
  key(k: string): string;
  value(k: string, v: unknown): unknown;
  fixed(v: unknown): unknown;
}
const AS_GIVEN: OptionNames = { key: (k) => k, value: (_k, v) => v, fixed: (v) => v };

/** Checks a config against a layer class: every option known, fixed options at their one supported value. */
export function checkOptions(cls: LayerClass, args: Record<string, unknown>, layer: string, names: OptionNames = AS_GIVEN): void {
  for (const [k, v] of Object.entries(args ?? {})) {
    if (v === undefined || v === null) continue;
    if (k in cls.fixedOptions) {
      if (JSON.stringify(v) !== JSON.stringify(cls.fixedOptions[k])) {
        throw new ValueError(
          `${layer} (${cls.className}): option ${names.key(k)}=${quote(names.value(k, v))} is not supported (only ${quote(names.fixed(cls.fixedOptions[k]))})`,
        );
      }
    } else if (!BASE_OPTIONS.includes(k) && !cls.options.includes(k)) {
      throw new ValueError(
        `${layer} (${cls.className}): unknown option '${names.key(k)}' (options: ${[...cls.options].join(', ') || 'none'})`,
      );
    }
  }
}

/** A value as messages quote it: 'tanh', [2,2], null. */
export const quote = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

export function checkPositiveInt(v: unknown, what: string, layer: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValueError(`${layer}: ${what} must be a positive integer, received ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkPadding(p: unknown, layer: string): 'valid' | 'same' {
  const v = p ?? 'valid';
  if (v !== 'valid' && v !== 'same') throw new ValueError(`${layer}: padding ${quote(p)} is not supported (valid, same)`);
  return v;
}

export type DataFormat = 'channelsLast' | 'channelsFirst';

export function checkDataFormat(v: unknown, layer: string): DataFormat {
  const f = v ?? 'channelsLast';
  if (f !== 'channelsLast' && f !== 'channelsFirst')
    throw new ValueError(`${layer}: dataFormat ${quote(v)} is not supported (channelsLast, channelsFirst)`);
  return f;
}

/** The axes of an image batch in this format, as rank errors name them. */
export const imageAxes = (format: DataFormat): string =>
  format === 'channelsLast' ? ' [batch, height, width, channels]' : ' [batch, channels, height, width]';

/**
 * An image of `shape` (no batch axis) as the [images, H, W, C] the NHWC kernels take: channelsFirst
 * [C, H, W] is C one-channel images, since these layers treat every channel alike.
 */
export function asNHWC(shape: number[], format: DataFormat): { images: number; H: number; W: number; C: number } {
  return format === 'channelsLast'
    ? { images: 1, H: shape[0], W: shape[1], C: shape[2] }
    : { images: shape[0], H: shape[1], W: shape[2], C: 1 };
}

/**
 * Where a layer with a fused final activation (conv, dense) has its kernel write, and the activation code
 * for the kernel's epilogue: y with the activation fused; or, training an activation whose derivative reads
 * its input (swish, gelu), the saved buffer (the pre-activation), which finishActivation then maps into y.
 */
export function fusedOutput(act: ActivationName, io: NodeIO, training: boolean): { out: number; flags: number } {
  if (act === 'softmax') return { out: io.y, flags: 0 };
  if (training && gradSource(act) === 'input') return { out: io.saved, flags: 0 };
  return { out: io.y, flags: activationCode(act) << ACT_SHIFT };
}

/** The rest of the final activation after the kernel wrote what fusedOutput said: softmax, or y from the saved pre-activation. */
export function finishActivation(act: ActivationName, io: NodeIO, count: number, classes: number, training: boolean, be: Backend): void {
  if (act === 'softmax') be.k.softmax_forward(io.y, io.y, count / classes, classes);
  else if (training && gradSource(act) === 'input') actForward(be, activationCode(act), io.saved, io.y, count);
}

/** Floats per sample a fused final activation keeps for backward: the pre-activation when its derivative reads it. */
export const fusedSavedFloats = (act: ActivationName, outFloats: number) => (gradSource(act) === 'input' ? outFloats : 0);

/** The derivative of a fused final activation, applied to dy in place (softmax not when the loss fused it). */
export function activationBackward(act: ActivationName, io: NodeIO, count: number, classes: number, be: Backend): void {
  if (io.preActivationGrad || act === 'linear') return;
  if (act === 'softmax') be.k.softmax_backward(io.y, io.dy, io.dy, count / classes, classes);
  else actBackward(be, activationCode(act), gradSource(act) === 'input' ? io.saved : io.y, io.dy, io.dy, count);
}

/** dst = src over n floats; nothing when the plan let them share memory. */
export function copyFloats(be: Backend, dst: number, src: number, n: number): void {
  if (dst !== src) be.copy(dst, src, n);
}
