/**
 * prep's door to the native data plane (src/native/io.ts): target info, locks, and the volume-lock
 * file for mounted volumes, which have no device node driveseed could claim with O_EXCL.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { acquireLock, ioJobsUnavailable, openTarget, type TargetInfo, type TargetLock } from '../native/io';
import type { Target } from './targets';

export type { TargetInfo, TargetLock };

/** Size, sector size and serial of a device or file (opened read-only, buffered, then closed). */
export function targetInfo(p: string): TargetInfo {
  const t = openTarget(p, { direct: false });
  try {
    return t.info();
  } finally {
    t.close();
  }
}

/** The lock file of a target identity: /run/driveseed (root) or %ProgramData%\driveseed\locks (Windows), else the temp dir. */
export function volumeLockFile(identity: string): string {
  const dir =
    process.platform === 'win32' && process.env.ProgramData
      ? path.join(process.env.ProgramData, 'driveseed', 'locks')
      : fs.existsSync('/run') && process.getuid?.() === 0
        ? '/run/driveseed'
        : path.join(os.tmpdir(), 'driveseed-locks');
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
    return acquireLock(p);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_LOCKED' || code === 'EBUSY') {
      throw new DriveseedError(
        'TARGET_BUSY',
        `${t.input} is in use by another process or another driveseed (${code}); wait for it to finish or stop it (lsof ${t.path}; fuser -vm ${t.path}), then retry`,
        {
          category: 'TARGET_REFUSED',
          details: { target: t.input, reason: code },
          cause: err,
        },
      );
    }
    throw err;
  }
}

/** Why the native I/O jobs cannot run here, or undefined when they can (tests gate on this). */
export const nativeIoUnavailable = ioJobsUnavailable;
