// Callbacks: EarlyStopping against TF.js's own (same logs, same stopping epochs) and restoreBestWeights
// (stopped early or not), ReduceLROnPlateau's Keras trace, ModelCheckpoint saving the best model (the file
// holds that epoch's weights), TerminateOnNaN, the CSV/JSON loggers, a list of callbacks in fit and
// fitDataset, and the history holding every log of every epoch.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  CSVLogger,
  data,
  Dense,
  EarlyStopping,
  Flatten,
  JSONLogger,
  loadModel,
  type Logs,
  ModelCheckpoint,
  ReduceLROnPlateau,
  Sequential,
  SGD,
  tensor,
  TerminateOnNaN,
} from '../src/node.js';
import { formatPath } from '../src/callbacks/checkpoint.js';
import { Rng } from '../src/random.js';
import { tf } from './tfjs-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'simdcnn-callbacks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Rng(4);
const X = tensor(
  Float32Array.from({ length: 12 * 5 * 3 }, () => rng.uniform() * 2 - 1),
  [12, 5, 3, 1],
);
const Y = Int32Array.from({ length: 12 }, (_, i) => i % 3);
function net() {
  const m = new Sequential([new Flatten({ inputShape: [5, 3, 1] }), new Dense({ units: 3, activation: 'softmax' })], { seed: 7 });
  m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
  return m;
}
/** A callback that replaces val_loss by the scripted value of each epoch (listed before the callback under test). */
const script = (values: number[], key = 'val_loss') => ({
  onEpochEnd: (e: number, logs: Logs) => {
    logs[key] = values[e];
  },
});
describe('EarlyStopping', () => {
  const runs: [string, Record<string, unknown>, number[]][] = [
    ['patience 0', {}, [1, 0.9, 0.95, 0.8, 0.7]],
    ['patience 2', { patience: 2 }, [1, 0.9, 0.95, 0.92, 0.91, 0.5]],
    ['minDelta 0.05', { minDelta: 0.05, patience: 1 }, [1, 0.97, 0.9, 0.88, 0.87, 0.86]],
    ['mode max on val_acc', { monitor: 'val_acc', patience: 1 }, [0.1, 0.3, 0.2, 0.25, 0.4]],
    ['baseline 0.5 never beaten', { baseline: 0.5, patience: 2 }, [1, 0.9, 0.8, 0.7, 0.6]],
    ['baseline 0.95 beaten at once', { baseline: 0.95, patience: 1 }, [0.9, 0.92, 0.93, 0.8]],
  ];
  for (const [name, args, values] of runs) {
    it(`${name}: stops at the same epoch as TF.js's EarlyStopping on the same logs`, async () => {
      const key = (args.monitor as string) ?? 'val_loss';
      const theirs = tf.callbacks.earlyStopping(args);
      const tfModel = { stopTraining: false };
      (theirs as unknown as { model: unknown }).model = tfModel; // setModel wants a LayersModel; the rule reads only stopTraining
      await theirs.onTrainBegin();
      let tfStop = -1;
      for (let e = 0; e < values.length && tfStop < 0; e++) {
        await theirs.onEpochEnd(e, { [key]: values[e] });
        if (tfModel.stopTraining) tfStop = e;
      }
      const m = net();
      const es = new EarlyStopping(args);
      const h = await m.fit(X, Y, { epochs: values.length, batchSize: 6, callbacks: [script(values, key), es] });
      expect(h.epoch.length - 1).toBe(tfStop < 0 ? values.length - 1 : tfStop);
      expect(es.stoppedEpoch).toBe(Math.max(tfStop, 0));
      m.dispose();
    });
  }

  for (const [how, values, best] of [
    ['stopping early', [1, 0.5, 0.7, 0.8, 0.9, 0.95], 1],
    ['running all its epochs', [1, 0.9, 0.4, 0.6, 0.5], 2],
  ] as const) {
    it(`restoreBestWeights restores the best epoch's weights when ${how}`, async () => {
      const m = net();
      const seen: Float32Array[][] = [];
      const es = new EarlyStopping({ patience: 3, restoreBestWeights: true });
      const h = await m.fit(X, Y, {
        epochs: values.length,
        batchSize: 6,
        callbacks: [script([...values]), { onEpochEnd: () => void seen.push(m.getWeights()) }, es],
      });
      expect(h.epoch.length).toBe(how === 'stopping early' ? 5 : values.length);
      expect(es.bestEpoch).toBe(best);
      expect(m.getWeights()).toEqual(seen[best]);
      expect(m.getWeights()).not.toEqual(seen[seen.length - 1]);
      m.dispose();
    });
  }

  it('a monitor missing from the logs warns as TF.js does and never stops', async () => {
    const m = net();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const h = await m.fit(X, Y, { epochs: 3, batchSize: 6, callbacks: [new EarlyStopping({ monitor: 'val_auc' })] });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(warn).toHaveBeenCalledTimes(3);
    expect(String(warn.mock.calls[0][0])).toMatch(/val_auc .*not available\. Available metrics are: loss,acc/);
    warn.mockRestore();
    m.dispose();
  });
});

describe('ReduceLROnPlateau', () => {
  it("patience 1, factor 0.5, cooldown 1, minLr 0.03: Keras's trace; the history gains learning_rate", async () => {
    const m = net();
    const values = [1, 1, 1, 1, 1, 1, 1];
    const h = await m.fit(X, Y, {
      epochs: values.length,
      batchSize: 6,
      callbacks: [script(values), new ReduceLROnPlateau({ patience: 1, factor: 0.5, cooldown: 1, minLr: 0.03 })],
    });
    // Epoch 0 improves on Infinity; 1: wait 1 -> 0.05, cooldown 1; 2: the cooldown ends first, so wait 1 -> 0.03
    // (0.025 floored); then the rate is at the floor. The logs show the rate each epoch trained with.
    expect(h.history.learning_rate).toEqual([0.1, 0.1, 0.05, 0.03, 0.03, 0.03, 0.03]);
    expect(m.optimizer!.learningRate).toBe(0.03);
    m.dispose();
  });
  it('improvements smaller than minDelta count as none; factor >= 1 throws', async () => {
    const m = net();
    const h = await m.fit(X, Y, {
      epochs: 4,
      batchSize: 6,
      callbacks: [script([1, 0.99995, 0.5, 0.49999]), new ReduceLROnPlateau({ patience: 1, factor: 0.1 })],
    });
    expect(h.history.learning_rate!.map((v) => +v.toPrecision(6))).toEqual([0.1, 0.1, 0.01, 0.01]);
    expect(m.optimizer!.learningRate).toBeCloseTo(0.001, 12);
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(/factor >= 1.0/);
    m.dispose();
  });
});

describe('ModelCheckpoint', () => {
  it('formatPath fills {epoch:02d} (1-based) and {val_loss:.3f}; an unknown field throws', () => {
    expect(formatPath('m-{epoch:02d}-{val_loss:.3f}', 4, { val_loss: 0.12345 })).toBe('m-05-0.123');
    expect(() => formatPath('m-{auc}', 0, {})).toThrow(/names \{auc\}/);
  });
  it("saveBestOnly saves only improvements; the file holds the best epoch's weights", async () => {
    const m = net();
    const seen: Float32Array[][] = [];
    const ck = new ModelCheckpoint(join(dir, 'best'), { saveBestOnly: true });
    await m.fit(X, Y, {
      epochs: 5,
      batchSize: 6,
      callbacks: [script([1, 0.5, 0.7, 0.4, 0.6]), { onEpochEnd: () => void seen.push(m.getWeights()) }, ck],
    });
    expect(ck.saved.length).toBe(3);
    const back = await loadModel(join(dir, 'best'));
    expect(back.getWeights()).toEqual(seen[3]);
    back.dispose();
    const every = new ModelCheckpoint(join(dir, 'ep-{epoch}'));
    await m.fit(X, Y, { epochs: 2, batchSize: 6, callbacks: [every] });
    expect(every.saved).toEqual([join(dir, 'ep-1'), join(dir, 'ep-2')]);
    m.dispose();
  });
});

describe('TerminateOnNaN, loggers, lists of callbacks', () => {
  it('TerminateOnNaN stops after the first batch whose loss is NaN (with checkFinite off)', async () => {
    const m = net();
    const bad = tensor(new Float32Array(X.data.length).fill(NaN), X.shape);
    let batches = 0;
    const h = await m.fit(bad, Y, {
      epochs: 3,
      batchSize: 4,
      checkFinite: false,
      callbacks: [new TerminateOnNaN(), { onBatchEnd: () => void batches++ }],
    });
    expect(batches).toBe(1);
    expect(h.epoch).toEqual([0]);
    m.dispose();
  });

  it("CSVLogger (Keras's columns) and JSONLogger write one line per epoch", async () => {
    const m = net();
    const csv = join(dir, 'log.csv'),
      json = join(dir, 'log.jsonl');
    const h = await m.fit(X, Y, { epochs: 2, batchSize: 6, validationData: [X, Y], callbacks: [new CSVLogger(csv), new JSONLogger(json)] });
    const lines = readFileSync(csv, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('epoch,acc,loss,val_acc,val_loss');
    expect(lines.length).toBe(3);
    expect(lines[2].split(',').map(Number)).toEqual([
      1,
      h.history.acc![1],
      h.history.loss[1],
      h.history.val_acc![1],
      h.history.val_loss![1],
    ]);
    const recs = readFileSync(json, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(recs).toEqual(
      [0, 1].map((e) => ({
        epoch: e,
        loss: h.history.loss[e],
        acc: h.history.acc![e],
        val_loss: h.history.val_loss![e],
        val_acc: h.history.val_acc![e],
      })),
    );
    // append keeps the file and its header
    await m.fit(X, Y, { epochs: 1, batchSize: 6, validationData: [X, Y], callbacks: [new CSVLogger(csv, { append: true })] });
    expect(readFileSync(csv, 'utf8').trim().split('\r\n').length).toBe(4);
    m.dispose();
  });

  it('fitDataset takes the same callbacks: EarlyStopping on loss stops it', async () => {
    const m = net();
    const ds = data.array(Array.from({ length: 3 }, (_, i) => ({ xs: X.slice(i * 4, i * 4 + 4), ys: Y.subarray(i * 4, i * 4 + 4) })));
    const es = new EarlyStopping({ monitor: 'loss', patience: 0 });
    const h = await m.fitDataset(ds, { epochs: 6, callbacks: [script([1, 2, 3, 4, 5, 6], 'loss'), es] });
    expect(h.epoch).toEqual([0, 1]);
    m.dispose();
  });
});
