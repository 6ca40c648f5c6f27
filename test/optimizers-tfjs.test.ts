// RMSprop, Adagrad, Nesterov momentum against tfjs-core's optimizers (same weights, same batches, 4 steps);
// AdamW and gradient clipping against TypeScript references (TF.js has neither); resuming from a saved
// model gives bit-identical weights for every optimizer; optimizer configs and TF.js's saved optimizer
// weights both ways.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adagrad,
  Adam,
  AdamW,
  Conv2D,
  Dense,
  Flatten,
  loadModel,
  type ModelArtifacts,
  type Optimizer,
  RMSprop,
  Sequential,
  SGD,
  tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { expectBitwise } from './helpers.js';
import { maxDiff, tf, tfjsArtifacts, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function net(seed = 5) {
  return new Sequential(
    [
      new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 5, 2] }),
      new Flatten(),
      new Dense({ units: 4, activation: 'softmax' }),
    ],
    { seed },
  );
}
function tfNet() {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 5, 2] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
}
const rng = new Rng(3);
const batches = Array.from({ length: 4 }, () => ({
  x: Float32Array.from({ length: 7 * 6 * 5 * 2 }, () => rng.uniform() * 2 - 1),
  y: Int32Array.from({ length: 7 }, () => rng.int(4)),
}));
const X = (b: (typeof batches)[number]) => tensor(b.x, [7, 6, 5, 2]);
const flat = (ws: Float32Array[]) => ws.flatMap((w) => Array.from(w));

describe('against tfjs-core optimizers, 4 steps', () => {
  const cases: [string, () => Optimizer, () => tf.Optimizer][] = [
    ['RMSprop lr=0.01 (rho 0.9, momentum 0, epsilon 1e-7)', () => new RMSprop({ learningRate: 0.01 }), () => tf.train.rmsprop(0.01)],
    [
      'RMSprop lr=0.01 momentum=0.5',
      () => new RMSprop({ learningRate: 0.01, momentum: 0.5 }),
      () => tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7),
    ],
    ['Adagrad lr=0.1 (initialAccumulatorValue 0.1)', () => new Adagrad({ learningRate: 0.1 }), () => tf.train.adagrad(0.1)],
    [
      'SGD nesterov lr=0.05 momentum=0.9',
      () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
      () => tf.train.momentum(0.05, 0.9, true),
    ],
  ];
  for (const [name, ours, theirs] of cases) {
    it(name, async () => {
      const a = net(),
        b = tfNet();
      a.build();
      b.setWeights(a.getWeights().map((w, i) => tf.tensor(w, a.weightSpecs()[i].shape)));
      a.compile({ optimizer: ours(), loss: 'sparseCategoricalCrossentropy' });
      b.compile({ optimizer: theirs(), loss: 'sparseCategoricalCrossentropy' });
      for (const bt of batches) {
        const la = a.trainOnBatch(X(bt), bt.y).loss;
        const lb = (await b.trainOnBatch(tf.tensor4d(bt.x, [7, 6, 5, 2]), tf.tensor1d(bt.y, 'float32'))) as number;
        expect(Math.abs(la - lb)).toBeLessThan(1e-5);
      }
      expect(maxDiff(flat(a.getWeights()), flat(b.getWeights().map((t) => t.dataSync() as Float32Array)))).toBeLessThan(1e-5);
      // TF.js's own save with its optimizer weights resumes in simdcnn: one more step agrees again.
      const back = await loadModel((await tfjsArtifacts(b, true)) as ModelArtifacts);
      expect(back.optimizer!.className).toBe(a.optimizer!.className);
      back.trainOnBatch(X(batches[0]), batches[0].y);
      await b.trainOnBatch(tf.tensor4d(batches[0].x, [7, 6, 5, 2]), tf.tensor1d(batches[0].y, 'float32'));
      expect(maxDiff(flat(back.getWeights()), flat(b.getWeights().map((t) => t.dataSync() as Float32Array)))).toBeLessThan(1e-5);
      a.dispose();
      back.dispose();
    });
  }
});

describe('AdamW and clipping against TypeScript references', () => {
  it('AdamW lr=0.01 weightDecay=0.1: Adam from the same weights, minus lr * weightDecay * w', () => {
    const a = net(),
      b = net();
    a.compile({ optimizer: new AdamW({ learningRate: 0.01, weightDecay: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    b.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const c = Math.fround(0.01 * 0.1);
    for (const bt of batches) {
      b.setOptimizerState(a.getOptimizerState(), a.optimizer!.iterations);
      b.setWeights(a.getWeights());
      const w0 = a.getWeights();
      a.trainOnBatch(X(bt), bt.y);
      b.trainOnBatch(X(bt), bt.y);
      const want = b.getWeights().map((w, t) => w.map((v, i) => v - w0[t][i] * c));
      expect(maxDiff(flat(a.getWeights()), flat(want))).toBeLessThan(2e-7);
    }
    a.dispose();
    b.dispose();
  });

  const clipCases: [string, Record<string, number>, (gs: Float32Array[]) => Float64Array[]][] = [
    [
      'clipNorm 0.05 (each weight by its own norm)',
      { clipNorm: 0.05 },
      (gs) =>
        gs.map((g) => {
          const n = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
          return Float64Array.from(g, (v) => (n > 0.05 ? (v * 0.05) / n : v));
        }),
    ],
    [
      'globalClipNorm 0.05 (all together)',
      { globalClipNorm: 0.05 },
      (gs) => {
        const n = Math.sqrt(gs.reduce((s, g) => s + g.reduce((t, v) => t + v * v, 0), 0));
        return gs.map((g) => Float64Array.from(g, (v) => (n > 0.05 ? (v * 0.05) / n : v)));
      },
    ],
    [
      'clipValue 0.01 (elementwise)',
      { clipValue: 0.01 },
      (gs) => gs.map((g) => Float64Array.from(g, (v) => Math.min(Math.max(v, -0.01), 0.01))),
    ],
  ];
  for (const [name, clip, ref] of clipCases) {
    it(`SGD lr=0.5 ${name}`, () => {
      const a = net();
      a.compile({ optimizer: new SGD({ learningRate: 0.5, ...clip }), loss: 'sparseCategoricalCrossentropy' });
      for (const bt of batches) {
        const w0 = a.getWeights();
        const { grads } = a.computeGradients(X(bt), bt.y);
        const clipped = ref(grads);
        // The bound must bite for the test to mean anything.
        expect(
          maxDiff(
            flat(grads),
            clipped.flatMap((g) => Array.from(g)),
          ),
        ).toBeGreaterThan(1e-4);
        a.trainOnBatch(X(bt), bt.y);
        const want = w0.map((w, t) => w.map((v, i) => v - 0.5 * clipped[t][i]));
        expect(maxDiff(flat(a.getWeights()), flat(want))).toBeLessThan(1e-6);
      }
      a.dispose();
    });
  }

  it('bad options throw naming the optimizer', () => {
    expect(() => new SGD({ clipNorm: 1, clipValue: 1 })).toThrow(/SGD: set at most one of clipNorm, clipValue, globalClipNorm/);
    expect(() => new RMSprop({ rho: 1 })).toThrow(/RMSprop: rho must be in \[0, 1\), received 1/);
    expect(() => new Adagrad({ initialAccumulatorValue: -1 })).toThrow(/Adagrad: initialAccumulatorValue must be a non-negative/);
    expect(() => new SGD({ nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new AdamW({ weightDecay: NaN })).toThrow(ValueError);
    expect(() => new SGD({ clipValue: 0 })).toThrow(/clipValue must be a positive finite number/);
  });
});

describe('saved and resumed: bit-identical to training straight through', () => {
  const opts: [string, () => Optimizer][] = [
    ['RMSprop momentum 0.5', () => new RMSprop({ learningRate: 0.01, momentum: 0.5 })],
    ['RMSprop centered', () => new RMSprop({ learningRate: 0.01, centered: true })],
    ['Adagrad', () => new Adagrad({ learningRate: 0.1 })],
    ['AdamW', () => new AdamW({ learningRate: 0.01, weightDecay: 0.05 })],
    ['SGD nesterov with clipNorm', () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true, clipNorm: 0.1 })],
    ['Adam with clipValue', () => new Adam({ learningRate: 0.01, clipValue: 0.02 })],
  ];
  for (const [name, make] of opts) {
    it(name, async () => {
      const a = net(),
        b = net();
      a.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy' });
      b.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy' });
      for (const bt of batches) a.trainOnBatch(X(bt), bt.y);
      for (const bt of batches.slice(0, 2)) b.trainOnBatch(X(bt), bt.y);
      const files = await b.save();
      const c = await loadModel(files);
      expect(c.optimizer!.getConfig()).toEqual(b.optimizer!.getConfig());
      for (const bt of batches.slice(2)) c.trainOnBatch(X(bt), bt.y);
      c.getWeights().forEach((w, i) => expectBitwise(w, a.getWeights()[i], `${name} weight ${i}`));
      a.dispose();
      b.dispose();
      c.dispose();
    });
  }
});

describe('optimizer configs both ways', () => {
  it('TF.js compiles what simdcnn saved: RMSProp, Adagrad, Momentum with useNesterov; AdamW as Adam', async () => {
    const cases: [Optimizer, string, Record<string, unknown>][] = [
      [
        new RMSprop({ learningRate: 0.02, momentum: 0.3 }),
        'RMSProp',
        { learningRate: 0.02, decay: 0.9, momentum: 0.3, epsilon: 1e-7, centered: false },
      ],
      [new Adagrad({ learningRate: 0.05 }), 'Adagrad', { learningRate: 0.05, initialAccumulatorValue: 0.1 }],
      [
        new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
        'Momentum',
        { learningRate: 0.05, momentum: 0.9, useNesterov: true },
      ],
      [new AdamW({ learningRate: 0.003 }), 'Adam', { learningRate: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
    ];
    for (const [opt, cls, cfg] of cases) {
      const m = net();
      m.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
      const files = await m.save();
      const theirs = await toTfjs(files);
      expect(theirs.optimizer.getClassName()).toBe(cls);
      expect(theirs.optimizer.getConfig()).toMatchObject(cfg);
      const back = await loadModel(files);
      expect(back.optimizer!.className).toBe(opt.className);
      expect(back.optimizer!.getConfig()).toEqual(opt.getConfig());
      m.dispose();
      back.dispose();
    }
  });

  it("Keras's optimizer configs: RMSprop rho, AdamW, SGD nesterov, clipnorm", async () => {
    const m = net();
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const files = await m.save(undefined, { includeOptimizer: false });
    const tc = files.modelJson.trainingConfig as Record<string, unknown>;
    const load = async (oc: unknown) => {
      tc.optimizer_config = oc;
      const l = await loadModel(files);
      const o = l.optimizer;
      l.dispose();
      return o;
    };
    const rms = await load({
      class_name: 'RMSprop',
      config: { learning_rate: 0.001, rho: 0.8, momentum: 0, epsilon: 1e-7, centered: true },
    });
    expect(rms).toBeInstanceOf(RMSprop);
    expect(rms!.getConfig()).toMatchObject({ rho: 0.8, centered: true });
    const aw = await load({
      class_name: 'AdamW',
      config: { learning_rate: 0.001, weight_decay: 0.01, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
    });
    expect(aw).toBeInstanceOf(AdamW);
    expect((aw as AdamW).weightDecay).toBe(0.01);
    const nest = await load({ class_name: 'SGD', config: { learning_rate: 0.01, momentum: 0.9, nesterov: true, clipnorm: 1 } });
    expect(nest!.getConfig()).toEqual({ learningRate: 0.01, momentum: 0.9, nesterov: true, clipNorm: 1 });
    expect(await load({ class_name: 'RMSprop', config: { learning_rate: 0.001, rho: 0.9, decay: 0.01 } })).toBeUndefined();
    m.dispose();
  });
});
