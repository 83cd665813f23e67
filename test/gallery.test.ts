import { describe, expect, it } from 'vitest';
import { canvasSizeFor, GalleryInputError, layoutGallery, renderGallery, type Gallery } from '../src/gallery/layout.js';
import type { RgbImage } from '../src/image';
import { seededRandom } from '../src/math/random.js';

/** A thumbnail whose pixels encode its face index and position (every byte distinct per face). */
function thumbnail(index: number, size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    data[3 * p] = (index * 37 + 11) & 255;
    data[3 * p + 1] = p % size;
    data[3 * p + 2] = Math.floor(p / size);
  }
  return { width: size, height: size, data };
}

/** The thumbSize x thumbSize block of the picture whose top-left pixel is (x, y). */
function block(g: Gallery, x: number, y: number): Uint8Array {
  const { thumbSize, image } = g;
  const out = new Uint8Array(thumbSize * thumbSize * 3);
  for (let r = 0; r < thumbSize; r++) {
    const from = ((y + r) * image.width + x) * 3;
    out.set(image.data.subarray(from, from + thumbSize * 3), r * thumbSize * 3);
  }
  return out;
}

/** `count` points spread uniformly over [-20, 20)^2. */
function randomCoords(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: 2 * count }, () => random() * 40 - 20);
}

describe('layoutGallery', () => {
  it('maps the coordinate range onto the grid, x to the right and y upwards', () => {
    // 4 x 4 cells of 100 px; the corners and the middle of the data range.
    const coords = Float32Array.from([-5, -3, 5, 7, -5, 7, 5, -3, 0.1, 2.1]);
    const { cells, placements, skipped } = layoutGallery(coords, 5, { canvasSize: 400, thumbSize: 100 });
    expect(cells).toBe(4);
    expect(skipped).toEqual([]);
    const where = placements.map((p) => [p.index, p.column, p.row, p.x, p.y]);
    expect(where).toEqual([
      [0, 0, 3, 0, 300], // min x, min y: bottom left
      [1, 3, 0, 300, 0], // max x, max y: top right
      [2, 0, 0, 0, 0],
      [3, 3, 3, 300, 300],
      [4, 2, 1, 200, 100], // just past the middle in both axes
    ]);
  });

  it('keeps the order of positions along each axis and never reuses a cell', () => {
    const count = 500;
    const coords = randomCoords(count, 3);
    const { cells, placements, skipped } = layoutGallery(coords, count, { canvasSize: 1000, thumbSize: 50 });
    expect(placements.length + skipped.length).toBe(count);
    expect(new Set(placements.map((p) => p.row * cells + p.column)).size).toBe(placements.length);
    for (const a of placements) {
      for (const b of placements) {
        if (coords[2 * a.index] < coords[2 * b.index]) expect(a.column).toBeLessThanOrEqual(b.column);
        if (coords[2 * a.index + 1] > coords[2 * b.index + 1]) expect(a.row).toBeLessThanOrEqual(b.row);
      }
    }
  });

  it('skips a face whose cell is taken, or moves it to the nearest free cell within the radius', () => {
    // 3 x 3 cells over [0, 3]^2; faces 3 and 4 land in face 2's cell (the middle one),
    // face 3 a bit to its right, face 4 above its centre.
    const coords = Float32Array.from([0, 0, 3, 3, 1.5, 1.5, 1.9, 1.5, 1.3, 1.95]);
    const opts = { canvasSize: 300, thumbSize: 100 };
    const strict = layoutGallery(coords, 5, opts);
    expect(strict.placements.map((p) => p.index)).toEqual([0, 1, 2]);
    expect(strict.skipped).toEqual([3, 4]);

    const moved = layoutGallery(coords, 5, { ...opts, freeCellRadius: 1 });
    expect(moved.skipped).toEqual([]);
    const cellOf = (i: number) => moved.placements.find((p) => p.index === i)!;
    expect([cellOf(2).column, cellOf(2).row]).toEqual([1, 1]);
    expect([cellOf(3).column, cellOf(3).row]).toEqual([2, 1]); // right neighbour
    expect([cellOf(4).column, cellOf(4).row]).toEqual([1, 0]); // upper neighbour (y grows upwards)
  });

  it('centres the grid when the canvas is not a whole number of cells', () => {
    const g = layoutGallery(Float32Array.from([0, 0, 1, 1]), 2, { canvasSize: 450, thumbSize: 100 });
    expect(g.cells).toBe(4);
    expect(g.placements.map((p) => [p.x, p.y])).toEqual([
      [25, 325],
      [325, 25],
    ]);
  });

  it('rejects bad input with GalleryInputError', () => {
    expect(() => layoutGallery(new Float32Array(3), 2)).toThrow(GalleryInputError);
    expect(() => layoutGallery(Float32Array.from([0, NaN]), 1)).toThrow(/face 0 is not finite/);
    expect(() => layoutGallery(new Float32Array(2), 1, { canvasSize: 50, thumbSize: 100 })).toThrow(GalleryInputError);
    expect(() => layoutGallery(new Float32Array(2), 1, { freeCellRadius: -1 })).toThrow(GalleryInputError);
  });
});

describe('renderGallery', () => {
  const count = 60;
  const coords = randomCoords(count, 7);
  const opts = { canvasSize: 320, thumbSize: 32 } as const;

  it('pastes each placed thumbnail at its cell, leaves other cells blank and loads only placed faces', () => {
    const loaded: number[] = [];
    const g = renderGallery(coords, count, (i) => (loaded.push(i), thumbnail(i, 32)), opts);
    expect(g.image.width).toBe(320);
    expect(g.image.height).toBe(320);
    expect(g.skipped.length).toBeGreaterThan(0); // 60 random faces on 100 cells collide
    expect(loaded).toEqual(g.placements.map((p) => p.index));
    for (const p of g.placements) expect(block(g, p.x, p.y)).toEqual(thumbnail(p.index, 32).data);
    const used = new Set(g.placements.map((p) => p.row * g.cells + p.column));
    const white = new Uint8Array(32 * 32 * 3).fill(255);
    for (let cell = 0; cell < g.cells * g.cells; cell++) {
      if (!used.has(cell)) expect(block(g, (cell % g.cells) * 32, Math.floor(cell / g.cells) * 32)).toEqual(white);
    }
  });

  it('uses a dark background on request', () => {
    const g = renderGallery(Float32Array.from([0, 0, 1, 1]), 2, (i) => thumbnail(i, 32), { ...opts, background: 'dark' });
    expect(block(g, 32, 32)).toEqual(new Uint8Array(32 * 32 * 3));
  });

  it('rejects a thumbnail of the wrong size', () => {
    expect(() => renderGallery(coords, count, (i) => thumbnail(i, 31), opts)).toThrow(GalleryInputError);
  });
});



describe('canvasSizeFor', () => {
  it('gives about 2 sqrt(faces) cells per side, whole cells, at most 5000 pixels', () => {
    expect(canvasSizeFor(1, 100)).toBe(200);
    expect(canvasSizeFor(3, 100)).toBe(400); // ceil(2 sqrt 3) = 4
    expect(canvasSizeFor(20, 100)).toBe(900); // not the paper's 5000 for a handful of faces
    expect(canvasSizeFor(13_233, 100)).toBe(5000);
    expect(canvasSizeFor(13_233, 96)).toBe(4992); // 52 whole cells
  });

  it('leaves room for most faces of a random layout', () => {
    const count = 200;
    const size = canvasSizeFor(count, 10);
    const { placements } = layoutGallery(randomCoords(count, 5), count, { canvasSize: size, thumbSize: 10 });
    expect(placements.length / count).toBeGreaterThan(0.6);
  });
});

describe('renderGallery progress', () => {
  it('reports every pasted thumbnail out of the placed ones', () => {
    const coords = Float32Array.from([0, 0, 0, 0, 1, 1]); // faces 0 and 1 share a cell: 2 placed
    const seen: [number, number][] = [];
    renderGallery(coords, 3, (i) => thumbnail(i, 10), { canvasSize: 40, thumbSize: 10, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([[1, 2], [2, 2]]);
  });
});
