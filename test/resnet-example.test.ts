// examples/resnet.ts stays runnable: a tiny version of its ResNet on its generated images.
import { expect, it } from 'vitest';
import { resnet, stripes } from '../examples/resnet.js';
import { loadModel } from '../src/node.js';

it('examples/resnet.ts: ResNet (4 filters, 2 stages) x=[48,32,32,3]: fit lowers the loss, predict gives probabilities, save/load predicts the same', async () => {
  const net = resnet({ filters: 4 });
  expect(net.layers.map((l) => l.className)).toEqual(expect.arrayContaining(['BatchNormalization', 'Add', 'GlobalAveragePooling2D']));
  const { x, y } = stripes(48, 1);
  net.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const h = await net.fit(x, y, { epochs: 4, batchSize: 16, seed: 0 });
  expect(h.history.loss[3]).toBeLessThan(h.history.loss[0]);
  const p = net.predict(x.slice(0, 5)).data;
  expect(p.length).toBe(5 * 4);
  for (let i = 0; i < 5; i++) expect(p[4 * i] + p[4 * i + 1] + p[4 * i + 2] + p[4 * i + 3]).toBeCloseTo(1, 5);
  const back = await loadModel(await net.save());
  const q = back.predict(x.slice(0, 5)).data;
  for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-5);
  net.dispose();
  back.dispose();
});
