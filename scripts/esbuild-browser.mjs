// Shared esbuild settings for everything that runs in a browser (the library bundle, its worker, the demo).
// A browser bundle must never contain Node code: any import of a Node built-in, or of one of simdcnn's
// Node-only modules, fails the build with the chain of files that pulled it in.
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** simdcnn's own modules that exist only for Node. */
const NODE_ONLY =
  /[\\/]src[\\/](node|node-flags|mnist|cli|progress)\.(ts|js)$|[\\/]src[\\/]io[\\/]node\.(ts|js)$|[\\/]src[\\/]data[\\/](node-files|decode|folder)\.(ts|js)$/;

export const noNodePlugin = {
  name: 'no-node',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path.startsWith('node:') || builtins.has(args.path)) {
        return {
          errors: [
            {
              text: `browser bundle imports the Node built-in '${args.path}' (from ${relative(process.cwd(), args.importer)}); browser code must not use Node modules`,
            },
          ],
        };
      }
      return undefined;
    });
    build.onLoad({ filter: NODE_ONLY }, (args) => ({
      errors: [
        {
          text: `browser bundle pulls in the Node-only module ${relative(process.cwd(), args.path)}; import from src/index.ts, never src/node.ts`,
        },
      ],
    }));
  },
};

/**
 * Bundles `entryPoints` (object: out name -> source) for browsers into outdir; throws on any error.
 * `nodeCheck: false` lets packages' own "browser" fields stub the Node built-ins they name (TF.js's wasm
 * backend, in the dev-only bench page).
 */
export async function bundle({
  entryPoints,
  outdir,
  format = 'esm',
  minify = true,
  sourcemap = false,
  metafile = false,
  nodeCheck = true,
  keepNames = true,
}) {
  return esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format,
    platform: 'browser',
    target: 'es2022',
    minify,
    keepNames, // error classes report their own names (ValueError, ...) even when minified
    sourcemap,
    metafile,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: nodeCheck ? [noNodePlugin] : [],
  });
}

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
/** web/bench.html's page and its two workers (dev only), into outdir. */
export async function bundleBench(outdir) {
  await bundle({
    entryPoints: { bench: here('../web/src/bench/main.ts'), 'bench-simdcnn': here('../web/src/bench/simdcnn-worker.ts') },
    outdir,
  });
  // Neither minified nor name-kept: TF.js starts its pthreads from the source text of its Emscripten
  // factory (Function.prototype.toString), which must not refer to names renamed or helpers added outside it.
  const tfjs = { 'bench-tfjs': here('../web/src/bench/tfjs-worker.ts') };
  await bundle({ entryPoints: tfjs, outdir, nodeCheck: false, minify: false, keepNames: false });
}
