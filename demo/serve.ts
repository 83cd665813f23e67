/**
 * npm run demo: serves the browser demo on http://127.0.0.1:8080 (PORT to change it).
 *
 *   /            demo/index.html (an import map points `mobileid` at /dist/browser.js)
 *   /app.js      demo/app.ts, bundled on start with `mobileid` left to the import map
 *   /dist/*      the built package (npm run build)
 *   /samples/*   demo/samples
 *   /fallback-student.mobileid  a random-weights student, only while the build ships none
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { BUNDLED_MODELS } from '../src/engine/assets.js';
import { encodeModel } from '../src/engine/model-format.js';
import { initWeights, studentGraph } from '../src/face/student-graph.js';

const demo = fileURLToPath(new URL('.', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.md': 'text/markdown; charset=utf-8',
};

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

export async function startDemoServer({ port = 8080, quiet = false } = {}): Promise<DemoServer> {
  if (!existsSync(path.join(dist, 'browser.js'))) throw new Error('dist/browser.js is missing: run `npm run build` first');
  const app = await esbuild.build({
    entryPoints: [path.join(demo, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    external: ['mobileid', 'mobileid/engine'],
    logLevel: 'error',
  });
  const hasStudent = existsSync(path.join(dist, 'models', BUNDLED_MODELS.mobileid));
  const fallbackStudent = hasStudent ? null : encodeModel(studentGraph(), initWeights(studentGraph(), 7), { dtype: 'f16' });

  const files: Record<string, () => Uint8Array | string | null> = {
    '/': () => readFileSync(path.join(demo, 'index.html')),
    '/app.js': () => app.outputFiles[0].text,
    '/fallback-student.mobileid': () => fallbackStudent,
  };
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    let body: Uint8Array | string | null = null;
    if (files[pathname]) body = files[pathname]();
    else {
      const [root, prefix] = pathname.startsWith('/dist/') ? [dist, '/dist/'] : pathname.startsWith('/samples/') ? [path.join(demo, 'samples'), '/samples/'] : [null, ''];
      const file = root && path.join(root, pathname.slice(prefix.length));
      if (file && file.startsWith(root) && existsSync(file)) body = readFileSync(file);
    }
    if (body === null) {
      response.writeHead(404).end('not found');
      return;
    }
    const type = pathname === '/' ? CONTENT_TYPES['.html'] : CONTENT_TYPES[path.extname(pathname)] ?? 'application/octet-stream';
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  if (!quiet) console.log(`mobileid demo: ${url}${hasStudent ? '' : '  (no trained student in dist/: the page uses random weights)'}`);
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await startDemoServer({ port: Number(process.env.PORT ?? 8080) });
}
