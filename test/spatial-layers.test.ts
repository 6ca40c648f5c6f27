// The spatial layers of issue 12 as layers: finite-difference gradient checks (alone, on awkward shapes and
// both data formats, and inside a convolutional autoencoder-like graph), their shape rules and the errors
// that name the layer. Kernels: global-pool, pad, upsample, conv2d (dilation) and conv2d-transpose tests;
// TF.js parity and files: spatial-tfjs.test.ts.
import { describe, expect, it } from 'vitest';
import {
  Conv2D,
  Conv2DTranspose,
  Cropping2D,
  Dense,
  Flatten,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  input,
  model,
  Reshape,
  Sequential,
  UpSampling2D,
  setConvAlgorithm,
  ZeroPadding2D,
} from '../src/node.js';
import { computeWindow2D } from '../src/kernels/geometry.js';
import { type ConvAlgorithm, winogradPlanned, winogradTileFor } from '../src/kernels/winograd.js';
import type { Layer } from '../src/layers/layer.js';
import { Rng } from '../src/random.js';
import { checkLossGradients, checkVjp, randomTensor } from './gradcheck.js';
import { expectBitwise } from './helpers.js';

const cases: [string, number[], () => Layer][] = [
  ['global avgpool x=[2,5,7,3]', [2, 5, 7, 3], () => GlobalAveragePooling2D({ inputShape: [5, 7, 3] })],
  [
    'global avgpool x=[3,13,2,3] channelsFirst',
    [3, 13, 2, 3],
    () => GlobalAveragePooling2D({ dataFormat: 'channelsFirst', inputShape: [13, 2, 3] }),
  ],
  ['global maxpool x=[2,5,7,3]', [2, 5, 7, 3], () => GlobalMaxPooling2D({ inputShape: [5, 7, 3] })],
  [
    'global maxpool x=[1,6,4,5] channelsFirst',
    [1, 6, 4, 5],
    () => GlobalMaxPooling2D({ dataFormat: 'channelsFirst', inputShape: [6, 4, 5] }),
  ],
  [
    'zeropad x=[2,5,7,3] padding=[[1,2],[0,3]]',
    [2, 5, 7, 3],
    () =>
      ZeroPadding2D({
        padding: [
          [1, 2],
          [0, 3],
        ],
        inputShape: [5, 7, 3],
      }),
  ],
  [
    'zeropad x=[1,3,4,5] padding=[2,1] channelsFirst',
    [1, 3, 4, 5],
    () => ZeroPadding2D({ padding: [2, 1], dataFormat: 'channelsFirst', inputShape: [3, 4, 5] }),
  ],
  [
    'cropping x=[2,7,6,5] cropping=[[1,0],[2,1]]',
    [2, 7, 6, 5],
    () =>
      Cropping2D({
        cropping: [
          [1, 0],
          [2, 1],
        ],
        inputShape: [7, 6, 5],
      }),
  ],
  [
    'cropping x=[1,2,7,5] cropping=1 channelsFirst',
    [1, 2, 7, 5],
    () => Cropping2D({ cropping: 1, dataFormat: 'channelsFirst', inputShape: [2, 7, 5] }),
  ],
  ['upsampling nearest x=[2,3,5,3] size=[2,3]', [2, 3, 5, 3], () => UpSampling2D({ size: [2, 3], inputShape: [3, 5, 3] })],
  [
    'upsampling bilinear x=[1,4,3,5] size=2',
    [1, 4, 3, 5],
    () => UpSampling2D({ size: 2, interpolation: 'bilinear', inputShape: [4, 3, 5] }),
  ],
  [
    'upsampling bilinear x=[2,3,3,4] size=[3,2] channelsFirst',
    [2, 3, 3, 4],
    () => UpSampling2D({ size: [3, 2], interpolation: 'bilinear', dataFormat: 'channelsFirst', inputShape: [3, 3, 4] }),
  ],
  ['reshape x=[2,5,4,3] -> [5,-1]', [2, 5, 4, 3], () => Reshape({ targetShape: [5, -1], inputShape: [5, 4, 3] })],
  [
    'conv2d x=[2,9,8,3] k=[3,3,3,5] dilation=2 same',
    [2, 9, 8, 3],
    () => Conv2D({ filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same', inputShape: [9, 8, 3] }),
  ],
  [
    'conv2d x=[1,11,10,5] k=[3,2,5,4] dilation=[2,3] valid relu',
    [1, 11, 10, 5],
    () => Conv2D({ filters: 4, kernelSize: [3, 2], dilationRate: [2, 3], activation: 'relu', inputShape: [11, 10, 5] }),
  ],
  [
    'conv2dTranspose x=[2,4,5,3] k=[3,3,5,3] stride=2 same',
    [2, 4, 5, 3],
    () => Conv2DTranspose({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', inputShape: [4, 5, 3] }),
  ],
  [
    'conv2dTranspose x=[1,3,4,6] k=[2,3,4,6] stride=[2,1] valid relu',
    [1, 3, 4, 6],
    () => Conv2DTranspose({ filters: 4, kernelSize: [2, 3], strides: [2, 1], activation: 'relu', inputShape: [3, 4, 6] }),
  ],
  [
    'conv2dTranspose x=[2,5,5,4] k=[3,3,7,4] stride=1 same no bias',
    [2, 5, 5, 4],
    () => Conv2DTranspose({ filters: 7, kernelSize: 3, padding: 'same', useBias: false, inputShape: [5, 5, 4] }),
  ],
  [
    'conv2dTranspose x=[2,3,3,5] k=[2,2,3,5] stride=3 valid (gaps between footprints)',
    [2, 3, 3, 5],
    () => Conv2DTranspose({ filters: 3, kernelSize: 2, strides: 3, inputShape: [3, 3, 5] }),
  ],
  [
    'conv2dTranspose x=[1,3,4,2] k=[4,4,9,2] stride=2 same softmax',
    [1, 3, 4, 2],
    () => Conv2DTranspose({ filters: 9, kernelSize: 4, strides: 2, padding: 'same', activation: 'softmax', inputShape: [3, 4, 2] }),
  ],
  [
    'conv2dTranspose x=[2,3,5,4] k=[1,1,6,4] pointwise',
    [2, 3, 5, 4],
    () => Conv2DTranspose({ filters: 6, kernelSize: 1, inputShape: [3, 5, 4] }),
  ],
];

describe('gradient check per layer (sum(r * layer(x)) vs central differences)', () => {
  cases.forEach(([name, shape, make], i) => {
    it(name, () => {
      const m = new Sequential([make()], { seed: 500 + i });
      checkVjp(m, randomTensor(shape, new Rng(600 + i)), 700 + i);
      m.dispose();
    });
  });

  it('x=[2,8,8,2] a small convolutional autoencoder: conv(4,3x3,s2,same,relu) -> dilated conv(4,3x3,d2,same) -> zeropad 1 -> crop 1 -> conv2dTranspose(3,3x3,s2,same,relu) -> upsample bilinear -> global avg of a reshape, sparse CE', () => {
    const x = input({ shape: [8, 8, 2] });
    let h = Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x);
    h = Conv2D({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' }).apply(h);
    h = Cropping2D({ cropping: 1 }).apply(ZeroPadding2D({ padding: 1 }).apply(h));
    h = Conv2DTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(h);
    h = UpSampling2D({ interpolation: 'bilinear' }).apply(h);
    // Global average, not max: bilinear upsampling repeats the last row exactly, and TF.js's max gradient
    // (followed here) gives dy to every tied maximum, which is not the derivative when the ties move together.
    h = GlobalAveragePooling2D().apply(Reshape({ targetShape: [8, -1, 6] }).apply(h));
    const out = Dense({ units: 3, activation: 'softmax' }).apply(h);
    const m = model({ inputs: x, outputs: out, seed: 31 });
    expect(m.layers.map((l) => l.outputShape)).toEqual([
      [8, 8, 2],
      [4, 4, 4],
      [4, 4, 4],
      [6, 6, 4],
      [4, 4, 4],
      [8, 8, 3],
      [16, 16, 3],
      [8, 16, 6],
      [6],
      [3],
    ]);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const xs = randomTensor([2, 8, 8, 2], new Rng(32));
    checkLossGradients(m, xs, Int32Array.from([2, 0]), 33);
    checkVjp(m, xs, 34);
    m.dispose();
  });
});

describe('shape rules and errors name the layer', () => {
  const out = (l: Layer, s: number[]) => new Sequential([l], { seed: 1 }).layers[0].computeOutputShape([s]);
  it('output shapes', () => {
    expect(out(GlobalAveragePooling2D(), [5, 7, 3])).toEqual([3]);
    expect(out(GlobalMaxPooling2D({ dataFormat: 'channelsFirst' }), [5, 7, 3])).toEqual([5]);
    expect(out(ZeroPadding2D(), [5, 7, 3])).toEqual([7, 9, 3]);
    expect(
      out(
        ZeroPadding2D({
          padding: [
            [0, 2],
            [3, 1],
          ],
          dataFormat: 'channelsFirst',
        }),
        [5, 7, 3],
      ),
    ).toEqual([5, 9, 7]);
    expect(out(Cropping2D({ cropping: [1, 2] }), [5, 7, 3])).toEqual([3, 3, 3]);
    expect(out(UpSampling2D({ size: [3, 1] }), [5, 7, 3])).toEqual([15, 7, 3]);
    expect(out(Reshape({ targetShape: [null, 7] }), [5, 7, 3])).toEqual([15, 7]);
    expect(out(Conv2D({ filters: 2, kernelSize: 3, dilationRate: [2, 3] }), [9, 9, 1])).toEqual([5, 3, 2]);
    expect(out(Conv2DTranspose({ filters: 2, kernelSize: 3, strides: 2 }), [5, 7, 3])).toEqual([11, 15, 2]);
    expect(out(Conv2DTranspose({ filters: 2, kernelSize: 1, strides: 2 }), [5, 7, 3])).toEqual([10, 14, 2]);
    expect(out(Conv2DTranspose({ filters: 2, kernelSize: 3, strides: [2, 3], padding: 'same' }), [5, 7, 3])).toEqual([10, 21, 2]);
  });

  it('bad configs and shapes', () => {
    expect(() => ZeroPadding2D({ padding: [1, 2, 3] as never, name: 'zp' })).toThrow(
      /zp: padding must be a non-negative integer, \[h, w\] or \[\[top, bottom\], \[left, right\]\]/,
    );
    expect(() => ZeroPadding2D({ padding: -1 })).toThrow(/padding must be a non-negative integer/);
    expect(() => Cropping2D({ cropping: [[1, 2], [3]] as never })).toThrow(/cropping must be/);
    expect(() =>
      out(
        Cropping2D({
          cropping: [
            [2, 3],
            [0, 0],
          ],
          name: 'crop',
        }),
        [5, 7, 3],
      ),
    ).toThrow(/crop \(Cropping2D\): cropping \[\[2,3\],\[0,0\]\] leaves nothing of an input of \[null,5,7,3\]/);
    expect(() => UpSampling2D({ interpolation: 'bicubic' as never, name: 'up' })).toThrow(
      /up: interpolation 'bicubic' is not supported \(nearest, bilinear, as in TF.js\)/,
    );
    expect(() => UpSampling2D({ size: 0 })).toThrow(/size must be a positive integer/);
    expect(() => GlobalAveragePooling2D({ dataFormat: 'nhwc' as never })).toThrow(/dataFormat 'nhwc' is not supported/);
    expect(() => GlobalMaxPooling2D({ keepdims: true } as never)).toThrow(
      /\(GlobalMaxPooling2D\): option keepdims=true is not supported \(only false\)/,
    );
    expect(() => out(GlobalAveragePooling2D({ name: 'gap' }), [5, 3])).toThrow(/gap \(GlobalAveragePooling2D\): expected input of rank 4/);
    expect(() => Reshape({ targetShape: [-1, -1] })).toThrow(/at most one -1/);
    expect(() => Reshape({ targetShape: [0, 3] })).toThrow(/targetShape must be/);
    expect(() => out(Reshape({ targetShape: [4, -1], name: 'rs' }), [5, 7, 3])).toThrow(
      /rs \(Reshape\): cannot reshape \[null,5,7,3\] \(105 values per sample\) into \[null,4,null\]/,
    );
    expect(() => out(Reshape({ targetShape: [7, 5] }), [5, 7, 3])).toThrow(/cannot reshape/);
    expect(() => Conv2D({ filters: 1, kernelSize: 3, strides: 2, dilationRate: 2, name: 'c' })).toThrow(
      /c: strides \[2,2\] with dilationRate \[2,2\]: either the strides or the dilation rate must be 1/,
    );
    expect(() => out(Conv2D({ filters: 1, kernelSize: 3, dilationRate: 4, name: 'c' }), [8, 8, 1])).toThrow(
      /c: a 3x3 window dilated by 4x4 with 'valid' padding does not fit an input of 8x8/,
    );
    expect(() => Conv2DTranspose({ filters: 1, kernelSize: 3, outputPadding: [1, 1] } as never)).toThrow(
      /\(Conv2DTranspose\): option outputPadding=\[1,1\] is not supported \(only null\)/,
    );
    expect(() => Conv2DTranspose({ filters: 1, kernelSize: 3, dilationRate: 2, name: 't' })).toThrow(
      /t \(Conv2DTranspose\): dilationRate \[2,2\] is not supported/,
    );
    expect(() => Conv2DTranspose({ filters: 1, kernelSize: 3, dataFormat: 'channelsFirst' } as never)).toThrow(
      /option dataFormat='channelsFirst' is not supported/,
    );
    expect(() => out(Conv2DTranspose({ filters: 1, kernelSize: 3, name: 't' }), [5, 3])).toThrow(
      /t \(Conv2DTranspose\): expected input of rank 4/,
    );
  });

  it('Reshape shares its input buffer in the plan; Flatten after it too', () => {
    const m = new Sequential([Conv2D({ filters: 4, kernelSize: 1, inputShape: [3, 5, 2] }), Reshape({ targetShape: [15, 4] }), Flatten()], {
      seed: 2,
    });
    const x = randomTensor([2, 3, 5, 2], new Rng(3));
    const y = m.predict(x);
    expect(y.shape).toEqual([2, 60]);
    const c = new Sequential([Conv2D({ filters: 4, kernelSize: 1, inputShape: [3, 5, 2] })], { seed: 2 });
    expect(Array.from(y.data)).toEqual(Array.from(c.predict(x).data));
    m.dispose();
    c.dispose();
  });
});

describe('dilated Conv2D and Conv2DTranspose never run Winograd (it computes undilated convolutions only)', () => {
  const modes: ConvAlgorithm[] = ['auto', 'winograd', 'winograd2x2'];
  // 3x3 stride 1 with 16 -> 32 channels and 16+ tiles: undilated, 'auto' would run all three ops as F(4x4).
  it('winogradTileFor / winogradPlanned: x=[4,12,12,16] k=[3,3,16,32] dilation=[2,1] same is direct in every mode', () => {
    const g = computeWindow2D('t', [12, 12, 16], [3, 3], [1, 1], 'same', 4, [2, 1]);
    expect(winogradTileFor(computeWindow2D('t', [12, 12, 16], [3, 3], [1, 1], 'same', 4), 32, 'forward', 4)).toBe(4);
    for (const mode of modes) {
      expect(['forward', 'grad-input', 'grad-filter'].map((op) => winogradTileFor(g, 32, op as 'forward', 4, mode))).toEqual([0, 0, 0]);
      expect(winogradPlanned(g, 32, mode)).toBe(false);
    }
  });

  const nets: [string, number[], () => Layer][] = [
    [
      'conv2d x=[4,12,12,16] k=[3,3,16,32] dilation=2 same',
      [4, 12, 12, 16],
      () => Conv2D({ filters: 32, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu', inputShape: [12, 12, 16] }),
    ],
    [
      'conv2d x=[4,11,13,16] k=[3,3,16,32] dilation=[1,3] valid',
      [4, 11, 13, 16],
      () => Conv2D({ filters: 32, kernelSize: 3, dilationRate: [1, 3], inputShape: [11, 13, 16] }),
    ],
    [
      'conv2dTranspose x=[4,12,12,16] k=[3,3,32,16] stride=1 same',
      [4, 12, 12, 16],
      () => Conv2DTranspose({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [12, 12, 16] }),
    ],
    [
      'conv2dTranspose x=[4,10,9,16] k=[3,3,32,16] stride=1 valid',
      [4, 10, 9, 16],
      () => Conv2DTranspose({ filters: 32, kernelSize: 3, inputShape: [10, 9, 16] }),
    ],
  ];
  for (const [name, shape, make] of nets) {
    it(`${name}: predict and vjp (dx and weight gradients) bitwise equal to 'direct' under ${modes.join(', ')}`, () => {
      const x = randomTensor(shape, new Rng(5));
      const run = (mode: ConvAlgorithm) => {
        setConvAlgorithm(mode);
        try {
          const m = new Sequential([make()], { seed: 3 });
          const y = m.predict(x);
          const { dx, grads } = m.vjp(x, randomTensor(y.shape, new Rng(6)));
          m.dispose();
          return [y.data, dx.data, ...grads];
        } finally {
          setConvAlgorithm('auto');
        }
      };
      const direct = run('direct');
      for (const mode of modes) run(mode).forEach((a, i) => expectBitwise(a, direct[i], `${mode} output ${i}`));
    });
  }
});
