// examples/finetune-tfjs.ts's core, small and fast: a MobileNet-style net built and saved by TF.js (tfjs-layers
// 4.22, cpu backend) is loaded, frozen, cut at its pooled features, given a new head and trained.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { colouredShapes, cutAndHead, pretrain, saveTfjsFiles, tfjsMobileNet } from '../examples/finetune-tfjs.js';
import { Adam, loadModel } from '../src/node.js';
import { maxDiff, tf, tfPredict, toTfjs } from './tfjs-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'simdcnn-finetune-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/finetune-tfjs.ts', () => {
  it('TF.js MobileNet-style [32,32,3] (dw/separable + BN + ReLU6, GAP) -> files -> simdcnn: same predictions; frozen base cut at GAP [64] + Dense(4) trains, base bit-unchanged', async () => {
    await tf.setBackend('cpu');
    const theirs = tfjsMobileNet(0);
    await pretrain(theirs, 96, 1);
    await saveTfjsFiles(theirs, join(dir, 'pretrained'));
    const base = await loadModel(join(dir, 'pretrained'));
    expect(base.layers.map((l) => l.className)).toEqual(
      expect.arrayContaining(['DepthwiseConv2D', 'SeparableConv2D', 'BatchNormalization', 'ReLU', 'GlobalAveragePooling2D']),
    );

    // Predictions at batch 5 agree with TF.js's on the same files.
    const probe = colouredShapes(5, 3).x;
    expect(maxDiff(base.predict(probe).data, tfPredict(theirs, probe))).toBeLessThan(1e-5);

    // Pretraining left real moving statistics (not the initial 0 and 1) to freeze.
    const specs = base.weightSpecs().map((s) => s.name);
    const movingVar = base.getWeights()[specs.indexOf('b3_sep_bn/moving_variance')];
    expect(Math.max(...movingVar.map((v) => Math.abs(v - 1)))).toBeGreaterThan(0.05);

    const tuned = cutAndHead(base, 4, 0);
    expect(tuned.outputs[0].shape).toEqual([null, 4]);
    const names = tuned.weightSpecs().map((s) => s.name);
    expect(
      tuned
        .weightSpecs()
        .filter((s) => s.trainable)
        .map((s) => s.name),
    ).toEqual(['colour/kernel', 'colour/bias']);
    const before = tuned.getWeights().map((w) => Float32Array.from(w));
    const { x, y } = colouredShapes(96, 21);
    tuned.compile({ optimizer: new Adam({ learningRate: 0.03 }), loss: 'sparseCategoricalCrossentropy' });
    const h = await tuned.fit(x, y, { epochs: 3, batchSize: 16, seed: 0 });
    expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
    const after = tuned.getWeights();
    names.forEach((name, i) => {
      const frozen = !name.startsWith('colour/');
      const same = after[i].every((v, j) => Object.is(v, before[i][j]));
      expect({ name, unchanged: same }).toEqual({ name, unchanged: frozen });
    });
    expect(names.filter((n) => n.includes('moving_')).length).toBe(10);

    // The fine-tuned model saves as TF.js files TF.js loads and predicts the same from.
    const saved = await tuned.save();
    const back = await toTfjs(saved);
    expect(maxDiff(tuned.predict(probe).data, tfPredict(back, probe))).toBeLessThan(1e-5);
    tuned.dispose();
  }, 60_000);
});
