/**
 * Files that ship with the package: the wasm kernels and the model files. They are found next
 * to this module (dist/ in the published package) or at the repository root, two levels above
 * src/engine/ (build/, models/ in a checkout). Runtimes with a file system read them; others
 * fetch them by URL. Bundles for runtimes that can do neither (edge functions) pass the bytes or
 * a compiled Module instead.
 */
import { AssetNotFoundError } from '../errors.js';

export const BUNDLED_MODELS = {
  /** The distilled MobileID student shipped by this project (f16 weights, float kernels). */
  mobileid: 'mobileid-student.mobileid',
  /** The same student quantised to int8 (npm run quantize; integer kernels). */
  mobileidInt8: 'mobileid-student.int8.mobileid',
  /** dlib's face-recognition ResNet (face-api's weights), the distillation teacher: made in a
   * checkout by `npm run convert-models`, not part of the published package. */
  teacher: 'teacher-dlib-resnet.mobileid',
  /** face-api's 68-point landmark net. */
  landmarks68: 'landmarks68.mobileid',
  /** face-api's tiny face detector (416 input). */
  detector: 'tiny-face-detector.mobileid',
} as const;

export type BundledModelName = keyof typeof BUNDLED_MODELS;

async function loadAsset(candidates: string[], what: string): Promise<Uint8Array> {
  const errors: string[] = [];
  for (const candidate of candidates) {
    const url = new URL(candidate, import.meta.url);
    try {
      if (url.protocol === 'file:') {
        const fs = await import('node:fs/promises');
        const bytes = await fs.readFile(url);
        return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
      const response = await fetch(url);
      if (response.ok) return new Uint8Array(await response.arrayBuffer());
      errors.push(`${url}: HTTP ${response.status}`);
    } catch (cause) {
      errors.push(`${url}: ${(cause as Error).message}`);
    }
  }
  throw new AssetNotFoundError(`${what} not found. Tried: ${errors.join('; ')}`);
}

export function loadDefaultWasm(): Promise<Uint8Array> {
  return loadAsset(['./mobileid.wasm', '../../build/mobileid.wasm'], 'mobileid.wasm (pass it to Engine.create())');
}

export async function loadBundledModel(name: BundledModelName): Promise<Uint8Array> {
  const file = BUNDLED_MODELS[name];
  if (!file) throw new AssetNotFoundError(`unknown bundled model "${String(name)}"; known: ${Object.keys(BUNDLED_MODELS).join(', ')}`);
  const hint = name === 'teacher' ? ' (a checkout makes it with npm run convert-models; the published package has no teacher)' : '';
  return loadAsset([`./models/${file}`, `../../models/${file}`], `model file ${file}${hint}`);
}

/**
 * Where the sample photos may be (file: URLs): dist/samples in the package, demo/samples in a
 * checkout. Small copies of face-api's MIT-licensed demo photos; the licence is in their README.md.
 */
export function samplePhotoFolders(): URL[] {
  return ['./samples/', '../../demo/samples/'].map((candidate) => new URL(candidate, import.meta.url));
}
