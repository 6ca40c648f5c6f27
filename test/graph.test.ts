// The functional API and the host's contracts: input / apply / model, the layer registry (every layer's
// config both ways), shared weights and their lifetime, and the liveness-planned memory.
import { describe, expect, it } from 'vitest';
import {
  Activation,
  Add,
  BatchNormalization,
  Conv2D,
  currentBackend,
  Dense,
  Dropout,
  Flatten,
  getLayerClass,
  input,
  InputLayer,
  type Layer,
  MaxPool2D,
  Model,
  model,
  modelFromJSON,
  ReLU,
  Sequential,
  Softmax,
  SpatialDropout2D,
} from '../src/node.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';

const rng = new Rng(41);
const rand = (shape: number[]) => randomTensor(shape, rng);

describe('functional API', () => {
  it('input -> apply -> model: shapes with a null batch, layers in TF.js order, getLayer by name and index', () => {
    const x = input({ shape: [6, 6, 1], name: 'pixels' });
    expect(x.shape).toEqual([null, 6, 6, 1]);
    const c = Conv2D({ filters: 2, kernelSize: 3, name: 'c' }).apply(x);
    expect(c.shape).toEqual([null, 4, 4, 2]);
    const m = model({ inputs: x, outputs: Dense({ units: 3, name: 'd' }).apply(Flatten({ name: 'f' }).apply(c)) });
    expect(m).toBeInstanceOf(Model);
    expect(new Sequential()).toBeInstanceOf(Model);
    expect(m.layers.map((l) => l.name)).toEqual(['pixels', 'c', 'f', 'd']);
    expect(m.getLayer('f').className).toBe('Flatten');
    expect(m.getLayer(1).name).toBe('c');
    expect(() => m.getLayer('nope')).toThrow(/no layer named 'nope' \(layers: pixels, c, f, d\)/);
    expect(() => m.getLayer(9)).toThrow(/index 9 is out of range; the model has 4 layers/);
    expect(m.predict(rand([2, 6, 6, 1])).shape).toEqual([2, 3]);
    m.dispose();
  });

  it('refuses what it cannot connect, saying what and where', () => {
    const x = input({ shape: [4, 4, 2] }),
      other = input({ shape: [4, 4, 2], name: 'other' });
    expect(() => Conv2D({ filters: 2, kernelSize: 1 }).apply(rand([1, 4, 4, 2]) as never)).toThrow(
      /apply\(\) connects symbolic tensors .* model\(\{ inputs, outputs \}\)\.predict\(x\)/,
    );
    expect(() => ReLU({ name: 'two' }).apply([x, x])).toThrow(/two \(ReLU\): expected 1 input\(s\), received 2/);
    const shared = Conv2D({ filters: 2, kernelSize: 1, name: 'shared' });
    shared.apply(x);
    expect(() => shared.apply(input({ shape: [4, 4, 3] }))).toThrow(
      /shared \(Conv2D\): its weights were built for input \[null,4,4,2\]; it cannot also take \[null,4,4,3\]/,
    );
    expect(shared.output.shape).toEqual([null, 4, 4, 2]);
    shared.apply(x);
    expect(() => shared.output).toThrow(/shared: is used 2 times, so its output is ambiguous; use getOutputAt/);
    const sum = Add().apply([x, ReLU().apply(other)]);
    expect(() => model({ inputs: x, outputs: sum })).toThrow(/the graph is disconnected: 'other' is an input the model was not given/);
    expect(() => model({ inputs: [x, other], outputs: sum })).toThrow(/a model with 2 inputs is not supported yet/);
    expect(() => model({ inputs: x, outputs: x })).toThrow(/needs at least one layer/);
    const a = Dense({ units: 2, name: 'same' }).apply(Flatten().apply(x));
    expect(() => model({ inputs: x, outputs: Dense({ units: 2, name: 'same' }).apply(a) })).toThrow(/two layers are named 'same'/);
  });

  it('a layer used twice shares its weights; models that share layers share memory, freed with the last of them', () => {
    const be = currentBackend(),
      before = be.allocatedBytes;
    const x = input({ shape: [3, 3, 2] });
    const twice = Conv2D({ filters: 2, kernelSize: 3, padding: 'same', name: 'twice' });
    const m = model({ inputs: x, outputs: twice.apply(twice.apply(x)) });
    expect(m.weightSpecs().map((s) => s.name)).toEqual(['twice/kernel', 'twice/bias']);
    const half = model({ inputs: x, outputs: twice.getOutputAt(0) });
    const xs = rand([2, 3, 3, 2]);
    const w = m.getWeights().map((a) => a.map((v) => v * 2));
    m.setWeights(w);
    expect(half.getWeights()).toEqual(w);
    const p = half.predict(xs).data;
    m.dispose();
    expect(half.predict(xs).data).toEqual(p);
    half.dispose();
    expect(be.allocatedBytes).toBe(before);
    expect(() => model({ inputs: x, outputs: twice.getOutputAt(1) }).build()).toThrow(
      /layer 'twice' lost its weights when the last model using it was disposed/,
    );
  });

  it('a Sequential that fails to build leaves its layers usable elsewhere', () => {
    const ok = Conv2D({ filters: 2, kernelSize: 3, inputShape: [4, 4, 1] });
    const s = new Sequential([ok, Dense({ units: 2 })]);
    expect(() => s.build()).toThrow(/expected input of rank 2 .*put a Flatten\(\) layer before Dense/);
    expect(ok.inboundNodes.length).toBe(0);
    const m = new Sequential([ok, Flatten(), Dense({ units: 2 })]);
    expect(m.predict(rand([1, 4, 4, 1])).shape).toEqual([1, 2]);
    m.dispose();
  });
});

describe('the layer registry: every layer is found by its TF.js name and its config goes both ways', () => {
  const made: [string, () => Layer][] = [
    ['InputLayer', () => InputLayer({ inputShape: [3, 4, 2], name: 'in0' })],
    [
      'Conv2D',
      () =>
        Conv2D({
          filters: 3,
          kernelSize: [3, 1],
          strides: 2,
          padding: 'same',
          useBias: false,
          activation: 'relu',
          kernelInitializer: 'heUniform',
          trainable: false,
        }),
    ],
    ['MaxPooling2D', () => MaxPool2D({ poolSize: [2, 3], strides: 1, padding: 'same' })],
    ['AveragePooling2D', () => new (getLayerClass('AvgPool2D')! as unknown as new (a: object) => Layer)({ poolSize: 3 })],
    ['Dense', () => Dense({ units: 7, activation: 'softmax', biasInitializer: 'ones', inputShape: [5] })],
    ['Flatten', () => Flatten()],
    ['Dropout', () => Dropout({ rate: 0.25 })],
    ['SpatialDropout2D', () => SpatialDropout2D({ rate: 0.1, seed: 3 })],
    [
      'BatchNormalization',
      () => BatchNormalization({ axis: 3, momentum: 0.9, epsilon: 0.01, center: false, movingVarianceInitializer: 'zeros' }),
    ],
    ['ReLU', () => ReLU()],
    ['Softmax', () => Softmax({ axis: 3 })],
    ['Activation', () => Activation({ activation: 'relu' })],
    ['Add', () => Add()],
    ['Concatenate', () => getLayerClass('Concatenate')!.fromConfig({ axis: -1 })],
    ['Multiply', () => getLayerClass('Multiply')!.fromConfig({})],
    ['Average', () => getLayerClass('Average')!.fromConfig({})],
    ['Conv2D', () => Conv2D({ filters: 2, kernelSize: 3, dilationRate: [2, 3], padding: 'same' })],
    ['GlobalAveragePooling2D', () => getLayerClass('GlobalAvgPool2D')!.fromConfig({ dataFormat: 'channelsFirst' })],
    ['GlobalMaxPooling2D', () => getLayerClass('GlobalMaxPooling2D')!.fromConfig({ keepdims: false })],
    ['ZeroPadding2D', () => getLayerClass('ZeroPadding2D')!.fromConfig({ padding: [1, 2] })],
    [
      'Cropping2D',
      () =>
        getLayerClass('Cropping2D')!.fromConfig({
          cropping: [
            [1, 0],
            [2, 3],
          ],
          dataFormat: 'channelsFirst',
        }),
    ],
    ['UpSampling2D', () => getLayerClass('UpSampling2D')!.fromConfig({ size: [3, 2], interpolation: 'bilinear' })],
    ['Reshape', () => getLayerClass('Reshape')!.fromConfig({ targetShape: [4, -1, 2] })],
    [
      'Conv2DTranspose',
      () =>
        getLayerClass('Conv2DTranspose')!.fromConfig({
          filters: 3,
          kernelSize: [3, 2],
          strides: 2,
          padding: 'same',
          activation: 'relu',
          dilationRate: 1,
          outputPadding: null,
        }),
    ],
  ];
  for (const [cls, make] of made) {
    it(`${cls}: fromConfig(getConfig()) gives the same config`, () => {
      const l = make();
      expect(l.className).toBe(cls);
      const again = getLayerClass(cls)!.fromConfig(l.getConfig());
      expect(again.getConfig()).toEqual(l.getConfig());
    });
  }
  it('options it does not know, or supports only at another value, are errors naming the layer and option', () => {
    expect(() => Dense({ units: 3, actvation: 'relu' } as never)).toThrow(/dense_\d+ \(Dense\): unknown option 'actvation'/);
    expect(() => Conv2D({ filters: 1, kernelSize: 3, groups: 2 } as never)).toThrow(
      /\(Conv2D\): option groups=2 is not supported \(only 1\)/,
    );
    expect(() => Dense({ units: 3, dtype: 'float16' })).toThrow(/dtype 'float16' is not supported/);
    expect(() => Dense({ units: 3, kernelInitializer: 'gaussian' as never })).toThrow(/kernelInitializer 'gaussian' is not supported/);
  });
});

describe('memory planned by liveness', () => {
  /** 10 residual blocks (conv-relu-conv + skip, relu): 20 convs on [8,8,4]. */
  function deepResidual(): Model {
    const x = input({ shape: [8, 8, 4] });
    let h = x;
    for (let b = 0; b < 10; b++) {
      const c = Conv2D({ filters: 4, kernelSize: 3, padding: 'same' }).apply(
        Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h),
      );
      h = ReLU().apply(Add().apply([c, h]));
    }
    return model({ inputs: x, outputs: Softmax().apply(Dense({ units: 3 }).apply(Flatten().apply(h))) });
  }
  const A = 32 * 8 * 8 * 4 * 4; // one activation at batch 32, bytes

  it('a 20-conv residual net holds a few activations at inference, and far fewer than one per tensor (plus gradients) in training', () => {
    const m = deepResidual();
    const lines: string[] = [];
    m.summary((l) => lines.push(l));
    const [, train, infer] = lines
      .join('\n')
      .match(/activations at batch 32: ([\d.]+) KiB for training, ([\d.]+) KiB for inference/)!
      .map(Number);
    const tensors = m.layers.length; // one output per layer
    expect(infer * 1024).toBeLessThanOrEqual(4 * A + 64 * 1024); // + conv scratch, labels
    expect(train * 1024).toBeLessThan(0.5 * 2 * tensors * A); // naive: every activation and its gradient
    m.dispose();
  });

  it("summary's planned bytes are what training then allocates", () => {
    const m = deepResidual();
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const be = currentBackend();
    const before0 = be.allocatedBytes;
    m.build();
    const built = be.allocatedBytes;
    const text = () => {
      const lines: string[] = [];
      m.summary((l) => lines.push(l));
      return lines.join('\n');
    };
    const kib = (t: string, re: RegExp) => Number(t.match(re)![1]) * 1024;
    // Weights and gradients are placed at build; the activations when a batch comes.
    const before = text();
    expect(Math.abs(built - before0 - kib(before, /weights ([\d.]+) KiB/) - kib(before, /gradients ([\d.]+) KiB/))).toBeLessThanOrEqual(
      2 * 52 + 64,
    );
    m.computeGradients(
      rand([32, 8, 8, 4]),
      Int32Array.from({ length: 32 }, (_, i) => i % 3),
    );
    expect(Math.abs(be.allocatedBytes - built - kib(text(), /([\d.]+) KiB for training/))).toBeLessThanOrEqual(52 + 64); // KiB rounding, alignment
    m.dispose();
  });

  it('modelFromJSON builds a fresh model from TF.js JSON, weights from its seed', () => {
    const m = deepResidual();
    const a = modelFromJSON(m.toJSON(), { seed: 3 }),
      b = modelFromJSON(m.toJSON(null, false) as Record<string, unknown>, { seed: 3 });
    expect(a.getWeights()).toEqual(b.getWeights());
    expect(a.layers.map((l) => l.className)).toEqual(m.layers.map((l) => l.className));
    for (const x of [m, a, b]) x.dispose();
    expect(() => modelFromJSON({ class_name: 'Sequential', config: { layers: [] } })).toThrow(/the model has no layers/);
  });
});
