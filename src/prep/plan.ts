/**
 * The spanning planner (pure). Every file lands whole on exactly one drive; drives are filled in
 * the order given (first fit: a file goes on the first drive with room for it); at most
 * MAX_DRIVES_PER_JOB drives. Each drive keeps a reserve for NTFS metadata, the driveseed-drive-id
 * file and its DriveManifest.xml, estimated from the number of blobs and 4 MiB blocks it will list.
 */
import { DriveseedError } from '../base/errors';

/** The Import/Export limit: "up to ten drives" per job. */
export const MAX_DRIVES_PER_JOB = 10;
export const BLOCK_SIZE = 4 * 1024 * 1024;
/** NTFS allocates in 4 KiB clusters (mkntfs default for volumes up to 16 TiB). */
const CLUSTER = 4096;
/** One MFT record per file. */
const MFT_RECORD = 1024;
/** Per-drive fixed reserve: NTFS $LogFile (up to 64 MiB), $MFT zone growth, the id file. */
const FIXED_RESERVE = 8 * 1024 * 1024;
/** Manifest size per element, measured on driveseed manifests with long paths and rounded up. */
const MANIFEST_HEADER = 4096;
const MANIFEST_PER_BLOB = 512;
const MANIFEST_PER_BLOCK = 128;

export interface PlanFile {
  /** repository-relative POSIX path (it is also the blob name under the container) */
  path: string;
  size: number;
}

export interface PlanTarget {
  /** the --target as given */
  target: string;
  /** bytes free on the volume (after formatting, for a disk that will be formatted) */
  freeBytes: number;
}

export interface PlannedDrive {
  target: string;
  files: PlanFile[];
  /** data bytes of the files */
  bytes: number;
  /** bytes the files take on NTFS, plus metadata and the manifest estimate */
  allocated: number;
  manifestEstimate: number;
  freeBytes: number;
  spaceLeft: number;
}

export interface Plan {
  drives: PlannedDrive[];
  totalBytes: number;
  fileCount: number;
}

export function blocksOf(size: number): number {
  return Math.max(1, Math.ceil(size / BLOCK_SIZE));
}

/** Space a file costs on the volume, including its manifest entry. */
export function fileCost(size: number): { disk: number; manifest: number } {
  return { disk: Math.ceil(size / CLUSTER) * CLUSTER + MFT_RECORD, manifest: MANIFEST_PER_BLOB + blocksOf(size) * MANIFEST_PER_BLOCK };
}

/** Usable bytes for files on a drive with `freeBytes` free. */
export function usableBytes(freeBytes: number): number {
  return Math.max(0, freeBytes - FIXED_RESERVE - MANIFEST_HEADER);
}

/**
 * Plans which files go on which drive. Throws PREP_TOO_MANY_DRIVES (> 10 targets),
 * PREP_FILE_TOO_LARGE (a file larger than every drive) or PREP_DOES_NOT_FIT (naming the shortfall,
 * so the user can add a drive of that size). Drives that receive no file are returned empty.
 */
export function planSpanning(files: PlanFile[], targets: PlanTarget[]): Plan {
  if (targets.length === 0) throw new DriveseedError('PREP_NO_TARGET', 'Give at least one --target', { category: 'USAGE' });
  if (targets.length > MAX_DRIVES_PER_JOB) {
    throw new DriveseedError(
      'PREP_TOO_MANY_DRIVES',
      `An import job takes at most ${MAX_DRIVES_PER_JOB} drives but ${targets.length} targets were given; use larger drives or split the staging data over two jobs`,
      {
        category: 'USAGE',
        details: { targets: targets.length, max: MAX_DRIVES_PER_JOB },
      },
    );
  }
  const drives: PlannedDrive[] = targets.map((t) => ({
    target: t.target,
    files: [],
    bytes: 0,
    allocated: 0,
    manifestEstimate: MANIFEST_HEADER,
    freeBytes: t.freeBytes,
    spaceLeft: usableBytes(t.freeBytes),
  }));
  const unplaced: PlanFile[] = [];
  for (const f of files) {
    const c = fileCost(f.size);
    const d = drives.find((x) => x.spaceLeft >= c.disk + c.manifest);
    if (!d) {
      unplaced.push(f);
      continue;
    }
    d.files.push(f);
    d.bytes += f.size;
    d.allocated += c.disk;
    d.manifestEstimate += c.manifest;
    d.spaceLeft -= c.disk + c.manifest;
  }
  if (unplaced.length > 0) {
    const largestUsable = Math.max(...targets.map((t) => usableBytes(t.freeBytes)));
    const tooBig = unplaced.find((f) => fileCost(f.size).disk + fileCost(f.size).manifest > largestUsable);
    if (tooBig) {
      throw new DriveseedError(
        'PREP_FILE_TOO_LARGE',
        `${tooBig.path} (${tooBig.size} bytes) is larger than the largest drive given can hold (${largestUsable} bytes); every file must fit whole on one drive, so add a larger drive`,
        {
          category: 'USAGE',
          details: { file: tooBig.path, size: tooBig.size, largestUsable },
        },
      );
    }
    const missing = unplaced.reduce((s, f) => s + fileCost(f.size).disk + fileCost(f.size).manifest, 0) + FIXED_RESERVE + MANIFEST_HEADER;
    throw new DriveseedError(
      'PREP_DOES_NOT_FIT',
      `The staging data does not fit the drives given: ${unplaced.length} files (${unplaced.reduce((s, f) => s + f.size, 0)} bytes) are left over; add a drive with at least ${missing} bytes free`,
      {
        category: 'USAGE',
        details: { unplacedFiles: unplaced.length, unplacedBytes: unplaced.reduce((s, f) => s + f.size, 0), addBytes: missing },
      },
    );
  }
  return { drives, totalBytes: files.reduce((s, f) => s + f.size, 0), fileCount: files.length };
}
