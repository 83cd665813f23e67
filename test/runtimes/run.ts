/**
 * npm run test:runtimes: builds and packs the package, installs the tarball into a temporary
 * project outside the repository, and runs one probe (probe.mjs: FaceRecognizer, image -> face
 * -> student embedding) in Node ESM, Node CJS, Deno, Bun, Cloudflare workerd, Vercel's edge-runtime and
 * headless Chromium. Each runtime must load its own entry of the exports map and reproduce the
 * Node ESM embedding within 1e-5 (Chromium twice: on the page, and in the README's Web Worker
 * example, examples/browser/face-worker.js). Then: every CLI command from the installed bin (exit code, JSON
 * last line, the files written and no others), the type declarations as Node
 * (ESM, CJS) and bundler (browser, workerd) consumers resolve them, and the demo page in
 * Chromium (reports/demo.png is its screenshot; its result is checked). Prints `<runtime>: ok|FAIL ...` per runtime, writes
 * reports/runtimes.md, exits 1 on any failure.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import * as esbuild from 'esbuild';
import { EdgeRuntime } from 'edge-runtime';
import { chromium, type Browser } from 'playwright-core';
import type { DemoResult } from '../../demo/result.js';
import { startDemoServer } from '../../demo/serve.js';
import { sizeTable } from '../../scripts/build.js';
import { bundleWorker, firstResponse, startWorkerd } from '../../scripts/workerd.js';
import { BUNDLED_MODELS } from '../../src/engine/assets.js';
import { encodeModel } from '../../src/engine/model-format.js';
import { bundledStudent } from '../../src/face/recognizer.js';
import { initWeights, studentGraph } from '../../src/face/student-graph.js';
import { decodeImage, encodePng, sniffImageFormat } from '../../src/image.js';
import { toRgba } from '../../src/runtime/pixels.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const bin = (name: string) => path.join(repo, 'node_modules/.bin', name);
const TOLERANCE = 1e-5;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const HARNESS = ['probe.mjs', 'server.mjs', 'server.cjs', 'worker.mjs', 'edge.mjs', 'browser.html', 'browser.mjs', 'web-worker.html', 'web-worker.mjs'];

interface ProbeResult {
  width: number;
  height: number;
  embedding: number[];
  ms: number;
  /** The file the runtime loaded for `mobileid`. */
  resolved?: string;
  compileFromBytesRefused?: boolean;
  inputChecks?: Record<string, boolean>;
}

interface Outcome {
  runtime: string;
  ok: boolean;
  detail: string;
  ms?: number;
}

class RuntimeTestError extends Error {
  override name = 'RuntimeTestError';
}

// ---------------------------------------------------------------------------------------------
// Processes, servers

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end (killed after the timeout) and reports how it ended. */
function run(command: string, args: string[], options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs a process that must succeed; its stdout. */
async function exec(command: string, args: string[], options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<string> {
  const { code, signal, stdout, stderr } = await run(command, args, options);
  if (code === 0) return stdout;
  throw new RuntimeTestError(`${path.basename(command)} ${args.join(' ')} exited with ${signal ?? code}: ${(stderr || stdout).trim().slice(-1500)}`);
}

/** The JSON object a harness printed as its last line. */
function lastJsonLine(stdout: string): ProbeResult {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    throw new RuntimeTestError(`no JSON result in output: ${stdout.slice(-500)}`);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/** Serves a folder read-only on 127.0.0.1 (any free port). */
async function serveStatic(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const file = path.join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    if (!file.startsWith(root) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

// ---------------------------------------------------------------------------------------------
// The consumer project

interface App {
  dir: string;
  /** The installed package's dist/ folder. */
  dist: string;
  usesFallbackStudent: boolean;
}

async function makeApp(tmp: string): Promise<App> {
  await exec('npm', ['run', 'build', '--silent'], { cwd: repo, timeoutMs: 300_000 });
  const packed = JSON.parse(await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: repo })) as { filename: string }[];
  const dir = path.join(tmp, 'app');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'mobileid-consumer', private: true, type: 'module', dependencies: { mobileid: `file:${path.join(tmp, packed[0].filename)}` } }),
  );
  // as a user of the package installs it: no development dependencies anywhere (no tsx, no face-api)
  await exec('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, timeoutMs: 300_000 });
  for (const file of HARNESS) copyFileSync(path.join(here, file), path.join(dir, file));
  // the Web Worker example as a page would serve it: module workers do not read import maps
  const workerExample = readFileSync(path.join(repo, 'examples/browser/face-worker.js'), 'utf8');
  writeFileSync(path.join(dir, 'face-worker.js'), workerExample.replace(/from 'mobileid'/, "from './node_modules/mobileid/dist/browser.js'"));

  const dist = path.join(dir, 'node_modules/mobileid/dist');
  // the student FaceRecognizer.create() picks by default, as the Node cases use it
  const studentFile = path.join(dist, 'models', BUNDLED_MODELS[bundledStudent()]);
  const usesFallbackStudent = !existsSync(studentFile);
  if (usesFallbackStudent) {
    const graph = studentGraph();
    writeFileSync(path.join(dir, 'fallback-student.mobileid'), encodeModel(graph, initWeights(graph, 7), { dtype: 'f16' }));
  }
  // Edge runtimes get model files as bytes (Data modules / injected), copied from the package.
  copyFileSync(usesFallbackStudent ? path.join(dir, 'fallback-student.mobileid') : studentFile, path.join(dir, 'student.mobileid'));
  for (const file of ['landmarks68.mobileid', 'tiny-face-detector.mobileid']) copyFileSync(path.join(dist, 'models', file), path.join(dir, file));

  const jpeg = path.join(repo, 'demo/samples/a.jpg');
  copyFileSync(jpeg, path.join(dir, 'input.jpg'));
  const image = decodeImage(new Uint8Array(readFileSync(jpeg)));
  writeFileSync(path.join(dir, 'input.rgba'), toRgba(image));
  writeFileSync(path.join(dir, 'input.png'), encodePng(image));
  writeFileSync(path.join(dir, 'fixture.json'), JSON.stringify({ width: image.width, height: image.height, fallbackStudent: usesFallbackStudent }));
  return { dir, dist, usesFallbackStudent };
}

// ---------------------------------------------------------------------------------------------
// Runtimes

const nodeEsm = async (app: App) => lastJsonLine(await exec(process.execPath, ['server.mjs'], { cwd: app.dir }));
const nodeCjs = async (app: App) => lastJsonLine(await exec(process.execPath, ['server.cjs'], { cwd: app.dir }));
const bun = async (app: App) => lastJsonLine(await exec(bin('bun'), ['server.mjs'], { cwd: app.dir }));
const deno = async (app: App) =>
  lastJsonLine(
    await exec(bin('deno'), ['run', '--allow-read', 'server.mjs'], {
      cwd: app.dir,
      env: { DENO_DIR: path.join(app.dir, '.deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    }),
  );

function bundledEntry(metafile: esbuild.Metafile): string | undefined {
  return Object.keys(metafile.inputs).find((input) => input.includes('node_modules/mobileid/dist/'));
}

async function workerd(app: App): Promise<ProbeResult> {
  const worker = await bundleWorker(path.join(app.dir, 'worker.mjs'), path.join(app.dir, 'workerd'));
  const server = await startWorkerd(worker);
  try {
    const response = await firstResponse(server).catch((error: Error) => {
      throw new RuntimeTestError(error.message);
    });
    if (!response.ok) throw new RuntimeTestError(`workerd answered HTTP ${response.status}: ${(await response.text()).slice(0, 500)} ${server.log().slice(-1500)}`);
    return { ...((await response.json()) as ProbeResult), resolved: bundledEntry(worker.metafile) };
  } finally {
    server.stop();
  }
}

const fixtureSize = (app: App): { width: number; height: number } => {
  const { width, height } = JSON.parse(readFileSync(path.join(app.dir, 'fixture.json'), 'utf8')) as { width: number; height: number };
  return { width, height };
};

async function edgeRuntime(app: App): Promise<ProbeResult> {
  let wasmFile = '';
  const result = await esbuild.build({
    entryPoints: [path.join(app.dir, 'edge.mjs')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['edge-light', 'worker', 'browser'], // what Next.js asks for in edge functions
    mainFields: ['browser', 'module', 'main'],
    metafile: true,
    logLevel: 'error',
    plugins: [
      {
        name: 'vercel-wasm-module',
        setup(build) {
          // Next.js turns `import m from './x.wasm?module'` into a global bound to a precompiled module.
          build.onResolve({ filter: /\.wasm\?module$/ }, (args) => {
            wasmFile = path.resolve(args.resolveDir, args.path.replace(/\?module$/, ''));
            return { path: 'wasm_mobileid', namespace: 'vercel-wasm' };
          });
          build.onLoad({ filter: /.*/, namespace: 'vercel-wasm' }, () => ({ contents: 'export default globalThis.wasm_mobileid;', loader: 'js' }));
        },
      },
    ],
  });
  const bytes = (file: string) => new Uint8Array(readFileSync(path.join(app.dir, file)));
  const runtime = new EdgeRuntime({
    codeGeneration: { strings: false, wasm: false }, // as in Vercel: no wasm compiled from bytes
    extend: (context) =>
      Object.assign(context, {
        wasm_mobileid: new WebAssembly.Module(readFileSync(wasmFile)),
        __fixture: {
          // raw pixels: this sandbox has no DecompressionStream for PNG, and JPEG (jpeg-js in edge bundles) decodes to slightly other pixels than the reference's libjpeg-turbo
          input: { data: bytes('input.rgba'), ...fixtureSize(app) },
          detector: bytes('tiny-face-detector.mobileid'),
          landmarks68: bytes('landmarks68.mobileid'),
          student: bytes('student.mobileid'),
        },
      }),
  });
  // A module compiled outside is of the outer realm: let instanceof accept it, as edge-runtime does for Uint8Array.
  vm.runInContext(
    `const OuterModule = globalThis.wasm_mobileid.constructor;
     Object.defineProperty(WebAssembly.Module, Symbol.hasInstance, { value: (x) => Function.prototype[Symbol.hasInstance].call(WebAssembly.Module, x) || x instanceof OuterModule });`,
    runtime.context,
  );
  const refused = (await runtime.evaluate(
    `WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => false, () => true)`,
  )) as boolean;
  runtime.evaluate(result.outputFiles[0].text);
  const probe = (await runtime.evaluate('globalThis.__result')) as ProbeResult;
  return { ...probe, resolved: bundledEntry(result.metafile), compileFromBytesRefused: refused };
}

async function withBrowser<T>(use: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    return await use(browser);
  } finally {
    await browser.close();
  }
}

/** Opens `pageFile` of the app in headless Chromium and returns what the page's window.__result resolves to. */
async function chromiumPage(app: App, pageFile: string): Promise<ProbeResult> {
  const { url, server } = await serveStatic(app.dir);
  try {
    return await withBrowser(async (browser) => {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('response', (response) => response.status() >= 400 && errors.push(`HTTP ${response.status()} for ${response.url()}`));
      await page.goto(`${url}${pageFile}`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result, null, { timeout: 30_000 }).catch(() => {
        throw new RuntimeTestError(`page never started: ${errors.join('; ')}`);
      });
      return await page.evaluate(() => (window as unknown as { __result: Promise<ProbeResult> }).__result);
    });
  } finally {
    server.close();
  }
}

interface RuntimeCase {
  name: string;
  run: (app: App) => Promise<ProbeResult>;
  /** The dist file this runtime must load. */
  entry: string;
}

const RUNTIMES: RuntimeCase[] = [
  { name: 'node-esm', run: nodeEsm, entry: 'dist/server.js' },
  { name: 'node-cjs', run: nodeCjs, entry: 'dist/server.cjs' },
  { name: 'deno', run: deno, entry: 'dist/server.js' },
  { name: 'bun', run: bun, entry: 'dist/server.js' },
  { name: 'workerd', run: workerd, entry: 'dist/workerd.js' },
  { name: 'edge-runtime', run: edgeRuntime, entry: 'dist/edge-light.js' },
  { name: 'chromium', run: (app) => chromiumPage(app, 'browser.html'), entry: 'dist/browser.js' },
  { name: 'chromium-web-worker', run: (app) => chromiumPage(app, 'web-worker.html'), entry: 'dist/browser.js' },
];

function check(result: ProbeResult, reference: ProbeResult | undefined, entry: string): string[] {
  const problems: string[] = [];
  if (!result.resolved?.endsWith(entry)) problems.push(`loaded ${result.resolved ?? 'an unknown file'}, expected ${entry}`);
  if (!result.embedding.length || result.embedding.some((v) => !Number.isFinite(v))) problems.push('empty or non-finite embedding');
  if (!result.embedding.some((v) => v !== 0)) problems.push('all-zero embedding');
  if (reference) {
    if (result.embedding.length !== reference.embedding.length) problems.push(`embedding length ${result.embedding.length} != ${reference.embedding.length}`);
    const diff = maxAbsDiff(result.embedding, reference.embedding);
    if (!(diff <= TOLERANCE)) problems.push(`max |Δ| ${diff.toExponential(2)} vs node-esm`);
  }
  if (result.compileFromBytesRefused === false) problems.push('the sandbox compiled wasm from bytes (it should refuse, like the platform)');
  for (const [name, passed] of Object.entries(result.inputChecks ?? {})) if (!passed) problems.push(`toRgbImage input check "${name}" failed`);
  return problems;
}

const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** performance.now() does not advance during a workerd request (Spectre mitigation), so 0 ms means "not measurable". */
const timing = (ms: number) => (ms > 0 ? `${ms.toFixed(2)} ms` : 'n/a (clock frozen during the request)');

// ---------------------------------------------------------------------------------------------
// Type declarations, as consumers resolve them (kept here, not as .ts files, so the repository's
// own type check does not pick them up)

const compilerOptions = { target: 'es2022', lib: ['es2022', 'dom'], types: [], strict: true, noEmit: true, skipLibCheck: false };
const TYPE_CHECKS: Record<string, { options: Record<string, unknown>; files: Record<string, string> }> = {
  'node16 ESM+CJS': {
    options: { module: 'node16', moduleResolution: 'node16' },
    files: {
      'esm.mts': `// Node ESM consumer (module node16): the server entry's types, file paths accepted.
import { FaceRecognizer, init, toRgbImage, type Engine, type RgbImage } from 'mobileid';

const engine: Engine = await init();
const image: RgbImage = await toRgbImage('photo.jpg');
const recognizer = await FaceRecognizer.create({ engine });
export const faces: number = recognizer.detectFaces(image).length;
`,
      'cjs.cts': `// Node CommonJS consumer (module node16): require() must get the .d.cts declarations.
import mobileid = require('mobileid');

export const engine: Promise<mobileid.Engine> = mobileid.init();
export const image: Promise<mobileid.RgbImage> = mobileid.toRgbImage(new Uint8Array(0));
`,
    },
  },
  'bundler+browser': {
    options: { module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'] },
    files: {
      'browser.ts': `// Bundler consumer with the browser condition: canvas-like inputs, no file paths.
import { toRgbImage } from 'mobileid';

export const fromImageData = toRgbImage(new ImageData(1, 1));
export const fromCanvas = toRgbImage(new OffscreenCanvas(1, 1));
// @ts-expect-error the browser entry reads no file paths
export const fromPath = toRgbImage('photo.jpg');
`,
    },
  },
  'bundler+workerd': {
    options: { module: 'esnext', moduleResolution: 'bundler', customConditions: ['workerd'] },
    files: {
      'edge.ts': `// Bundler consumer with the workerd condition: bytes and Responses, no file paths or canvases.
import { init, toRgbImage } from 'mobileid';

export const engine = init();
export const fromResponse = toRgbImage(new Response(new Uint8Array(0)));
// @ts-expect-error the edge entry reads no file paths
export const fromPath = toRgbImage('photo.jpg');
`,
    },
  },
};

async function typeCheck(app: App): Promise<Outcome> {
  const problems: string[] = [];
  for (const [name, { options, files }] of Object.entries(TYPE_CHECKS)) {
    const dir = mkdtempSync(path.join(app.dir, 'types-'));
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, ...options }, files: Object.keys(files) }));
    try {
      await exec(bin('tsc'), ['-p', dir], { cwd: dir });
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  }
  return { runtime: 'types', ok: problems.length === 0, detail: problems.length ? problems.join('; ') : Object.keys(TYPE_CHECKS).join(', ') };
}

// ---------------------------------------------------------------------------------------------
// The CLI of the installed package: bin/mobileid.js finds no src/ there and runs dist/cli.js

interface CliCase {
  name: string;
  args: (app: App) => string[];
  /** Problems with the run, [] when it did what it should. `dir` is the empty folder it ran in. */
  check: (ran: Ran, dir: string, app: App) => string[];
}

/** The JSON object on the last stdout line, or undefined. */
function lastJson(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Exit code 0 and a JSON last line; then the case's own checks on it. */
const succeeds = (check: (json: Record<string, unknown>, dir: string, app: App) => string[]) => (ran: Ran, dir: string, app: App) => {
  if (ran.code !== 0) return [`exit code ${ran.signal ?? ran.code}: ${ran.stderr.trim().slice(-500)}`];
  const json = lastJson(ran.stdout);
  return json ? check(json, dir, app) : [`no JSON last line: ${ran.stdout.slice(-300)}`];
};

/** Exit code 2 and one line on stderr matching `message`, no stack trace. */
const refuses = (message: RegExp) => (ran: Ran) => {
  const lines = ran.stderr.trim().split('\n');
  const problems: string[] = [];
  if (ran.code !== 2) problems.push(`exit code ${ran.signal ?? ran.code}, expected 2`);
  if (lines.length !== 1 || !message.test(lines[0])) problems.push(`stderr is not one line matching ${message}: ${ran.stderr.slice(0, 500)}`);
  return problems;
};

/** Problems unless exactly `expected` files were written in `dir`. */
function wrote(dir: string, expected: string[]): string[] {
  const found = readdirSync(dir).sort();
  return JSON.stringify(found) === JSON.stringify([...expected].sort()) ? [] : [`wrote ${found.join(', ') || 'nothing'}, expected ${expected.join(', ')}`];
}

const samplesOf = (app: App) => path.join(app.dist, 'samples');

const CLI_CASES: CliCase[] = [
  {
    name: '--version',
    args: () => ['--version'],
    check: (ran) => {
      const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
      return ran.code === 0 && ran.stdout.trim() === version ? [] : [`exit ${ran.code}, printed "${ran.stdout.trim()}", expected ${version}`];
    },
  },
  {
    name: 'detect',
    args: (app) => ['detect', path.join(samplesOf(app), 'group1.jpg'), '--out', 'faces.jpg', '--json'],
    check: succeeds((json, dir) => {
      const problems = wrote(dir, ['faces.jpg']);
      if (!Array.isArray(json.faces) || json.faces.length !== 3) problems.push(`faces: ${JSON.stringify(json.faces)?.slice(0, 200)}`);
      if (problems.length === 0 && sniffImageFormat(new Uint8Array(readFileSync(path.join(dir, 'faces.jpg')))) !== 'jpeg') problems.push('faces.jpg is not a JPEG');
      return problems;
    }),
  },
  {
    name: 'verify',
    args: (app) => ['verify', path.join(samplesOf(app), 'a.jpg'), path.join(samplesOf(app), 'a-variant.jpg'), '--json'],
    check: succeeds((json, dir, app) => {
      const problems = wrote(dir, []);
      if (typeof json.score !== 'number' || !Number.isFinite(json.score)) problems.push(`score ${json.score}`);
      // the trained student must call two crops of one face the same person
      if (!app.usesFallbackStudent && json.same !== true) problems.push(`same: ${json.same} (score ${json.score}, threshold ${json.threshold})`);
      return problems;
    }),
  },
  {
    name: 'gallery',
    args: (app) => ['gallery', ...['a.jpg', 'b.jpg', 'group1.jpg', 'group3.jpg', 'group5.jpg'].map((f) => path.join(samplesOf(app), f)), '--out', 'g.png', '--workers', '2', '--json'],
    check: succeeds((json, dir) => {
      const problems = wrote(dir, ['g.png']);
      if (json.images !== 5) problems.push(`images: ${json.images}, expected 5`);
      if (problems.length) return problems;
      const image = decodeImage(new Uint8Array(readFileSync(path.join(dir, 'g.png'))));
      return image.width === json.size && image.height === json.size ? [] : [`g.png is ${image.width}x${image.height}, JSON says ${json.size}`];
    }),
  },
  {
    name: 'embed',
    args: (app) => ['embed', path.join(samplesOf(app), 'a.jpg'), path.join(samplesOf(app), 'group1.jpg'), '--format', 'csv', '--out', 'faces.csv'],
    check: (ran, dir) => {
      if (ran.code !== 0) return [`exit code ${ran.signal ?? ran.code}: ${ran.stderr.trim().slice(-500)}`];
      const problems = wrote(dir, ['faces.csv']);
      const lines = problems.length ? [] : readFileSync(path.join(dir, 'faces.csv'), 'utf8').trim().split('\n');
      if (!problems.length && (lines.length !== 5 || !lines[0].startsWith('file,face,x,y,width,height,score,e0'))) problems.push(`faces.csv: ${lines.length} lines, header ${lines[0]?.slice(0, 60)}`);
      return problems;
    },
  },
  {
    name: 'identify',
    args: (app) => {
      const gallery = path.join(app.dir, 'people');
      for (const [person, photo] of [['Ada', 'a.jpg'], ['Bea', 'b.jpg']]) {
        mkdirSync(path.join(gallery, person), { recursive: true });
        copyFileSync(path.join(samplesOf(app), photo), path.join(gallery, person, photo));
      }
      return ['identify', '--gallery', gallery, path.join(samplesOf(app), 'a-variant.jpg'), '--json'];
    },
    check: succeeds((json, dir, app) => {
      const problems = wrote(dir, []);
      const face = (json.photos as { faces: { label: string }[] }[] | undefined)?.[0]?.faces?.[0];
      if (!face) problems.push(`no face: ${JSON.stringify(json).slice(0, 200)}`);
      else if (!app.usesFallbackStudent && face.label !== 'Ada') problems.push(`a-variant.jpg identified as ${face.label}, expected Ada`);
      return problems;
    }),
  },
  {
    name: 'gallery --model teacher',
    args: (app) => ['gallery', samplesOf(app), '--model', 'teacher'],
    check: (ran, dir) => [...refuses(/^mobileid gallery: --model teacher: .*does not ship it/)(ran), ...wrote(dir, [])],
  },
  {
    name: 'demo',
    args: () => ['demo'],
    check: (ran, dir) => {
      if (ran.code !== 0) return [`exit code ${ran.signal ?? ran.code}: ${ran.stderr.trim().slice(-500)}`];
      const written = existsSync(path.join(dir, 'out/demo')) ? readdirSync(path.join(dir, 'out/demo')) : [];
      return ['gallery.png', 'aligned-crops.png', 'group1-faces.png'].filter((f) => !written.includes(f)).map((f) => `out/demo/${f} missing`);
    },
  },
  {
    name: 'errors',
    args: () => ['detect', 'missing.jpg'],
    check: (ran, dir) => [...refuses(/^mobileid detect: cannot read missing\.jpg: no such file$/)(ran), ...wrote(dir, [])],
  },
];

/** The installed package's API answers file and asset problems with its typed errors. */
async function apiErrorsCheck(app: App): Promise<Outcome> {
  const script = `import * as m from 'mobileid';
import { loadBundledModel } from 'mobileid/engine';
const name = (p) => p.then(() => 'no error', (e) => (e instanceof m.MobileIdError ? e.name : 'untyped ' + e));
console.log(JSON.stringify({ teacher: await name(loadBundledModel('teacher')), missing: await name(m.toRgbImage('missing.jpg')), folder: await name(m.toRgbImage('.')) }));`;
  const result = JSON.parse((await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: app.dir })).trim());
  const expected = { teacher: 'AssetNotFoundError', missing: 'FileReadError', folder: 'FileReadError' };
  const ok = JSON.stringify(result) === JSON.stringify(expected);
  return { runtime: 'api errors', ok, detail: ok ? "loadBundledModel('teacher'), toRgbImage(missing file / folder)" : `got ${JSON.stringify(result)}, expected ${JSON.stringify(expected)}` };
}

/** One row per command line, each run in an empty folder of the consumer project. */
async function cliChecks(app: App): Promise<Outcome[]> {
  const mobileid = path.join(app.dir, 'node_modules/.bin/mobileid');
  const outcomes: Outcome[] = [];
  for (const test of CLI_CASES) {
    const dir = mkdtempSync(path.join(app.dir, 'cli-'));
    const args = test.args(app);
    const ran = await run(mobileid, args, { cwd: dir, timeoutMs: 300_000 });
    const problems = test.check(ran, dir, app);
    const shown = args.map((a) => (path.isAbsolute(a) ? path.basename(a) : a)).join(' ');
    outcomes.push({ runtime: `cli ${test.name}`, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : `mobileid ${shown}` });
  }
  return outcomes;
}

// ---------------------------------------------------------------------------------------------
// The demo page

async function demoCheck(): Promise<Outcome> {
  const { url, close } = await startDemoServer({ port: 0, quiet: true });
  try {
    return await withBrowser(async (browser) => {
      const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
      const crashed = new Promise<never>((_, reject) => page.on('pageerror', (error) => reject(new RuntimeTestError(`demo page error: ${error.message}`))));
      await page.goto(url);
      await Promise.race([page.waitForSelector('#result[data-state="done"], #result[data-state="error"]', { timeout: 60_000 }), crashed]);
      mkdirSync(path.join(repo, 'reports'), { recursive: true });
      await page.screenshot({ path: path.join(repo, 'reports/demo.png'), fullPage: true });
      const result = await page.evaluate(() => (window as unknown as { demoResult: DemoResult }).demoResult);
      const problems: string[] = [];
      if (result.state !== 'done') problems.push(`demo ended in state ${result.state}: ${result.error ?? ''}`);
      if (result.facesA < 1 || result.facesB < 1) problems.push(`faces found: ${result.facesA}, ${result.facesB}`);
      if (result.cropsDrawn !== 2) problems.push(`${result.cropsDrawn} aligned crops drawn, expected 2`);
      if (!Number.isFinite(result.score)) problems.push(`score ${result.score}`);
      if (!result.decision) problems.push('no decision text');
      if (!(result.embedMs > 0)) problems.push(`embedding time ${result.embedMs}`);
      return {
        runtime: 'demo',
        ok: problems.length === 0,
        detail: problems.length ? problems.join('; ') : `score ${result.score?.toFixed(3)}, "${result.decision}", embed ${result.embedMs.toFixed(2)} ms for 2 faces, reports/demo.png`,
        ms: result.embedMs / 2,
      };
    });
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------------------------------------

function writeReport(outcomes: Outcome[], app: App): void {
  const lines = [
    '# Runtime matrix',
    '',
    `Written by \`npm run test:runtimes\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}, ${os.cpus().length} cores, shared machine: times are indicative).`,
    'Each runtime installs the packed tarball, runs FaceRecognizer on demo/samples/a.jpg (detector, landmarks, student) and must match the Node ESM embedding within 1e-5; the time is the whole pipeline on that photo (detector, two landmark passes, student; mean of 5).',
    app.usesFallbackStudent ? '\nThe package had no trained student model yet: every runtime used the same random-weights student.\n' : '',
    '| runtime | status | embedFaces time (a.jpg, 1 face) |',
    '|---|---|---|',
    ...outcomes.map((o) => `| ${o.runtime} | ${o.ok ? 'ok' : `FAIL: ${o.detail}`} | ${o.ms === undefined ? '' : timing(o.ms)} |`),
    '',
    '## Package contents (dist/ of the packed tarball)',
    '',
    sizeTable(app.dist),
  ];
  mkdirSync(path.join(repo, 'reports'), { recursive: true });
  writeFileSync(path.join(repo, 'reports/runtimes.md'), lines.join('\n') + '\n');
}

async function main(): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mobileid-runtimes-'));
  try {
    const app = await makeApp(tmp);
    if (app.usesFallbackStudent) console.log('note: the package has no trained student model; every runtime uses the same random-weights student');
    const outcomes: Outcome[] = [];
    let reference: ProbeResult | undefined;
    for (const runtime of RUNTIMES) {
      try {
        const result = await runtime.run(app);
        const problems = check(result, reference, runtime.entry);
        reference ??= result;
        const diff = runtime.name === 'node-esm' ? 'reference' : `max |Δ| ${maxAbsDiff(result.embedding, reference.embedding).toExponential(1)}`;
        outcomes.push({ runtime: runtime.name, ok: problems.length === 0, detail: problems.length ? problems.join('; ') : `embedFaces ${timing(result.ms)}, ${diff}`, ms: result.ms });
      } catch (error) {
        outcomes.push({ runtime: runtime.name, ok: false, detail: (error as Error).message });
      }
      const last = outcomes.at(-1)!;
      console.log(`${last.runtime}: ${last.ok ? 'ok' : 'FAIL'} (${last.detail})`);
    }
    const checks: [string, () => Promise<Outcome[]>][] = [
      ['api errors', async () => [await apiErrorsCheck(app)]],
      ['cli', () => cliChecks(app)],
      ['types', async () => [await typeCheck(app)]],
      ['demo', async () => [await demoCheck()]],
    ];
    for (const [name, check] of checks) {
      let results: Outcome[];
      try {
        results = await check();
      } catch (error) {
        results = [{ runtime: name, ok: false, detail: (error as Error).message }];
      }
      for (const result of results) {
        outcomes.push(result);
        console.log(`${result.runtime}: ${result.ok ? 'ok' : 'FAIL'} (${result.detail})`);
      }
    }
    writeReport(outcomes, app);
    const failed = outcomes.filter((o) => !o.ok).length;
    console.log(`${outcomes.length - failed} passed, ${failed} failed`);
    return failed ? 1 : 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main();
