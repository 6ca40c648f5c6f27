// Sequential: a Model whose layers form a chain. Its graph is made once the input shape is known (the
// first layer's inputShape, or the first data seen): an input, then each layer applied to the previous.
import { ShapeError, StateError, ValueError } from '../errors.js';
import { input } from '../layers/input.js';
import { Layer } from '../layers/layer.js';
import { buildGraph, type Graph } from './graph.js';
import { Model } from './model.js';
import { registerModelClass } from './registry.js';

export class Sequential extends Model {
  static readonly className: string = 'Sequential';
  private readonly chain: Layer[] = [];
  private built?: Graph;

  constructor(layers: Layer[] = [], opts: { seed?: number; name?: string } = {}) {
    super({ ...opts } as never);
    if (!Array.isArray(layers)) throw new ValueError(`${this.name}: expected a list of layers, received ${String(layers)}`);
    for (const l of layers) this.add(l);
  }

  protected get graphIsLazy(): boolean {
    return true;
  }

  add(layer: Layer): void {
    this.alive('add');
    if (this.built) throw new StateError(`${this.name}.add: the model is already built; add layers before fit, predict or summary`);
    if (!(layer instanceof Layer)) throw new ValueError(`${this.name}.add: expected a layer, received ${String(layer)}`);
    if (this.chain.includes(layer)) throw new ValueError(`${this.name}.add: layer '${layer.name}' is already in the model`);
    this.chain.push(layer);
  }

  /** The layers as added (TF.js's Sequential.layers leaves out the input layer). */
  get layers(): Layer[] {
    return this.chain.slice();
  }

  protected inputLayer(): Layer {
    return this.chain[0];
  }

  /** The last layer as added: compile needs no input shape. */
  outputLayer(): Layer {
    if (this.chain.length === 0) throw new StateError(`${this.name}: the model has no layers`);
    return this.chain[this.chain.length - 1];
  }

  protected graph(inputDims?: number[]): Graph {
    if (this.built) return this.built;
    if (this.chain.length === 0) throw new StateError(`${this.name}: the model has no layers`);
    const first = this.chain[0];
    const shape = first.declaredInputShape ?? inputDims;
    if (!shape) throw new StateError(`${this.name}: unknown input shape; give the first layer inputShape, or call fit/predict with data`);
    if (!shape.every((d) => Number.isInteger(d) && d > 0))
      throw new ShapeError(`${this.name}: input shape must be positive integers, received ${JSON.stringify(shape)}`);
    // A failing layer leaves no half-made nodes behind on the layers before it.
    const before = this.chain.map((l) => l.inboundNodes.length);
    try {
      let x = input({ shape, name: `${first.name}_input` });
      const inp = x;
      for (const l of this.chain) x = l.apply(x);
      this.built = buildGraph([inp], [x], this.name);
    } catch (e) {
      this.chain.forEach((l, i) => l.inboundNodes.splice(before[i]));
      throw e;
    }
    this.setGraph(this.built);
    return this.built;
  }
}

registerModelClass(['Sequential'], (d) => new Sequential(d.layers, { name: d.name, seed: d.seed }));
