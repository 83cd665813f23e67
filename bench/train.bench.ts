/**
 * Training throughput of the MobileID student (55x47x3 -> 256, batch 128 by default): whole
 * optimiser steps (batch filling, forward, backward, gradient reduction, AdamW update) on the
 * main thread (0 workers), 1 worker and 2 workers. The configurations alternate within every
 * round so that load from other processes hits them alike; medians over rounds are reported.
 * Besides wall-clock images/s, images per CPU-second of this process (all its threads) show the
 * efficiency of each configuration independently of how much CPU other processes leave us.
 * --arch deep|conv5|mobile|deep-res trains one of the other layouts instead of the paper's; --batch-norm adds a configuration to
 * the alternation, 2 workers with batch norm (its cost over plain 2 workers), and --prelu one with
 * PReLU instead of ReLU (with --batch-norm: batch norm and PReLU).
 * Usage: npx tsx bench/train.bench.ts [--rounds 5] [--steps 3] [--batch 128] [--arch paper|deep|conv5|mobile|deep-res] [--batch-norm] [--prelu]
 * The last line of output is JSON.
 */
import os from 'node:os';
import { initWeights, isStudentArchitecture, STUDENT_ARCHITECTURES, STUDENT_INPUT } from '../src/face/student-graph.js';
import { seededRandom } from '../src/math/random.js';
import { Optimizer } from '../src/tools/train/optimizer.js';
import { BatchComputer, type BatchSlot } from '../src/tools/train/parallel.js';
import { withBatchNorm } from '../src/tools/train/batch-norm.js';
import { trainingGraph } from '../src/tools/train/targets.js';
import { Trainer } from '../src/tools/train/trainer.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const rounds = option('rounds', 5);
const steps = option('steps', 3);
const batch = option('batch', 128);
const outputs = 256;
const archFlag = args.includes('--arch') ? args[args.indexOf('--arch') + 1] : 'paper';
if (!isStudentArchitecture(archFlag)) throw new Error(`--arch must be one of ${STUDENT_ARCHITECTURES.join(', ')}`);
const arch = archFlag;
const withBatchNormConfig = args.includes('--batch-norm');
const withPreluConfig = args.includes('--prelu');
const IMAGE = STUDENT_INPUT[0] * STUDENT_INPUT[1] * STUDENT_INPUT[2];

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main() {
  const graphs = {
    relu: trainingGraph(outputs, { kind: 'hidden' }, true, { arch }),
    prelu: trainingGraph(outputs, { kind: 'hidden' }, true, { arch, activation: 'prelu' }),
  };
  // a pool of synthetic batches, copied into the slots like the real loader does
  const random = seededRandom(9);
  const pool = Float32Array.from({ length: 4 * batch * IMAGE }, () => random() * 3.2 - 1.6);
  const targets = Float32Array.from({ length: 4 * batch * outputs }, () => random() * 2 - 1);
  const fill = (slot: BatchSlot, index: number) => {
    const at = (index % 4) * batch;
    slot.input.set(pool.subarray(at * IMAGE, (at + batch) * IMAGE));
    slot.targets.set(targets.subarray(at * outputs, (at + batch) * outputs));
    return batch;
  };

  const configs = [0, 1, 2].map((workers) => ({ workers, batchNorm: false, prelu: false }));
  if (withBatchNormConfig) configs.push({ workers: 2, batchNorm: true, prelu: false });
  if (withPreluConfig) configs.push({ workers: 2, batchNorm: withBatchNormConfig, prelu: true });
  const label = ({ workers, batchNorm, prelu }: (typeof configs)[number]) =>
    `${workers === 0 ? 'main thread' : workers === 1 ? '1 worker' : `${workers} workers`}${batchNorm ? ' + batch norm' : ''}${prelu ? ' + PReLU' : ''}`;
  const trainers = await Promise.all(configs.map(async ({ workers, batchNorm, prelu }) => {
    const graph = prelu ? graphs.prelu : graphs.relu;
    const tensors = initWeights(graph, 1);
    const computer = await BatchComputer.create({ graph, tensors: batchNorm ? withBatchNorm(graph, tensors) : tensors, maxBatch: batch, workers, batchNorm });
    const optimizer = new Optimizer(computer.layout.size, { kind: 'adam', weightDecay: 5e-4, decayMask: computer.layout.decayMask() });
    return new Trainer(computer, optimizer, { kind: 'cosine', baseRate: 1e-4, totalSteps: 1000, warmupSteps: 0 });
  }));
  for (const trainer of trainers) await trainer.train(1, fill); // warm-up: compile, first packing

  const loadBefore = os.loadavg()[0];
  const rates = configs.map(() => [] as number[]);
  const perCpuSecond = configs.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let c = 0; c < configs.length; c++) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      await trainers[c].train(steps, fill);
      const used = process.cpuUsage(cpu);
      rates[c].push((steps * batch) / ((performance.now() - started) / 1000));
      perCpuSecond[c].push((steps * batch) / ((used.user + used.system) / 1e6));
    }
    console.error(`round ${round + 1}/${rounds}: ${configs.map((config, c) => `${label(config)} ${rates[c][round].toFixed(1)} img/s`).join(', ')}`);
  }
  for (const trainer of trainers) await trainer.computer.close();

  const results = configs.map(({ workers, batchNorm, prelu }, c) => ({
    workers, batch_norm: batchNorm, prelu,
    images_per_s: Number(median(rates[c]).toFixed(1)),
    images_per_cpu_s: Number(median(perCpuSecond[c]).toFixed(1)),
    rounds: rates[c].map((r) => Number(r.toFixed(1))),
  }));
  console.log('');
  console.log('| configuration | training images/s (median) | images per CPU-second (median) |');
  console.log('|---|---|---|');
  results.forEach((r, c) => console.log(`| ${label(configs[c])} | ${r.images_per_s} | ${r.images_per_cpu_s} |`));
  console.log('');
  const speedup = results[2].images_per_s / results[1].images_per_s;
  console.log(JSON.stringify({
    bench: 'train', network: `student (${arch}) 55x47x3 -> ${outputs}`, batch, steps_per_round: steps, rounds,
    cpus: os.cpus().length, load_average: [Number(loadBefore.toFixed(2)), Number(os.loadavg()[0].toFixed(2))],
    results, speedup_2_vs_1_workers: Number(speedup.toFixed(2)),
  }));
}

await main();
