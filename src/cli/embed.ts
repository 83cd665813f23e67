/**
 * mobileid embed <photos...|folder>: one embedding per face, with its file, box and score, as
 * JSON, CSV or a NumPy .npy matrix, for the user's own pipeline. Photos are decoded and embedded
 * in a RecognizerPool (worker threads).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EmbeddedFace } from '../face/recognizer.js';
import type { ModelIdentity } from '../verify/matcher.js';
import { RecognizerPool } from '../runtime/pool.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { DETECTOR_OPTIONS, detectorOptionsFrom, faceJson, WORKERS_OPTION } from './faces.js';
import { listImageFiles, readModelFile } from './files.js';

export interface EmbeddingRow {
  file: string;
  /** 1-based, in the detector's order (best score first). */
  face: number;
  box: number[];
  score: number;
  embedding: Float32Array;
}

/** NumPy's .npy format, version 1.0: a little-endian float32 matrix of rows x columns. */
export function npyMatrix(values: Float32Array, rows: number, columns: number): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  // magic (6) + version (2) + header length (2) + header + '\n', padded to a multiple of 64
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ') + '\n';
  const bytes = new Uint8Array(10 + header.length + values.length * 4);
  bytes.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0, header.length & 0xff, header.length >> 8]);
  bytes.set(new TextEncoder().encode(header), 10);
  const view = new DataView(bytes.buffer, 10 + header.length);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

const csvField = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

function csv(rows: EmbeddingRow[], dimension: number): string {
  const header = ['file', 'face', 'x', 'y', 'width', 'height', 'score', ...Array.from({ length: dimension }, (_, i) => `e${i}`)];
  return [header.join(','), ...rows.map((r) => [csvField(r.file), r.face, ...r.box, r.score, ...r.embedding].join(','))].join('\n') + '\n';
}

export const embedCommand = defineCommand(
  {
    name: 'embed',
    summary: 'one embedding per face, with file, box and score (JSON, CSV or NumPy .npy)',
    args: ['<photo-or-folder>', '[more...]'],
    description: [
      'Detects every face of every JPEG/PNG photo (folders are searched recursively) and embeds it with the',
      'student. --format json (default) prints {"model", "mirror", "faces": [{"file", "face", "box": [x,y,w,h],',
      '"score", "embedding"}]}; csv prints a header and one row per face; npy writes the faces x dimension float32',
      'matrix to --out and prints the JSON without the embeddings, rows in the same order. Photos without a face',
      'are listed on stderr.',
    ].join('\n'),
    options: {
      format: { type: 'string', choices: ['json', 'csv', 'npy'], default: 'json', description: 'output format' },
      out: { type: 'string', value: 'FILE', defaultText: 'stdout (json, csv); required for npy', description: 'write the output to FILE' },
      mirror: { type: 'boolean', defaultText: "the model's, on for the shipped student", description: 'average each embedding with that of the mirrored face' },
      model: { type: 'string', value: 'FILE', defaultText: 'the shipped student', description: 'a student model file (.mobileid) instead of the shipped one' },
      ...WORKERS_OPTION,
      ...DETECTOR_OPTIONS,
    },
    examples: ['mobileid embed photo.jpg', 'mobileid embed photos/ --format csv --out faces.csv', 'mobileid embed photos/ --format npy --out faces.npy > faces.json'],
  },
  async ({ values, positionals }) => {
    if (values.format === 'npy' && values.out === undefined) throw new CliError('--format npy writes a binary file: name it with --out FILE.npy');
    const files = listImageFiles(positionals);
    if (!files.length) throw new CliError(`${positionals.join(' ')}: no JPEG or PNG photos`);
    const student = values.model === undefined ? undefined : readModelFile('model', values.model);
    const pool = await RecognizerPool.create({ size: values.workers, models: { student }, detector: detectorOptionsFrom(values) });
    let found: EmbeddedFace[][];
    let mirror: boolean;
    let model: ModelIdentity;
    try {
      if (!pool.model) throw new CliError('no student model in this installation: pass --model <student.mobileid>');
      model = pool.model;
      // the model's rule decides mirroring, as in verify
      mirror = values.mirror ?? pool.verification?.mirror ?? false;
      found = await Promise.all(files.map((file) => pool.embedFaces(file, { mirror })));
    } finally {
      await pool.close();
    }
    const rows: EmbeddingRow[] = files.flatMap((file, i) =>
      found[i].map((f, k) => {
        const { box, score } = faceJson(f.face);
        return { file, face: k + 1, box, score, embedding: f.embedding };
      }),
    );
    const empty = files.filter((_, i) => found[i].length === 0);
    if (empty.length) console.error(`${empty.length} photo${empty.length === 1 ? '' : 's'} without a face: ${empty.slice(0, 10).join(', ')}${empty.length > 10 ? ', ...' : ''}`);
    console.error(`${rows.length} faces in ${files.length} photos (${model.name}, ${model.dimension} values each${mirror ? ', mirror-averaged' : ''})`);

    const withEmbeddings = values.format === 'json';
    const json = JSON.stringify({
      model,
      mirror,
      faces: rows.map(({ embedding, ...rest }) => (withEmbeddings ? { ...rest, embedding: Array.from(embedding) } : rest)),
    });
    let output: string | Uint8Array;
    if (values.format === 'npy') {
      const matrix = new Float32Array(rows.length * model.dimension);
      rows.forEach((r, i) => matrix.set(r.embedding, i * model.dimension));
      output = npyMatrix(matrix, rows.length, model.dimension);
    } else {
      output = values.format === 'csv' ? csv(rows, model.dimension) : `${json}\n`;
    }
    if (values.out === undefined) {
      process.stdout.write(output);
      return;
    }
    mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    writeFileSync(values.out, output);
    console.error(`wrote ${values.out}`);
    if (values.format === 'npy') console.log(json);
  },
);
