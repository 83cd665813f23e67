/**
 * npm run view-gap -- --model FILE [--images 200] [--banks DIRS] [--data ../shared/data] [--fairface .cache/data/fairface/fair_face] [--json]
 *
 * Splits a distilled student's gap between training and validation loss (src/tools/train/view-gap.ts):
 * its loss on the bank's views of training images, on fresh jittered views of the same images
 * (cut from the photos and labelled by the teacher now), and on the bank's views of validation
 * images. FILE is a model distill wrote, with its run log beside it; the prepared banks it was
 * trained on (the run log's --data) must be at hand, and the photos of the sampled images.
 * --banks DIRS (comma-separated) measures on other banks of the same sets, e.g. a student trained
 * on a 12-view bank on the 8-view one, to compare it with one trained there. One row is the teacher
 * itself on the student's crops: what a network can read of the targets from the crop alone.
 */
import { parseToolArgs } from '../src/cli/args.js';
import { MobileIdError } from '../src/errors.js';
import { measureViewGap, type LossRow } from '../src/tools/train/view-gap.js';

const { values } = parseToolArgs('scripts/view-gap.ts', {
  options: {
    model: { type: 'string' },
    images: { type: 'string', default: '200' },
    banks: { type: 'string' },
    data: { type: 'string', default: '../shared/data' },
    fairface: { type: 'string', default: '.cache/data/fairface/fair_face' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.model) {
  console.error('view-gap: --model FILE is required (a model distill wrote, its run log beside it)');
  process.exit(2);
}
const images = Number(values.images);
try {
  const started = Date.now();
  const report = await measureViewGap({ model: values.model, images, banks: values.banks?.split(','), dataRoot: values.data!, fairface: values.fairface!, log: (line) => console.error(line) });
  if (values.json) {
    console.log(JSON.stringify(report));
  } else {
    const line = (what: string, r: LossRow) => console.log(`| ${what} | ${r.images} | ${r.views} | ${r.loss.toFixed(3)} +- ${r.se.toFixed(3)} |`);
    console.log(`${report.model} on ${report.data.join(', ')}\n`);
    console.log('| views | images | views per image | loss (+- s.e. over images) |');
    console.log('|---|---|---|---|');
    line('training images, the bank\'s views', report.training.bankAll);
    line('training images, the bank\'s jittered views', report.training.bankJittered);
    line('training images, fresh jittered views', report.training.fresh);
    line('training images, the bank\'s jittered views, the teacher on the student\'s crops', report.training.teacherOnCrops);
    line('validation images, the bank\'s views', report.validation.bankAll);
    line('validation images, the bank\'s jittered views', report.validation.bankJittered);
    const { mean, se } = report.freshMinusBank;
    console.log(`\nfresh - bank views of the same training images: ${mean.toFixed(3)} +- ${se.toFixed(3)} (views memorised)`);
    console.log(`validation - fresh (jittered views): ${report.validationMinusFresh.mean.toFixed(3)} +- ${report.validationMinusFresh.se.toFixed(3)} (faces memorised)`);
    console.log(`the run log's validation loss: ${report.reportedValidationLoss.toFixed(3)} (${report.ownBanks ? `recomputed above from the model file: ${report.validation.bankAll.loss.toFixed(3)}` : 'on the banks it was trained on'})`);
    console.log(`run: ${new Date(started).toISOString().slice(11, 16)}-${new Date().toISOString().slice(11, 16)} UTC`);
  }
} catch (error) {
  if (!(error instanceof MobileIdError)) throw error;
  console.error(`view-gap: ${error.message.replace(/^view-gap: /, '')}`);
  process.exit(2);
}
