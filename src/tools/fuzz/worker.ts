/**
 * A fuzzing worker thread: runs the cases of one target from `firstCase` on until the deadline,
 * publishing the case in progress and when it started (shared memory), so that the harness can
 * tell a hang from a slow start and end the thread; findings are posted as they happen.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CaseSource, createContext, runCase } from './cases.js';
import { targetNamed } from './targets.js';

export interface WorkerJob {
  target: string;
  seed: number;
  firstCase: number;
  /** ms of fuzzing, counted from when this thread is ready (start-up varies with the load). */
  budgetMs: number;
  /** Stop after this case index (exclusive), when given. */
  endCase?: number;
  /** Int32 [case in progress, cases done]; Float64 (second buffer) [start of the case in progress, ms since epoch; 0 between cases]. */
  progress: SharedArrayBuffer;
  clock: SharedArrayBuffer;
}

export type WorkerMessage = { type: 'crash'; index: number; error: string } | { type: 'done' };

const job = workerData as WorkerJob;
const progress = new Int32Array(job.progress);
const clock = new Float64Array(job.clock);
const target = targetNamed(job.target);
const source = new CaseSource(target, job.seed);
const context = await createContext();
const deadline = Date.now() + job.budgetMs;
for (let index = job.firstCase; Date.now() < deadline && (job.endCase === undefined || index < job.endCase); index++) {
  const input = source.input(index);
  Atomics.store(progress, 0, index);
  clock[0] = Date.now();
  const outcome = await runCase(target, input, context);
  clock[0] = 0;
  Atomics.add(progress, 1, 1);
  if (!outcome.ok) parentPort!.postMessage({ type: 'crash', index, error: outcome.error } satisfies WorkerMessage);
}
parentPort!.postMessage({ type: 'done' } satisfies WorkerMessage);
