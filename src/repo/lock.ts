/**
 * The repository write lock (docs/format.md §Locks): `locks/exclusive`, created with O_EXCL and
 * holding {pid, host, time, command}. One writer at a time; readers (check, restore) take no lock.
 * A lock left by a process that no longer runs on this host is stale and is taken over with a
 * warning; a lock from another host is never broken automatically. In the cloud the same rule is a
 * blob lease on the blob of the same name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { fsyncDir } from './atomic';
import { repoIoError } from './errors';
import { LOCK_FILE } from './layout';

export interface LockInfo {
  pid: number;
  host: string;
  time: string;
  command: string;
}

export interface RepoLock {
  readonly file: string;
  /** present when a stale lock was taken over */
  readonly replaced?: LockInfo;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the write lock of the repository at `root` or throws REPOSITORY_LOCKED naming the holder. */
export function acquireRepoLock(root: string, command: string): RepoLock {
  const file = path.join(root, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), time: new Date().toISOString(), command };
  let replaced: LockInfo | undefined;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (err) {
    throw repoIoError(err, 'create', path.dirname(file));
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      try {
        fs.writeFileSync(fd, JSON.stringify(info) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fsyncDir(path.dirname(file));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw repoIoError(err, 'create the lock', file);
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
      } catch {
        holder = undefined; // torn lock file: its writer died between create and write
      }
      const stale = !holder || (holder.host === info.host && !alive(holder.pid));
      if (!stale || attempt > 2) {
        throw new DriveseedError(
          'REPOSITORY_LOCKED',
          `The repository at ${root} is locked by ${holder ? `${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.time})` : 'another process'}. Wait for it to finish; if that process is gone for good, delete ${file}.`,
          { category: 'FAILED', details: { path: file, holder } },
        );
      }
      replaced = holder;
      try {
        fs.unlinkSync(file);
      } catch {
        /* someone else removed it first: retry the create */
      }
    }
  }
  let released = false;
  return {
    file,
    ...(replaced ? { replaced } : {}),
    release() {
      if (released) return;
      released = true;
      try {
        const now = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
        if (now.pid === info.pid && now.host === info.host && now.time === info.time) fs.unlinkSync(file);
      } catch {
        /* already gone */
      }
    },
  };
}
