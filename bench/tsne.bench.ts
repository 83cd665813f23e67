/**
 * Barnes-Hut t-SNE at the size of the LFW gallery: 13,233 clustered 256-d rows -> 2-D with the
 * default settings (PCA to 50, perplexity 30, theta 0.5, 1000 iterations).
 * Run: npx tsx bench/tsne.bench.ts [count] [dim] [iterations] [learningRate: number | auto]
 * Prints per-stage timings, then one JSON line.
 */
import { tsne, type TsneStage } from '../src/gallery/tsne';
import { exactKnn } from '../src/math/knn';
import { gaussian, seededRandom } from '../src/math/random';

const count = Number(process.argv[2] ?? 13233);
const dim = Number(process.argv[3] ?? 256);
const iterations = Number(process.argv[4] ?? 1000);
const learningRate = process.argv[5] === 'auto' ? 'auto' : Number(process.argv[5] ?? 200);

/**
 * Face-embedding-like data: identities with a skewed number of images each (many with one,
 * a few with hundreds, as in LFW), images scattered around their identity's centre.
 */
function clusteredRows(count: number, dim: number): { rows: Float32Array; labels: Int32Array } {
  const uniform = seededRandom(7);
  const identities = Math.round(count / 8);
  const centres = new Float32Array(identities * dim).map(() => gaussian(uniform));
  const rows = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  const noise = 1.5; // identities overlap a little, as real embeddings do
  for (let i = 0; i < count; i++) {
    const id = Math.floor(Math.pow(uniform(), 2.5) * identities);
    labels[i] = id;
    for (let d = 0; d < dim; d++) rows[i * dim + d] = centres[id * dim + d] + noise * gaussian(uniform);
  }
  return { rows, labels };
}

/** Mean fraction of each point's k nearest neighbours (in `points`) sharing its label. */
function labelAgreement(points: Float32Array, dims: number, labels: Int32Array, k: number): number {
  const { indices } = exactKnn(points, labels.length, dims, k);
  let same = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < k; j++) if (labels[indices[i * k + j]] === labels[i]) same++;
  }
  return same / (labels.length * k);
}

const { rows, labels } = clusteredRows(count, dim);
const stageStart = new Map<TsneStage, number>();
const stageSeconds: Record<string, number> = {};
let current: TsneStage | undefined;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const layout = tsne(rows, count, dim, {
  iterations,
  learningRate,
  onProgress: (stage, fraction) => {
    if (stage !== current) {
      const now = performance.now();
      if (current) stageSeconds[current] = (now - stageStart.get(current)!) / 1000;
      stageStart.set(stage, now);
      current = stage;
    }
    if (stage === 'optimise' && fraction > 0 && Math.round(fraction * 100) % 10 === 0) {
      console.log(`  optimise ${Math.round(fraction * 100)}%  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  },
});
const total = (performance.now() - t0) / 1000;
// CPU time too: the machine is shared, and wall time grows with other people's load.
const cpuUsed = process.cpuUsage(cpu0);
const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
if (current) stageSeconds[current] = (performance.now() - stageStart.get(current)!) / 1000;

for (const [stage, s] of Object.entries(stageSeconds)) console.log(`${stage.padEnd(12)} ${s.toFixed(2)} s`);
console.log(`total        ${total.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU  (${count} x ${dim}, ${iterations} iterations)`);
const k = 10;
const agreementInput = labelAgreement(rows, dim, labels, k);
const agreement2d = labelAgreement(layout, 2, labels, k);
console.log(`10-NN label agreement: input ${agreementInput.toFixed(3)}, 2-D ${agreement2d.toFixed(3)}`);
console.log(
  JSON.stringify({
    bench: 'tsne',
    count,
    dim,
    iterations,
    learningRate,
    seconds: { ...stageSeconds, total, cpu },
    knnLabelAgreement: { input: agreementInput, layout: agreement2d },
  }),
);
