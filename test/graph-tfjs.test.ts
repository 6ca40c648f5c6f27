// Graph models against TensorFlow.js (tfjs-layers 4.22, cpu backend), as a user would check them: the same
// residual CNN (conv-relu-conv + skip Add, a Concatenate branch) and a gated net (Multiply, Average) give
// TF.js's predictions and TF.js's weights after SGD steps; layers and weights come in TF.js's order (frozen
// weights last); summary() prints TF.js's table; graph models saved by either load in the other, a cut model
// with a new head included, with their trainable flags.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Add,
  Average,
  Concatenate,
  Conv2D,
  Dense,
  Flatten,
  input,
  loadModel,
  MaxPool2D,
  type Model,
  type ModelArtifacts,
  model,
  Multiply,
  ReLU,
  Sequential,
  SGD,
  type Tensor,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';
import { copyWeights, maxDiff, tf, tfjsArtifacts, tfPredict, tfWeights, toTfjs } from './tfjs-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const rng = new Rng(31);
const rand = (shape: number[]) => randomTensor(shape, rng);

/** img [9,9,3] -> c1 (5, 3x3 same, relu) -> c2 (5, 3x3 same) -> skip = c2 + c1 -> relu -> [r, br (3, 1x1)] concatenated -> pool -> dense 7 softmax. */
function residualOurs(seed = 1): Model {
  const img = input({ shape: [9, 9, 3], name: 'img' });
  const c1 = Conv2D({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }).apply(img);
  const c2 = Conv2D({ filters: 5, kernelSize: 3, padding: 'same', name: 'c2' }).apply(c1);
  const r = ReLU({ name: 'r' }).apply(Add({ name: 'skip' }).apply([c2, c1]));
  const cat = Concatenate({ name: 'cat' }).apply([r, Conv2D({ filters: 3, kernelSize: 1, name: 'br' }).apply(r)]);
  const out = Dense({ units: 7, activation: 'softmax', name: 'out' }).apply(
    Flatten({ name: 'f' }).apply(MaxPool2D({ poolSize: 2, name: 'pool' }).apply(cat)),
  );
  return model({ inputs: img, outputs: out, name: 'residual', seed });
}
function residualTf(): tf.LayersModel {
  const L = tf.layers;
  const img = tf.input({ shape: [9, 9, 3], name: 'img' });
  const c1 = L.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }).apply(img) as tf.SymbolicTensor;
  const c2 = L.conv2d({ filters: 5, kernelSize: 3, padding: 'same', name: 'c2' }).apply(c1) as tf.SymbolicTensor;
  const r = L.reLU({ name: 'r' }).apply(L.add({ name: 'skip' }).apply([c2, c1])) as tf.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([r, L.conv2d({ filters: 3, kernelSize: 1, name: 'br' }).apply(r) as tf.SymbolicTensor]);
  const out = L.dense({ units: 7, activation: 'softmax', name: 'out' }).apply(
    L.flatten({ name: 'f' }).apply(L.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(cat)),
  );
  return tf.model({ inputs: img, outputs: out as tf.SymbolicTensor, name: 'residual' });
}

/** x [6,6,2] -> a (4, 3x3 same, relu), b (4, 1x1) -> gate = a * b -> mean(gate, a) -> flatten -> dense 5 softmax. */
function gatedOurs(): Model {
  const x = input({ shape: [6, 6, 2], name: 'x' });
  const a = Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }).apply(x);
  const b = Conv2D({ filters: 4, kernelSize: 1, name: 'b' }).apply(x);
  const m = Average({ name: 'mean' }).apply([Multiply({ name: 'gate' }).apply([a, b]), a]);
  return model({
    inputs: x,
    outputs: Dense({ units: 5, activation: 'softmax', name: 'out' }).apply(Flatten({ name: 'f' }).apply(m)),
    seed: 2,
  });
}
function gatedTf(): tf.LayersModel {
  const L = tf.layers;
  const x = tf.input({ shape: [6, 6, 2], name: 'x' });
  const a = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }).apply(x) as tf.SymbolicTensor;
  const b = L.conv2d({ filters: 4, kernelSize: 1, name: 'b' }).apply(x) as tf.SymbolicTensor;
  const m = L.average({ name: 'mean' }).apply([L.multiply({ name: 'gate' }).apply([a, b]) as tf.SymbolicTensor, a]);
  return tf.model({
    inputs: x,
    outputs: L.dense({ units: 5, activation: 'softmax', name: 'out' }).apply(L.flatten({ name: 'f' }).apply(m)) as tf.SymbolicTensor,
  });
}

/** Largest |a - b| relative to the magnitude of b's weight (floored at 1e-3, so near-zero weights compare absolutely). */
function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((w, i) => {
    const scale = Math.max(1e-3, ...Array.from(b[i], Math.abs));
    m = Math.max(m, maxDiff(w, b[i]) / scale);
  });
  return m;
}

const nets: [string, () => Model, () => tf.LayersModel, number[], number][] = [
  ['residual CNN (conv-relu-conv + skip Add, Concatenate branch)', residualOurs, residualTf, [9, 9, 3], 7],
  ['gated CNN (Multiply, Average)', gatedOurs, gatedTf, [6, 6, 2], 5],
];

describe('graph models compute what TF.js computes', () => {
  for (const [name, ours, theirs, shape, classes] of nets) {
    it(`${name}: layers and weights in TF.js's order, predictions to 1e-5, weights after 3 SGD steps to 1e-4 relative`, async () => {
      const a = ours(),
        b = theirs();
      expect(a.layers.map((l) => `${l.name}:${l.className}`)).toEqual(b.layers.map((l) => `${l.name}:${l.getClassName()}`));
      expect(a.weightSpecs().map((s) => s.name)).toEqual(b.weights.map((v) => v.originalName));
      copyWeights(a, b);
      const x = rand([6, ...shape]);
      expect(maxDiff(a.predict(x).data, tfPredict(b, x))).toBeLessThan(1e-5);
      const y = Int32Array.from({ length: 6 }, (_, i) => (i * 3) % classes);
      a.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
      b.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
      for (let s = 0; s < 3; s++) {
        const la = a.trainOnBatch(x, y).loss;
        const lb = (await b.trainOnBatch(tf.tensor(x.data, x.shape), tf.tensor1d(y, 'float32'))) as number;
        expect(Math.abs(la - lb), `loss at step ${s}`).toBeLessThan(1e-5);
      }
      expect(
        maxRelDiff(
          a.getWeights(),
          tfWeights(b).map((w) => w.data),
        ),
      ).toBeLessThan(1e-4);
      a.dispose();
    });
  }

  it('a frozen layer: its weights move to the end of getWeights, as in TF.js, and stay bit-identical while the rest trains as TF.js trains it', async () => {
    const a = residualOurs(3),
      b = residualTf();
    copyWeights(a, b);
    a.getLayer('c1').trainable = false;
    b.getLayer('c1').trainable = false;
    expect(a.weightSpecs().map((s) => `${s.name}:${s.trainable}`)).toEqual(b.weights.map((v) => `${v.originalName}:${v.trainable}`));
    const before = a.getWeights();
    const x = rand([4, 9, 9, 3]),
      y = Int32Array.from([1, 6, 0, 3]);
    a.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    b.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    for (let s = 0; s < 2; s++) {
      a.trainOnBatch(x, y);
      await b.trainOnBatch(tf.tensor(x.data, x.shape), tf.tensor1d(y, 'float32'));
    }
    const after = a.getWeights();
    const frozen = a
      .weightSpecs()
      .map((s, i) => (s.trainable ? -1 : i))
      .filter((i) => i >= 0);
    expect(frozen.length).toBe(2);
    for (const i of frozen) expect(Buffer.from(after[i].buffer).equals(Buffer.from(before[i].buffer))).toBe(true);
    expect(
      maxRelDiff(
        after,
        tfWeights(b).map((w) => w.data),
      ),
    ).toBeLessThan(1e-4);
    a.dispose();
  });
});

describe("summary() prints TF.js's table", () => {
  const tfLines = (m: tf.LayersModel) => {
    const out: string[] = [];
    m.summary(undefined, undefined, (l: string) => out.push(l));
    return out;
  };
  const ourLines = (m: Model) => {
    const out: string[] = [];
    m.summary((l) => out.push(l));
    return out;
  };
  it('a graph model (Receives inputs column), then with a frozen layer (trainable and non-trainable counts)', () => {
    const a = residualOurs(),
      b = residualTf();
    const ours = ourLines(a),
      theirs = tfLines(b);
    expect(ours.slice(0, theirs.length)).toEqual(theirs);
    expect(ours.slice(theirs.length).join('\n')).toMatch(
      /^Planned memory: weights [\d.]+ KiB, gradients [\d.]+ KiB, optimizer state - \(not compiled\)\n {2}activations at batch 32: [\d.]+ KiB for training, [\d.]+ KiB for inference$/,
    );
    a.getLayer('c2').trainable = false;
    b.getLayer('c2').trainable = false;
    expect(ourLines(a).slice(0, theirs.length)).toEqual(tfLines(b));
    expect(ourLines(a).find((l) => l.startsWith('Non-trainable'))).toBe('Non-trainable params: 230');
    a.dispose();
  });
  it('a Sequential (the sequential layout, no input layer row)', () => {
    const a = new Sequential([
      Conv2D({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], name: 'conv' }),
      MaxPool2D({ name: 'pool' }),
      Flatten({ name: 'flat' }),
      Dense({ units: 3, activation: 'softmax', name: 'probs' }),
    ]);
    const b = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], name: 'conv' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }),
      ],
    });
    const theirs = tfLines(b);
    expect(ourLines(a).slice(0, theirs.length)).toEqual(theirs);
    a.dispose();
  });
});

/** base (residual) cut at 'r', then a new head: conv 2 1x1 -> flatten -> dense 4 softmax; the base's conv layers frozen. */
function cutAndHeadTf(): tf.LayersModel {
  const base = residualTf();
  const h = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'h_conv' }).apply(base.getLayer('r').output);
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'h_out' }).apply(tf.layers.flatten({ name: 'h_flat' }).apply(h));
  for (const n of ['c1', 'c2']) base.getLayer(n).trainable = false;
  return tf.model({ inputs: base.inputs, outputs: out as tf.SymbolicTensor, name: 'tuned' });
}
function cutAndHeadOurs(): { base: Model; tuned: Model } {
  const base = residualOurs(4);
  const h = Conv2D({ filters: 2, kernelSize: 1, name: 'h_conv' }).apply(base.getLayer('r').output);
  const out = Dense({ units: 4, activation: 'softmax', name: 'h_out' }).apply(Flatten({ name: 'h_flat' }).apply(h));
  for (const n of ['c1', 'c2']) base.getLayer(n).trainable = false;
  return { base, tuned: model({ inputs: base.inputs, outputs: out, name: 'tuned', seed: 5 }) };
}
const trainableFlags = (layers: { name: string; trainable: boolean }[]) => layers.map((l) => `${l.name}:${l.trainable}`);

describe('graph models in the TF.js layers format, both ways', () => {
  it('TF.js -> simdcnn: a residual net and a cut-and-headed model (frozen base) predict the same (1e-5), with their trainable flags', async () => {
    for (const t of [residualTf(), cutAndHeadTf()]) {
      const art = await tfjsArtifacts(t);
      expect(art.modelTopology).toMatchObject({ class_name: 'Model' });
      const ours = await loadModel(art as ModelArtifacts);
      const x = rand([3, 9, 9, 3]);
      expect(maxDiff(ours.predict(x).data, tfPredict(t, x))).toBeLessThan(1e-5);
      expect(trainableFlags(ours.layers)).toEqual(trainableFlags(t.layers));
      expect(ours.weightSpecs().map((s) => s.name)).toEqual(t.weights.map((v) => v.originalName));
      ours.dispose();
    }
  });

  it('simdcnn -> TF.js: the same two models load in TF.js with the same predictions, flags and the JSON TF.js writes', async () => {
    const { base, tuned } = cutAndHeadOurs();
    for (const m of [residualOurs(6), tuned]) {
      const files = await m.save();
      const t = await toTfjs(files);
      const x = rand([3, 9, 9, 3]);
      expect(maxDiff(tfPredict(t, x), m.predict(x).data)).toBeLessThan(1e-5);
      expect(trainableFlags(t.layers)).toEqual(trainableFlags(m.layers));
      const again = await tfjsArtifacts(t);
      const strip = (v: unknown) =>
        JSON.parse(JSON.stringify(v), (k, w) => (k === 'kernel_initializer' || k === 'bias_initializer' ? undefined : w));
      expect(strip(files.modelJson.modelTopology)).toEqual(strip(again.modelTopology));
      m.dispose();
    }
    base.dispose();
  });

  it('a model saved by simdcnn comes back with its flags and predicts bit-identically; graph files from Keras 2 and 3 node forms load', async () => {
    const { base, tuned } = cutAndHeadOurs();
    const back = await loadModel(await tuned.save());
    const x = rand([2, 9, 9, 3]);
    expect(back.predict(x).data).toEqual(tuned.predict(x).data);
    expect(trainableFlags(back.layers)).toEqual(trainableFlags(tuned.layers));
    // Keras 2 writes 'Functional'; Keras 3 writes each call as {args: [keras tensors]}.
    const files = await tuned.save();
    const topo = structuredClone(files.modelJson.modelTopology) as {
      class_name: string;
      config: { layers: { inbound_nodes: unknown[] }[] };
    };
    topo.class_name = 'Functional';
    const k3 = structuredClone(topo);
    for (const l of k3.config.layers) {
      l.inbound_nodes = (l.inbound_nodes as [string, number, number, object][][]).map((call) => {
        const ts = call.map(([name, node, t]) => ({
          class_name: '__keras_tensor__',
          config: { shape: [null], dtype: 'float32', keras_history: [name, node, t] },
        }));
        return { args: ts.length === 1 ? ts : [ts], kwargs: {} };
      });
    }
    for (const t of [topo, k3]) {
      const m = await loadModel({ ...files, modelJson: { ...files.modelJson, modelTopology: t } });
      expect(m.predict(x).data).toEqual(tuned.predict(x).data);
      m.dispose();
    }
    for (const m of [back, tuned, base]) m.dispose();
  });
});

describe('fine-tuning: cut a model at an inner layer, add a head, freeze the base', () => {
  it("shares the base's weights, trains only the head and the unfrozen base layers; frozen weights bit-identical after fit", async () => {
    const { base, tuned } = cutAndHeadOurs();
    // The cut model uses the base's layers themselves: same weights, one copy.
    expect(tuned.getLayer('c1')).toBe(base.getLayer('c1'));
    const x = rand([12, 9, 9, 3]),
      y = Int32Array.from({ length: 12 }, (_, i) => i % 4);
    const frozenBefore = ['c1', 'c2'].map((n) => base.getWeights()[base.weightSpecs().findIndex((s) => s.name === `${n}/kernel`)]);
    const brBefore = base.getWeights()[base.weightSpecs().findIndex((s) => s.name === 'br/kernel')];
    const headBefore = tuned.getWeights()[tuned.weightSpecs().findIndex((s) => s.name === 'h_conv/kernel')];
    const baseOut = base.predict(x).data;
    tuned.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await tuned.fit(x, y, { epochs: 3, batchSize: 4 });
    const frozenAfter = ['c1', 'c2'].map((n) => base.getWeights()[base.weightSpecs().findIndex((s) => s.name === `${n}/kernel`)]);
    frozenAfter.forEach((w, i) =>
      expect(Buffer.from(w.buffer).equals(Buffer.from(frozenBefore[i].buffer)), `frozen layer ${i}`).toBe(true),
    );
    // 'br' is not in the cut model: untouched. The head trained.
    expect(base.getWeights()[base.weightSpecs().findIndex((s) => s.name === 'br/kernel')]).toEqual(brBefore);
    expect(tuned.getWeights()[tuned.weightSpecs().findIndex((s) => s.name === 'h_conv/kernel')]).not.toEqual(headBefore);
    expect(base.predict(x).data).toEqual(baseOut);
    // Disposing the base keeps the layers the cut model still uses.
    base.dispose();
    expect(tuned.predict(x).shape).toEqual([12, 4]);
    tuned.dispose();
  });

  it('a frozen layer with nothing trainable upstream is skipped in backward; one below a trainable layer computes only dx', () => {
    const x = input({ shape: [5, 5, 2] });
    const first = Conv2D({ filters: 3, kernelSize: 3, padding: 'same', name: 'first' });
    const mid = Conv2D({ filters: 3, kernelSize: 3, padding: 'same', name: 'mid' });
    const out = Dense({ units: 2, activation: 'softmax' }).apply(Flatten().apply(mid.apply(first.apply(x))));
    const m = model({ inputs: x, outputs: out });
    const calls: Record<string, { dx: boolean[]; dw: boolean }[]> = { first: [], mid: [] };
    for (const l of [first, mid]) {
      const orig = l.backward.bind(l);
      l.backward = (io, n, need, ctx) => {
        calls[l.name].push({ dx: [...need.dx], dw: need.dw });
        orig(io, n, need, ctx);
      };
    }
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const xs = rand([2, 5, 5, 2]);
    first.trainable = false;
    mid.trainable = false;
    m.trainOnBatch(xs, [0, 1]);
    expect(calls).toEqual({ first: [], mid: [] });
    first.trainable = true;
    m.trainOnBatch(xs, [0, 1]);
    expect(calls).toEqual({ first: [{ dx: [false], dw: true }], mid: [{ dx: [true], dw: false }] });
    m.dispose();
  });
});

export type { Tensor };
