/**
 * npm run teacher-fit -- --model FILE[,FILE...] [--prepared .cache/prepared/lfw] [--identities .cache/prepared/celeba] [--json]
 *
 * For each student model file: how closely it copies the teacher on every image of a prepared,
 * identity-foldered cache (src/tools/teacher-fit.ts): R^2 and the mean residual against the
 * teacher's descriptor (plain and mirrored crop), and how it separates same-identity pairs from
 * pairs of different identities (correlation of its distances with the teacher's, d'). The
 * teacher's own row is the reference. With --identities (a prepared identity-foldered cache other
 * than --prepared; default the CelebA identity set's, skipped when absent), also the R^2 along the
 * teacher's discriminant directions fitted there, in bands from the strongest. No threshold or
 * verifier is fitted on --prepared.
 */
import { existsSync } from 'node:fs';
import { parseToolArgs } from '../src/cli/args.js';
import { MobileIdError } from '../src/errors.js';
import { combine, loadFeatures } from '../src/tools/eval-lfw.js';
import { discriminantDirections, measureTeacherFit, r2AlongDirections, type TeacherFit } from '../src/tools/teacher-fit.js';

const { values } = parseToolArgs('scripts/teacher-fit.ts', {
  options: {
    model: { type: 'string' },
    prepared: { type: 'string', default: '.cache/prepared/lfw' },
    identities: { type: 'string', default: '.cache/prepared/celeba' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.model) {
  console.error('teacher-fit: --model FILE[,FILE...] is required (student model files, or mobileid for the shipped one)');
  process.exit(2);
}
try {
  const teacher = await loadFeatures(values.prepared!, 'teacher', 'descriptor');
  const students = new Map<string, Awaited<ReturnType<typeof loadFeatures>>>();
  for (const model of values.model.split(',')) students.set(model, await loadFeatures(values.prepared!, model, 'descriptor'));
  const rows: { model: string; fit: TeacherFit }[] = [{ model: 'teacher', fit: measureTeacherFit(teacher, teacher) }];
  for (const [model, features] of students) rows.push({ model, fit: measureTeacherFit(teacher, features) });
  // R^2 along the teacher's discriminant directions, fitted on the identity set, in bands
  const identities = values.identities!;
  let bands: { from: number; to: number; ratio: number; r2: Record<string, number> }[] = [];
  if (identities !== values.prepared && existsSync(identities)) {
    const labelled = await loadFeatures(identities, 'teacher', 'descriptor');
    const { directions, ratios } = discriminantDirections(new Map([...labelled].map(([key, views]) => [key, combine(views, true, 'average')])));
    const perModel = new Map([...students].map(([model, features]) => [model, r2AlongDirections(teacher, features, directions)]));
    const average = (values: number[], from: number, to: number) => values.slice(from, to).reduce((a, v) => a + v, 0) / (to - from);
    bands = [[0, 8], [8, 16], [16, 32], [32, 64], [64, directions.length]].map(([from, to]) => ({
      from, to, ratio: average(ratios, from, to), r2: Object.fromEntries([...perModel].map(([model, r2]) => [model, average(r2, from, to)])),
    }));
  } else {
    console.error(`teacher-fit: no identity set at ${identities} (or it is --prepared): the discriminant bands are left out`);
  }
  if (values.json) {
    console.log(JSON.stringify({ prepared: values.prepared, identities: bands.length ? identities : null, rows, bands }));
  } else {
    const f = (x: number, digits = 4) => x.toFixed(digits);
    console.log(`${values.prepared}: ${rows[0].fit.images} images, ${rows[0].fit.same.pairs} same-identity and ${rows[0].fit.different.pairs} different-identity pairs (cosine distance of mirror-averaged features)\n`);
    console.log('| model | R^2 to the teacher | mean residual | same: correlation with the teacher, mean +- sd | different: correlation, mean +- sd | d\' |');
    console.log('|---|---|---|---|---|---|');
    for (const { model, fit } of rows) {
      console.log(`| ${model} | ${f(fit.r2)} | ${f(fit.residual)} | ${f(fit.same.correlation, 3)}, ${f(fit.same.mean)} +- ${f(fit.same.sd)} | ${f(fit.different.correlation, 3)}, ${f(fit.different.mean)} +- ${f(fit.different.sd)} | ${f(fit.dPrime, 3)} |`);
    }
    if (bands.length) {
      console.log(`\nR^2 to the teacher along its discriminant directions (fitted on ${identities}; mirror-averaged features), mean over each band:\n`);
      console.log(`| directions | between / within identity | ${[...students.keys()].join(' | ')} |`);
      console.log(`|---|---|${[...students.keys()].map(() => '---|').join('')}`);
      for (const band of bands) console.log(`| ${band.from + 1}-${band.to} | ${f(band.ratio, 2)} | ${[...students.keys()].map((m) => f(band.r2[m], 3)).join(' | ')} |`);
    }
  }
} catch (error) {
  if (!(error instanceof MobileIdError)) throw error;
  console.error(`teacher-fit: ${error.message}`);
  process.exit(2);
}
