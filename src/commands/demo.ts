/**
 * mobileid demo [folder] [--out out/demo] [--mirror]
 *
 * The main job end to end (npm start): every face in every photo of the folder (default: the
 * group photos shipped with @vladmandic/face-api, MIT) is detected, aligned and embedded by the
 * student; the command writes annotated photos and the aligned crops, prints the same/different
 * matrix of all faces, and lays the faces out as a t-SNE gallery picture.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alignForStudent } from '../align.js';
import { faceThumbnail, renderGallery } from '../gallery.js';
import { decodeImage, encodePng, type RgbImage } from '../image.js';
import { FaceRecognizer, type DetectedFace } from '../pipeline.js';
import { tsne } from '../tsne.js';
import { createVerifier } from '../verifier.js';
import { CliError } from './cli-error.js';
import { annotate } from './detect.js';
import { listImageFiles } from './gallery.js';

function defaultPhotos(): string | null {
  try {
    const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/** The crops side by side, scaled up 2x so they can be seen. */
function montage(crops: RgbImage[]): RgbImage {
  const scale = 2;
  const w = 47 * scale;
  const h = 55 * scale;
  const out = { width: w * crops.length, height: h, data: new Uint8Array(w * crops.length * h * 3) };
  crops.forEach((crop, i) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const src = (Math.floor(y / scale) * 47 + Math.floor(x / scale)) * 3;
      out.data.set(crop.data.subarray(src, src + 3), (y * out.width + i * w + x) * 3);
    }
  });
  return out;
}

export async function demoCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string', default: 'out/demo' }, mirror: { type: 'boolean' } },
  });
  const folder = positionals[0] ?? defaultPhotos();
  if (!folder || !existsSync(folder)) throw new CliError('no photo folder given and the built-in photos (devDependency @vladmandic/face-api) are not installed: mobileid demo <folder>');
  const files = listImageFiles(folder);
  if (!files.length) throw new CliError(`${folder} holds no JPEG or PNG photos`);
  const outDir = values.out!;
  mkdirSync(outDir, { recursive: true });

  const recognizer = await FaceRecognizer.create();
  const verification = recognizer.verification;
  const mirror = values.mirror ?? verification?.mirror ?? false;
  console.log(`photos: ${files.length} from ${folder}`);
  const faces: { label: string; image: RgbImage; face: DetectedFace; embedding: Float32Array }[] = [];
  for (const file of files) {
    const image = decodeImage(new Uint8Array(readFileSync(file)));
    const start = performance.now();
    const found = recognizer.embedFaces(image, { mirror });
    const ms = performance.now() - start;
    const name = path.basename(file).replace(/\.[a-z]+$/i, '');
    writeFileSync(path.join(outDir, `${name}-faces.png`), encodePng(annotate(image, found.map((f) => f.face))));
    found.forEach((f, i) => faces.push({ label: `${name}#${i + 1}`, image, face: f.face, embedding: f.embedding }));
    console.log(`${name}: ${image.width}x${image.height}, ${found.length} faces, ${ms.toFixed(0)} ms (detect + landmarks + embed)`);
  }
  if (faces.length < 2) throw new CliError(`only ${faces.length} face found: nothing to compare`);
  writeFileSync(path.join(outDir, 'aligned-crops.png'), encodePng(montage(faces.map((f) => alignForStudent(f.image, f.face.landmarks5).chip))));

  // same/different matrix with the model's own verifier and threshold
  const kind = verification?.verifier ?? 'cosine';
  const verifier = createVerifier(kind);
  const threshold = verification?.threshold ?? null;
  const width = Math.max(...faces.map((f) => f.label.length));
  console.log(`\n${kind} scores${threshold !== null ? `; "same" (*) when >= ${threshold.toFixed(3)}` : ' (the model declares no threshold: no decisions)'}`);
  console.log(`${''.padEnd(width)} ${faces.map((_, j) => String(j + 1).padStart(7)).join('')}`);
  faces.forEach((a, i) => {
    const cells = faces.map((b, j) => {
      if (i === j) return '      -';
      const s = verifier.score(a.embedding, b.embedding);
      return `${s.toFixed(3)}${threshold !== null && s >= threshold ? '*' : ' '}`.padStart(7);
    });
    console.log(`${`${i + 1} ${a.label}`.padEnd(width + 3)}${cells.join('')}`);
  });

  // gallery picture of these faces
  const dim = faces[0].embedding.length;
  const rows = new Float32Array(faces.length * dim);
  faces.forEach((f, i) => rows.set(f.embedding, i * dim));
  if (faces.length >= 4) {
    const coords = tsne(rows, faces.length, dim, { perplexity: Math.max(1, Math.floor((faces.length - 1) / 3)), seed: 1 });
    const gallery = renderGallery(coords, faces.length, (i) => faceThumbnail(faces[i].image, faces[i].face.box, 96), {
      canvasSize: 96 * Math.ceil(Math.sqrt(faces.length) * 2),
      thumbSize: 96,
      freeCellRadius: 2,
    });
    writeFileSync(path.join(outDir, 'gallery.png'), encodePng(gallery.image));
  }
  recognizer.dispose();
  console.log(`\nwrote annotated photos, aligned-crops.png and gallery.png to ${outDir}/`);
}
