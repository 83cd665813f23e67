/**
 * jSquash-style initialisation: `init()` compiles and instantiates the wasm kernels once and
 * hands every caller the same Engine. Pass the module (or its bytes) where the runtime cannot
 * locate mobileid.wasm by itself, e.g. when a bundler moved it or the platform only accepts
 * wasm imported as a module. The first call decides the source; a failed call can be retried.
 */
import { Engine, type WasmSource } from '../engine/engine.js';

let shared: Promise<Engine> | undefined;

export function initWith(defaultSource: () => WasmSource | undefined, source?: WasmSource): Promise<Engine> {
  shared ??= Engine.create(source ?? defaultSource()).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
