// The examples run (tiny versions), so they cannot rot: each must still build, train and improve.
import { describe, expect, it } from 'vitest';
import { drawDigits, trainAutoencoder } from '../examples/autoencoder.js';

describe('examples/autoencoder.ts', () => {
  it('x=[1024,28,28,1] MNIST, 2 epochs: the test reconstruction loss (MSE) falls every epoch, to under a quarter', async () => {
    const { losses, model, testImages } = await trainAutoencoder({ epochs: 2, trainImages: 1024, testImages: 100 });
    expect(losses.length).toBe(3);
    expect(losses[1]).toBeLessThan(losses[0]);
    expect(losses[2]).toBeLessThan(losses[1]);
    expect(losses[2]).toBeLessThan(losses[0] / 4);
    const y = model.predict(testImages);
    expect(y.shape).toEqual([100, 28, 28, 1]);
    expect(model.layers.map((l) => l.className)).toEqual(['Conv2D', 'Conv2D', 'Conv2DTranspose', 'Conv2DTranspose']);
    expect(model.getLayer('encode2').outputShape).toEqual([7, 7, 4]); // the code: 196 numbers for 784 pixels
    const rows = drawDigits([testImages, y], 1);
    expect(rows.length).toBe(14);
    expect(rows.every((r) => r.length === 28 + 3 + 28)).toBe(true);
    expect(rows.join('').trim().length).toBeGreaterThan(0);
    model.dispose();
  });
});
