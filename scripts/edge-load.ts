/**
 * npm run edge-load -- [--requests 100] [--concurrency 4] [--no-build] [--json]
 *
 * The Cloudflare Workers example (examples/cloudflare-worker, with examples/edge/verify-request.ts)
 * bundled as wrangler would, against this checkout's package build (npm run build), served by a
 * local workerd on 127.0.0.1 only. First the refusals: a wrong method (405), a body that is not a
 * form (415), a Content-Length over the limit (413), a form without the photos (400), a text
 * file as a photo (422): each must come back with its status and a JSON { error, message }.
 * Then a bounded load test: --requests verify requests (photo pairs of the bundled samples), at
 * most --concurrency in flight; every answer must be 200 with a score. Reports requests/s and
 * latency percentiles; with --json the last stdout line is the report. Exits 1 on any failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorker, firstResponse, startWorkerd } from './workerd.js';
import { parseToolArgs } from '../src/cli/args.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLE = path.join(REPO, 'examples/cloudflare-worker/src/index.ts');
const SAMPLE = (name: string) => new Blob([readFileSync(path.join(REPO, 'demo/samples', name))], { type: 'image/jpeg' });

export interface RefusalCheck {
  name: string;
  expected: number;
  status: number;
  /** The body was JSON with error and message strings. */
  json: boolean;
}

export interface EdgeLoadReport {
  refusals: RefusalCheck[];
  requests: number;
  concurrency: number;
  errors: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

const form = (parts: Record<string, Blob | string>) => {
  const body = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') body.append(name, value);
    else body.append(name, value, `${name}.jpg`);
  }
  return body;
};

async function refusals(url: string): Promise<RefusalCheck[]> {
  const cases: { name: string; expected: number; init: RequestInit }[] = [
    { name: 'GET', expected: 405, init: { method: 'GET' } },
    { name: 'JSON body', expected: 415, init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' } },
    {
      name: 'Content-Length over the limit', expected: 413,
      // a real 13 MB body: the worker must answer from the header, without reading it
      init: { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: new Uint8Array(13 * 2 ** 20) },
    },
    { name: 'form without photos', expected: 400, init: { method: 'POST', body: form({ note: 'hello' }) } },
    { name: 'text file as a photo', expected: 422, init: { method: 'POST', body: form({ a: new Blob(['not a photo'], { type: 'text/plain' }), b: SAMPLE('b.jpg') }) } },
  ];
  const checks: RefusalCheck[] = [];
  for (const c of cases) {
    const response = await fetch(url, c.init);
    const text = await response.text();
    let json = false;
    try {
      const body = JSON.parse(text) as { error?: unknown; message?: unknown };
      json = typeof body.error === 'string' && typeof body.message === 'string';
    } catch {
      json = false;
    }
    checks.push({ name: c.name, expected: c.expected, status: response.status, json });
  }
  return checks;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function load(url: string, requests: number, concurrency: number): Promise<Omit<EdgeLoadReport, 'refusals'>> {
  const photos = ['a.jpg', 'a-variant.jpg', 'b.jpg'].map(SAMPLE);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const client = async () => {
    for (let i = next++; i < requests; i = next++) {
      const t = performance.now();
      try {
        const response = await fetch(url, { method: 'POST', body: form({ a: photos[i % 3], b: photos[(i + 1) % 3] }) });
        const body = (await response.json()) as { score?: unknown };
        if (response.status !== 200 || typeof body.score !== 'number') errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    requests, concurrency, errors, requestsPerSecond: round(requests / seconds),
    latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1)!) },
  };
}

export async function edgeLoad(options: { requests: number; concurrency: number; build: boolean }): Promise<EdgeLoadReport> {
  if (options.build) {
    const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    if (built.status !== 0) throw new Error('npm run build failed');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mobileid-edge-'));
  try {
    // the example imports `mobileid`: resolve it to this checkout, as an installed package
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(REPO, path.join(dir, 'node_modules', 'mobileid'), 'dir');
    const worker = await bundleWorker(EXAMPLE, path.join(dir, 'workerd'), [path.join(dir, 'node_modules')]);
    const server = await startWorkerd(worker);
    try {
      await firstResponse(server, server.url, { method: 'GET' }); // up and answering
      const checks = await refusals(server.url);
      return { refusals: checks, ...(await load(server.url, options.requests, options.concurrency)) };
    } finally {
      server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseToolArgs('scripts/edge-load.ts', {
    options: {
      requests: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '4' },
      'no-build': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await edgeLoad({ requests: Number(values.requests), concurrency: Number(values.concurrency), build: !values['no-build'] });
  for (const c of report.refusals) console.error(`${c.name}: HTTP ${c.status} (expected ${c.expected})${c.json ? ', JSON error' : ', NOT a JSON error'}`);
  console.error(`${report.requests} verify requests, ${report.concurrency} at a time: ${report.requestsPerSecond} requests/s, p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, ${report.errors} errors`);
  if (values.json) console.log(JSON.stringify(report));
  const ok = report.errors === 0 && report.refusals.every((c) => c.status === c.expected && c.json);
  process.exit(ok ? 0 : 1);
}
