/**
 * The t-SNE face gallery picture, as in the original MobileID figure: the 2-D embedding is
 * stretched over a square canvas divided into thumbnail-sized cells, and each face, in index
 * order, is pasted into the cell under its position; a face whose cell is already taken is
 * skipped (optionally: moved to the nearest free cell within a small radius).
 */
import { MobileIdError } from '../errors.js';
import { resizeBilinear, type RgbImage } from '../image.js';

/** Bad gallery input: coordinate count, NaN, sizes, or a thumbnail of the wrong shape. */
export class GalleryInputError extends MobileIdError {
  override name = 'GalleryInputError';
}

export interface GalleryOptions {
  /** Side of the square picture in pixels, default 5000. */
  canvasSize?: number;
  /** Side of each square thumbnail (and grid cell) in pixels, default 100. */
  thumbSize?: number;
  /** 'white' (default) or 'dark' (black, as the original picture). */
  background?: 'white' | 'dark';
  /**
   * 0 (default, as the original): a face whose cell is taken is skipped. r > 0: it goes to the
   * free cell nearest its position among those at most r cells away in each direction.
   */
  freeCellRadius?: number;
  /** Called after each pasted thumbnail with (pasted, faces to paste). */
  onProgress?: (done: number, total: number) => void;
}

/** The paper's picture: 5000 x 5000 pixels. */
export const MAX_CANVAS_SIZE = 5000;

/**
 * A canvas side for `count` faces: about 2 sqrt(count) cells per side (4 cells per face, so
 * most faces find their cell free), at most MAX_CANVAS_SIZE rounded down to whole cells.
 */
export function canvasSizeFor(count: number, thumbSize: number): number {
  const cells = Math.max(1, Math.min(Math.floor(MAX_CANVAS_SIZE / thumbSize), Math.ceil(2 * Math.sqrt(count))));
  return cells * thumbSize;
}

export interface GalleryPlacement {
  /** Index of the face (row of the coordinates). */
  index: number;
  column: number;
  row: number;
  /** Top-left pixel of its thumbnail in the picture. */
  x: number;
  y: number;
}

export interface GalleryLayout {
  canvasSize: number;
  thumbSize: number;
  /** Cells per side (the grid is square, centred in the canvas). */
  cells: number;
  placements: GalleryPlacement[];
  /** Faces that found no free cell, in index order. */
  skipped: number[];
}

export interface Gallery extends GalleryLayout {
  image: RgbImage;
}

const BACKGROUND = { white: 255, dark: 0 } as const;

/**
 * Assigns faces to grid cells. Coordinates (count x 2) are min-max normalised per axis; x grows
 * to the right and y upwards, as in a scatter plot.
 */
export function layoutGallery(coords: Float32Array, count: number, opts: GalleryOptions = {}): GalleryLayout {
  const canvasSize = opts.canvasSize ?? 5000;
  const thumbSize = opts.thumbSize ?? 100;
  const radius = opts.freeCellRadius ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new GalleryInputError(`count must be a non-negative integer, got ${count}`);
  if (coords.length !== 2 * count) {
    throw new GalleryInputError(`coordinates have ${coords.length} values, expected count*2 = ${2 * count}`);
  }
  if (!Number.isInteger(thumbSize) || thumbSize < 1) {
    throw new GalleryInputError(`thumbSize must be a positive integer, got ${thumbSize}`);
  }
  if (!Number.isInteger(canvasSize) || canvasSize < thumbSize) {
    throw new GalleryInputError(`canvasSize must be an integer >= thumbSize (${thumbSize}), got ${canvasSize}`);
  }
  if (!Number.isInteger(radius) || radius < 0) {
    throw new GalleryInputError(`freeCellRadius must be a non-negative integer, got ${radius}`);
  }
  for (let i = 0; i < coords.length; i++) {
    if (!Number.isFinite(coords[i])) throw new GalleryInputError(`coordinate of face ${i >> 1} is not finite`);
  }

  const cells = Math.floor(canvasSize / thumbSize);
  const margin = Math.floor((canvasSize - cells * thumbSize) / 2);
  const [minX, spanX] = range(coords, 0);
  const [minY, spanY] = range(coords, 1);
  const taken = new Uint8Array(cells * cells);
  const placements: GalleryPlacement[] = [];
  const skipped: number[] = [];
  for (let i = 0; i < count; i++) {
    // Position in cell units; a constant axis puts everyone in the middle.
    const gx = spanX > 0 ? ((coords[2 * i] - minX) / spanX) * cells : cells / 2;
    const gy = spanY > 0 ? (1 - (coords[2 * i + 1] - minY) / spanY) * cells : cells / 2;
    const cell = nearestFreeCell(taken, cells, gx, gy, radius);
    if (cell < 0) {
      skipped.push(i);
      continue;
    }
    taken[cell] = 1;
    const column = cell % cells;
    const row = Math.floor(cell / cells);
    placements.push({ index: i, column, row, x: margin + column * thumbSize, y: margin + row * thumbSize });
  }
  return { canvasSize, thumbSize, cells, placements, skipped };
}

/** Lays out the faces and pastes their thumbnails; `getThumb` is called only for placed faces. */
export function renderGallery(
  coords: Float32Array,
  count: number,
  getThumb: (index: number) => RgbImage,
  opts: GalleryOptions = {},
): Gallery {
  const layout = layoutGallery(coords, count, opts);
  const { canvasSize, thumbSize } = layout;
  const background = opts.background ?? 'white';
  if (!(background in BACKGROUND)) throw new GalleryInputError(`background must be 'white' or 'dark', got ${background}`);
  const data = new Uint8Array(canvasSize * canvasSize * 3).fill(BACKGROUND[background]);
  const rowBytes = thumbSize * 3;
  const total = layout.placements.length;
  for (const [done, { index, x, y }] of layout.placements.entries()) {
    const thumb = getThumb(index);
    if (thumb.width !== thumbSize || thumb.height !== thumbSize || thumb.data.length !== thumbSize * rowBytes) {
      throw new GalleryInputError(
        `thumbnail ${index} is ${thumb.width}x${thumb.height} (${thumb.data.length} bytes), expected ${thumbSize}x${thumbSize} RGB`,
      );
    }
    for (let r = 0; r < thumbSize; r++) {
      data.set(thumb.data.subarray(r * rowBytes, (r + 1) * rowBytes), ((y + r) * canvasSize + x) * 3);
    }
    opts.onProgress?.(done + 1, total);
  }
  return { ...layout, image: { width: canvasSize, height: canvasSize, data } };
}

/** [minimum, max - min] of one coordinate axis. */
function range(coords: Float32Array, axis: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = axis; i < coords.length; i += 2) {
    lo = Math.min(lo, coords[i]);
    hi = Math.max(hi, coords[i]);
  }
  return [lo, hi - lo];
}

/**
 * The free cell (row * cells + column) nearest the position (gx, gy) in cell units among those
 * within `radius` cells of the cell containing it, or -1. Ties go to the first in row-major order.
 */
function nearestFreeCell(taken: Uint8Array, cells: number, gx: number, gy: number, radius: number): number {
  const homeColumn = Math.min(cells - 1, Math.floor(gx));
  const homeRow = Math.min(cells - 1, Math.floor(gy));
  let best = -1;
  let bestDistance = Infinity;
  for (let row = Math.max(0, homeRow - radius); row <= Math.min(cells - 1, homeRow + radius); row++) {
    for (let column = Math.max(0, homeColumn - radius); column <= Math.min(cells - 1, homeColumn + radius); column++) {
      const cell = row * cells + column;
      if (taken[cell]) continue;
      const d = (column + 0.5 - gx) ** 2 + (row + 0.5 - gy) ** 2;
      if (d < bestDistance) {
        best = cell;
        bestDistance = d;
      }
    }
  }
  return best;
}

/** A square thumbnail around a face box (widened by 30% to show the whole head), size x size. */
export function faceThumbnail(image: RgbImage, box: { x: number; y: number; width: number; height: number }, size: number): RgbImage {
  const side = Math.max(box.width, box.height) * 1.3;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x0 = Math.max(0, Math.round(cx - side / 2));
  const y0 = Math.max(0, Math.round(cy - side / 2));
  const w = Math.max(1, Math.min(image.width, Math.round(cx + side / 2)) - x0);
  const h = Math.max(1, Math.min(image.height, Math.round(cy + side / 2)) - y0);
  const crop = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const row = ((y0 + y) * image.width + x0) * 3;
    crop.set(image.data.subarray(row, row + w * 3), y * w * 3);
  }
  return resizeBilinear({ width: w, height: h, data: crop }, size, size);
}
