// Serves test/packaging/app with a Vite dev server until killed; prints {url} once listening.
//   node dev.mjs <vite6|vite7|vite8> [--exclude]   (--exclude: optimizeDeps.exclude ['simdcnn'], the README's setting for Vite 6/7)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [name, flag] = process.argv.slice(2);
const { createServer } = await import(name);
const server = await createServer({
  root: join(here, 'app'),
  configFile: false,
  logLevel: 'error',
  cacheDir: join(here, 'node_modules/.vite-dev', name),
  server: { port: 0, host: '127.0.0.1' },
  optimizeDeps: { force: true, ...(flag === '--exclude' ? { exclude: ['simdcnn'] } : {}) },
});
await server.listen();
console.log(JSON.stringify({ url: server.resolvedUrls.local[0] }));
