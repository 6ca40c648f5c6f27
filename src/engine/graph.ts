// The nodes between a model's inputs and outputs: their execution order, and the layers in TF.js's
// order (by depth from the outputs, deepest first; ties in the order a walk back from the outputs met
// them), which is the order of model.layers, getWeights and model.json.
import { ValueError } from '../errors.js';
import type { Layer } from '../layers/layer.js';
import type { Node, SymbolicTensor } from '../layers/symbolic.js';

export interface Graph {
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
  /** Every node of the model in a topological order (inputs' nodes first). */
  nodes: Node[];
  /** In TF.js's order. */
  layers: Layer[];
  /** Nodes grouped by depth, deepest first (TF.js's nodesByDepth, for summary()). */
  nodesByDepth: Node[][];
}

export const layerOf = (n: Node) => n.layer as Layer;

export function buildGraph(inputs: SymbolicTensor[], outputs: SymbolicTensor[], model: string): Graph {
  const inputNodes = new Set(
    inputs.map((t, i) => {
      if (t.node.inputs.length !== 0)
        throw new ValueError(`${model}: input ${i} comes from layer '${t.node.layer.name}'; model inputs must come from input({ shape })`);
      return t.node;
    }),
  );
  if (inputNodes.size !== inputs.length) throw new ValueError(`${model}: an input is listed twice`);
  // Depth-first from the outputs: post-order is a topological order; first visits order equal depths.
  const order: Node[] = [];
  const firstSeen = new Map<Layer, number>();
  const state = new Map<Node, 'open' | 'done'>();
  const visit = (node: Node) => {
    const s = state.get(node);
    if (s === 'done') return;
    if (s === 'open') throw new ValueError(`${model}: layer '${node.layer.name}' is part of a cycle`);
    state.set(node, 'open');
    if (!firstSeen.has(layerOf(node))) firstSeen.set(layerOf(node), firstSeen.size);
    if (node.inputs.length === 0 && !inputNodes.has(node)) {
      throw new ValueError(
        `${model}: the graph is disconnected: '${node.layer.name}' is an input the model was not given (inputs: ${inputs.map((t) => t.node.layer.name).join(', ')})`,
      );
    }
    for (const t of node.inputs) visit(t.node);
    state.set(node, 'done');
    order.push(node);
  };
  for (const t of outputs) visit(t.node);
  for (const n of inputNodes) if (!state.has(n)) throw new ValueError(`${model}: input '${n.layer.name}' does not lead to any output`);

  // Depths as TF.js assigns them: outputs 0, each input one deeper than its deepest consumer.
  const nodeDepth = new Map<Node, number>();
  const layerDepth = new Map<Layer, number>();
  for (const node of [...order].reverse()) {
    const depth = Math.max(nodeDepth.get(node) ?? 0, layerDepth.get(layerOf(node)) ?? 0);
    nodeDepth.set(node, depth);
    layerDepth.set(layerOf(node), depth);
    for (const t of node.inputs) nodeDepth.set(t.node, Math.max(depth + 1, nodeDepth.get(t.node) ?? 0));
  }
  const layers = [...layerDepth.keys()].sort((a, b) => layerDepth.get(b)! - layerDepth.get(a)! || firstSeen.get(a)! - firstSeen.get(b)!);
  const names = new Set<string>();
  for (const l of layers) {
    if (names.has(l.name))
      throw new ValueError(`${model}: two layers are named '${l.name}'; layer names must be unique in a model (weights are saved by name)`);
    names.add(l.name);
  }
  const depths = [...new Set(nodeDepth.values())].sort((a, b) => b - a);
  const nodesByDepth = depths.map((d) => order.filter((n) => nodeDepth.get(n) === d).sort((a, b) => a.id - b.id));
  return { inputs, outputs, nodes: order, layers, nodesByDepth };
}
