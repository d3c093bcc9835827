/**
 * The human rendering of Reporter calls (CONTRIBUTING.md, "Reporting"). Everything here goes to stderr, so that
 * stdout in text mode carries only the command's result (renderText) and can be redirected.
 *  - progress: on a TTY one line rewritten in place (\r) at most every 200 ms; otherwise a plain line
 *    at most every 10 s per phase (logs stay readable), and always on a phase change
 *  - warning: "warning: <message> [CODE]"; info: the sentence; event: only with --verbose
 * Every line passes through sanitize() (CONTRIBUTING.md, "Secrets").
 */
import type { Progress, Reporter } from '../base/reporter';
import { sanitize } from '../base/secret';
import { formatBytes, formatDuration } from '../base/format';

export interface TextStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const TTY_INTERVAL_MS = 200; // "a few times a second": readable, and cheap on a slow terminal
const PLAIN_INTERVAL_MS = 10_000; // one line per 10 s keeps a day-long log of a multi-TB run short

export class TextReporter implements Reporter {
  private lastAt = -Infinity;
  private lastPhase: string | undefined;
  private lineOpen = false;

  constructor(
    private readonly err: TextStream,
    private readonly opts: { verbose?: boolean; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  progress(p: Progress): void {
    const t = this.now();
    const phaseChanged = p.phase !== this.lastPhase;
    const interval = this.err.isTTY ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS;
    const finished = p.bytesTotal !== undefined && p.bytesDone >= p.bytesTotal;
    if (!phaseChanged && !finished && t - this.lastAt < interval) return;
    this.lastAt = t;
    this.lastPhase = p.phase;
    const line = sanitize(progressLine(p));
    if (this.err.isTTY) {
      const width = Math.max(20, (this.err.columns ?? 80) - 1);
      this.err.write(`\r${line.length > width ? line.slice(0, width) : line.padEnd(width)}`);
      this.lineOpen = true;
    } else {
      this.err.write(`${line}\n`);
    }
  }

  warning(code: string, message: string): void {
    this.println(`warning: ${message} [${code}]`);
  }

  info(message: string): void {
    this.println(message);
  }

  event(type: string, data: Record<string, unknown>): void {
    if (this.opts.verbose) this.println(`${type}: ${JSON.stringify(data)}`);
  }

  /** ends an open TTY progress line so that what follows starts on its own line */
  close(): void {
    if (this.lineOpen) this.err.write('\n');
    this.lineOpen = false;
  }

  private println(s: string): void {
    this.close();
    this.err.write(`${sanitize(s)}\n`);
  }
}

/** "stage  1.2 GiB / 4.0 GiB  30%  120 files / 400  85.3 MiB/s  ETA 34s  photos/2019/a.jpg" */
export function progressLine(p: Progress): string {
  const parts = [p.phase];
  if (p.bytesTotal !== undefined && p.bytesTotal > 0) {
    const pct = Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100));
    parts.push(`${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`, `${pct}%`);
  } else {
    parts.push(formatBytes(p.bytesDone));
  }
  if (p.itemsDone !== undefined) parts.push(p.itemsTotal !== undefined ? `${p.itemsDone} / ${p.itemsTotal} items` : `${p.itemsDone} items`);
  if (p.rate !== undefined) parts.push(`${formatBytes(p.rate)}/s`);
  if (p.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.current) parts.push(p.current);
  return parts.join('  ');
}
