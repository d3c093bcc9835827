/**
 * `driveseed rpc` on stdin/stdout: newline-delimited JSON-RPC 2.0 (docs/protocol.md).
 *
 * Stdout carries protocol only: from here on console.log/info/debug/warn/error and any other
 * process.stdout.write (a dependency's) go to stderr; the framer keeps the original write for itself.
 * EOF on stdin: every running request is cancelled, each answers (CANCELLED), then the process
 * exits 0.
 */
import type { CommandSpec } from '../core/command';
import { RpcServer } from './server';

export interface StdioOptions {
  commands: CommandSpec<any, any, any>[];
  env: Record<string, string | undefined>;
  input?: NodeJS.ReadableStream;
}

/** Serves until EOF on stdin; resolves to the exit code (0). */
export function serveStdio(opts: StdioOptions): Promise<number> {
  const stdout = process.stdout;
  const frame = stdout.write.bind(stdout) as (s: string) => boolean;
  const toStderr = (...args: unknown[]) => process.stderr.write(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.warn = toStderr;
  // Anything else that writes to stdout (a dependency, a stray print) is moved to stderr.
  stdout.write = ((chunk: unknown, ...rest: unknown[]) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof stdout.write;

  const server = new RpcServer({ commands: opts.commands, env: opts.env, send: (m) => frame(`${m}\n`) });
  const input = opts.input ?? process.stdin;
  input.setEncoding?.('utf8');
  server.ready();
  return new Promise<number>((resolve) => {
    let buf = '';
    input.on('data', (chunk: string | Buffer) => {
      buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        server.handleLine(line);
      }
    });
    input.on('end', () => {
      if (buf.trim() !== '') server.handleLine(buf); // a last message without its newline still counts
      buf = '';
      void server.shutdown().then(() => resolve(0));
    });
    // SIGINT in rpc mode is an end of session, handled like EOF.
    process.once('SIGINT', () => void server.shutdown().then(() => resolve(130)));
  });
}
