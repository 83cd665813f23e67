/**
 * Where each data set's images are and how their keys are named: prepare-data reads them, and
 * tools that recompute views of a prepared image (view-gap) find its file from its key.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { DatasetName } from './prepare.js';

/** Folder of each set under the shared data folder (FairFace is brought separately, see the README). */
export const SHARED_FOLDER: Record<Exclude<DatasetName, 'fairface'>, string> = { lfw: 'lfw', utkface: 'utkface', celeba: 'celeba-ids' };

/** The images folder of a data set: under `dataRoot`, or FairFace's own folder. */
export function imagesDirOf(dataset: DatasetName, dataRoot: string, fairfaceDir: string): string {
  return dataset === 'fairface' ? fairfaceDir : path.join(dataRoot, SHARED_FOLDER[dataset], 'images');
}

/**
 * Image keys and their files: LFW `<Name>/<Name>_NNNN`, CelebA `<identity>/<file>`, FairFace
 * `<train|val>/<n>` (one folder level, extension dropped); UTKFace the file name.
 */
export function listImages(dataset: DatasetName, imagesDir: string): { key: string; file: string }[] {
  if (dataset !== 'utkface') {
    return readdirSync(imagesDir)
      .sort()
      .flatMap((person) =>
        readdirSync(path.join(imagesDir, person))
          .filter((f) => f.endsWith('.jpg'))
          .sort()
          .map((f) => ({ key: `${person}/${f.slice(0, -4)}`, file: path.join(imagesDir, person, f) })),
      );
  }
  // every regular file, whatever its name (one UTKFace file lacks the dot before "jpg"):
  // the decoder sniffs the format, and a file that is not an image is a counted failure
  return readdirSync(imagesDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort()
    .map((f) => ({ key: f, file: path.join(imagesDir, f) }));
}
