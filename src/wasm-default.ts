/**
 * Where the engine finds mobileid.wasm when the caller passes nothing: next to this module in
 * the published package (dist/mobileid.wasm), or in build/ when running from the sources.
 * Runtimes without a file system fetch it; bundles for edge runtimes pass a Module instead.
 */
const CANDIDATES = ['./mobileid.wasm', '../build/mobileid.wasm'];

export async function loadDefaultWasm(): Promise<ArrayBuffer> {
  const errors: string[] = [];
  for (const candidate of CANDIDATES) {
    const url = new URL(candidate, import.meta.url);
    try {
      if (url.protocol === 'file:') {
        const fs = await import('node:fs/promises');
        const bytes = await fs.readFile(url);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      }
      const response = await fetch(url);
      if (response.ok) return await response.arrayBuffer();
      errors.push(`${url}: HTTP ${response.status}`);
    } catch (cause) {
      errors.push(`${url}: ${(cause as Error).message}`);
    }
  }
  throw new Error(`mobileid.wasm not found; pass it to Engine.create(). Tried: ${errors.join('; ')}`);
}
