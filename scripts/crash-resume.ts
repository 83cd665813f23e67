/**
 * npm run crash-resume -- [--kills 3] [--seed 1] [--epochs 2] [--keep DIR] [--json]
 *
 * Fault injection into the two long jobs. On a tiny data slice made from the bundled sample
 * photos (24 images: each photo, its mirror and a central crop of both), in a temporary folder:
 *
 *   1. prepare-data runs once uninterrupted (the reference cache), then again from scratch while
 *      being killed with SIGKILL at --kills random moments (seeded), each time restarted, until
 *      it completes: every chunk file must equal the reference byte for byte. Then a byte of one
 *      chunk's binary is flipped: the next run must report the checksum mismatch and prepare that
 *      chunk again, back to the reference bytes.
 *   2. distill runs on that cache the same way (reference vs killed and resumed with --resume):
 *      the model files must be identical. Then the newest checkpoint is damaged: the resumed run
 *      must report it, go back to the previous checkpoint, redo the last epoch and write the same
 *      model again.
 *
 * Prints a line per step on stderr; with --json the last stdout line is
 * {"prepare":{"kills","identical","corruptionRedone"},"distill":{...},"seconds"}. Exits 1 when
 * anything differs. test/crash-resume.test.ts runs it with the defaults in CI.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cropImage, decodeImage, encodePng, mirrorImage } from '../src/image.js';
import { seededRandom } from '../src/math/random.js';
import { parseToolArgs } from '../src/cli/args.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SAMPLES = path.join(REPO, 'demo/samples');
const TSX = path.join(REPO, 'node_modules/.bin/tsx');

export interface JobReport {
  /** Moments (ms after the run's work began) at which a run was killed. */
  kills: number[];
  /** Runs needed to complete (kills + 1). */
  runs: number;
  /** The killed-and-resumed output equals the uninterrupted one, byte for byte. */
  identical: boolean;
  /** A damaged file was reported, not used, and redone to the reference bytes. */
  corruptionRedone: boolean;
  /** Seconds of work of the uninterrupted run (start-up left out). */
  referenceSeconds: number;
}

export interface CrashResumeReport {
  prepare: JobReport;
  distill: JobReport;
  seconds: number;
}

export interface CrashResumeOptions {
  kills: number;
  seed: number;
  epochs: number;
  /** Work folder (kept); default a temporary folder, removed afterwards. */
  dir?: string;
  log?: (line: string) => void;
}

interface Ran {
  killed: boolean;
  code: number | null;
  output: string;
  ms: number;
  /** ms from the job's first line of output (its work has begun: the start-up is over) to its end. */
  workMs: number;
}

/**
 * Runs `args` through tsx from the repository; SIGKILLs it `killAfterMs` after its first line
 * of output when given (timing from there leaves out the start-up, which varies with the load).
 */
function runTsx(args: string[], killAfterMs?: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let working: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const child = spawn(TSX, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    const collect = (d: Buffer) => {
      output += d;
      if (working !== undefined) return;
      working = performance.now();
      if (killAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const end = performance.now();
      resolve({ killed: signal === 'SIGKILL', code, output, ms: end - started, workMs: end - (working ?? end) });
    });
  });
}

async function mustSucceed(args: string[]): Promise<Ran> {
  const ran = await runTsx(args);
  if (ran.code !== 0) throw new Error(`tsx ${args.join(' ')} exited with ${ran.code}: ${ran.output.slice(-2000)}`);
  return ran;
}

/** The data slice: per sample photo, the photo, its mirror and a central crop of both, as PNG. */
function writeSlice(imagesDir: string): number {
  mkdirSync(imagesDir, { recursive: true });
  let count = 0;
  for (const file of readdirSync(SAMPLES).filter((f) => f.endsWith('.jpg')).sort()) {
    const photo = decodeImage(new Uint8Array(readFileSync(path.join(SAMPLES, file))));
    const side = Math.floor(Math.min(photo.width, photo.height) * 0.8);
    const crop = cropImage(photo, Math.floor((photo.width - side) / 2), Math.floor((photo.height - side) / 2), side, side);
    const variants = { full: photo, mirror: mirrorImage(photo), crop, 'crop-mirror': mirrorImage(crop) };
    for (const [name, image] of Object.entries(variants)) {
      writeFileSync(path.join(imagesDir, `${file.slice(0, -4)}-${name}.png`), encodePng(image));
      count++;
    }
  }
  return count;
}

/** Every file of `dir` (relative name -> bytes), leaving out temporary files of unfinished writes. */
function snapshot(dir: string, ignore: RegExp = /\.tmp/): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const name = path.relative(dir, full);
    if (!ignore.test(name)) files.set(name, readFileSync(full));
  }
  return files;
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  return a.size === b.size && [...a].every(([name, bytes]) => b.get(name)?.equals(bytes) ?? false);
}

/**
 * Runs the job (`args`) from scratch and SIGKILLs it `kills` times, restarting it (with
 * `resumeArgs` added) until it completes. Each kill falls at a seeded moment within the work
 * still to do, judged by the uninterrupted run's `referenceMs` of work.
 */
async function killAndResume(
  args: string[], resumeArgs: string[], referenceMs: number, kills: number, random: () => number, log: (line: string) => void,
): Promise<{ kills: number[]; runs: number }> {
  const landed: number[] = [];
  let workDone = 0;
  for (let runs = 1; ; runs++) {
    const killAt = landed.length < kills ? Math.round(0.8 * random() * Math.max(0, referenceMs - workDone)) : undefined;
    const ran = await runTsx(runs === 1 ? args : [...args, ...resumeArgs], killAt);
    if (ran.killed) {
      landed.push(killAt!);
      workDone += killAt!;
      log(`  run ${runs}: killed ${killAt} ms into its work`);
      continue;
    }
    if (ran.code !== 0) throw new Error(`run ${runs} exited with ${ran.code}: ${ran.output.slice(-2000)}`);
    log(`  run ${runs}: completed (${Math.round(ran.workMs)} ms of work)`);
    return { kills: landed, runs };
  }
}

export async function crashResume(options: CrashResumeOptions): Promise<CrashResumeReport> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'mobileid-crash-'));
  const random = seededRandom(options.seed);
  try {
    const data = path.join(dir, 'data');
    const images = writeSlice(path.join(data, 'utkface', 'images'));
    log(`slice: ${images} images in ${data}`);

    // 1. prepare-data
    const prepareArgs = (out: string) => [
      'scripts/prepare-data.ts', '--dataset', 'utkface', '--data', data, '--out', out, '--workers', '1', '--chunk-size', '4',
    ];
    const reference = path.join(dir, 'prepared-reference');
    const resumed = path.join(dir, 'prepared-killed');
    const refRun = await mustSucceed(prepareArgs(reference));
    log(`prepare-data uninterrupted: ${Math.round(refRun.workMs)} ms of work`);
    const prepareKills = await killAndResume(prepareArgs(resumed), [], refRun.workMs, options.kills, random, log);
    const prepareIdentical = sameFiles(snapshot(reference), snapshot(resumed));
    log(`prepare-data killed ${prepareKills.kills.length} times: cache ${prepareIdentical ? 'identical' : 'DIFFERENT'}`);
    const chunkFile = path.join(resumed, 'utkface', 'chunk-00002.bin');
    const chunk = readFileSync(chunkFile);
    chunk[Math.floor(random() * chunk.length)] ^= 0x10;
    writeFileSync(chunkFile, chunk);
    const redo = await mustSucceed(prepareArgs(resumed));
    const prepareRedone = /chunk-00002\.json: binary checksum mismatch/.test(redo.output) && sameFiles(snapshot(reference), snapshot(resumed));
    log(`prepare-data after a flipped byte in chunk 2: ${prepareRedone ? 'reported and redone' : 'NOT redone'}`);

    // 2. distill
    const distillArgs = (name: string) => [
      'scripts/distill.ts', '--data', path.join(reference, 'utkface'), '--out', path.join(dir, name, 'student.mobileid'),
      '--checkpoint-dir', path.join(dir, name, 'checkpoints'), '--epochs', String(options.epochs), '--batch', '8', '--workers', '1',
      '--val', '0.25', '--seed', String(options.seed),
    ];
    const model = (name: string) => readFileSync(path.join(dir, name, 'student.mobileid'));
    const distillRef = await mustSucceed(distillArgs('distill-reference'));
    log(`distill uninterrupted: ${Math.round(distillRef.workMs)} ms of work`);
    const distillKills = await killAndResume(distillArgs('distill-killed'), ['--resume'], distillRef.workMs, options.kills, random, log);
    const distillIdentical = model('distill-reference').equals(model('distill-killed'));
    log(`distill killed ${distillKills.kills.length} times: model ${distillIdentical ? 'identical' : 'DIFFERENT'}`);
    const checkpoint = path.join(dir, 'distill-killed', 'checkpoints', 'checkpoint.bin');
    const bytes = readFileSync(checkpoint);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(checkpoint, bytes);
    rmSync(path.join(dir, 'distill-killed', 'student.mobileid'));
    const redone = await mustSucceed([...distillArgs('distill-killed'), '--resume']);
    const distillRedone = /checksum mismatch .*: not used/.test(redone.output)
      && new RegExp(`epoch ${options.epochs}/${options.epochs} train loss`).test(redone.output)
      && model('distill-reference').equals(model('distill-killed'));
    log(`distill after a flipped byte in the newest checkpoint: ${distillRedone ? 'reported, previous checkpoint used, last epoch redone' : 'NOT redone'}`);

    return {
      prepare: { ...prepareKills, identical: prepareIdentical, corruptionRedone: prepareRedone, referenceSeconds: refRun.workMs / 1000 },
      distill: { ...distillKills, identical: distillIdentical, corruptionRedone: distillRedone, referenceSeconds: distillRef.workMs / 1000 },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseToolArgs('scripts/crash-resume.ts', {
    options: {
      kills: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      epochs: { type: 'string', default: '2' },
      keep: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await crashResume({ kills: Number(values.kills), seed: Number(values.seed), epochs: Number(values.epochs), dir: values.keep });
  const ok = [report.prepare, report.distill].every((job) => job.identical && job.corruptionRedone);
  if (values.json) console.log(JSON.stringify(report));
  else console.error(ok ? 'crash-resume: ok' : 'crash-resume: FAILED');
  process.exit(ok ? 0 : 1);
}
