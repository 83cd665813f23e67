/**
 * A training worker thread (started by src/tools/train/parallel.ts): its own Engine and
 * TrainingNetwork over a shard of the batch; weights, batches and its gradient live in
 * SharedArrayBuffers set up by the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../../engine/engine.js';
import type { Tensor } from '../../engine/model-format.js';
import { TrainingNetwork } from './network.js';
import { ShardRunner, type WorkerReply, type WorkerRequest, type WorkerSetup } from './parallel.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const reply = (message: WorkerReply) => port.postMessage(message);

try {
  const weights = new Float32Array(setup.weights);
  const tensors = new Map<string, Tensor>();
  let offset = 0;
  for (const { name, shape } of setup.layout) {
    const length = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape, data: weights.slice(offset, offset + length) });
    offset += length;
  }
  const network = new TrainingNetwork(await Engine.create(), setup.graph, tensors, setup.maxShard, setup.settings);
  const slots = setup.slots.map((s) => ({ input: new Float32Array(s.input), targets: new Float32Array(s.targets) }));
  const runner = new ShardRunner(network, weights, slots);
  const gradient = new Float32Array(setup.gradient);
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'close') {
      port.close();
      return;
    }
    try {
      const loss = runner.run(request.type, request.slot, request.start, request.count, request.version, gradient);
      reply({ type: 'done', loss });
    } catch (error) {
      reply({ type: 'error', message: (error as Error).message });
    }
  });
  reply({ type: 'ready' });
} catch (error) {
  reply({ type: 'error', message: (error as Error).message });
}
