/**
 * prep's door to the native data plane: target info, locks, the aligned copy job and the direct-read
 * hash job. Kept in one file so that prep switches to src/native/io.ts in one place once it lands.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CopyFilesEvent, CopyFilesResult, HashFilesEvent, HashFilesResult, NativeProgress, TargetInfo, TargetLock } from '../native/binding';
import { DriveseedError } from '../core/errors';
import { loadBinding } from '../native/load';
import { runJob } from '../native/run-job';
import type { Target } from './targets';

export type { TargetInfo, TargetLock };

/** Size, sector size and serial of a device or file (opened read-only, buffered, then closed). */
export function targetInfo(p: string): TargetInfo {
  const t = loadBinding().openTarget(p, { direct: false });
  try {
    return t.info();
  } finally {
    t.close();
  }
}

/** Where volume locks live: a mounted volume has no device we could O_EXCL, so we flock a file named after it. */
function volumeLockFile(identity: string): string {
  const dir = fs.existsSync('/run') && process.getuid?.() === 0 ? '/run/driveseed' : path.join(os.tmpdir(), 'driveseed-locks');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = path.join(dir, `${identity.replace(/[^A-Za-z0-9]/g, '_')}.lock`);
  if (!fs.existsSync(f)) fs.writeFileSync(f, '', { mode: 0o600 });
  return f;
}

/**
 * Claims a target for this process: O_EXCL + flock on a disk (fails while mounted or held), flock on
 * a volume's lock file. Refuses with TARGET_BUSY naming the holder kind.
 */
export function claimTarget(t: Target): TargetLock {
  const p = t.kind === 'volume' ? volumeLockFile(t.identity) : t.path;
  try {
    return loadBinding().acquireLock(p);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_LOCKED' || code === 'EBUSY') {
      throw new DriveseedError('TARGET_BUSY', `${t.input} is in use by another process or another driveseed (${code}); wait for it to finish or stop it (lsof ${t.path}; fuser -vm ${t.path}), then retry`, {
        category: 'TARGET_REFUSED',
        details: { target: t.input, reason: code },
        cause: err,
      });
    }
    throw err;
  }
}

export interface CopyItem {
  source: string;
  dest: string;
}

/** The native aligned copy (runs on native threads); per-item block MD5s arrive in order through onItem. */
export function copyFiles(
  items: CopyItem[],
  opts: { signal?: AbortSignal; direct?: boolean; onProgress?: (p: NativeProgress) => void; onItem?: (e: CopyFilesEvent) => void } = {},
): Promise<CopyFilesResult> {
  const b = loadBinding();
  return runJob<CopyFilesEvent, CopyFilesResult>(
    (cb, token) => b.copyFilesJob({ items, direct: opts.direct ?? true, blockSize: 4 * 1024 * 1024 }, cb, token),
    {
      signal: opts.signal,
      onProgress: (p, events) => {
        for (const e of events) opts.onItem?.(e);
        opts.onProgress?.(p);
      },
    },
  );
}

/** The native direct-read hash job: MD5 of every 4 MiB block of each item (runs on native threads). */
export function hashFiles(
  paths: string[],
  opts: { signal?: AbortSignal; direct?: boolean; onProgress?: (p: NativeProgress) => void } = {},
): Promise<HashFilesResult> {
  const b = loadBinding();
  return runJob<HashFilesEvent, HashFilesResult>(
    (cb, token) => b.hashFilesJob({ items: paths.map((p) => ({ path: p })), direct: opts.direct ?? true, blockSize: 4 * 1024 * 1024 }, cb, token),
    { signal: opts.signal, onProgress: (p) => opts.onProgress?.(p) },
  );
}

/** Splits the native 16-bytes-per-block buffer into uppercase hex MD5s (the manifest's spelling). */
export function blockHexes(buf: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 16 <= buf.length; i += 16) out.push(buf.subarray(i, i + 16).toString('hex').toUpperCase());
  return out;
}

/** True when the loaded addon has the I/O jobs (they are being written; tests gate on this). */
export function nativeIoAvailable(): string | undefined {
  try {
    const b = loadBinding() as unknown as Record<string, unknown>;
    if (typeof b.copyFilesJob !== 'function' || typeof b.hashFilesJob !== 'function') return 'the native addon has no copyFilesJob/hashFilesJob yet (native/src/io_jobs.cc)';
    return undefined;
  } catch (err) {
    return `native addon not loadable: ${(err as Error).message.split('\n')[0]}`;
  }
}
