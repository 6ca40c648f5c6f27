// The loss registry: each loss with the names TF.js and Keras write for it, its options (labelSmoothing,
// fromLogits), what its targets are, the metric it reports, and its kernels. A loss fuses its gradient with
// the model's final activation where it can (crossentropy with softmax, binary crossentropy with sigmoid):
// the trainer then hands the output layer the gradient before that activation. Other losses hand dL/dy to
// the output layer's normal backward.
import type { ActivationName } from '../activations.js';
import type { Backend } from '../backend.js';
import { ValueError } from '../errors.js';

export type LossName =
  'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError' | 'meanAbsoluteError';

/** A loss with options, as compile() takes it: Keras's class name (or the loss name) and camelCase options. */
export interface LossConfig {
  className: string;
  config?: { labelSmoothing?: number; fromLogits?: boolean };
}
/** What compile() takes: a name ('binaryCrossentropy', Keras's 'binary_crossentropy', 'mse') or a LossConfig. */
export type LossLike = LossName | string | LossConfig;

/** Where the batch's targets are: class indices (labels) or a float tensor like the output (targets). */
export interface TargetBuffers {
  labels: number;
  targets: number;
}

interface Kind {
  name: LossName;
  /** Keras's snake_case name first (what tfjs-layers writes), then its class name and short names. */
  aliases: string[];
  /** What y holds: class indices, rows of probabilities, or values shaped like the output. */
  targets: 'indices' | 'probabilities' | 'values';
  /** The activation whose gradient the loss fuses with (the one a model ends in unless fromLogits). */
  fusesWith?: ActivationName;
  /** Whether the model must end in fusesWith (the crossentropies on probabilities), or may end anywhere. */
  requiresFusion: boolean;
  smoothing: boolean;
  logits: boolean;
  /** Accuracy reported in the logs: argmax (categorical), thresholded (binary), none (regression). */
  metric?: 'categorical' | 'binary';
}

const KINDS: Kind[] = [
  {
    name: 'sparseCategoricalCrossentropy',
    aliases: ['sparse_categorical_crossentropy', 'SparseCategoricalCrossentropy'],
    targets: 'indices',
    fusesWith: 'softmax',
    requiresFusion: true,
    smoothing: true,
    logits: true,
    metric: 'categorical',
  },
  {
    name: 'categoricalCrossentropy',
    aliases: ['categorical_crossentropy', 'CategoricalCrossentropy'],
    targets: 'probabilities',
    fusesWith: 'softmax',
    requiresFusion: true,
    smoothing: true,
    logits: true,
    metric: 'categorical',
  },
  {
    name: 'binaryCrossentropy',
    aliases: ['binary_crossentropy', 'BinaryCrossentropy'],
    targets: 'values',
    fusesWith: 'sigmoid',
    requiresFusion: false,
    smoothing: true,
    logits: true,
    metric: 'binary',
  },
  {
    name: 'meanSquaredError',
    aliases: ['mean_squared_error', 'MeanSquaredError', 'mse'],
    targets: 'values',
    requiresFusion: false,
    smoothing: false,
    logits: false,
  },
  {
    name: 'meanAbsoluteError',
    aliases: ['mean_absolute_error', 'MeanAbsoluteError', 'mae'],
    targets: 'values',
    requiresFusion: false,
    smoothing: false,
    logits: false,
  },
];

const BCE_PROBS = 0,
  BCE_SIGMOID = 1,
  BCE_LOGITS = 2;

/** A loss with its options; bind() ties it to the model's final activation. */
export class Loss {
  constructor(
    private readonly kind: Kind,
    readonly labelSmoothing = 0,
    readonly fromLogits = false,
  ) {}
  get name(): LossName {
    return this.kind.name;
  }
  get targets(): Kind['targets'] {
    return this.kind.targets;
  }
  /** Targets must lie in [0, 1] (crossentropies) or only be finite (regression). */
  get probabilityTargets(): boolean {
    return this.kind.name !== 'meanSquaredError' && this.kind.name !== 'meanAbsoluteError';
  }
  get hasAccuracy(): boolean {
    return this.kind.metric !== undefined;
  }

  /** Why a model ending in this activation cannot use the loss, or undefined. */
  refuses(act: ActivationName): string | undefined {
    const k = this.kind;
    if (this.fromLogits && act !== 'linear')
      return `loss '${k.name}' with fromLogits applies ${k.fusesWith} itself, so the model must end in a linear layer; it ends in '${act}'`;
    if (!this.fromLogits && k.requiresFusion && act !== k.fusesWith)
      return `loss '${k.name}' works on probabilities, so the model must end in ${k.fusesWith} (a Softmax layer or activation: '${k.fusesWith}'), or pass fromLogits: true for a linear output`;
    return undefined;
  }
  /** Whether the gradient handed to the output layer is the one before its final activation. */
  fusedWith(act: ActivationName): boolean {
    return !this.fromLogits && this.kind.fusesWith === act;
  }

  /**
   * Sum over n samples of the per-sample loss (Keras's mean over the last axis, and over the rest of a
   * sample for the elementwise losses); writes the gradient of the batch mean into dl unless it is 0, w.r.t.
   * the final activation's input when fused. D = floats per sample, C = the last axis. `weights` (0: none)
   * points to one f32 per sample that scales its loss and gradient (class weights; one row per sample).
   * The gradient is of the mean over `meanOver` samples: n, or the whole batch when these n are a chunk of it.
   */
  lossSum(
    be: Backend,
    out: number,
    t: TargetBuffers,
    weights: number,
    dl: number,
    n: number,
    D: number,
    C: number,
    fused: boolean,
    meanOver = n,
  ): number {
    const k = be.k,
      ls = this.labelSmoothing,
      lg = this.fromLogits ? 1 : 0;
    const all = meanOver * D,
      perSample = D / C;
    switch (this.kind.name) {
      case 'sparseCategoricalCrossentropy':
        return k.softmax_xent_sparse(out, t.labels, weights, dl, n, C, 1 / meanOver, ls, lg);
      case 'categoricalCrossentropy':
        if (weights && perSample !== 1)
          throw new ValueError(`class weights need one row of classes per sample; the output has ${perSample}`);
        return k.softmax_xent_dense(out, t.targets, weights, dl, n * perSample, C, 1 / (meanOver * perSample), ls, lg) / perSample;
      case 'binaryCrossentropy': {
        const mode = this.fromLogits ? BCE_LOGITS : fused ? BCE_SIGMOID : BCE_PROBS;
        return k.bce(out, t.targets, weights, dl, n, D, 1 / all, ls, mode) / C / perSample;
      }
      case 'meanSquaredError':
        return k.mse(out, t.targets, weights, dl, n, D, 1 / all) / D;
      case 'meanAbsoluteError':
        return k.mae(out, t.targets, weights, dl, n, D, 1 / all) / D;
    }
  }

  /** The accuracy's numerator over n samples (matching rows, or matching elements / D for binary), or undefined. */
  correct(be: Backend, out: number, t: TargetBuffers, n: number, D: number, C: number): number | undefined {
    switch (this.kind.metric) {
      case 'categorical':
        return this.kind.targets === 'indices'
          ? be.k.count_correct_sparse(out, t.labels, n, C)
          : be.k.count_correct_dense(out, t.targets, n, C);
      case 'binary':
        return be.k.binary_matches(out, t.targets, n * D, this.fromLogits ? 0 : 0.5) / D;
      default:
        return undefined;
    }
  }

  /** compile()'s form back: the name, or {className, config} when options are set. */
  toConfig(): LossName | LossConfig {
    if (!this.labelSmoothing && !this.fromLogits) return this.kind.name;
    const config: LossConfig['config'] = {};
    if (this.kind.smoothing) config.labelSmoothing = this.labelSmoothing;
    config.fromLogits = this.fromLogits;
    return { className: this.kind.aliases[1], config };
  }
  /** The training config's loss: tfjs-layers' snake_case name (TF.js has no options on compile's losses). */
  get configName(): string {
    return this.kind.aliases[0];
  }
  /** Keras 3's serialised loss with its options, kept beside the plain name so simdcnn reads the options back. */
  kerasConfig(): { class_name: string; config: Record<string, unknown> } | undefined {
    if (!this.labelSmoothing && !this.fromLogits) return undefined;
    const c: Record<string, unknown> = { from_logits: this.fromLogits };
    if (this.kind.smoothing) c.label_smoothing = this.labelSmoothing;
    return { class_name: this.kind.aliases[1], config: c };
  }
}

const kindOf = (name: unknown) => KINDS.find((k) => k.name === name || k.aliases.includes(name as string));
const NAMES = () => KINDS.map((k) => k.name).join(', ');

function options(kind: Kind, c: Record<string, unknown>, where: string): Loss {
  const ls = c.labelSmoothing ?? c.label_smoothing ?? 0,
    fl = c.fromLogits ?? c.from_logits ?? false;
  if (typeof ls !== 'number' || !(ls >= 0 && ls <= 1))
    throw new ValueError(`${where}: ${kind.name} labelSmoothing must be a number in [0, 1], received ${JSON.stringify(ls)}`);
  if (ls !== 0 && !kind.smoothing) throw new ValueError(`${where}: ${kind.name} takes no labelSmoothing`);
  if (typeof fl !== 'boolean')
    throw new ValueError(`${where}: ${kind.name} fromLogits must be true or false, received ${JSON.stringify(fl)}`);
  if (fl && !kind.logits) throw new ValueError(`${where}: ${kind.name} takes no fromLogits`);
  return new Loss(kind, ls, fl);
}

/** A loss from compile()'s argument: a name, or {className, config: {labelSmoothing, fromLogits}}. */
export function getLoss(v: LossLike | Loss, where: string): Loss {
  if (v instanceof Loss) return v;
  if (typeof v === 'string') {
    const k = kindOf(v);
    if (!k) throw new ValueError(`${where}: loss '${v}' is not supported; expected one of ${NAMES()}`);
    return new Loss(k);
  }
  if (v && typeof v === 'object' && typeof v.className === 'string') {
    const k = kindOf(v.className);
    if (!k) throw new ValueError(`${where}: loss '${v.className}' is not supported; expected one of ${NAMES()}`);
    const c = v.config ?? {};
    const known = ['labelSmoothing', 'fromLogits', 'label_smoothing', 'from_logits', 'name', 'reduction', 'axis', 'dtype'];
    const extra = Object.keys(c).filter((x) => !known.includes(x));
    if (extra.length) throw new ValueError(`${where}: ${k.name} has no option ${extra.join(', ')} (options: labelSmoothing, fromLogits)`);
    return options(k, c as Record<string, unknown>, where);
  }
  throw new ValueError(
    `${where}: loss must be a name (${NAMES()}) or {className: 'CategoricalCrossentropy', config: {labelSmoothing, fromLogits}}, received ${JSON.stringify(v)}`,
  );
}

/**
 * The loss a training config describes: tfjs's snake_case name, Keras 3's {class_name, config}, or simdcnn's
 * name plus `loss_config` with the options; undefined if simdcnn cannot run exactly that loss.
 */
export function lossFromConfig(v: unknown, kerasConfig?: unknown): Loss | undefined {
  const obj = (x: unknown): x is { class_name?: unknown; config?: Record<string, unknown> } =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  const full = obj(kerasConfig) ? kerasConfig : obj(v) ? v : undefined;
  const name = full ? full.class_name : v;
  const kind = kindOf(name);
  if (!kind) return undefined;
  const c = full?.config ?? {};
  // Keras options that change the value: a reduction other than the mean over the batch, or an axis other than -1.
  if ((c.reduction ?? 'sum_over_batch_size') !== 'sum_over_batch_size' || (c.axis ?? -1) !== -1 || c.ignore_class != null) return undefined;
  try {
    return options(kind, c, 'training config');
  } catch {
    return undefined;
  }
}
