// Issue 10 item 5: fit has a lifecycle. While it runs, calls that would change the weights, the optimizer
// or the model throw StateError; predict, evaluate and save from its callbacks work and leave the run
// exactly as it would have been; dispose() from a callback (or while fit yields) stops the run after the
// current step, frees every byte at once and rejects fit's promise.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Adam, Conv2D, currentBackend, Dense, Flatten, loadModel, MaxPool2D, Sequential, StateError, tensor } from '../src/node.js';
import { Rng } from '../src/random.js';

const net = () =>
  new Sequential(
    [
      new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [7, 7, 2] }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
    { seed: 5 },
  );
const r = new Rng(9);
const N = 23;
const x = tensor(
  Float32Array.from({ length: N * 98 }, () => r.uniform()),
  [N, 7, 7, 2],
);
const y = Int32Array.from({ length: N }, (_, i) => i % 3);
const compiled = () => {
  const m = net();
  m.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  return m;
};
const fitArgs = { epochs: 2, batchSize: 4, seed: 1, validationData: [x, y] as [typeof x, typeof y] };

describe('fit lifecycle', () => {
  it('while fit runs, a second fit, compile, setWeights, setOptimizerState and trainOnBatch throw StateError (from a callback and from outside); isTraining says so', async () => {
    const m = compiled();
    const calls: [string, () => unknown][] = [
      ['fit', () => m.fit(x, y)],
      ['compile', () => m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' })],
      ['setWeights', () => m.setWeights(m.getWeights())],
      ['setOptimizerState', () => m.setOptimizerState(m.getOptimizerState(), 1)],
      ['trainOnBatch', () => m.trainOnBatch(x, y)],
    ];
    const attempt = async ([name, call]: [string, () => unknown]) => {
      try {
        await call();
        return `${name}: ran`;
      } catch (e) {
        return e instanceof StateError && new RegExp(`${name}: fit\\(\\) is running`).test(e.message)
          ? 'StateError'
          : `${name}: ${(e as Error).message}`;
      }
    };
    const outcomes: string[] = [];
    const during: boolean[] = [];
    const running = m.fit(x, y, {
      ...fitArgs,
      yieldEvery: 0,
      onBatchEnd: async () => {
        during.push(m.isTraining);
        if (during.length === 2) outcomes.push(...(await Promise.all(calls.map(attempt))));
      },
    });
    await new Promise((res) => setTimeout(res, 0)); // fit yields after each step (yieldEvery 0)
    outcomes.push(...(await Promise.all(calls.map(attempt))));
    const w = m.getWeights();
    await running;
    expect(outcomes).toEqual(Array(10).fill('StateError'));
    expect(during.every(Boolean)).toBe(true);
    expect(m.isTraining).toBe(false);
    expect(m.getWeights()).not.toEqual(w); // the run went on after the refused calls
    expect(m.trainOnBatch(x, y).loss).toBeGreaterThan(0); // usable again afterwards
    m.dispose();
  });

  it('predict (at a larger batch, so the activations move), evaluate and save from onBatchEnd/onEpochEnd leave the run bit-identical to one without them', async () => {
    const plain = compiled();
    const h0 = await plain.fit(x, y, fitArgs);
    const busy = compiled();
    const dir = mkdtempSync(join(tmpdir(), 'simdcnn-cb-'));
    const outputs: number[] = [];
    const h1 = await busy.fit(x, y, {
      ...fitArgs,
      onBatchEnd: (b) => {
        outputs.push(busy.predict(x, { batchSize: 8 + b }).data[0]);
        outputs.push(busy.evaluate(x, y, { batchSize: 3 }).loss);
      },
      onEpochEnd: async () => {
        await busy.save(dir);
      },
    });
    expect(h1).toEqual(h0);
    expect(busy.getWeights()).toEqual(plain.getWeights());
    expect(busy.getOptimizerState()).toEqual(plain.getOptimizerState());
    expect(outputs.every(Number.isFinite)).toBe(true);
    const back = await loadModel(dir);
    expect(back.getWeights()).toEqual(plain.getWeights());
    for (const m of [plain, busy, back]) m.dispose();
  });

  for (const [when, at] of [
    ['the first batch', (b: number) => b === 0],
    ['the last batch of the last epoch (with validationData)', (b: number, e: number) => e === 1 && b === 5],
  ] as const) {
    it(`dispose() from onBatchEnd on ${when}: fit stops after that step, rejects with StateError, every byte is freed`, async () => {
      const be = currentBackend();
      const before = be.allocatedBytes;
      const m = compiled();
      let epoch = 0,
        steps = 0,
        endCalls = 0;
      const err = await m
        .fit(x, y, {
          ...fitArgs,
          onEpochBegin: (e) => {
            epoch = e;
          },
          onBatchEnd: (b) => {
            steps++;
            if (at(b, epoch)) m.dispose();
          },
          onEpochEnd: () => {
            endCalls++;
          },
          onTrainEnd: () => {
            endCalls++;
          },
        })
        .catch((e) => e);
      expect(err).toBeInstanceOf(StateError);
      expect(err.message).toMatch(/disposed during training \(epoch \d, batch \d\)/);
      expect(steps).toBe(at(0, 0) ? 1 : 12);
      expect(endCalls).toBe(at(0, 0) ? 0 : 1);
      expect(be.allocatedBytes).toBe(before);
      be.checkHeap();
      expect(m.isDisposed).toBe(true);
      expect(m.isTraining).toBe(false);
      expect(() => m.predict(x)).toThrow(StateError);
    });
  }

  it('dispose() from a timer while fit yields to the event loop: the same clean stop', async () => {
    const be = currentBackend();
    const before = be.allocatedBytes;
    const m = compiled();
    let steps = 0;
    const running = m.fit(x, y, {
      epochs: 50,
      batchSize: 1,
      yieldEvery: 0,
      onBatchEnd: () => {
        steps++;
      },
    });
    await new Promise((res) => setTimeout(res, 5));
    m.dispose();
    await expect(running).rejects.toThrow(/disposed during training/);
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThan(50 * N);
    expect(be.allocatedBytes).toBe(before);
  });

  it('dispose() from a callback of another model leaves that model training normally', async () => {
    const a = compiled(),
      b = compiled();
    const ref = compiled();
    await ref.fit(x, y, fitArgs);
    // Both yield after every batch: timers run in order, so the two fits alternate and b is still
    // training when a reaches batch 2 (with the default 100 ms, a slow first step let b finish first).
    const [ra, rb] = await Promise.allSettled([
      a.fit(x, y, {
        ...fitArgs,
        yieldEvery: 0,
        onBatchEnd: (k) => {
          if (k === 2) b.dispose();
        },
      }),
      b.fit(x, y, { ...fitArgs, yieldEvery: 0 }),
    ]);
    expect(ra.status).toBe('fulfilled');
    expect(rb.status).toBe('rejected');
    expect(a.getWeights()).toEqual(ref.getWeights());
    a.dispose();
    ref.dispose();
  });
});
