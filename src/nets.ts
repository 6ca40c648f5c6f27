// The reference networks, shared by the CLI, the examples and the benchmarks.
import { type Model, model } from './engine/model.js';
import { Sequential } from './engine/sequential.js';
import { ReLU, Softmax } from './layers/activation.js';
import { Conv2D } from './layers/conv2d.js';
import { Flatten } from './layers/core.js';
import { Dense } from './layers/dense.js';
import { GlobalAveragePooling2D } from './layers/global-pool.js';
import { input } from './layers/input.js';
import type { Layer } from './layers/layer.js';
import { Add } from './layers/merge.js';
import { BatchNormalization } from './layers/normalization.js';
import { MaxPool2D } from './layers/pool.js';
import type { SymbolicTensor } from './layers/symbolic.js';

export type NetName = 'tutorial' | 'lenet' | 'cnn3' | 'bncnn' | 'resnet8' | 'resnet20';
export const NET_NAMES: readonly NetName[] = ['tutorial', 'lenet', 'cnn3', 'bncnn', 'resnet8', 'resnet20'];

export interface NetOptions {
  /** [height, width, channels] (default MNIST's [28, 28, 1]). */
  inputShape?: number[];
  /** Output classes (default 10). */
  classes?: number;
  seed?: number;
  /** Layers put before the net's first (augmentation), the first of them with the input shape. */
  prefix?: Layer[];
}

/** The tutorial's net: Conv3x3 (8 filters, valid, no bias) -> MaxPool2 -> Softmax(13*13*8 -> 10). */
export function tutorialNet(seed?: number, { inputShape = [28, 28, 1], classes = 10, prefix = [] }: NetOptions = {}): Sequential {
  return new Sequential(
    [
      ...prefix,
      new Conv2D({ filters: 8, kernelSize: 3, useBias: false, ...(prefix.length ? {} : { inputShape }) }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: classes }),
      new Softmax(),
    ],
    { seed, name: 'tutorial' },
  );
}

/** conv32(3x3,same,relu) -> maxpool2 -> conv64(3x3,same,relu) -> maxpool2 -> dense128(relu) -> dense10(softmax). */
export function lenet(seed?: number, opts: NetOptions = {}): Sequential {
  return convNet(2, 'lenet', seed, opts);
}

/** lenet with a third block, conv128(3x3,same,relu) -> maxpool2, for inputs larger than 32x32. */
export function cnn3(seed?: number, opts: NetOptions = {}): Sequential {
  return convNet(3, 'cnn3', seed, opts);
}

function convNet(
  blocks: number,
  name: string,
  seed: number | undefined,
  { inputShape = [28, 28, 1], classes = 10, prefix = [] }: NetOptions,
): Sequential {
  const layers = [...prefix];
  for (let b = 0; b < blocks; b++) {
    const first = b === 0 && !prefix.length;
    layers.push(new Conv2D({ filters: 32 << b, kernelSize: 3, padding: 'same', activation: 'relu', ...(first ? { inputShape } : {}) }));
    layers.push(new MaxPool2D({ poolSize: 2 }));
  }
  return new Sequential(
    [...layers, new Flatten(), new Dense({ units: 128, activation: 'relu' }), new Dense({ units: classes, activation: 'softmax' })],
    { seed, name },
  );
}

/**
 * Three blocks conv(3x3, same, no bias) -> BatchNorm -> ReLU -> maxpool2 of 32, 64 and 128 filters, then
 * flatten -> dense(softmax): ~105k parameters on 28x28x1, the MNIST recipe's net (docs/recipes.md).
 */
export function bncnn(seed?: number, { inputShape = [28, 28, 1], classes = 10, prefix = [] }: NetOptions = {}): Sequential {
  const layers = [...prefix];
  for (let b = 0; b < 3; b++) {
    const first = b === 0 && !prefix.length;
    layers.push(new Conv2D({ filters: 32 << b, kernelSize: 3, padding: 'same', useBias: false, ...(first ? { inputShape } : {}) }));
    // momentum 0.9: the moving statistics follow the weights within a few dozen steps, so the test
    // accuracy read half-way through an epoch is that of the current weights.
    layers.push(new BatchNormalization({ momentum: 0.9 }), new ReLU(), new MaxPool2D({ poolSize: 2 }));
  }
  return new Sequential([...layers, new Flatten(), new Dense({ units: classes, activation: 'softmax' })], { seed, name: 'bncnn' });
}

export interface ResNetOptions extends NetOptions {
  /** Filters of the stem and the first stage; each later stage doubles them and halves the image (default 16). */
  filters?: number;
  /** Number of stages (default 3). */
  stages?: number;
  /** Residual blocks per stage (default 3: ResNet-20). */
  blocks?: number;
  name?: string;
}

/** conv - BN (- ReLU): the convs have no bias, BN's beta takes its place (as in the ResNet papers). */
function convBn(x: SymbolicTensor, filters: number, kernelSize: number, strides: number, relu: boolean): SymbolicTensor {
  const c = new Conv2D({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(x);
  const b = new BatchNormalization({ momentum: 0.9 }).apply(c);
  return relu ? new ReLU().apply(b) : b;
}

function residualBlock(x: SymbolicTensor, filters: number, strides: number): SymbolicTensor {
  const h = convBn(convBn(x, filters, 3, strides, true), filters, 3, 1, false);
  const skip = strides === 1 && x.dims[2] === filters ? x : convBn(x, filters, 1, strides, false);
  return new ReLU().apply(new Add().apply([h, skip]));
}

/**
 * A CIFAR-style ResNet (He et al. 2016, section 4.2): a conv-BN-ReLU stem, `stages` stages of `blocks`
 * residual blocks (conv-BN-ReLU-conv-BN plus the skip, then ReLU; a stage that halves the size and doubles
 * the filters projects its skip with a strided 1x1 conv-BN), global average pooling and a softmax head.
 * 3 stages of 3 blocks of 16/32/64 filters is ResNet-20 (0.27M parameters); of 1 block, ResNet-8.
 */
export function resnet(seed?: number, opts: ResNetOptions = {}): Model {
  const { inputShape = [32, 32, 3], classes = 10, prefix = [], filters = 16, stages = 3, blocks = 3 } = opts;
  const img = input({ shape: inputShape });
  let h = img;
  for (const l of prefix) h = l.apply(h);
  h = convBn(h, filters, 3, 1, true);
  for (let s = 0; s < stages; s++) for (let b = 0; b < blocks; b++) h = residualBlock(h, filters * 2 ** s, s > 0 && b === 0 ? 2 : 1);
  const out = new Dense({ units: classes, activation: 'softmax' }).apply(new GlobalAveragePooling2D().apply(h));
  return model({ inputs: img, outputs: out, name: opts.name ?? `resnet${6 * blocks + 2}`, seed });
}

export function buildNet(name: NetName, seed?: number, opts: NetOptions = {}): Model {
  if (name === 'resnet8' || name === 'resnet20') return resnet(seed, { ...opts, blocks: name === 'resnet8' ? 1 : 3 });
  if (name === 'bncnn') return bncnn(seed, opts);
  return name === 'tutorial' ? tutorialNet(seed, opts) : name === 'cnn3' ? cnn3(seed, opts) : lenet(seed, opts);
}
