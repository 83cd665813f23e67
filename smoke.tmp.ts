import { Engine } from './src/engine/engine.js';
import { encodeModel, decodeModel, type Tensor } from './src/engine/model-format.js';
import { initWeights, studentGraph } from './src/face/student-graph.js';
import { quantizeWeights } from './src/engine/quantization.js';
import { seededRandom } from './src/math/random.js';
const arch = (process.argv[2] ?? 'paper') as 'paper' | 'deep';
const graph = studentGraph({ arch, outputs: 128 });
const weights = initWeights(graph, 3);
const engine = await Engine.create();
const r = seededRandom(4);
const batch = 8;
const x = Float32Array.from({ length: batch * 55 * 47 * 3 }, () => r() * 3.2 - 1.6);
const all = { ...graph, outputs: [graph.input.name, ...graph.layers.map((l) => l.output)] };
const calib = engine.loadModel({ graph: all, tensors: weights }, { batch });
const outs = calib.runAll(x, batch);
const scales: Record<string, number> = {};
all.outputs.forEach((name, i) => {
  let m = 0; for (const v of outs[i]) m = Math.max(m, Math.abs(v));
  const layer = graph.layers.find((l) => l.output === name);
  scales[name] = m / (layer && 'activation' in layer && layer.activation.kind === 'relu' ? 255 : 127);
});
for (const l of graph.layers) if (l.op === 'maxpool') scales[l.output] = scales[l.input];
const qt = new Map<string, Tensor>();
for (const [n, t] of weights) qt.set(n, n.endsWith('.w') ? quantizeWeights(t) : t);
const qgraph = { ...graph, quantization: { activations: scales } };
const bytes = encodeModel(qgraph, qt, { dtype: 'f32' });
console.log('file bytes', bytes.length);
const before = engine.memoryBytes;
const qm = engine.loadModel(bytes, { batch });
console.log('arena int8', engine.memoryBytes - before);
const fm = engine.loadModel(decodeModel(bytes), { batch, precision: 'f32' });
const a = qm.run(x, batch), b = fm.run(x, batch);
let err = 0, sc = 0; a.forEach((v, i) => { err = Math.max(err, Math.abs(v - b[i])); sc = Math.max(sc, Math.abs(b[i])); });
console.log('rel max err', err / sc);
const a1 = qm.run(x.subarray(0, 7755), 1);
console.log('batch1 vs batch8 first image same', a1.every((v, i) => v === a[i]));
for (const [name, m] of [['int8', qm], ['f32', fm]] as const) {
  for (const bb of [1, batch]) {
    const xx = x.subarray(0, bb * 7755);
    for (let i = 0; i < 20; i++) m.run(xx, bb);
    const t0 = performance.now(); const n = bb === 1 ? 300 : 40;
    for (let i = 0; i < n; i++) m.run(xx, bb);
    console.log(name, 'batch', bb, ((performance.now() - t0) / n / bb).toFixed(3), 'ms/img');
  }
}
