// Weight regularizers as TF.js has them: one class, L1L2 ({l1, l2}; 'l1l2' gives 0.01 each), whose
// penalty l1 * sum|w| + l2 * sum w^2 joins the training loss and whose gradient l1 * s(w) + 2 l2 w joins
// the weights' gradient (s(w) = w > 0 ? 1 : -1, TF.js's gradient of |w|). Keras's L1 / L2 classes and 'l1' / 'l2' strings read as L1L2 with the other 0.
import { ValueError } from './errors.js';

/** A regularizer as TF.js's getConfig writes it. */
export interface RegularizerConfig {
  className: string;
  config: Record<string, unknown>;
}

/** What layers keep and WeightSpec carries. */
export interface Regularizer {
  l1: number;
  l2: number;
}

const DEFAULT = 0.01;

/** TF.js's tf.regularizers: the configs a layer option takes. */
export const regularizers = {
  l1: (args?: { l1?: number }): RegularizerConfig => ({ className: 'L1L2', config: { l1: args?.l1 ?? DEFAULT, l2: 0 } }),
  l2: (args?: { l2?: number }): RegularizerConfig => ({ className: 'L1L2', config: { l1: 0, l2: args?.l2 ?? DEFAULT } }),
  l1l2: (args?: { l1?: number; l2?: number }): RegularizerConfig => ({
    className: 'L1L2',
    config: { l1: args?.l1 ?? DEFAULT, l2: args?.l2 ?? DEFAULT },
  }),
};

function rate(v: unknown, what: string, where: string): number {
  const r = v ?? DEFAULT;
  if (typeof r !== 'number' || !Number.isFinite(r) || r < 0)
    throw new ValueError(`${where}: ${what} must be a finite number >= 0, received ${JSON.stringify(v)}`);
  return r;
}

/** A layer option ('l1l2', 'l1', 'l2', {className: 'L1L2' | 'L1' | 'L2', config}) -> the rates, or null. */
export function checkRegularizer(v: unknown, layer: string, option: string): Regularizer | null {
  const where = `${layer}: ${option}`;
  if (v === undefined || v === null) return null;
  const name = typeof v === 'string' ? v : typeof v === 'object' ? (v as RegularizerConfig).className : undefined;
  const c = (typeof v === 'object' ? ((v as RegularizerConfig).config ?? {}) : {}) as Record<string, unknown>;
  switch (name) {
    case 'l1l2':
    case 'L1L2':
      return { l1: rate(c.l1, 'l1', where), l2: rate(c.l2, 'l2', where) };
    case 'l1':
    case 'L1':
      return { l1: rate(c.l1, 'l1', where), l2: 0 };
    case 'l2':
    case 'L2':
      return { l1: 0, l2: rate(c.l2, 'l2', where) };
    default:
      throw new ValueError(
        `${where} must be 'l1l2', 'l1', 'l2' or {className: 'L1L2', config: {l1, l2}} (tf.regularizers), received ${JSON.stringify(v)}`,
      );
  }
}

/** The TF.js config of a regularizer (null for none). */
export const regularizerConfig = (r: Regularizer | null): RegularizerConfig | null =>
  r ? { className: 'L1L2', config: { l1: r.l1, l2: r.l2 } } : null;
