// The app every bundler builds (and the plain page loads as is): a few training steps on the page, the same
// through trainInWorker, results in window.__result for the packaging test.
import { Conv2D, Dense, Flatten, MaxPool2D, ready, Sequential, tensor } from 'simdcnn';
import { trainInWorker } from 'simdcnn/worker-client';

/** n images 28x28x1; class k is a bright square at one of four places. */
function data(n) {
  const x = new Float32Array(n * 784),
    y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    y[i] = k;
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) x[i * 784 + (4 + 12 * (k >> 1) + r) * 28 + 4 + 12 * (k & 1) + c] = 1;
  }
  return { x, shape: [n, 28, 28, 1], y };
}

function net() {
  return new Sequential(
    [
      Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      MaxPool2D({ poolSize: 2 }),
      Flatten(),
      Dense({ units: 4, activation: 'softmax' }),
    ],
    { seed: 1 },
  );
}

async function run() {
  await ready();
  const d = data(64);
  const model = net();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const page = await model.fit(tensor(d.x, d.shape), d.y, { epochs: 4, batchSize: 16 });
  // The worker takes the model as TF.js layers JSON.
  const job = trainInWorker({ modelTopology: model.toJSON(), seed: 1, compile: { optimizer: 'adam' } }, data(64), {
    epochs: 4,
    batchSize: 16,
  });
  const worker = await job.promise;
  return {
    pageLoss: page.history.loss,
    pageBuild: model.backend.build,
    workerLoss: worker.history.history.loss,
    workerBuild: worker.build,
    isolated: self.crossOriginIsolated,
  };
}

run().then(
  (r) => {
    window.__result = r;
  },
  (e) => {
    window.__result = { error: String((e && e.stack) || e) };
  },
);
