// The tutorial's protocol, exactly: Conv3x3 (8 filters, valid, no bias) -> MaxPool2 -> Softmax(13*13*8 -> 10),
// plain SGD with learning rate 0.005 one image at a time, pixels in [-0.5, 0.5], the first 1,000 training
// images for 3 epochs (reshuffled each epoch), tested on the first 1,000 test images.
// Run: npx tsx examples/tutorial.ts
import { SGD } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { tutorialNet } from '../src/nets.js';

const { train, test } = await loadMnist({ range: [-0.5, 0.5], trainLimit: 1000, testLimit: 1000 });
const model = tutorialNet(0);
model.compile({ optimizer: new SGD({ learningRate: 0.005 }), loss: 'sparseCategoricalCrossentropy' });
model.summary();

const t0 = performance.now();
await model.fit(train.images, train.labels, {
  epochs: 3,
  batchSize: 1,
  seed: 0,
  onEpochEnd: (epoch, logs) =>
    console.log(`--- Epoch ${epoch + 1}: average loss ${logs.loss!.toFixed(3)}, accuracy ${(logs.acc! * 100).toFixed(1)}%`),
});
const seconds = (performance.now() - t0) / 1000;
const { loss, accuracy } = model.evaluate(test.images, test.labels);
console.log(`Test loss: ${loss.toFixed(3)}  Test accuracy: ${accuracy!.toFixed(3)}`);
console.log(`Trained 3,000 images in ${seconds.toFixed(2)} s (${Math.round(3000 / seconds).toLocaleString('en-US')} images/s)`);
