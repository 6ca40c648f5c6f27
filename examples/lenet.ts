// LeNet-style net on all 60,000 MNIST training images, evaluated on all 10,000 test images.
// conv32(3x3,same,relu) -> maxpool2 -> conv64(3x3,same,relu) -> maxpool2 -> dense128(relu) -> dense10(softmax)
// Run: npx tsx examples/lenet.ts [epochs]
import { Adam } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { lenet } from '../src/nets.js';
import { progressBar } from '../src/progress.js';

const epochs = Number(process.argv[2] ?? 1);
const { train, test } = await loadMnist();
const model = lenet(0);
model.compile({ optimizer: new Adam({ learningRate: 0.001 }), loss: 'sparseCategoricalCrossentropy' });
model.summary();

const bar = progressBar(train.images.shape[0], epochs, (s) => process.stdout.write(s), process.stdout.isTTY === true);
const t0 = performance.now();
await model.fit(train.images, train.labels, { epochs, batchSize: 64, seed: 0, ...bar });
const seconds = (performance.now() - t0) / 1000;
const { loss, accuracy } = model.evaluate(test.images, test.labels, { batchSize: 256 });
console.log(`${epochs} epoch(s) in ${seconds.toFixed(1)} s; test loss ${loss.toFixed(4)}, test accuracy ${(accuracy! * 100).toFixed(2)}%`);
