/**
 * A copy log, summarised for `driveseed status`: the blobs and blocks (classic DriveLog) or files
 * (2021-08-01 copy log) the service could not import, and why in words. Bounded: at most
 * MAX_FAILED_BLOBS_PER_DRIVE blobs are listed per drive, all are counted.
 */
import { COPY_ERROR_CATEGORIES, type DriveLog } from '../azure/drivelog';

/** Failed blobs listed per drive in the result (all are counted); a log can list millions. */
const MAX_FAILED_BLOBS_PER_DRIVE = 100;

export interface FailedBlock {
  offset: number;
  length: number;
  status: string;
  /** expected MD5 from the manifest */
  hash?: string;
}

export interface FailedBlob {
  blobPath: string;
  /** the file on the drive (classic logs; 2021-08-01 copy logs name the blob only) */
  filePath: string;
  length: number;
  /** the classic blob status, or the 2021-08-01 copy-error category */
  status: string;
  /** why, in words (from the blob or first failing block status) */
  reason: string;
  /** the blocks that failed (Cancelled blocks after the first failure are counted, not listed) */
  blocks: FailedBlock[];
  blocksCancelled: number;
}

export interface DriveFailures {
  /** the disk's serial number as the log names it */
  driveId: string;
  /** the drive-level status of the copy log (Completed, CompletedWithErrors, ManifestCorrupted, …) */
  status: string;
  reason?: string;
  /** the log's URL in the storage account */
  errorLogUri: string;
  /** the log's format: 2021-08-01 (databoxcopylog) or the classic 2014-11-01 / 2018-10-01 */
  format?: string;
  blobsFailed: number;
  /** at most MAX_FAILED_BLOBS_PER_DRIVE; blobsFailed counts them all */
  blobs: FailedBlob[];
}

/** Reasons for the copy log statuses that a user can act on. */
const REASONS: Record<string, string> = {
  Corrupted: 'the data on the drive did not match the MD5 in the manifest (the file changed or the drive was damaged after prep)',
  FileUnexpectedEnd: 'the file on the drive is shorter than the manifest says',
  BlobUnexpectedEnd: 'the blob is shorter than expected',
  IOFailed: 'the drive could not be read there',
  BlobRequestFailed: 'the storage account refused or failed the upload',
  BlobRequestForbidden: 'the storage account refused access',
  FileNotFound: 'the file listed in the manifest is not on the drive',
  FileAccessDenied: 'the file on the drive could not be opened',
  FileNameInvalid: 'the file name in the manifest is not valid',
  FileNameTooLong: 'the file name in the manifest is too long',
  BlobUnexpectedChange: 'the blob changed in the storage account during the import',
  LeasePresent: 'another client holds a lease on the blob',
  RenameFailed: 'the blob existed and could not be renamed',
  ManifestNotFound: 'the drive has no DriveManifest.xml where the job says',
  ManifestCorrupted: 'DriveManifest.xml does not match the manifestHash of the job (it changed after prep)',
  ManifestFormatInvalid: 'DriveManifest.xml is not a valid manifest',
  ManifestDriveIdMismatch: 'DriveManifest.xml names another drive id than the job',
  ManifestAccessDenied: 'DriveManifest.xml could not be opened',
  ReadManifestFailed: 'DriveManifest.xml could not be read',
  InternalError: 'the service failed internally',
  Failed: 'the service reported a failure',
};

function reasonOf(status: string): string {
  return REASONS[status] ?? status;
}

/** The failures a DriveLog records, summarised (bounded: at most MAX_FAILED_BLOBS_PER_DRIVE blobs listed). */
export function summariseDriveLog(log: DriveLog, errorLogUri: string): DriveFailures {
  const failed = log.blobs.filter((b) => b.status !== 'Completed');
  const out: DriveFailures = { driveId: log.driveId, status: log.status, errorLogUri, blobsFailed: failed.length, blobs: [] };
  if (log.status !== 'Completed' && log.status !== 'CompletedWithErrors' && log.status !== 'CompletedWithWarnings') out.reason = reasonOf(log.status);
  if (log.format) out.format = log.format;
  for (const b of failed.slice(0, MAX_FAILED_BLOBS_PER_DRIVE)) {
    const bad = (b.blocks ?? []).filter((k) => k.status !== 'Completed' && k.status !== 'Committed' && k.status !== 'Uncommitted' && k.status !== 'Cancelled');
    const cancelled = (b.blocks ?? []).filter((k) => k.status === 'Cancelled').length;
    const first = bad[0]?.status ?? b.status;
    // A 2021-08-01 copy log names a category and a message per file, a classic DriveLog a status per block.
    const reason = b.category
      ? `${COPY_ERROR_CATEGORIES[b.category] ?? b.category}${b.errorMessage && b.errorMessage !== b.category ? ` (${b.errorMessage})` : ''}`
      : bad[0]
        ? `block at offset ${bad[0].offset}: ${reasonOf(first)}`
        : reasonOf(first);
    out.blobs.push({
      blobPath: b.blobPath,
      filePath: b.filePath,
      length: b.length,
      status: b.category ?? b.status,
      reason,
      blocks: bad.map((k) => ({ offset: k.offset, length: k.length, status: k.status, ...(k.hash ? { hash: k.hash } : {}) })),
      blocksCancelled: cancelled,
    });
  }
  return out;
}
