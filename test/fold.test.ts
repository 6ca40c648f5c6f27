// BN folding at inference (engine/fold.ts): predictions of folded plans against the same model run
// unfolded (setInferenceFolding(false)), which layers still run a step, the saved weights untouched, and
// no stale folded kernel after weights change.
import { afterEach, describe, expect, it } from 'vitest';
import { setInferenceFolding } from '../src/engine/fold.js';
import {
  Activation,
  Add,
  BatchNormalization,
  Conv2D,
  Dense,
  Flatten,
  input,
  type Model,
  model,
  modelToArtifacts,
  ReLU,
  Sequential,
  SGD,
  type Tensor,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomWeights } from './batchnorm-reference.js';
import { randomTensor } from './gradcheck.js';
import { expectClose } from './helpers.js';

afterEach(() => setInferenceFolding(true));

/** Names of the layers that run a forward step in the model's current plan. */
const stepsOf = (m: Model) => m.runtime('test').current!.steps.map((s) => s.layer.name);

const maxAbs = (a: Float32Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);

interface Case {
  what: string;
  x: number[];
  make: () => Model;
  /** Layer names that must not run a step once folded. */
  folded: string[];
  /** Of the predictions' range (Winograd's transforms round the scaled filters differently). */
  tol?: number;
}

function residual(): Model {
  const x = input({ shape: [6, 7, 5] });
  const a = Conv2D({ filters: 5, kernelSize: 3, padding: 'same', name: 'c1' }).apply(x);
  const b = BatchNormalization({ name: 'bn1' }).apply(a);
  const r = ReLU({ name: 'r1' }).apply(b);
  const c = Conv2D({ filters: 5, kernelSize: 3, padding: 'same', useBias: false, name: 'c2' }).apply(r);
  const d = BatchNormalization({ name: 'bn2' }).apply(c);
  const s = Add({ name: 'add' }).apply([d, x]);
  const e = BatchNormalization({ name: 'bn3' }).apply(s);
  const f = ReLU({ name: 'r3' }).apply(e);
  const o = Dense({ units: 3, activation: 'softmax', name: 'out' }).apply(Flatten().apply(f));
  return model({ inputs: x, outputs: o });
}

const cases: Case[] = [
  {
    what: 'conv(5,3x3,same)-BN-ReLU-flatten-dense(3) x=[3,7,9,3]',
    x: [3, 7, 9, 3],
    make: () =>
      new Sequential([
        Conv2D({ inputShape: [7, 9, 3], filters: 5, kernelSize: 3, padding: 'same', name: 'c' }),
        BatchNormalization({ name: 'bn' }),
        ReLU({ name: 'r' }),
        Flatten(),
        Dense({ units: 3, activation: 'softmax', name: 'out' }),
      ]),
    folded: ['bn', 'r'],
  },
  {
    what: "conv(7,3x3,s2,valid,no bias)-BN(no scale)-Activation('relu') x=[2,11,13,5]",
    x: [2, 11, 13, 5],
    make: () =>
      new Sequential([
        Conv2D({ inputShape: [11, 13, 5], filters: 7, kernelSize: 3, strides: 2, useBias: false, name: 'c' }),
        BatchNormalization({ scale: false, name: 'bn' }),
        Activation({ activation: 'relu', name: 'a' }),
      ]),
    folded: ['bn', 'a'],
  },
  {
    what: 'Winograd conv(16,3x3,same)-BN-ReLU x=[2,10,10,8]',
    x: [2, 10, 10, 8],
    make: () =>
      new Sequential([
        Conv2D({ inputShape: [10, 10, 8], filters: 16, kernelSize: 3, padding: 'same', name: 'c' }),
        BatchNormalization({ name: 'bn' }),
        ReLU({ name: 'r' }),
      ]),
    folded: ['bn', 'r'],
    tol: 1e-5,
  },
  {
    what: 'dense(7,no bias)-BN(no center)-ReLU-dense(5)-BN x=[5,11]',
    x: [5, 11],
    make: () =>
      new Sequential([
        Dense({ inputShape: [11], units: 7, useBias: false, name: 'd' }),
        BatchNormalization({ center: false, name: 'bn' }),
        ReLU({ name: 'r' }),
        Dense({ units: 5, name: 'd2' }),
        BatchNormalization({ name: 'bn2' }),
      ]),
    folded: ['bn', 'r', 'bn2'],
  },
  {
    what: 'conv(relu)-BN-ReLU (BN cannot fold into a conv with an activation; it applies the ReLU itself) x=[1,5,5,3]',
    x: [1, 5, 5, 3],
    make: () =>
      new Sequential([
        Conv2D({ inputShape: [5, 5, 3], filters: 4, kernelSize: 2, activation: 'relu', name: 'c' }),
        BatchNormalization({ name: 'bn' }),
        ReLU({ name: 'r' }),
      ]),
    folded: ['r'],
  },
  {
    what: "conv(6,2x2)-Activation('tanh'), dense(4)-Activation('sigmoid') (activations fold without a BN) x=[2,5,6,3]",
    x: [2, 5, 6, 3],
    make: () =>
      new Sequential([
        Conv2D({ inputShape: [5, 6, 3], filters: 6, kernelSize: 2, name: 'c' }),
        Activation({ activation: 'tanh', name: 't' }),
        Flatten(),
        Dense({ units: 4, name: 'd' }),
        Activation({ activation: 'sigmoid', name: 's' }),
      ]),
    folded: ['t', 's'],
  },
  {
    what: 'residual: conv-BN-ReLU-conv-BN + skip, BN-ReLU after the add, dense(3,softmax) x=[2,6,7,5]',
    x: [2, 6, 7, 5],
    make: residual,
    folded: ['bn1', 'r1', 'bn2', 'r3'],
  },
];

describe('BN folding at inference', () => {
  for (const c of cases) {
    const tol = c.tol ?? 2e-6;
    it(`${c.what}: folded predictions equal the unfolded ones to ${tol} of their range; the folded layers run no step`, () => {
      const m = c.make(),
        ref = c.make();
      randomWeights(m, 7);
      ref.setWeights(m.getWeights());
      const x = randomTensor(c.x, new Rng(3));
      const folded = m.predict(x).data;
      setInferenceFolding(false);
      const unfolded = ref.predict(x).data;
      expect(stepsOf(ref)).toEqual(expect.arrayContaining(c.folded));
      expect(stepsOf(m).filter((n) => c.folded.includes(n))).toEqual([]);
      expectClose(folded, unfolded, { rtol: tol, atol: tol * maxAbs(unfolded) }, c.what);
      m.dispose();
      ref.dispose();
    });
  }

  it('conv-BN-ReLU x=[3,7,9,3]: predict leaves getWeights and the saved artifacts bit-identical; new weights (setWeights, a training step) fold again', async () => {
    const c = cases[0];
    const m = c.make(),
      ref = c.make();
    randomWeights(m, 11);
    const x = randomTensor(c.x, new Rng(5));
    const before = m.getWeights().map((w) => w.slice()),
      saved = modelToArtifacts(m);
    m.predict(x);
    expect(m.getWeights()).toEqual(before);
    expect(modelToArtifacts(m)).toEqual(saved);

    const check = (what: string) => {
      ref.setWeights(m.getWeights());
      setInferenceFolding(false);
      const unfolded = ref.predict(x).data;
      setInferenceFolding(true);
      expectClose(m.predict(x).data, unfolded, { rtol: 2e-6, atol: 2e-6 * maxAbs(unfolded) }, what);
    };
    randomWeights(m, 12);
    check('after setWeights');
    // A training step plans a training arena; a larger inference batch plans a folded one again.
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    m.trainOnBatch(x, Int32Array.from([0, 2, 1]));
    const big: Tensor = randomTensor([40, 7, 9, 3], new Rng(6));
    m.predict(big);
    expect(stepsOf(m)).not.toContain('bn');
    check('after a training step');
    m.dispose();
    ref.dispose();
  });
});
