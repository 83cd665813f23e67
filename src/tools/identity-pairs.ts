/**
 * A pair list in eval-pairs' tab-separated format from photos grouped by identity (e.g. the
 * CelebA identity set, `<identity>/<file>.jpg`): identities are dealt to folds (so the folds are
 * identity-disjoint, as LFW's are person-disjoint), and each fold gets `perClass` same-identity
 * pairs then `perClass` different-identity pairs, drawn with a seeded generator from its own
 * identities only.
 */
import { MobileIdError } from '../errors.js';
import { seededRandom } from '../math/random.js';

/** Too few identities or photos for the folds and pairs asked for. */
export class IdentityPairsError extends MobileIdError {}

export interface IdentityPairsOptions {
  folds: number;
  /** Same-identity pairs per fold, and as many different-identity pairs. */
  perClass: number;
  seed: number;
}

/** The pair file's text: header `<folds>\t<2 * perClass>`, then the pairs fold by fold. */
export function identityPairList(photosByIdentity: ReadonlyMap<string, readonly string[]>, options: IdentityPairsOptions): string {
  const { folds, perClass, seed } = options;
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const identities = [...photosByIdentity.keys()].sort();
  // a seeded shuffle, then dealt round-robin
  for (let i = identities.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [identities[i], identities[j]] = [identities[j], identities[i]];
  }
  const lines = [`${folds}\t${2 * perClass}`];
  for (let fold = 0; fold < folds; fold++) {
    const mine = identities.filter((_, i) => i % folds === fold);
    const withTwo = mine.filter((id) => photosByIdentity.get(id)!.length >= 2);
    if (mine.length < 2 || withTwo.length === 0) {
      throw new IdentityPairsError(`fold ${fold + 1} has ${mine.length} identities (${withTwo.length} with 2+ photos); need 2+ identities and one with 2+ photos per fold`);
    }
    const seen = new Set<string>();
    const add = (a: string, b: string, label: 0 | 1): boolean => {
      const key = a < b ? `${a}\t${b}` : `${b}\t${a}`;
      if (seen.has(key)) return false;
      seen.add(key);
      lines.push(`${a}\t${b}\t${label}`);
      return true;
    };
    const draw = (make: () => [string, string, 0 | 1], what: string) => {
      for (let n = 0, tries = 0; n < perClass; tries++) {
        if (tries > 100 * perClass) throw new IdentityPairsError(`fold ${fold + 1}: cannot draw ${perClass} distinct ${what} pairs from its ${mine.length} identities`);
        if (add(...make())) n++;
      }
    };
    draw(() => {
      const photos = photosByIdentity.get(pick(withTwo))!;
      const a = pick(photos);
      let b = pick(photos);
      while (b === a) b = pick(photos);
      return [a, b, 1];
    }, 'same-identity');
    draw(() => {
      const x = pick(mine);
      let y = pick(mine);
      while (y === x) y = pick(mine);
      return [pick(photosByIdentity.get(x)!), pick(photosByIdentity.get(y)!), 0];
    }, 'different-identity');
  }
  return `${lines.join('\n')}\n`;
}
