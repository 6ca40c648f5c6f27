// simdcnn in the side-by-side page: the bench's LeNet (seed 1, SGD) on setThreads(n) threads. A page's main
// thread cannot Atomics.wait, so simdcnn's threads run from a Worker, as trainInWorker's do.
import { SGD, type Sequential, setThreads, type Tensor, tensor } from '../../../src/index.js';
import { lenet } from '../../../src/nets.js';
import { LEARNING_RATE, serveRunner } from './protocol.js';

let m: Sequential, x: Tensor, y: Int32Array, initial: Float32Array[];

serveRunner({
  async init({ threads, images, labels }) {
    const t = await setThreads(threads);
    m = lenet(1);
    m.compile({ optimizer: new SGD({ learningRate: LEARNING_RATE }), loss: 'sparseCategoricalCrossentropy' });
    x = tensor(images, [labels.length, 28, 28, 1]);
    y = labels;
    initial = m.getWeights();
    return {
      info: {
        lib: 'simdcnn',
        requested: threads,
        active: t.active,
        build: m.backend.build,
        isolated: crossOriginIsolated,
        wasmFiles: [], // embedded in the bundle: nothing to fetch
        notes: t.note ? [t.note] : [],
      },
      weights: initial,
      shapes: m.weightSpecs().map((s) => s.shape),
    };
  },
  async predict(n) {
    return Float32Array.from(m.predict(x.slice(0, n), { batchSize: n }).data);
  },
  async step(batch) {
    m.trainOnBatch(x.slice(0, batch), y.subarray(0, batch));
    const w = m.getWeights();
    m.setWeights(initial);
    return w;
  },
  async run(mode, batch, count) {
    for (let i = 0; i < count; i += batch) {
      if (mode === 'train') m.trainOnBatch(x.slice(i, i + batch), y.subarray(i, i + batch));
      else m.predict(x.slice(i, i + batch), { batchSize: batch });
    }
  },
});
