// The activations simdcnn runs, by the names tfjs-layers serialises ('relu6', 'hardSigmoid', ...; files
// hold the snake_case form, 'hard_sigmoid', which the topology reader turns into these), with their kernel
// code (assembly/activation.ts ACT_*) and what their derivative reads. One table for the `activation:`
// option of every layer, the Activation layer, the loss fusion and the conv/dense epilogue.
import type { Backend } from './backend.js';
import { ValueError } from './errors.js';

export type ActivationName =
  'linear' | 'relu' | 'relu6' | 'elu' | 'selu' | 'sigmoid' | 'tanh' | 'softplus' | 'hardSigmoid' | 'swish' | 'gelu' | 'softmax';

/** What the derivative is computed from: the activation's output, its input, or nothing (identity). */
export type GradSource = 'output' | 'input' | 'none';

interface Spec {
  code: number;
  gradFrom: GradSource;
}

/** Keep in step with ACT_* in assembly/activation.ts. */
export const ACT = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  selu: 4,
  sigmoid: 5,
  tanh: 6,
  softplus: 7,
  hardSigmoid: 8,
  swish: 9,
  gelu: 10,
  reluGeneral: 11,
} as const;

const SPECS: Record<ActivationName, Spec> = {
  linear: { code: ACT.linear, gradFrom: 'none' },
  relu: { code: ACT.relu, gradFrom: 'output' },
  relu6: { code: ACT.relu6, gradFrom: 'output' },
  elu: { code: ACT.elu, gradFrom: 'output' },
  selu: { code: ACT.selu, gradFrom: 'output' },
  sigmoid: { code: ACT.sigmoid, gradFrom: 'output' },
  tanh: { code: ACT.tanh, gradFrom: 'output' },
  softplus: { code: ACT.softplus, gradFrom: 'output' },
  hardSigmoid: { code: ACT.hardSigmoid, gradFrom: 'output' },
  swish: { code: ACT.swish, gradFrom: 'input' },
  gelu: { code: ACT.gelu, gradFrom: 'input' },
  // Row-wise over the last axis: its own kernels (softmax_forward/backward), never in the epilogue.
  softmax: { code: -1, gradFrom: 'output' },
};

/** Other spellings users and files use: Keras's snake_case, and Keras 3's 'silu' for swish. */
const ALIASES: Record<string, ActivationName> = { hard_sigmoid: 'hardSigmoid', silu: 'swish' };

export const ACTIVATIONS = Object.keys(SPECS) as ActivationName[];

/** The activation a name means (an alias resolves to the TF.js name), or a ValueError naming the layer. */
export function checkActivation(a: unknown, layer: string): ActivationName {
  const v = a ?? 'linear';
  const name = typeof v === 'string' ? (ALIASES[v] ?? v) : v;
  if (typeof name !== 'string' || !(name in SPECS)) {
    throw new ValueError(
      `${layer}: activation ${typeof v === 'string' ? `'${v}'` : JSON.stringify(v)} is not supported; expected one of ${ACTIVATIONS.join(', ')}`,
    );
  }
  return name as ActivationName;
}

export const activationCode = (a: ActivationName) => SPECS[a].code;
export const gradSource = (a: ActivationName): GradSource => SPECS[a].gradFrom;

/** Parameters of the parameterised kernels (ELU's alpha, the general ReLU's slope/threshold/max). */
export interface ActParams {
  a: number;
  b: number;
  c: number;
}
export const NO_PARAMS: ActParams = { a: 1, b: 0, c: Infinity };

/** y = act(x) elementwise (not softmax). */
export function actForward(be: Backend, code: number, x: number, y: number, n: number, p: ActParams = NO_PARAMS): void {
  if (code === ACT.linear) {
    if (x !== y) be.copy(y, x, n);
    return;
  }
  be.k.act_forward(x, y, n, code, p.a, p.b, p.c);
}

/** dx = dy * act'(src), src being the output or the input as gradSource says (not softmax). */
export function actBackward(be: Backend, code: number, src: number, dy: number, dx: number, n: number, p: ActParams = NO_PARAMS): void {
  if (code === ACT.linear) {
    if (dx !== dy) be.copy(dx, dy, n);
    return;
  }
  be.k.act_backward(src, dy, dx, n, code, p.a, p.b, p.c);
}
