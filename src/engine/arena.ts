// The activation arena: every tensor a batch needs (activations, their gradients, state kept for
// backward, scratch, labels) placed in one block by liveness. Steps: forward of node k at k, the loss at
// K, backward of node k at 2K - k. A buffer lives from its first writer to its last reader; buffers whose
// lifetimes do not overlap share memory (greedy by size, the usual offset planner). A gradient that
// several consumers feed is accumulated: the first writer overwrites it, later ones write a temporary
// that is added in. Reshapes share their input's buffer. Inference plans hold no gradients or saved state.
// A staging plan holds only a batch's inputs and targets: a batch trained in chunks (src/threads/) runs in
// the chunks' own arenas, and a whole training arena beside them would double the activation memory.
import type { Layer, Need, NodeIO, RunContext } from '../layers/layer.js';
import type { Node, SymbolicTensor } from '../layers/symbolic.js';
import { shapeSize } from '../tensor.js';
import { bindFold, foldedFloats, planFolds } from './fold.js';
import { type Graph, layerOf } from './graph.js';
import { alignFloats, type ParamLayout, weightPtrs } from './plan.js';

export interface ArenaMode {
  /** Plan gradients and backward state. */
  training: boolean;
  /** Also the gradient of the model's input (vjp). */
  inputGrad: boolean;
  /** Only the input, labels and targets (no steps): a training batch that runs in chunks. */
  staging?: boolean;
  /**
   * A chunk of a split batch: the first plans the caches the chunks share (Layer.sharesCache), the others
   * none of those (src/threads/chunked.ts points them at the first's).
   */
  chunk?: 'first' | 'other';
}

/** One node's work: its buffers, what its backward must produce, and the sums after it. */
export interface Step {
  layer: Layer;
  io: NodeIO;
  need: Need;
  runsBackward: boolean;
  /** dst += src after this node's backward (floats per sample when perSample). */
  adds: { dst: number; src: number; floats: number; perSample: boolean }[];
  /** Before forward: a folded kernel and bias brought up to the weights version (engine/fold.ts). */
  prepare?: (ctx: RunContext) => void;
}

export interface Arena {
  capacity: number;
  mode: ArenaMode;
  bytes: number;
  steps: Step[];
  input: number;
  output: number;
  /** Gradient of the output (the loss writes it), 0 when nothing needs gradients. */
  outputGrad: number;
  inputGrad: number;
  /** int32 class indices, capacity of them. */
  labels: number;
  /** float targets [capacity, output size]. */
  targets: number;
}

interface Buf {
  floats: number;
  start: number;
  end: number;
  offset: number;
}

const buf = (floats: number, start: number, end: number): Buf => ({ floats: alignFloats(Math.max(floats, 1)), start, end, offset: 0 });
const extend = (b: Buf, start: number, end: number) => {
  b.start = Math.min(b.start, start);
  b.end = Math.max(b.end, end);
};

/** Lowest offsets such that buffers alive at the same step never overlap; returns the total floats. */
function place(bufs: Buf[]): number {
  const placed: Buf[] = [];
  let total = 0;
  for (const b of [...bufs].sort((a, c) => c.floats - a.floats || a.start - c.start)) {
    let offset = 0;
    for (const p of placed.filter((q) => q.start <= b.end && b.start <= q.end).sort((a, c) => a.offset - c.offset)) {
      if (p.offset - offset >= b.floats) break;
      offset = Math.max(offset, p.offset + p.floats);
    }
    b.offset = offset;
    placed.push(b);
    total = Math.max(total, offset + b.floats);
  }
  return total;
}

/** Computes the plan for batches of up to `capacity`; `bind` places it at a block of `bytes`. */
export function planArena(graph: Graph, params: ParamLayout | undefined, capacity: number, mode: ArenaMode) {
  if (mode.staging) return planStaging(graph, capacity, mode);
  const nodes = graph.nodes,
    K = nodes.length;
  const step = new Map<Node, number>(nodes.map((n, k) => [n, k]));
  const back = (n: Node) => 2 * K - step.get(n)!;
  const input = graph.inputs[0],
    output = graph.outputs[0];
  const consumers = new Map<SymbolicTensor, { node: Node; slot: number }[]>();
  for (const n of nodes)
    n.inputs.forEach((t, slot) => {
      if (!consumers.has(t)) consumers.set(t, []);
      consumers.get(t)!.push({ node: n, slot });
    });

  // What needs gradients: a layer's weights when it trains, a tensor when anything upstream trains.
  const dw = new Map<Node, boolean>(),
    needsGrad = new Map<SymbolicTensor, boolean>();
  for (const n of nodes) {
    const l = layerOf(n);
    dw.set(n, mode.training && l.trainable && l.weights.some((w) => w.trainable));
    needsGrad.set(n.output, n.inputs.length === 0 ? mode.training && mode.inputGrad : dw.get(n)! || n.inputs.some((t) => needsGrad.get(t)));
  }
  const aliases = (l: Layer) => l.aliasesInput === true || (l.aliasesInput === 'inference' && !mode.training);
  const { folds, absorbed } = planFolds(mode.training ? [] : nodes, consumers);
  const runsBackward = (n: Node) => mode.training && n.inputs.length > 0 && (dw.get(n)! || n.inputs.some((t) => needsGrad.get(t)));

  const bufs: Buf[] = [];
  const add = (b: Buf) => (bufs.push(b), b);
  // Forward values.
  const value = new Map<SymbolicTensor, Buf>();
  for (const n of nodes) {
    const t = n.output,
      k = step.get(n)!,
      l = layerOf(n);
    let end = t === output ? K : k;
    for (const c of consumers.get(t) ?? []) {
      end = Math.max(end, step.get(c.node)!);
      if (runsBackward(c.node) && layerOf(c.node).backwardReads.input) end = Math.max(end, back(c.node));
    }
    if (runsBackward(n) && l.backwardReads.output) end = Math.max(end, back(n));
    const start = n.inputs.length === 0 ? -1 : k;
    if ((aliases(l) || absorbed.has(n)) && n.inputs.length === 1) {
      const shared = value.get(n.inputs[0])!;
      extend(shared, start, end);
      value.set(t, shared);
    } else value.set(t, add(buf(capacity * shapeSize(t.dims), start, end)));
  }
  // Gradients: each tensor's buffer from its first writer to its producer's backward.
  const grad = new Map<SymbolicTensor, Buf>();
  const temps = new Map<string, Buf>();
  for (const n of [...nodes].reverse()) {
    const t = n.output;
    if (!needsGrad.get(t)) continue;
    const writers = (consumers.get(t) ?? []).sort((a, b) => back(a.node) - back(b.node) || a.slot - b.slot);
    const end = t === input ? 2 * K + 1 : back(n);
    const only = writers.length === 1 ? writers[0] : undefined;
    const aliased = only && aliases(layerOf(only.node)) && grad.get(only.node.output);
    if (aliased) {
      extend(aliased, back(only.node), end);
      grad.set(t, aliased);
      continue;
    }
    const start = t === output ? K : back(writers[0].node);
    grad.set(t, add(buf(capacity * shapeSize(t.dims), start, end)));
    writers
      .slice(1)
      .forEach((w) => temps.set(`${w.node.id}:${w.slot}`, add(buf(capacity * shapeSize(t.dims), back(w.node), back(w.node)))));
  }
  // Weight gradients of a layer used by several nodes: the first in backward order writes the gradient block.
  const weightTemps = new Map<Node, Buf>();
  const firstWriter = new Map<Layer, Node>();
  for (const n of [...nodes].reverse()) {
    if (!dw.get(n)) continue;
    if (!firstWriter.has(layerOf(n))) {
      firstWriter.set(layerOf(n), n);
      continue;
    }
    weightTemps.set(
      n,
      add(
        buf(
          layerOf(n).weights.reduce((s, w) => s + alignFloats(shapeSize(w.shape)), 0),
          back(n),
          back(n),
        ),
      ),
    );
  }
  // State kept from forward to backward, and what lives throughout.
  const always = (floats: number) => add(buf(floats, -1, 2 * K + 1));
  const saved = new Map<Node, Buf>(),
    caches = new Map<Node, Buf>();
  let scratchFloats = 0;
  for (const n of nodes) {
    if (n.inputs.length === 0) continue;
    const l = layerOf(n),
      shapes = { in: n.inputs.map((t) => t.dims), out: n.output.dims };
    scratchFloats = Math.max(scratchFloats, l.scratchFloats(shapes, mode.chunk !== undefined));
    const s = l.savedFloatsPerSample(shapes);
    if (s > 0 && runsBackward(n)) saved.set(n, add(buf(capacity * s, step.get(n)!, back(n))));
    const c = mode.chunk === 'other' && l.sharesCache ? 0 : l.cacheFloats(shapes, mode.training, mode.chunk !== undefined);
    if (c > 0) caches.set(n, always(c));
  }
  const folded = new Map<Node, Buf>();
  for (const [n, plan] of folds) if (plan.affine) folded.set(n, always(foldedFloats(n, plan)));
  const scratch = always(scratchFloats),
    labels = always(capacity),
    targets = always(capacity * shapeSize(output.dims));
  const bytes = place(bufs) * 4;

  /** The plan with absolute pointers, for an arena block at `base`. */
  function bind(base: number, gradBlock: number): Arena {
    const p = (b: Buf | undefined) => (b ? base + b.offset * 4 : 0);
    const steps = new Map<Node, Step>();
    for (const n of nodes) {
      if (n.inputs.length === 0) continue;
      const l = layerOf(n),
        need: Need = { dx: n.inputs.map((t) => !!needsGrad.get(t)), dw: dw.get(n)! };
      const adds: Step['adds'] = [];
      const dx = n.inputs.map((t, slot) => {
        if (!need.dx[slot]) return 0;
        const temp = temps.get(`${n.id}:${slot}`);
        if (temp) adds.push({ dst: p(grad.get(t)), src: p(temp), floats: shapeSize(t.dims), perSample: true });
        return temp ? p(temp) : p(grad.get(t));
      });
      let grads: number[] = [];
      if (need.dw && params) {
        const offsets = params.offsetsOf(l),
          temp = weightTemps.get(n);
        let at = 0;
        grads = offsets.map((o, j) => {
          const size = shapeSize(l.weights[j].shape);
          if (!temp) return gradBlock + o * 4;
          const src = p(temp) + at * 4;
          at += alignFloats(size);
          adds.push({ dst: gradBlock + o * 4, src, floats: size, perSample: false });
          return src;
        });
      }
      const io: NodeIO = {
        x: n.inputs.map((t) => p(value.get(t))),
        y: p(value.get(n.output)),
        dx,
        dy: p(grad.get(n.output)),
        saved: p(saved.get(n)),
        params: l.weights.length ? weightPtrs(l) : [],
        grads,
        scratch: p(scratch),
        cache: p(caches.get(n)),
        shapes: { in: n.inputs.map((t) => t.dims), out: n.output.dims },
        preActivationGrad: false,
      };
      steps.set(n, { layer: l, io, need, runsBackward: runsBackward(n), adds });
    }
    for (const [n, plan] of folds) {
      const s = steps.get(n)!,
        affine = plan.affine && steps.get(plan.affine)!;
      const f = bindFold(s.layer, s.io, plan, p(folded.get(n)), affine);
      s.io.fold = f.fold;
      s.prepare = f.prepare;
    }
    return {
      capacity,
      mode,
      bytes,
      steps: [...steps].filter(([n]) => !absorbed.has(n)).map(([, s]) => s),
      input: p(value.get(input)),
      output: p(value.get(output)),
      outputGrad: p(grad.get(output)),
      inputGrad: p(grad.get(input)),
      labels: p(labels),
      targets: p(targets),
    };
  }
  return { bytes, bind };
}

function planStaging(graph: Graph, capacity: number, mode: ArenaMode) {
  const input = alignFloats(capacity * shapeSize(graph.inputs[0].dims)),
    labels = alignFloats(capacity),
    targets = alignFloats(capacity * shapeSize(graph.outputs[0].dims));
  const bytes = (input + labels + targets) * 4;
  const bind = (base: number): Arena => ({
    capacity,
    mode,
    bytes,
    steps: [],
    input: base,
    output: 0,
    outputGrad: 0,
    inputGrad: 0,
    labels: base + input * 4,
    targets: base + (input + labels) * 4,
  });
  return { bytes, bind };
}
