// npm run bench:browser [-- --quick] [-- --reps N]: web/bench.html in Debian's Chromium (headless, the
// test suite's flags): simdcnn on setThreads(n) against TF.js wasm's threaded SIMD build, LeNet inference
// at batch 1 and 256 and training at batch 64, 1 and 2 threads. Builds the page, serves it cross-origin
// isolated, prints the markdown table and writes it to bench/results/browser.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
// @ts-expect-error plain .mjs script without type declarations
import { demoMounts, startServer } from '../scripts/serve.mjs';
import { launchChromium } from '../test/chromium.js';
import type { BenchResult } from '../web/src/bench/main.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsAt = args.indexOf('--reps');
const query = new URLSearchParams();
if (quick) query.set('quick', '');
if (repsAt >= 0) query.set('reps', args[repsAt + 1]);

execFileSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' });
const load0 = loadavg()[0];
const t0 = performance.now();
const server: { url: string; close(): Promise<void> } = await startServer({ mounts: demoMounts('web'), port: 0 });
const browser = await launchChromium();
let state: { state: string; result?: BenchResult; message?: string };
try {
  const page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
  page.on('pageerror', (e) => console.error(`page: ${e.message}`));
  await page.goto(`${server.url}bench.html?${query}`);
  let last = '';
  for (;;) {
    state = (await page.evaluate('window.simdcnnBench')) as typeof state;
    if (state.state !== 'running') break;
    const status = (state as { status?: string }).status ?? '';
    if (status !== last) console.log(`  ${(last = status)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
} finally {
  await browser.close();
  await server.close();
}
if (state.state !== 'done') {
  console.error(`bench:browser failed: ${state.message}`);
  process.exit(1);
}
const seconds = (performance.now() - t0) / 1000;
const text = [
  `# simdcnn vs TF.js wasm in Chromium${quick ? ' (quick)' : ''}`,
  '',
  `Command: npm run bench:browser${args.length ? ` -- ${args.join(' ')}` : ''} (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${seconds.toFixed(0)} s). 1-minute load average: ${load0.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (2 cores).`,
  '',
  state.result!.markdown,
  '',
].join('\n');
console.log(`\n${text}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/browser.md.tmp', text);
renameSync('bench/results/browser.md.tmp', 'bench/results/browser.md');
