/**
 * FaceMatcher query time at 1k, 10k and 100k enrolled 128-d embeddings (10 per person), for
 * match() (best person + threshold) and topK(10), Euclidean and cosine: median of 7 rounds of
 * 50 queries each, after a warm-up. Enrolment time and JSON size are printed as well.
 * Run: npm run bench:matcher [-- --json]
 */
import os from 'node:os';
import { gaussian, seededRandom } from '../src/math/random.js';
import { FaceMatcher, type MatchMetric } from '../src/verify/matcher.js';

const DIM = 128;
const SIZES = [1_000, 10_000, 100_000];
const PER_PERSON = 10;
const QUERIES = 50;
const ROUNDS = 7;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const random = seededRandom(11);
const vector = () => Float32Array.from({ length: DIM }, () => gaussian(random) * 0.1);

interface Row {
  metric: MatchMetric;
  enrolled: number;
  people: number;
  enrolMs: number;
  matchMs: number;
  topKMs: number;
}

const rows: Row[] = [];
for (const metric of ['euclidean', 'cosine'] as MatchMetric[]) {
  for (const size of SIZES) {
    const matcher = new FaceMatcher({ model: { name: 'bench', fingerprint: '00000000', dimension: DIM }, metric, threshold: -0.4, mirror: false });
    const embeddings = Array.from({ length: size }, vector);
    let start = performance.now();
    for (let i = 0; i < size; i += PER_PERSON) matcher.enroll(`person ${i / PER_PERSON}`, embeddings.slice(i, i + PER_PERSON));
    const enrolMs = performance.now() - start;
    const queries = Array.from({ length: QUERIES }, vector);
    for (const q of queries.slice(0, 5)) matcher.match(q); // warm-up
    const matchTimes: number[] = [];
    const topKTimes: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      start = performance.now();
      for (const q of queries) matcher.match(q);
      matchTimes.push((performance.now() - start) / QUERIES);
      start = performance.now();
      for (const q of queries) matcher.topK(q, 10);
      topKTimes.push((performance.now() - start) / QUERIES);
    }
    rows.push({ metric, enrolled: size, people: size / PER_PERSON, enrolMs, matchMs: median(matchTimes), topKMs: median(topKTimes) });
  }
}

console.log(`FaceMatcher, ${DIM}-d, ${PER_PERSON} embeddings per person; ${os.cpus()[0]?.model}, Node ${process.versions.node}`);
console.log('| metric | enrolled | people | enrol (ms) | match (ms / query) | top-10 (ms / query) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.metric} | ${r.enrolled} | ${r.people} | ${r.enrolMs.toFixed(0)} | ${r.matchMs.toFixed(3)} | ${r.topKMs.toFixed(3)} |`);
if (process.argv.includes('--json')) console.log(JSON.stringify({ dim: DIM, rows }));
