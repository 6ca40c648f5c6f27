// Issue 10 item 6: divergence that really stops fit. A sustained loss rise, non-finite or runaway gradients
// or weights end the run with a DivergenceError; the weights left are those from before the step that
// failed the check (an update that produced bad weights is undone) and they predict finite numbers.
// Inputs far outside a sane range are refused with a DataError naming the batch and sample.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  Conv2D,
  DataError,
  Dense,
  DivergenceError,
  Flatten,
  MaxPool2D,
  Sequential,
  SGD,
  tensor,
  type Optimizer,
  ValueError,
} from '../src/node.js';
import { LossMonitor } from '../src/divergence.js';
import { Rng } from '../src/random.js';

const r = new Rng(1);
const N = 96;
const x = tensor(
  Float32Array.from({ length: N * 64 }, () => r.uniform()),
  [N, 8, 8, 1],
);
const y = Int32Array.from({ length: N }, (_, i) => i % 10);
const net = (opt: Optimizer) => {
  const m = new Sequential(
    [
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
    { seed: 1 },
  );
  m.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
  return m;
};
const maxAbs = (ws: Float32Array[]) => Math.max(...ws.map((w) => w.reduce((s, v) => Math.max(s, Math.abs(v)), 0)));
const predictsFinite = (m: Sequential) => m.predict(x).data.every(Number.isFinite);

describe('divergence stops fit', () => {
  for (const [name, opt] of [
    ['SGD', () => new SGD({ learningRate: 1e6 })],
    ['Adam', () => new Adam({ learningRate: 1e6 })],
  ] as const) {
    it(`${name} at lr 1e6 (loss pinned near the clip, weights running away) stops with DivergenceError; the weights left predict finite numbers`, async () => {
      const m = net(opt());
      const err = await m.fit(x, y, { epochs: 10, batchSize: 8 }).catch((e) => e);
      expect(err).toBeInstanceOf(DivergenceError);
      expect(err.message).toMatch(/at step \d+; the weights are those from before that step/);
      expect(m.isTraining).toBe(false);
      expect(predictsFinite(m)).toBe(true);
      m.dispose();
    });
    it(`${name} at lr 1e6 with the weight limit off: the loss rise alone stops it`, async () => {
      const m = net(opt());
      const err = await m.fit(x, y, { epochs: 10, batchSize: 8, divergence: { maxAbs: Infinity } }).catch((e) => e);
      expect(err).toBeInstanceOf(DivergenceError);
      expect(err.message).toMatch(/smoothed loss rose to [\d.]+, more than 4x its lowest value/);
      expect(predictsFinite(m)).toBe(true);
      m.dispose();
    });
  }

  it('SGD at lr 1e30: the first update is caught and undone; weights and optimizer state are exactly those before the run and predict finite numbers', async () => {
    for (const opt of [new SGD({ learningRate: 1e30, momentum: 0.9 }), new Adam({ learningRate: 1e30 })]) {
      const m = net(opt);
      const w0 = m.getWeights();
      const err = await m.fit(x, y, { epochs: 3, batchSize: 8 }).catch((e) => e);
      expect(err).toBeInstanceOf(DivergenceError);
      expect(err.message).toMatch(/a weight reached .* at step 1; .*\(the update was undone\)/);
      expect(m.getWeights()).toEqual(w0);
      expect(m.getOptimizerState().every((s) => s.every((v) => v === 0))).toBe(true);
      expect(opt.iterations).toBe(0);
      expect(predictsFinite(m)).toBe(true);
      m.dispose();
    }
  });

  it('plain SGD skips the weight pass while a running bound proves the limit safe, yet no weight passes the limit unnoticed', async () => {
    // At lr 0.1 this net's largest weight grows steadily from 0.39 to about 1.4 over 20 epochs.
    const m = net(new SGD({ learningRate: 0.1 }));
    let worst = 0,
      steps = 0;
    const err = await m
      .fit(x, y, {
        epochs: 20,
        batchSize: 4,
        divergence: { maxAbs: 1, lossFactor: Infinity },
        onBatchEnd: () => {
          steps++;
          worst = Math.max(worst, maxAbs(m.getWeights()));
        },
      })
      .then(
        () => undefined,
        (e) => e,
      );
    expect(err).toBeInstanceOf(DivergenceError);
    expect(err.message).toMatch(/a weight reached 1\.0\d* \(limit 1\).*\(the update was undone\)/);
    expect(steps).toBeGreaterThan(100);
    expect(worst).toBeLessThanOrEqual(1);
    expect(maxAbs(m.getWeights())).toBeLessThanOrEqual(1);
    m.dispose();
  });

  it('gradients beyond divergence.maxAbs stop fit before the update (weights unchanged)', async () => {
    const m = net(new SGD({ learningRate: 0.01 }));
    const w0 = m.getWeights();
    const err = await m.fit(x, y, { batchSize: 8, divergence: { maxAbs: 1e-6 } }).catch((e) => e);
    expect(err.message).toMatch(/a gradient reached .* \(limit 0.000001\) at step 1/);
    expect(m.getWeights()).toEqual(w0);
    m.dispose();
  });

  it('a healthy but noisy run (batch 1, random labels, 3 epochs) is never stopped; checkFinite: false and a bad divergence option are handled', async () => {
    const m = net(new SGD({ learningRate: 0.05 }));
    const noisy = Int32Array.from({ length: N }, () => Math.floor(r.uniform() * 10));
    const h = await m.fit(x, noisy, { epochs: 3, batchSize: 1 });
    expect(h.history.loss.length).toBe(3);
    expect(maxAbs(m.getWeights())).toBeLessThan(100);
    await expect(m.fit(x, y, { divergence: { lossFactor: 1 } })).rejects.toThrow(/lossFactor must be above 1/);
    await expect(m.fit(x, y, { divergence: { maxAbs: -1 } })).rejects.toThrow(ValueError);
    await m.fit(x, y, { checkFinite: false, divergence: { maxAbs: 1e-9 } }); // checks off: not consulted
    m.dispose();
  });

  it('LossMonitor: a sustained rise above 4x the smoothed minimum (floor 1 nat) fires; noise and a slow decline do not', () => {
    const mon = new LossMonitor(4);
    for (let i = 0; i < 200; i++) expect(mon.observe(2.3 * Math.exp(-i / 50) + (i % 7 === 0 ? 3 : 0))).toBeUndefined();
    const spikes = new LossMonitor(4);
    for (let i = 0; i < 100; i++) expect(spikes.observe(i % 10 === 0 ? 12 : 0.05)).toBeUndefined();
    const rise = new LossMonitor(4);
    rise.observe(2.3);
    let fired = 0;
    for (let i = 1; i < 30 && !fired; i++) if (rise.observe(16)) fired = i;
    expect(fired).toBeGreaterThan(1);
    expect(fired).toBeLessThan(15);
  });
});

describe('inputs far outside a sane range', () => {
  it('|x| > 1e6 is a DataError naming the batch and sample in fit, evaluate and predict; maxInputAbs raises the limit', async () => {
    const m = net(new SGD({ learningRate: 0.01 }));
    const big = tensor(x.data.slice(), x.shape);
    big.data[37 * 64 + 5] = 1e30;
    const w0 = m.getWeights();
    const err = await m.fit(big, y, { batchSize: 8, shuffle: false }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/x\[37\] contains 1\.0\d*e\+30 at offset 5 \(batch 4\); inputs beyond ±1000000 are refused/);
    expect(m.getWeights()).not.toEqual(w0); // batches 0-3 were fine and trained
    expect(() => m.predict(big)).toThrow(/x\[37\] contains 1\.0\d*e\+30 at offset 5 \(batch 1\)/);
    expect(() => m.evaluate(big, y, { batchSize: 16 })).toThrow(/x\[37\].*\(batch 2\)/);
    big.data[37 * 64 + 5] = 5e6;
    expect(() => m.predict(big)).toThrow(DataError);
    expect(m.predict(big, { maxInputAbs: 1e7 }).data.every(Number.isFinite)).toBe(true);
    expect(m.evaluate(big, y, { maxInputAbs: Infinity }).loss).toBeGreaterThan(0);
    expect(() => m.predict(big, { maxInputAbs: 0 })).toThrow(/maxInputAbs must be a positive number/);
    big.data[37 * 64 + 5] = NaN;
    expect(() => m.predict(big, { maxInputAbs: Infinity })).toThrow(ValueError);
    m.dispose();
  });
});
