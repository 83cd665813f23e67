// A small slice of `npm run concurrency`: overlapping async callers of one FaceRecognizer and
// calls sent at once to a RecognizerPool get exactly the answers of sequential calls; dispose()
// of a recognizer and close() of a pool with calls pending end each of them in a DisposedError,
// never a wrong answer or an untyped error; a new recognizer and pool answer right afterwards.
import { describe, expect, it } from 'vitest';
import { checkConcurrency } from '../src/tools/concurrency.js';

describe('concurrency slice', () => {
  it('matches sequential calls and turns every call pending at a dispose into a DisposedError', async () => {
    const report = await checkConcurrency({ calls: 12, poolSize: 2, disposeCalls: 6, inputSize: 160, seed: 3, log: () => {} });
    expect(report.recognizer).toEqual({ calls: 12, mismatches: 0, errors: 0 });
    expect(report.pool).toEqual({ size: 2, calls: 12, mismatches: 0, errors: 0 });
    for (const disposal of [report.recognizerDispose, report.poolDispose]) {
      expect(disposal).toMatchObject({ calls: 6, wrongAnswers: 0, otherErrors: 0 });
      expect(disposal.answered + disposal.typedErrors).toBe(6);
      expect(disposal.typedErrors).toBeGreaterThan(0); // the dispose met calls still pending
    }
    expect(report.usableAfter).toBe(true);
    expect(report.ok).toBe(true);
  }, 600_000);
});
