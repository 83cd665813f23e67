// ProgressBar output without a terminal (logs, CI): no carriage returns, and the last line is
// written once, not repeated by done().
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../src/cli/progress.js';

function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => chunks.push(s) } };
}

describe('ProgressBar', () => {
  it('without a terminal writes whole lines and the final one once', () => {
    const { chunks, stream } = recorder(false);
    const bar = new ProgressBar('embed', 3, stream);
    bar.tick();
    bar.tick();
    bar.tick(); // reaching the total always draws
    bar.done();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatch(/^embed \[#{24}\] 3\/3 [\d.]+\/s elapsed \d+s eta 0s\n$/);
  });

  it('done() writes the final line when no tick reached the total', () => {
    const { chunks, stream } = recorder(false);
    const bar = new ProgressBar('render', 10, stream);
    bar.tick('', 4);
    bar.done();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatch(/^render \[#{10}\.{14}\] 4\/10 /);
  });

  it('in a terminal redraws one line in place and ends it', () => {
    const { chunks, stream } = recorder(true);
    const bar = new ProgressBar('k-NN', 100, stream, true);
    bar.tick('', 100);
    bar.done();
    expect(chunks.every((c) => c.startsWith('\r') || c === '\n')).toBe(true);
    expect(chunks.at(-2)).toMatch(/^\rk-NN \[#{24}\] 100% elapsed/);
    expect(chunks.at(-1)).toBe('\n');
  });
});
