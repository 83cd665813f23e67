/**
 * face-api's TinyFaceDetector (Tiny YOLO v2 with separable convs) on this engine: the image is
 * letterboxed exactly as face-api feeds it, the 5-anchor grid decoded as face-api's TinyYolov2
 * decodes it, overlapping boxes merged by greedy IoU non-maximum suppression, and the boxes
 * returned in the original image's pixels.
 *
 * Input sizes: TF 'SAME' pooling pads depend on the input size, so one graph serves one size.
 * Every other layer of this graph is size-independent (its pads are explicit), so the graph for
 * another multiple of 32 is re-planned from the shipped model's own weights at run time: no
 * extra model files, any size face-api accepts.
 */
import type { Engine } from '../engine/engine.js';
import type { GraphSpec, Layer, Preprocess } from '../engine/graph.js';
import { decodeModel, type DecodedModel, type Tensor } from '../engine/model-format.js';
import type { Model } from '../engine/model.js';
import { inferShapes, samePadding } from '../engine/plan.js';
import { MobileIdError } from '../errors.js';
import { assertRgbImage, type RgbImage } from '../image.js';
import type { Box } from './networks.js';

/** The model is a valid model file but not a TinyFaceDetector this module can decode. */
export class DetectorModelError extends MobileIdError {
  override name = 'DetectorModelError';
}

/** A detection option out of range (input size, thresholds, face count). */
export class DetectorOptionError extends MobileIdError {
  override name = 'DetectorOptionError';
}

export interface DetectorOptions {
  /** Side of the square network input, a multiple of 32 (32..2048). Default: the model's (416). */
  inputSize?: number;
  /** Keep boxes whose sigmoid(objectness) is above this, 0 <= t < 1. Default: the model's (0.5). */
  scoreThreshold?: number;
  /** Suppress a box whose IoU with a better one is above this, 0 < t <= 1. Default: the model's (0.4). */
  iouThreshold?: number;
  /** Keep at most this many faces, best first. Default: no limit. */
  maxFaces?: number;
  /**
   * Input sizes tried in turn while no large face has been found (none with a side of at least
   * LARGE_FACE_FRACTION of the photo's shorter side). A face that fills the photo is larger than
   * the tiny detector saw in training at 416 and is found at a smaller input (LFW's tightly
   * cropped photos: about half are missed at 416 alone), also when 416 found a small face beside
   * it (a bystander). A pass after faces were found adds only its large faces. Costs nothing on
   * photos where the first pass finds a large face. Default FALLBACK_INPUT_SIZES; [] turns the
   * fallback off.
   */
  fallbackSizes?: readonly number[];
}

/**
 * The default fallback: smaller inputs for faces too large for the first pass. Chosen on the
 * CelebA identity set and LFW's images, where it finds a face in nearly every photo (npm run
 * detector-recall measures it).
 */
export const FALLBACK_INPUT_SIZES: readonly number[] = [224, 160, 128, 96];

/**
 * A face whose box side is at least this share of the photo's shorter side is "large": once one
 * is found, the fallback sizes (there to find large faces) are not needed.
 */
export const LARGE_FACE_FRACTION = 0.3;

export interface Detection {
  /** In original image pixels; may reach past the image edges (faces cut by the border). */
  box: Box;
  score: number;
}

/** What graph.meta of a converted TinyFaceDetector must declare (see convertTinyFaceDetector). */
interface DetectorMeta {
  inputSize: number;
  anchors: Array<[number, number]>;
  iouThreshold: number;
  defaultScoreThreshold: number;
}

const BOX_ENCODING = ['x', 'y', 'w', 'h', 'objectness'];
/** The input conventions implemented by letterboxToTensor, as convertTinyFaceDetector records them. */
const INPUT_CONVENTIONS = ['bottom/right', 'alignCorners false, halfPixelCenters false'];
const MAX_INPUT_SIZE = 2048;

function readMeta(graph: GraphSpec): DetectorMeta {
  const meta = (graph.meta ?? {}) as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new DetectorModelError(`model "${graph.name}" is not a TinyFaceDetector this library decodes: ${what}`);
  };
  const { inputSize, anchors, iouThreshold, defaultScoreThreshold, boxEncoding, input } = meta;
  if (!Number.isInteger(inputSize) || (inputSize as number) % 32 !== 0) fail('meta.inputSize is not a multiple of 32');
  if (!Array.isArray(anchors) || !anchors.length || !anchors.every((a) => Array.isArray(a) && a.length === 2 && a.every((v) => v > 0))) {
    fail('meta.anchors must be [width, height] pairs in grid cells');
  }
  if (JSON.stringify(boxEncoding) !== JSON.stringify(BOX_ENCODING)) fail(`meta.boxEncoding must be ${JSON.stringify(BOX_ENCODING)}`);
  if (typeof input !== 'string' || !INPUT_CONVENTIONS.every((c) => input.includes(c))) {
    fail(`meta.input must record face-api's letterbox (${INPUT_CONVENTIONS.join('; ')})`);
  }
  if (!(typeof iouThreshold === 'number' && iouThreshold > 0 && iouThreshold <= 1)) fail('meta.iouThreshold must be in (0, 1]');
  if (!(typeof defaultScoreThreshold === 'number' && defaultScoreThreshold >= 0 && defaultScoreThreshold < 1)) {
    fail('meta.defaultScoreThreshold must be in [0, 1)');
  }
  const [h, w, c] = graph.input.shape;
  if (h !== inputSize || w !== inputSize || c !== 3) fail(`input shape [${graph.input.shape}] does not match meta.inputSize ${inputSize}`);
  if (graph.outputs.length !== 1) fail('expected one output (the grid)');
  if (!graph.preprocess) fail('graph declares no input preprocessing');
  return {
    inputSize: inputSize as number,
    anchors: anchors as Array<[number, number]>,
    iouThreshold: iouThreshold as number,
    defaultScoreThreshold: defaultScoreThreshold as number,
  };
}

/**
 * The detector graph for another input size: the input shape changes and every max pool gets
 * TF 'SAME' pads for its new input (face-api's pools are all 'same'); nothing else depends on
 * the size. Throws DetectorModelError if the graph has layers whose pads would have to change
 * some other way.
 */
export function detectorGraphForSize(model: DecodedModel, inputSize: number): GraphSpec {
  const { graph, tensors } = model;
  const input = { name: graph.input.name, shape: [inputSize, inputSize, 3] as [number, number, number] };
  const layers: Layer[] = [];
  let shapes = inferShapes({ ...graph, input, layers, outputs: [input.name] }, tensors);
  for (const layer of graph.layers) {
    if (layer.op === 'avgpool') throw new DetectorModelError(`layer "${layer.output}": average pools cannot be re-planned for another input size`);
    if (layer.op === 'maxpool') {
      const [h, w] = shapes.get(layer.input)!;
      const [top, bottom] = samePadding(h, layer.kernel[0], layer.stride[0]);
      const [left, right] = samePadding(w, layer.kernel[1], layer.stride[1]);
      layers.push({ ...layer, pad: [top, left, bottom, right] });
    } else {
      layers.push(layer);
    }
    shapes = inferShapes({ ...graph, input, layers, outputs: [layer.output] }, tensors);
  }
  const [cells] = shapes.get(graph.outputs[0])!;
  const meta = {
    ...graph.meta,
    inputSize,
    gridSize: cells,
    stride: inputSize / cells,
    outputShapes: Object.fromEntries(graph.outputs.map((name) => [name, shapes.get(name)])),
  };
  return { ...graph, input, layers, meta };
}

const isInputSize = (size: unknown) => Number.isInteger(size) && (size as number) >= 32 && (size as number) <= MAX_INPUT_SIZE && (size as number) % 32 === 0;

export function checkDetectorOptions(options: DetectorOptions): void {
  const { inputSize, scoreThreshold, iouThreshold, maxFaces, fallbackSizes } = options;
  if (inputSize !== undefined && !isInputSize(inputSize)) {
    throw new DetectorOptionError(`inputSize must be a multiple of 32 between 32 and ${MAX_INPUT_SIZE}, got ${inputSize}`);
  }
  if (fallbackSizes !== undefined && !(Array.isArray(fallbackSizes) && fallbackSizes.every(isInputSize))) {
    throw new DetectorOptionError(`fallbackSizes must be a list of multiples of 32 between 32 and ${MAX_INPUT_SIZE}, got ${JSON.stringify(fallbackSizes)}`);
  }
  if (scoreThreshold !== undefined && !(scoreThreshold >= 0 && scoreThreshold < 1)) {
    throw new DetectorOptionError(`scoreThreshold must be in [0, 1), got ${scoreThreshold}`);
  }
  if (iouThreshold !== undefined && !(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new DetectorOptionError(`iouThreshold must be in (0, 1], got ${iouThreshold}`);
  }
  if (maxFaces !== undefined && !(maxFaces === Infinity || (Number.isInteger(maxFaces) && maxFaces >= 1))) {
    throw new DetectorOptionError(`maxFaces must be a positive integer, got ${maxFaces}`);
  }
}

/**
 * face-api's network input (NetInput.toBatchTensor(size, false)): the image zero-padded to a
 * square at the bottom/right, then tf.image.resizeBilinear to size x size with alignCorners
 * false and halfPixelCenters false (output pixel i samples source i * side/size, its right/lower
 * neighbour clamped to the padded square, no anti-aliasing), normalised by `preprocess`.
 * Written straight into a float tensor: face-api never rounds the resized pixels.
 */
export function letterboxToTensor(image: RgbImage, size: number, preprocess: Preprocess): Float32Array {
  assertRgbImage(image);
  const { width, height, data } = image;
  const side = Math.max(width, height);
  const ratio = side / size;
  // Taps along either axis (the square's sides are equal): source index before/after, weight.
  const before = new Int32Array(size), after = new Int32Array(size), frac = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const s = i * ratio;
    before[i] = Math.floor(s);
    after[i] = Math.min(side - 1, Math.ceil(s));
    frac[i] = s - before[i];
  }
  // One source row resampled horizontally (tf's "top"/"bottom" values); padding reads 0.
  const resampleRow = (row: number, out: Float64Array) => {
    if (row >= height) return out.fill(0);
    const base = row * width * 3;
    for (let x = 0, o = 0; x < size; x++, o += 3) {
      const a = before[x] < width ? base + before[x] * 3 : -1;
      const b = after[x] < width ? base + after[x] * 3 : -1;
      const w = frac[x];
      for (let c = 0; c < 3; c++) {
        const left = a < 0 ? 0 : data[a + c];
        const right = b < 0 ? 0 : data[b + c];
        out[o + c] = left + (right - left) * w;
      }
    }
    return out;
  };
  // Two resampled rows cached: enlarging reuses rows across output rows.
  const bufA = new Float64Array(size * 3), bufB = new Float64Array(size * 3);
  let rowA = -1, rowB = -1;
  const resampled = (row: number, keepRow: number) => {
    if (rowA === row) return bufA;
    if (rowB === row) return bufB;
    if (rowA === keepRow) {
      rowB = row;
      return resampleRow(row, bufB);
    }
    rowA = row;
    return resampleRow(row, bufA);
  };
  const order = preprocess.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const scale = preprocess.scale;
  const shift = [0, 1, 2].map((k) => -preprocess.mean[k] * scale[k]);
  const out = new Float32Array(size * size * 3);
  for (let y = 0, o = 0; y < size; y++) {
    const top = resampled(before[y], after[y]);
    const bottom = resampled(after[y], before[y]);
    const w = frac[y];
    for (let x = 0; x < size * 3; x += 3, o += 3) {
      for (let k = 0; k < 3; k++) {
        const t = top[x + order[k]];
        out[o + k] = (t + (bottom[x + order[k]] - t) * w) * scale[k] + shift[k];
      }
    }
  }
  return out;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * Boxes of the grid whose score is above `scoreThreshold`, as TinyYolov2.extractBoxes decodes
 * them: cell offsets and objectness through a sigmoid, sizes as exp(t) * anchor, all in grid
 * cells, then scaled to the padded square's side in pixels. (face-api scales x and y by
 * size/round(imageSide*size/side) instead of side/imageSide, off by up to half a network pixel;
 * this is the exact mapping.)
 */
export function decodeGrid(grid: Float32Array, cells: number, anchors: ReadonlyArray<readonly [number, number]>, side: number, scoreThreshold: number): Detection[] {
  const perCell = anchors.length * BOX_ENCODING.length;
  if (grid.length !== cells * cells * perCell) {
    throw new DetectorModelError(`grid has ${grid.length} values, expected ${cells}x${cells}x${perCell}`);
  }
  const found: Detection[] = [];
  const pixelsPerCell = side / cells;
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      for (let a = 0; a < anchors.length; a++) {
        const at = (row * cells + col) * perCell + a * BOX_ENCODING.length;
        const score = sigmoid(grid[at + 4]);
        if (!(score > scoreThreshold)) continue;
        const cx = (col + sigmoid(grid[at])) * pixelsPerCell;
        const cy = (row + sigmoid(grid[at + 1])) * pixelsPerCell;
        const width = Math.exp(grid[at + 2]) * anchors[a][0] * pixelsPerCell;
        const height = Math.exp(grid[at + 3]) * anchors[a][1] * pixelsPerCell;
        found.push({ box: { x: cx - width / 2, y: cy - height / 2, width, height }, score });
      }
    }
  }
  return found;
}

/** Intersection over union of two boxes (0 when either is empty). */
export function boxIou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = w * h;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression, as face-api's: take the best remaining box, drop every box
 * overlapping it by IoU > iouThreshold, repeat (until maxFaces are kept). Best first.
 */
export function nonMaxSuppression(detections: readonly Detection[], iouThreshold: number, maxFaces = Infinity): Detection[] {
  const remaining = [...detections].sort((p, q) => q.score - p.score);
  const kept: Detection[] = [];
  while (remaining.length && kept.length < maxFaces) {
    const best = remaining.shift()!;
    kept.push(best);
    for (let i = remaining.length - 1; i >= 0; i--) if (boxIou(best.box, remaining[i].box) > iouThreshold) remaining.splice(i, 1);
  }
  return kept;
}

export class TinyFaceDetector {
  /** Options used where detect() is given none. */
  readonly defaults: Readonly<Required<DetectorOptions>>;
  private readonly decoded: DecodedModel;
  private readonly meta: DetectorMeta;
  private readonly models = new Map<number, Model>();

  /** `model`: the bytes of models/tiny-face-detector.mobileid (or the decoded file). */
  constructor(
    private readonly engine: Engine,
    model: Uint8Array | DecodedModel,
  ) {
    this.decoded = model instanceof Uint8Array ? decodeModel(model) : model;
    this.meta = readMeta(this.decoded.graph);
    const replanned = detectorGraphForSize(this.decoded, this.meta.inputSize);
    if (JSON.stringify(replanned.layers) !== JSON.stringify(this.decoded.graph.layers)) {
      throw new DetectorModelError(`model "${this.decoded.graph.name}": its pools are not TF 'SAME' pools, so it cannot be re-planned for other input sizes`);
    }
    this.defaults = {
      inputSize: this.meta.inputSize,
      scoreThreshold: this.meta.defaultScoreThreshold,
      iouThreshold: this.meta.iouThreshold,
      maxFaces: Infinity,
      fallbackSizes: FALLBACK_INPUT_SIZES,
    };
    this.modelFor(this.meta.inputSize);
  }

  /** Faces in the image, best score first: at inputSize, and at the fallback sizes until a large face is found. */
  detect(image: RgbImage, options: DetectorOptions = {}): Detection[] {
    return this.run(image, options, true).faces;
  }

  /**
   * detect()'s rule with every size run (no early stop), and every box each size found: one
   * face seen at several input sizes gets several boxes, and where one face matters (verify's
   * largest face) the face pipeline keeps the box its landmarks fit best. A large face that a
   * large bystander hid from detect() is found here too.
   */
  detectWithCandidates(image: RgbImage, options: DetectorOptions = {}): { faces: Detection[]; candidates: Detection[] } {
    return this.run(image, options, false);
  }

  private run(image: RgbImage, options: DetectorOptions, stopAtLargeFace: boolean): { faces: Detection[]; candidates: Detection[] } {
    checkDetectorOptions(options);
    const { inputSize, fallbackSizes, ...pass } = { ...this.defaults, ...definedOnly(options) };
    assertRgbImage(image);
    let faces = this.detectAt(image, inputSize, pass);
    const candidates = [...faces];
    const large = LARGE_FACE_FRACTION * Math.min(image.width, image.height);
    const side = (d: Detection) => Math.max(d.box.width, d.box.height);
    for (const size of fallbackSizes) {
      if (stopAtLargeFace && faces.some((d) => side(d) >= large)) break;
      if (size === inputSize) continue;
      const found = this.detectAt(image, size, pass);
      candidates.push(...found);
      // after faces were found, a smaller input is only asked for the large ones it exists for
      const added = faces.length ? found.filter((d) => side(d) >= large) : found;
      if (added.length) faces = nonMaxSuppression([...faces, ...added], pass.iouThreshold, pass.maxFaces);
    }
    return { faces, candidates };
  }

  /** One pass of the network at one input size. */
  private detectAt(image: RgbImage, inputSize: number, { scoreThreshold, iouThreshold, maxFaces }: Required<Pick<DetectorOptions, 'scoreThreshold' | 'iouThreshold' | 'maxFaces'>>): Detection[] {
    const model = this.modelFor(inputSize);
    const grid = model.run(letterboxToTensor(image, inputSize, model.preprocess!));
    const cells = model.outputShapes[0][0];
    const side = Math.max(image.width, image.height);
    return nonMaxSuppression(decodeGrid(grid, cells, this.meta.anchors, side, scoreThreshold), iouThreshold, maxFaces);
  }

  dispose(): void {
    for (const model of this.models.values()) model.dispose();
    this.models.clear();
  }

  private modelFor(inputSize: number): Model {
    let model = this.models.get(inputSize);
    if (!model) {
      const graph = inputSize === this.meta.inputSize ? this.decoded.graph : detectorGraphForSize(this.decoded, inputSize);
      model = this.engine.loadModel({ graph, tensors: this.decoded.tensors as Map<string, Tensor> });
      this.models.set(inputSize, model);
    }
    return model;
  }
}

/** Drops keys whose value is undefined, so spreading over defaults keeps the defaults. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
