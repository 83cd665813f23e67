/** Drawing on RGB images for annotated outputs: rectangles and landmark dots. */
import type { Point } from '../face/landmarks.js';
import type { RgbImage } from '../image.js';

export type Colour = [number, number, number];

function setPixel(img: RgbImage, x: number, y: number, [r, g, b]: Colour): void {
  const xi = Math.round(x);
  const yi = Math.round(y);
  if (xi < 0 || yi < 0 || xi >= img.width || yi >= img.height) return;
  const at = (yi * img.width + xi) * 3;
  img.data[at] = r;
  img.data[at + 1] = g;
  img.data[at + 2] = b;
}

/** Outline of the rectangle (x, y, width, height), `thickness` pixels inwards. */
export function drawRect(img: RgbImage, x: number, y: number, width: number, height: number, colour: Colour, thickness = 2): void {
  for (let t = 0; t < thickness; t++) {
    for (let i = x; i <= x + width; i++) {
      setPixel(img, i, y + t, colour);
      setPixel(img, i, y + height - t, colour);
    }
    for (let j = y; j <= y + height; j++) {
      setPixel(img, x + t, j, colour);
      setPixel(img, x + width - t, j, colour);
    }
  }
}

/** Filled square dots of side 2*radius+1 at each point. */
export function drawPoints(img: RgbImage, points: readonly Point[], colour: Colour, radius = 1): void {
  for (const [px, py] of points) {
    for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) setPixel(img, px + dx, py + dy, colour);
  }
}
