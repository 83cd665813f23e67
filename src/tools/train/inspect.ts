/**
 * What a distill checkpoint holds, tensor by tensor (npm run inspect-checkpoint): the run's
 * progress and, for every trained tensor, its size and magnitude. It shows, for instance, how far a
 * residual branch grown at zero output has opened (the RMS of its batch-norm scale).
 */
import type { GraphSpec } from '../../engine/graph.js';
import { decodeCheckpoint } from './checkpoint.js';
import type { RunRecord } from './distill.js';
import { CheckpointError } from './errors.js';
import { trainingGraph } from './targets.js';
import { trainingLayout } from './warm-start.js';

export interface TensorSummary {
  name: string;
  shape: number[];
  /** Root mean square and largest absolute value of its entries. */
  rms: number;
  maxAbs: number;
  /** A batch-norm running statistic (not trained). */
  statistic: boolean;
}

export interface CheckpointSummary {
  run: RunRecord;
  /** Optimiser updates so far (the run's step, also within an epoch). */
  step: number;
  tensors: TensorSummary[];
}

/** The width of a run's output: its selected neurons, all 256 hidden ones, or the 128-d descriptor. */
export function runOutputs(run: RunRecord): number {
  return run.neurons?.length ?? (run.options.targets === 'desc' ? 128 : 256);
}

/** The training graph a run record describes (distill builds the same one). */
export function runGraph(run: RunRecord): GraphSpec {
  const o = run.options;
  return trainingGraph(runOutputs(run), { kind: o.targets, neurons: run.neurons ?? undefined }, o.standardize !== 'none', { arch: o.arch, activation: o.activation });
}

export function summarizeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): CheckpointSummary {
  const checkpoint = decodeCheckpoint<RunRecord>(bytes, source);
  const run = checkpoint.meta;
  if (run?.format !== 1 || typeof run.options !== 'object') throw new CheckpointError(`${source}: not a distill run (run record format ${run?.format})`);
  const graph = runGraph(run);
  const layout = trainingLayout(graph, run.options.batchNorm);
  if (layout.size !== checkpoint.weights.length) {
    throw new CheckpointError(`${source}: ${checkpoint.weights.length} weights, but its run's network (${run.options.arch}) has ${layout.size}`);
  }
  return {
    run,
    step: checkpoint.optimizer.step,
    tensors: layout.entries.map((e) => {
      const values = layout.view(checkpoint.weights, e.name);
      let squares = 0;
      let maxAbs = 0;
      for (const v of values) {
        squares += v * v;
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }
      return { name: e.name, shape: e.shape, rms: Math.sqrt(squares / values.length), maxAbs, statistic: e.statistic };
    }),
  };
}
