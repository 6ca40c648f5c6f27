// The reference networks, shared by the CLI, the examples and the benchmarks.
import { Sequential } from './engine/sequential.js';
import { Softmax } from './layers/activation.js';
import { Conv2D } from './layers/conv2d.js';
import { Flatten } from './layers/core.js';
import { Dense } from './layers/dense.js';
import type { Layer } from './layers/layer.js';
import { MaxPool2D } from './layers/pool.js';

export type NetName = 'tutorial' | 'lenet' | 'cnn3';
export const NET_NAMES: readonly NetName[] = ['tutorial', 'lenet', 'cnn3'];

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

export function buildNet(name: NetName, seed?: number, opts: NetOptions = {}): Sequential {
  return name === 'tutorial' ? tutorialNet(seed, opts) : name === 'cnn3' ? cnn3(seed, opts) : lenet(seed, opts);
}
