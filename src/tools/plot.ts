/**
 * A minimal line-plot renderer (ROC curves, training losses) drawn pixel by pixel into an RGB
 * image and encoded as PNG: axes with ticks and a light grid, several series, a legend and
 * axis labels in a built-in 5x7 bitmap font. No canvas, no fonts to load.
 */
import { MobileIdError } from '../errors.js';
import { encodePng, type RgbImage } from '../image.js';

/** Invalid plot options (size, colour, range, unsupported label character). */
export class PlotError extends MobileIdError {
  override name = 'PlotError';
}

export interface LineSeries {
  points: [number, number][];
  /** '#rrggbb'. */
  color: string;
  /** Shown in the legend when given. */
  label?: string;
}

export interface LinePlotOptions {
  width: number;
  height: number;
  series: LineSeries[];
  xLabel?: string;
  yLabel?: string;
  /** Axis ranges; by default the data's extent widened to whole tick steps. */
  xRange?: [number, number];
  yRange?: [number, number];
}

type Rgb = [number, number, number];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [228, 228, 228];
const TEXT: Rgb = [40, 40, 40];

/** Render the plot; returns the bytes of a PNG file. */
export function renderLinePlot(opts: LinePlotOptions): Uint8Array {
  const { width, height, series } = opts;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 64 || v > 8192) throw new PlotError(`${name} must be an integer in 64..8192, got ${v}`);
  }
  const colors = series.map((s) => parseColor(s.color));
  for (const s of series) {
    for (const p of s.points) {
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new PlotError(`series point ${p} is not finite`);
    }
  }
  const scale = width >= 480 && height >= 360 ? 2 : 1;
  const xTicks = axisTicks(opts.xRange, series.flatMap((s) => s.points.map((p) => p[0])), 'x');
  const yTicks = axisTicks(opts.yRange, series.flatMap((s) => s.points.map((p) => p[1])), 'y');

  // Margins fit the tick labels and axis labels; the rest is the plot area.
  const glyphH = GLYPH_H * scale;
  const tickLen = 4 * scale;
  const pad = 6 * scale;
  const yTickWidth = Math.max(...yTicks.labels.map((l) => textWidth(l, scale)));
  const left = pad + (opts.yLabel ? glyphH + pad : 0) + yTickWidth + tickLen + 2 * scale;
  const bottom = pad + (opts.xLabel ? glyphH + pad : 0) + glyphH + tickLen + 2 * scale;
  const top = pad + glyphH / 2;
  const right = pad + textWidth(xTicks.labels[xTicks.labels.length - 1], scale) / 2;
  const area = { x0: left, y0: top, x1: width - 1 - right, y1: height - 1 - bottom };
  if (area.x1 - area.x0 < 16 || area.y1 - area.y0 < 16) {
    throw new PlotError(`a ${width} x ${height} image leaves no room for the plot area`);
  }
  const toX = (x: number): number => area.x0 + ((x - xTicks.min) / (xTicks.max - xTicks.min)) * (area.x1 - area.x0);
  const toY = (y: number): number => area.y1 - ((y - yTicks.min) / (yTicks.max - yTicks.min)) * (area.y1 - area.y0);

  const img: RgbImage = { width, height, data: new Uint8Array(width * height * 3).fill(255) };
  const canvas = new Canvas(img);
  for (const v of xTicks.values) canvas.fillRect(Math.round(toX(v)), area.y0, 1, area.y1 - area.y0 + 1, GRID);
  for (const v of yTicks.values) canvas.fillRect(area.x0, Math.round(toY(v)), area.x1 - area.x0 + 1, 1, GRID);

  const lineWidth = 2 * scale;
  series.forEach((s, i) => {
    const pts = s.points.map(([x, y]) => [toX(x), toY(y)] as [number, number]);
    if (pts.length === 1) canvas.stamp(pts[0][0], pts[0][1], lineWidth + 2, colors[i], area);
    for (let k = 1; k < pts.length; k++) canvas.line(pts[k - 1], pts[k], lineWidth, colors[i], area);
  });

  // Axes on top of the data, ticks and tick labels outside the plot area.
  canvas.fillRect(area.x0, area.y1, area.x1 - area.x0 + 1, scale, BLACK);
  canvas.fillRect(area.x0 - scale + 1, area.y0, scale, area.y1 - area.y0 + 1, BLACK);
  xTicks.values.forEach((v, i) => {
    const x = Math.round(toX(v));
    canvas.fillRect(x, area.y1, scale, tickLen, BLACK);
    canvas.text(xTicks.labels[i], x - textWidth(xTicks.labels[i], scale) / 2, area.y1 + tickLen + 2 * scale, scale, TEXT);
  });
  yTicks.values.forEach((v, i) => {
    const y = Math.round(toY(v));
    canvas.fillRect(area.x0 - tickLen, y, tickLen, scale, BLACK);
    const label = yTicks.labels[i];
    canvas.text(label, area.x0 - tickLen - 2 * scale - textWidth(label, scale), y - glyphH / 2, scale, TEXT);
  });
  if (opts.xLabel) {
    const w = textWidth(opts.xLabel, scale);
    canvas.text(opts.xLabel, (area.x0 + area.x1 - w) / 2, height - pad - glyphH, scale, TEXT);
  }
  if (opts.yLabel) {
    const w = textWidth(opts.yLabel, scale);
    canvas.text(opts.yLabel, pad, (area.y0 + area.y1 + w) / 2, scale, TEXT, true);
  }
  drawLegend(canvas, series, colors, area, scale);
  return encodePng(img);
}

interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Legend in the corner of the plot area that hides the fewest drawn pixels. */
function drawLegend(canvas: Canvas, series: LineSeries[], colors: Rgb[], area: Rect, scale: number): void {
  const entries = series.flatMap((s, i) => (s.label ? [{ label: s.label, color: colors[i] }] : []));
  if (entries.length === 0) return;
  const pad = 4 * scale;
  const swatch = 12 * scale;
  const rowH = (GLYPH_H + 4) * scale;
  const w = pad * 3 + swatch + Math.max(...entries.map((e) => textWidth(e.label, scale)));
  const h = pad * 2 + rowH * entries.length - 4 * scale;
  const margin = 4 * scale;
  const corners = [
    { x: area.x1 - margin - w, y: area.y1 - margin - h },
    { x: area.x1 - margin - w, y: area.y0 + margin },
    { x: area.x0 + margin + scale, y: area.y0 + margin },
    { x: area.x0 + margin + scale, y: area.y1 - margin - h },
  ].map(({ x, y }) => ({ x: Math.round(x), y: Math.round(y) }));
  const best = corners.reduce((a, b) => (canvas.inkIn(b.x, b.y, w, h) < canvas.inkIn(a.x, a.y, w, h) ? b : a));
  canvas.fillRect(best.x, best.y, w, h, GRID);
  canvas.fillRect(best.x + 1, best.y + 1, w - 2, h - 2, WHITE);
  entries.forEach((e, i) => {
    const y = best.y + pad + i * rowH;
    canvas.fillRect(best.x + pad, y + (GLYPH_H * scale) / 2 - scale, swatch, 2 * scale, e.color);
    canvas.text(e.label, best.x + pad * 2 + swatch, y, scale, TEXT);
  });
}

/** Pixel writes on an RGB image, clipped to the image (and optionally a rectangle). */
class Canvas {
  constructor(private readonly img: RgbImage) {}

  set(x: number, y: number, [r, g, b]: Rgb, clip?: Rect): void {
    if (x < 0 || y < 0 || x >= this.img.width || y >= this.img.height) return;
    if (clip && (x < clip.x0 || x > clip.x1 || y < clip.y0 || y > clip.y1)) return;
    const at = (y * this.img.width + x) * 3;
    this.img.data[at] = r;
    this.img.data[at + 1] = g;
    this.img.data[at + 2] = b;
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x0 + i, y0 + j, color);
  }

  /** A size x size square centred on (x, y). */
  stamp(x: number, y: number, size: number, color: Rgb, clip: Rect): void {
    const x0 = Math.round(x - size / 2);
    const y0 = Math.round(y - size / 2);
    for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) this.set(x0 + i, y0 + j, color, clip);
  }

  /** A thick segment: squares stamped every quarter pixel along it. */
  line([ax, ay]: [number, number], [bx, by]: [number, number], width: number, color: Rgb, clip: Rect): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) * 4));
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      this.stamp(ax + (bx - ax) * t, ay + (by - ay) * t, width, color, clip);
    }
  }

  /** Number of non-white pixels in a rectangle. */
  inkIn(x: number, y: number, w: number, h: number): number {
    let ink = 0;
    for (let j = y; j < y + h; j++) {
      for (let i = x; i < x + w; i++) {
        if (i < 0 || j < 0 || i >= this.img.width || j >= this.img.height) continue;
        const at = (j * this.img.width + i) * 3;
        if (this.img.data[at] !== 255 || this.img.data[at + 1] !== 255 || this.img.data[at + 2] !== 255) ink++;
      }
    }
    return ink;
  }

  /** Text with its top-left at (x, y); `vertical` reads bottom to top from (x, y). */
  text(text: string, x: number, y: number, scale: number, color: Rgb, vertical = false): void {
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    [...text].forEach((ch, n) => {
      const rows = glyph(ch);
      for (let gy = 0; gy < GLYPH_H; gy++) {
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (!((rows[gy] >> (GLYPH_W - 1 - gx)) & 1)) continue;
          const along = (n * ADVANCE + gx) * scale;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              if (vertical) this.set(x0 + gy * scale + sy, y0 - along - sx, color);
              else this.set(x0 + along + sx, y0 + gy * scale + sy, color);
            }
          }
        }
      }
    });
  }
}

function parseColor(color: string): Rgb {
  const m = /^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(color);
  if (!m) throw new PlotError(`colour '${color}' is not of the form #rrggbb`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

interface Ticks {
  min: number;
  max: number;
  values: number[];
  labels: string[];
}

/** About five ticks at 1, 2 or 5 x 10^k steps within the given range (or the data's). */
function axisTicks(range: [number, number] | undefined, data: number[], axis: string): Ticks {
  let min: number;
  let max: number;
  if (range) {
    [min, max] = range;
    if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) {
      throw new PlotError(`${axis} range [${range}] must be two finite numbers, low < high`);
    }
  } else if (data.length === 0) {
    [min, max] = [0, 1];
  } else {
    min = Math.min(...data);
    max = Math.max(...data);
    if (min === max) [min, max] = [min - 0.5, max + 0.5];
  }
  const rough = (max - min) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  if (!range) {
    min = Math.floor(min / step + 1e-9) * step;
    max = Math.ceil(max / step - 1e-9) * step;
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const values: number[] = [];
  for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++) values.push(k * step);
  const labels = values.map((v) => {
    const s = v.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
  });
  return { min, max, values, labels };
}

// 5x7 bitmap font: each glyph is 7 rows, each row a 5-bit value written as one base-32 digit.
const GLYPH_W = 5;
const GLYPH_H = 7;
const ADVANCE = 6;
const FONT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,-+()/:%_='";
const FONT_ROWS =
  'ehjlphe 4c4444e eh1248v v2421he 26aiv22 vgu11he 68guhhe v124888 ehhehhe ehhf12c ' +
  'ehhvhhh uhhuhhu ehggghe sihhhis vgguggv vgguggg ehgnhhf hhhvhhh e44444e 72222ic ' +
  'hikokih ggggggv hrllhhh hhpljhh ehhhhhe uhhuggg ehhhlid uhhukih fgge11u v444444 ' +
  'hhhhhhe hhhhha4 hhhllla hha4ahh hha4444 v1248gv 00000cc 0000c48 000v000 044v440 ' +
  '2488842 8422248 01248g0 0cc0cc0 op248j3 000000v 00v0v00 4480000';
const FONT = new Map<string, number[]>(
  FONT_ROWS.split(' ').map((rows, i) => [FONT_CHARS[i], [...rows].map((d) => parseInt(d, 32))]),
);
FONT.set(' ', [0, 0, 0, 0, 0, 0, 0]);

function glyph(ch: string): number[] {
  const rows = FONT.get(ch.toUpperCase());
  if (!rows) throw new PlotError(`the plot font has no glyph for '${ch}'`);
  return rows;
}

function textWidth(text: string, scale: number): number {
  for (const ch of text) glyph(ch); // reject unsupported characters before layout
  return text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale;
}
