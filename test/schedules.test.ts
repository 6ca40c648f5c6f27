// Learning-rate schedules: Keras's formulas at chosen steps (and PyTorch's OneCycleLR), every optimizer
// taking one step at schedule.at(iterations) (bitwise the same as setting that rate by hand), the schedule
// saved in the optimizer config in Keras 3's form and resumed bit for bit, ReduceLROnPlateau refusing one.
import { describe, expect, it } from 'vitest';
import {
  Adam,
  CosineDecay,
  Dense,
  ExponentialDecay,
  Flatten,
  loadModel,
  OneCycle,
  type Optimizer,
  PiecewiseConstantDecay,
  RMSprop,
  Sequential,
  SGD,
  tensor,
  ValueError,
} from '../src/node.js';
import { Rng } from '../src/random.js';

describe('schedule formulas', () => {
  it('PiecewiseConstantDecay boundaries [10, 20] values [1, 0.5, 0.1]: a boundary step keeps the earlier value', () => {
    const s = new PiecewiseConstantDecay({ boundaries: [10, 20], values: [1, 0.5, 0.1] });
    expect([0, 10, 11, 20, 21, 1e6].map((k) => s.at(k))).toEqual([1, 1, 0.5, 0.5, 0.1, 0.1]);
  });
  it('ExponentialDecay 0.1 * 0.5^(step/10), continuous and staircase', () => {
    const s = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 });
    expect(s.at(0)).toBe(0.1);
    expect(s.at(20)).toBeCloseTo(0.025, 15);
    expect(s.at(15)).toBeCloseTo(0.1 * Math.pow(0.5, 1.5), 15);
    const st = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true });
    expect([9, 10, 19, 20].map((k) => st.at(k))).toEqual([0.1, 0.05, 0.05, 0.025]);
  });
  it('CosineDecay with and without warm-up, alpha floor, constant after the end', () => {
    const s = new CosineDecay({ initialLearningRate: 1, decaySteps: 100, alpha: 0.1 });
    expect(s.at(0)).toBe(1);
    expect(s.at(50)).toBeCloseTo(0.55, 12);
    expect(s.at(100)).toBeCloseTo(0.1, 12);
    expect(s.at(500)).toBeCloseTo(0.1, 12);
    const w = new CosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 2, warmupSteps: 10 });
    expect([0, 5, 10].map((k) => w.at(k))).toEqual([0, 1, 2]);
    expect(w.at(60)).toBeCloseTo(1, 12);
    expect(w.at(110)).toBeCloseTo(0, 12);
    expect(w.at(1000)).toBeCloseTo(0, 12);
  });
  it("OneCycle max 1 over 100 steps: PyTorch's OneCycleLR (cosine): 0.04 up to 1 at step 29, down to 4e-6 at 99", () => {
    const s = new OneCycle({ maxLearningRate: 1, totalSteps: 100 });
    expect(s.at(0)).toBeCloseTo(0.04, 12);
    expect(s.at(29)).toBeCloseTo(1, 12);
    expect(s.at(99)).toBeCloseTo(0.04 / 1e4, 15);
    expect(s.at(150)).toBeCloseTo(0.04 / 1e4, 15);
    // Half-way up and down: the cosine's midpoints.
    expect(s.at(14.5)).toBeCloseTo((0.04 + 1) / 2, 12);
    expect(s.at(64)).toBeCloseTo((1 + 4e-6) / 2, 12);
    for (let k = 1; k < 100; k++) expect(s.at(k) > s.at(k - 1)).toBe(k <= 29);
  });
  it('bad arguments throw naming the schedule', () => {
    expect(() => new PiecewiseConstantDecay({ boundaries: [10], values: [1] })).toThrow(
      /PiecewiseConstantDecay: values must have one more entry/,
    );
    expect(() => new PiecewiseConstantDecay({ boundaries: [10, 5], values: [1, 2, 3] })).toThrow(/boundaries must increase/);
    expect(() => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 })).toThrow(
      /ExponentialDecay: decaySteps must be a finite number > 0/,
    );
    expect(() => new CosineDecay({ initialLearningRate: NaN, decaySteps: 5 })).toThrow(ValueError);
    expect(() => new OneCycle({ maxLearningRate: 1, totalSteps: 10, pctStart: 1 })).toThrow(/pctStart must be in \(0, 1\)/);
    expect(() => new SGD({ learningRate: { className: 'Magic', config: {} } as never })).toThrow(
      /learning-rate schedule "Magic" is not supported/,
    );
  });
});

const rng = new Rng(4);
const X = tensor(
  Float32Array.from({ length: 12 * 5 * 3 }, () => rng.uniform() * 2 - 1),
  [12, 5, 3, 1],
);
const Y = Int32Array.from({ length: 12 }, (_, i) => i % 3);
const net = () => new Sequential([new Flatten({ inputShape: [5, 3, 1] }), new Dense({ units: 3, activation: 'softmax' })], { seed: 7 });

describe('schedules in optimizers', () => {
  const cases: [string, (s: ExponentialDecay | number) => Optimizer][] = [
    ['SGD', (lr) => new SGD({ learningRate: lr as never })],
    ['SGD momentum', (lr) => new SGD({ learningRate: lr as never, momentum: 0.9 })],
    ['Adam', (lr) => new Adam({ learningRate: lr as never })],
    ['RMSprop', (lr) => new RMSprop({ learningRate: lr as never })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: step k runs at schedule.at(k), bitwise as a rate set by hand before each step`, () => {
      const sched = new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 2, decayRate: 0.5 });
      const a = net(),
        b = net();
      a.compile({ optimizer: make(sched), loss: 'sparseCategoricalCrossentropy' });
      b.compile({ optimizer: make(0.05), loss: 'sparseCategoricalCrossentropy' });
      for (let k = 0; k < 5; k++) {
        b.optimizer!.learningRate = sched.at(k);
        a.trainOnBatch(X, Y);
        b.trainOnBatch(X, Y);
        expect(a.optimizer!.learningRate).toBe(sched.at(k));
      }
      expect(a.getWeights()).toEqual(b.getWeights());
      a.dispose();
      b.dispose();
    });
  }

  it('saved in Keras 3 form in the optimizer config; loading resumes the schedule bit for bit', async () => {
    const sched = new CosineDecay({ initialLearningRate: 0.01, decaySteps: 20, warmupTarget: 0.1, warmupSteps: 3 });
    const a = net();
    a.compile({ optimizer: new Adam({ learningRate: sched }), loss: 'sparseCategoricalCrossentropy' });
    await a.fit(X, Y, { epochs: 2, batchSize: 4, seed: 1 });
    const files = await a.save();
    const oc = files.modelJson as { trainingConfig?: Record<string, unknown>; training_config?: Record<string, unknown> };
    const training = (oc.trainingConfig ?? oc.training_config) as {
      optimizer_config: { config: { learning_rate?: unknown; learningRate?: unknown } };
    };
    expect(training.optimizer_config.config.learningRate ?? training.optimizer_config.config.learning_rate).toMatchObject({
      class_name: 'CosineDecay',
      config: { initial_learning_rate: 0.01, decay_steps: 20, warmup_target: 0.1, warmup_steps: 3, alpha: 0 },
    });
    const b = await loadModel(files);
    expect(b.optimizer!.learningRateSchedule!.toConfig()).toEqual(sched.toConfig());
    await a.fit(X, Y, { epochs: 1, batchSize: 4, seed: 2 });
    await b.fit(X, Y, { epochs: 1, batchSize: 4, seed: 2 });
    expect(b.getWeights()).toEqual(a.getWeights());
    expect(b.optimizer!.learningRate).toBe(sched.at(a.optimizer!.iterations - 1));
    a.dispose();
    b.dispose();
  });

  it('a scheduled learning rate cannot be set by hand', () => {
    const o = new SGD({ learningRate: new OneCycle({ maxLearningRate: 0.1, totalSteps: 10 }) });
    expect(() => (o.learningRate = 0.1)).toThrow(/follows a OneCycle schedule/);
  });
});
