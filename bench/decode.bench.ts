/**
 * Decoding a 24-megapixel JPEG (6000x4000, made first by src/tools/large-jpeg.ts): jpeg-js, the
 * pure-JS decoder Node used before (still the browser and edge bundles' fallback), against
 * libjpeg-turbo in wasm (what Node, Deno and Bun use now) at full size and at 1/2 and 1/4 scale
 * (DCT scaling, DecodeOptions.reduceTo), and toRgbImage, which decodes in a worker thread.
 * Time: same process, the candidates alternating within every round, median wall time and CPU
 * time (the process's, all threads: the wall time grows with the other jobs on a shared machine,
 * the CPU time much less). Memory: each candidate decodes once more in a
 * child process of its own, which reports its peak resident set (VmHWM) and what it held before.
 * The machine and its load average are printed.
 * Run: npm run bench:decode [-- --rounds 3] [--width 6000] [--height 4000] [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJpegPixels as decodeWithLibjpegTurbo } from '../src/jpeg-decoder.js';
import { decodeJpegPixels as decodeWithJpegJs } from '../src/jpeg-decoder.web.js';
import { MAX_DECODE_PIXELS } from '../src/image.js';
import { toRgbImage } from '../src/runtime/server.js';
import { largeJpeg } from '../src/tools/large-jpeg.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('bench/decode.bench.ts', {
  options: {
    rounds: { type: 'string', default: '3' },
    width: { type: 'string', default: '6000' },
    height: { type: 'string', default: '4000' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    file: { type: 'string' },
  },
});

const maxPixels = MAX_DECODE_PIXELS;

/** Each candidate decodes the bytes and returns the decoded size. */
const CANDIDATES: Record<string, (bytes: Uint8Array) => Promise<{ width: number; height: number }> | { width: number; height: number }> = {
  'jpeg-js 0.4.4 (before)': (bytes) => decodeWithJpegJs(bytes, { scale: 1, maxPixels, adobe: false }),
  'libjpeg-turbo wasm': (bytes) => decodeWithLibjpegTurbo(bytes, { scale: 1, maxPixels, adobe: false }),
  'libjpeg-turbo wasm, 1/2 (DCT)': (bytes) => decodeWithLibjpegTurbo(bytes, { scale: 2, maxPixels, adobe: false }),
  'libjpeg-turbo wasm, 1/4 (DCT)': (bytes) => decodeWithLibjpegTurbo(bytes, { scale: 4, maxPixels, adobe: false }),
  'toRgbImage (worker thread, libjpeg-turbo)': (bytes) => toRgbImage(bytes),
};

const mb = (bytes: number) => bytes / 1024 / 1024;

interface ChildReport {
  beforeMb: number;
  peakMb: number;
}

/**
 * The process's peak resident set in MB: Linux's VmHWM, which starts afresh at exec; getrusage's
 * maxRSS (elsewhere) keeps the peak of the parent that forked this process, when that is higher.
 */
function peakRssMb(): number {
  const status = process.platform === 'linux' ? readFileSync('/proc/self/status', 'utf8') : '';
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024;
}

/** Child mode: one decode, then the process's peak resident set. */
async function child(name: string, file: string): Promise<void> {
  const bytes = new Uint8Array(readFileSync(file));
  const beforeMb = mb(process.memoryUsage().rss);
  await CANDIDATES[name](bytes);
  const report: ChildReport = { beforeMb, peakMb: peakRssMb() };
  console.log(JSON.stringify(report));
  process.exit(0); // the decoding thread of toRgbImage would otherwise idle until unref'd
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main(): Promise<void> {
  const width = Number(values.width);
  const height = Number(values.height);
  let t0 = performance.now();
  const bytes = largeJpeg(width, height);
  console.log(`made a ${width}x${height} JPEG of ${(bytes.length / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mobileid-decode-'));
  const file = path.join(dir, 'large.jpg');
  writeFileSync(file, bytes);
  const loadBefore = os.loadavg()[0];

  const names = Object.keys(CANDIDATES);
  const wall = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
  const sizes = new Map<string, string>();
  await toRgbImage(file, { reduceTo: 100 }); // starts the decoding thread: its start-up is not decoding
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const name of names) {
      const cpu0 = process.cpuUsage();
      t0 = performance.now();
      const { width: w, height: h } = await CANDIDATES[name](bytes);
      wall.get(name)!.push(performance.now() - t0);
      const used = process.cpuUsage(cpu0);
      cpu.get(name)!.push((used.user + used.system) / 1000);
      sizes.set(name, `${w}x${h}`);
    }
  }

  const memory = new Map<string, ChildReport>();
  const self = fileURLToPath(import.meta.url);
  for (const name of names) {
    const ran = spawnSync(process.execPath, [...process.execArgv, self, '--child', name, '--file', file], { encoding: 'utf8' });
    if (ran.status !== 0) throw new Error(`${name}: child process failed: ${ran.stderr}`);
    memory.set(name, JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as ChildReport);
  }
  rmSync(dir, { recursive: true, force: true });
  const loadAfter = os.loadavg()[0];

  const base = median(wall.get(names[0])!);
  console.log(`${os.cpus().length} cores (${os.cpus()[0]?.model}), Node ${process.versions.node}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; median of ${values.rounds} rounds`);
  console.log('| decoder | output | wall (median) | CPU (median) | speed-up | peak RSS (child) | RSS before decoding |');
  console.log('|---|---|---|---|---|---|---|');
  for (const name of names) {
    const w = median(wall.get(name)!);
    const m = memory.get(name)!;
    console.log(`| ${name} | ${sizes.get(name)} | ${(w / 1000).toFixed(2)} s | ${(median(cpu.get(name)!) / 1000).toFixed(2)} s | ${(base / w).toFixed(1)}x | ${m.peakMb.toFixed(0)} MB | ${m.beforeMb.toFixed(0)} MB |`);
  }
  if (values.json) {
    console.log(JSON.stringify({ width, height, fileBytes: bytes.length, loadBefore, loadAfter, wallMs: Object.fromEntries(wall), cpuMs: Object.fromEntries(cpu), memory: Object.fromEntries(memory) }));
  }
  process.exit(0);
}

if (values.child) await child(values.child, values.file!);
else await main();
