// Symbolic tensors and nodes: the graph that layer.apply() builds, before any memory exists. A node is
// one call of a layer on its inputs; a model is the nodes between its inputs and outputs.
import { ValueError } from '../errors.js';
import { formatShape } from '../tensor.js';

/** What the graph needs of a layer (every Layer has it; kept as an interface so this file stands alone). */
export interface GraphLayer {
  readonly name: string;
  readonly className: string;
  readonly arity: number | 'many';
  readonly inboundNodes: Node[];
  computeOutputShape(inputShapes: number[][]): number[];
  build(inputShapes: number[][]): void;
}

let nextId = 0;

/** A tensor of the graph: its shape and the node that makes it. Holds no data. */
export class SymbolicTensor {
  /** Shape without the batch axis. */
  readonly dims: number[];
  constructor(
    dims: number[],
    readonly node: Node,
    readonly index = 0,
  ) {
    this.dims = dims.slice();
  }
  /** Shape with the batch axis as null, as TF.js prints it: [null, 28, 28, 1]. */
  get shape(): (number | null)[] {
    return [null, ...this.dims];
  }
  /** The layer that produces this tensor (TF.js's sourceLayer). */
  get sourceLayer(): GraphLayer {
    return this.node.layer;
  }
  get name(): string {
    return `${this.node.layer.name}/${this.node.index}`;
  }
  toString(): string {
    return `SymbolicTensor ${this.name} ${formatShape(this.shape)}`;
  }
}

export class Node {
  /** Creation order over all layers (TF.js orders nodes of equal depth by it). */
  readonly id = nextId++;
  readonly output: SymbolicTensor;
  constructor(
    readonly layer: GraphLayer,
    readonly inputs: SymbolicTensor[],
    outDims: number[],
    readonly index: number,
  ) {
    this.output = new SymbolicTensor(outDims, this);
  }
}

export const isSymbolic = (v: unknown): v is SymbolicTensor => v instanceof SymbolicTensor;

/** layer.apply(): checks the inputs, builds the layer on first use, and records a new node. */
export function applyLayer(layer: GraphLayer, inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
  const list = Array.isArray(inputs) ? inputs : [inputs];
  list.forEach((t, i) => {
    if (!isSymbolic(t)) {
      const what = t && typeof t === 'object' && 'data' in t ? 'a Tensor with data' : String(t);
      throw new ValueError(
        `${layer.name}.apply: input ${i} is ${what}; apply() connects symbolic tensors (from input() or another layer's apply()). To run layers on data, make a model: model({ inputs, outputs }).predict(x)`,
      );
    }
  });
  const want = layer.arity;
  if (want === 'many' ? list.length < 2 : list.length !== want) {
    throw new ValueError(
      `${layer.name} (${layer.className}): expected ${want === 'many' ? 'a list of at least 2' : want} input(s), received ${list.length}`,
    );
  }
  const shapes = list.map((t) => t.dims);
  layer.build(shapes);
  const node = new Node(layer, list, layer.computeOutputShape(shapes), layer.inboundNodes.length);
  layer.inboundNodes.push(node);
  return node.output;
}
