// Threads in Debian's Chromium (playwright-core): trainInWorker in a cross-origin isolated page trains on
// two threads (nested kernel Workers over one shared wasm memory) to the same weights, bit for bit, as on
// one thread; in a page that is not isolated it trains on one thread and says why.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { startServer } from '../scripts/serve.mjs';
import { NETS } from '../web/src/nets.js';
import { hasChromium, launchChromium, MISSING } from './chromium.js';

const root = resolve(import.meta.dirname, '..');
let browser: Browser | undefined;
let server: { url: string; close(): Promise<void> } | undefined;

beforeAll(async () => {
  if (!hasChromium()) return;
  execFileSync(process.execPath, ['scripts/build-browser.mjs'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  server = await startServer({ mounts: { '/': join(root, 'web'), '/bundle/': join(root, 'dist') }, port: 0 });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const ISOLATED = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** A blank page of the server's origin, cross-origin isolated or not. */
async function page(isolated: boolean): Promise<Page> {
  if (!hasChromium()) throw new Error(MISSING);
  const p = await browser!.newPage();
  await p.route('**/blank.html', (r) =>
    r.fulfill({ contentType: 'text/html', headers: isolated ? ISOLATED : {}, body: '<!doctype html><title>blank</title>' }),
  );
  await p.goto(`${server!.url}blank.html`);
  return p;
}

interface Run {
  isolated: boolean;
  active: number;
  note?: string;
  hash: string;
  loss: number[];
}

/** Trains the demo's tutorial net on 120 samples, batch 40, in trainInWorker with each of `threads`. */
async function train(isolated: boolean, threads: (number | undefined)[]): Promise<Run[]> {
  const p = await page(isolated);
  try {
    return await p.evaluate(`(async () => {
      const { trainInWorker } = await import('/bundle/worker-client.js');
      const spec = ${JSON.stringify(NETS.tutorial.spec)};
      const data = () => {
        let s = 7;
        const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
        const x = new Float32Array(120 * 784).map(rnd), y = new Uint8Array(120).map((_, i) => i % 10);
        return { x, shape: [120, 28, 28, 1], y };
      };
      const out = [];
      for (const threads of ${JSON.stringify(threads)}) {
        const r = await trainInWorker({ ...spec, seed: 5 }, data(), { epochs: 2, batchSize: 40, seed: 1, build: 'simd', threads: threads ?? undefined }).promise;
        const bytes = new Uint8Array(r.weights.reduce((n, w) => n + w.byteLength, 0));
        let at = 0;
        for (const w of r.weights) { bytes.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), at); at += w.byteLength; }
        const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
        out.push({ isolated: crossOriginIsolated, active: r.threads.active, note: r.threads.note, hash, loss: r.history.history.loss });
      }
      return out;
    })()`);
  } finally {
    await p.close();
  }
}

describe('threads in Chromium (trainInWorker)', () => {
  it('an isolated page trains the tutorial net x=[120,28,28,1] batch 40 on 2 threads to the same sha256 as on 1', async () => {
    const [two, one] = await train(true, [2, 1]);
    expect(two.isolated).toBe(true);
    expect(two.active).toBe(2);
    expect(one.active).toBe(1);
    expect(two.hash).toBe(one.hash);
    expect(two.loss).toEqual(one.loss);
    expect(two.loss.every(Number.isFinite)).toBe(true);
  }, 120_000);

  it('a page that is not cross-origin isolated trains on one thread and says why', async () => {
    const [def, asked] = await train(false, [undefined, 2]);
    expect(def.isolated).toBe(false);
    for (const r of [def, asked]) {
      expect(r.active).toBe(1);
      expect(r.note).toMatch(/one thread: the page is not cross-origin isolated/);
    }
    // Asked for threads, it still trains in the fixed chunked order: the weights of any thread count.
    const [isolatedOne] = await train(true, [1]);
    expect(asked.hash).toBe(isolatedOne.hash);
  }, 120_000);
});
