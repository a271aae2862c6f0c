// A tiny static file server for the browser example (and the browser tests):
// serves .wasm as application/wasm, and sends the COOP/COEP headers that make
// the page crossOriginIsolated (needed for SharedArrayBuffer and threads).
//
//   node examples/browser/serve.mjs [port]     then open http://127.0.0.1:8080/examples/browser/
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.gz': 'application/gzip',
};

/** Maps a URL path to a file under the mount whose prefix matches, or null if it leaves that folder. */
function resolvePath(mounts, pathname) {
  const prefix = Object.keys(mounts).filter((p) => pathname.startsWith(p)).sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return null;
  const root = mounts[prefix];
  const file = normalize(join(root, decodeURIComponent(pathname.slice(prefix.length))));
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null;
}

/**
 * Serves `root` at "/" and each extra mount ({ "/prefix/": folder }) on
 * 127.0.0.1. Resolves to { url, close() } once listening (port 0 = any free port).
 * isolated: false leaves out COOP/COEP (a page as most servers send it: no threads).
 */
export function serve({ root, mounts = {}, port = 0, host = '127.0.0.1', isolated = true }) {
  const all = { '/': root, ...mounts };
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    let file = resolvePath(all, pathname);
    try {
      if (file !== null && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (file === null || !statSync(file).isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({
        url: `http://${host}:${actual}`,
        close: () => new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const { url } = await serve({ root, port: Number(process.argv[2] ?? 8080) });
  console.log(`serving ${root} at ${url}/ — open ${url}/examples/browser/`);
}
