/**
 * The fuzzing harness (Node only): each target runs in a worker thread for its share of the
 * time. A case still running after the per-case limit is a hang: the thread is ended and a new
 * one continues after that case. A thread that dies (out of memory, a crash of the runtime) or
 * a process that grows past the memory limit is a crash of the case in progress. Every finding's
 * input is written to `<findings>/<target>/<kind>-<case>.bin` to be kept as a regression test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { siblingModule, startWorker } from '../../node-worker.js';
import { CaseSource } from './cases.js';
import { targetNamed } from './targets.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

export interface FuzzOptions {
  seed: number;
  /** Time for this target, seconds. */
  seconds: number;
  /** A case running longer is a hang, ms. */
  caseMs: number;
  /** Resident memory of the process above which the case in progress counts as a crash, MB. */
  maxRssMb: number;
  /** Folder for the inputs of findings. */
  findings: string;
  log?: (line: string) => void;
}

export interface Finding {
  kind: 'crash' | 'hang';
  index: number;
  error: string;
  file: string;
}

export interface TargetReport {
  name: string;
  cases: number;
  crashes: number;
  hangs: number;
  findings: Finding[];
}

/** Fuzzes one target for `options.seconds`. */
export async function fuzzTarget(name: string, options: FuzzOptions): Promise<TargetReport> {
  const log = options.log ?? (() => {});
  const target = targetNamed(name);
  const source = new CaseSource(target, options.seed);
  let budgetMs = options.seconds * 1000;
  const findings: Finding[] = [];
  const record = (kind: Finding['kind'], index: number, error: string) => {
    const dir = path.join(options.findings, name);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${kind}-${index}.bin`);
    writeFileSync(file, source.input(index));
    findings.push({ kind, index, error, file });
    log(`${name}: ${kind} at case ${index}: ${error.split('\n')[0]} (${file})`);
  };
  let cases = 0;
  let firstCase = 0;
  while (budgetMs > 0) {
    const progress = new Int32Array(new SharedArrayBuffer(8));
    const clock = new Float64Array(new SharedArrayBuffer(8));
    progress[0] = -1;
    const job: WorkerJob = { target: name, seed: options.seed, firstCase, budgetMs, progress: progress.buffer as SharedArrayBuffer, clock: clock.buffer as SharedArrayBuffer };
    const worker = startWorker(siblingModule('worker', import.meta.url), job);
    let firstStart = 0;
    const ended = await new Promise<{ next: number | null }>((resolve) => {
      let settled = false;
      const finish = (next: number | null) => {
        if (settled) return;
        settled = true;
        clearInterval(watch);
        resolve({ next });
      };
      const inProgress = () => Atomics.load(progress, 0);
      const watch = setInterval(() => {
        const started = clock[0];
        firstStart ||= started;
        if (started && Date.now() - started > options.caseMs) {
          const index = inProgress();
          record('hang', index, `still running after ${options.caseMs} ms`);
          void worker.terminate();
          finish(index + 1);
        } else if (process.memoryUsage.rss() > options.maxRssMb * 2 ** 20) {
          const index = inProgress();
          record('crash', index, `process memory above ${options.maxRssMb} MB`);
          void worker.terminate();
          finish(index + 1);
        }
      }, 20);
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'crash') record('crash', m.index, m.error);
        else finish(null);
      });
      worker.on('error', (error) => {
        const index = inProgress();
        record('crash', index, `worker died: ${error.message}`);
        finish(index + 1);
      });
      worker.on('exit', (code) => {
        if (!settled && code !== 0) record('crash', inProgress(), `worker exited with code ${code}`);
        finish(settled || code === 0 ? null : inProgress() + 1);
      });
    });
    cases += Atomics.load(progress, 1) + (ended.next === null ? 0 : 1); // the case that hung or crashed counts
    if (ended.next === null) break;
    budgetMs -= firstStart ? Date.now() - firstStart : 0;
    firstCase = ended.next;
  }
  return {
    name,
    cases,
    crashes: findings.filter((f) => f.kind === 'crash').length,
    hangs: findings.filter((f) => f.kind === 'hang').length,
    findings,
  };
}
