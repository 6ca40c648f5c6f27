// The two reference networks, shared by the CLI, the examples and the benchmarks.
import { Sequential } from './engine/sequential.js';
import { Softmax } from './layers/activation.js';
import { Conv2D } from './layers/conv2d.js';
import { Flatten } from './layers/core.js';
import { Dense } from './layers/dense.js';
import { MaxPool2D } from './layers/pool.js';

export type NetName = 'tutorial' | 'lenet';

/** The tutorial's net: Conv3x3 (8 filters, valid, no bias) -> MaxPool2 -> Softmax(13*13*8 -> 10). */
export function tutorialNet(seed?: number): Sequential {
  return new Sequential(
    [
      new Conv2D({ filters: 8, kernelSize: 3, useBias: false, inputShape: [28, 28, 1] }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 10 }),
      new Softmax(),
    ],
    { seed, name: 'tutorial' },
  );
}

/** conv32(3x3,same,relu) -> maxpool2 -> conv64(3x3,same,relu) -> maxpool2 -> dense128(relu) -> dense10(softmax). */
export function lenet(seed?: number): Sequential {
  return new Sequential(
    [
      new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
      new MaxPool2D({ poolSize: 2 }),
      new Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new MaxPool2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 128, activation: 'relu' }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
    { seed, name: 'lenet' },
  );
}

export function buildNet(name: NetName, seed?: number): Sequential {
  return name === 'tutorial' ? tutorialNet(seed) : lenet(seed);
}
