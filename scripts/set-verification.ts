/**
 * npx tsx scripts/set-verification.ts --model models/mobileid-student.mobileid --report reports/lfw/<label>.json
 *
 * Writes the default verification rule into a student model file's graph.meta.verification, from
 * an eval-lfw report: the verifier, whether embeddings are mirror-averaged, and the threshold = mean
 * of the 10 per-fold thresholds (each chosen on the other 9 folds, never on its own test fold).
 * Tensors keep their storage dtype (decoded f16/q8 values re-encode exactly).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decodeModel, encodeModel } from '../src/model-format.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, report: { type: 'string' }, dtype: { type: 'string', default: 'f16' } } });
if (!values.model || !values.report) throw new Error('usage: --model <file.mobileid> --report <eval-lfw report.json>');
const report = JSON.parse(readFileSync(values.report, 'utf8')) as { verifier: string; mirror: string | false; thresholds: number[]; accuracy_mean: number };
if (report.verifier !== 'cosine' && report.verifier !== 'euclidean') throw new Error(`a model file can carry a cosine or euclidean rule, not ${report.verifier}`);
if (report.mirror && report.mirror !== 'average') throw new Error('only mirror-averaged embeddings can be used by verify()');
const threshold = report.thresholds.reduce((a, b) => a + b, 0) / report.thresholds.length;
const model = decodeModel(new Uint8Array(readFileSync(values.model)));
model.graph.meta = {
  ...model.graph.meta,
  verification: { verifier: report.verifier, threshold, mirror: Boolean(report.mirror), source: `mean of the per-fold LFW View 2 thresholds in ${values.report}` },
};
writeFileSync(values.model, encodeModel(model.graph, model.tensors, { dtype: values.dtype as 'f16' }));
console.log(`${values.model}: verification ${report.verifier} threshold ${threshold.toFixed(4)} mirror ${Boolean(report.mirror)}`);
