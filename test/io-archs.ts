// The architectures both I/O suites save and load: strides, same/valid, even kernels, inC 3, every layer kind.
import { AvgPool2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential, Softmax } from '../src/node.js';

export const archs: [string, number[], () => Sequential][] = [
  [
    'conv(4,3x3,s2,same,relu) inC 3 - maxpool(same) - flatten - dense(5,softmax)',
    [9, 7, 3],
    () =>
      new Sequential([
        new Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 7, 3] }),
        new MaxPool2D({ poolSize: 2, padding: 'same' }),
        new Flatten(),
        new Dense({ units: 5, activation: 'softmax' }),
      ]),
  ],
  [
    'conv(3,2x2,valid,no bias) - relu - avgpool(2,s1) - conv(6,4x4,same) - flatten - dense(7) - softmax',
    [8, 8, 1],
    () =>
      new Sequential([
        new Conv2D({ filters: 3, kernelSize: 2, useBias: false, inputShape: [8, 8, 1] }),
        new ReLU(),
        new AvgPool2D({ poolSize: 2, strides: 1 }),
        new Conv2D({ filters: 6, kernelSize: 4, padding: 'same', kernelInitializer: 'heUniform' }),
        new Flatten(),
        new Dense({ units: 7, kernelInitializer: 'lecunUniform' }),
        new Softmax(),
      ]),
  ],
  [
    'dense-only 13 -> 9 relu -> 4 softmax',
    [13],
    () => new Sequential([new Dense({ units: 9, activation: 'relu', inputShape: [13] }), new Dense({ units: 4, activation: 'softmax' })]),
  ],
  [
    'conv(5,[3,1],s[1,2]) - dropout - avgpool(same,s2) - flatten - dense(3,softmax)',
    [6, 10, 2],
    () =>
      new Sequential([
        new Conv2D({ filters: 5, kernelSize: [3, 1], strides: [1, 2], inputShape: [6, 10, 2] }),
        new Dropout({ rate: 0.25 }),
        new AvgPool2D({ poolSize: 3, strides: 2, padding: 'same' }),
        new Flatten(),
        new Dense({ units: 3, activation: 'softmax' }),
      ]),
  ],
  [
    'conv(6,3x3,same,no bias) - BN - relu - conv(4,1x1) - BN(center=false, momentum 0.9, epsilon 0.01) - flatten - dense(3,softmax)',
    [5, 6, 3],
    () =>
      new Sequential([
        new Conv2D({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, inputShape: [5, 6, 3] }),
        new BatchNormalization(),
        new ReLU(),
        new Conv2D({ filters: 4, kernelSize: 1 }),
        new BatchNormalization({ center: false, momentum: 0.9, epsilon: 0.01 }),
        new Flatten(),
        new Dense({ units: 3, activation: 'softmax' }),
      ]),
  ],
];
