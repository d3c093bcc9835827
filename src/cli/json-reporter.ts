/**
 * The --json rendering (docs/json-output.md): one JSON object per line on stdout, nothing else.
 * Types: progress, warning, info, event, then exactly one final result or error line. Every line
 * passes through sanitize(); Secret values serialise as "[redacted]" on their own.
 */
import type { Progress, Reporter } from '../core/reporter';
import { sanitize } from '../core/secret';

export interface LineSink {
  write(s: string): unknown;
}

// Machines read every line; 4 progress lines a second per phase is plenty and keeps a multi-hour
// log small. A phase change or a finished phase is always written.
const PROGRESS_INTERVAL_MS = 250;

/** JSON.stringify that survives bigint and Error values, then the sanitizer backstop. */
export function jsonLine(obj: unknown): string {
  return sanitize(
    JSON.stringify(obj, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) return { name: v.name, message: v.message };
      return v;
    }),
  );
}

export class JsonLinesReporter implements Reporter {
  private lastAt = -Infinity;
  private lastPhase: string | undefined;

  constructor(
    private readonly out: LineSink,
    private readonly now: () => number = Date.now,
  ) {}

  emit(obj: Record<string, unknown>): void {
    this.out.write(`${jsonLine(obj)}\n`);
  }

  progress(p: Progress): void {
    const t = this.now();
    const finished = p.bytesTotal !== undefined && p.bytesDone >= p.bytesTotal;
    if (p.phase === this.lastPhase && !finished && t - this.lastAt < PROGRESS_INTERVAL_MS) return;
    this.lastAt = t;
    this.lastPhase = p.phase;
    this.emit({ type: 'progress', ...p });
  }

  warning(code: string, message: string, details?: Record<string, unknown>): void {
    this.emit(details ? { type: 'warning', code, message, details } : { type: 'warning', code, message });
  }

  info(message: string, details?: Record<string, unknown>): void {
    this.emit(details ? { type: 'info', message, details } : { type: 'info', message });
  }

  event(type: string, data: Record<string, unknown>): void {
    this.emit({ type: 'event', event: type, data });
  }

  result(data: unknown): void {
    this.emit({ type: 'result', data: data === undefined ? null : data });
  }

  error(payload: Record<string, unknown>): void {
    this.emit({ type: 'error', ...payload });
  }
}
