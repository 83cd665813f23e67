// Data preparation: one face through landmarks, alignment and the teacher per view, the
// chunked cache written and read back, and a bank relabelled on the student's crops. Uses a face cut from face-api's demo photo (MIT).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundledModel } from '../src/engine/assets.js';
import { Engine } from '../src/engine/engine.js';
import { alignForStudent, dlibFaceChipTransform, STUDENT_WINDOW_SCALE, teacherChipInStudentCrop } from '../src/face/align.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../src/face/student-graph.js';
import { PreparedDataset } from '../src/tools/train/dataset.js';
import { LandmarkNet, TeacherNet } from '../src/face/networks.js';
import { cropImage, decodeImage, type RgbImage } from '../src/image.js';
import { CROP_BYTES, PreparedDataError, chunkExists, readChunks, readRecord, writeChunk } from '../src/tools/data/cache.js';
import { DEGRADATION, FacePreparer, PROFILES, centralBox, degradeImage, mixFaces } from '../src/tools/data/prepare.js';
import { seededRandom } from '../src/math/random.js';
import { faceApiDir } from './faceapi-reference.js';
import { sampleFace, writeFaceSlice } from './face-slice.js';

let engine: Engine;
let preparer: FacePreparer;
let widePreparer: FacePreparer;
let teacher: TeacherNet;
let face: RgbImage;
const dir = mkdtempSync(path.join(tmpdir(), 'mobileid-prepared-'));

beforeAll(async () => {
  engine = await Engine.create();
  preparer = new FacePreparer(
    new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68'))),
    new TeacherNet(engine.loadModel(await loadBundledModel('teacher'))),
  );
  widePreparer = new FacePreparer(
    new LandmarkNet(engine.loadModel(await loadBundledModel('landmarks68'))),
    new TeacherNet(engine.loadModel(await loadBundledModel('teacher'))),
    1.3,
  );
  teacher = new TeacherNet(engine.loadModel(await loadBundledModel('teacher')));
  face = sampleFace();
});
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('FacePreparer', () => {
  it('finds the face and makes views whose teacher outputs agree', () => {
    const profile = { ...PROFILES.utkface, boxFraction: 0.6, views: 4 };
    const prepared = preparer.prepare(face, profile, 7);
    expect(prepared.landmarks).toHaveLength(68);
    const box = centralBox(face, profile);
    for (const [x, y] of prepared.landmarks) {
      expect(x).toBeGreaterThan(box.x - box.width * 0.3);
      expect(x).toBeLessThan(box.x + box.width * 1.3);
      expect(y).toBeGreaterThan(box.y - box.height * 0.3);
      expect(y).toBeLessThan(box.y + box.height * 1.3);
    }
    expect(prepared.views).toHaveLength(4);
    const cosine = (a: Float32Array, b: Float32Array) => {
      let ab = 0, aa = 0, bb = 0;
      a.forEach((v, i) => { ab += v * b[i]; aa += v * v; bb += b[i] * b[i]; });
      return ab / Math.sqrt(aa * bb);
    };
    for (const view of prepared.views) {
      expect(view.crop.length).toBe(CROP_BYTES);
      expect(view.hidden.every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
      // every view shows the same person: the teacher's descriptors stay close
      expect(cosine(view.descriptor, prepared.views[0].descriptor)).toBeGreaterThan(0.9);
    }
    // view 1 is the mirror of view 0: the crop flipped left-right
    const [plain, mirrored] = prepared.views;
    expect(mirrored.crop.subarray(0, 3)).toEqual(plain.crop.subarray(46 * 3, 47 * 3));
    // jittered views differ from the plain one and are reproducible from the seed
    expect(prepared.views[2].crop).not.toEqual(plain.crop);
    expect(preparer.prepare(face, profile, 7).views[2].crop).toEqual(prepared.views[2].crop);
  });

  it('cuts the crops with its window scale; the teacher chip does not depend on it', () => {
    const plain = preparer.prepare(face, PROFILES.lfw, 1);
    const wide = widePreparer.prepare(face, PROFILES.lfw, 1);
    expect(wide.landmarks).toEqual(plain.landmarks);
    expect(wide.views[0].crop).toEqual(alignForStudent(face, wide.landmarks, 1.3).chip.data);
    expect(wide.views[0].crop).not.toEqual(plain.views[0].crop);
    expect(wide.views[0].descriptor).toEqual(plain.views[0].descriptor);
  });
});

describe('mixup views', () => {
  it("mixFaces moves the partner's face onto this one's: a shifted copy of the face lands on it", () => {
    const { landmarks } = preparer.prepare(face, PROFILES.lfw, 1);
    // the partner: the same photo cut 30 px further right and 20 px lower, its landmarks moved with it
    const partner = { image: cropImage(face, 30, 20, 370, 380), landmarks: landmarks.map(([x, y]) => [x - 30, y - 20] as [number, number]) };
    const chip = dlibFaceChipTransform(landmarks);
    const moved = mixFaces(face, chip, partner, 1);
    const half = mixFaces(face, chip, partner, 0.5);
    expect([moved.width, moved.height]).toEqual([face.width, face.height]);
    // inside the partner's frame the moved face is the face itself (up to rounding)
    let worst = 0;
    for (let y = 40; y < 360; y++) {
      for (let x = 40; x < 340; x++) {
        for (let c = 0; c < 3; c++) {
          const at = (y * face.width + x) * 3 + c;
          worst = Math.max(worst, Math.abs(moved.data[at] - face.data[at]), Math.abs(half.data[at] - face.data[at]));
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    // a face elsewhere mixed in at weight 0.3 is 0.7 of this one plus 0.3 of that one moved here
    const other = { image: face, landmarks: landmarks.map(([x, y]) => [x + 9, y] as [number, number]) };
    const otherMoved = mixFaces(face, chip, other, 1);
    const blend = mixFaces(face, chip, other, 0.3);
    expect(otherMoved.data).not.toEqual(face.data);
    expect(blend.data.every((v, i) => Math.abs(v - (0.7 * face.data[i] + 0.3 * otherMoved.data[i])) <= 1)).toBe(true);
  });

  it('mixes only jittered views, only with a partner and mixup > 0; the same seed gives the same views', () => {
    const partnerPhoto = decodeImage(new Uint8Array(readFileSync(path.join(faceApiDir, 'demo', 'sample1.jpg'))));
    const other = preparer.prepare(cropImage(partnerPhoto, 700, 300, 400, 400), PROFILES.lfw, 1);
    const profile = { ...PROFILES.fairface, boxFraction: 0.6, boxOffsetY: 0.03, views: 4 };
    const alone = preparer.prepare(face, profile, 5);
    // mixup 0 (every existing cache) draws nothing more: the views are those without a partner
    expect(preparer.prepare(face, profile, 5, other).views.map((v) => v.crop)).toEqual(alone.views.map((v) => v.crop));
    const mixed = preparer.prepare(face, { ...profile, mixup: 1 }, 5, other);
    expect(mixed.views.slice(0, 2)).toEqual(alone.views.slice(0, 2));
    for (const v of [2, 3]) expect(mixed.views[v].crop).not.toEqual(alone.views[v].crop);
    expect(preparer.prepare(face, { ...profile, mixup: 1 }, 5, other).views[3]).toEqual(mixed.views[3]);
    // the teacher labels the mixed pixels: its descriptor moves away from the plain face's
    const distance = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((x, i) => x - b[i]));
    const drift = (views: typeof mixed.views) => distance(views[2].descriptor, views[0].descriptor) + distance(views[3].descriptor, views[0].descriptor);
    expect(drift(mixed.views)).toBeGreaterThan(drift(alone.views));
  });
});

describe('prepare-data options', () => {
  it.each([
    [['--dataset', 'lfw', '--views', '6'], /for the training sets/],
    [['--dataset', 'celeba', '--views', '2'], /--views must be an integer >= 3/],
    [['--dataset', 'celeba', '--mixup', '1.5'], /--mixup must be a probability/],
    [['--bogus'], /^prepare-data: unknown option --bogus \(the options are listed at the top of scripts\/prepare-data.ts\)$/m],
    [['--views'], /^prepare-data: --views needs a value/m],
  ])('refuses %j before reading any data', (args, message) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-data.ts', '--data', path.join(dir, 'none'), '--out', path.join(dir, 'none-out'), ...args], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});

describe('prepare-data --extend', () => {
  const prepareData = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/prepare-data.ts', '--dataset', 'utkface', '--data', path.join(dir, 'extend'), '--workers', '1', '--chunk-size', '2', '--mixup', '0.5', ...args], { encoding: 'utf8' });

  it('adds views to a bank: the bank --views K makes from scratch', () => {
    // five faces (the face, its mirror, shifted cuts) and a file that is no image (a counted failure)
    const images = writeFaceSlice(path.join(dir, 'extend'));
    writeFileSync(path.join(images, 'face2b.png'), 'not an image');
    const small = path.join(dir, 'bank3');
    const large = path.join(dir, 'bank5');
    const extended = path.join(dir, 'bank3to5');
    for (const [out, more] of [[small, ['--views', '3']], [large, ['--views', '5']], [extended, ['--views', '5', '--extend', small]]] as const) {
      const run = prepareData('--out', out, ...more);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/5 prepared, 1 failed/);
    }
    expect(readChunks(path.join(extended, 'utkface')).every((c) => c.views === 5)).toBe(true);
    // the same keys, failures and crops; the teacher's outputs to float rounding (it ran in batches of another size)
    const [got, want] = [extended, large].map((root) => readChunks(path.join(root, 'utkface')));
    expect(got.map((c) => [c.keys, c.failures, c.views, c.mixup])).toEqual(want.map((c) => [c.keys, c.failures, c.views, c.mixup]));
    let worst = 0;
    got.forEach((chunk, c) => chunk.keys.forEach((_, i) => {
      for (let v = 0; v < 5; v++) {
        const [a, b] = [readRecord(chunk, i, v), readRecord(want[c], i, v)];
        expect(a.crop).toEqual(b.crop);
        for (const layer of ['hidden', 'descriptor'] as const) a[layer].forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[layer][j]))));
      }
    }));
    expect(worst).toBeLessThan(1e-5);
  }, 120_000);

  it.each([
    [['--views', '3'], /already has 3 views/],
    [['--views', '5', '--mixup', '0'], /has mixup 0.5, not 0/],
    [['--views', '5', '--chunk-size', '3'], /holds other images/],
    [['--views', '5', '--window-scale', '1.3'], /window scale/],
  ])('refuses a bank it cannot extend: %j', (args, message) => {
    const run = prepareData('--out', path.join(dir, 'refused'), '--extend', path.join(dir, 'bank3'), ...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('refuses a missing bank, and --extend without --views', () => {
    expect(prepareData('--out', path.join(dir, 'refused'), '--views', '5', '--extend', path.join(dir, 'nowhere')).stderr).toMatch(/has no chunk 0/);
    expect(prepareData('--out', path.join(dir, 'refused'), '--extend', path.join(dir, 'bank3')).stderr).toMatch(/--extend DIR needs --views/);
  });
});

describe('relabel-bank', () => {
  const relabel = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/relabel-bank.ts', ...args], { encoding: 'utf8' });
  const bank = () => path.join(dir, 'bank3');
  const out = () => path.join(dir, 'relabelled');

  it("keeps the bank's crops and labels every view by the teacher on the crop; resumes and redoes a damaged chunk", () => {
    // bank3: the 3-view bank of five faces and one failure that 'prepare-data --extend' made above
    const first = relabel('--bank', bank(), '--dataset', 'utkface', '--out', out(), '--workers', '1');
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/5 images relabelled \(1 failed in the bank, not relabelled\)/);
    const [got, source] = [out(), bank()].map((root) => readChunks(path.join(root, 'utkface')));
    expect(got.map((c) => [c.keys, c.failures, c.views, c.mixup, c.windowScale])).toEqual(source.map((c) => [c.keys, c.failures, c.views, c.mixup, c.windowScale]));
    expect(got.every((c) => c.labels === 'crop') && source.every((c) => c.labels === 'chip')).toBe(true);
    const chipToImage = teacherChipInStudentCrop(STUDENT_WINDOW_SCALE);
    let changed = 0;
    got.forEach((chunk, c) => chunk.keys.forEach((_, i) => {
      for (let v = 0; v < chunk.views; v++) {
        const [a, b] = [readRecord(chunk, i, v), readRecord(source[c], i, v)];
        expect(a.crop).toEqual(b.crop);
        const image = { width: STUDENT_CROP_WIDTH, height: STUDENT_CROP_HEIGHT, data: a.crop.slice() };
        const want = teacher.embedChips([{ image, chipToImage }]).descriptor;
        a.descriptor.forEach((x, j) => expect(Math.abs(x - want[j])).toBeLessThan(1e-5));
        if (Math.hypot(...a.descriptor.map((x, j) => x - b.descriptor[j])) > 0.01) changed++;
      }
    }));
    expect(changed).toBe(15);
    // a training set of both kinds of target is refused
    expect(() => PreparedDataset.open([path.join(bank(), 'utkface'), path.join(out(), 'utkface')])).toThrow(/labelled by the teacher on the crop/);

    const bin = path.join(out(), 'utkface', 'chunk-00001.bin');
    writeFileSync(bin, readFileSync(bin).subarray(0, 100));
    const again = relabel('--bank', bank(), '--dataset', 'utkface', '--out', out(), '--workers', '1');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/relabelling chunk 1 again/);
    expect(again.stderr).toMatch(/3 chunks of 3 views, 2 already relabelled/);
    expect(readChunks(path.join(out(), 'utkface')).map((c) => c.keys)).toEqual(source.map((c) => c.keys));
  }, 120_000);

  it.each([
    [[], /needs --bank DIR, --dataset NAME/],
    [['--bank', 'B', '--dataset', 'utkface', '--out', 'B'], /--out must differ from --bank/],
    [['--bank', 'nowhere', '--dataset', 'utkface', '--out', 'O'], /no such bank folder/],
    [['--bank', 'B', '--dataset', 'utkface', '--out', 'O', '--workers', '0'], /--workers must be a positive integer/],
    [['--bogus'], /^relabel-bank: unknown option --bogus/m],
  ])('refuses %j', (args, message) => {
    const run = relabel(...args.map((a) => (a === 'B' ? bank() : a === 'O' ? path.join(dir, 'refused') : a)));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('refuses a bank that is already labelled on the crops', () => {
    const run = relabel('--bank', out(), '--dataset', 'utkface', '--out', path.join(dir, 'twice'));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/already labelled on the crops/);
  });
});

describe('degradeImage (the degraded view)', () => {
  const flatFace = (): RgbImage => {
    const data = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251; // texture, so rescaling shows
    return { width: 64, height: 64, data };
  };

  it('keeps the size, leaves the source alone and is reproducible from the seed', () => {
    const image = flatFace();
    const before = image.data.slice();
    const a = degradeImage(image, seededRandom(3), [32, 32], 16);
    const b = degradeImage(image, seededRandom(3), [32, 32], 16);
    expect([a.width, a.height, a.data.length]).toEqual([64, 64, image.data.length]);
    expect(image.data).toEqual(before);
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(image.data);
  });

  it('rescales and erases about as often as DEGRADATION says', () => {
    let erased = 0;
    let rescaled = 0;
    const runs = 400;
    for (let seed = 1; seed <= runs; seed++) {
      const out = degradeImage(flatFace(), seededRandom(seed), [32, 32], 16);
      // an erased rectangle is one grey (the texture's channels differ): look for 4 equal grey pixels in a row
      let run = 0;
      for (let p = 1; p < 64 * 64 && run < 4; p++) {
        const at = p * 3;
        const same = p % 64 !== 0 && out.data[at] === out.data[at + 1] && out.data[at] === out.data[at + 2] && out.data[at] === out.data[at - 3];
        run = same ? run + 1 : 0;
      }
      if (run >= 4) erased++;
      // down-then-up scaling smooths the texture: neighbouring pixels get much closer
      let jumps = 0;
      for (let i = 3; i < 64 * 3 * 20; i += 3) jumps += Math.abs(out.data[i] - out.data[i - 3]);
      if (jumps / (64 * 20) < 20) rescaled++;
    }
    expect(erased / runs).toBeGreaterThan(DEGRADATION.erase.probability * 0.5);
    expect(erased / runs).toBeLessThan(DEGRADATION.erase.probability * 1.6);
    expect(rescaled / runs).toBeGreaterThan(DEGRADATION.rescale.probability * 0.6);
    expect(rescaled / runs).toBeLessThan(DEGRADATION.rescale.probability * 1.4);
  });
});

describe('prepared cache', () => {
  it('writes chunks atomically and reads records back bit-exactly', () => {
    const prepared = preparer.prepare(face, PROFILES.lfw, 1);
    expect(chunkExists(dir, 0)).toBe(false);
    writeChunk(dir, 0, { keys: ['a/a_0001'], views: 2, failures: [{ key: 'b/b_0001', reason: 'ImageDecodeError: corrupt' }], records: [prepared.views] });
    expect(chunkExists(dir, 0)).toBe(true);
    const [chunk] = readChunks(dir);
    expect(chunk.keys).toEqual(['a/a_0001']);
    expect(chunk.failures).toHaveLength(1);
    const back = readRecord(chunk, 0, 1);
    expect(back.crop).toEqual(prepared.views[1].crop);
    expect(back.hidden).toEqual(prepared.views[1].hidden);
    expect(back.descriptor).toEqual(prepared.views[1].descriptor);
    expect(chunk.windowScale).toBe(STUDENT_WINDOW_SCALE);
  });

  it('records the window scale; unrecorded means 1; a cache mixing windows is refused', () => {
    const mixed = path.join(dir, 'mixed');
    const records = [preparer.prepare(face, PROFILES.lfw, 1).views];
    writeChunk(mixed, 0, { keys: ['a/a_0001'], views: 2, failures: [], records, windowScale: 1.3 });
    expect(readChunks(mixed)[0].windowScale).toBe(1.3);
    writeChunk(mixed, 1, { keys: ['a/a_0002'], views: 2, failures: [], records });
    // a chunk written before the field existed
    const json = path.join(mixed, 'chunk-00001.json');
    const { windowScale, ...legacy } = JSON.parse(readFileSync(json, 'utf8'));
    expect(windowScale).toBe(STUDENT_WINDOW_SCALE);
    writeFileSync(json, JSON.stringify(legacy));
    expect(() => readChunks(mixed)).toThrow(PreparedDataError);
    expect(() => readChunks(mixed)).toThrow(/window/);
    rmSync(path.join(mixed, 'chunk-00000.json'));
    expect(readChunks(mixed).map((c) => c.windowScale)).toEqual([1]);
    writeFileSync(json, JSON.stringify({ ...legacy, windowScale: -2 }));
    expect(() => readChunks(mixed)).toThrow(/windowScale/);
  });

  it("records what the teacher was shown; unrecorded means its chip; anything else is refused", () => {
    const where = path.join(dir, 'labels');
    const records = [preparer.prepare(face, PROFILES.lfw, 1).views];
    writeChunk(where, 0, { keys: ['a/a_0001'], views: 2, failures: [], records, labels: 'crop' });
    expect(readChunks(where)[0].labels).toBe('crop');
    const json = path.join(where, 'chunk-00000.json');
    const { labels, ...legacy } = JSON.parse(readFileSync(json, 'utf8'));
    expect(labels).toBe('crop');
    writeFileSync(json, JSON.stringify(legacy));
    expect(readChunks(where)[0].labels).toBe('chip');
    writeFileSync(json, JSON.stringify({ ...legacy, labels: 'photo' }));
    expect(() => readChunks(where)).toThrow(/labels must be chip or crop/);
  });

  it('records the mixup probability; unrecorded means 0; out of 0..1 is refused', () => {
    const where = path.join(dir, 'mixup');
    const records = [preparer.prepare(face, PROFILES.lfw, 1).views];
    writeChunk(where, 0, { keys: ['a/a_0001'], views: 2, failures: [], records, mixup: 0.5 });
    expect(readChunks(where)[0].mixup).toBe(0.5);
    const json = path.join(where, 'chunk-00000.json');
    const { mixup, ...legacy } = JSON.parse(readFileSync(json, 'utf8'));
    expect(mixup).toBe(0.5);
    writeFileSync(json, JSON.stringify(legacy));
    expect(readChunks(where)[0].mixup).toBe(0);
    writeFileSync(json, JSON.stringify({ ...legacy, mixup: 2 }));
    expect(() => readChunks(where)).toThrow(/mixup/);
  });
});
