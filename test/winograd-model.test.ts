// Winograd inside models: a LeNet step with the 'auto' rule (Winograd F(4x4) in its second convolution)
// equals the direct step within the documented bound, finite-difference gradients through forced
// Winograd convolutions (both tiles), the transformed filters following every weight change (setWeights,
// an optimizer step, loading) without going stale, and their memory returned on dispose.
import { afterEach, describe, expect, it } from 'vitest';
import {
  Conv2D,
  currentBackend,
  Dense,
  Flatten,
  loadModel,
  MaxPool2D,
  type Model,
  Sequential,
  SGD,
  setConvAlgorithm,
  type Tensor,
} from '../src/node.js';
import type { ConvAlgorithm } from '../src/kernels/winograd.js';
import { lenet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { checkLossGradients, checkVjp, randomTensor } from './gradcheck.js';
import { expectBitwise } from './helpers.js';

afterEach(() => setConvAlgorithm('auto'));

/** f() with the conv algorithm set to a, restored to 'auto' afterwards. */
function using<T>(a: ConvAlgorithm, f: () => T): T {
  setConvAlgorithm(a);
  try {
    return f();
  } finally {
    setConvAlgorithm('auto');
  }
}

const maxAbs = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]));
  return s;
};
/** max |a - b| <= bound * max |b|: the documented Winograd bound is 1e-4 of the largest magnitude. */
function expectWithin(a: ArrayLike<number>, b: ArrayLike<number>, bound: number, label: string): void {
  expect(a.length, label).toBe(b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  expect(e / Math.max(maxAbs(b), 1e-30), `${label}: max error / max magnitude`).toBeLessThanOrEqual(bound);
}

/** Pixels in [0, 1]; with `background`, zero outside a central 14x14 block, as MNIST digits on black. */
const pixels = (n: number, seed: number, background: boolean) => {
  const t = randomTensor([n, 28, 28, 1], new Rng(seed));
  t.data.forEach((v, i) => {
    const yy = Math.floor(i / 28) % 28,
      xx = i % 28;
    t.data[i] = background && (yy < 7 || yy >= 21 || xx < 7 || xx >= 21) ? 0 : Math.abs(v);
  });
  return t;
};
const labels = (n: number) => Int32Array.from({ length: n }, (_, i) => (i * 7) % 10);

/** x=[N,7,9,8] conv(16,3x3,same,relu) - conv(16,3x3,valid) - maxpool2 - flatten - dense(5,softmax): every conv op Winograd can do. */
function smallNet(seed: number): Sequential {
  return new Sequential(
    [
      new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [7, 9, 8] }),
      new Conv2D({ filters: 16, kernelSize: 3 }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 5, activation: 'softmax' }),
    ],
    { seed },
  );
}

describe('LeNet with Winograd equals LeNet with direct convolution', () => {
  // With a zero background and zero biases (a fresh model), conv2 has whole regions of windows that read
  // only zeros: their outputs must be exactly 0 as in direct convolution, or the ReLU and max-pool after it
  // route gradients differently (TF.js's step would then differ too).
  for (const background of [false, true])
    it(`lenet x=[16,28,28,1]${background ? ' on a zero background' : ''}: predictions, gradients and the weights after one SGD step within 1e-4 (and not bitwise: Winograd ran)`, () => {
      const x = pixels(16, 1, background),
        y = labels(16);
      const [auto, direct] = [lenet(7), lenet(7)];
      for (const m of [auto, direct]) m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
      const run = (m: Sequential) => ({
        p: m.predict(x).data,
        g: m.computeGradients(x, y).grads,
        loss: m.trainOnBatch(x, y).loss,
        w: m.getWeights(),
      });
      const a = run(auto),
        d = using('direct', () => run(direct));
      expectWithin(a.p, d.p, 1e-4, 'predictions');
      a.g.forEach((g, i) => expectWithin(g, d.g[i], 1e-4, `gradient ${i}`));
      expect(Math.abs(a.loss - d.loss)).toBeLessThanOrEqual(1e-4 * d.loss);
      a.w.forEach((w, i) => expectWithin(w, d.w[i], 1e-4, `weight ${i} after the step`));
      // conv2's kernel gradient (index 2) went through Winograd: its rounding differs from the direct kernels'.
      expect(() => expectBitwise(a.g[2], d.g[2], 'conv2 kernel gradient')).toThrow();
      auto.dispose();
      direct.dispose();
    });
});

describe('finite-difference gradients through Winograd convolutions', () => {
  for (const mode of ['winograd', 'winograd2x2'] as const) {
    it(`${mode}: x=[3,7,9,8] conv(16,3x3,same,relu)-conv(16,3x3,valid)-maxpool2-flatten-dense(5,softmax), vjp and training loss`, () => {
      using(mode, () => {
        const m = smallNet(11);
        const x = randomTensor([3, 7, 9, 8], new Rng(12));
        checkVjp(m, x, 13);
        m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
        checkLossGradients(m, x, Int32Array.from([1, 4, 2]), 14);
        m.dispose();
      });
    });
  }
});

describe('transformed filters follow the weights', () => {
  const x = randomTensor([3, 7, 9, 8], new Rng(21)),
    y = Int32Array.from([0, 3, 1]);
  /** Predictions and input/weight gradients of m, computed directly with m's current weights. */
  const reference = (m: Model) => using('direct', () => ({ p: m.predict(x).data, ...vjpOf(m) }));
  const vjpOf = (m: Model) => {
    const r = m.vjp(x, randomTensor(m.predict(x).shape, new Rng(22)));
    return { dx: r.dx.data, g: r.grads };
  };
  const expectMatches = (m: Model, what: string) => {
    const ref = reference(m);
    expectWithin(m.predict(x).data, ref.p, 1e-4, `${what}: predictions`);
    const v = vjpOf(m);
    expectWithin(v.dx, ref.dx, 1e-4, `${what}: input gradient`);
    v.g.forEach((g, i) => expectWithin(g, ref.g[i], 1e-4, `${what}: gradient ${i}`));
  };

  it('x=[3,7,9,8]: after setWeights, an optimizer step, fit and a switch of tile, Winograd results equal direct ones on the new weights', async () => {
    setConvAlgorithm('winograd');
    const m = smallNet(23);
    m.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
    expectMatches(m, 'initial weights');
    const before = m.predict(x).data;
    m.setWeights(m.getWeights().map((w) => w.map((v, i) => v * 1.5 + 0.01 * Math.sin(i))));
    expect(maxAbs(m.predict(x).data.map((v, i) => v - before[i]))).toBeGreaterThan(1e-3);
    expectMatches(m, 'after setWeights');
    m.trainOnBatch(x, y);
    expectMatches(m, 'after trainOnBatch');
    await m.fit(x, y, { epochs: 2, batchSize: 2 });
    expectMatches(m, 'after fit');
    setConvAlgorithm('winograd2x2');
    expectMatches(m, 'F(2x2) after F(4x4)');
    m.dispose();
  });

  it('x=[3,7,9,8]: a saved and loaded model predicts with its loaded weights', async () => {
    setConvAlgorithm('winograd');
    const m = smallNet(31);
    m.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(x, y);
    const loaded = await loadModel(await m.save('memory://'));
    expectWithin(loaded.predict(x).data, reference(m).p, 1e-4, 'loaded model');
    expectMatches(loaded, 'loaded model');
    m.dispose();
    loaded.dispose();
  });

  it("x=[3,7,9,8]: a model planned under 'direct' holds no Winograd memory and stays direct after the switch goes back to 'auto'", () => {
    const plannedBytes = (m: Model) => {
      const lines: string[] = [];
      m.summary((l) => lines.push(l));
      return lines.join('\n').match(/activations at batch \d+: .* for training, ([\d.]+ [KM]iB) for inference/)![1];
    };
    const [direct, auto] = [smallNet(51), smallNet(51)];
    setConvAlgorithm('direct');
    const before = direct.predict(x).data;
    const small = plannedBytes(direct);
    setConvAlgorithm('auto');
    expectBitwise(direct.predict(x).data, before, 'planned under direct: still direct');
    expect(plannedBytes(auto)).not.toBe(small);
    expect(() => expectBitwise(auto.predict(x).data, before, 'planned under auto')).toThrow();
    direct.dispose();
    auto.dispose();
  });

  it('x=[3,7,9,8]: models that used Winograd give all their memory back on dispose', () => {
    const be = currentBackend();
    const start = be.allocatedBytes;
    for (const mode of ['auto', 'winograd', 'winograd2x2'] as const) {
      setConvAlgorithm(mode);
      const m = smallNet(41);
      m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
      m.trainOnBatch(x, y);
      m.predict(x as Tensor);
      m.dispose();
      expect(be.allocatedBytes, mode).toBe(start);
    }
  });
});
