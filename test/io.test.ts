// Saving and loading in the TF.js layers format, simdcnn to simdcnn: files in a directory, file:// URLs and
// in-memory objects give bit-identical predictions; optimizer state resumes training bit for bit; anything
// corrupt or unsupported is a ModelFormatError that allocates nothing. (TF.js and Keras: io-tfjs.test.ts.)
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Adam, currentBackend, loadModel, modelToArtifacts, ModelFormatError, SGD, tensor, ValueError } from '../src/node.js';
import type { ModelFiles } from '../src/io/registry.js';
import { archs } from './io-archs.js';
import { Rng } from '../src/random.js';
import { randomTensor } from './gradcheck.js';

const dir = () => mkdtempSync(join(tmpdir(), 'simdcnn-io-'));
const rng = new Rng(11);
const rand = (shape: number[]) => randomTensor(shape, rng);

describe('simdcnn -> files -> simdcnn is bit-identical', () => {
  for (const [name, shape, make] of archs) {
    it(name, async () => {
      const m = make();
      const x = rand([5, ...shape]);
      const want = m.predict(x).data;
      const d = dir();
      const saved = await m.save(d);
      expect(saved.location).toBe(join(d, 'model.json'));
      const fromDir = await loadModel(d);
      const fromUrl = await loadModel(pathToFileURL(join(d, 'model.json')).href);
      const fromMemory = await loadModel(await m.save('memory://'));
      for (const back of [fromDir, fromUrl, fromMemory]) {
        expect(back.predict(x).data).toEqual(want);
        expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
        expect(back.name).toBe(m.name);
        back.dispose();
      }
      m.dispose();
    });
  }

  it('model.json is the TF.js layers format; the weights are little-endian float32 in getWeights order', async () => {
    const m = archs[0][2]();
    const d = dir();
    await m.save(join(d, 'net.json'));
    const json = JSON.parse(readFileSync(join(d, 'net.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.modelTopology.keras_version).toBe('tfjs-layers 4.22.0');
    expect(json.modelTopology.config.layers[0]).toMatchObject({
      class_name: 'Conv2D',
      config: {
        filters: 4,
        kernel_size: [3, 3],
        strides: [2, 2],
        padding: 'same',
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        activation: 'relu',
        use_bias: true,
        kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } },
        batch_input_shape: [null, 9, 7, 3],
        dtype: 'float32',
        trainable: true,
      },
    });
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(m.weightSpecs().map((s) => s.name));
    const bin = readFileSync(join(d, json.weightsManifest[0].paths[0]));
    const f32 = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    expect(f32).toEqual(Float32Array.from(m.getWeights().flatMap((w) => Array.from(w))));
  });

  it('loadModel takes Node Buffers, a list of weight buffers and ModelArtifacts as well', async () => {
    const m = archs[2][2]();
    const x = rand([3, 13]);
    const files = await m.save();
    const bytes = new Uint8Array(files.weights as ArrayBuffer);
    const split: ModelFiles = { modelJson: files.modelJson, weights: [bytes.slice(0, 100).buffer, bytes.slice(100).buffer] };
    for (const src of [split, { modelJson: files.modelJson, weights: Buffer.from(bytes) as unknown as ArrayBuffer }, modelToArtifacts(m)]) {
      const back = await loadModel(src);
      expect(back.predict(x).data).toEqual(m.predict(x).data);
      back.dispose();
    }
  });

  it('userDefinedMetadata round-trips (model.metadata and save options)', async () => {
    const m = archs[2][2]();
    m.metadata = { inputRange: [0, 1] };
    const back = await loadModel(await m.save(undefined, { metadata: { dataset: 'mnist' } }));
    expect(back.metadata).toEqual({ inputRange: [0, 1], dataset: 'mnist' });
  });

  it("'file://./relative/dir' (TF.js's relative form) saves and loads the folder relative to the working directory", async () => {
    const m = archs[0][2]();
    const d = dir();
    const rel = relative(process.cwd(), join(d, 'm'));
    expect(rel.startsWith('/')).toBe(false);
    await m.save(`file://./${rel}`);
    expect(existsSync(join(d, 'm', 'model.json'))).toBe(true);
    const back = await loadModel(`file://./${rel}/model.json`);
    const x = randomTensor([2, ...m.inputShape], new Rng(5));
    expect(back.predict(x).data).toEqual(m.predict(x).data);
  });

  it('unknown targets are refused with the supported ones named', async () => {
    const m = archs[2][2]();
    await expect(m.save('indexeddb://x')).rejects.toThrow(ValueError);
    await expect(m.save('downloads://x')).rejects.toThrow(/in Node use a path or file:\/\//);
    await expect(loadModel('https://example.com/model.json')).rejects.toThrow(ValueError);
  });
});

describe('optimizer state', () => {
  const opts = [
    ['SGD momentum 0.9', () => new SGD({ learningRate: 0.05, momentum: 0.9 })],
    ['Adam', () => new Adam({ learningRate: 0.01 })],
    ['plain SGD', () => new SGD({ learningRate: 0.1 })],
  ] as const;
  for (const [name, opt] of opts) {
    it(`${name}: 3 steps, save, load, 3 more steps == 6 steps, bit for bit`, async () => {
      const make = () => {
        const m = archs[0][2]();
        m.compile({ optimizer: opt(), loss: 'sparseCategoricalCrossentropy' });
        return m;
      };
      const xs = [0, 1, 2, 3, 4, 5].map(() => rand([4, 9, 7, 3]));
      const y = [0, 1, 2, 4];
      const a = make(),
        b = make();
      b.setWeights(a.getWeights());
      for (const x of xs) a.trainOnBatch(x, y);
      for (const x of xs.slice(0, 3)) b.trainOnBatch(x, y);
      const d = dir();
      await b.save(d);
      const c = await loadModel(d);
      expect(c.optimizer!.getConfig()).toEqual(b.optimizer!.getConfig());
      expect(c.loss).toBe('sparseCategoricalCrossentropy');
      for (const x of xs.slice(3)) c.trainOnBatch(x, y);
      expect(c.getWeights()).toEqual(a.getWeights());
      expect(c.optimizer!.iterations).toBe(6);
      for (const m of [a, b, c]) m.dispose();
    });
  }

  it('includeOptimizer: false saves no state; the model still loads compiled, with a fresh optimizer', async () => {
    const m = archs[2][2]();
    m.compile({ optimizer: new Adam(), loss: 'categoricalCrossentropy' });
    m.trainOnBatch(rand([2, 13]), tensor([1, 0, 0, 0, 0, 1, 0, 0], [2, 4]));
    const files = await m.save(undefined, { includeOptimizer: false });
    expect(files.optimizerWeights).toBeUndefined();
    const back = await loadModel(files);
    expect(back.loss).toBe('categoricalCrossentropy');
    expect(back.optimizer!.iterations).toBe(0);
  });
});

describe('files are replaced atomically and old files cleaned up', () => {
  it('saving over a model replaces it; only the new files remain, no temp files', async () => {
    const d = dir();
    const m1 = archs[0][2](),
      m2 = archs[0][2]();
    m1.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
    m1.trainOnBatch(rand([2, 9, 7, 3]), [0, 1]);
    await m1.save(d);
    expect(readdirSync(d).filter((f) => f.endsWith('.bin')).length).toBe(2); // weights + optimizer
    await m2.save(d);
    const files = readdirSync(d);
    expect(files.filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.bin')).length).toBe(1);
    const x = rand([2, 9, 7, 3]);
    expect((await loadModel(d)).predict(x).data).toEqual(m2.predict(x).data);
  });

  it('cleanup never touches files outside the old manifest, model.json or other directories', async () => {
    const d = dir();
    const m = archs[2][2]();
    writeFileSync(join(d, 'keep.bin'), 'x');
    writeFileSync(
      join(d, 'model.json'),
      JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../escape.bin', 'model.json', ['nested.bin']], weights: [] }] }),
    );
    await m.save(d);
    expect(existsSync(join(d, 'keep.bin'))).toBe(true);
    expect((await loadModel(d)).predict(rand([1, 13])).shape).toEqual([1, 4]);
  });
});

describe('corrupt or unsupported files are refused with ModelFormatError, allocating nothing', () => {
  async function saved(compiled = false) {
    const d = dir();
    const m = archs[0][2]();
    if (compiled) {
      m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
      m.trainOnBatch(rand([2, 9, 7, 3]), [0, 1]);
    }
    await m.save(d);
    const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    return { d, json, bin: join(d, json.weightsManifest[0].paths[0]) };
  }
  type S = Awaited<ReturnType<typeof saved>>;
  const edit = (f: (s: S, layers: { class_name: string; config: Record<string, unknown> }[]) => void) => (s: S) => {
    f(s, s.json.modelTopology.config.layers);
    writeFileSync(join(s.d, 'model.json'), JSON.stringify(s.json));
  };
  const cases: [string, (s: S) => void, RegExp, boolean?][] = [
    [
      'truncated weight file',
      (s) => writeFileSync(s.bin, readFileSync(s.bin).subarray(0, 100)),
      /hold 100 bytes, its weights need \d+ \(truncated or mismatched weight file\)/,
    ],
    [
      'extra bytes in the weight file',
      (s) => writeFileSync(s.bin, Buffer.concat([readFileSync(s.bin), Buffer.alloc(8)])),
      /truncated or mismatched/,
    ],
    [
      'missing weight file',
      edit((s) => {
        s.json.weightsManifest[0].paths = ['nope.bin'];
      }),
      /nope\.bin: cannot read weight file/,
    ],
    [
      'a weight path leaving the directory',
      edit((s) => {
        s.json.weightsManifest[0].paths = ['../x.bin'];
      }),
      /weight file path "\.\.\/x\.bin" leads out of the model folder/,
    ],
    ['mangled JSON', (s) => writeFileSync(join(s.d, 'model.json'), '{"modelTopology": {'), /not valid JSON/],
    ['model.json of random bytes', (s) => writeFileSync(join(s.d, 'model.json'), Buffer.from([0xff, 0xfe, 0, 1, 2])), /not valid JSON/],
    [
      'a graph model',
      edit((s) => {
        s.json.format = 'graph-model';
      }),
      /graph models are not supported/,
    ],
    [
      'a weight of the wrong shape',
      edit((s) => {
        s.json.weightsManifest[0].weights[0].shape = [3, 3, 4, 3];
      }),
      /has shape \[3,3,4,3\] but layer weight .* needs \[3,3,3,4\]/,
    ],
    [
      'a weight too few',
      (s) => {
        edit((t) => {
          t.json.weightsManifest[0].weights.pop();
        })(s);
        writeFileSync(s.bin, readFileSync(s.bin).subarray(0, -20));
      },
      /the model has 4 weights .*, the file 3/,
    ],
    [
      'an unsupported layer',
      edit((_, l) => {
        l.splice(1, 0, { class_name: 'LSTM', config: { name: 'lstm', units: 4 } });
      }),
      /layer 'lstm' \(LSTM\): layer class 'LSTM' is not supported/,
    ],
    [
      'an unsupported activation',
      edit((_, l) => {
        l[0].config.activation = 'mish';
      }),
      /\(Conv2D\): activation 'mish' is not supported/,
    ],
    [
      'dilation with strides',
      edit((_, l) => {
        l[0].config.dilation_rate = [2, 2];
      }),
      /strides \[2,2\] with dilationRate \[2,2\]: either the strides or the dilation rate must be 1/,
    ],
    [
      'groups',
      edit((_, l) => {
        l[0].config.groups = 2;
      }),
      /\(Conv2D\): option groups=2 is not supported/,
    ],
    [
      'channels_first',
      edit((_, l) => {
        l[1].config.data_format = 'channels_first';
      }),
      /\(MaxPooling2D\): option data_format='channels_first' is not supported/,
    ],
    [
      'padding causal',
      edit((_, l) => {
        l[0].config.padding = 'causal';
      }),
      /padding 'causal' is not supported/,
    ],
    [
      'an activity regularizer',
      edit((_, l) => {
        l[3].config.activity_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
      }),
      /\(Dense\): option activity_regularizer=.* is not supported/,
    ],
    [
      'a float16 layer',
      edit((_, l) => {
        l[3].config.dtype = 'float16';
      }),
      /\(Dense\): dtype 'float16' is not supported/,
    ],
    [
      'a mixed-precision policy (Keras 3)',
      edit((_, l) => {
        l[3].config.dtype = { class_name: 'DTypePolicy', config: { name: 'mixed_float16' } };
      }),
      /dtype 'mixed_float16' is not supported/,
    ],
    [
      'relu with a negative max_value',
      edit((_, l) => {
        l.splice(1, 0, { class_name: 'ReLU', config: { name: 'r6', max_value: -6 } });
      }),
      /layer 'r6' \(ReLU\): maxValue must be a finite number >= 0, received -6/,
    ],
    [
      'softmax over another axis',
      edit((_, l) => {
        l.splice(1, 0, { class_name: 'Softmax', config: { name: 'sm', axis: 1 } });
      }),
      /layer 'sm' \(Softmax\): axis 1 is not supported/,
    ],
    [
      'a Sequential layer list read as a functional model',
      edit((s) => {
        s.json.modelTopology.class_name = 'Model';
      }),
      /\(Conv2D\): inbound_nodes is missing/,
    ],
    [
      'an unknown model class',
      edit((s) => {
        s.json.modelTopology.class_name = 'Graph';
      }),
      /model class_name 'Graph' is not supported \(Sequential, Model, Functional\)/,
    ],
    [
      'float16 weights',
      edit((s) => {
        s.json.weightsManifest[0].weights[0].dtype = 'float16';
      }),
      /weight '.*' has dtype 'float16'; only float32/,
    ],
    [
      'quantized weights',
      edit((s) => {
        s.json.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', scale: 1, min: 0 };
      }),
      /is quantized/,
    ],
    [
      'two layers with one name',
      edit((_, l) => {
        l[1].config.name = l[0].config.name;
      }),
      /the layer name is used twice/,
    ],
    [
      'no input shape',
      edit((_, l) => {
        delete l[0].config.batch_input_shape;
      }),
      /has no batch_input_shape/,
    ],
    [
      'a variable input size',
      edit((_, l) => {
        l[0].config.batch_input_shape = [null, null, null, 3];
      }),
      /unknown or invalid dimensions; simdcnn needs a fixed input size/,
    ],
    [
      'Dense on a rank-3 input',
      edit((_, l) => {
        l.splice(2, 1);
      }),
      /layer '.*' \(Dense\): .*expected input of rank 2/,
    ],
    [
      'an optimizer file that does not match its manifest',
      (s) => {
        const p = join(s.d, s.json.userDefinedMetadata.simdcnnOptimizer.path);
        writeFileSync(p, readFileSync(p).subarray(4));
      },
      /the optimizer file holds \d+ bytes, its manifest says 2 x \d+ floats/,
      true,
    ],
    [
      'a missing optimizer file',
      edit((s) => {
        s.json.userDefinedMetadata.simdcnnOptimizer.path = 'gone.bin';
      }),
      /gone\.bin: cannot read optimizer file \(ENOENT\)/,
      true,
    ],
    [
      'optimizer state for another optimizer',
      edit((s) => {
        s.json.trainingConfig.optimizer_config = { class_name: 'Momentum', config: { learningRate: 0.1, momentum: 0.9 } };
      }),
      /optimizer state: is for Adam but the training config says SGD/,
      true,
    ],
  ];
  for (const [what, damage, msg, compiled] of cases) {
    it(what, async () => {
      const s = await saved(compiled);
      damage(s);
      const before = currentBackend().allocatedBytes;
      const err = await loadModel(s.d).catch((e) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect(err.message).toMatch(msg);
      expect(currentBackend().allocatedBytes).toBe(before);
    });
  }
  it('a directory with no model', async () => {
    await expect(loadModel(dir())).rejects.toThrow(/model\.json: cannot read \(ENOENT\)/);
  });
});
