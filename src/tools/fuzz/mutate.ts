/**
 * Seeded mutations for the fuzzer: byte-level havoc (bit flips, interesting integers, deletions,
 * insertions, duplications, splices from other seeds, truncation) in the style of AFL's
 * mutators, and a structure-aware mutation of JSON documents (one node replaced, removed or
 * duplicated) for the formats that carry a JSON header. Everything is drawn from `random`, so a
 * case is reproduced from its seed and index alone.
 */

export type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const below = (random: Random, n: number): number => Math.floor(random() * n);

/** Integers at the edges of the common field widths, where parsers' checks fail. */
const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** Up to `stack` random byte-level mutations of `input` (a new array; `others` feed the splices). */
export function mutateBytes(input: Uint8Array, random: Random, others: readonly Uint8Array[] = [], stack = 1 + below(random, 4)): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (let m = 0; m < stack; m++) bytes = mutateOnce(bytes, random, others);
  return bytes;
}

function mutateOnce(bytes: Uint8Array, random: Random, others: readonly Uint8Array[]): Uint8Array {
  const n = bytes.length;
  const at = below(random, Math.max(1, n));
  switch (below(random, 10)) {
    case 0: // flip one bit
      if (n) bytes[at] ^= 1 << below(random, 8);
      return bytes;
    case 1: // one byte: an interesting or random value
      if (n) bytes[at] = random() < 0.5 ? pick(random, INTERESTING) & 0xff : below(random, 256);
      return bytes;
    case 2: // a 16- or 32-bit field, either byte order: an interesting value, or nudged by a little
      return writeInteger(bytes, at, random);
    case 3: { // delete a range
      const length = 1 + below(random, Math.max(1, Math.min(n - at, 64)));
      return concat(bytes.subarray(0, at), bytes.subarray(at + length));
    }
    case 4: { // insert random bytes
      const insert = Uint8Array.from({ length: 1 + below(random, 32) }, () => below(random, 256));
      return concat(bytes.subarray(0, at), insert, bytes.subarray(at));
    }
    case 5: { // duplicate a range in place
      const length = 1 + below(random, Math.max(1, Math.min(n - at, 256)));
      return concat(bytes.subarray(0, at + length), bytes.subarray(at, at + length), bytes.subarray(at + length));
    }
    case 6: // truncate
      return bytes.slice(0, below(random, n + 1));
    case 7: { // splice in a range of another seed at the same offset (headers of a kind line up)
      if (!others.length) return bytes;
      const other = pick(random, others);
      const length = below(random, Math.min(512, Math.max(1, other.length - at)));
      const out = bytes.slice();
      out.set(other.subarray(at, at + Math.min(length, n - at)), at);
      return out;
    }
    case 8: // fill a run with one value
      if (n) bytes.fill(pick(random, [0, 0xff, below(random, 256)]), at, at + 1 + below(random, 16));
      return bytes;
    default: // a random byte
      if (n) bytes[at] = below(random, 256);
      return bytes;
  }
}

function writeInteger(bytes: Uint8Array, at: number, random: Random): Uint8Array {
  const width = random() < 0.5 ? 2 : 4;
  if (at + width > bytes.length) return bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = random() < 0.5;
  const current = width === 2 ? view.getUint16(at, little) : view.getUint32(at, little);
  const value = random() < 0.6 ? pick(random, INTERESTING) : current + below(random, 33) - 16;
  if (width === 2) view.setUint16(at, value & 0xffff, little);
  else view.setUint32(at, value >>> 0, little);
  return bytes;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** JSON values that break naive readers: wrong types, edge numbers, empty containers. */
const ODD_VALUES: unknown[] = [0, -1, 1, 2, 0.5, 1e9, 2 ** 31, 2 ** 53, -(2 ** 31), 1e308, -1e308, '', 'x', 'NaN', null, true, false, [], {}, [0], { a: 1 }];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * One structural mutation of a JSON document: a node (any depth) replaced by an odd value or by
 * another node of the document, removed from its object or array, or duplicated in its array;
 * or a number nudged. Returns the new document (the input is not modified).
 */
export function mutateJson(document: unknown, random: Random): unknown {
  const root = structuredClone(document) as Json;
  const nodes: { parent: Json[] | { [key: string]: Json }; key: string | number; value: Json }[] = [];
  const walk = (value: Json) => {
    if (Array.isArray(value)) value.forEach((v, i) => (nodes.push({ parent: value, key: i, value: v }), walk(v)));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodes.push({ parent: value, key: k, value: v }), walk(v);
  };
  walk(root);
  if (!nodes.length) return pick(random, ODD_VALUES);
  const node = pick(random, nodes);
  const set = (v: Json) => ((node.parent as Record<string | number, Json>)[node.key] = v);
  switch (below(random, 5)) {
    case 0:
      set(structuredClone(pick(random, ODD_VALUES)) as Json);
      break;
    case 1:
      set(structuredClone(pick(random, nodes).value));
      break;
    case 2:
      if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 1);
      else delete node.parent[node.key as string];
      break;
    case 3:
      if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 0, structuredClone(node.value));
      else set(structuredClone(node.value));
      break;
    default:
      if (typeof node.value === 'number') set(pick(random, [node.value + 1, node.value - 1, node.value * 2, -node.value, node.value * 1000, node.value + 0.5]));
      else set(structuredClone(pick(random, ODD_VALUES)) as Json);
  }
  return root;
}
