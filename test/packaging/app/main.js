// The app every bundler builds (and the plain page loads as is): a few training steps on the page, the same
// through trainInWorker, results in window.__result for the packaging test.
import { Conv2D, Dense, Flatten, MaxPool2D, ready, Sequential, tensor } from 'simdcnn';
import { trainInWorker } from 'simdcnn/worker-client';

/** n images 28x28x1; class k is a bright square at one of four places. */
function data(n) {
  const x = new Float32Array(n * 784), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    y[i] = k;
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) x[i * 784 + (4 + 12 * (k >> 1) + r) * 28 + 4 + 12 * (k & 1) + c] = 1;
  }
  return { x, shape: [n, 28, 28, 1], y };
}

const layers = [
  { class: 'Conv2D', config: { filters: 4, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] } },
  { class: 'MaxPool2D', config: { poolSize: 2 } },
  { class: 'Flatten' },
  { class: 'Dense', config: { units: 4, activation: 'softmax' } },
];
const build = { Conv2D, MaxPool2D, Flatten, Dense };

async function run() {
  await ready();
  const d = data(64);
  const model = new Sequential(layers.map((l) => new build[l.class](l.config ?? {})), { seed: 1 });
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const page = await model.fit(tensor(d.x, d.shape), d.y, { epochs: 4, batchSize: 16 });
  const job = trainInWorker({ layers, seed: 1, compile: { optimizer: 'adam' } }, data(64), { epochs: 4, batchSize: 16 });
  const worker = await job.promise;
  return {
    pageLoss: page.history.loss, pageBuild: model.backend.build,
    workerLoss: worker.history.history.loss, workerBuild: worker.build, isolated: self.crossOriginIsolated,
  };
}

run().then(
  (r) => { window.__result = r; },
  (e) => { window.__result = { error: String((e && e.stack) || e) }; },
);
