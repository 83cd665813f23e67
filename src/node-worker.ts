/**
 * Starts a worker thread running a module of this package, whether the package runs from its
 * TypeScript sources (a checkout, through tsx) or as compiled JavaScript (dist/). Node cannot
 * load .ts in a worker by itself, so a .ts module is loaded after registering tsx's loader.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(moduleUrl: URL, workerData: unknown): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData });
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
