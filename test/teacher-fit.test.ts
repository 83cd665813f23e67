// npm run teacher-fit: a student's fit to the teacher and its separation of identities, on made-up features.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/math/random.js';
import { discriminantDirections, identityPairs, measureTeacherFit, r2AlongDirections, TeacherFitError, type ViewPair } from '../src/tools/teacher-fit.js';

const DIM = 16;
/** Six identities of five images: an identity centre plus per-image noise of `spread`, mirrored view slightly off. */
function teacherFeatures(spread = 0.2): Map<string, ViewPair> {
  const random = seededRandom(7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const features = new Map<string, ViewPair>();
  for (let id = 0; id < 6; id++) {
    const centre = Float32Array.from({ length: DIM }, gauss);
    for (let i = 0; i < 5; i++) {
      const plain = centre.map((c) => c + spread * gauss());
      features.set(`person${id}/${i}.jpg`, [plain, plain.map((x) => x + 0.01 * gauss())]);
    }
  }
  return features;
}
const mapValues = (m: Map<string, ViewPair>, f: (x: Float32Array, key: string) => Float32Array) =>
  new Map([...m].map(([k, [a, b]]) => [k, [f(a, k), f(b, k)] as ViewPair]));

describe('teacher-fit', () => {
  const teacher = teacherFeatures();

  it('the teacher against itself: R^2 1, no residual, correlation 1', () => {
    const fit = measureTeacherFit(teacher, teacher);
    expect(fit.images).toBe(30);
    expect(fit.r2).toBeCloseTo(1, 10);
    expect(fit.residual).toBe(0);
    expect(fit.same.correlation).toBeCloseTo(1, 10);
    expect(fit.different.correlation).toBeCloseTo(1, 10);
    expect(fit.dPrime).toBeGreaterThan(2);
  });

  it("a student that outputs the teacher's mean has R^2 0", () => {
    const centre = new Float32Array(DIM);
    for (const [a, b] of teacher.values()) for (let j = 0; j < DIM; j++) centre[j] += (a[j] + b[j]) / 60;
    expect(measureTeacherFit(teacher, mapValues(teacher, () => centre.slice())).r2).toBeCloseTo(0, 5);
  });

  it('fit and separation are different questions: a scaled teacher fits badly but separates as well', () => {
    const scaled = measureTeacherFit(teacher, mapValues(teacher, (x) => x.map((v) => 3 * v)));
    expect(scaled.r2).toBeLessThan(0);
    expect(scaled.dPrime).toBeCloseTo(measureTeacherFit(teacher, teacher).dPrime, 6);
    // noise that blurs identities lowers d' and the correlation of distances
    const random = seededRandom(3);
    const noisy = measureTeacherFit(teacher, mapValues(teacher, (x) => x.map((v) => v + 0.8 * (random() - 0.5))));
    expect(noisy.dPrime).toBeLessThan(measureTeacherFit(teacher, teacher).dPrime);
    expect(noisy.same.correlation).toBeLessThan(0.99);
  });

  it('pairs: same-identity pairs within a folder, as many different-identity pairs, deterministic', () => {
    const keys = [...teacher.keys()];
    const { same, different } = identityPairs(keys);
    expect(same.length).toBe(6 * (3 + 3 + 2 + 1));
    expect(different.length).toBe(same.length);
    for (const [a, b] of same) expect(a.split('/')[0]).toBe(b.split('/')[0]);
    for (const [a, b] of different) expect(a.split('/')[0]).not.toBe(b.split('/')[0]);
    expect(identityPairs(keys)).toEqual({ same, different });
  });

  it('refuses what cannot be compared with a TeacherFitError', () => {
    expect(() => identityPairs(['a.jpg', 'b.jpg'])).toThrow(TeacherFitError);
    expect(() => identityPairs(['p/a.jpg', 'p/b.jpg'])).toThrow(/two/);
    expect(() => identityPairs(['p/a.jpg', 'q/b.jpg'])).toThrow(/no identity has two images/);
    expect(() => measureTeacherFit(teacher, new Map())).toThrow(/0 image/);
    expect(() => measureTeacherFit(teacher, mapValues(teacher, (x) => x.slice(0, 8)))).toThrow(/8 values, the teacher's 16/);
  });

  it('discriminant directions: strongest first; a student that drops the quiet identity axis fits the teacher well but not along it', () => {
    // identities differ along axis 0 (large, but so do one person's faces) and axis 1 (small, faces of one person barely vary)
    const random = seededRandom(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const features = new Map<string, ViewPair>();
    for (let id = 0; id < 40; id++) {
      const [a, b] = [3 * gauss(), 0.3 * gauss()];
      for (let i = 0; i < 4; i++) {
        const v = Float32Array.of(a + 3 * gauss(), b + 0.03 * gauss(), gauss(), gauss());
        features.set(`p${id}/${i}`, [v, v.slice()]);
      }
    }
    const { directions, ratios } = discriminantDirections(new Map([...features].map(([k, [v]]) => [k, v])));
    expect(ratios[0]).toBeGreaterThan(ratios[1]);
    expect(Math.abs(directions[0][1]) / Math.hypot(...directions[0])).toBeGreaterThan(0.99);
    const dropped = mapValues(features, (x) => Float32Array.of(x[0], 0, x[2], x[3]));
    expect(measureTeacherFit(features, dropped).r2).toBeGreaterThan(0.9);
    const r2 = r2AlongDirections(features, dropped, directions);
    expect(r2[0]).toBeLessThan(0.05);
    expect(r2AlongDirections(features, features, directions).every((v) => Math.abs(v - 1) < 1e-9)).toBe(true);
    // an offset common to every face changes no distance, and no R^2 along a direction
    const shifted = mapValues(features, (x) => x.map((v) => v + 5));
    expect(r2AlongDirections(features, shifted, directions).every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    expect(() => discriminantDirections(new Map([['a.jpg', Float32Array.of(1, 2)]]))).toThrow(TeacherFitError);
    expect(() => discriminantDirections(new Map([['p/a', Float32Array.of(1, 2)], ['p/b', Float32Array.of(1, 3)]]))).toThrow(/cannot fit 2-d/);
  });

  it('the script stops with one line on a missing option or cache', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/teacher-fit.ts', ...args], { encoding: 'utf8' });
    const noModel = run();
    expect(noModel.status).toBe(2);
    expect(noModel.stderr).toMatch(/--model FILE/);
    const noCache = run('--model', 'mobileid', '--prepared', 'no/such/cache');
    expect(noCache.status).toBe(2);
    expect(noCache.stderr).toMatch(/^teacher-fit: .*no\/such\/cache/);
  });
});
