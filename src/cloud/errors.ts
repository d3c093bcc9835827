/**
 * Errors of the cloud side of the repository (docs/cloud.md, "Error codes"). Every one is a
 * DriveseedError with a stable code; messages name the blob or container and the fix, and never
 * carry a storage key, SAS token or connection string (they are Secrets and are never interpolated).
 */
import { DriveseedError } from '../base/errors';
import { sanitize } from '../base/secret';

/** The HTTP status and service error code of a failed storage call, when it has them. */
export interface StorageFailure {
  statusCode?: number;
  /** service error code (`BlobNotFound`, `LeaseAlreadyPresent`, …) or a Node errno name (`ECONNRESET`) */
  code?: string;
}

/** Reads statusCode/code from an @azure/core-rest-pipeline RestError or a Node system error. */
export function storageFailure(err: unknown): StorageFailure {
  if (!err || typeof err !== 'object') return {};
  const e = err as { statusCode?: unknown; code?: unknown; details?: { errorCode?: unknown } };
  const out: StorageFailure = {};
  if (typeof e.statusCode === 'number') out.statusCode = e.statusCode;
  const detailCode = typeof e.details?.errorCode === 'string' ? e.details.errorCode : undefined;
  if (detailCode) out.code = detailCode;
  else if (typeof e.code === 'string') out.code = e.code;
  return out;
}

function describe(err: unknown): string {
  const f = storageFailure(err);
  const head = [f.statusCode, f.code].filter((x) => x !== undefined).join(' ');
  const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return sanitize(head ? `${head}: ${msg}` : msg);
}

/**
 * A storage call failed for good (not transient, or still failing after every retry). 401/403
 * become CLOUD_AUTH, 404 CLOUD_NOT_FOUND, everything else CLOUD_IO; all in the AZURE exit category.
 */
export function cloudError(err: unknown, action: string, where: string, attempts?: number): DriveseedError {
  if (err instanceof DriveseedError) return err;
  const f = storageFailure(err);
  const tried = attempts && attempts > 1 ? ` (after ${attempts} attempts)` : '';
  const details = { blob: where, statusCode: f.statusCode, serviceCode: f.code, attempts };
  if (f.statusCode === 401 || f.statusCode === 403) {
    return new DriveseedError(
      'CLOUD_AUTH',
      `Azure refused to ${action} ${where} (${describe(err)}). Check the storage credentials saved in the staging settings (account key, SAS token with read/write/list/delete permissions, or your Azure login for DefaultAzureCredential) and that the SAS has not expired.`,
      { category: 'AZURE', details, cause: err },
    );
  }
  if (f.statusCode === 404) {
    return new DriveseedError(
      'CLOUD_NOT_FOUND',
      `Could not ${action} ${where}: it does not exist in the container (${describe(err)}). Check the account and container in the staging settings, or run \`driveseed check --cloud\` to see what is missing.`,
      { category: 'AZURE', details, cause: err },
    );
  }
  return new DriveseedError(
    'CLOUD_IO',
    `Could not ${action} ${where}${tried}: ${describe(err)}. The repository in the container is still consistent; run the command again when the storage account is reachable, it resumes.`,
    { category: 'AZURE', details, cause: err },
  );
}

/** Another client holds the repository lock (a blob lease on `locks/exclusive`). */
export function repositoryLockedError(where: string, holder: LockHolderInfo | undefined): DriveseedError {
  const who = holder
    ? `${holder.operation ?? 'an operation'} by pid ${holder.pid} on ${holder.host}, since ${holder.since}`
    : 'another client (no holder recorded)';
  return new DriveseedError(
    'REPOSITORY_LOCKED',
    `The repository ${where} is locked by ${who}. Wait for it to finish, or, if that process is gone, rerun with --force-unlock to break the lock (never while it is still running: two writers can lose each other's snapshots).`,
    { category: 'FAILED', details: { lock: where, holder } },
  );
}

/** The lease was broken or expired while this process was writing; it stopped before committing more. */
export function leaseLostError(where: string, reason: string): DriveseedError {
  return new DriveseedError(
    'LEASE_LOST',
    `Lost the repository lock ${where} while writing (${reason}); another client broke or took it. This run stopped before writing its index and snapshot, so the repository is consistent (at most unreferenced packs, which the next backup reuses). Run the command again once the other client has finished.`,
    { category: 'FAILED', details: { lock: where, reason } },
  );
}

/** Who holds a repository lock, as recorded in the lock blob's metadata (or the lock file). */
export interface LockHolderInfo {
  host: string;
  pid: number;
  /** ISO 8601 time the lock was taken */
  since: string;
  /** the command that holds it ("backup", "check", …) */
  operation?: string;
}
