// Where weights live. The only place that knows the 16-float alignment (also used by arena.ts through
// alignFloats). A model's build puts the weights of all its layers that have none yet in one block, in
// model.layers order, each weight on a 16-float boundary, and initialises them from the model's seed.
// A layer keeps its block when another model uses it (a shared base, a model cut from another), so
// models that share layers share weights; a block is freed when the last model using it is disposed.
// Each model lays out its gradients as one block in the order of its own weights; optimizer state is
// twins of that block, and the optimizer updates the runs of it that are trainable (usually one run).
import type { Backend } from '../backend.js';
import { StateError } from '../errors.js';
import { initialize } from '../initializers.js';
import type { Layer, WeightSpec } from '../layers/layer.js';
import type { Rng } from '../random.js';
import { shapeSize } from '../tensor.js';

export const ALIGN_FLOATS = 16;
export const alignFloats = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

interface Block {
  ptr: number;
  layers: Layer[];
  /** Live models that use it. */
  users: number;
}
const storage = new WeakMap<Layer, { block: Block; ptrs: number[] }>();
const freed = new WeakSet<Layer>();

/** Allocates and initialises (in this order, from rng) the weights of the layers that have none yet. */
export function allocateWeights(be: Backend, layers: Layer[], rng: Rng, what: string): void {
  for (const l of layers) if (freed.has(l)) throw new StateError(`${what}: layer '${l.name}' lost its weights when the last model using it was disposed; make a new layer`);
  const fresh = layers.filter((l) => !storage.has(l) && l.weights.length > 0);
  if (!fresh.length) return;
  let floats = 0;
  const offsets = fresh.map((l) => l.weights.map((w) => { const o = floats; floats += alignFloats(shapeSize(w.shape)); return o; }));
  const ptr = be.alloc(floats * 4, `${what} weights`);
  const block: Block = { ptr, layers: fresh, users: 0 };
  fresh.forEach((l, i) => {
    storage.set(l, { block, ptrs: offsets[i].map((o) => ptr + o * 4) });
    l.weights.forEach((w, j) => {
      const v = new Float32Array(shapeSize(w.shape));
      initialize(v, w.initializer, w.fanIn, w.fanOut, rng);
      be.write(ptr + offsets[i][j] * 4, v);
    });
  });
}

/** Pointers to a built layer's weights, in declaration order. */
export function weightPtrs(layer: Layer): number[] {
  const s = storage.get(layer);
  if (!s) throw new StateError(`layer '${layer.name}' has no weights in memory (its model was disposed or never built)`);
  return s.ptrs;
}

/** One weight of a model. */
export interface ParamEntry {
  layer: Layer;
  spec: WeightSpec;
  /** '<layer>/<weight>', as saved. */
  name: string;
  size: number;
  ptr: number;
  /** Float offset in the model's gradient (and optimizer state) layout. */
  offset: number;
}

/** A stretch of trainable weights that one optimizer call updates. */
export interface Run {
  ptr: number;
  offset: number;
  floats: number;
}

export const isTrainable = (e: ParamEntry) => e.layer.trainable && e.spec.trainable;

/** A model's view of its weights: where each is, and its gradient layout. */
export class ParamLayout {
  readonly entries: ParamEntry[] = [];
  /** Floats of the gradient block (and of each optimizer state block). */
  readonly floats: number;
  private readonly blocks: Set<Block>;

  constructor(layers: Layer[]) {
    let floats = 0;
    for (const layer of layers) {
      layer.weights.forEach((spec, j) => {
        const size = shapeSize(spec.shape);
        this.entries.push({ layer, spec, name: `${layer.name}/${spec.name}`, size, ptr: weightPtrs(layer)[j], offset: floats });
        floats += alignFloats(size);
      });
    }
    this.floats = Math.max(floats, ALIGN_FLOATS);
    this.blocks = new Set(layers.filter((l) => storage.has(l)).map((l) => storage.get(l)!.block));
    for (const b of this.blocks) b.users++;
  }

  /** TF.js's getWeights order: the trainable weights, then the others (frozen layers' weights move to the end). */
  ordered(): ParamEntry[] {
    return [...this.entries.filter(isTrainable), ...this.entries.filter((e) => !isTrainable(e))];
  }

  /** Gradient offsets of a layer's weights. */
  offsetsOf(layer: Layer): number[] {
    return this.entries.filter((e) => e.layer === layer).map((e) => e.offset);
  }

  /** Maximal runs of trainable weights that are contiguous both in memory and in the gradient layout. */
  trainableRuns(): Run[] {
    const runs: Run[] = [];
    let cur: Run | undefined;
    for (const e of this.entries) {
      if (!isTrainable(e)) { cur = undefined; continue; }
      const floats = alignFloats(e.size);
      if (cur && cur.ptr + cur.floats * 4 === e.ptr && cur.offset + cur.floats === e.offset) cur.floats += floats;
      else runs.push((cur = { ptr: e.ptr, offset: e.offset, floats }));
    }
    return runs;
  }

  /** The model using these weights is gone: frees every block no other live model uses. */
  release(be: Backend): void {
    for (const b of this.blocks) {
      if (--b.users > 0) continue;
      be.release(b.ptr);
      for (const l of b.layers) { storage.delete(l); freed.add(l); }
    }
    this.blocks.clear();
  }
}
