// The tutorial's protocol end to end on real MNIST: it published test accuracy 0.78.
import { expect, it } from 'vitest';
import { SGD } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { tutorialNet } from '../src/nets.js';

it('tutorial net x=[1000,28,28,1] conv8(3x3,valid)-maxpool2-dense10-softmax, SGD 0.005, batch 1, 3 epochs: test accuracy >= 0.78', async () => {
  const { train, test } = await loadMnist({ range: [-0.5, 0.5], trainLimit: 1000, testLimit: 1000 });
  // Five seeds, so the bar is about the method and not one lucky initialisation.
  const accs: number[] = [];
  for (let seed = 0; seed < 5; seed++) {
    const model = tutorialNet(seed);
    model.compile({ optimizer: new SGD({ learningRate: 0.005 }), loss: 'sparseCategoricalCrossentropy' });
    const h = await model.fit(train.images, train.labels, { epochs: 3, batchSize: 1, seed });
    expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
    accs.push(model.evaluate(test.images, test.labels).accuracy!);
    model.dispose();
  }
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  expect(mean, `accuracies ${accs.join(', ')}`).toBeGreaterThanOrEqual(0.78);
  expect(Math.min(...accs)).toBeGreaterThanOrEqual(0.75);
});
