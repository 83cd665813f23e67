/**
 * Starts a worker thread running a module of this package, whether the package runs from its
 * TypeScript sources (a checkout, through tsx) or as compiled JavaScript (dist/). Node cannot
 * load .ts in a worker by itself, so a .ts module is loaded after registering tsx's loader.
 */
import { Worker } from 'node:worker_threads';

export function startWorker(moduleUrl: URL, workerData: unknown): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData });
  // resolved here: an eval'd worker would look for tsx from the current directory instead
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * The module `name` next to the calling module `base` (its import.meta.url), in the same form:
 * name.ts beside the TypeScript sources of a checkout, name.js beside the bundles in dist/.
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
