// The loss registry: each loss with the names TF.js and Keras write for it, the activation it fuses with
// (the trainer hands the output layer the gradient before that activation), and its kernels.
import type { Backend } from '../backend.js';
import { ValueError } from '../errors.js';
import type { ActivationName } from '../layers/layer.js';

export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy';

/** Where the batch's targets are: class indices (labels) or rows of probabilities (targets). */
export interface TargetBuffers {
  labels: number;
  targets: number;
}

export interface Loss {
  name: LossName;
  /** Other spellings in model files: Keras's snake_case and class names. */
  aliases: string[];
  /** The final activation the loss needs and fuses with. */
  fusesWith: ActivationName;
  /** What y holds: class indices, or a [N, classes] tensor of probabilities. */
  targets: 'indices' | 'probabilities';
  /**
   * Sum of the loss over n rows of C; writes d(mean loss)/d(pre-activation) into dlogits unless it is 0.
   * `weights` (0: none) points to one f32 per row that scales that row's loss and gradient (class weights).
   */
  lossSum(be: Backend, out: number, t: TargetBuffers, weights: number, dlogits: number, n: number, C: number): number;
  /** Rows whose largest output is the target's. */
  correct(be: Backend, out: number, t: TargetBuffers, n: number, C: number): number;
}

const LOSSES: Loss[] = [
  {
    name: 'sparseCategoricalCrossentropy',
    aliases: ['sparse_categorical_crossentropy', 'SparseCategoricalCrossentropy'],
    fusesWith: 'softmax',
    targets: 'indices',
    lossSum: (be, out, t, w, dl, n, C) => be.k.softmax_xent_sparse(out, t.labels, w, dl, n, C, 1 / n),
    correct: (be, out, t, n, C) => be.k.count_correct_sparse(out, t.labels, n, C),
  },
  {
    name: 'categoricalCrossentropy',
    aliases: ['categorical_crossentropy', 'CategoricalCrossentropy'],
    fusesWith: 'softmax',
    targets: 'probabilities',
    lossSum: (be, out, t, w, dl, n, C) => be.k.softmax_xent_dense(out, t.targets, w, dl, n, C, 1 / n),
    correct: (be, out, t, n, C) => be.k.count_correct_dense(out, t.targets, n, C),
  },
];

export function getLoss(name: string, where: string): Loss {
  const l = LOSSES.find((x) => x.name === name);
  if (!l) throw new ValueError(`${where}: loss '${name}' is not supported; expected one of ${LOSSES.map((x) => x.name).join(', ')}`);
  return l;
}

/** A loss as a training config writes it ('sparse_categorical_crossentropy', or Keras 3's {class_name, config}); undefined if unsupported. */
export function lossFromConfig(v: unknown): Loss | undefined {
  let name = v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as { class_name?: unknown; config?: Record<string, unknown> };
    const c = o.config ?? {};
    if (c.from_logits === true || (c.label_smoothing ?? 0) !== 0) return undefined;
    name = o.class_name;
  }
  return LOSSES.find((l) => l.name === name || l.aliases.includes(name as string));
}

/** The name a training config gets (tfjs-layers writes the snake_case form). */
export const lossConfigName = (l: Loss) => l.aliases[0];
