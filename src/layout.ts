// Where a model's tensors go in wasm memory: pure placement maths, in floats, shared by the model (which
// allocates the blocks) and the loader (which checks saved optimizer state against the same layout).
import type { Layer } from './layers/layer.js';
import { shapeSize } from './tensor.js';

/** Every tensor starts on a 16-float (64-byte) boundary, so v128 loads stay aligned. */
const ALIGN_FLOATS = 16;
const alignF = (n: number) => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;

/**
 * The parameter block's layout for weights of these shapes (getWeights order). Gradients and every
 * optimizer state block share it, and so does the saved optimizer state.
 */
export function parameterLayout(shapes: readonly (readonly number[])[]): { offsets: number[]; floats: number } {
  let total = 0;
  const offsets = shapes.map((s) => { const o = total; total += alignF(shapeSize(s)); return o; });
  return { offsets, floats: Math.max(total, ALIGN_FLOATS) };
}

/** Where each tensor of a batch of `capacity` samples sits in the activation block (float offsets). */
export interface Layout {
  capacity: number;
  bytes: number;
  act: number[];
  grad: number[];
  extra: number[];
  scratch: number;
  scratchFloats: number;
  labels: number;
  targets: number;
}

/** Activations and their gradients of built layers for batches of up to `capacity` samples (reshapes alias their input). */
export function activationLayout(layers: readonly Layer[], capacity: number): Layout {
  const L = layers.length;
  const sizes = [shapeSize(layers[0].inputShape), ...layers.map((l) => shapeSize(l.outputShape))];
  let off = 0;
  const take = (floats: number) => { const o = off; off += alignF(floats); return o; };
  const act: number[] = [take(capacity * sizes[0])];
  const grad: number[] = [take(capacity * sizes[0])];
  const extra: number[] = [];
  let scratchFloats = 0;
  for (let i = 0; i < L; i++) {
    const l = layers[i];
    act.push(l.aliasesInput ? act[i] : take(capacity * sizes[i + 1]));
    grad.push(l.aliasesInput ? grad[i] : take(capacity * sizes[i + 1]));
    extra.push(take((capacity * l.extraBytesPerSample()) / 4));
    scratchFloats = Math.max(scratchFloats, l.scratchFloats());
  }
  const scratch = take(scratchFloats);
  const labels = take(capacity);
  const targets = take(capacity * sizes[L]);
  return { capacity, bytes: off * 4, act, grad, extra, scratch, scratchFloats, labels, targets };
}
