/**
 * The files the Azure portal asks for when a user creates the import job there instead of with
 * `driveseed job create`: per drive, the WAImportExport v1 journal (`.jrn`) with its DriveInfo
 * record, or `<journal name>_DriveInfo_<serial>.xml` (the same <Drive> element on its own), which
 * the portal takes instead when a journal is over 2 MB. driveseed keeps its own resume journal
 * elsewhere, so the `.jrn` it writes holds only the records the portal reads and stays far below
 * 2 MB; both files are written so the user can upload either.
 *
 * The journal grammar beyond these records is not documented; the records follow the samples the
 * WAImportExport v1 documentation shows (CRLF line ends, as the Windows tool writes them).
 *
 * Both files carry the drive's BitLocker recovery password, because the portal needs it: they are
 * written with mode 0600, and whoever holds them can unlock the drive.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Secret } from '../base/secret';
import { escapeText } from './xml';

/** What the portal accepts as a journal upload at most. */
export const PORTAL_JOURNAL_LIMIT = 2 * 1024 * 1024;

export interface PortalDrive {
  serialNumber: string;
  manifestFile: string;
  manifestHash: string;
  bitLockerKey?: Secret;
}

/** The <Drive> element of the DriveInfo record and file. */
export function driveInfoXml(d: PortalDrive): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
    `<Drive><DriveId>${escapeText(d.serialNumber)}</DriveId><BitLockerKey>${escapeText(d.bitLockerKey?.reveal() ?? '')}</BitLockerKey>` +
    `<ManifestFile>${escapeText(d.manifestFile)}</ManifestFile><ManifestHash>${escapeText(d.manifestHash.toUpperCase())}</ManifestHash></Drive>\r\n`
  );
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

/** A v1 journal holding the DriveInfo record of one drive. */
export function portalJournal(d: PortalDrive, at: Date = new Date()): string {
  const t = stamp(at);
  return [
    `[BeginUpdateRecord][${t}][Type:NewJournalFile]`,
    'VocabularyVersion: 2013-02-01',
    '[EndUpdateRecord]',
    `[BeginUpdateRecord][${t}][Type:ActivityRecord]`,
    'ActivityId: DriveInfo',
    'DriveState: [BeginValue]',
    driveInfoXml(d).replace(/\r\n$/, ''),
    '[EndValue]',
    'SaveCommandOutput: Completed',
    '[EndUpdateRecord]',
    '',
  ].join('\r\n');
}

function write0600(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Writes `<dir>/<name>-<serial>.jrn` and `<dir>/<name>-<serial>_DriveInfo_<serial>.xml` for each
 * drive; returns the paths, journal first, per drive.
 */
export function writePortalFiles(
  dir: string,
  name: string,
  drives: PortalDrive[],
  at: Date = new Date(),
): Array<{ serialNumber: string; journal: string; driveInfo: string }> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return drives.map((d) => {
    const base = `${name}-${d.serialNumber.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const journal = path.join(dir, `${base}.jrn`);
    const driveInfo = path.join(dir, `${base}_DriveInfo_${d.serialNumber.replace(/[^A-Za-z0-9._-]/g, '_')}.xml`);
    write0600(journal, portalJournal(d, at));
    write0600(driveInfo, driveInfoXml(d));
    return { serialNumber: d.serialNumber, journal, driveInfo };
  });
}
