/**
 * Starts a worker thread running a module of this package, whether the package runs from its
 * TypeScript sources (a checkout, through tsx) or as compiled JavaScript (dist/). Node cannot
 * load .ts in a worker by itself, so a .ts module is loaded by tsx-worker.mjs after registering
 * tsx's loader.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(moduleUrl: URL, workerData: unknown): Worker {
  const execArgv = workerExecArgv(process.execArgv);
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData, execArgv });
  return new Worker(new URL('./tsx-worker.mjs', import.meta.url), { workerData, execArgv, argv: [moduleUrl.href] });
}

/**
 * Resolves when `worker` posts `{ type: 'done' }` or exits with code 0; every other message goes to
 * `onMessage`. Rejects on the worker's error or a non-zero exit (a tool's job run in a thread).
 */
export function untilDone<M extends { type: string }>(worker: Worker, onMessage: (message: Exclude<M, { type: 'done' }>) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    worker.on('message', (m: M) => (m.type === 'done' ? resolve() : onMessage(m as Exclude<M, { type: 'done' }>)));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with code ${code}`))));
  });
}

/**
 * The caller's Node flags for a worker, less --input-type (`node --input-type=module -e ...`),
 * which Node refuses for a worker that runs a file.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  return execArgv.filter((arg, i) => !arg.startsWith('--input-type') && execArgv[i - 1] !== '--input-type');
}

/**
 * The module `name` next to the calling module `base` (its import.meta.url), in the same form:
 * name.ts beside the TypeScript sources of a checkout, name.js beside the bundles in dist/.
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
