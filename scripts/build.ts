/**
 * npm run build: the publishable dist/ folder.
 *
 *   dist/server.js, server.cjs   Node (ESM, CommonJS), Deno, Bun: wasm and models read from dist/
 *   dist/browser.js              browsers and web workers: wasm and models fetched next to it
 *   dist/workerd.js              Cloudflare: `import wasm from './mobileid.wasm'`
 *   dist/edge-light.js           Vercel Edge: `import wasm from './mobileid.wasm?module'`
 *   dist/cli.js                  the CLI (bin/mobileid.js runs it in a published package)
 *   dist/engine.js, engine.cjs   `mobileid/engine` for Node: re-exports of the server bundle's __engine
 *   dist/engine.web.js           `mobileid/engine` for browsers and edge (a bundle of its own)
 *   dist/pool-worker.js          RecognizerPool's worker threads (also the CLI's: never the CLI entry, a worker must not run main())
 *   dist/decode-worker.js        the thread in which the Node entry's toRgbImage decodes
 *   dist/samples/                the demo's sample photos and their licence (demo/samples)
 *   dist/mobileid.wasm, dist/models/*.mobileid (+ model cards), dist/types/** (.d.ts and .d.cts)
 *   dist/jpeg-turbo.wasm         the Node/Deno/Bun JPEG decoder (libjpeg-turbo; licence in jpeg-turbo.LICENSE.md, from licenses/)
 *
 * Every build sets an explicit target: without one esbuild may emit syntax or helpers that
 * Node 20 lacks (e.g. Uint8Array.fromBase64 for the binary loader).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import ts from 'typescript';
import { BUNDLED_MODELS, type BundledModelName } from '../src/engine/assets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const at = (...parts: string[]) => path.join(root, ...parts);

/**
 * Models in the package: what face recognition needs at run time. The dlib teacher (6.5 MB) is
 * only used to distil the student and to prepare training data, which happens in a checkout.
 */
export const SHIPPED_MODELS: readonly BundledModelName[] = ['mobileid', 'mobileidInt8', 'landmarks68', 'detector'];

/** The runtime entries whose declarations make up dist/types. */
const TYPED_ENTRIES = ['src/runtime/server.ts', 'src/runtime/browser.ts', 'src/runtime/edge.ts', 'src/runtime/engine.ts'];

class BuildError extends Error {
  override name = 'BuildError';
}

/** No node:fs in browser and edge bundles: assets fall back to fetch. */
function noFileSystem(build: esbuild.PluginBuild): void {
  build.onResolve({ filter: /^node:fs\/promises$/ }, () => ({ path: 'node:fs/promises', namespace: 'no-fs' }));
  build.onLoad({ filter: /.*/, namespace: 'no-fs' }, () => ({
    contents: `export function readFile() { throw new Error('no file system in this runtime: serve the file over http(s) or pass its bytes'); }`,
    loader: 'js',
  }));
}

/** Browser and edge bundles decode JPEG with jpeg-js: the libjpeg-turbo wasm is read from a file. */
function pureJsJpeg(build: esbuild.PluginBuild): void {
  build.onResolve({ filter: /\/jpeg-decoder\.js$/ }, () => ({ path: at('src/jpeg-decoder.web.ts') }));
}

/** `mobileid/engine` for browsers and edge: pngjs's self-contained browser build (encodePng, PNG bytes in decodeImage). */
const engineWebShims: esbuild.Plugin = {
  name: 'engine-web-shims',
  setup(build) {
    build.onResolve({ filter: /^pngjs$/ }, () => ({ path: at('node_modules/pngjs/browser.js') }));
    noFileSystem(build);
    pureJsJpeg(build);
  },
};

/**
 * The main browser and edge bundles carry no pngjs (205 KB): their toRgbImage decodes PNG with
 * the platform (createImageBitmap; DecompressionStream on edge), so only the recognizer's own
 * byte input (a Uint8Array passed to detectFaces & co.) meets this stand-in, which says so.
 */
const webShims: esbuild.Plugin = {
  name: 'web-shims',
  setup(build) {
    build.onResolve({ filter: /^pngjs$/ }, () => ({ path: 'pngjs', namespace: 'no-pngjs' }));
    build.onLoad({ filter: /.*/, namespace: 'no-pngjs' }, () => ({
      contents: `const refuse = () => { throw new Error('no pngjs in this build: decode PNG with toRgbImage (pass await toRgbImage(bytes), not the bytes); encode with the platform, e.g. OffscreenCanvas.convertToBlob'); };
export class PNG { constructor() { refuse(); } static sync = { read: refuse, write: refuse }; }`,
      loader: 'js',
    }));
    noFileSystem(build);
    pureJsJpeg(build);
  },
};

/** The edge entry's `import wasm from './mobileid.wasm'`, kept as an import with the platform's specifier. */
const wasmImport = (specifier: string): esbuild.Plugin => ({
  name: 'wasm-import',
  setup(build) {
    build.onResolve({ filter: /\.wasm$/ }, () => ({ path: specifier, external: true }));
  },
});

interface Bundle {
  entry: string;
  out: string;
  options: esbuild.BuildOptions;
}

const node: esbuild.BuildOptions = { platform: 'node', target: 'node20', packages: 'external' };
const cjs: esbuild.BuildOptions = {
  ...node,
  format: 'cjs',
  // CommonJS has no import.meta: locate assets from the file's own path instead.
  define: { 'import.meta.url': '__mobileidModuleUrl' },
  banner: { js: `const __mobileidModuleUrl = require('node:url').pathToFileURL(__filename).href;` },
};
const web: esbuild.BuildOptions = { platform: 'browser', target: 'es2022', format: 'esm', plugins: [webShims] };
const edge = (specifier: string): esbuild.BuildOptions => ({
  platform: 'neutral',
  target: 'es2022',
  format: 'esm',
  mainFields: ['module', 'main'],
  conditions: ['worker', 'browser'],
  plugins: [webShims, wasmImport(specifier)],
});

const BUNDLES: Bundle[] = [
  { entry: 'src/runtime/server.ts', out: 'server.js', options: { ...node, format: 'esm' } },
  { entry: 'src/runtime/server.ts', out: 'server.cjs', options: cjs },
  { entry: 'src/runtime/browser.ts', out: 'browser.js', options: web },
  { entry: 'src/runtime/edge.ts', out: 'workerd.js', options: edge('./mobileid.wasm') },
  { entry: 'src/runtime/edge.ts', out: 'edge-light.js', options: edge('./mobileid.wasm?module') },
  { entry: 'src/runtime/engine.ts', out: 'engine.web.js', options: { ...web, plugins: [engineWebShims] } },
  { entry: 'src/runtime/pool-worker.ts', out: 'pool-worker.js', options: { ...node, format: 'esm' } },
  { entry: 'src/runtime/decode-worker.ts', out: 'decode-worker.js', options: { ...node, format: 'esm' } },
  { entry: 'src/cli.ts', out: 'cli.js', options: { ...node, format: 'esm' } },
];

async function bundle({ entry, out, options }: Bundle): Promise<void> {
  await esbuild.build({
    entryPoints: [at(entry)],
    outfile: path.join(dist, out),
    bundle: true,
    minify: true,
    // Node bundles keep function names for readable stack traces; the web bundles stay tree-shakable
    // without esbuild's naming calls (errors name themselves with a field, see errors.ts)
    keepNames: options.platform === 'node',
    legalComments: 'eof',
    logLevel: 'warning',
    ...options,
  });
}

/**
 * `mobileid/engine` for Node: small files re-exporting the server bundle's `__engine`
 * (runtime/server.ts), so that the subpath shares the main entry's classes. Browsers and edge
 * get a bundle of its own (engine.web.js), which keeps their main bundle tree-shakable; its
 * classes are copies of the main bundle's (compare error.name across the two imports there).
 */
const ENGINE_FILES: Record<string, string> = {
  'engine.js': './server.js',
  'engine.cjs': './server.cjs',
};

async function writeEngineFiles(): Promise<void> {
  const names = Object.keys(await import('../src/runtime/engine.js')).sort();
  for (const [file, main] of Object.entries(ENGINE_FILES)) {
    const text = file.endsWith('.cjs')
      ? `'use strict';\nmodule.exports = require('${main}').__engine;\n`
      : `import { __engine } from '${main}';\nexport const { ${names.join(', ')} } = __engine;\n`;
    writeFileSync(path.join(dist, file), text);
  }
}

/** What `mobileid demo` reads when given no folder: small photos with their licence notice. */
const SAMPLE_FILES = /\.(jpg|md)$/;

function copyAssets(): void {
  const wasm = at('build/mobileid.wasm');
  if (!existsSync(wasm)) throw new BuildError('build/mobileid.wasm is missing: run `npm run build:wasm` first');
  copyFileSync(wasm, path.join(dist, 'mobileid.wasm'));
  copyFileSync(at('node_modules/@cwasm/jpeg-turbo/jpeg-turbo.wasm'), path.join(dist, 'jpeg-turbo.wasm'));
  copyFileSync(at('licenses/libjpeg-turbo.md'), path.join(dist, 'jpeg-turbo.LICENSE.md'));
  mkdirSync(path.join(dist, 'models'));
  for (const name of SHIPPED_MODELS) {
    const file = BUNDLED_MODELS[name];
    if (!existsSync(at('models', file))) {
      console.warn(`warning: models/${file} is missing: the package will not contain the "${name}" model`);
      continue;
    }
    copyFileSync(at('models', file), path.join(dist, 'models', file));
    const card = file.replace(/\.mobileid$/, '.md');
    if (existsSync(at('models', card))) copyFileSync(at('models', card), path.join(dist, 'models', card));
  }
  mkdirSync(path.join(dist, 'samples'));
  for (const file of readdirSync(at('demo/samples')).filter((f) => SAMPLE_FILES.test(f))) {
    copyFileSync(at('demo/samples', file), path.join(dist, 'samples', file));
  }
}

/** Declarations for the runtime entries, compiled with the repository's tsconfig options. */
function emitDeclarations(): void {
  const config = ts.getParsedCommandLineOfConfigFile(at('tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new BuildError('cannot read tsconfig.json');
  const outDir = path.join(dist, 'types');
  const program = ts.createProgram([...TYPED_ENTRIES.map((e) => at(e)), at('src/runtime/wasm-module.d.ts')], {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: at('src'),
    outDir,
  });
  const result = program.emit();
  const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    throw new BuildError(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  }
  for (const file of walk(outDir)) {
    if (!file.endsWith('.d.ts')) continue;
    const esm = withJsSpecifiers(file);
    writeFileSync(file, esm);
    // CommonJS consumers need .d.cts files: TypeScript reads a .d.ts in a "type": "module" package as ESM.
    writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), esm.replace(RELATIVE_SPECIFIER, (_, head, q, spec) => `${head}${q}${spec.replace(/\.js$/, '.cjs')}${q}`));
  }
}

const RELATIVE_SPECIFIER = /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\2/g;

/**
 * Declarations keep import specifiers as written; Node's resolution (module node16/nodenext)
 * needs the file extension, which sources resolved with moduleResolution Bundler may omit.
 */
function withJsSpecifiers(file: string): string {
  return readFileSync(file, 'utf8').replace(RELATIVE_SPECIFIER, (whole, head, q, spec: string) => {
    if (spec.endsWith('.js')) return whole;
    const base = path.resolve(path.dirname(file), spec);
    if (existsSync(`${base}.d.ts`)) return `${head}${q}${spec}.js${q}`;
    if (existsSync(path.join(base, 'index.d.ts'))) return `${head}${q}${spec}/index.js${q}`;
    throw new BuildError(`${path.relative(root, file)}: cannot resolve the import "${spec}"`);
  });
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else yield full;
  }
}

/** Markdown table of a built dist/ folder: every file but the declarations, raw and gzipped. */
export function sizeTable(folder: string): string {
  const rows = [...walk(folder)]
    .filter((f) => !f.includes(`${path.sep}types${path.sep}`))
    .sort()
    .map((f) => `| ${path.relative(folder, f)} | ${(statSync(f).size / 1024).toFixed(1)} KiB | ${(gzipSync(readFileSync(f)).length / 1024).toFixed(1)} KiB |`);
  const types = [...walk(path.join(folder, 'types'))].reduce((n, f) => n + statSync(f).size, 0);
  rows.push(`| types/ (.d.ts + .d.cts) | ${(types / 1024).toFixed(1)} KiB | |`);
  return ['| file | size | gzip |', '|---|---|---|', ...rows].join('\n');
}

async function main(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist);
  await Promise.all(BUNDLES.map(bundle));
  await writeEngineFiles();
  copyAssets();
  emitDeclarations();
  console.log(sizeTable(dist));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(error instanceof BuildError ? `build failed: ${error.message}` : error);
    process.exitCode = 1;
  });
}
