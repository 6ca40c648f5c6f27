// Browser picture loaders (src/data/browser.ts) in Debian's Chromium: a File/Blob, <img>, <canvas>,
// ImageBitmap and ImageData give the very bytes Node gets from the same PNG (one pipeline), a JPEG agrees
// with jpeg-js to a few levels, oversized headers are refused before decoding, and a fake camera's frames
// (--use-fake-device-for-media-stream) become input tensors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { bundle } from '../scripts/esbuild-browser.mjs';
// @ts-expect-error plain .mjs script without type declarations
import { startServer } from '../scripts/serve.mjs';
import { fitPixels } from '../src/data/pixels.js';
import { hasChromium, launchChromium, MISSING } from './chromium.js';
import { encodePng, halvesJpeg, randomImage, withExifOrientation } from './data-helpers.js';
import { decodeImage } from '../src/data/decode.js';

const root = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-browser-data-'));
let browser: Browser, server: { url: string; close(): Promise<void> }, page: Page;

const opaque = randomImage(37, 23, 11),
  alpha = randomImage(37, 23, 12, true);
const smooth = {
  width: 40,
  height: 30,
  data: Uint8Array.from({ length: 40 * 30 * 4 }, (_, i) => (i % 4 === 3 ? 255 : ((i >> 2) % 40) * 5 + (i % 4) * 30)),
};

beforeAll(async () => {
  if (!hasChromium()) return;
  // The library bundle in a folder of its own (the browser suite rebuilds dist/ concurrently).
  await bundle({ entryPoints: { simdcnn: join(root, 'src/index.ts') }, outdir: tmp });
  writeFileSync(join(tmp, 'blank.html'), '<!doctype html><title>data</title><body></body>');
  writeFileSync(join(tmp, 'opaque.png'), encodePng(opaque));
  writeFileSync(join(tmp, 'alpha.png'), encodePng(alpha));
  writeFileSync(join(tmp, 'smooth.jpg'), jpeg.encode({ ...smooth, data: Buffer.from(smooth.data) }, 95).data);
  writeFileSync(join(tmp, 'rotated.jpg'), withExifOrientation(halvesJpeg(16, 8), 6));
  const giant = encodePng({ width: 1, height: 1, data: new Uint8Array(4) });
  giant.writeUInt32BE(30000, 16);
  giant.writeUInt32BE(30000, 20);
  writeFileSync(join(tmp, 'giant.png'), giant);
  server = await startServer({ mounts: { '/': tmp }, port: 0 });
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
  page = await browser.newPage();
  await page.goto(`${server.url}blank.html`);
  await page.evaluate(`(async () => { window.lib = await import('/simdcnn.js'); })()`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

function need(): void {
  if (!hasChromium()) throw new Error(MISSING);
  if (!page) throw new Error('the browser did not start (see the error of beforeAll)');
}

/** Runs `body` (JS source using `lib`) in the page and returns its result. */
const inPage = <T>(body: string): Promise<T> => page.evaluate(`(async () => { const lib = window.lib; ${body} })()`) as Promise<T>;

describe('browser picture loaders', () => {
  // Canvases store premultiplied alpha: translucent pixels come back within one level after compositing.
  for (const [name, img, tol] of [
    ['opaque', opaque, 0],
    ['alpha', alpha, 1],
  ] as const) {
    it(`a PNG [37x23, ${name}] as File/Blob, <img>, ImageBitmap, <canvas> and ImageData gives the bytes Node gives${tol ? ' (within 1 level)' : ''}, for [16,16,3] crop and [9,20,1] stretch`, async () => {
      need();
      for (const [h, w, c, fit] of [
        [16, 16, 3, 'crop'],
        [9, 20, 1, 'stretch'],
      ] as const) {
        const want = Array.from(fitPixels(img, { height: h, width: w, channels: c, fit }));
        const got = await inPage<Record<string, number[]>>(`
          const opts = { inputShape: [${h}, ${w}, ${c}], fit: '${fit}' };
          const blob = await (await fetch('/${name}.png')).blob();
          const file = new File([blob], '${name}.png', { type: 'image/png' });
          const img = new Image(); img.src = '/${name}.png'; await img.decode();
          const bitmap = await lib.decodeBlob(file);
          const canvas = document.createElement('canvas'); canvas.width = 37; canvas.height = 23;
          const ctx = canvas.getContext('2d'); ctx.drawImage(bitmap, 0, 0);
          const bytes = (t) => Array.from(t.data, (v) => Math.round(v * 255));
          return {
            file: bytes(await lib.blobToTensor(file, opts)),
            img: Array.from(lib.imagePixels(img, opts)),
            bitmap: Array.from(lib.imagePixels(bitmap, opts)),
            canvas: Array.from(lib.imagePixels(canvas, opts)),
            imageData: Array.from(lib.imagePixels(ctx.getImageData(0, 0, 37, 23), opts)),
          };`);
        for (const [k, v] of Object.entries(got)) {
          expect(v.length, k).toBe(want.length);
          expect(Math.max(...v.map((x, i) => Math.abs(x - want[i]))), `${k} ${h}x${w}x${c}`).toBeLessThanOrEqual(tol);
        }
      }
    });
  }
  it('a canvas drawn red | blue, stretched to [2,2,3] in range [-1,1]: red on the left, blue on the right', async () => {
    need();
    const t = await inPage<{ shape: number[]; data: number[] }>(`
      const c = document.createElement('canvas'); c.width = 20; c.height = 10;
      const g = c.getContext('2d'); g.fillStyle = '#f00'; g.fillRect(0, 0, 10, 10); g.fillStyle = '#00f'; g.fillRect(10, 0, 10, 10);
      const x = lib.imageToTensor(c, { inputShape: [2, 2, 3], fit: 'stretch', range: [-1, 1] });
      return { shape: x.shape, data: Array.from(x.data) };`);
    expect(t.shape).toEqual([1, 2, 2, 3]);
    expect(t.data).toEqual([1, -1, -1, -1, -1, 1, 1, -1, -1, -1, -1, 1]);
  });
  it('a JPEG decoded by Chromium agrees with jpeg-js in Node to within 3 levels', async () => {
    need();
    const node = fitPixels(
      jpeg.decode(jpeg.encode({ ...smooth, data: Buffer.from(smooth.data) }, 95).data, { useTArray: true, formatAsRGBA: true }),
      { height: 15, width: 20, channels: 3, fit: 'crop' },
    );
    const got = await inPage<number[]>(
      `return Array.from(lib.imagePixels(await lib.decodeBlob(await (await fetch('/smooth.jpg')).blob()), { inputShape: [15, 20, 3] }));`,
    );
    expect(got.length).toBe(node.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - node[i])))).toBeLessThanOrEqual(3);
  });
  it('a JPEG tagged EXIF orientation 6 comes out rotated the same way as in Node (within 3 levels)', async () => {
    need();
    const node = fitPixels(await decodeImage(withExifOrientation(halvesJpeg(16, 8), 6), 'rotated.jpg'), {
      height: 16,
      width: 8,
      channels: 1,
      fit: 'stretch',
    });
    const got = await inPage<number[]>(
      `return Array.from(lib.imagePixels(await lib.decodeBlob(await (await fetch('/rotated.jpg')).blob()), { inputShape: [16, 8, 1], fit: 'stretch' }));`,
    );
    expect(got.length).toBe(node.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - node[i])))).toBeLessThanOrEqual(3);
    expect(got[0]).toBeLessThan(20); // black on top
  });
  it('a PNG claiming 30000x30000, a text file, an unloaded <img> and a video without frames are DataErrors saying why', async () => {
    need();
    const errs = await inPage<string[]>(`
      const msg = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
      const giant = new File([await (await fetch('/giant.png')).blob()], 'giant.png');
      return [
        await msg(() => lib.blobToTensor(giant, { inputShape: [8, 8, 3] })),
        await msg(() => lib.decodeBlob(new File(['hello'], 'notes.txt'))),
        await msg(() => lib.imagePixels(new Image(), { inputShape: [8, 8, 3] })),
        await msg(() => lib.captureFrame(document.createElement('video'), { inputShape: [8, 8, 3] })),
        await msg(() => lib.imagePixels(document.createElement('canvas'), { inputShape: [8, 8, 2] })),
      ];`);
    expect(errs[0]).toBe(
      'DataError: giant.png is 30000x30000 pixels, more than the 4096x4096 allowed; raise the limit with maxImageSize if that is intended',
    );
    expect(errs[1]).toMatch(/^DataError: notes\.txt: not a picture this library reads/);
    expect(errs[2]).toMatch(/^DataError: <img> has no pixels yet \(0x0\); wait until it has loaded/);
    expect(errs[3]).toMatch(/^DataError: <video> has no pixels yet .* wait for its loadeddata event/);
    expect(errs[4]).toMatch(/^ValueError: imagePixels: pictures need an input shape \[height, width, 1 or 3\]/);
  });
  it("the fake camera's frames via getUserMedia become [1,24,32,3] tensors in [0,1] that show a picture and change over time", async () => {
    need();
    const r = await inPage<{ shape: number[]; min: number; max: number; diff: number }>(`
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
      const video = document.createElement('video'); video.muted = true; video.srcObject = stream;
      await video.play();
      if (video.readyState < 2) await new Promise((r) => video.addEventListener('loadeddata', r, { once: true }));
      const a = lib.captureFrame(video, { inputShape: [24, 32, 3] });
      await new Promise((r) => setTimeout(r, 500));
      const b = lib.captureFrame(video, { inputShape: [24, 32, 3] });
      stream.getTracks().forEach((t) => t.stop());
      let diff = 0; for (let i = 0; i < a.data.length; i++) diff += Math.abs(a.data[i] - b.data[i]);
      return { shape: a.shape, min: Math.min(...a.data), max: Math.max(...a.data), diff };`);
    expect(r.shape).toEqual([1, 24, 32, 3]);
    expect(r.min).toBeGreaterThanOrEqual(0);
    expect(r.max).toBeLessThanOrEqual(1);
    expect(r.max - r.min).toBeGreaterThan(0.2);
    expect(r.diff).toBeGreaterThan(0);
  });
  it('webcam frames and drawn canvases collected as LabeledImages train a model with fitDataset in the page; predict tells them apart', async () => {
    need();
    const r = await inPage<{ epochs: number[]; loss: number[]; predicted: number[] }>(`
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120 } });
      const video = document.createElement('video'); video.muted = true; video.srcObject = stream;
      await video.play();
      if (video.readyState < 2) await new Promise((r) => video.addEventListener('loadeddata', r, { once: true }));
      const opts = { inputShape: [16, 16, 3] };
      const images = [], labels = [];
      for (let i = 0; i < 8; i++) {
        images.push(lib.imagePixels(video, opts)); labels.push(0);
        const c = document.createElement('canvas'); c.width = 40; c.height = 30;
        const g = c.getContext('2d'); g.fillStyle = 'hsl(' + (i * 40) + ', 80%, 50%)'; g.fillRect(0, 0, 40, 30);
        g.fillStyle = '#000'; g.fillRect(5 + i, 5, 10, 10);
        images.push(lib.imagePixels(c, opts)); labels.push(1);
        await new Promise((r) => setTimeout(r, 30));
      }
      stream.getTracks().forEach((t) => t.stop());
      const set = lib.LabeledImages.fromList(images, labels, [16, 16, 3], ['camera', 'drawing']);
      const model = new lib.Sequential([
        lib.Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [16, 16, 3] }), lib.MaxPool2D({ poolSize: 2 }),
        lib.Flatten(), lib.Dense({ units: 2, activation: 'softmax' }),
      ], { seed: 1 });
      model.compile({ optimizer: new lib.Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
      const h = await model.fitDataset(set.dataset({ batchSize: 4, shuffle: true, seed: 2 }), { epochs: 10 });
      const { xs } = set.toTensors();
      const predicted = Array.from(model.predict(xs).argMax());
      return { epochs: h.epoch, loss: h.history.loss, predicted };`);
    expect(r.epochs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.loss[9]).toBeLessThan(r.loss[0]);
    expect(r.predicted).toEqual(Array.from({ length: 16 }, (_, i) => i % 2));
  });
});
