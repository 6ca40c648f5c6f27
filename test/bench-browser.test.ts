// web/bench.html (npm run bench:browser) in Debian's Chromium with tiny counts and one round: simdcnn on
// setThreads(1 | 2) and TF.js wasm on setThreadsCount(1 | 2) start in their Workers with the threads asked
// for, TF.js on its threaded SIMD binary, both compute LeNet's predictions and SGD step alike from the same
// weights, and every case yields a finite rate. No timing assertions: speed is the bench's business.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { bundleBench } from '../scripts/esbuild-browser.mjs';
// @ts-expect-error plain .mjs script without type declarations
import { demoMounts, startServer } from '../scripts/serve.mjs';
import { loadMnist } from '../src/mnist.js';
import type { BenchResult } from '../web/src/bench/main.js';
import { hasChromium, launchChromium, MISSING } from './chromium.js';

const root = resolve(import.meta.dirname, '..');
const IMAGES = 256; // the page's agreement check predicts 256 images
let browser: Browser | undefined;
let server: { url: string; close(): Promise<void> } | undefined;

/** The page's data file (web/src/data.ts's layout) with the first IMAGES MNIST training images, no test split. */
async function writeData(dir: string): Promise<void> {
  const m = await loadMnist({ trainLimit: IMAGES, testLimit: 1, range: [0, 255] });
  const header = Buffer.alloc(32);
  header.write('SCMNIST1', 0, 'latin1');
  header.writeUInt32LE(IMAGES, 8);
  header.writeUInt32LE(0, 12);
  header.writeUInt32LE(28, 16);
  header.writeUInt32LE(28, 20);
  const body = Buffer.concat([header, m.train.labels, Uint8Array.from(m.train.images.data, Math.round)]);
  writeFileSync(join(dir, 'mnist-12k.bin.gz'), gzipSync(body));
}

beforeAll(async () => {
  if (!hasChromium()) return;
  // Bundles and data in folders of their own: other suites rebuild web/dist concurrently.
  const tmp = mkdtempSync(join(tmpdir(), 'simdcnn-bench-page-'));
  for (const d of ['dist', 'data']) mkdirSync(join(tmp, d));
  await Promise.all([bundleBench(join(tmp, 'dist')), writeData(join(tmp, 'data'))]);
  server = await startServer({
    mounts: { ...demoMounts(join(root, 'web')), '/dist/': join(tmp, 'dist'), '/data/': join(tmp, 'data') },
    port: 0,
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('web/bench.html: simdcnn vs TF.js wasm with threads in Chromium', () => {
  it('LeNet x=[256,28,28,1]: both libraries on 1 and 2 threads, TF.js threaded SIMD, predictions and SGD step agree, rates finite', async () => {
    if (!browser) throw new Error(MISSING);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server!.url}bench.html?quick`);
    await page.waitForFunction(() => (window as unknown as { simdcnnBench?: { state: string } }).simdcnnBench?.state !== 'running', null, {
      timeout: 60_000,
      polling: 200,
    });
    const state = (await page.evaluate('window.simdcnnBench')) as { state: string; result?: BenchResult; message?: string };
    await page.close();
    expect(state.message).toBeUndefined();
    expect(errors).toEqual([]);
    const r = state.result!;
    expect(r.isolated).toBe(true);
    const started = r.workers.map((w) => [w.lib, w.requested, w.active, w.isolated]);
    expect(started).toEqual([
      ['simdcnn', 1, 1, true],
      ['tfjs', 1, 1, true],
      ['simdcnn', 2, 2, true],
      ['tfjs', 2, 2, true],
    ]);
    for (const w of r.workers.filter((w) => w.lib === 'tfjs')) {
      expect(w.wasmFiles).toEqual(['tfjs-backend-wasm-threaded-simd.wasm']);
      expect(w.build).toBe('SIMD true, multithread true');
    }
    expect(r.predictionDiff).toHaveLength(2);
    for (const d of [...r.predictionDiff, ...r.stepDiff]) expect(d).toBeLessThanOrEqual(1e-4);
    expect(r.rows.map((row) => `${row.what} @${row.threads}`)).toEqual([
      'LeNet, infer, batch 1 @1',
      'LeNet, infer, batch 1 @2',
      'LeNet, infer, batch 256 @1',
      'LeNet, infer, batch 256 @2',
      'LeNet, train, batch 64 @1',
      'LeNet, train, batch 64 @2',
    ]);
    for (const row of r.rows) for (const v of [row.simdcnn, row.tfjs]) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(r.markdown).toMatch(/\| LeNet, train, batch 64 \| 2 \| [\d,]+ \| [\d,]+ \| [\d.]+x \|/);
  }, 90_000);
});
