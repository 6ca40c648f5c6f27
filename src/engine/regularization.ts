// The weights' regularizers (TF.js's L1L2 on Conv2D's and Dense's kernel and bias): their penalty joins the
// training loss as TF.js adds it (every regularized weight, frozen ones too), their gradient joins the
// gradients of the trainable weights.
import { isTrainable } from './plan.js';
import type { Runtime } from './runtime.js';

/** The summed penalty of the model's regularized weights; with grads, their gradient added into the gradient block. */
export function regularize(rt: Runtime, grads: boolean): number {
  let penalty = 0;
  for (const e of rt.params.entries) {
    const r = e.spec.regularizer;
    if (!r) continue;
    const g = grads && isTrainable(e) ? rt.gradBlock + e.offset * 4 : 0;
    penalty += rt.be.k.l1l2_penalty(e.ptr, g, e.size, r.l1, r.l2);
  }
  return penalty;
}
