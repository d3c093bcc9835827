/**
 * `driveseed rpc` on stdin/stdout: newline-delimited JSON-RPC 2.0 (docs/protocol.md).
 *
 * Stdout carries protocol only: from here on console.log/info/debug/warn/error and any other
 * process.stdout.write (a dependency's) go to stderr; the framer keeps the original write for itself.
 * EOF on stdin: every running request is cancelled, each answers (CANCELLED), then the process
 * exits 0.
 *
 * Input is bounded: a line may hold at most {@link MAX_LINE_BYTES} bytes. A longer one is answered
 * with -32600 (id null) as soon as it passes the limit, the rest of it is read and dropped up to its
 * newline, and the session goes on with the next line. Memory held for input: at most the limit plus
 * one chunk of the stream.
 */
import type { CommandSpec } from '../core/command';
import { guardStdout } from './stdout-guard';
import { RpcServer } from './server';

/**
 * 16 MiB: the largest request driveseed takes is a stage with many sources or a prep with many
 * targets, a few hundred KiB at most; 16 MiB leaves room for generated lists and keeps a client that
 * never sends a newline from growing the process without bound.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface StdioOptions {
  commands: CommandSpec<any, any, any>[];
  env: Record<string, string | undefined>;
  input?: NodeJS.ReadableStream;
  /** tests: a smaller line limit than MAX_LINE_BYTES */
  maxLineBytes?: number;
}

/**
 * Splits a byte stream into `\n`-terminated lines of at most `maxBytes` bytes (without the `\n`),
 * decoded as UTF-8 once whole (a character split across chunks stays whole). A line that grows past
 * the limit is reported once through `onTooLong` when it does, then skipped up to its newline.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: (maxBytes: number) => void,
  ) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let from = 0;
    while (from <= buf.length) {
      const nl = buf.indexOf(0x0a, from);
      const end = nl < 0 ? buf.length : nl;
      if (!this.skipping && end > from) {
        if (this.size + (end - from) > this.maxBytes) {
          this.skipping = true;
          this.parts = [];
          this.size = 0;
          this.onTooLong(this.maxBytes);
        } else {
          this.parts.push(buf.subarray(from, end));
          this.size += end - from;
        }
      }
      if (nl < 0) return;
      if (!this.skipping) this.onLine(this.take());
      this.reset();
      from = nl + 1;
    }
  }

  /** End of input: a last line without its newline still counts. */
  end(): void {
    if (!this.skipping && this.size > 0) this.onLine(this.take());
    this.reset();
  }

  private take(): string {
    return Buffer.concat(this.parts, this.size).toString('utf8');
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.skipping = false;
  }
}

/** Serves until EOF on stdin; resolves to the exit code (0). */
export function serveStdio(opts: StdioOptions): Promise<number> {
  const frame = guardStdout();
  const server = new RpcServer({ commands: opts.commands, env: opts.env, send: (m) => frame(`${m}\n`) });
  const input = opts.input ?? process.stdin;
  server.ready();
  const lines = new LineSplitter(
    opts.maxLineBytes ?? MAX_LINE_BYTES,
    (line) => server.handleLine(line),
    (max) => server.lineTooLong(max),
  );
  return new Promise<number>((resolve) => {
    input.on('data', (chunk: Buffer | string) => lines.push(chunk));
    input.on('end', () => {
      lines.end();
      void server.shutdown().then(() => resolve(0));
    });
    // SIGINT in rpc mode is an end of session, handled like EOF.
    process.once('SIGINT', () => void server.shutdown().then(() => resolve(130)));
  });
}
