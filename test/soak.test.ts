// A small slice of `npm run soak`: repeated embeddings, verify calls and recognizer
// create/dispose give bit-identical results, free what they load, and match a fresh process.
import { describe, expect, it } from 'vitest';
import { soak } from '../src/tools/soak.js';

describe('soak slice', () => {
  it('repeats bit-identically, frees every recognizer and matches a fresh process', async () => {
    // 80 verify calls: every one of the 66 pairs once, then repeats (detector at 160 to keep it quick)
    const report = await soak({ embeddings: 120, verifies: 80, recognizers: 8, inputSize: 160, log: () => {} });
    for (const stage of [report.embeddings, report.verifies, report.recognizers]) {
      expect(stage.identical).toBe(true);
      expect(stage.wasmEnd).toBe(stage.wasmWarm); // the wasm memory does not grow once warmed up
    }
    expect(report.embeddings.distinct).toBeGreaterThan(4);
    expect(report.verifies.count).toBeGreaterThan(report.verifies.distinct);
    expect(report.complete).toBe(true);
    expect(report.freshProcessIdentical).toBe(true);
  }, 600_000);
});
