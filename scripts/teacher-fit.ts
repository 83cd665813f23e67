/**
 * npm run teacher-fit -- --model FILE[,FILE...] [--prepared .cache/prepared/lfw] [--json]
 *
 * For each student model file: how closely it copies the teacher on every image of a prepared,
 * identity-foldered cache (src/tools/teacher-fit.ts): R^2 and the mean residual against the
 * teacher's descriptor (plain and mirrored crop), and how it separates same-identity pairs from
 * pairs of different identities (correlation of its distances with the teacher's, d'). The
 * teacher's own row is the reference. Nothing is fitted: no threshold, no verifier.
 */
import { parseToolArgs } from '../src/cli/args.js';
import { MobileIdError } from '../src/errors.js';
import { loadFeatures } from '../src/tools/eval-lfw.js';
import { measureTeacherFit, type TeacherFit } from '../src/tools/teacher-fit.js';

const { values } = parseToolArgs('scripts/teacher-fit.ts', {
  options: {
    model: { type: 'string' },
    prepared: { type: 'string', default: '.cache/prepared/lfw' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.model) {
  console.error('teacher-fit: --model FILE[,FILE...] is required (student model files, or mobileid for the shipped one)');
  process.exit(2);
}
try {
  const teacher = await loadFeatures(values.prepared!, 'teacher', 'descriptor');
  const rows: { model: string; fit: TeacherFit }[] = [{ model: 'teacher', fit: measureTeacherFit(teacher, teacher) }];
  for (const model of values.model.split(',')) rows.push({ model, fit: measureTeacherFit(teacher, await loadFeatures(values.prepared!, model, 'descriptor')) });
  if (values.json) {
    console.log(JSON.stringify({ prepared: values.prepared, rows }));
  } else {
    const f = (x: number, digits = 4) => x.toFixed(digits);
    console.log(`${values.prepared}: ${rows[0].fit.images} images, ${rows[0].fit.same.pairs} same-identity and ${rows[0].fit.different.pairs} different-identity pairs (cosine distance of mirror-averaged features)\n`);
    console.log('| model | R^2 to the teacher | mean residual | same: correlation with the teacher, mean +- sd | different: correlation, mean +- sd | d\' |');
    console.log('|---|---|---|---|---|---|');
    for (const { model, fit } of rows) {
      console.log(`| ${model} | ${f(fit.r2)} | ${f(fit.residual)} | ${f(fit.same.correlation, 3)}, ${f(fit.same.mean)} +- ${f(fit.same.sd)} | ${f(fit.different.correlation, 3)}, ${f(fit.different.mean)} +- ${f(fit.different.sd)} | ${f(fit.dPrime, 3)} |`);
    }
  }
} catch (error) {
  if (!(error instanceof MobileIdError)) throw error;
  console.error(`teacher-fit: ${error.message}`);
  process.exit(2);
}
