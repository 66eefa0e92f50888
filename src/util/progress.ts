// A terminal progress bar with rate and ETA, redrawn in place on a TTY and printed as occasional
// plain lines otherwise (logs, CI).

export interface ProgressOptions {
  total: number;
  label: string;
  /** Unit of the rate, e.g. 'img' gives 'img/s'. */
  unit?: string;
  stream?: NodeJS.WriteStream;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

export class ProgressBar {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private ended = false;
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
  }

  /** Advances by `n` units; `extra` is shown after the bar (e.g. the running loss). */
  tick(n: number, extra = ''): void {
    this.done += n;
    const now = performance.now();
    const interval = this.stream.isTTY ? 100 : 10_000;
    if (now - this.lastDraw < interval || this.done >= this.options.total) return;
    this.lastDraw = now;
    this.draw(extra, false);
  }

  /** Draws the final state and ends the line (once). */
  finish(extra = ''): void {
    if (this.ended) return;
    this.ended = true;
    this.draw(extra, true);
  }

  private draw(extra: string, final: boolean): void {
    const { total, label, unit = 'it' } = this.options;
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = this.done / Math.max(elapsed, 1e-9);
    const fraction = total > 0 ? Math.min(this.done / total, 1) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const eta = final ? formatSeconds(elapsed) : formatSeconds((total - this.done) / rate);
    const line = `${label} [${bar}] ${this.done}/${total} ${rate.toFixed(1)} ${unit}/s ${final ? 'took' : 'eta'} ${eta}${extra ? `  ${extra}` : ''}`;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
