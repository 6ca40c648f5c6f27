// A small ResNet on 32x32x3 images: a conv-BN-ReLU stem, residual stages (conv-BN-ReLU-conv-BN plus the
// skip, then ReLU; a stage that halves the size and doubles the filters projects its skip with a strided
// 1x1 conv-BN), global average pooling and a softmax head. Trained here on generated images (four kinds of
// stripes, random colours, phases and noise), so it runs in seconds without a download.
// Run: npx tsx examples/resnet.ts [epochs]
import { pathToFileURL } from 'node:url';
import { Rng, type Tensor, tensor } from '../src/node.js';
import { resnet as resnetNet } from '../src/nets.js';

export interface ResNetOptions {
  /** Filters of the stem and the first stage; each later stage doubles them and halves the image. */
  filters?: number;
  /** Number of stages (default 2: 32x32 then 16x16). */
  stages?: number;
  /** Residual blocks per stage (default 1). */
  blocks?: number;
  classes?: number;
  seed?: number;
}

/** The library's CIFAR-style ResNet (src/nets.ts), here 2 stages of 1 block and 4 classes by default. */
export function resnet(opts: ResNetOptions = {}) {
  const { filters = 16, stages = 2, blocks = 1, classes = 4, seed = 0 } = opts;
  return resnetNet(seed, { inputShape: [32, 32, 3], classes, filters, stages, blocks, name: 'resnet' });
}

/**
 * n images [n, 32, 32, 3] in [0, 1] and their labels: class k is a sine grating at angle k * 45 degrees
 * (horizontal, diagonal, vertical, anti-diagonal stripes), random frequency, phase, colours and noise.
 */
export function stripes(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed),
    data = new Float32Array(n * 32 * 32 * 3),
    y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = (y[i] = rng.int(4)),
      angle = (k * Math.PI) / 4;
    const f = 0.3 + 0.5 * rng.uniform(),
      phase = 2 * Math.PI * rng.uniform();
    const fg = [rng.uniform(), rng.uniform(), rng.uniform()],
      bg = [rng.uniform(), rng.uniform(), rng.uniform()];
    for (let r = 0; r < 32; r++)
      for (let c = 0; c < 32; c++) {
        const t = 0.5 + 0.5 * Math.sin(f * (c * Math.cos(angle) + r * Math.sin(angle)) + phase);
        for (let ch = 0; ch < 3; ch++) {
          const v = t * fg[ch] + (1 - t) * bg[ch] + 0.1 * (rng.uniform() - 0.5);
          data[((i * 32 + r) * 32 + c) * 3 + ch] = Math.min(1, Math.max(0, v));
        }
      }
  }
  return { x: tensor(data, [n, 32, 32, 3]), y };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const epochs = Number(process.argv[2] ?? 3);
  const train = stripes(1024, 1),
    test = stripes(256, 2);
  const net = resnet();
  net.summary();
  net.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const t0 = performance.now();
  await net.fit(train.x, train.y, {
    epochs,
    batchSize: 32,
    seed: 0,
    callbacks: { onEpochEnd: (e, logs) => console.log(`epoch ${e + 1}: loss ${logs.loss?.toFixed(4)}, accuracy ${logs.acc?.toFixed(3)}`) },
  });
  const seconds = (performance.now() - t0) / 1000;
  // evaluate and predict use the moving statistics, with each BN folded into the conv before it.
  const { loss, accuracy } = net.evaluate(test.x, test.y, { batchSize: 128 });
  console.log(
    `${epochs} epoch(s) in ${seconds.toFixed(1)} s; test loss ${loss.toFixed(4)}, test accuracy ${(accuracy! * 100).toFixed(1)}%`,
  );
}
