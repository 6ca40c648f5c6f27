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
import { type Layer, type WeightSpec, weightStore } from '../layers/layer.js';
import type { Rng } from '../random.js';
import { shapeSize } from '../tensor.js';

export const ALIGN_FLOATS = 16;
export const alignFloats = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

interface Block {
  be: Backend;
  ptr: number;
  layers: Layer[];
  /** Live models that use it. */
  users: number;
}
const storage = new WeakMap<Layer, { block: Block; ptrs: number[] }>();
const freed = new WeakSet<Layer>();

let weightWrites = 0;
/**
 * Changes whenever any weights are written (initialised, setWeights, an update, BN's moving statistics):
 * bounds on |w| kept by models expire, and so do caches derived from weights (a conv's transformed filters,
 * compared at their next use).
 */
export const weightsVersion = () => weightWrites;
export const noteWeightsWritten = () => void weightWrites++;

/**
 * Allocates and initialises (in this order, from rng) the weights of the layers that have none yet; returns
 * a handle that frees exactly that block if the build fails later on.
 */
export function allocateWeights(be: Backend, layers: Layer[], rng: Rng, what: string): { undo(): void } {
  for (const l of layers)
    if (freed.has(l))
      throw new StateError(`${what}: layer '${l.name}' lost its weights when the last model using it was disposed; make a new layer`);
  const fresh = layers.filter((l) => !storage.has(l) && l.weights.length > 0);
  if (!fresh.length) return { undo() {} };
  let floats = 0;
  const offsets = fresh.map((l) =>
    l.weights.map((w) => {
      const o = floats;
      floats += alignFloats(shapeSize(w.shape));
      return o;
    }),
  );
  const ptr = be.alloc(floats * 4, `${what} weights`);
  const block: Block = { be, ptr, layers: fresh, users: 0 };
  fresh.forEach((l, i) => {
    storage.set(l, { block, ptrs: offsets[i].map((o) => ptr + o * 4) });
    l.weights.forEach((w, j) => {
      const v = new Float32Array(shapeSize(w.shape));
      if (w.values) v.set(w.values);
      else initialize(v, w.initializer, w.fanIn, w.fanOut, rng, w.shape, `${l.name}/${w.name}`);
      be.write(ptr + offsets[i][j] * 4, v);
    });
  });
  noteWeightsWritten();
  return {
    undo() {
      be.release(ptr);
      for (const l of fresh) storage.delete(l);
    },
  };
}

// A layer writing its own weights (Normalization.adapt) once they are in memory.
weightStore.write = (layer, values) => {
  const s = storage.get(layer);
  if (!s) return false;
  values.forEach((v, i) => s.block.be.write(s.ptrs[i], v));
  noteWeightsWritten();
  return true;
};

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

export const isTrainable = (e: Omit<ParamEntry, 'ptr'>) => e.layer.trainable && e.spec.trainable;

/**
 * The gradient (and optimizer state) layout of these layers' weights, in layer order, each on a 16-float
 * boundary: pure, so a model can be described (and a file's sizes checked) before anything is allocated.
 */
export function gradientLayout(layers: Layer[]): { entries: Omit<ParamEntry, 'ptr'>[]; floats: number } {
  const entries: Omit<ParamEntry, 'ptr'>[] = [];
  let floats = 0;
  for (const layer of layers) {
    for (const spec of layer.weights) {
      const size = shapeSize(spec.shape);
      entries.push({ layer, spec, name: `${layer.name}/${spec.name}`, size, offset: floats });
      floats += alignFloats(size);
    }
  }
  return { entries, floats: Math.max(floats, ALIGN_FLOATS) };
}

/** TF.js's getWeights order: the trainable weights, then the others (frozen layers' weights move to the end). */
export const tfjsOrder = <E extends Omit<ParamEntry, 'ptr'>>(entries: E[]): E[] => [
  ...entries.filter(isTrainable),
  ...entries.filter((e) => !isTrainable(e)),
];

/** A model's view of its weights: where each is, and its gradient layout. */
export class ParamLayout {
  readonly entries: ParamEntry[];
  /** Floats of the gradient block (and of each optimizer state block). */
  readonly floats: number;
  private readonly blocks: Set<Block>;

  constructor(layers: Layer[]) {
    const g = gradientLayout(layers);
    this.entries = g.entries.map((e) => ({ ...e, ptr: weightPtrs(e.layer)[e.layer.weights.indexOf(e.spec)] }));
    this.floats = g.floats;
    this.blocks = new Set(layers.filter((l) => storage.has(l)).map((l) => storage.get(l)!.block));
    for (const b of this.blocks) b.users++;
  }

  ordered(): ParamEntry[] {
    return tfjsOrder(this.entries);
  }

  /** Bytes of the weight blocks this model uses (a block shared with other models counts for each). */
  weightBytes(be: Backend): number {
    return [...this.blocks].reduce((s, b) => s + (be.sizeOf(b.ptr) ?? 0), 0);
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
      if (!isTrainable(e)) {
        cur = undefined;
        continue;
      }
      const floats = alignFloats(e.size);
      if (cur && cur.ptr + cur.floats * 4 === e.ptr && cur.offset + cur.floats === e.offset) cur.floats += floats;
      else runs.push((cur = { ptr: e.ptr, offset: e.offset, floats }));
    }
    return runs;
  }

  /** A build that failed after this layout was made: forget it without freeing (the build's own undo frees). */
  abandon(): void {
    for (const b of this.blocks) b.users--;
    this.blocks.clear();
  }

  /** The model using these weights is gone: frees every block no other live model uses. */
  release(be: Backend): void {
    for (const b of this.blocks) {
      if (--b.users > 0) continue;
      be.release(b.ptr);
      for (const l of b.layers) {
        storage.delete(l);
        freed.add(l);
      }
    }
    this.blocks.clear();
  }
}
