/**
 * The one door through which prep's platform code runs external commands (PowerShell on Windows).
 * Injectable so that tests replay recorded output: a CommandRunner gets the exact file and argument
 * vector that would be executed and answers with status, stdout and stderr. The real runner spawns
 * the process without a shell (no quoting layer between us and the argument vector).
 */
import { spawn } from 'node:child_process';

export interface CommandSpec {
  file: string;
  args: string[];
  /** kill the process after this long; the result then has status null and signal SIGTERM */
  timeoutMs: number;
}

export interface CommandOutput {
  /** exit status; null when killed (timeout, cancel) or when it never started (then `error`) */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the spawn error (ENOENT: not installed) */
  error?: NodeJS.ErrnoException;
}

/** Runs one command to completion. Must not throw for a failing command: the caller reads status. */
export type CommandRunner = (cmd: CommandSpec, signal?: AbortSignal) => Promise<CommandOutput>;

/** The real runner: child_process.spawn, no shell, no window (Windows), output collected as UTF-8. */
export const spawnRunner: CommandRunner = (cmd, signal) =>
  new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (out: CommandOutput) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(out);
    };
    const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const onAbort = () => child.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => child.kill(), cmd.timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => done({ status: null, signal: null, stdout, stderr, error }));
    child.once('close', (status, sig) => done({ status, signal: sig, stdout, stderr }));
  });
