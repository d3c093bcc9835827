/**
 * The --json rendering (docs/json-output.md): one JSON object per line on stdout, nothing else.
 * Types: progress, warning, info, event, then exactly one final result or error line. Every line
 * passes through sanitize(); Secret values serialise as "[redacted]" on their own.
 */
import type { Progress, Reporter } from '../base/reporter';
import { Secret, sanitize } from '../base/secret';

export interface LineSink {
  write(s: string): unknown;
}

// Machines read every line; 4 progress lines a second per phase is plenty and keeps a multi-hour
// log small. A phase change or a finished phase is always written.
const PROGRESS_INTERVAL_MS = 250;

/**
 * JSON.stringify that survives bigint and Error values, then the sanitizer backstop. With
 * `revealSecrets` (only for the result of a command declared returnsSecrets) Secret values are written
 * in clear and the sanitizer is skipped.
 */
export function jsonLine(obj: unknown, revealSecrets = false): string {
  // A Secret's toJSON runs before the replacer sees the value: look at the holder's own property.
  const text = JSON.stringify(obj, function (this: Record<string, unknown>, k: string, v: unknown) {
    const own = this[k];
    if (own instanceof Secret) return revealSecrets ? own.reveal() : '[redacted]';
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  });
  return revealSecrets ? text : sanitize(text);
}

export class JsonLinesReporter implements Reporter {
  private lastAt = -Infinity;
  private lastPhase: string | undefined;

  constructor(
    private readonly out: LineSink,
    private readonly now: () => number = Date.now,
  ) {}

  emit(obj: Record<string, unknown>, revealSecrets = false): void {
    this.out.write(`${jsonLine(obj, revealSecrets)}\n`);
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

  /** the final line; `revealSecrets` only for a command declared returnsSecrets */
  result(data: unknown, revealSecrets = false): void {
    this.emit({ type: 'result', data: data === undefined ? null : data }, revealSecrets);
  }

  error(payload: Record<string, unknown>): void {
    this.emit({ type: 'error', ...payload });
  }
}
