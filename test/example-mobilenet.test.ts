// examples/mobilenet.ts keeps working: its net builds with the shapes it documents and learns its pictures.
import { describe, expect, it } from 'vitest';
import { mobileNet, stripes } from '../examples/mobilenet.js';
import { Adam } from '../src/node.js';

describe('examples/mobilenet.ts', () => {
  it('32x32x3 -> 4 classes; 4 epochs on 512 generated pictures beat chance (25%) by far on 256 others', async () => {
    const net = mobileNet(0);
    expect(net.predict(stripes(1, 0).x).shape).toEqual([1, 4]);
    expect(net.layers.filter((l) => l.className === 'DepthwiseConv2D').length).toBe(4);
    const train = stripes(512, 1),
      test = stripes(256, 2);
    net.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    const h = await net.fit(train.x, train.y, { epochs: 4, batchSize: 32, seed: 0 });
    expect(h.history.loss[3]).toBeLessThan(0.8 * h.history.loss[0]);
    expect(net.evaluate(test.x, test.y, { batchSize: 128 }).accuracy).toBeGreaterThan(0.6);
    net.dispose();
  });
});
