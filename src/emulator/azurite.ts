/**
 * Starts Azurite's blob service (the npm `azurite` package, pinned 3.35.0) as a child process on
 * 127.0.0.1, the supported way to run it: `require('azurite')` has no API (its main module only
 * re-exports the VS Code extension; Azure/Azurite#540).
 *
 * - Port 0 by default; the port is parsed from the "successfully listens on <url>" line.
 * - `--inMemoryPersistence` without a location; `--location <dir>` with one, so blobs survive a
 *   restart of the emulator.
 * - Accounts through AZURITE_ACCOUNTS (which disables the built-in default, so devstoreaccount1
 *   is passed explicitly when wanted).
 * - stop() kills it and waits for the exit; a process 'exit' handler kills it if the parent exits
 *   first. A SIGKILLed parent cannot run handlers: Azurite then outlives it (nothing to do about
 *   that from Node short of a watchdog process).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';

/** The well-known Azurite development account and key (src/azure/azurite-account.ts). */
export { AZURITE_ACCOUNT as DEV_ACCOUNT, AZURITE_ACCOUNT_KEY as DEV_ACCOUNT_KEY } from '../azure/azurite-account';

/** Azurite on Node 20 is up in about 2 s here; 60 s leaves room for a loaded shared machine. */
const START_TIMEOUT_MS = 60_000;

export interface AzuriteOptions {
  /** persistent data directory; absent means in memory */
  location?: string;
  /** 0 (default) picks a free port */
  port?: number;
  /** account name → base64 key */
  accounts: Record<string, string>;
}

export interface AzuriteHandle {
  /** `http://127.0.0.1:<port>` (append `/<account>` for an account's blob endpoint) */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function azuriteBlobBin(): string {
  const pkgJson = require.resolve('azurite/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(pkgJson), pkg.bin['azurite-blob']!);
}

export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteHandle> {
  const args = [azuriteBlobBin(), '--blobHost', '127.0.0.1', '--blobPort', String(opts.port ?? 0), '--skipApiVersionCheck', '--loose', '--disableTelemetry'];
  if (opts.location) {
    await fs.promises.mkdir(opts.location, { recursive: true });
    args.push('--location', opts.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  const accounts = Object.entries(opts.accounts)
    .map(([n, k]) => `${n}:${k}`)
    .join(';');
  const env: NodeJS.ProcessEnv = { ...process.env, AZURITE_ACCOUNTS: accounts };
  delete env.AZURITE_DB;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => process.off('exit', killOnExit));

  let output = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listens on" line within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const onData = (b: Buffer) => {
        output += b.toString('utf8');
        const m = /successfully listens on (http:\/\/[^\s]+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!.replace(/\/+$/, ''));
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (b: Buffer) => void (output += b.toString('utf8')));
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`azurite-blob exited (${sig ?? code}) before listening`));
      });
    });
    // Keep draining its output so a chatty Azurite never blocks on a full pipe.
    child.stdout!.removeAllListeners('data');
    child.stdout!.resume();
    child.stderr!.resume();
    const port = Number(new URL(url).port);
    return {
      url,
      port,
      pid: child.pid!,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) await exited;
    throw new DriveseedError('AZURITE_START_FAILED', `Azurite (${args[0]}) did not start: ${(err as Error).message}. Output: ${output.trim().slice(-500)}`, {
      category: 'FAILED',
      cause: err,
    });
  }
}
