// npm run build:cjs: the CommonJS build behind the `require` conditions of 'simdcnn' and 'simdcnn/mnist'
// (Node 20 before 20.19 cannot require() an ES module). lib/cjs/ mirrors lib/, file for file, so the
// CommonJS entries share one copy of the library state; its .d.ts copies are read as CommonJS by TypeScript.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as esbuild from 'esbuild';

const LIB = 'lib',
  OUT = 'lib/cjs';
// Browser-only modules and the (ESM) command line stay out of the CommonJS build.
const SKIP = new Set(['cli.js', 'browser/worker.js', 'browser/train-in-worker.js']);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p === OUT ? [] : walk(p);
    return [p];
  });
}
const files = walk(LIB)
  .map((p) => relative(LIB, p))
  .filter((f) => !SKIP.has(f.replace(/\.d\.ts$/, '.js')));
const js = files.filter((f) => f.endsWith('.js'));
const usesMeta = (f) => readFileSync(join(LIB, f), 'utf8').includes('import.meta');
const common = { outdir: OUT, outbase: LIB, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };
await esbuild.build({ ...common, entryPoints: js.filter((f) => !usesMeta(f)).map((f) => join(LIB, f)) });
// import.meta.url has a CommonJS equivalent: the file's own URL.
await esbuild.build({
  ...common,
  entryPoints: js.filter(usesMeta).map((f) => join(LIB, f)),
  define: { 'import.meta.url': '__simdcnn_file_url' },
  banner: { js: "'use strict';\nconst __simdcnn_file_url = require('node:url').pathToFileURL(__filename).href;" },
});
for (const f of files.filter((f) => f.endsWith('.d.ts'))) {
  mkdirSync(dirname(join(OUT, f)), { recursive: true });
  copyFileSync(join(LIB, f), join(OUT, f));
}
writeFileSync(join(OUT, 'package.json'), '{ "type": "commonjs" }\n');
console.log(`${OUT}/: ${js.length} CommonJS modules`);
