// Browser tests in Debian's Chromium (playwright-core, never a downloaded browser):
//  - dist/simdcnn.js computes what Node computes: same initial weights from a seed, predictions within 1e-6
//    for the same weights, and the same short training runs (both on the plain SIMD build: FMA rounds
//    differently in the last bits);
//  - the demo page trains in a Worker with live charts, cancels, predicts drawn digits, renders its filter,
//    feature-map and Sobel panels, saves and loads models, explains bad input, and fits laptop and phone
//    screens without sideways scrolling. Screenshots go to test-results/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../src/mnist.js';
import { modelFromJSON, setBackend } from '../src/node.js';
// @ts-expect-error plain .mjs script without type declarations
import { startServer } from '../scripts/serve.mjs';
import { NETS } from '../web/src/nets.js';
import { hasChromium, launchChromium, MISSING } from './chromium.js';

const root = resolve(import.meta.dirname, '..');
const SHOTS = join(root, 'test-results');

type Server = { url: string; close(): Promise<void> };
let browser: Browser;
let server: Server;

/** Every test fails (not skips) with the reason when there is no browser. */
function needBrowser(): void {
  if (!hasChromium()) throw new Error(MISSING);
  if (!browser) throw new Error('the browser did not start (see the error of beforeAll)');
}

beforeAll(async () => {
  if (!hasChromium()) return; // each test reports it
  // Fresh bundles of the library and the page (esbuild: a second or two; fails on any Node import).
  for (const script of ['scripts/build-browser.mjs', 'scripts/build-web.mjs']) {
    execFileSync(process.execPath, [script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ mounts: { '/': join(root, 'web'), '/bundle/': join(root, 'dist') }, port: 0 });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A page of the test server's origin with nothing on it, for importing the bundle. */
async function blankPage(): Promise<Page> {
  needBrowser();
  const page = await browser.newPage();
  await page.route('**/blank.html', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }));
  await page.goto(`${server.url}blank.html`);
  return page;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('dist/simdcnn.js', () => {
  it('has no Node imports and is one ES module', () => {
    needBrowser(); // the bundle is built in beforeAll
    const src = readFileSync(join(root, 'dist/simdcnn.js'), 'utf8');
    expect(src).not.toMatch(/\bfrom\s*["']node:|\bimport\(\s*["']node:|\brequire\(/);
    expect(src).toMatch(/\bexport\s*\{/);
  });

  it('computes the same weights, predictions and training steps as Node (plain SIMD build, 1e-6)', async () => {
    needBrowser();
    await setBackend({ build: 'simd' });
    const { train, test } = await loadMnist({ trainLimit: 64, testLimit: 8 });
    const seed = 7;
    const cases = [
      { spec: NETS.tutorial.spec, batchSize: 1 },
      { spec: NETS.lenet.spec, batchSize: 32 },
    ];
    // Node first: the initial weights of the seed, predictions, then one epoch on 64 images.
    const node = await Promise.all(
      cases.map(async ({ spec, batchSize }) => {
        const m = modelFromJSON(spec.modelTopology, { seed });
        m.compile({ optimizer: spec.compile.optimizer, loss: 'sparseCategoricalCrossentropy' });
        const w0 = m.getWeights();
        const p0 = Array.from(m.predict(test.images).data);
        await m.fit(train.images, train.labels, { epochs: 1, batchSize, seed: 3 });
        const w1 = m.getWeights();
        const p1 = Array.from(m.predict(test.images).data);
        m.dispose();
        return { w0: w0.map((w) => Array.from(w)), p0, w1: w1.map((w) => Array.from(w)), p1 };
      }),
    );

    const page = await blankPage();
    const browserSide = await page.evaluate(
      async ({ cases, seed, testX, trainX, trainY, node }) => {
        // (import() written through Function so the test runner's transform leaves it alone)
        const lib = await new Function('u', 'return import(u)')('/bundle/simdcnn.js');
        const defaultBuild = lib.currentBackend().build;
        await lib.setBackend({ build: 'simd' });
        const x = lib.tensor(Float32Array.from(testX), [testX.length / 784, 28, 28, 1]);
        const tx = lib.tensor(Float32Array.from(trainX), [trainX.length / 784, 28, 28, 1]);
        const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
          let d = a.length === b.length ? 0 : Infinity;
          for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
          return d;
        };
        const out = [];
        for (let k = 0; k < cases.length; k++) {
          const { spec, batchSize } = cases[k];
          const build = () => lib.modelFromJSON(spec.modelTopology, { seed });
          const m = build();
          const w0 = m.getWeights();
          const initDiff = Math.max(...w0.map((w: Float32Array, i: number) => diff(w, node[k].w0[i])));
          const p0: number[] = Array.from(m.predict(x).data);
          // The same weights as Node (set explicitly) must give the same predictions.
          const twin = build();
          twin.setWeights(node[k].w1.map((w: number[]) => Float32Array.from(w)));
          const pSet: number[] = Array.from(twin.predict(x).data);
          m.compile({ optimizer: spec.compile.optimizer, loss: 'sparseCategoricalCrossentropy' });
          await m.fit(tx, Uint8Array.from(trainY), { epochs: 1, batchSize, seed: 3 });
          const w1 = m.getWeights();
          const trainedDiff = Math.max(...w1.map((w: Float32Array, i: number) => diff(w, node[k].w1[i])));
          const p1: number[] = Array.from(m.predict(x).data);
          out.push({ initDiff, p0, pSet, trainedDiff, p1, build: lib.currentBackend().build, modelBuild: m.backend.build });
          m.dispose();
          twin.dispose();
        }
        return { defaultBuild, relaxed: lib.relaxedSupported(), out };
      },
      {
        cases,
        seed,
        testX: Array.from(test.images.data),
        trainX: Array.from(train.images.data),
        trainY: Array.from(train.labels),
        node: node.map((n) => ({ w0: n.w0, w1: n.w1 })),
      },
    );
    await page.close();

    // Chromium validates relaxed SIMD, so the bundle picks the FMA build by default.
    expect(browserSide.defaultBuild).toBe(browserSide.relaxed ? 'relaxed' : 'simd');
    browserSide.out.forEach((b, k) => {
      expect(b.modelBuild, `case ${k}`).toBe('simd');
      expect(b.initDiff, `case ${k}: initial weights of seed ${seed}`).toBe(0);
      expect(maxDiff(b.p0, node[k].p0), `case ${k}: predictions, initial weights`).toBeLessThanOrEqual(1e-6);
      expect(maxDiff(b.pSet, node[k].p1), `case ${k}: predictions, weights set from Node`).toBeLessThanOrEqual(1e-6);
      expect(b.trainedDiff, `case ${k}: weights after one epoch`).toBeLessThanOrEqual(1e-6);
      expect(maxDiff(b.p1, node[k].p1), `case ${k}: predictions after one epoch`).toBeLessThanOrEqual(1e-6);
    });
  }, 120_000);
});

describe('trainInWorker (simdcnn/worker-client)', () => {
  /** Runs `body` in a blank page with trainInWorker, a tiny learnable data set and the net specs in scope. */
  async function inPage<T>(body: string): Promise<T> {
    const page = await blankPage();
    try {
      return await page.evaluate(`(async () => {
        const { trainInWorker } = await import('/bundle/worker-client.js');
        const NETS = ${JSON.stringify(NETS)};
        // Class k: a bright 6x6 square at one of ten places, plus noise; learnable in a few hundred steps.
        const data = (n, seed = 1) => {
          let s = seed;
          const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
          const x = new Float32Array(n * 784), y = new Uint8Array(n);
          for (let i = 0; i < n; i++) {
            const k = i % 10; y[i] = k;
            const r0 = 3 + 12 * Math.floor(k / 5), c0 = 2 + 5 * (k % 5);
            for (let p = 0; p < 784; p++) x[i * 784 + p] = 0.1 * rnd();
            for (let r = 0; r < 6; r++) for (let c = 0; c < 6; c++) x[i * 784 + (r0 + r) * 28 + c0 + c] = 0.8 + 0.2 * rnd();
          }
          return { x, shape: [n, 28, 28, 1], y };
        };
        ${body}
      })()`);
    } finally {
      await page.close();
    }
  }

  it('trains, reports progress at most every ~100 ms, moves the data and returns weights, history and files', async () => {
    needBrowser();
    const r = await inPage<{
      gaps: number[];
      n: number;
      first: number;
      last: number;
      detached: boolean;
      shapes: number[];
      lens: number[];
      epochs: number[];
      build: string;
      format: string;
      cancelled: boolean;
      images: number;
      losses: number[];
    }>(`
      const d = data(3000);
      const t = [], losses = [];
      const job = trainInWorker(NETS.tutorial.spec, d, { epochs: 2, batchSize: 1, seed: 1, build: 'simd' }, (p) => { t.push(p.elapsedMs); losses.push(p.loss); }); // when the worker sent it: arrival adds the page's jitter
      const detached = d.x.byteLength === 0 && d.y.byteLength === 0;
      const res = await job.promise;
      return {
        gaps: t.slice(1, -1).map((v, i) => v - t[i]), n: t.length, first: losses[0], last: losses[losses.length - 1], losses: res.history.history.loss,
        detached, shapes: res.weightSpecs.map((s) => s.shape.reduce((a, b) => a * b, 1)), lens: res.weights.map((w) => w.length),
        epochs: res.history.epoch, build: res.build, format: res.files.modelJson.format, cancelled: res.cancelled, images: res.images,
      };
    `);
    expect(r.detached).toBe(true);
    expect(r.cancelled).toBe(false);
    expect(r.images).toBe(6000);
    expect(r.epochs).toEqual([0, 1]);
    expect(r.build).toBe('simd');
    expect(r.format).toBe('layers-model');
    expect(r.lens).toEqual(r.shapes);
    expect(r.lens).toEqual([72, 13520, 10]);
    expect(r.losses[1]).toBeLessThan(r.losses[0]);
    expect(r.n).toBeGreaterThanOrEqual(2);
    // Reports come from a timer check in the worker: never closer than the 100 ms interval.
    for (const g of r.gaps) expect(g).toBeGreaterThanOrEqual(100);
  }, 60_000);

  it("epochWeights: the report after each epoch carries that epoch's weights (tutorial net, 3 epochs of 200); the last are the result's", async () => {
    needBrowser();
    const r = await inPage<{ withWeights: number[]; lens: number[][]; lastEqual: boolean; changed: boolean; plain: number }>(`
      const sent = [];
      const res = await trainInWorker(NETS.tutorial.spec, data(200), { epochs: 3, batchSize: 1, seed: 1, progressInterval: 0, epochWeights: true },
        (p) => p.weights && sent.push({ epoch: p.epochsDone[p.epochsDone.length - 1].epoch, weights: p.weights })).promise;
      let plain = 0;
      await trainInWorker(NETS.tutorial.spec, data(50), { epochs: 2, batchSize: 1, progressInterval: 0 }, (p) => { if ('weights' in p) plain++; }).promise;
      const same = (a, b) => a.length === b.length && a.every((w, i) => w.length === b[i].length && w.every((v, j) => v === b[i][j]));
      return { withWeights: sent.map((s) => s.epoch), lens: sent.map((s) => s.weights.map((w) => w.length)),
        lastEqual: same(sent[sent.length - 1].weights, res.weights), changed: !same(sent[0].weights, sent[sent.length - 1].weights), plain };
    `);
    expect(r.withWeights).toEqual([0, 1, 2]);
    for (const l of r.lens) expect(l).toEqual([72, 13520, 10]);
    expect(r.lastEqual).toBe(true);
    expect(r.changed).toBe(true);
    expect(r.plain, 'no weights without epochWeights').toBe(0);
  }, 60_000);

  it('cancel() stops after the current batch and resolves with the weights so far, also before the worker is up', async () => {
    needBrowser();
    const r = await inPage<{
      mid: { cancelled: boolean; images: number; finite: boolean; n: number };
      early: { cancelled: boolean; images: number; n: number };
    }>(`
      const mid = await new Promise((resolve, reject) => {
        const job = trainInWorker(NETS.lenet.spec, data(4000), { epochs: 3, batchSize: 32 }, () => job.cancel());
        job.promise.then((res) => resolve({ cancelled: res.cancelled, images: res.images, n: res.weights.length, finite: res.weights.every((w) => w.every(Number.isFinite)) }), reject);
      });
      const job = trainInWorker(NETS.tutorial.spec, data(500), { epochs: 1, batchSize: 1 });
      job.cancel();
      const e = await job.promise;
      return { mid, early: { cancelled: e.cancelled, images: e.images, n: e.weights.length } };
    `);
    expect(r.mid.cancelled).toBe(true);
    expect(r.mid.images).toBeGreaterThan(0);
    expect(r.mid.images).toBeLessThan(12_000);
    expect(r.mid.n).toBe(8);
    expect(r.mid.finite).toBe(true);
    expect(r.early).toEqual({ cancelled: true, images: 0, n: 3 });
  }, 60_000);

  it('rejects with clear errors: bad model spec, bad data, worker script not found; transfer: false keeps the data', async () => {
    needBrowser();
    const r = await inPage<Record<string, string>>(`
      const err = (p) => p.then(() => 'resolved', (e) => e.name + ': ' + e.message);
      const spec = await err(trainInWorker({ modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Conv3D', config: {} }] } }, compile: { optimizer: 'sgd' } }, data(10)).promise);
      const shape = await err(trainInWorker(NETS.tutorial.spec, { ...data(10), shape: [11, 28, 28, 1] }).promise);
      const url = await err(trainInWorker(NETS.tutorial.spec, data(10), { workerUrl: '/nowhere/worker.js' }).promise);
      const d = data(20);
      await trainInWorker(NETS.tutorial.spec, d, { transfer: false, batchSize: 4 }).promise;
      return { spec, shape, url, kept: String(d.x.length) };
    `);
    expect(r.spec).toMatch(/^ModelFormatError: .*layer class 'Conv3D' is not supported/);
    expect(r.shape).toMatch(/RangeError: .*shape \[11,28,28,1\] does not match/);
    expect(r.url).toMatch(/could not start the training worker from .*nowhere\/worker\.js/);
    expect(r.kept).toBe(String(20 * 784));
  }, 60_000);
});

describe('scripts/serve.mjs', () => {
  it('serves with the right MIME types and COOP/COEP headers, and nothing outside its root', async () => {
    const { mkdtempSync, writeFileSync: write } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'simdcnn-serve-'));
    write(join(dir, 'index.html'), '<!doctype html>');
    write(join(dir, 'k.wasm'), Buffer.from([0, 97, 115, 109]));
    write(join(dir, 'a.js'), 'export {}');
    const s: Server = await startServer({ mounts: { '/': dir }, port: 0 });
    try {
      const get = (p: string) => fetch(new URL(p, s.url));
      const index = await get('/');
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toMatch(/^text\/html/);
      expect(index.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(index.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect((await get('/k.wasm')).headers.get('content-type')).toBe('application/wasm');
      expect((await get('/a.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
      expect((await get('/missing.js')).status).toBe(404);
      expect((await get('/%2e%2e/%2e%2e/etc/passwd')).status).toBeGreaterThanOrEqual(400);
      expect(new URL(s.url).hostname).toBe('localhost');
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The demo page, one session: train, cancel, draw, inspect, save, load.

interface Hook {
  state: string;
  progress: {
    epoch: number;
    batch: number;
    loss: number;
    acc: number;
    imagesPerSec: number;
    images: number;
    epochsDone: { val_acc?: number }[];
  }[];
  result?: { cancelled: boolean; images: number; history: { history: { val_acc?: number[] } } };
  prediction: number[] | null;
  build: string;
  error: string;
}
const hook = (page: Page) => page.evaluate(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo);

/** Non-transparent pixels that differ from the first pixel (a canvas with content has many). */
const inkedPixels = (page: Page, selector: string) =>
  page.$$eval(selector, (cs) =>
    (cs as HTMLCanvasElement[]).map((c) => {
      if (!c.width || !c.height) return 0;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2])) n++;
      return n;
    }),
  );

/** A stroke through points given as fractions of the pad, as pointer events of the given kind. */
async function stroke(page: Page, points: [number, number][], pointerType: 'mouse' | 'touch' | 'pen'): Promise<void> {
  if (pointerType === 'mouse') {
    const box = (await page.locator('#pad').boundingBox())!;
    const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
    await page.mouse.move(...at(points[0]));
    await page.mouse.down();
    for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
    await page.mouse.up();
    return;
  }
  await page.evaluate(
    ({ points, pointerType }) => {
      const pad = document.getElementById('pad')!;
      const r = pad.getBoundingClientRect();
      const fire = (type: string, [fx, fy]: [number, number]) =>
        pad.dispatchEvent(
          new PointerEvent(type, {
            pointerId: 7,
            pointerType,
            isPrimary: true,
            bubbles: true,
            cancelable: true,
            button: 0,
            buttons: type === 'pointerup' ? 0 : 1,
            clientX: r.left + fx * r.width,
            clientY: r.top + fy * r.height,
          }),
        );
      fire('pointerdown', points[0]);
      for (let i = 1; i < points.length; i++) {
        const [a, b] = [points[i - 1], points[i]];
        for (let t = 0.25; t <= 1; t += 0.25) fire('pointermove', [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
      }
      fire('pointerup', points[points.length - 1]);
    },
    { points, pointerType },
  );
}

/** Resolves once the page has drawn two more frames (the pad updates the prediction in an animation frame). */
async function drawn(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}
const ONE: [number, number][] = [
  [0.5, 0.15],
  [0.5, 0.85],
];
const SEVEN: [number, number][] = [
  [0.25, 0.2],
  [0.75, 0.2],
  [0.45, 0.85],
];

describe('demo page', () => {
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!browser) return;
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${server.url}?build=simd`);
    await page.waitForFunction(
      () => ['idle', 'error'].includes((window as unknown as { simdcnnDemo?: Hook }).simdcnnDemo?.state ?? ''),
      null,
      { timeout: 30_000 },
    );
  }, 60_000);

  afterAll(async () => {
    await page?.close();
  });

  it('loads the data, uses the build asked for and invites to train', async () => {
    needBrowser();
    const h = await hook(page);
    expect(h.error).toBe('');
    expect(h.state).toBe('idle');
    expect(h.build).toBe('simd');
    await expect(page.isEnabled('#train')).resolves.toBe(true);
    expect(await page.textContent('#build-badge')).toMatch(/SIMD/);
    // Nothing drawn yet: the page says what to do.
    expect(await page.textContent('#draw-msg')).toMatch(/Draw a digit/);
  });

  it('trains the tutorial net in the Worker: progress arrives, loss falls, charts move, page stays responsive', async () => {
    needBrowser();
    const before = (await inkedPixels(page, '#loss-chart, #acc-chart')).reduce((a, b) => a + b, 0);
    await page.click('label.net:has(input[value=tutorial])');
    await page.fill('#epochs', '3');
    await page.click('#train');
    await page.waitForFunction(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo.progress.length >= 3, null, {
      timeout: 30_000,
    });
    // The main thread answers while the worker trains.
    const t0 = Date.now();
    await page.evaluate(() => 1);
    expect(Date.now() - t0).toBeLessThan(1000);
    await page.waitForFunction(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo.state === 'ready', null, { timeout: 90_000 });
    const h = await hook(page);
    expect(h.result!.cancelled).toBe(false);
    expect(h.result!.images).toBe(30_000);
    const p = h.progress;
    expect(p.length).toBeGreaterThanOrEqual(5);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const third = Math.max(1, Math.floor(p.length / 3));
    expect(mean(p.slice(-third).map((e) => e.loss))).toBeLessThan(mean(p.slice(0, third).map((e) => e.loss)));
    expect(p.every((e, i) => i === 0 || e.images >= p[i - 1].images)).toBe(true);
    expect(p.some((e) => e.imagesPerSec > 0)).toBe(true);
    expect(p.flatMap((e) => e.epochsDone).length).toBe(3);
    const testAcc = h.result!.history.history.val_acc!.at(-1)!;
    expect(testAcc).toBeGreaterThan(0.8);
    expect(await page.textContent('#train-msg')).toMatch(/Test accuracy \d+\.\d%/);
    expect(Number((await page.textContent('#s-ips'))!.replace(/,/g, ''))).toBeGreaterThan(0);
    const after = (await inkedPixels(page, '#loss-chart, #acc-chart')).reduce((a, b) => a + b, 0);
    expect(after).toBeGreaterThan(before + 500);
  }, 120_000);

  it('cancel stops LeNet after the current batch and keeps the weights reached so far', async () => {
    needBrowser();
    await page.click('label.net:has(input[value=lenet])');
    expect(await page.inputValue('#epochs')).toBe('1');
    await page.click('#train');
    await page.waitForFunction(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo.progress.length >= 30, null, {
      timeout: 60_000,
    });
    await page.click('#cancel');
    await page.waitForFunction(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo.state === 'ready', null, { timeout: 30_000 });
    const h = await hook(page);
    expect(h.result!.cancelled).toBe(true);
    expect(h.result!.images).toBeGreaterThan(0);
    expect(h.result!.images).toBeLessThan(10_000);
    expect(await page.textContent('#train-msg')).toMatch(/Stopped after/);
    await expect(page.isEnabled('#train')).resolves.toBe(true);
  }, 90_000);

  it('an empty pad gets a friendly message; drawing with the mouse predicts the digit live', async () => {
    needBrowser();
    await page.click('#clear');
    expect(await page.textContent('#draw-msg')).toMatch(/pad is empty/);
    expect((await hook(page)).prediction).toBeNull();
    await stroke(page, ONE, 'mouse');
    await drawn(page);
    const p = (await hook(page)).prediction!;
    expect(p).toHaveLength(10);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(p.indexOf(Math.max(...p))).toBe(1);
    expect(await page.textContent('#pred-digit')).toBe('1');
    expect(await page.locator('.bar-row.best .d').textContent()).toBe('1');
  });

  it('touch strokes (pointer events) draw too', async () => {
    needBrowser();
    await page.click('#clear');
    await stroke(page, SEVEN, 'touch');
    await drawn(page);
    const p = (await hook(page)).prediction!;
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(await page.textContent('#pred-digit')).toMatch(/^\d$/);
    expect((await inkedPixels(page, '#input28'))[0]).toBeGreaterThan(20);
  });

  it('renders the learned filters, the feature maps of the drawing and the Sobel comparison', async () => {
    needBrowser();
    // LeNet: two conv layers -> two filter panels; conv, pool, conv, pool, dense 128 -> five activation panels.
    expect(await page.locator('#filters .panel').count()).toBe(2);
    expect(await page.locator('#maps .panel').count()).toBe(5);
    for (const n of await inkedPixels(page, '#filters canvas')) expect(n).toBeGreaterThan(100);
    for (const n of await inkedPixels(page, '#maps canvas')) expect(n).toBeGreaterThan(100);
    const sobel = await inkedPixels(page, '#sobel canvas');
    expect(sobel).toHaveLength(4);
    for (const n of sobel) expect(n).toBeGreaterThan(20);
    expect(await page.textContent('#filters .panel:nth-child(2) .sub')).toMatch(/32 slices/);
    await page.screenshot({ path: join(SHOTS, 'demo-laptop.png') });
    await page.screenshot({ path: join(SHOTS, 'demo-laptop-full.png'), fullPage: true });
  });

  it('downloads the model and loads it back from the files with the same predictions', async () => {
    needBrowser();
    const before = (await hook(page)).prediction!;
    const downloads: { name: string; path: string }[] = [];
    const all = new Promise<void>((done) => {
      page.on('download', async (d) => {
        const path = join(SHOTS, `model-${d.suggestedFilename()}`);
        await d.saveAs(path);
        downloads.push({ name: d.suggestedFilename(), path });
        if (downloads.length === 3) done();
      });
    });
    await page.click('#save-file');
    await all;
    const names = downloads.map((d) => d.name).sort();
    expect(names).toEqual(['simdcnn-lenet.json', 'simdcnn-lenet.optimizer.bin', 'simdcnn-lenet.weights.bin']);
    expect(await page.textContent('#io-msg')).toMatch(/Downloaded/);
    const json = JSON.parse(readFileSync(downloads.find((d) => d.name.endsWith('.json'))!.path, 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.userDefinedMetadata.simdcnnDemo).toMatchObject({ net: 'lenet', range: [0, 1] });

    await page.click('#clear');
    await page.setInputFiles(
      '#load-file',
      downloads.map((d) => d.path),
    );
    await page.waitForFunction(() => /Loaded/.test(document.getElementById('io-msg')!.textContent ?? ''), null, { timeout: 20_000 });
    await stroke(page, SEVEN, 'touch');
    await drawn(page);
    expect(maxDiff((await hook(page)).prediction!, before)).toBeLessThanOrEqual(1e-6);
  }, 60_000);

  it('explains files that are not a model, or an incomplete one', async () => {
    needBrowser();
    const msg = () => page.textContent('#io-msg');
    const load = async (files: { name: string; mimeType: string; buffer: Buffer }[]) => {
      await page.evaluate(() => {
        document.getElementById('io-msg')!.textContent = '';
      });
      await page.setInputFiles('#load-file', files);
      await page.waitForFunction(
        () =>
          (document.getElementById('io-msg')!.textContent ?? '').length > 0 &&
          document.getElementById('io-msg')!.textContent !== 'Working…',
      );
      return { text: await msg(), cls: await page.getAttribute('#io-msg', 'class') };
    };
    const png = await load([{ name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }]);
    expect(png.text).toMatch(/no model \.json/);
    expect(png.cls).toMatch(/warn/);
    const notJson = await load([{ name: 'model.json', mimeType: 'application/json', buffer: Buffer.from('<html>') }]);
    expect(notJson.text).toMatch(/not JSON/);
    const otherJson = await load([{ name: 'package.json', mimeType: 'application/json', buffer: Buffer.from('{"name":"x"}') }]);
    expect(otherJson.text).toMatch(/is JSON but not a model/);
    const modelJson = readFileSync(join(SHOTS, 'model-simdcnn-lenet.json'));
    const noWeights = await load([{ name: 'simdcnn-lenet.json', mimeType: 'application/json', buffer: modelJson }]);
    expect(noWeights.text).toMatch(/needs its weight file/);
    const truncated = await load([
      { name: 'simdcnn-lenet.json', mimeType: 'application/json', buffer: modelJson },
      { name: 'simdcnn-lenet.weights.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(100) },
    ]);
    expect(truncated.text).toMatch(/could not be loaded/);
    // The model in use is still the good one.
    expect((await hook(page)).prediction).not.toBeNull();
  }, 60_000);

  it('saves in IndexedDB and loads it back', async () => {
    needBrowser();
    await page.click('#save-idb');
    await page.waitForFunction(() => /Saved in this browser/.test(document.getElementById('io-msg')!.textContent ?? ''));
    await page.click('#load-idb');
    await page.waitForFunction(() => /Loaded the lenet model/.test(document.getElementById('io-msg')!.textContent ?? ''));
    expect(errors).toEqual([]);
  });

  it('fits a phone screen (390x844): no sideways scrolling, drawing by touch works', async () => {
    needBrowser();
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const phone = await ctx.newPage();
    const phoneErrors: string[] = [];
    phone.on('pageerror', (e) => phoneErrors.push(e.message));
    await phone.goto(`${server.url}?build=simd`);
    await phone.waitForFunction(() => (window as unknown as { simdcnnDemo?: Hook }).simdcnnDemo?.state === 'idle', null, {
      timeout: 30_000,
    });
    await phone.fill('#epochs', '1');
    await phone.click('#train');
    await phone.waitForFunction(() => (window as unknown as { simdcnnDemo: Hook }).simdcnnDemo.state === 'ready', null, {
      timeout: 60_000,
    });
    await phone.screenshot({ path: join(SHOTS, 'demo-phone.png') });
    await phone.locator('#draw-card').scrollIntoViewIfNeeded();
    await stroke(phone, SEVEN, 'touch');
    await drawn(phone);
    expect((await hook(phone)).prediction).not.toBeNull();
    await phone.screenshot({ path: join(SHOTS, 'demo-phone-draw.png') });
    await phone.screenshot({ path: join(SHOTS, 'demo-phone-full.png'), fullPage: true });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const wide = await phone.$$eval('main *', (els) =>
      els.filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.id || e.className),
    );
    expect(wide).toEqual([]);
    expect(phoneErrors).toEqual([]);
    await ctx.close();
  }, 90_000);
});
