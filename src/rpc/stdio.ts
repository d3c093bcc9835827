/**
 * `driveseed rpc` on stdin/stdout: newline-delimited JSON-RPC 2.0 (docs/protocol.md).
 *
 * Stdout carries protocol only: from here on console.log/info/debug/warn/error and any other
 * process.stdout.write (a dependency's) go to stderr; the framer keeps the original write for itself.
 * EOF on stdin: every running request is cancelled, each answers (CANCELLED), then the process
 * exits 0.
 */
import type { CommandSpec } from '../core/command';
import { guardStdout } from '../cli/stdout-guard';
import { RpcServer } from './server';

export interface StdioOptions {
  commands: CommandSpec<any, any, any>[];
  env: Record<string, string | undefined>;
  input?: NodeJS.ReadableStream;
}

/** Serves until EOF on stdin; resolves to the exit code (0). */
export function serveStdio(opts: StdioOptions): Promise<number> {
  const frame = guardStdout();
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
