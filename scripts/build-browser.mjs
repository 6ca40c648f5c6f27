// npm run build:browser: single-file ESM bundles for browsers, wasm embedded (no paths to configure).
//   dist/simdcnn.js                the whole public API (src/index.ts)
//   dist/simdcnn-worker.js         the training worker (src/browser/worker.ts)
//   dist/simdcnn-worker-client.js  trainInWorker() (src/browser/train-in-worker.ts); finds the worker next to itself
import { existsSync, statSync } from 'node:fs';
import { bundle } from './esbuild-browser.mjs';

if (!existsSync('src/generated/wasm-bytes.ts')) {
  console.error('src/generated/wasm-bytes.ts is missing: run `npm run asbuild` first');
  process.exit(1);
}

const entryPoints = {
  simdcnn: 'src/index.ts',
  'simdcnn-worker': 'src/browser/worker.ts',
  'simdcnn-worker-client': 'src/browser/train-in-worker.ts',
};
try {
  await bundle({ entryPoints, outdir: 'dist' });
} catch {
  // esbuild already printed the errors (e.g. a Node import that sneaked in).
  process.exit(1);
}
for (const name of Object.keys(entryPoints)) {
  const f = `dist/${name}.js`;
  console.log(`${f.padEnd(32)} ${(statSync(f).size / 1024).toFixed(1).padStart(7)} KiB`);
}
