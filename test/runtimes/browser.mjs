// Chromium: the browser entry through an import map. The probe gets the decoded pixels
// (browsers decode JPEG slightly differently from jpeg-js); the canvas-based input paths are
// checked to read back exactly those pixels.
import * as lib from 'mobileid';
import { probe } from './probe.mjs';

const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const samePixels = (a, b) => a.width === b.width && a.height === b.height && a.data.every((v, i) => v === b.data[i]);

async function inputChecks(pixels) {
  const reference = await lib.toRgbImage(pixels);
  const canvas = Object.assign(document.createElement('canvas'), { width: pixels.width, height: pixels.height });
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height), 0, 0);
  const offscreen = new OffscreenCanvas(pixels.width, pixels.height);
  offscreen.getContext('2d').drawImage(canvas, 0, 0);
  const checks = {
    pngBlob: samePixels(await lib.toRgbImage(await (await fetch('input.png')).blob()), reference),
    canvas: samePixels(await lib.toRgbImage(canvas), reference),
    offscreenCanvas: samePixels(await lib.toRgbImage(offscreen), reference),
    imageBitmap: samePixels(await lib.toRgbImage(await createImageBitmap(canvas)), reference),
    imageData: samePixels(await lib.toRgbImage(canvas.getContext('2d').getImageData(0, 0, pixels.width, pixels.height)), reference),
  };
  try {
    await lib.toRgbImage(42);
    checks.rejectsNumber = false;
  } catch (error) {
    checks.rejectsNumber = error.name === 'ImageInputError';
  }
  return checks;
}

async function main() {
  const fixture = await (await fetch('fixture.json')).json();
  const pixels = { data: await bytes('input.rgba'), width: fixture.width, height: fixture.height };
  const models = fixture.fallbackStudent ? { mobileid: await bytes('fallback-student.mobileid') } : {};
  const result = await probe(lib, pixels, { models });
  return { ...result, inputChecks: await inputChecks(pixels), resolved: new URL('./node_modules/mobileid/dist/browser.js', location.href).href };
}

window.__result = main();
