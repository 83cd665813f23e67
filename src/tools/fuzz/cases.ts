/**
 * Fuzz cases: case `index` of a run with seed `seed` is a fixed function of both (a seed file,
 * then its mutation), so a finding is reproduced from its number alone; and the one rule every
 * case is held to: it ends in a result that passes the target's checks or in a MobileIdError.
 */
import { Engine } from '../../engine/engine.js';
import { MobileIdError } from '../../errors.js';
import { seededRandom } from '../../math/random.js';
import { toRgbImage } from '../../runtime/server.js';
import type { FuzzContext, FuzzTarget } from './targets.js';

/**
 * Seed files are drawn with weight 1 / (1 + size / 4 KiB), so the few large real files (the
 * shipped models, a full photo) are fuzzed too without taking most of the time.
 */
export class CaseSource {
  private readonly seeds: Uint8Array[];
  private readonly cumulative: number[];

  constructor(
    private readonly target: FuzzTarget,
    private readonly seed: number,
  ) {
    this.seeds = target.seeds();
    let sum = 0;
    this.cumulative = this.seeds.map((s) => (sum += 1 / (1 + s.length / 4096)));
  }

  /** The input of case `index`: the seed files themselves first, then mutations. */
  input(index: number): Uint8Array {
    if (index < this.seeds.length) return this.seeds[index];
    const random = seededRandom((Math.imul(this.seed, 0x9e3779b1) ^ Math.imul(index, 0x85ebca6b)) >>> 0);
    const total = this.cumulative.at(-1)!;
    const draw = random() * total;
    const seed = this.seeds[Math.max(0, this.cumulative.findIndex((c) => c > draw))];
    return this.target.mutate(seed, random, this.seeds);
  }
}

export type Outcome = { ok: true } | { ok: false; error: string };

/** Runs one input: ok when it ended in a checked result or a MobileIdError. */
export async function runCase(target: FuzzTarget, input: Uint8Array, context: FuzzContext): Promise<Outcome> {
  try {
    await target.run(input, context);
    return { ok: true };
  } catch (error) {
    if (error instanceof MobileIdError) return { ok: true };
    return { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack?.split('\n').slice(1, 6).join('\n')}` : String(error) };
  }
}

export async function createContext(): Promise<FuzzContext> {
  // toRgbImage starts its decoding thread on first use (through tsx in a checkout: seconds on a
  // loaded machine): start it here, so that no case is charged with the start-up
  await toRgbImage(new Uint8Array(0)).catch(() => undefined);
  return { engine: await Engine.create() };
}
