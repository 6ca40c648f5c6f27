// A child process of the threads sweep (bench/threads.ts): it trains LeNet unchunked on one thread, on
// command, so the sweep can measure in the same run what this host gives two independent trainings on two
// cores (no shared memory, no synchronization). That is the ceiling for the 2-thread ratio at that moment:
// a second vCPU that is slower, or memory shared with other tenants, lowers both alike.
import { SGD, tensor } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';
import { lenet } from '../src/nets.js';

/** A command from the parent: time `steps` training steps of batch 64 (one untimed first). */
export interface SoloCommand {
  steps: number;
}

const n = Number(process.argv[2]);
const m = await loadMnist({ trainLimit: n, testLimit: 1 });
const x = tensor(m.train.images.data, [n, 28, 28, 1]),
  y = Int32Array.from(m.train.labels);
const B = 64,
  batches = Array.from({ length: Math.floor(n / B) }, (_, i) => [x.slice(i * B, (i + 1) * B), y.subarray(i * B, (i + 1) * B)] as const);
const model = lenet(1);
model.compile({ optimizer: new SGD({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });

process.on('message', (c: SoloCommand) => {
  model.trainOnBatch(...batches[0]);
  const t = performance.now();
  for (let i = 1; i <= c.steps; i++) model.trainOnBatch(...batches[i % batches.length]);
  process.send!((c.steps * B) / ((performance.now() - t) / 1000));
});
// The parent's end of the pipe closing (it finished or failed) ends this process too.
process.on('disconnect', () => process.exit(0));
process.send!('ready');
