// A MobileNet-v1-style net (Howard et al. 2017) on 32x32 RGB pictures generated on the fly: a strided 3x3
// stem, then depthwise-separable blocks (a 3x3 DepthwiseConv2D per channel, then a 1x1 Conv2D that mixes the
// channels, each followed by BatchNormalization and ReLU; stride 2 halves the image where the channels double),
// global average pooling and a softmax. The pictures are stripes at four orientations (horizontal, vertical and the two
// diagonals) with a random period, phase and colour, plus noise: orientation is what a depthwise 3x3 sees.
// Run: npx tsx examples/mobilenet.ts
import { pathToFileURL } from 'node:url';
import {
  BatchNormalization,
  Conv2D,
  Dense,
  DepthwiseConv2D,
  GlobalAveragePooling2D,
  ReLU,
  Sequential,
  tensor,
  type Tensor,
} from '../src/node.js';
import { Rng } from '../src/random.js';

export const CLASSES = ['horizontal', 'vertical', 'diagonal', 'anti-diagonal'];

/** n pictures [n, 32, 32, 3] in [-1, 1] and their labels, the same for the same seed. */
export function stripes(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed);
  const S = 32,
    x = new Float32Array(n * S * S * 3),
    y = new Int32Array(n);
  const directions = [
    [0, 1],
    [1, 0],
    [Math.SQRT1_2, Math.SQRT1_2],
    [Math.SQRT1_2, -Math.SQRT1_2],
  ];
  for (let i = 0; i < n; i++) {
    const label = rng.int(4),
      [dx, dy] = directions[label];
    const period = 4 + rng.uniform() * 6,
      phase = rng.uniform() * 2 * Math.PI;
    const colour = [0, 1, 2].map(() => 0.3 + 0.7 * rng.uniform());
    for (let r = 0; r < S; r++)
      for (let c = 0; c < S; c++) {
        const wave = Math.sin(((c * dx + r * dy) * 2 * Math.PI) / period + phase);
        for (let k = 0; k < 3; k++) x[((i * S + r) * S + c) * 3 + k] = 0.8 * wave * colour[k] + 0.2 * (rng.uniform() * 2 - 1);
      }
    y[i] = label;
  }
  return { x: tensor(x, [n, S, S, 3]), y };
}

// BN's moving variance starts at 1 and keeps momentum^steps of it: with Keras's 0.99 a few hundred steps still
// carry ~2% of it, far above a depthwise output's variance here (~0.005), and inference would be off. 0.9
// forgets it within a hundred steps.
const bn = (name: string) => BatchNormalization({ momentum: 0.9, name });

/** One depthwise-separable block: depthwise 3x3 (stride 1 or 2), BN, ReLU, then pointwise 1x1 to `filters`, BN, ReLU. */
const separableBlock = (filters: number, strides: number, name: string) => [
  DepthwiseConv2D({ kernelSize: 3, strides, padding: 'same', useBias: false, name: `${name}_dw` }),
  bn(`${name}_dw_bn`),
  ReLU({ name: `${name}_dw_relu` }),
  Conv2D({ filters, kernelSize: 1, useBias: false, name: `${name}_pw` }),
  bn(`${name}_pw_bn`),
  ReLU({ name: `${name}_pw_relu` }),
];

/** 32x32x3 -> stem 16x16x16 -> 16x16x32 -> 8x8x64 -> 8x8x64 -> 4x4x128 -> global average -> 4 classes. */
export function mobileNet(seed = 0): Sequential {
  return new Sequential(
    [
      Conv2D({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [32, 32, 3], name: 'stem' }),
      ...separableBlock(32, 1, 'block1'),
      ...separableBlock(64, 2, 'block2'),
      ...separableBlock(64, 1, 'block3'),
      ...separableBlock(128, 2, 'block4'),
      GlobalAveragePooling2D({ name: 'pool' }),
      Dense({ units: CLASSES.length, activation: 'softmax', name: 'classes' }),
    ],
    { seed, name: 'mobilenet' },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const train = stripes(4096, 1),
    test = stripes(1024, 2);
  const net = mobileNet();
  net.summary();
  net.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const t0 = performance.now();
  await net.fit(train.x, train.y, { epochs: 3, batchSize: 32, seed: 0 });
  console.log(`trained 3 epochs of ${train.y.length} pictures in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log('test:', net.evaluate(test.x, test.y, { batchSize: 256 }));
}
