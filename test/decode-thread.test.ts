/**
 * The server entry's toRgbImage decodes in a worker thread: while a 24-megapixel JPEG (made here
 * by src/tools/large-jpeg.ts) is decoded, the caller's timers keep firing. A behaviour check,
 * not a speed check: the decode time (bench:decode measures it) only sets the scale of the gaps.
 * Typed errors come back across the thread as their own classes.
 */
import { describe, expect, it } from 'vitest';
import { FileReadError } from '../src/errors.js';
import { ImageDecodeError, ImageShapeError, ImageTooLargeError } from '../src/image.js';
import { workerExecArgv } from '../src/node-worker.js';
import { toRgbImage } from '../src/runtime/server.js';
import { largeJpeg } from '../src/tools/large-jpeg.js';

describe('toRgbImage off the event loop (Node)', () => {
  it('timers keep firing while a 24-megapixel JPEG is decoded', async () => {
    const bytes = largeJpeg(6000, 4000);
    await toRgbImage(new URL('../demo/samples/a.jpg', import.meta.url)); // the thread's start-up is not decoding
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const start = performance.now();
    const image = await toRgbImage(bytes);
    const end = performance.now();
    clearInterval(timer);
    expect([image.width, image.height, image.data.length]).toEqual([6000, 4000, 6000 * 4000 * 3]);
    const times = [start, ...ticks, end];
    const longestGap = Math.max(...times.slice(1).map((t, i) => t - times[i]));
    console.log(`24 MP decode: ${(end - start).toFixed(0)} ms, ${ticks.length} timer ticks, longest gap ${longestGap.toFixed(0)} ms`);
    // decoding on this thread would allow no tick at all: one gap as long as the decode
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(longestGap).toBeLessThan((end - start) / 2);
  }, 300_000);

  it('decodes at a reduced DCT scale when asked (reduceTo)', async () => {
    const bytes = largeJpeg(1600, 1200);
    expect(await toRgbImage(bytes, { reduceTo: 400 })).toMatchObject({ width: 400, height: 300 });
    expect(await toRgbImage(bytes, { reduceTo: 401 })).toMatchObject({ width: 800, height: 600 });
    expect(await toRgbImage(bytes, { reduceTo: 5000 })).toMatchObject({ width: 1600, height: 1200 });
  });

  it('sends typed errors back as their own classes', async () => {
    const bytes = largeJpeg(64, 48);
    await expect(toRgbImage(bytes, { maxPixels: 64 * 48 - 1 })).rejects.toBeInstanceOf(ImageTooLargeError);
    await expect(toRgbImage(bytes.subarray(0, bytes.length / 2))).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(toRgbImage(bytes, { reduceTo: 0 })).rejects.toBeInstanceOf(ImageShapeError);
    await expect(toRgbImage('/nonexistent/photo.jpg')).rejects.toBeInstanceOf(FileReadError);
    expect((await toRgbImage(bytes)).width).toBe(64); // the thread still works
  });
});

describe('worker threads under `node --input-type=module -e`', () => {
  it('start without the --input-type flag, which Node refuses for a worker running a file', () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'x', '--max-old-space-size=900'])).toEqual(['-e', 'x', '--max-old-space-size=900']);
    expect(workerExecArgv(['--input-type', 'module', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
  });
});
