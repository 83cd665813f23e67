/**
 * RecognizerPool scaling: the photos of a folder (default: the sample photos, each 4 times)
 * embedded with 1 worker and with 2 (or the sizes given), alternating within every round,
 * median of the rounds; prints photos/s per size and the speed-up over 1 worker. The load
 * average before and after is printed: other jobs on the machine take cores from the pool.
 * Run: npm run bench:pool [-- --folder DIR] [--sizes 1,2] [--rounds 3] [--repeat 4] [--json]
 */
import os from 'node:os';
import { listImageFiles } from '../src/cli/files.js';
import { RecognizerPool } from '../src/runtime/pool.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('bench/pool.bench.ts', {
  options: {
    folder: { type: 'string', default: new URL('../demo/samples', import.meta.url).pathname },
    sizes: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
});
const files = Array.from({ length: Number(values.repeat) }, () => listImageFiles([values.folder])).flat();
const sizes = values.sizes.split(',').map(Number);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const pools = new Map<number, RecognizerPool>();
for (const size of sizes) pools.set(size, await RecognizerPool.create({ size }));
const rates = new Map<number, number[]>(sizes.map((s) => [s, []]));
const loadBefore = os.loadavg()[0];
for (const pool of pools.values()) await Promise.all(files.slice(0, pool.size * 2).map((f) => pool.embedFaces(f))); // warm-up
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [size, pool] of pools) {
    const start = performance.now();
    await Promise.all(files.map((f) => pool.embedFaces(f, { mirror: true })));
    rates.get(size)!.push(files.length / ((performance.now() - start) / 1000));
  }
}
const loadAfter = os.loadavg()[0];
for (const pool of pools.values()) await pool.close();

const base = median(rates.get(sizes[0])!);
console.log(`${files.length} photos from ${values.folder}; ${os.cpus().length} cores (${os.cpus()[0]?.model}), Node ${process.versions.node}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`);
console.log('| workers | photos / s (median) | speed-up |');
console.log('|---|---|---|');
for (const size of sizes) console.log(`| ${size} | ${median(rates.get(size)!).toFixed(2)} | ${(median(rates.get(size)!) / base).toFixed(2)}x |`);
if (values.json) console.log(JSON.stringify({ photos: files.length, loadBefore, loadAfter, rates: Object.fromEntries(rates) }));
