/**
 * The published package: `npm pack --dry-run` (after building dist/) must ship
 * every file the exports map, main/module/types and bin point at, the wasm and the runtime
 * models, and nothing else (no sources, tests, data or the distillation teacher). The bundles
 * must suit their platforms. Running the package in each runtime is test/runtimes/run.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../src/engine/assets.js';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

interface PackFile {
  path: string;
  size: number;
}

/** The tarball's files. */
let files: PackFile[] = [];
const paths = () => files.map((f) => f.path);
const dist = (file: string) => readFileSync(new URL(`dist/${file}`, root), 'utf8');

/** Every string leaf of the exports map. */
function exportTargets(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  return Object.values(node as Record<string, unknown>).flatMap(exportTargets);
}

beforeAll(() => {
  // dist/ only: rebuilding build/mobileid.wasm (as prepack does) would race the test files that read it.
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: root, stdio: 'ignore' });
  const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  files = (JSON.parse(out) as { files: PackFile[] }[])[0].files;
}, 300_000);

describe('npm pack', () => {
  it('contains every file the manifest points at', () => {
    const targets = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin as Record<string, string>), ...exportTargets(pkg.exports)]
      .filter((t: string) => !t.includes('*'))
      .map((t: string) => t.replace(/^\.\//, ''));
    for (const target of targets) expect(paths(), target).toContain(target);
    expect(paths().filter((p) => p.startsWith('dist/models/') && p.endsWith('.mobileid')).length).toBeGreaterThan(0);
  });

  it('ships the wasm, the runtime models and their cards, but not the distillation teacher', () => {
    expect(paths()).toContain('dist/mobileid.wasm');
    expect(paths()).toContain('LICENSE');
    for (const name of ['landmarks68', 'detector'] as const) {
      expect(paths()).toContain(`dist/models/${BUNDLED_MODELS[name]}`);
      expect(paths()).toContain(`dist/models/${BUNDLED_MODELS[name].replace('.mobileid', '.md')}`);
    }
    expect(paths().some((p) => p.includes(BUNDLED_MODELS.teacher))).toBe(false);
  });

  it('holds no sources, tests, data or build leftovers', () => {
    const allowed = /^(package\.json|README\.md|LICENSE(\.md)?|bin\/mobileid\.js|dist\/.+)$/;
    expect(paths().filter((p) => !allowed.test(p))).toEqual([]);
    expect(paths().filter((p) => /\.(ts|mts|cts)$/.test(p) && !/\.d\.c?ts$/.test(p))).toEqual([]);
    expect(paths().filter((p) => /\.(jpg|png|wat|map)$/.test(p) && !p.startsWith('dist/samples/'))).toEqual([]);
  });

  it('ships the sample photos the demo runs on, small, with their licence notice', () => {
    const samples = files.filter((f) => f.path.startsWith('dist/samples/'));
    expect(samples.filter((f) => f.path.endsWith('.jpg')).length).toBeGreaterThanOrEqual(3);
    expect(samples.map((f) => f.path)).toContain('dist/samples/README.md');
    expect(readFileSync(new URL('dist/samples/README.md', root), 'utf8')).toMatch(/MIT License[\s\S]*Permission is hereby granted/);
    expect(samples.reduce((n, f) => n + f.size, 0)).toBeLessThan(300 * 1024);
  });

  it('runs worker threads from their own modules, not from the CLI entry', () => {
    for (const worker of ['pool-worker.js', 'decode-worker.js']) {
      expect(paths()).toContain(`dist/${worker}`);
      expect(dist(worker)).not.toContain('process.exitCode');
    }
  });

  it('ships the JPEG decoder of Node, Deno and Bun with its licence, and keeps it out of the browser and edge bundles', () => {
    expect(paths()).toEqual(expect.arrayContaining(['dist/jpeg-turbo.wasm', 'dist/jpeg-turbo.LICENSE.md']));
    expect(dist('jpeg-turbo.LICENSE.md')).toMatch(/based in part on the work of the Independent JPEG Group/);
    expect(dist('decode-worker.js')).toContain('jpeg-turbo.wasm');
    for (const web of ['browser.js', 'workerd.js', 'edge-light.js', 'engine.web.js']) expect(dist(web)).not.toContain('jpeg-turbo');
  });

  it('gives CommonJS consumers .d.cts declarations that import .d.cts files', () => {
    const cts = dist('types/runtime/server.d.cts');
    expect(cts).toMatch(/from '\.\/api\.cjs'/);
    expect(cts).not.toMatch(/from '\.{1,2}\/[^']+\.js'/);
  });
});

describe('bundles', () => {
  it('edge bundles import the wasm as a module, with each platform\'s specifier', () => {
    expect(dist('workerd.js')).toMatch(/from\s*"\.\/mobileid\.wasm"/);
    expect(dist('edge-light.js')).toMatch(/from\s*"\.\/mobileid\.wasm\?module"/);
  });

  it('browser and edge bundles import no Node built-ins and need nothing newer than ES2022', () => {
    for (const file of ['browser.js', 'workerd.js', 'edge-light.js']) {
      const code = dist(file);
      expect(code, file).not.toMatch(/(from\s*|import\s*\(\s*|require\s*\(\s*)["']node:/);
      expect(code, file).not.toContain('fromBase64');
    }
  });

  it('the CommonJS build locates its assets without import.meta', () => {
    const code = dist('server.cjs');
    expect(code).not.toContain('import.meta');
    expect(code).toContain('pathToFileURL(__filename)');
  });
});

/** A consumer project whose node_modules/mobileid is this repository (its built dist/ and package.json). */
const consumer = mkdtempSync(path.join(tmpdir(), 'mobileid-consumer-'));
afterAll(() => rmSync(consumer, { recursive: true, force: true }));
function consumerFile(name: string, text: string): string {
  mkdirSync(path.join(consumer, 'node_modules'), { recursive: true });
  try {
    symlinkSync(fileURLToPath(root), path.join(consumer, 'node_modules/mobileid'), 'dir');
  } catch {
    // linked by an earlier test
  }
  writeFileSync(path.join(consumer, name), text);
  return path.join(consumer, name);
}

describe('mobileid/engine', () => {
  it('in Node shares the main entry\'s classes: an error through either import is a MobileIdError of the other', async () => {
    const main = await import(/* @vite-ignore */ new URL('dist/server.js', root).href);
    const engine = await import(/* @vite-ignore */ new URL('dist/engine.js', root).href);
    const error = await engine.loadBundledModel('teacher').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(main.MobileIdError);
    expect(error).toBeInstanceOf(main.AssetNotFoundError);
    expect(engine.Engine).toBe(main.__engine.Engine);
  });
});

describe('browser bundle size (esbuild, minified, models and wasm excluded)', () => {
  const bundled = async (source: string) => {
    const entry = consumerFile(`app-${source.length}.js`, source);
    const result = await esbuild.build({ entryPoints: [entry], bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', conditions: ['browser'], logLevel: 'silent', metafile: true });
    return { bytes: result.outputFiles[0].contents.length, inputs: Object.keys(result.metafile.inputs) };
  };

  it('FaceRecognizer + toRgbImage in a browser app: at most 120 KB, from dist/browser.js, without pngjs', async () => {
    const app = await bundled(`import { FaceRecognizer, init, toRgbImage } from 'mobileid';
const recognizer = await FaceRecognizer.create({ engine: await init() });
console.log(recognizer.embedFaces(await toRgbImage(document.querySelector('img'))));`);
    console.log(`browser app with FaceRecognizer + toRgbImage: ${(app.bytes / 1024).toFixed(1)} KiB minified`);
    expect(app.inputs.some((i) => i.endsWith('dist/browser.js'))).toBe(true);
    expect(app.bytes).toBeLessThanOrEqual(120 * 1024);
    for (const file of ['browser.js', 'workerd.js', 'edge-light.js']) expect(dist(file), file).not.toContain('Invalid file signature'); // pngjs's
  });

  it('tree-shakes: the matcher alone is less than half of it', async () => {
    const all = await bundled(`import { FaceRecognizer, toRgbImage } from 'mobileid'; console.log(FaceRecognizer, toRgbImage);`);
    const matcher = await bundled(`import { FaceMatcher } from 'mobileid'; console.log(FaceMatcher);`);
    expect(matcher.bytes).toBeLessThan(all.bytes / 2);
  });
});

describe('type declarations as consumers resolve them', () => {
  const tsc = (files: Record<string, string>, options: Record<string, unknown>) => {
    const dir = mkdtempSync(path.join(consumer, 'types-'));
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
    const compilerOptions = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, typeRoots: [fileURLToPath(new URL('node_modules/@types', root))], ...options };
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: Object.keys(files) }));
    consumerFile('package.json', JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    try {
      execFileSync(process.execPath, [fileURLToPath(new URL('node_modules/typescript/bin/tsc', root)), '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (error) {
      return (error as { stdout: string }).stdout;
    }
  };
  const nodeUser = `import { FaceRecognizer, RecognizerPool, toRgbImage, type RgbImage } from 'mobileid';
import { Engine, StudentNet } from 'mobileid/engine';
const image: RgbImage = await toRgbImage('photo.jpg');
const recognizer = await FaceRecognizer.create({ engine: await Engine.create() });
const pool = await RecognizerPool.create({ size: 2 });
export const found: number = recognizer.detectFaces(image).length + (await pool.embedFaces('a.jpg')).length;
export const student: typeof StudentNet = StudentNet;
`;

  it('Node (node16), no dom lib: the server types, paths accepted, no errors inside the package', () => {
    expect(tsc({ 'app.mts': nodeUser }, { module: 'node16', moduleResolution: 'node16', lib: ['es2022'], types: ['node'] })).toBe('');
  }, 60_000);

  it('bundler resolution with the node condition, no dom lib: the server types too', () => {
    expect(tsc({ 'app.ts': nodeUser }, { module: 'esnext', moduleResolution: 'bundler', customConditions: ['node'], lib: ['es2022'], types: ['node'] })).toBe('');
  }, 60_000);
});
