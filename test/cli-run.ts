/** Running the CLI as a user does (node bin/mobileid.js ...), for the CLI tests. */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const repo = fileURLToPath(new URL('../', import.meta.url));
const bin = path.join(repo, 'bin/mobileid.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line (where --json puts its result). */
  last: string;
}

const result = (code: number | null, stdout: string, stderr: string): CliRun => {
  const lines = stdout.trim().split('\n');
  return { code, stdout, stderr, last: lines[lines.length - 1] };
};

export function cli(args: string[], cwd = repo): CliRun {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return result(run.status, run.stdout, run.stderr);
}

/** cli() without blocking the test worker: for commands that run long (a blocked worker misses vitest's heartbeats). */
export function cliAsync(args: string[], cwd = repo): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, timeout: 300_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve(result(code, stdout, stderr)));
  });
}

/** The command failed with exit `code` and exactly one line on stderr, without a stack trace. */
export function expectOneLineError(run: CliRun, code: number, message: RegExp): void {
  expect(run.code, run.stderr).toBe(code);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}
