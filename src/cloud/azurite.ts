/**
 * Starts a private Azurite blob service on 127.0.0.1 (random port, in-memory) for tests and bench
 * trials of the cloud side. The emulator (src/emulator) starts its own for the full Import/Export
 * flow; this one is for when only blob storage is needed.
 *
 * The child is killed by stop(), and also when this process exits, so no Azurite is left behind
 * when a test fails or throws.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY } from '../azure/azurite-account';
import { DriveseedError } from '../base/errors';
import { Secret } from '../base/secret';
import type { CloudLocation } from './client';

export { AZURITE_ACCOUNT };

export interface AzuriteHandle {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  blobEndpoint: string;
  port: number;
  pid: number;
  /** a CloudLocation for `container` with the development account key */
  location(container: string): CloudLocation;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startAzurite(options: { startTimeoutMs?: number } = {}): Promise<AzuriteHandle> {
  const bin = path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const child = spawn(
    process.execPath,
    [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`Azurite did not report a port within ${options.startTimeoutMs ?? 30_000} ms`)),
      options.startTimeoutMs ?? 30_000,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      live.delete(child);
      reject(new DriveseedError('AZURITE_START', `Could not start Azurite (${bin}): ${err.message}. Output:\n${output.slice(-2000)}`, { category: 'AZURE' }));
    };
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /successfully listens on https?:\/\/[^:\s]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`it exited with code ${code}`)));
  });
  child.removeAllListeners('exit');
  child.stdout!.resume();
  child.stderr!.resume();
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    port,
    pid: child.pid!,
    location: (container) => ({
      account: AZURITE_ACCOUNT,
      container,
      blobEndpoint,
      credentials: { kind: 'sharedKey', accountKey: new Secret(AZURITE_ACCOUNT_KEY) },
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          live.delete(child);
          return resolve();
        }
        child.once('exit', () => {
          live.delete(child);
          resolve();
        });
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
