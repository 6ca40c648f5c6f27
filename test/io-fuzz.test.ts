// Fuzzed model files: whatever the bytes or the JSON, loadModel either returns a working model or throws
// ModelFormatError. Never a TypeError, a wasm trap or a hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conv2D, Dense, Flatten, loadModel, MaxPool2D, ModelFormatError, Sequential } from '../src/node.js';
import type { ModelFiles } from '../src/io/registry.js';

async function valid(): Promise<ModelFiles> {
  const m = new Sequential([new Conv2D({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1] }), new MaxPool2D({ poolSize: 2 }), new Flatten(), new Dense({ units: 3, activation: 'softmax' })], { seed: 1 });
  return m.save();
}

async function outcome(files: ModelFiles): Promise<'ok' | 'refused'> {
  try {
    const m = await loadModel(files);
    m.dispose();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ModelFormatError)) throw new Error(`expected ModelFormatError, got ${(e as Error).name}: ${(e as Error).message}`);
    return 'refused';
  }
}

/** Replaces the value at a random path of a JSON tree. */
function mutate(tree: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || tree === null || typeof tree !== 'object') return value;
  const keys = Object.keys(tree as object);
  if (keys.length === 0) return value;
  const k = keys[path[0] % keys.length];
  const copy: Record<string, unknown> = Array.isArray(tree) ? ([...tree] as unknown as Record<string, unknown>) : { ...(tree as Record<string, unknown>) };
  copy[k] = mutate((tree as Record<string, unknown>)[k], path.slice(1), value);
  return copy;
}

describe('model loader fuzzing', () => {
  it('random weight bytes of random length', async () => {
    const base = await valid();
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      const r = await outcome({ modelJson: base.modelJson, weights: bytes.slice().buffer });
      expect(r === 'refused' || bytes.length === (base.weights as ArrayBuffer).byteLength).toBe(true);
    }), { seed: 1, numRuns: 300 });
  });
  it('one random value replaced anywhere in a valid model.json', async () => {
    const base = await valid();
    await fc.assert(fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), fc.jsonValue({ maxDepth: 2 }), async (path, value) => {
      await outcome({ modelJson: mutate(base.modelJson, path, value) as ModelFiles['modelJson'], weights: base.weights });
    }), { seed: 2, numRuns: 500 });
  });
  it('random JSON documents as model.json', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (doc) => {
      expect(await outcome({ modelJson: doc as ModelFiles['modelJson'], weights: new ArrayBuffer(0) })).toBe('refused');
    }), { seed: 3, numRuns: 300 });
  });
});
