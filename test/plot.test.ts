import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { PlotError, renderLinePlot, type LinePlotOptions } from '../src/tools/plot.js';

function decode(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

/** Positions of pixels of exactly this colour. */
function pixelsOf(png: PNG, [r, g, b]: [number, number, number]): [number, number][] {
  const found: [number, number][] = [];
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const at = (y * png.width + x) * 4;
      if (png.data[at] === r && png.data[at + 1] === g && png.data[at + 2] === b) found.push([x, y]);
    }
  }
  return found;
}

function correlation(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Pixels that differ between two decoded images of the same size. */
function differingPixels(a: PNG, b: PNG): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < a.data.length; k += 4) {
    if (a.data[k] !== b.data[k] || a.data[k + 1] !== b.data[k + 1] || a.data[k + 2] !== b.data[k + 2]) {
      out.push([(k / 4) % a.width, Math.floor(k / 4 / a.width)]);
    }
  }
  return out;
}

const diagonal: LinePlotOptions = {
  width: 320,
  height: 240,
  series: [{ points: [[0, 0], [1, 1]], color: '#ff0000' }],
  xRange: [0, 1],
  yRange: [0, 1],
};

describe('renderLinePlot', () => {
  it('draws y = x as a continuous rising line across the plot area', () => {
    const png = decode(renderLinePlot(diagonal));
    expect([png.width, png.height]).toEqual([320, 240]);
    const red = pixelsOf(png, [255, 0, 0]);
    const xs = red.map((p) => p[0]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    // Spans most of the image, with no gaps from one end to the other.
    expect(x1 - x0).toBeGreaterThan(0.7 * png.width);
    for (let x = x0; x <= x1; x++) expect(xs).toContain(x);
    // Rising in data coordinates = falling in image rows: a straight line of slope < 0.
    expect(correlation(red)).toBeLessThan(-0.99);
    // Its ends sit at the plot-area corners: bottom-left and top-right.
    const left = red.filter((p) => p[0] === x0).map((p) => p[1]);
    const right = red.filter((p) => p[0] === x1).map((p) => p[1]);
    expect(Math.min(...left)).toBeGreaterThan(0.75 * png.height);
    expect(Math.max(...right)).toBeLessThan(0.15 * png.height);
  });

  it('draws several series in their colours, a legend, and axis labels', () => {
    const base: LinePlotOptions = {
      width: 640,
      height: 480,
      series: [
        { points: [[0, 0], [0.1, 0.8], [1, 1]], color: '#1f77b4' },
        { points: [[0, 0], [1, 1]], color: '#7f7f7f' },
      ],
      xRange: [0, 1],
      yRange: [0, 1],
    };
    const plain = decode(renderLinePlot(base));
    expect(pixelsOf(plain, [0x1f, 0x77, 0xb4]).length).toBeGreaterThan(500);
    expect(pixelsOf(plain, [0x7f, 0x7f, 0x7f]).length).toBeGreaterThan(500);

    const labelled = decode(
      renderLinePlot({
        ...base,
        series: [
          { ...base.series[0], label: 'JB auc 0.99' },
          { ...base.series[1], label: 'chance' },
        ],
        xLabel: 'False positive rate',
        yLabel: 'True positive rate',
      }),
    );
    const changed = differingPixels(plain, labelled);
    expect(changed.length).toBeGreaterThan(200);
    // The x label sits in the bottom band, the y label in the left band, the legend inside.
    expect(changed.some(([x, y]) => y > 0.9 * 480 && x > 200 && x < 440)).toBe(true);
    expect(changed.some(([x, y]) => x < 0.06 * 640 && y > 150 && y < 330)).toBe(true);
  });

  it('fits the axes to the data when no range is given', () => {
    const loss = Array.from({ length: 50 }, (_, i) => [i, 2 * Math.exp(-i / 10) + 0.1] as [number, number]);
    const png = decode(renderLinePlot({ width: 400, height: 300, series: [{ points: loss, color: '#00aa00' }] }));
    const green = pixelsOf(png, [0, 0xaa, 0]);
    expect(green.length).toBeGreaterThan(300);
    // A falling curve: starts high on the left, ends low on the right.
    const first = green.reduce((a, b) => (b[0] < a[0] ? b : a));
    const last = green.reduce((a, b) => (b[0] > a[0] ? b : a));
    expect(first[1]).toBeLessThan(last[1]);
    expect(decode(renderLinePlot({ width: 100, height: 80, series: [{ points: [[3, 3]], color: '#000000' }] })).width).toBe(100);
  });

  it('rejects bad options with PlotError', () => {
    const bad: Partial<LinePlotOptions>[] = [
      { width: 10 },
      { height: 100.5 },
      { series: [{ points: [[0, 0]], color: 'red' }] },
      { series: [{ points: [[0, NaN]], color: '#000000' }] },
      { xRange: [1, 1] },
      { yRange: [0, Infinity] },
      { xLabel: 'λ' },
    ];
    for (const b of bad) expect(() => renderLinePlot({ ...diagonal, ...b })).toThrow(PlotError);
  });
});
