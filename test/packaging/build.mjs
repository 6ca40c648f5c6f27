// Builds test/packaging/app with one bundler into an output directory, as a user's production build would:
//   node build.mjs <vite6|vite7|vite8|webpack|parcel|esbuild-iife|esbuild-esm|rollup|plain-dist|plain-lib> <outDir>
// Prints one JSON line: {warnings}. simdcnn comes from ./node_modules/simdcnn (the packed tarball).
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, 'app');
const pkg = join(here, 'node_modules/simdcnn');
const [name, out] = process.argv.slice(2);
const warnings = [];
const page = (script) =>
  `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>simdcnn ${name}</title></head><body>${script}</body></html>\n`;
/** esbuild and rollup do not bundle workers: the documented step is to put simdcnn's worker next to the bundle. */
const copyWorker = () => cpSync(join(pkg, 'dist/worker.js'), join(out, 'worker.js'));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

if (name.startsWith('vite')) {
  const { build } = await import(name);
  await build({
    root: app,
    configFile: false,
    logLevel: 'error',
    base: './',
    build: { outDir: out, emptyOutDir: true, rollupOptions: { onwarn: (w) => warnings.push(String(w.message ?? w)) } },
  });
} else if (name === 'webpack') {
  const { default: webpack } = await import('webpack');
  const stats = await new Promise((resolve, reject) =>
    webpack(
      {
        mode: 'production',
        context: app,
        entry: './main.js',
        performance: { hints: false },
        output: { path: out, filename: 'main.js', clean: true },
      },
      (err, s) => (err ? reject(err) : resolve(s)),
    ),
  );
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  if (stats.hasErrors()) throw new Error(info.errors.map((e) => e.message).join('\n'));
  warnings.push(...info.warnings.map((w) => w.message));
  writeFileSync(join(out, 'index.html'), page('<script src="main.js"></script>'));
} else if (name === 'parcel') {
  const { Parcel } = await import('@parcel/core');
  const bundler = new Parcel({
    entries: join(app, 'index.html'),
    defaultConfig: '@parcel/config-default',
    mode: 'production',
    shouldDisableCache: true,
    cacheDir: join(out, '.parcel-cache'),
    defaultTargetOptions: { distDir: out, publicUrl: './' },
  });
  await bundler.run();
  rmSync(join(out, '.parcel-cache'), { recursive: true, force: true });
} else if (name.startsWith('esbuild')) {
  const esbuild = await import('esbuild');
  const format = name === 'esbuild-esm' ? 'esm' : undefined; // undefined: esbuild's default, iife
  const r = await esbuild.build({
    entryPoints: [join(app, 'main.js')],
    bundle: true,
    minify: true,
    format,
    outfile: join(out, 'main.js'),
    logLevel: 'silent',
  });
  warnings.push(...r.warnings.map((w) => w.text));
  copyWorker();
  writeFileSync(join(out, 'index.html'), page(`<script${format ? ' type="module"' : ''} src="main.js"></script>`));
} else if (name === 'rollup') {
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  const { default: terser } = await import('@rollup/plugin-terser');
  const b = await rollup({
    input: join(app, 'main.js'),
    plugins: [nodeResolve({ browser: true }), terser()],
    onwarn: (w) => warnings.push(w.message),
  });
  await b.write({ file: join(out, 'main.js'), format: 'es' });
  copyWorker();
  writeFileSync(join(out, 'index.html'), page('<script type="module" src="main.js"></script>'));
} else if (name === 'plain-dist' || name === 'plain-lib') {
  // No bundler: the files as published, an import map naming them.
  cpSync(pkg, join(out, 'simdcnn'), { recursive: true });
  cpSync(join(app, 'main.js'), join(out, 'main.js'));
  const imports =
    name === 'plain-dist'
      ? { simdcnn: './simdcnn/dist/simdcnn.js', 'simdcnn/worker-client': './simdcnn/dist/worker-client.js' }
      : { simdcnn: './simdcnn/lib/index.js', 'simdcnn/worker-client': './simdcnn/lib/browser/train-in-worker.js' };
  writeFileSync(
    join(out, 'index.html'),
    page(`<script type="importmap">${JSON.stringify({ imports })}</script><script type="module" src="main.js"></script>`),
  );
} else {
  throw new Error(`unknown bundler '${name}'`);
}
console.log(JSON.stringify({ warnings }));
