/**
 * mobileid demo [folder]: the main job end to end (npm start). Every face in every photo (default:
 * the sample photos shipped with the package) is detected, aligned and embedded by the student;
 * the command writes annotated photos and the aligned crops, prints the same/different matrix of
 * all faces, and lays the faces out as a t-SNE gallery picture.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { samplePhotoFolders } from '../engine/assets.js';
import { AssetNotFoundError } from '../errors.js';
import { alignForStudent } from '../face/align.js';
import { FaceRecognizer, type DetectedFace } from '../face/recognizer.js';
import { STUDENT_CROP_HEIGHT, STUDENT_CROP_WIDTH } from '../face/student-graph.js';
import { canvasSizeFor, faceThumbnail, renderGallery } from '../gallery/layout.js';
import { maxPerplexity, tsne } from '../gallery/tsne.js';
import type { RgbImage } from '../image.js';
import { createVerifier } from '../verify/verifier.js';
import { defineCommand } from './args.js';
import { CliError } from './cli-error.js';
import { annotate } from './faces.js';
import { listImageFiles, readImageFile, writeImageFile } from './files.js';

const THUMB = 96;

function samplePhotos(): string {
  const found = samplePhotoFolders().map((url) => fileURLToPath(url)).find((dir) => existsSync(dir));
  if (!found) throw new AssetNotFoundError('the sample photos are missing from this installation: give a folder, mobileid demo <folder>');
  return found;
}

/** The crops side by side, scaled up 2x so they can be seen. */
function montage(crops: RgbImage[]): RgbImage {
  const scale = 2;
  const w = STUDENT_CROP_WIDTH * scale;
  const h = STUDENT_CROP_HEIGHT * scale;
  const out = { width: w * crops.length, height: h, data: new Uint8Array(w * crops.length * h * 3) };
  crops.forEach((crop, i) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * STUDENT_CROP_WIDTH + Math.floor(x / scale)) * 3;
      out.data.set(crop.data.subarray(src, src + 3), (y * out.width + i * w + x) * 3);
    }
  });
  return out;
}

export const demoCommand = defineCommand(
  {
    name: 'demo',
    summary: 'the main job on the sample photos (or yours): faces, landmarks, same/different matrix, gallery',
    args: ['[folder]'],
    description: [
      'Detects, aligns and embeds every face of every photo, prints the same/different matrix of all',
      'faces with the model\'s verifier and threshold, and writes <name>-faces.png (boxes and landmarks),',
      'aligned-crops.png and gallery.png (t-SNE layout of the faces) to the --out folder.',
    ].join('\n'),
    options: {
      out: { type: 'string', default: 'out/demo', value: 'FOLDER', description: 'where the pictures go' },
      mirror: { type: 'boolean', defaultText: "the model's, on for the shipped student", description: 'average each embedding with that of the mirrored face' },
    },
    examples: ['mobileid demo', 'mobileid demo my-photos/ --out out/mine'],
  },
  async ({ values, positionals }) => {
    const folder = positionals[0] ?? samplePhotos();
    const files = listImageFiles([folder]);
    if (!files.length) throw new CliError(`${folder} holds no JPEG or PNG photos`);
    const outDir = values.out;
    mkdirSync(outDir, { recursive: true });

    const recognizer = await FaceRecognizer.create();
    const verification = recognizer.verification;
    const mirror = values.mirror ?? verification?.mirror ?? false;
    console.log(`photos: ${files.length} from ${folder}`);
    const faces: { label: string; image: RgbImage; face: DetectedFace; embedding: Float32Array }[] = [];
    for (const file of files) {
      const image = readImageFile(file);
      const start = performance.now();
      const found = recognizer.embedFaces(image, { mirror });
      const ms = performance.now() - start;
      const name = path.basename(file).replace(/\.[a-z]+$/i, '');
      writeImageFile('out', path.join(outDir, `${name}-faces.png`), annotate(image, found.map((f) => f.face)));
      found.forEach((f, i) => faces.push({ label: `${name}#${i + 1}`, image, face: f.face, embedding: f.embedding }));
      console.log(`${name}: ${image.width}x${image.height}, ${found.length} faces, ${ms.toFixed(0)} ms (detect + landmarks + embed)`);
    }
    if (faces.length < 2) throw new CliError(`only ${faces.length} face found in ${folder}: nothing to compare`);
    writeImageFile('out', path.join(outDir, 'aligned-crops.png'), montage(faces.map((f) => alignForStudent(f.image, f.face.landmarks5).chip)));

    // same/different matrix with the model's own verifier and threshold
    const kind = verification?.verifier ?? 'cosine';
    const verifier = createVerifier(kind);
    const threshold = verification?.threshold ?? null;
    const width = Math.max(...faces.map((f) => f.label.length));
    console.log(`\n${kind} scores${threshold !== null ? `; "same" (*) when >= ${threshold.toFixed(3)}` : ' (the model declares no threshold: no decisions)'}`);
    // 8 columns a cell: a sign, 0.000, the "same" mark and a space between cells
    console.log(`${''.padEnd(width)} ${faces.map((_, j) => String(j + 1).padStart(8)).join('')}`);
    faces.forEach((a, i) => {
      const cells = faces.map((b, j) => {
        if (i === j) return '-'.padStart(8);
        const s = verifier.score(a.embedding, b.embedding);
        return `${s.toFixed(3)}${threshold !== null && s >= threshold ? '*' : ' '}`.padStart(8);
      });
      console.log(`${`${i + 1} ${a.label}`.padEnd(width + 3)}${cells.join('')}`);
    });

    // gallery picture of these faces
    const dim = faces[0].embedding.length;
    const rows = new Float32Array(faces.length * dim);
    faces.forEach((f, i) => rows.set(f.embedding, i * dim));
    const coords = tsne(rows, faces.length, dim, { perplexity: Math.min(30, maxPerplexity(faces.length)), seed: 1 });
    const gallery = renderGallery(coords, faces.length, (i) => faceThumbnail(faces[i].image, faces[i].face.box, THUMB), {
      canvasSize: canvasSizeFor(faces.length, THUMB),
      thumbSize: THUMB,
      freeCellRadius: 2,
    });
    writeImageFile('out', path.join(outDir, 'gallery.png'), gallery.image);
    recognizer.dispose();
    console.log(`\nwrote ${files.length} annotated photos, aligned-crops.png and gallery.png to ${outDir}/`);
  },
);
