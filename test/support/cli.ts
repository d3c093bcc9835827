/** Spawns the CLI from source (tsx) with the test-only commands registered. */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, TEST_COMMANDS } from './rpc-client';

export const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DRIVESEED_TEST: '1', DRIVESEED_TEST_COMMANDS: TEST_COMMANDS, ...extra };
  delete env.DRIVESEED_DEBUG;
  if (extra.DRIVESEED_DEBUG) env.DRIVESEED_DEBUG = extra.DRIVESEED_DEBUG;
  return env;
}

export function runCli(args: string[], extra: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: cliEnv(extra),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI, calls `onStderr` with the stderr so far on each chunk (it may kill the child). */
export function spawnCli(
  args: string[],
  onOutput: (child: ReturnType<typeof spawn>, stdout: string, stderr: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
    onOutput(child, stdout, stderr);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    onOutput(child, stdout, stderr);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
