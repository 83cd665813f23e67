/**
 * npm run make-pairs -- [--images ../shared/data/celeba-ids/images] [--out reports/eval-pairs/celeba-pairs.tsv]
 *                       [--folds 10] [--per-class 300] [--seed 1]
 *
 * An identity-disjoint pair list for `mobileid eval-pairs` from a folder of `<identity>/<photo>`
 * (default: the CelebA identity set): see src/tools/identity-pairs.ts. Then
 *   npx mobileid eval-pairs --pairs reports/eval-pairs/celeba-pairs.tsv --images ../shared/data/celeba-ids/images --model teacher --mirror
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { identityPairList } from '../src/tools/identity-pairs.js';
import { parseToolArgs } from '../src/cli/args.js';

const { values } = parseToolArgs('scripts/make-pairs.ts', {
  options: {
    images: { type: 'string', default: '../shared/data/celeba-ids/images' },
    out: { type: 'string', default: 'reports/eval-pairs/celeba-pairs.tsv' },
    folds: { type: 'string', default: '10' },
    'per-class': { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
  },
});

const integer = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`make-pairs: --${name} must be a positive integer, got ${text}`);
    process.exit(2);
  }
  return n;
};

const photosByIdentity = new Map<string, string[]>();
for (const identity of readdirSync(values.images!, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
  const photos = readdirSync(path.join(values.images!, identity)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  if (photos.length) photosByIdentity.set(identity, photos.map((p) => `${identity}/${p}`));
}
const text = identityPairList(photosByIdentity, {
  folds: integer('folds', values.folds!), perClass: integer('per-class', values['per-class']!), seed: integer('seed', values.seed!),
});
mkdirSync(path.dirname(values.out!), { recursive: true });
writeFileSync(values.out!, text);
console.log(`${values.out}: ${text.trim().split('\n').length - 1} pairs from ${photosByIdentity.size} identities in ${values.images}`);
