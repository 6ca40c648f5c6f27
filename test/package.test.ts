// `npm pack` yields a package that works when installed into an empty project, imported from plain Node ESM.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

it('npm pack -> npm install into an empty project -> import { Sequential } from "simdcnn" trains and predicts', () => {
  if (!existsSync(join(root, 'lib/index.js')) || !existsSync(join(root, 'dist/simdcnn.js'))) run('npm', ['run', 'build', '--silent'], root);
  const dir = mkdtempSync(join(tmpdir(), 'simdcnn-pack-'));
  const listing = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root))[0];
  const files: string[] = listing.files.map((f: { path: string }) => f.path);
  for (const f of ['lib/index.js', 'lib/index.d.ts', 'lib/node.js', 'lib/mnist.js', 'lib/cli.js', 'lib/generated/wasm-bytes.js', 'README.md',
    'dist/simdcnn.js', 'dist/simdcnn-worker.js', 'dist/simdcnn-worker-client.js', 'lib/browser/train-in-worker.d.ts']) {
    expect(files, f).toContain(f);
  }
  expect(files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/'))).toBe(false);
  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tgz)], app);
  writeFileSync(join(app, 'main.mjs'), `
    import { Sequential, Conv2D, MaxPool2D, Flatten, Dense, tensor } from 'simdcnn';
    import { loadMnist } from 'simdcnn/mnist';
    import { trainInWorker } from 'simdcnn/worker-client';
    if (typeof trainInWorker !== 'function') throw new Error('simdcnn/worker-client does not export trainInWorker');
    const { train } = await loadMnist({ trainLimit: 64 });
    const m = new Sequential([Conv2D({ filters: 4, kernelSize: 3, inputShape: [28, 28, 1] }), MaxPool2D({ poolSize: 2 }), Flatten(), Dense({ units: 10, activation: 'softmax' })], { seed: 1 });
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const h = await m.fit(train.images, train.labels, { epochs: 2, batchSize: 16 });
    const p = m.predict(train.images.slice(0, 2));
    console.log(JSON.stringify({ loss: h.history.loss, shape: p.shape, sum: p.data.slice(0, 10).reduce((a, b) => a + b, 0) }));
  `);
  const out = JSON.parse(run('node', ['main.mjs'], app).trim().split('\n').pop()!);
  expect(out.shape).toEqual([2, 10]);
  expect(out.sum).toBeCloseTo(1, 5);
  expect(out.loss[1]).toBeLessThan(out.loss[0]);
  const help = run('node', [join(app, 'node_modules/simdcnn/lib/cli.js'), 'help'], app);
  expect(help).toMatch(/simdcnn train/);
}, 180_000);
