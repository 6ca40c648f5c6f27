// The "your own classes" page (web/classes.html) in Debian's Chromium with the fake camera: classes from
// uploaded PNGs and held-down webcam recording, training in the Worker with live charts, live webcam
// prediction, uploaded pictures classified by name, the RGB filter view, save -> load with the same
// predictions, and the messages for what a user can get wrong. Screenshots go to test-results/.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { bundle } from '../scripts/esbuild-browser.mjs';
// @ts-expect-error plain .mjs script without type declarations
import { startServer } from '../scripts/serve.mjs';
import { hasChromium, launchChromium, MISSING } from './chromium.js';
import { encodePng } from './data-helpers.js';

const root = resolve(import.meta.dirname, '..');
const SHOTS = join(root, 'test-results');
const dist = mkdtempSync(join(tmpdir(), 'simdcnn-classes-page-'));
let browser: Browser, server: { url: string; close(): Promise<void> }, page: Page;

interface Hook {
  state: string;
  names: string[];
  counts(): number[];
  charts(): { loss: number; acc: number; validation: number };
  result?: { history: { epoch: number[]; history: Record<string, number[]> }; cancelled: boolean; elapsedMs: number; images: number };
  optimizer?: unknown;
  prediction: null | { source: string; label: string; probabilities: number[]; file?: string };
  livePredictions: number;
  fps: number;
  filtersDrawn: number;
  progress(): unknown[];
}
const hook = <T>(f: string): Promise<T> => page.evaluate(`(() => { const h = window.ownClasses; return ${f}; })()`) as Promise<T>;

/** A w x h picture of one class: 'disc' a red disc on pale grey, 'square' a blue square on yellow; placed by `seed`. */
function picture(kind: 'disc' | 'square', seed: number, w = 48, h = 40): Buffer {
  let s = seed * 7919 + 17;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const data = new Uint8Array(w * h * 4);
  const cx = w * (0.35 + 0.3 * rnd()),
    cy = h * (0.35 + 0.3 * rnd()),
    r = Math.min(w, h) * (0.2 + 0.12 * rnd());
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const inside = kind === 'disc' ? (x - cx) ** 2 + (y - cy) ** 2 < r * r : Math.abs(x - cx) < r && Math.abs(y - cy) < r;
      const n = 20 * rnd();
      const c = inside ? (kind === 'disc' ? [220, 30, 30] : [30, 50, 220]) : kind === 'disc' ? [200, 200, 200] : [230, 210, 60];
      data.set([c[0] + n - 10, c[1] + n - 10, c[2] + n - 10, 255], (y * w + x) * 4);
    }
  return encodePng({ width: w, height: h, data });
}
const pngFile = (name: string, buffer: Buffer) => ({ name, mimeType: 'image/png', buffer });

function need(): void {
  if (!hasChromium()) throw new Error(MISSING);
  if (!page) throw new Error('the browser did not start (see the error of beforeAll)');
}

beforeAll(async () => {
  if (!hasChromium()) return;
  // The page's bundles in a folder of their own (the demo suite rebuilds web/dist concurrently), served
  // over web/dist; everything else comes from web/ as checked in.
  await bundle({
    entryPoints: { classes: join(root, 'web/src/classes/main.ts'), worker: join(root, 'src/browser/worker.ts') },
    outdir: dist,
  });
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ mounts: { '/': join(root, 'web'), '/dist/': dist }, port: 0 });
  browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}classes.html`);
  await page.waitForFunction(() => (window as unknown as { ownClasses?: Hook }).ownClasses?.state === 'idle', null, { timeout: 20_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const msg = (id: string) => page.textContent(`#${id}`);
/** Waits for the message line `id` to say something matching `re`; returns its text and class. */
async function message(id: string, re: RegExp): Promise<{ text: string; cls: string }> {
  await page.waitForFunction(([i, src]) => new RegExp(src).test(document.getElementById(i)!.textContent ?? ''), [id, re.source] as const, {
    timeout: 15_000,
  });
  return { text: (await msg(id))!, cls: (await page.getAttribute(`#${id}`, 'class'))! };
}
/** Drops `files` on the element `selector`, as dragging them from the desktop does. */
async function drop(selector: string, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    (list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.mimeType }));
      return dt;
    },
    files.map((f) => ({ name: f.name, mimeType: f.mimeType, bytes: Array.from(f.buffer) })),
  );
  await page.dispatchEvent(selector, 'drop', { dataTransfer });
}
const card = (n: number) => `#class-list .class-card:nth-child(${n})`;

describe('web/classes.html: your own classes', () => {
  it('explains what a user can get wrong: empty classes, fewer than 2, duplicate names, a non-image, a giant image, no camera permission', async () => {
    need();
    expect(await page.locator('#class-list .class-card').count()).toBe(2);
    await page.click('#train');
    expect((await message('train-msg', /Class A.*Class B.*have no pictures yet/)).cls).toMatch(/warn/);
    await page.click(`${card(2)} .remove-class`);
    await page.click('#train');
    await message('train-msg', /Add at least 2 classes to train \(you have 1\)/);
    await page.click('#add-class');
    expect(await page.locator('#class-list .class-card').count()).toBe(2);
    await page.fill(`${card(2)} .class-name`, 'Class A');
    await page.click('#train');
    await message('train-msg', /Two classes are called “Class A”/);

    const giant = encodePng({ width: 1, height: 1, data: new Uint8Array(4) });
    giant.writeUInt32BE(30000, 16);
    giant.writeUInt32BE(30000, 20);
    await page.setInputFiles(`${card(1)} input.upload`, [
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture at all') },
      pngFile('giant.png', giant),
    ]);
    const bad = await message('classes-msg', /giant/);
    expect(bad.text).toMatch(/“notes\.txt” is not an image/);
    expect(bad.text).toMatch(/“giant\.png” is 30000×30000 pixels: pictures up to 4096×4096 are accepted/);
    expect(bad.cls).toMatch(/warn/);
    expect(await hook<number[]>('h.counts()')).toEqual([0, 0]);

    // No camera, or permission denied: a message, and the page goes on.
    await page.evaluate(() => {
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));
      (window as unknown as { restoreCamera(): void }).restoreCamera = () => (navigator.mediaDevices.getUserMedia = real);
    });
    await page.click('#camera-toggle');
    expect((await message('classes-msg', /permission was denied/)).cls).toMatch(/warn/);
    await page.evaluate(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('none', 'NotFoundError'));
    });
    await page.click('#camera-toggle');
    await message('classes-msg', /No camera was found/);
    await page.evaluate(() => (window as unknown as { restoreCamera(): void }).restoreCamera());
  });

  it('classes from uploaded and dropped PNGs and the fake camera train in the Worker with live charts, predict live and by upload, show RGB filters, save and load', async () => {
    need();
    // Classes: two from uploads (renamed), one recorded from the fake webcam while the button is held.
    await page.fill(`${card(1)} .class-name`, 'Red discs');
    await page.fill(`${card(2)} .class-name`, 'Blue squares');
    await page.setInputFiles(
      `${card(1)} input.upload`,
      Array.from({ length: 12 }, (_, i) => pngFile(`disc${i}.png`, picture('disc', i))),
    );
    await message('classes-msg', /12 pictures added to “Red discs”/);
    await drop(
      card(2),
      Array.from({ length: 12 }, (_, i) => pngFile(`square${i}.png`, picture('square', i, 40 + i, 56))),
    );
    await message('classes-msg', /12 pictures added to “Blue squares”/);
    await page.click('#add-class');
    await page.fill(`${card(3)} .class-name`, 'Camera');
    await page.click('#camera-toggle');
    await message('classes-msg', /Camera on/);
    await page.hover(`${card(3)} .record`);
    await page.mouse.down();
    await page.waitForFunction(() => (window as unknown as { ownClasses: Hook }).ownClasses.counts()[2] >= 12, null, { timeout: 10_000 });
    await page.mouse.up();
    const counts = await hook<number[]>('h.counts()');
    expect(counts.slice(0, 2)).toEqual([12, 12]);
    expect(counts[2]).toBeGreaterThanOrEqual(12);
    await page.waitForTimeout(300);
    expect((await hook<number[]>('h.counts()'))[2], 'recording stops when the button is released').toBe(counts[2]);
    expect(await page.locator(`${card(3)} canvas.thumb`).count()).toBe(counts[2]);

    // Stop: a long run stopped after its first reports keeps the weights reached so far.
    await page.fill('#epochs', '100');
    await page.click('#train');
    await page.waitForFunction(() => (window as unknown as { ownClasses: Hook }).ownClasses.progress().length >= 2, null, {
      timeout: 20_000,
    });
    expect(await page.isDisabled('#train')).toBe(true);
    expect(await page.isDisabled(`${card(1)} .remove-class`), 'classes are locked while training').toBe(true);
    await page.click('#stop');
    await message('train-msg', /^Stopped: /);
    const stopped = (await hook<Hook['result']>('h.result'))!;
    expect(stopped.cancelled).toBe(true);
    expect(stopped.history.epoch.length).toBeLessThan(100);
    expect(await hook<string>('h.state')).toBe('ready');

    // Live prediction with the stopped run's model keeps going while the next run trains: the page never freezes.
    const livePredictions = () => hook<number>('h.livePredictions');
    await page.click('#live');
    await page.waitForFunction(() => (window as unknown as { ownClasses: Hook }).ownClasses.livePredictions >= 3, null, {
      timeout: 10_000,
    });

    // Train: 3 classes, 20% of each held out for validation (2 + 2 + 2 or more).
    await page.fill('#epochs', '12');
    await page.click('#train');
    const atStart = await livePredictions();
    const t0 = Date.now();
    await page.waitForFunction(() => (window as unknown as { ownClasses: Hook }).ownClasses.state === 'ready', null, { timeout: 60_000 });
    const wall = (Date.now() - t0) / 1000;
    expect(await livePredictions(), `webcam frames classified during ${wall.toFixed(1)} s of training`).toBeGreaterThanOrEqual(
      atStart + Math.floor(2 * wall),
    );
    const seconds = (await hook<number>('h.result.elapsedMs')) / 1000;
    const charts = await hook<{ loss: number; acc: number; validation: number }>('h.charts()');
    const result = (await hook<Hook['result']>('h.result'))!;
    expect(result.cancelled).toBe(false);
    expect(result.history.epoch).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(charts.loss).toBeGreaterThanOrEqual(3);
    expect(charts.acc).toBe(charts.loss);
    expect(charts.validation).toBe(12);
    const h = result.history.history;
    expect(h.loss[11]).toBeLessThan(h.loss[0]);
    expect(h.val_acc[11]).toBeGreaterThanOrEqual(0.8);
    expect(JSON.stringify(await hook('h.optimizer'))).toMatch(/OneCycle/);
    expect(await msg('train-msg')).toMatch(/Done: .* Validation accuracy/);
    console.info(
      `classes page: ${(result.images / seconds).toFixed(0)} images/s training in the Worker, ${seconds.toFixed(1)} s for 12 epochs (${wall.toFixed(1)} s from the click, worker start included), ${(await livePredictions()) - atStart} webcam frames classified meanwhile`,
    );

    // The first layer's filters: 16 of 5x5x3, each as a colour picture and three grey slices, redrawn from
    // the weights the worker sends after each epoch, and once more from the trained model.
    expect(await hook<number>('h.filtersDuringTraining')).toBeGreaterThanOrEqual(3);
    expect(await hook<number>('h.filtersDrawn')).toBeGreaterThanOrEqual(4);
    const filters = await page.evaluate(() => {
      const c = document.getElementById('filters-canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let tinted = 0;
      for (let i = 0; i < d.length; i += 4) {
        colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        if (d[i + 3] === 255 && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) tinted++;
      }
      return { w: c.width, h: c.height, hidden: c.hidden, colours: colours.size, tinted };
    });
    expect(filters.hidden).toBe(false);
    expect(filters).toMatchObject({ w: 4 * (4 * 50 + 9) + 3 * 14, h: 4 * 50 + 3 * 14 });
    expect(filters.colours).toBeGreaterThan(200);
    expect(filters.tinted).toBeGreaterThan(16 * 25 * 8);

    // Live prediction from the webcam, now with the trained model: the camera class, about 10+ frames a second.
    const atReady = await livePredictions();
    await page.waitForFunction((n) => (window as unknown as { ownClasses: Hook }).ownClasses.livePredictions >= n + 20, atReady, {
      timeout: 15_000,
    });
    const live = (await hook<Hook['prediction']>('h.prediction'))!;
    expect(live.source).toBe('camera');
    expect(live.label).toBe('Camera');
    const fps = await hook<number>('h.fps');
    console.info(`classes page: live webcam prediction at ${fps} frames/s`);
    expect(fps).toBeGreaterThanOrEqual(5);
    await page.screenshot({ path: join(SHOTS, 'classes-laptop.png'), fullPage: true });

    // Uploaded pictures the net has not seen are classified by name.
    const tests = [pngFile('test-disc.png', picture('disc', 101)), pngFile('test-square.png', picture('square', 102, 50, 50))];
    const predictAll = async () => {
      const out: { label: string; probabilities: number[] }[] = [];
      for (const t of tests) {
        await page.setInputFiles('#predict-file', [t]);
        await message('predict-msg', new RegExp(t.name.replace('.', '\\.')));
        out.push((await hook<Hook['prediction']>('h.prediction'))!);
      }
      return out;
    };
    const before = await predictAll();
    expect(before.map((p) => p.label)).toEqual(['Red discs', 'Blue squares']);
    expect(await msg('predict-msg')).toMatch(/“test-square\.png” looks like “Blue squares”/);
    await drop('#predict-card', [pngFile('dropped-disc.png', picture('disc', 103))]);
    expect((await message('predict-msg', /dropped-disc/)).text).toMatch(/“dropped-disc\.png” looks like “Red discs”/);

    // Save as downloads, load the files back: same names, same predictions.
    const downloads: { name: string; path: string }[] = [];
    const both = new Promise<void>((done) => {
      page.on('download', async (d) => {
        const path = join(dist, d.suggestedFilename());
        await d.saveAs(path);
        downloads.push({ name: d.suggestedFilename(), path });
        if (downloads.length === 2) done();
      });
    });
    await page.click('#save-file');
    await both;
    expect(downloads.map((d) => d.name).sort()).toEqual(['simdcnn-classes.json', 'simdcnn-classes.weights.bin']);
    const json = JSON.parse(readFileSync(downloads.find((d) => d.name.endsWith('.json'))!.path, 'utf8'));
    expect(json.userDefinedMetadata).toMatchObject({
      classNames: ['Red discs', 'Blue squares', 'Camera'],
      inputRange: [0, 1],
      fit: 'crop',
    });
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ownClasses?: Hook }).ownClasses?.state === 'idle', null, { timeout: 20_000 });
    await page.setInputFiles(
      '#load-file',
      downloads.map((d) => d.path),
    );
    await message('io-msg', /Loaded “simdcnn-classes\.json”: classes “Red discs”, “Blue squares”, “Camera”/);
    const after = await predictAll();
    expect(after.map((p) => p.label)).toEqual(['Red discs', 'Blue squares']);
    after.forEach((p, i) => p.probabilities.forEach((v, k) => expect(Math.abs(v - before[i].probabilities[k])).toBeLessThanOrEqual(1e-6)));
    expect(await hook<number>('h.filtersDrawn')).toBe(1);

    // IndexedDB: saved, the page reloaded, loaded back with its names.
    await page.click('#save-idb');
    await message('io-msg', /Saved in this browser/);
    await page.reload();
    await page.waitForFunction(() => (window as unknown as { ownClasses?: Hook }).ownClasses?.state === 'idle', null, { timeout: 20_000 });
    await page.click('#load-idb');
    await message('io-msg', /Loaded the model saved in this browser: “Red discs”, “Blue squares”, “Camera”/);
    const fromIdb = await predictAll();
    fromIdb.forEach((p, i) =>
      p.probabilities.forEach((v, k) => expect(Math.abs(v - before[i].probabilities[k])).toBeLessThanOrEqual(1e-6)),
    );

    // A phone screen: no sideways scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, 'classes-phone.png'), fullPage: true });
  }, 90_000);
});
