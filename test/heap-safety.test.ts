// Issue 10 item 4: every public entry checks what it writes into wasm memory against the model's own plan,
// so no call order or argument lets one model write over another. Each case keeps a neighbour model in the
// same memory and asserts its weights are untouched and the allocator's books balance.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  currentBackend,
  Dense,
  Flatten,
  Conv2D,
  Sequential,
  ShapeError,
  StateError,
  Tensor,
  tensor,
  ValueError,
} from '../src/node.js';

const make = (seed: number) =>
  new Sequential(
    [new Conv2D({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1] }), new Flatten(), new Dense({ units: 3, activation: 'softmax' })],
    { seed },
  );
const x = (n: number, v = 0.5) => tensor(new Float32Array(n * 25).fill(v), [n, 5, 5, 1]);

/** A model trained a step, placed next to whatever comes next; check() fails if its weights changed. */
function neighbour() {
  const m = make(7);
  m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
  m.trainOnBatch(x(2), [0, 1]);
  const w = m.getWeights(),
    s = m.getOptimizerState();
  return {
    check() {
      expect(m.getWeights()).toEqual(w);
      expect(m.getOptimizerState()).toEqual(s);
      currentBackend().checkHeap();
    },
    dispose: () => m.dispose(),
  };
}

describe('public entries never write outside the model', () => {
  it('setOptimizerState with empty blocks on an unbuilt model is refused (the model is built and checked first); trainOnBatch then leaves the neighbour intact', () => {
    const m = make(1);
    m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
    const other = neighbour();
    expect(() => m.setOptimizerState([new Float32Array(0), new Float32Array(0)], 0)).toThrow(ShapeError);
    expect(() => m.setOptimizerState([new Float32Array(0), new Float32Array(0)], 0)).toThrow(/each state block must hold 128 floats/);
    expect(() => m.setOptimizerState([new Float32Array(128)], 0)).toThrow(/Adam keeps 2 state blocks, received 1/);
    expect(() => m.setOptimizerState([new Float32Array(128), new Float32Array(128).fill(NaN)], 0)).toThrow(ValueError);
    expect(() => m.setOptimizerState([new Float32Array(128), new Float32Array(128)], -1)).toThrow(/iterations/);
    expect(() => m.setOptimizerState([new Float32Array(128), new Float32Array(128)], 2 ** 60)).toThrow(/iterations/);
    m.trainOnBatch(x(3), [0, 1, 2]);
    other.check();
    m.setOptimizerState(m.getOptimizerState(), 1);
    m.trainOnBatch(x(3), [0, 1, 2]);
    other.check();
    m.dispose();
    other.dispose();
  });

  it('replacing x.data with a longer array from onBatchEnd during fit: ShapeError at the next step, the neighbour intact', async () => {
    const m = make(2);
    m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
    const other = neighbour();
    const data = x(8);
    const err = await m
      .fit(data, [0, 1, 2, 0, 1, 2, 0, 1], {
        batchSize: 2,
        shuffle: false,
        onBatchEnd: (b) => {
          if (b === 1) (data as { data: Float32Array }).data = new Float32Array(8 * 25 * 1000).fill(9);
        },
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/x has shape \[8,5,5,1\] \(200 values\) but its data holds 200000/);
    other.check();
    // Same size, new values: each batch is copied as the data is at its step.
    const run = async (mutate: boolean) => {
      const t = make(2);
      t.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
      const d = x(4, 0.1);
      if (!mutate) d.data.fill(5, 50);
      const seen: number[] = [];
      await t.fit(d, [0, 1, 2, 0], {
        batchSize: 2,
        shuffle: false,
        onBatchEnd: (b, l) => {
          seen.push(l.loss);
          if (mutate && b === 0) d.data.fill(5);
        },
      });
      t.dispose();
      return seen;
    };
    expect(await run(true)).toEqual(await run(false));
    other.check();
    m.dispose();
    other.dispose();
  });

  it('one-hot targets replaced or made invalid during fit are refused at the step that reads them', async () => {
    const m = make(3);
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const other = neighbour();
    const t = tensor(
      Float32Array.from({ length: 12 }, (_, i) => (i % 3 === ((i / 3) | 0) % 3 ? 1 : 0)),
      [4, 3],
    );
    const grow = await m
      .fit(x(4), t, {
        batchSize: 2,
        shuffle: false,
        onBatchEnd: () => {
          (t as { data: Float32Array }).data = new Float32Array(3000);
        },
      })
      .catch((e) => e);
    expect(grow).toBeInstanceOf(ShapeError);
    expect(grow.message).toMatch(/targets must hold 12 values \[4,3\], they now hold 3000/);
    const t2 = tensor(new Float32Array(12).fill(0.5), [4, 3]);
    const bad = await m
      .fit(x(4), t2, {
        batchSize: 2,
        shuffle: false,
        onBatchEnd: () => {
          t2.data[7] = 7;
        },
      })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(ValueError);
    expect(bad.message).toMatch(/target \[2, 1\] is 7/);
    other.check();
    m.dispose();
    other.dispose();
  });

  it('setWeights checks the copy it writes (an array-like whose length changes as it is read cannot overrun)', () => {
    const m = make(4);
    m.build();
    const other = neighbour();
    let reads = 0;
    const liar = {
      get length() {
        return reads++ ? 1e6 : 18;
      },
    };
    const w = m.getWeights();
    expect(() => m.setWeights([liar as unknown as Float32Array, w[1], w[2], w[3]])).toThrow(ShapeError);
    expect(m.getWeights()).toEqual(w);
    expect(() => m.setWeights([w[0], w[1], w[2]])).toThrow(/expected 4 arrays/);
    expect(() => m.setWeights([w[0], w[1], new Float32Array(12), w[3]])).toThrow(/kernel expects 54 values \[18,3\], received 12/);
    other.check();
    m.dispose();
    other.dispose();
  });

  it('vjp refuses dy whose data is longer than its shape', () => {
    const m = make(5);
    m.build();
    const other = neighbour();
    const dy = new Tensor(new Float32Array(300), [2, 3]);
    expect(() => m.vjp(x(2), dy)).toThrow(/dy has shape \[2,3\] \(6 values\) but its data holds 300/);
    other.check();
    m.dispose();
    other.dispose();
  });

  it('an x.data getter that disposes the model mid-call cannot make the call write into freed memory', () => {
    const m = make(6);
    m.build();
    m.predict(x(2));
    const other = neighbour();
    const inner = new Float32Array(50).fill(0.5);
    const evil = new Tensor(inner, [2, 5, 5, 1]);
    let n = 0;
    Object.defineProperty(evil, 'data', {
      get: () => {
        if (++n === 2) m.dispose();
        return inner;
      },
    });
    expect(() => m.predict(evil)).toThrow(StateError);
    other.check();
    other.dispose();
  });
});
