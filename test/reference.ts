/**
 * Plain TypeScript reference implementations of every layer (NHWC, f64 accumulation, no
 * packing, no SIMD), used to check the wasm kernels. Deliberately written the obvious way.
 */
import type { Activation, GraphSpec, Layer } from '../src/engine/graph.js';
import type { Tensor } from '../src/engine/model-format.js';

type Shape = [number, number, number];
interface Value { shape: Shape; data: Float64Array }

function activate(v: number, act: Activation, c: number, tensors: Map<string, Tensor>): number {
  switch (act.kind) {
    case 'relu': return Math.max(v, 0);
    case 'leaky': return Math.max(v, act.alpha * v);
    case 'prelu': return v < 0 ? v * tensors.get(act.slope)!.data[c] : v;
    default: return v;
  }
}

function layerRef(layer: Layer, values: Map<string, Value>, tensors: Map<string, Tensor>): Value {
  const get = (n: string) => values.get(n)!;
  switch (layer.op) {
    case 'conv': {
      const x = get(layer.input);
      const [h, w, c] = x.shape;
      const [kh, kw] = layer.kernel; const [sh, sw] = layer.stride; const [pt, pl, pb, pr] = layer.pad;
      const oh = Math.floor((h + pt + pb - kh) / sh) + 1; const ow = Math.floor((w + pl + pr - kw) / sw) + 1;
      const cinG = c / layer.groups; const coutG = layer.cout / layer.groups;
      const W = tensors.get(layer.weights)!.data; const B = layer.bias ? tensors.get(layer.bias)!.data : null;
      const out = new Float64Array(oh * ow * layer.cout);
      for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let co = 0; co < layer.cout; co++) {
        const g = Math.floor(co / coutG);
        let s = B ? B[co] : 0;
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
          const iy = oy * sh + ky - pt; const ix = ox * sw + kx - pl;
          if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
          for (let ci = 0; ci < cinG; ci++) {
            s += x.data[(iy * w + ix) * c + g * cinG + ci] * W[((ky * kw + kx) * cinG + ci) * layer.cout + co];
          }
        }
        out[(oy * ow + ox) * layer.cout + co] = activate(s, layer.activation, co, tensors);
      }
      return { shape: [oh, ow, layer.cout], data: out };
    }
    case 'maxpool': case 'avgpool': {
      const x = get(layer.input); const [h, w, c] = x.shape;
      const [kh, kw] = layer.kernel; const [sh, sw] = layer.stride; const [pt, pl, pb, pr] = layer.pad;
      const oh = Math.floor((h + pt + pb - kh) / sh) + 1; const ow = Math.floor((w + pl + pr - kw) / sw) + 1;
      const out = new Float64Array(oh * ow * c);
      for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let ch = 0; ch < c; ch++) {
        let best = -Infinity; let sum = 0; let n = 0;
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
          const iy = oy * sh + ky - pt; const ix = ox * sw + kx - pl;
          if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
          const v = x.data[(iy * w + ix) * c + ch]; best = Math.max(best, v); sum += v; n++;
        }
        out[(oy * ow + ox) * c + ch] = layer.op === 'maxpool' ? best : sum / n;
      }
      return { shape: [oh, ow, c], data: out };
    }
    case 'globalavgpool': {
      const x = get(layer.input); const [h, w, c] = x.shape;
      const out = new Float64Array(c);
      for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[ch] += x.data[p * c + ch] / (h * w);
      return { shape: [1, 1, c], data: out };
    }
    case 'dense': {
      const x = get(layer.input); const n = x.data.length;
      const W = tensors.get(layer.weights)!.data; const B = layer.bias ? tensors.get(layer.bias)!.data : null;
      const out = new Float64Array(layer.units);
      for (let u = 0; u < layer.units; u++) {
        let s = B ? B[u] : 0;
        for (let i = 0; i < n; i++) s += x.data[i] * W[i * layer.units + u];
        out[u] = activate(s, layer.activation, u, tensors);
      }
      return { shape: [1, 1, layer.units], data: out };
    }
    case 'affine': {
      const x = get(layer.input); const c = x.shape[2];
      const S = tensors.get(layer.scale)!.data; const T = tensors.get(layer.shift)!.data;
      return { shape: x.shape, data: x.data.map((v, i) => activate(v * S[i % c] + T[i % c], layer.activation, i % c, tensors)) };
    }
    case 'add': {
      const a = get(layer.inputs[0]); const b = get(layer.inputs[1]);
      const [h, w, c] = a.shape; const [bh, bw, bc] = b.shape;
      const out = new Float64Array(h * w * c);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) {
        const extra = y < bh && x < bw && ch < bc ? b.data[(y * bw + x) * bc + ch] : 0;
        out[(y * w + x) * c + ch] = activate(a.data[(y * w + x) * c + ch] + extra, layer.activation, ch, tensors);
      }
      return { shape: a.shape, data: out };
    }
    case 'pad': {
      const x = get(layer.input); const [h, w, c] = x.shape;
      const oh = h + layer.pad[0] + layer.pad[2]; const ow = w + layer.pad[1] + layer.pad[3];
      const out = new Float64Array(oh * ow * layer.channels);
      for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) {
        out[((y + layer.pad[0]) * ow + xx + layer.pad[1]) * layer.channels + ch] = x.data[(y * w + xx) * c + ch];
      }
      return { shape: [oh, ow, layer.channels], data: out };
    }
    case 'activation': {
      const x = get(layer.input); const c = x.shape[2];
      return { shape: x.shape, data: x.data.map((v, i) => activate(v, layer.activation, i % c, tensors)) };
    }
  }
}

/** Runs `graph` on one image the plain way; returns every graph output. */
export function referenceRun(graph: GraphSpec, tensors: Map<string, Tensor>, image: Float32Array | Float64Array): Float64Array[] {
  const values = new Map<string, Value>([[graph.input.name, { shape: graph.input.shape, data: Float64Array.from(image) }]]);
  for (const layer of graph.layers) values.set(layer.output, layerRef(layer, values, tensors));
  return graph.outputs.map((n) => values.get(n)!.data);
}

/** max |a - b| / max(|b|max, tiny): relative to the reference's scale. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0; let scale = 1e-12;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return diff / scale;
}
