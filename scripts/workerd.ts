/**
 * Running a Worker in a local workerd (Cloudflare's runtime, from the workerd devDependency), as
 * wrangler would deploy it: the entry bundled by esbuild with the workerd conditions, .wasm files
 * kept as wasm modules and other assets (models, photos) as Data modules, served on 127.0.0.1
 * only. Used by the runtime matrix (test/runtimes/run.ts) and the edge load test (scripts/edge-load.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const REPO = fileURLToPath(new URL('../', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const SKIP = Symbol('resolve without this plugin');

/** esbuild plugin: imports of these files stay imports of a sibling module, as platform bundlers emit them. */
export function siblingModules(filter: RegExp, outDir: string, collected: Map<string, string>): esbuild.Plugin {
  return {
    name: 'sibling-modules',
    setup(build) {
      build.onResolve({ filter }, async (args) => {
        if (args.pluginData === SKIP) return undefined;
        const specifier = args.path.replace(/\?module$/, '');
        // a package path (mobileid/models/x.mobileid) goes through the package's exports map first
        const source = /^[./]/.test(specifier)
          ? path.resolve(args.resolveDir, specifier)
          : (await build.resolve(specifier, { kind: args.kind, resolveDir: args.resolveDir, pluginData: SKIP })).path;
        const name = path.basename(source);
        collected.set(name, source);
        copyFileSync(source, path.join(outDir, name));
        return { path: `./${name}`, external: true };
      });
    },
  };
}

export interface BundledWorker {
  outDir: string;
  /** Module file names next to worker.js (wasm and data). */
  modules: string[];
  metafile: esbuild.Metafile;
}

/** Bundles `entry` into outDir/worker.js the way wrangler does; `nodePaths` let it find `mobileid`. */
export async function bundleWorker(entry: string, outDir: string, nodePaths: string[] = []): Promise<BundledWorker> {
  mkdirSync(outDir, { recursive: true });
  const modules = new Map<string, string>();
  const { metafile } = await esbuild.build({
    entryPoints: [entry],
    outfile: path.join(outDir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'], // what wrangler asks for
    mainFields: ['browser', 'module', 'main'],
    nodePaths,
    metafile: true,
    logLevel: 'error',
    plugins: [siblingModules(/\.(wasm|jpg|png|mobileid)$/, outDir, modules)],
  });
  return { outDir, modules: [...modules.keys()], metafile };
}

export interface RunningWorkerd {
  url: string;
  child: ChildProcess;
  /** Everything workerd printed so far. */
  log(): string;
  stop(): void;
}

/** Serves a bundled worker on 127.0.0.1 (a free port). */
export async function startWorkerd(worker: BundledWorker): Promise<RunningWorkerd> {
  const moduleList = [`(name = "worker.js", esModule = embed "worker.js")`];
  for (const name of worker.modules) moduleList.push(`(name = "${name}", ${name.endsWith('.wasm') ? 'wasm' : 'data'} = embed "${name}")`);
  writeFileSync(
    path.join(worker.outDir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${moduleList.join(', ')}],
  compatibilityDate = "2025-01-01",
);
`,
  );
  const port = await freePort();
  const child = spawn(path.join(REPO, 'node_modules/.bin/workerd'), ['serve', 'config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: worker.outDir, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  return { url: `http://127.0.0.1:${port}/`, child, log: () => log, stop: () => child.kill('SIGKILL') };
}

/** The first answer of the worker at `url` (polled while workerd starts), or an error with its log. */
export async function firstResponse(server: RunningWorkerd, url = server.url, init?: RequestInit, timeoutMs = 60_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`workerd exited with ${server.child.exitCode}: ${server.log().slice(-1500)}`);
    try {
      return await fetch(url, init);
    } catch {
      if (Date.now() > deadline) throw new Error(`workerd did not answer within ${timeoutMs / 1000} s: ${server.log().slice(-1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
