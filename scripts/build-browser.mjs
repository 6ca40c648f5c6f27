// npm run build:browser: single-file bundles for browsers without a bundler, wasm embedded (no paths to configure).
//   dist/simdcnn.js        the whole public API (src/index.ts), ES module
//   dist/worker-client.js  trainInWorker() (src/browser/train-in-worker.ts), ES module; starts ./worker.js
//   dist/worker.js         the training worker (src/browser/worker.ts), a classic script (also valid as a module)
import { existsSync, statSync } from 'node:fs';
import { bundle } from './esbuild-browser.mjs';

if (!existsSync('src/generated/wasm-bytes.ts')) {
  console.error('src/generated/wasm-bytes.ts is missing: run `npm run asbuild` first');
  process.exit(1);
}

try {
  await bundle({ entryPoints: { simdcnn: 'src/index.ts', 'worker-client': 'src/browser/train-in-worker.ts' }, outdir: 'dist' });
  await bundle({ entryPoints: { worker: 'src/browser/worker.ts' }, outdir: 'dist', format: 'iife' });
} catch {
  // esbuild already printed the errors (e.g. a Node import that sneaked in).
  process.exit(1);
}
for (const name of ['simdcnn', 'worker-client', 'worker']) {
  const f = `dist/${name}.js`;
  console.log(`${f.padEnd(24)} ${(statSync(f).size / 1024).toFixed(1).padStart(7)} KiB`);
}
