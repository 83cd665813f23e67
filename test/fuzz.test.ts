// A short slice of `npm run fuzz` (the same seeded cases, in this process), and the inputs the
// fuzzer found that once crashed or misled a parser (test/fuzz-corpus/<target>/): each must now
// be refused with a MobileIdError.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MobileIdError } from '../src/errors.js';
import { CaseSource, createContext, runCase } from '../src/tools/fuzz/cases.js';
import { mutateBytes, mutateJson } from '../src/tools/fuzz/mutate.js';
import { TARGETS, type FuzzContext } from '../src/tools/fuzz/targets.js';
import { seededRandom } from '../src/math/random.js';

const CORPUS = fileURLToPath(new URL('./fuzz-corpus/', import.meta.url));
const CASES_PER_TARGET = 300;

let context: FuzzContext;
beforeAll(async () => {
  context = await createContext();
});

describe('fuzz slice', () => {
  for (const target of TARGETS) {
    it(`${target.name}: ${CASES_PER_TARGET} seeded cases end in a result or a MobileIdError`, async () => {
      const source = new CaseSource(target, 7);
      const failures: string[] = [];
      for (let index = 0; index < CASES_PER_TARGET; index++) {
        const outcome = await runCase(target, source.input(index), context);
        if (!outcome.ok) failures.push(`case ${index}: ${outcome.error}`);
      }
      expect(failures).toEqual([]);
    }, 120_000);
  }
});

describe('fuzz corpus (regressions)', () => {
  const files = readdirSync(CORPUS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) => readdirSync(path.join(CORPUS, dir.name)).map((file) => ({ target: dir.name, file })));
  it('names only known targets', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const { target } of files) expect(TARGETS.map((t) => t.name)).toContain(target);
  });
  for (const { target, file } of files) {
    it(`${target}/${file} is refused with a MobileIdError`, async () => {
      const input = new Uint8Array(readFileSync(path.join(CORPUS, target, file)));
      const run = async () => TARGETS.find((t) => t.name === target)!.run(input, context);
      await expect(run()).rejects.toBeInstanceOf(MobileIdError);
    });
  }
});

describe('mutations', () => {
  it('are reproducible from the seed and change the input', () => {
    const input = Uint8Array.from({ length: 64 }, (_, i) => i);
    const a = mutateBytes(input, seededRandom(3));
    expect(mutateBytes(input, seededRandom(3))).toEqual(a);
    const changed = Array.from({ length: 50 }, (_, s) => mutateBytes(input, seededRandom(s))).filter((m) => m.length !== 64 || m.some((v, i) => v !== i));
    expect(changed.length).toBeGreaterThan(40);
    expect(Array.from(input)).toEqual(Array.from({ length: 64 }, (_, i) => i)); // the input is left alone
  });
  it('change one node of a JSON document and leave the original alone', () => {
    const doc = { a: [1, 2, { b: 'x' }], c: 3 };
    const copies = Array.from({ length: 30 }, (_, s) => mutateJson(doc, seededRandom(s)));
    expect(copies.filter((m) => JSON.stringify(m) !== JSON.stringify(doc)).length).toBeGreaterThan(20);
    expect(doc).toEqual({ a: [1, 2, { b: 'x' }], c: 3 });
  });
});
