// A small residual CNN on MNIST, then fine-tuning: the trained net is cut after its residual block (same
// layers, same weights), the block is frozen, and a new head learns a new task (is the digit >= 5?).
// Run: npx tsx examples/finetune.ts
import { Add, Conv2D, Dense, Flatten, input, MaxPool2D, model, ReLU } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';

const { train, test } = await loadMnist({ trainLimit: 12000, testLimit: 2000 });

const img = input({ shape: [28, 28, 1], name: 'img' });
const stem = Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' }).apply(img);
const pooled = MaxPool2D({ poolSize: 2, name: 'pool1' }).apply(stem);
const c1 = Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'res_a' }).apply(pooled);
const c2 = Conv2D({ filters: 16, kernelSize: 3, padding: 'same', name: 'res_b' }).apply(c1);
const block = ReLU({ name: 'block' }).apply(Add({ name: 'skip' }).apply([c2, pooled]));
const digits = Dense({ units: 10, activation: 'softmax', name: 'digits' }).apply(Flatten().apply(MaxPool2D({ poolSize: 2 }).apply(block)));
const net = model({ inputs: img, outputs: digits, name: 'residual', seed: 0 });
net.summary();
net.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
await net.fit(train.images, train.labels, { epochs: 1, batchSize: 64, seed: 0 });
console.log('digits:', net.evaluate(test.images, test.labels, { batchSize: 256 }));

// Fine-tune: the same layers up to 'block', frozen, under a new two-class head.
for (const name of ['stem', 'res_a', 'res_b']) net.getLayer(name).trainable = false;
const high = Dense({ units: 2, activation: 'softmax', name: 'high' }).apply(
  Flatten().apply(MaxPool2D({ poolSize: 2 }).apply(net.getLayer('block').output)),
);
const tuned = model({ inputs: net.inputs, outputs: high, name: 'tuned', seed: 1 });
tuned.summary();
const isHigh = (labels: Uint8Array) => Uint8Array.from(labels, (d) => (d >= 5 ? 1 : 0));
tuned.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
await tuned.fit(train.images, isHigh(train.labels), { epochs: 1, batchSize: 64, seed: 1 });
console.log('digit >= 5:', tuned.evaluate(test.images, isHigh(test.labels), { batchSize: 256 }));
// The frozen layers are shared: the digit classifier is exactly as it was.
console.log('digits again:', net.evaluate(test.images, test.labels, { batchSize: 256 }));
