// A convolutional autoencoder on MNIST: two strided convolutions squeeze a 28x28 digit into a 7x7x4 code
// (196 numbers for 784 pixels), two transposed convolutions grow it back, and the mean squared error
// between input and output is all the training signal (the images are their own targets). Prints the test
// reconstruction loss as it falls, then a few test digits next to their reconstructions.
// Run: npx tsx examples/autoencoder.ts [epochs] [training images]
import { fileURLToPath } from 'node:url';
import { Adam, Conv2D, Conv2DTranspose, Sequential, type Tensor } from '../src/node.js';
import { loadMnist } from '../src/mnist.js';

/** 28x28x1 -> 14x14x16 -> 7x7x4 (the code) -> 14x14x16 -> 28x28x1, pixels in [0, 1] out of a sigmoid. */
export function autoencoder(seed = 0): Sequential {
  return new Sequential(
    [
      Conv2D({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [28, 28, 1], name: 'encode1' }),
      Conv2D({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'encode2' }),
      Conv2DTranspose({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'decode1' }),
      Conv2DTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid', name: 'decode2' }),
    ],
    { name: 'autoencoder', seed },
  );
}

export interface AutoencoderRun {
  /** Test reconstruction loss (MSE) before training and after each epoch. */
  losses: number[];
  model: Sequential;
  /** The test images the loss was measured on. */
  testImages: Tensor;
}

/** Trains on the first `trainImages` MNIST training images; the loss is measured on `testImages` test images. */
export async function trainAutoencoder(
  opts: { epochs?: number; trainImages?: number; testImages?: number; log?: (line: string) => void } = {},
): Promise<AutoencoderRun> {
  const { epochs = 3, trainImages = 12000, testImages = 1000, log = () => {} } = opts;
  const { train, test } = await loadMnist({ trainLimit: trainImages, testLimit: testImages });
  const model = autoencoder(0);
  model.compile({ optimizer: new Adam({ learningRate: 0.003 }), loss: 'meanSquaredError' });
  const testLoss = () => model.evaluate(test.images, test.images, { batchSize: 250 }).loss;
  const losses = [testLoss()];
  log(`before training: test reconstruction loss (MSE) ${losses[0].toFixed(4)}`);
  const t0 = performance.now();
  await model.fit(train.images, train.images, {
    epochs,
    batchSize: 32,
    seed: 0,
    onEpochEnd: (epoch, logs) => {
      losses.push(testLoss());
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      log(
        `epoch ${epoch + 1}: train loss ${(logs.loss ?? NaN).toFixed(4)}, test reconstruction loss ${losses[epoch + 1].toFixed(4)} (${s} s)`,
      );
    },
  });
  return { losses, model, testImages: test.images };
}

/** Rows of text: each image (28x28, values in [0, 1]) of `images` drawn next to the others in shades. */
export function drawDigits(images: Tensor[], index: number): string[] {
  const shades = ' .:-=+*#%@';
  const rows: string[] = [];
  for (let y = 0; y < 28; y += 2) {
    const line = images.map((t) => {
      let s = '';
      for (let x = 0; x < 28; x++) {
        // Two pixel rows per text row (characters are about twice as tall as wide).
        const v = (t.data[index * 784 + y * 28 + x] + t.data[index * 784 + (y + 1) * 28 + x]) / 2;
        s += shades[Math.min(shades.length - 1, Math.max(0, Math.floor(v * shades.length)))];
      }
      return s;
    });
    rows.push(line.join('   '));
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const epochs = Number(process.argv[2] ?? 3),
    trainImages = Number(process.argv[3] ?? 12000);
  const { model, testImages } = await trainAutoencoder({ epochs, trainImages, log: console.log });
  model.summary();
  const out = model.predict(testImages);
  for (let i = 0; i < 3; i++) {
    console.log(`\ntest digit ${i}: input, reconstruction`);
    console.log(drawDigits([testImages, out], i).join('\n'));
  }
  model.dispose();
}
