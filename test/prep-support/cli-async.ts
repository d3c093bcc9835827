/**
 * Runs the CLI from source without blocking this process's event loop (spawnSync would freeze an
 * in-process emulator that the child talks to).
 */
import { spawn } from 'node:child_process';
import { MAIN, cliEnv } from '../support/cli';
import { ROOT } from '../support/rpc-client';

export function runCliAsync(
  args: string[],
  extra: Record<string, string> = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, ...args], {
    cwd: ROOT,
    env: cliEnv(extra),
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  if (input !== undefined) child.stdin!.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Parses --json stdout line by line (each line must be JSON). */
export function jsonLines(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, any>);
}
