/**
 * mobileid identify --gallery <folder> <photo...>: who is in a photo. The gallery folder holds
 * one folder per person (Name/photo.jpg, any number of photos each); the largest face of every
 * gallery photo is enrolled under the folder's name in a FaceMatcher, then every face of the
 * photos given is matched: the person, or "unknown" below the threshold. A matcher saved with
 * --save (JSON) can stand in for the folder on later runs.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileReadError } from '../errors.js';
import { RecognizerPool } from '../runtime/pool.js';
import type { FaceMatcher } from '../verify/matcher.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { DETECTOR_OPTIONS, detectorOptionsFrom, faceJson, WORKERS_OPTION } from './faces.js';
import { listImageFiles, readModelFile } from './files.js';

/** Name/photo.jpg pairs of a gallery folder: each sub-folder is a person. */
function galleryPeople(folder: string): { label: string; file: string }[] {
  const people = readdirSync(folder).sort().filter((name) => statSync(path.join(folder, name)).isDirectory());
  const entries = people.flatMap((label) => listImageFiles([path.join(folder, label)]).map((file) => ({ label, file })));
  if (!entries.length) throw new CliError(`--gallery ${folder}: no photos in Name/photo.jpg sub-folders (one folder per person)`);
  return entries;
}

async function enrol(pool: RecognizerPool, folder: string, threshold: number | undefined): Promise<{ matcher: FaceMatcher; skipped: string[] }> {
  const matcher = pool.createMatcher({ threshold });
  const entries = galleryPeople(folder);
  const faces = await Promise.all(entries.map(({ file }) => pool.embedLargestFace(file, { mirror: matcher.mirror })));
  const skipped: string[] = [];
  entries.forEach(({ label, file }, i) => {
    const face = faces[i];
    if (face) matcher.enroll(label, face);
    else skipped.push(file);
  });
  return { matcher, skipped };
}

function loadSaved(pool: RecognizerPool, file: string, threshold: number | undefined): FaceMatcher {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    if (cause instanceof SyntaxError) throw new CliError(`--gallery ${file}: not JSON (${cause.message})`);
    throw FileReadError.from(file, cause);
  }
  return pool.loadMatcher(json, { threshold });
}

export const identifyCommand = defineCommand(
  {
    name: 'identify',
    summary: 'who is in a photo: every face matched against a gallery of known people, or "unknown"',
    args: ['<photo>', '[more...]'],
    description: [
      '--gallery is a folder with one sub-folder per person (Ada/1.jpg, Ada/2.jpg, Bob/1.jpg, ...; the largest face',
      'of each photo is enrolled) or a matcher saved with --save. Each face of the photos is given the person with',
      "the best score (their best photo), or \"unknown\" when it is below the threshold (the model's verification",
      'threshold unless --threshold is given; same scale as verify).',
    ].join('\n'),
    options: {
      gallery: { type: 'string', value: 'FOLDER|FILE.json', description: 'the known people: Name/photo.jpg folders, or a saved matcher (required)' },
      save: { type: 'string', value: 'FILE', defaultText: 'not saved', description: 'save the enrolled gallery as a matcher (JSON) to FILE' },
      threshold: { type: 'number', value: 'T', defaultText: "the model's, as in verify", description: 'a match needs score >= T' },
      top: { type: 'integer', default: 1, min: 1, value: 'K', description: 'list the K best people for each face' },
      json: { type: 'boolean', default: false, description: 'print {"gallery": {"people", "faces"}, "photos": [{"file", "faces": [{"box", "score", "label", "known", "match", "candidates"}]}]} as the last stdout line' },
      model: { type: 'string', value: 'FILE', defaultText: 'the shipped student', description: 'a student model file (.mobileid) instead of the shipped one' },
      ...WORKERS_OPTION,
      ...DETECTOR_OPTIONS,
    },
    examples: ['mobileid identify --gallery people/ group.jpg', 'mobileid identify --gallery people/ --save people.json party/', 'mobileid identify --gallery people.json photo.jpg --top 3 --json'],
  },
  async ({ values, positionals }) => {
    if (values.gallery === undefined) throw new CliError('--gallery FOLDER (Name/photo.jpg) or FILE.json is required');
    let galleryIsFolder: boolean;
    try {
      galleryIsFolder = statSync(values.gallery).isDirectory();
    } catch (cause) {
      throw FileReadError.from(values.gallery, cause);
    }
    const files = listImageFiles(positionals);
    const student = values.model === undefined ? undefined : readModelFile('model', values.model);
    const pool = await RecognizerPool.create({ size: values.workers, models: { student }, detector: detectorOptionsFrom(values) });
    try {
      if (!pool.model) throw new CliError('no student model in this installation: pass --model <student.mobileid>');
      const { matcher, skipped } = galleryIsFolder ? await enrol(pool, values.gallery, values.threshold) : { matcher: loadSaved(pool, values.gallery, values.threshold), skipped: [] };
      if (matcher.size === 0) throw new CliError(`--gallery ${values.gallery}: no face found in any of its photos`);
      if (skipped.length) console.error(`no face in ${skipped.length} gallery photo${skipped.length === 1 ? '' : 's'}, left out: ${skipped.slice(0, 10).join(', ')}`);
      if (values.save !== undefined) writeFileSync(values.save, JSON.stringify(matcher));
      const say = values.json ? console.error : console.log;
      const threshold = matcher.threshold;
      say(`gallery: ${matcher.labels.length} people, ${matcher.size} faces; ${matcher.metric} score, a match needs >= ${threshold === null ? 'n/a (no threshold: pass --threshold)' : threshold.toFixed(4)}`);
      const found = await Promise.all(files.map((file) => pool.embedFaces(file, { mirror: matcher.mirror })));
      const photos = files.map((file, i) => ({
        file,
        faces: found[i].map((f) => {
          const result = matcher.match(f);
          const candidates = matcher.topK(f, values.top).map((c) => ({ label: c.label, score: Number(c.score.toFixed(4)) }));
          return { ...faceJson(f.face), label: result.label, known: result.known, match: result.score === null ? null : Number(result.score.toFixed(4)), candidates };
        }),
      }));
      for (const photo of photos) {
        say(`${photo.file}: ${photo.faces.length} face${photo.faces.length === 1 ? '' : 's'}`);
        photo.faces.forEach((f, i) => {
          const others = f.candidates.length > 1 ? `; nearest: ${f.candidates.map((c) => `${c.label} ${c.score}`).join(', ')}` : '';
          say(`  face ${i + 1} at x ${f.box[0]} y ${f.box[1]} w ${f.box[2]} h ${f.box[3]}: ${f.known ? f.label : `unknown (nearest ${f.candidates[0]?.label})`}, score ${f.match}${others}`);
        });
      }
      if (values.save !== undefined) say(`saved the gallery to ${values.save}`);
      if (values.json) console.log(JSON.stringify({ gallery: { people: matcher.labels.length, faces: matcher.size, threshold }, photos }));
    } finally {
      await pool.close();
    }
  },
);
