// Inference plans fold chains into one forward: a per-channel affine layer (BatchNormalization at inference)
// into the conv or dense before it, whose kernel and bias are scaled into a planned buffer once per weights
// version (the saved weights never change), and an activation layer into the layer before it (conv and dense
// kernels and BN's normalisation apply ReLU as they write). Folded layers run no step: their outputs share
// the buffer of the layer they folded into. Last in a chain, a 2x2 max pool folds into a convolution that
// pools its output tiles as it finishes them (kernels/conv2d.ts): the unpooled activation is never written.
import type { Fold, Layer, NodeIO, RunContext } from '../layers/layer.js';
import type { Node, SymbolicTensor } from '../layers/symbolic.js';
import { shapeSize } from '../tensor.js';
import { layerOf } from './graph.js';
import { alignFloats } from './plan.js';

/** What folds into one node: the affine node (BN) whose map is scaled in, and the activation applied last. */
export interface FoldPlan {
  affine?: Node;
  activation?: Fold['activation'];
  pool?: boolean;
}

let enabled = true;
/** Turns folding off for plans made from now on (tests and benchmarks compare against the unfolded path). */
export function setInferenceFolding(on: boolean): void {
  enabled = on;
}

/**
 * The folds of an inference plan: for each node, the chain of single consumers it absorbs (an affine layer
 * first, then an activation), and every node so absorbed.
 */
export function planFolds(nodes: Node[], consumers: Map<SymbolicTensor, { node: Node }[]>) {
  const folds = new Map<Node, FoldPlan>(),
    absorbed = new Set<Node>();
  if (!enabled) return { folds, absorbed };
  for (const n of nodes) {
    if (n.inputs.length === 0 || absorbed.has(n)) continue;
    const l = layerOf(n),
      plan: FoldPlan = {};
    for (let t = n.output; ;) {
      const next = consumers.get(t);
      if (next?.length !== 1 || next[0].node.inputs.length !== 1) break;
      const c = next[0].node,
        kind = layerOf(c).inferenceFold();
      if (plan.pool) break;
      if (kind === 'affine' && !plan.affine && !plan.activation && l.absorbs(kind)) plan.affine = c;
      else if (kind === 'maxpool2x2' && l.absorbs(kind)) plan.pool = true;
      else if (kind && kind !== 'affine' && kind !== 'maxpool2x2' && !plan.activation && l.absorbs(kind)) plan.activation = kind;
      else break;
      absorbed.add(c);
      t = c.output;
    }
    if (plan.affine || plan.activation || plan.pool) folds.set(n, plan);
  }
  return { folds, absorbed };
}

const STAMP_FLOATS = 16;

/** Floats of the buffer holding a node's folded kernel and bias (0 when no affine map folds into it). */
export function foldedFloats(n: Node, plan: FoldPlan): number {
  if (!plan.affine) return 0;
  const w = layerOf(n).weights;
  return STAMP_FLOATS + alignFloats(shapeSize(w[0].shape)) + alignFloats(w[0].shape[w[0].shape.length - 1]);
}

/**
 * io.fold for a node, and the work to do before its forward: with an affine map, its kernel and bias are
 * folded into `buffer` whenever the weights version changed since (an int32 stamp of 1 + the version
 * heads the buffer; a zeroed one matches none).
 */
export function bindFold(
  l: Layer,
  io: NodeIO,
  plan: FoldPlan,
  buffer: number,
  affine: { layer: Layer; io: NodeIO } | undefined,
): { fold: Fold; prepare?: (ctx: RunContext) => void } {
  const activation = plan.activation ?? l.activation;
  const own = [io.params[0], l.weights.length > 1 ? io.params[1] : 0];
  if (!affine) return { fold: { params: own, activation, pool: plan.pool } };
  const shape = l.weights[0].shape,
    C = shape[shape.length - 1],
    kernelFloats = shapeSize(shape);
  const kernel = buffer + STAMP_FLOATS * 4,
    bias = kernel + alignFloats(kernelFloats) * 4;
  const prepare = (ctx: RunContext) => {
    const at = buffer / 4;
    if (ctx.be.i32[at] === ctx.weightsVersion + 1) return;
    affine.layer.foldAffine(affine.io, ctx, own[0], kernel, kernelFloats / C, own[1], bias);
    ctx.be.i32[at] = ctx.weightsVersion + 1;
  };
  return { fold: { params: [kernel, bias], activation, pool: plan.pool }, prepare };
}
