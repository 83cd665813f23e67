/**
 * The wasm linear memory above the module's static data, handed out in 16-byte aligned blocks.
 * Each loaded model takes one block for its packed weights and one for its activations, laid
 * out once at load time, so inference never allocates. Freed blocks are coalesced and reused.
 */
import { EngineError } from '../errors.js';
import type { WasmMemory } from './engine.js';

const ALIGN = 16;
const PAGE = 65536;

interface Block {
  start: number;
  size: number;
}

export class Arena {
  private readonly free: Block[] = [];
  private top: number;
  private cachedBuffer: ArrayBuffer | null = null;
  private cachedF32: Float32Array | null = null;
  private cachedU8: Uint8Array | null = null;
  private cachedI16: Int16Array | null = null;

  constructor(
    private readonly memory: WasmMemory,
    base: number,
  ) {
    this.top = align(base);
  }

  /** Returns the byte address of a fresh block of `bytes` bytes (contents undefined). */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, ALIGN));
    const index = this.free.findIndex((b) => b.size >= size);
    if (index >= 0) {
      const block = this.free[index];
      const start = block.start;
      if (block.size === size) this.free.splice(index, 1);
      else {
        block.start += size;
        block.size -= size;
      }
      return start;
    }
    const start = this.top;
    this.ensure(start + size);
    this.top = start + size;
    return start;
  }

  release(start: number, bytes: number): void {
    const size = align(Math.max(bytes, ALIGN));
    let i = 0;
    while (i < this.free.length && this.free[i].start < start) i++;
    this.free.splice(i, 0, { start, size });
    // merge with the following and preceding neighbours
    if (i + 1 < this.free.length && start + size === this.free[i + 1].start) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].start + this.free[i - 1].size === start) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  /** Float32 view of the whole memory; re-created whenever memory has grown. */
  get f32(): Float32Array {
    this.refresh();
    return this.cachedF32!;
  }

  get u8(): Uint8Array {
    this.refresh();
    return this.cachedU8!;
  }

  /** Int16 view (the code tensors of quantised models). */
  get i16(): Int16Array {
    this.refresh();
    return this.cachedI16!;
  }

  /** Bytes currently handed out or held in the free list (the arena's high-water mark). */
  get usedBytes(): number {
    return this.top;
  }

  private refresh(): void {
    if (this.cachedBuffer !== this.memory.buffer) {
      this.cachedBuffer = this.memory.buffer;
      this.cachedF32 = new Float32Array(this.cachedBuffer);
      this.cachedU8 = new Uint8Array(this.cachedBuffer);
      this.cachedI16 = new Int16Array(this.cachedBuffer);
    }
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch (cause) {
      throw new EngineError(`cannot grow wasm memory to ${end} bytes: ${(cause as Error).message}`);
    }
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
