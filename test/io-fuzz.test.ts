// Fuzzed model files: whatever the bytes or the JSON, loadModel either returns a working model or throws
// ModelFormatError, and a refused file leaves no wasm memory allocated. Never a TypeError, a wasm trap or a
// hang. fast-check with fixed seeds, so failures reproduce.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  Conv2D,
  currentBackend,
  Dense,
  Flatten,
  loadModel,
  MaxPool2D,
  type ModelArtifacts,
  ModelFormatError,
  Sequential,
  tensor,
} from '../src/node.js';
import type { ModelFiles } from '../src/io/registry.js';

function net(): Sequential {
  return new Sequential(
    [
      new Conv2D({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1] }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 1 },
  );
}
async function valid(compiled = false): Promise<ModelFiles> {
  const m = net();
  if (compiled) {
    m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(tensor(new Float32Array(50).fill(0.5), [2, 5, 5, 1]), [0, 2]);
  }
  return m.save();
}

const x = tensor(new Float32Array(25).fill(0.25), [1, 5, 5, 1]);
async function outcome(source: ModelFiles | ModelArtifacts | string): Promise<'ok' | 'refused'> {
  const before = currentBackend().allocatedBytes;
  try {
    const m = await loadModel(source);
    try {
      m.predict(x);
    } catch {
      /* a different but valid architecture may want another input */
    }
    m.dispose();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ModelFormatError))
      throw new Error(`expected ModelFormatError, got ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    expect(currentBackend().allocatedBytes, 'a refused file must leave nothing allocated').toBe(before);
    return 'refused';
  }
}

/** Replaces the value at a random path of a JSON tree. */
function mutate(tree: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || tree === null || typeof tree !== 'object') return value;
  const keys = Object.keys(tree as object);
  if (keys.length === 0) return value;
  const k = keys[path[0] % keys.length];
  const copy: Record<string, unknown> = Array.isArray(tree)
    ? ([...tree] as unknown as Record<string, unknown>)
    : { ...(tree as Record<string, unknown>) };
  copy[k] = mutate((tree as Record<string, unknown>)[k], path.slice(1), value);
  return copy;
}

describe('model loader fuzzing', () => {
  it('random weight bytes of random length', async () => {
    const base = await valid();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const r = await outcome({ modelJson: base.modelJson, weights: bytes.slice().buffer });
        expect(r === 'refused' || bytes.length === (base.weights as ArrayBuffer).byteLength).toBe(true);
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  it('one random value replaced anywhere in a valid model.json (with training config and optimizer state)', async () => {
    const base = await valid(true);
    const seen = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 7 }), fc.jsonValue({ maxDepth: 2 }), async (path, value) => {
        seen[
          await outcome({
            modelJson: mutate(base.modelJson, path, value) as ModelFiles['modelJson'],
            weights: base.weights,
            optimizerWeights: base.optimizerWeights,
          })
        ]++;
      }),
      { seed: 2, numRuns: 400 },
    );
    expect(seen.ok).toBeGreaterThan(20); // harmless edits (names, metadata) still load
    expect(seen.refused).toBeGreaterThan(20);
  });

  it('TF.js-style optimizer weights (iter, /m, /v) with one random value replaced', async () => {
    const m = net();
    const files = await m.save();
    const specs = m.weightSpecs();
    const n = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    const data = new Uint8Array((1 + 3 * n) * 4);
    data.set(new Uint8Array(files.weights as ArrayBuffer));
    new DataView(data.buffer).setInt32(n * 4, 3, true);
    const art: ModelArtifacts = {
      modelTopology: files.modelJson.modelTopology,
      weightData: data.buffer,
      weightSpecs: [
        ...files.modelJson.weightsManifest[0].weights,
        { name: 'iter', shape: [], dtype: 'int32', group: 'optimizer' },
        ...['m', 'v'].flatMap((k) => specs.map((s) => ({ name: `${s.name}/${k}`, shape: s.shape, dtype: 'float32', group: 'optimizer' }))),
      ],
      trainingConfig: { loss: 'sparse_categorical_crossentropy', optimizer_config: { class_name: 'Adam', config: { learningRate: 0.01 } } },
    };
    expect(await outcome(art)).toBe('ok');
    const seen = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), async (path, value) => {
        seen[await outcome(mutate(art, path, value) as ModelArtifacts)]++;
      }),
      { seed: 4, numRuns: 300 },
    );
    expect(seen.ok).toBeGreaterThan(20);
    expect(seen.refused).toBeGreaterThan(20);
  });

  it('random JSON documents as model.json', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (doc) => {
        expect(await outcome({ modelJson: doc as unknown as ModelFiles['modelJson'], weights: new ArrayBuffer(0) })).toBe('refused');
      }),
      { seed: 3, numRuns: 200 },
    );
  });

  it('files on disk: random bytes as model.json, weight files cut or grown anywhere', async () => {
    const d = mkdtempSync(join(tmpdir(), 'simdcnn-io-fuzz-'));
    await net().save(d);
    const json = readFileSync(join(d, 'model.json'));
    const bin = join(d, JSON.parse(json.toString()).weightsManifest[0].paths[0]);
    const weights = readFileSync(bin);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (bytes) => {
        writeFileSync(join(d, 'model.json'), bytes);
        expect(await outcome(d)).toBe('refused');
      }),
      { seed: 5, numRuns: 50 },
    );
    writeFileSync(join(d, 'model.json'), json);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: weights.length + 40 }).filter((k) => k !== weights.length),
        async (len) => {
          writeFileSync(
            bin,
            len <= weights.length ? weights.subarray(0, len) : Buffer.concat([weights, Buffer.alloc(len - weights.length, 7)]),
          );
          expect(await outcome(d)).toBe('refused');
        },
      ),
      { seed: 6, numRuns: 50 },
    );
  });
});
