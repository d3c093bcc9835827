/**
 * Atomic, durable file writes (docs/format.md, "Write order"): write a temp file with the
 * repository's temp prefix in the destination directory, fsync it, rename it over the final name,
 * fsync the directory. A crash leaves either the old state or the new file, plus at most a temp file
 * that `check` reports as garbage.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoIoError } from './errors';
import { TEMP_PREFIX } from './layout';

/** fsync a directory so a rename or create inside it survives power loss (no-op where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    // Windows cannot open directories for fsync; NTFS journals renames itself.
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A fresh temp name in `dir` with the repository's temp prefix. */
export function tempPath(dir: string, tag: string): string {
  return path.join(dir, `${TEMP_PREFIX}${tag}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `file` atomically and durably, replacing any previous file of that name. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(file);
  const tmp = tempPath(dir, 'w');
  try {
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(dir);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* already renamed or never created */
    }
    throw repoIoError(err, 'write', file);
  }
}

/**
 * Writes `data` to `file` atomically but not durably: a temp file renamed over the final name, no
 * fsync. For cache entries that are verified on every read (a checksum or authentication), where a
 * crash may leave a damaged entry that the next read refuses and fetches again.
 */
export function writeCacheFile(file: string, data: Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = tempPath(dir, 'c');
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw repoIoError(err, 'write', file);
  }
}
