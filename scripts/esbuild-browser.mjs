// Shared esbuild settings for everything that runs in a browser (the library bundle, its worker, the demo).
// A browser bundle must never contain Node code: any import of a Node built-in, or of one of simdcnn's
// Node-only modules, fails the build with the chain of files that pulled it in.
import { builtinModules } from 'node:module';
import { relative } from 'node:path';
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

/** Bundles `entryPoints` (object: out name -> source) for browsers into outdir; throws on any error. */
export async function bundle({ entryPoints, outdir, format = 'esm', minify = true, sourcemap = false, metafile = false }) {
  return esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format,
    platform: 'browser',
    target: 'es2022',
    minify,
    keepNames: true, // error classes report their own names (ValueError, ...) even when minified
    sourcemap,
    metafile,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [noNodePlugin],
  });
}
