// A tiny static file server for the demo (node:http only), bound to localhost.
//   node scripts/serve.mjs [--port 8080] [--root web]
// Sends correct MIME types (application/wasm included) and the COOP/COEP headers that make the page
// cross-origin isolated (SharedArrayBuffer, precise timers). Also importable: startServer({mounts, port}).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.gz': 'application/octet-stream', // served as-is; the page inflates it with DecompressionStream
};

const SECURITY = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * Serves `mounts` (URL prefix -> directory; the longest matching prefix wins) on host:port (port 0 picks a
 * free one), cross-origin isolated unless `isolated` is false. Resolves with {server, url, close()}.
 */
export function startServer({ mounts = { '/': 'web' }, port = 8080, host = '127.0.0.1', log = false, isolated = true } = {}) {
  const security = isolated ? SECURITY : { 'X-Content-Type-Options': 'nosniff' };
  const table = Object.entries(mounts)
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)])
    .sort((a, b) => b[0].length - a[0].length);

  const server = createServer(async (req, res) => {
    const send = (code, body, headers = {}) => {
      res.writeHead(code, { ...security, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    if (path.includes('\0')) return send(400, 'bad request\n');
    const mount = table.find(([prefix]) => `${path}/`.startsWith(prefix));
    if (!mount) return send(404, 'not found\n');
    const [prefix, dir] = mount;
    let file = normalize(join(dir, path.slice(prefix.length - 1)));
    if (file !== dir && !file.startsWith(dir + sep)) return send(403, 'forbidden\n');
    try {
      let st = await stat(file);
      if (st.isDirectory()) {
        if (!path.endsWith('/')) return send(301, '', { Location: `${path}/` });
        file = join(file, 'index.html');
        st = await stat(file);
      }
      const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, { ...security, 'Content-Type': type, 'Content-Length': st.size, 'Cache-Control': 'no-cache' });
      if (log) console.log(`${req.method} ${path} 200`);
      if (req.method === 'HEAD') return res.end();
      createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
    } catch {
      if (log) console.log(`${req.method} ${path} 404`);
      send(404, `not found: ${path}\n`);
    }
  });

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      const url = `http://${host === '127.0.0.1' ? 'localhost' : host}:${p}/`;
      resolvePromise({ server, url, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

/** The demo's mounts: the pages under `root`, and TF.js's wasm binaries for web/bench.html (a devDependency). */
export function demoMounts(root = 'web') {
  const mounts = { '/': root };
  try {
    mounts['/tfjs-wasm/'] = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  } catch {
    // not installed: web/bench.html says TF.js could not start
  }
  return mounts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : (process.env[name.toUpperCase()] ?? def);
  };
  const root = arg('root', 'web');
  let port = Number(arg('port', 8080));
  for (let tries = 0; ; tries++) {
    try {
      const { url } = await startServer({ mounts: demoMounts(root), port, log: process.argv.includes('--log') });
      console.log(`simdcnn demo: ${url}  (serving ${root}/; Ctrl+C to stop)`);
      break;
    } catch (e) {
      if (e.code === 'EADDRINUSE' && tries < 10) {
        port++;
        continue;
      }
      console.error(`cannot listen on localhost:${port}: ${e.message}`);
      process.exit(1);
    }
  }
}
