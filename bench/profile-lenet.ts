// Where the time goes in one LeNet training step (batch 64): each layer's forward and backward, timed
// alone on the model's own buffers. npm run bench:profile
import { SGD, tensor } from '../src/node.js';
import type { Layer } from '../src/layers/layer.js';
import { lenet } from '../src/nets.js';
import { Rng } from '../src/random.js';
import { median, pinToOneCore } from './util.js';

pinToOneCore();
const B = 64;
const rng = new Rng(1);
const m = lenet(0);
m.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
const x = tensor(
  Float32Array.from({ length: B * 784 }, () => rng.uniform()),
  [B, 28, 28, 1],
);
const y = Int32Array.from({ length: B }, (_, i) => i % 10);
for (let i = 0; i < 5; i++) m.trainOnBatch(x, y);
const time = (f: () => void) => {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [];
  for (let r = 0; r < 9; r++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return median(t);
};
const layers = m.layers as (Layer & { forward(n: number, t: boolean): void; backward(n: number, d: boolean): void })[];
const rows: [string, number][] = [];
layers.forEach((l) => rows.push([`${l.name} (${l.className}) forward`, time(() => l.forward(B, true))]));
for (let i = layers.length - 1; i >= 0; i--)
  rows.push([
    `${layers[i].name} (${layers[i].className}) backward${i === 0 ? ' (no input gradient)' : ''}`,
    time(() => layers[i].backward(B, i > 0)),
  ]);
const step = time(() => m.trainOnBatch(x, y));
const parts = rows.filter(([, t]) => t >= 0.005);
const sum = parts.reduce((s, [, t]) => s + t, 0);
console.log(`| part of a LeNet training step, batch 64 | ms | share of the step |`);
console.log(`|---|---|---|`);
for (const [n, t] of parts) console.log(`| ${n} | ${t.toFixed(2)} | ${((100 * t) / step).toFixed(1)}% |`);
console.log(`| loss, optimizer update, batch copy, checks | ${(step - sum).toFixed(2)} | ${((100 * (step - sum)) / step).toFixed(1)}% |`);
console.log(`| **whole step (trainOnBatch)** | **${step.toFixed(2)}** | ${Math.round((B / step) * 1000)} img/s |`);
