/**
 * A one-line progress bar on stderr (count, rate, ETA, a status note); plain lines instead when
 * stderr is not a terminal, at most every few seconds, so logs stay readable.
 */
export class ProgressBar {
  private count = 0;
  private readonly start = performance.now();
  private lastDraw = performance.now();
  /** The count of the last line written; done() does not repeat a line already written. */
  private drawnCount = -1;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: { write(s: string): unknown; isTTY?: boolean } = globalThis.process?.stderr ?? { write: () => true },
    /** Show the count as a percentage of the total, without a rate (for stages measured in fractions). */
    private readonly percent = false,
  ) {
    this.tty = Boolean(this.stream.isTTY);
  }

  tick(note = '', increment = 1): void {
    this.count += increment;
    const now = performance.now();
    if (this.count < this.total && now - this.lastDraw < (this.tty ? 200 : 5000)) return;
    this.lastDraw = now;
    this.draw(note);
  }

  /** Final line with the total time. */
  done(note = ''): void {
    if (this.tty || this.count !== this.drawnCount || note) this.draw(note);
    if (this.tty) this.stream.write('\n');
  }

  private draw(note: string): void {
    this.drawnCount = this.count;
    const seconds = (performance.now() - this.start) / 1000;
    const rate = this.count / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (this.total - this.count) / rate : Infinity;
    const fraction = this.total ? this.count / this.total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const amount = this.percent ? `${Math.round(fraction * 100)}%` : `${this.count}/${this.total} ${rate.toFixed(1)}/s`;
    const line = `${this.label} ${bar} ${amount} ` +
      `elapsed ${formatSeconds(seconds)} eta ${Number.isFinite(eta) ? formatSeconds(eta) : '?'}${note ? ` ${note}` : ''}`;
    this.stream.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }
}

function formatSeconds(s: number): string {
  const m = Math.floor(s / 60);
  return m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
