/**
 * Errors of the repository layer. Every one is a DriveseedError with a stable code (docs/format.md,
 * docs/exit-codes.md); messages name the file and the fix and never carry key material.
 */
import { DriveseedError } from '../base/errors';

/** An I/O failure on the repository; ENOSPC becomes STAGING_FULL, which says the repository is still consistent. */
export function repoIoError(err: unknown, action: string, file: string): DriveseedError {
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (e instanceof DriveseedError) return e;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    // A data-plane error (DataPlaneError) knows the very file and offset the write failed at.
    const at = e as { path?: unknown; offset?: unknown };
    const where = typeof at.path === 'string' && at.path !== file ? at.path : undefined;
    const offset = typeof at.offset === 'number' ? at.offset : undefined;
    const place = `${where ? `: ${where}` : ''}${offset !== undefined ? ` at offset ${offset}` : ''}`;
    return new DriveseedError(
      'STAGING_FULL',
      `The staging disk is full (${e.code} while ${action} ${file}${place}). What was staged so far is consistent: free space or choose a larger --staging location and run stage again; it resumes with the data already stored.`,
      {
        category: 'FAILED',
        details: { path: file, errno: e.code, ...(where ? { file: where } : {}), ...(offset !== undefined ? { offset } : {}) },
        cause: err,
      },
    );
  }
  return new DriveseedError('REPO_IO', `Could not ${action} ${file}: ${e?.code ?? ''} ${e?.message ?? String(err)}`.replace(/\s+/g, ' ').trim(), {
    category: 'FAILED',
    details: { path: file, errno: e?.code },
    cause: err,
  });
}

/** The fix a damaged staging repository's error names. */
export const STAGING_CHECK_FIX = 'Run `driveseed check --staging <dir> --read-data` for a full report.';
/** The fix a damaged container's error names: the container is checked with --cloud, not --staging. */
export const CLOUD_CHECK_FIX = 'Run `driveseed check --cloud --read-data` for a full report of the container.';

/** The repository is damaged or not a driveseed repository; `fix` names the check for its backend. */
export function corruptError(file: string, problem: string, details: Record<string, unknown> = {}, fix: string = STAGING_CHECK_FIX): DriveseedError {
  return new DriveseedError('REPO_CORRUPT', `${file}: ${problem}. ${fix}`, {
    category: 'VERIFY_FAILED',
    details: { path: file, ...details },
  });
}
