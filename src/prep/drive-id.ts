/**
 * The drive id of the job's driveList and the manifest's <DriveId>: the hardware serial when the
 * disk has one; otherwise (loop devices, most virtual disks) a generated `DS` + 14 uppercase hex
 * digits written at the volume root as `driveseed-drive-id` (docs/prep.md), read back and reused on
 * every later prep, verify or emulator delivery so it stays stable.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DRIVE_ID_FILE = 'driveseed-drive-id';
export const GENERATED_ID_RE = /^DS[0-9A-F]{14}$/;

/** A serial usable as driveId ("no spaces"): trimmed, inner whitespace removed; undefined when empty. */
export function normalizeSerial(serial: string | null | undefined): string | undefined {
  const s = (serial ?? '').replace(/\s+/g, '');
  return s.length > 0 && /^[\x21-\x7e]+$/.test(s) ? s : undefined;
}

export function generateDriveId(): string {
  return `DS${randomBytes(7).toString('hex').toUpperCase()}`;
}

/** The generated id stored on a volume, or undefined when there is none (or it is malformed). */
export function readDriveIdFile(volumeDir: string): string | undefined {
  try {
    const s = fs.readFileSync(path.join(volumeDir, DRIVE_ID_FILE), 'utf8').trim();
    return GENERATED_ID_RE.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `<volume>/driveseed-drive-id` durably (temp + fsync + rename). */
export function writeDriveIdFile(volumeDir: string, id: string): void {
  const f = path.join(volumeDir, DRIVE_ID_FILE);
  const tmp = `${f}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, `${id}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, f);
}

/**
 * Resolves the drive id: serial > `preferred` (the id the journal recorded for this drive) > the id
 * file on the volume > a new id. A generated id is (re)written to the volume when it is missing.
 */
export function resolveDriveId(
  volumeDir: string,
  serial: string | null | undefined,
  preferred?: string,
): { driveId: string; source: 'serial' | 'file' | 'generated' } {
  const s = normalizeSerial(serial);
  if (s) return { driveId: s, source: 'serial' };
  const onDisk = readDriveIdFile(volumeDir);
  const id = preferred ?? onDisk ?? generateDriveId();
  if (onDisk !== id) writeDriveIdFile(volumeDir, id);
  return { driveId: id, source: onDisk === id ? 'file' : 'generated' };
}
