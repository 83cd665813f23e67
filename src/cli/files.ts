/**
 * Files the commands read and write: input photos and model files (read errors become typed,
 * one-line errors naming the file) and output pictures (PNG or JPEG by the file's extension,
 * anything else refused before any work is done).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { FileReadError } from '../errors.js';
import { decodeImage, encodePng, ImageDecodeError, type RgbImage } from '../image.js';
import { toRgba } from '../runtime/pixels.js';
import { CliError } from './cli-error.js';

export function readBytes(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw FileReadError.from(file, cause);
  }
}

const IMAGE_FILE = /\.(jpe?g|png)$/i;

/**
 * The JPEG/PNG photos among `paths`, in order: a folder stands for the photos under it
 * (recursively, sorted by name), a file for itself; a path that does not exist is a FileReadError.
 */
export function listImageFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (IMAGE_FILE.test(name)) out.push(full);
    }
  };
  for (const given of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(given).isDirectory();
    } catch (cause) {
      throw FileReadError.from(given, cause);
    }
    if (isDirectory) walk(given);
    else if (IMAGE_FILE.test(given)) out.push(given);
    else throw new CliError(`${given} is not a photo: JPEG (.jpg, .jpeg) and PNG (.png) files only`);
  }
  return out;
}

/** Decodes a JPEG/PNG file; a decoding failure names the file. */
export function readImageFile(file: string): RgbImage {
  const bytes = readBytes(file);
  try {
    return decodeImage(bytes);
  } catch (error) {
    if (error instanceof ImageDecodeError) error.message = `${file}: ${error.message}`;
    throw error;
  }
}

/** The bytes of a --model file; a problem names the option. */
export function readModelFile(option: string, file: string): Uint8Array {
  try {
    return readBytes(file);
  } catch (error) {
    throw new CliError(`--${option}: ${(error as FileReadError).message}`);
  }
}

const IMAGE_FORMATS: Record<string, 'png' | 'jpeg'> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' };

/** The format an output picture gets from its name; CliError naming the option for other names. */
export function imageFormatOf(option: string, file: string): 'png' | 'jpeg' {
  const format = IMAGE_FORMATS[path.extname(file).toLowerCase()];
  if (!format) throw new CliError(`--${option} must name a .png, .jpg or .jpeg file, got "${file}"`);
  return format;
}

export function encodeJpeg(image: RgbImage, quality = 90): Uint8Array {
  return jpeg.encode({ data: toRgba(image), width: image.width, height: image.height }, quality).data;
}

/** Writes the picture as PNG or JPEG according to the file's extension, creating its folder. */
export function writeImageFile(option: string, file: string, image: RgbImage): void {
  const bytes = imageFormatOf(option, file) === 'png' ? encodePng(image) : encodeJpeg(image);
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, bytes);
}
