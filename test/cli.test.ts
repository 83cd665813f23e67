// The CLI as a user runs it (node bin/mobileid.js ...): exit codes, one-line errors, help and
// version, the JSON last line, and the files it writes (and does not write).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCommand } from '../src/cli/demo.js';
import { detectCommand } from '../src/cli/detect.js';
import { embedCommand } from '../src/cli/embed.js';
import { identifyCommand } from '../src/cli/identify.js';
import { galleryCommand } from '../src/cli/gallery.js';
import { verifyCommand } from '../src/cli/verify.js';
import { decodeImage, sniffImageFormat } from '../src/image.js';
import { calibrateCommand, evalPairsCommand } from '../src/cli/eval-pairs.js';
import { evalLfwCommand } from '../src/tools/eval-lfw.js';
import { cli, expectOneLineError, repo } from './cli-run.js';
import { faceApiDir } from './faceapi-reference.js';

const samples = path.join(repo, 'demo/samples');
const sample = (name: string) => path.join(samples, name);
const COMMANDS = [demoCommand, detectCommand, verifyCommand, embedCommand, identifyCommand, galleryCommand, evalLfwCommand, evalPairsCommand, calibrateCommand];

const out = mkdtempSync(path.join(tmpdir(), 'mobileid-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** A fresh empty folder to run in, so that every file a command writes can be seen. */
function folder(name: string): string {
  const dir = path.join(out, name);
  mkdirSync(dir);
  return dir;
}

describe('discovering the CLI', () => {
  it('--version prints the package version', () => {
    const run = cli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')).version);
  });

  it('--help lists every command with its summary', () => {
    const run = cli(['--help']);
    expect(run.code).toBe(0);
    for (const { spec } of COMMANDS) expect(run.stdout).toContain(`  ${spec.name}`);
    expect(run.stdout).toMatch(/--version/);
  });

  it('<command> --help lists every option with its default, and examples', () => {
    for (const { spec } of COMMANDS) {
      const run = cli([spec.name, '--help']);
      expect(run.code, spec.name).toBe(0);
      expect(run.stdout).toContain(`usage: mobileid ${spec.name}`);
      const help = run.stdout.replace(/\n +/g, ' '); // join wrapped lines
      for (const name of [...Object.keys(spec.options), 'debug', 'help']) {
        expect(help, `${spec.name} --${name}`).toMatch(new RegExp(`--${name}\\b[^\\n]*\\(default: [^)]+\\)`));
      }
      expect(run.stdout).toMatch(new RegExp(`examples:\\n  mobileid ${spec.name}`));
    }
  });
});

describe('command-line mistakes: one line naming the option, exit code 2', () => {
  it('unknown commands and options', () => {
    expectOneLineError(cli(['frobnicate']), 2, /unknown command "frobnicate"/);
    expectOneLineError(cli(['detect', sample('a.jpg'), '--bogus']), 2, /unknown option --bogus/);
    expectOneLineError(cli(['gallery', samples, '--out']), 2, /--out needs a value/);
    expectOneLineError(cli(['detect']), 2, /expects <image>, got none/);
    expectOneLineError(cli(['verify', sample('a.jpg')]), 2, /expects <a> <b>/);
  });

  it('bad values', () => {
    expectOneLineError(cli(['eval-lfw', '--verifier', 'magic']), 2, /--verifier must be jb, cosine or euclidean, got "magic"/);
    expectOneLineError(cli(['eval-lfw', '--folds', '1']), 2, /--folds must be >= 2, got 1/);
    expectOneLineError(cli(['eval-lfw', '--model', 'mobileid,teacher']), 2, /an ensemble is a list of student model files; mobileid is not one/);
    expectOneLineError(cli(['eval-lfw', '--model', 'models/mobileid-student.mobileid,nowhere.mobileid']), 2, /--model: cannot read nowhere\.mobileid: no such file/);
    expectOneLineError(cli(['eval-lfw', '--pairs', path.join(out, 'no-pairs.tsv')]), 2, /--pairs: cannot read .*no-pairs\.tsv: no such file/);
    const oneFold = path.join(folder('pairs'), 'one-fold.tsv');
    writeFileSync(oneFold, 'a/1.jpg\ta/2.jpg\t1\na/1.jpg\tb/1.jpg\t0\n');
    expectOneLineError(cli(['eval-lfw', '--pairs', oneFold]), 2, /needs a tab-separated list with a '<folds> TAB <pairs per fold>' header of at least 2 folds/);
    expectOneLineError(cli(['detect', sample('a.jpg'), '--input-size', 'big']), 2, /--input-size must be a number, got "big"/);
    expectOneLineError(cli(['detect', sample('a.jpg'), '--input-size', '100']), 2, /--input-size must be a multiple of 32/);
    expectOneLineError(cli(['detect', sample('a.jpg'), '--score-threshold', '1.5']), 2, /--score-threshold must be <= /);
    expectOneLineError(cli(['gallery', samples, '--workers', '0']), 2, /--workers must be >= 1, got 0/);
    expectOneLineError(cli(['gallery', samples, '--thumb', '2.5']), 2, /--thumb must be a whole number/);
    expectOneLineError(cli(['gallery', samples, '--size', '50']), 2, /--size must be >= --thumb \(100\), got 50/);
    expectOneLineError(cli(['gallery', samples, '--model', path.join(out, 'missing.mobileid')]), 2, /--model: cannot read .*missing\.mobileid: no such file/);
  });

  it('a folder or a missing file where a photo is expected', () => {
    expectOneLineError(cli(['detect', samples]), 2, /cannot read .*samples: is a directory, not a file/);
    expectOneLineError(cli(['detect', path.join(out, 'missing.jpg')]), 2, /cannot read .*missing\.jpg: no such file/);
    expectOneLineError(cli(['gallery', path.join(out, 'nowhere')]), 2, /cannot read .*nowhere: no such file/);
  });

  it('--out with an extension it cannot write is refused before any work, and nothing is written', () => {
    const dir = folder('bad-out');
    expectOneLineError(cli(['detect', sample('a.jpg'), '--out', 'a.gif'], dir), 2, /--out must name a \.png, \.jpg or \.jpeg file, got "a\.gif"/);
    expectOneLineError(cli(['gallery', samples, '--out', 'g.webp'], dir), 2, /--out must name a \.png, \.jpg or \.jpeg file/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('failures of the work: the typed error in one line, exit code 1', () => {
  it('a file that is not an image names the file and the error class; --debug adds the stack', () => {
    const notes = path.join(out, 'notes.jpg');
    writeFileSync(notes, 'not an image');
    expectOneLineError(cli(['detect', notes]), 1, /^mobileid detect: ImageDecodeError: .*notes\.jpg: not an image/);
    const debug = cli(['detect', notes, '--debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/ImageDecodeError[\s\S]*\n\s+at /);
  });

  it.skipIf(!existsSync('../shared/data/lfw/pairs.txt'))('eval-lfw says how to prepare data when the cache is missing (needs ../shared/data/lfw)', () => {
    const run = cli(['eval-lfw', '--model', 'teacher', '--prepared', path.join(out, 'nothing-here')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/prepare-data/);
  });
});

describe('commands at work', () => {
  it('detect --out x.jpg writes a JPEG, --out x.png a PNG, and --json prints the faces last', () => {
    const dir = folder('detect');
    for (const [file, format] of [['a.jpg', 'jpeg'], ['a.png', 'png']] as const) {
      const run = cli(['detect', sample('group1.jpg'), '--out', file, '--json'], dir);
      expect(run.code, run.stderr).toBe(0);
      const { faces, regions } = JSON.parse(run.last);
      expect(faces).toHaveLength(3);
      for (const face of faces) {
        expect(face.landmarks68).toHaveLength(68);
        expect(Object.keys(face.landmarks)).toEqual(['leftEye', 'rightEye', 'nose', 'mouthLeft', 'mouthRight']);
        expect(face.landmarks.leftEye).toEqual(face.landmarks5[0]);
        expect(face.landmarks.nose).toEqual(face.landmarks68[30]);
      }
      expect(regions.jaw).toEqual([0, 16]);
      const bytes = new Uint8Array(readFileSync(path.join(dir, file)));
      expect(sniffImageFormat(bytes)).toBe(format);
      expect(decodeImage(bytes).width).toBe(800);
    }
  });

  it('demo without arguments runs on the sample photos and writes its pictures', () => {
    const dir = folder('demo');
    const run = cli([], dir);
    expect(run.code, run.stderr).toBe(0);
    const photos = readdirSync(samples).filter((f) => f.endsWith('.jpg'));
    expect(run.stdout).toContain(`photos: ${photos.length} from`);
    const written = readdirSync(path.join(dir, 'out/demo')).sort();
    expect(written).toEqual([...photos.map((f) => f.replace('.jpg', '-faces.png')), 'aligned-crops.png', 'gallery.png'].sort());
    // the two crops of one face (a.jpg and its mirrored variant) are called the same person
    const rows = new Map(run.stdout.split('\n').map((l) => /^(\d+) (\S+#\d+) +(.*)$/.exec(l)).filter((m) => m !== null).map((m) => [m[2], { number: Number(m[1]), cells: m[3].trim().split(/\s+/) }]));
    expect(rows.size).toBeGreaterThanOrEqual(photos.length);
    expect(rows.get('a-variant#1')!.cells[rows.get('a#1')!.number - 1]).toMatch(/^-?[\d.]+\*$/);
  });

  it('gallery works from 3 photos, says it lowers the perplexity, sizes the canvas to the faces and writes only the picture', () => {
    const dir = folder('gallery-3');
    const run = cli(['gallery', sample('a.jpg'), sample('b.jpg'), sample('group1.jpg'), '--out', 'g.png', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/perplexity lowered from 30 to 1: 3 faces/);
    const summary = JSON.parse(run.last);
    expect(summary).toMatchObject({ images: 3, size: 400, out: 'g.png' }); // 4 x 4 cells of 100 px
    expect(Object.keys(summary.seconds)).toEqual(['embed', 'tsne', 'render']);
    expect(readdirSync(dir)).toEqual(['g.png']);
    const image = decodeImage(new Uint8Array(readFileSync(path.join(dir, 'g.png'))));
    expect([image.width, image.height]).toEqual([400, 400]);
  });

  it('gallery reports every stage once without a terminal, and --coords writes the positions', () => {
    const dir = folder('gallery-teacher');
    for (let i = 1; i <= 6; i++) copyFileSync(path.join(faceApiDir, 'demo', `sample${i}.jpg`), path.join(dir, `sample${i}.jpg`));
    const run = cli(['gallery', dir, '--out', path.join(dir, 'g.jpg'), '--thumb', '40', '--model', 'teacher', '--workers', '2', '--free-cell-radius', '2', '--coords', path.join(dir, 'xy.json'), '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.last);
    expect(summary.images).toBe(6);
    expect(summary.size).toBe(200); // ceil(2 sqrt(6)) = 5 cells of 40 px
    expect(summary).toMatchObject({ placed: 6, skipped: 0 }); // a taken cell sends a face to a free one nearby
    expect(sniffImageFormat(new Uint8Array(readFileSync(path.join(dir, 'g.jpg'))))).toBe('jpeg');
    const coords = JSON.parse(readFileSync(path.join(dir, 'xy.json'), 'utf8')).coordinates;
    expect(coords).toHaveLength(6);
    expect(coords.every((c: { x: number; y: number }) => Number.isFinite(c.x) && Number.isFinite(c.y))).toBe(true);
    const lines = run.stderr.trim().split('\n');
    for (const stage of ['decode/detect/embed', 'PCA', 'k-NN', 'affinities', 'optimisation', 'render']) {
      expect(lines.filter((l) => l.startsWith(`${stage} [${'#'.repeat(24)}]`)), stage).toHaveLength(1);
    }
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('embed: one row per face with file, box and score, the same in json, csv and npy', () => {
    const dir = folder('embed');
    const json = cli(['embed', sample('a.jpg'), sample('group1.jpg'), '--workers', '2'], dir);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.last);
    expect(result.model).toMatchObject({ name: 'mobileid-student', dimension: 128 });
    expect(result.mirror).toBe(true); // the shipped student's rule
    expect(result.faces.map((f: { file: string; face: number }) => `${path.basename(f.file)}#${f.face}`)).toEqual(['a.jpg#1', 'group1.jpg#1', 'group1.jpg#2', 'group1.jpg#3']);
    for (const face of result.faces) {
      expect(face.embedding).toHaveLength(128);
      expect(face.box).toHaveLength(4);
      expect(face.score).toBeGreaterThan(0.5);
    }

    const csvRun = cli(['embed', sample('a.jpg'), sample('group1.jpg'), '--format', 'csv', '--out', 'faces.csv'], dir);
    expect(csvRun.code, csvRun.stderr).toBe(0);
    const lines = readFileSync(path.join(dir, 'faces.csv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0].split(',').slice(0, 8)).toEqual(['file', 'face', 'x', 'y', 'width', 'height', 'score', 'e0']);
    const row = lines[2].split(',');
    expect(row.slice(2, 6).map(Number)).toEqual(result.faces[1].box);
    row.slice(7).forEach((v, i) => expect(Number(v)).toBeCloseTo(result.faces[1].embedding[i], 6));

    const npyRun = cli(['embed', sample('a.jpg'), sample('group1.jpg'), '--format', 'npy', '--out', 'faces.npy'], dir);
    expect(npyRun.code, npyRun.stderr).toBe(0);
    expect(JSON.parse(npyRun.last).faces).toHaveLength(4);
    const npy = readFileSync(path.join(dir, 'faces.npy'));
    const headerLength = npy.readUInt16LE(8);
    expect(npy.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    expect((10 + headerLength) % 64).toBe(0);
    expect(npy.subarray(10, 10 + headerLength).toString()).toMatch(/'descr': '<f4', 'fortran_order': False, 'shape': \(4, 128\)/);
    expect(npy.readFloatLE(10 + headerLength + (3 * 128 + 5) * 4)).toBeCloseTo(result.faces[3].embedding[5], 6);
    expect(readdirSync(dir).sort()).toEqual(['faces.csv', 'faces.npy']);

    expectOneLineError(cli(['embed', sample('a.jpg'), '--format', 'npy'], dir), 2, /--format npy .* --out/);
  });

  it('identify: enrolls Name/photo folders, names the known face, calls a stranger unknown, and reuses a saved gallery', () => {
    const dir = folder('identify');
    for (const [person, photo] of [['Ada', 'a.jpg'], ['Bea', 'b.jpg']]) {
      mkdirSync(path.join(dir, 'people', person), { recursive: true });
      copyFileSync(sample(photo), path.join(dir, 'people', person, photo));
    }
    const run = cli(['identify', '--gallery', 'people', sample('a-variant.jpg'), '--save', 'people.json', '--top', '2', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.last);
    expect(result.gallery).toMatchObject({ people: 2, faces: 2 });
    const [face] = result.photos[0].faces;
    expect(face).toMatchObject({ label: 'Ada', known: true });
    expect(face.candidates.map((c: { label: string }) => c.label)).toEqual(['Ada', 'Bea']);

    // from the saved gallery: the same score; above a stricter threshold than that score, nobody known
    const strict = cli(['identify', '--gallery', 'people.json', sample('a-variant.jpg'), '--threshold=-0.05', '--json'], dir);
    expect(strict.code, strict.stderr).toBe(0);
    expect(JSON.parse(strict.last).photos[0].faces[0]).toMatchObject({ label: 'unknown', known: false, match: face.match });
    expectOneLineError(cli(['identify', sample('a.jpg')], dir), 2, /--gallery .* is required/);
  });
});
