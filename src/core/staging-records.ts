/**
 * The staging location's records, owned here and nowhere else. Every command that reads or writes
 * them goes through this module, so there is one reader per record with one set of errors:
 *
 *  - `.prep/drives.json`: the drives prep wrote (serial number, manifest file and hash, size), read
 *    by job create, verify, status and keys ({@link readPreparedDrives}).
 *  - `.prep/keys.json` (mode 0600): the BitLocker recovery passwords prep set, revealed only into the
 *    job's create body and the portal files ({@link readDriveKeys}).
 *  - `settings.seed` in `settings.json`: the seed's progress as a state machine
 *    ({@link SeedState}, {@link advanceSeed}) and the import job's reference ({@link JobReference}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError, usageError } from '../base/errors';
import { Secret } from '../base/secret';
import { journalDir } from '../prep/journal';
import { writeFileAtomic } from '../repo/atomic';
import { readSettings, settingsPath, updateSettings } from './settings';

// ---------------------------------------------------------------------------------------------
// Prepared drives
// ---------------------------------------------------------------------------------------------

/**
 * Where a drive's id came from. The service identifies a disk by its hardware serial number
 * (`hardware`); a `generated` id (virtual disks without a serial) is only good for the emulator.
 */
export type DriveIdSource = 'hardware' | 'generated';

/** A drive as prep recorded it. */
export interface PreparedDriveRecord {
  /** the disk's serial number (the key of the job's importDiskDetailsCollection) */
  driveId: string;
  /** absent in records written before driveseed knew the difference: read as `generated` */
  driveIdSource?: DriveIdSource;
  /** bytes per logical sector, when the platform reported it */
  logicalSectorSize?: number;
  manifestFile: string;
  /** Base16 MD5 of the manifest file on the drive */
  manifestHash: string;
  target?: string;
  files?: number;
  bytes?: number;
  verified?: boolean | null;
}

export interface PreparedDrives {
  encryption: string;
  drives: PreparedDriveRecord[];
}

export function drivesFile(staging: string): string {
  return path.join(journalDir(staging), 'drives.json');
}

function keysFile(staging: string): string {
  return path.join(journalDir(staging), 'keys.json');
}

/** JSON, atomically and durably (temp + fsync + rename); the file is 0600 either way. */
function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Written by prep after every drive's manifest (and read-back); replaces the previous record. */
export function writePreparedDrives(staging: string, record: PreparedDrives): string {
  const file = drivesFile(staging);
  writeJsonAtomic(file, { version: 1, ...record });
  return file;
}

/**
 * The drives prep recorded. With `required` (job create, keys) a missing record is PREP_NOT_DONE
 * (USAGE) naming the prep command; without it (status, verify of a drive prepared elsewhere) a
 * missing record is `undefined`. A record that exists but cannot be read is PREP_RECORD_INVALID
 * (FAILED) either way: rerunning prep rewrites it.
 */
export function readPreparedDrives(staging: string, opts: { required: true }): PreparedDrives;
export function readPreparedDrives(staging: string, opts?: { required?: boolean }): PreparedDrives | undefined;
export function readPreparedDrives(staging: string, opts: { required?: boolean } = {}): PreparedDrives | undefined {
  const file = drivesFile(staging);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!opts.required) return undefined;
      throw usageError(
        'PREP_NOT_DONE',
        `${file} does not exist: no drives have been prepared from ${staging}; run driveseed prep --staging ${staging} --target … first`,
        { staging, file },
      );
    }
    throw new DriveseedError('PREP_RECORD_INVALID', `${file} cannot be read (${(err as NodeJS.ErrnoException).code}); rerun driveseed prep to rewrite it`, {
      category: 'FAILED',
      details: { file },
    });
  }
  let doc: { version?: unknown; encryption?: unknown; drives?: unknown };
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DriveseedError('PREP_RECORD_INVALID', `${file} is not valid JSON (${(err as Error).message}); rerun driveseed prep to rewrite it`, {
      category: 'FAILED',
      details: { file },
    });
  }
  const drives = Array.isArray(doc.drives) ? doc.drives : [];
  const valid = drives.every(
    (d) => typeof d === 'object' && d !== null && typeof d.driveId === 'string' && d.driveId !== '' && typeof d.manifestHash === 'string',
  );
  if (doc.version !== 1 || drives.length === 0 || !valid) {
    throw new DriveseedError('PREP_RECORD_INVALID', `${file} lists no valid drives; rerun driveseed prep to rewrite it`, {
      category: 'FAILED',
      details: { file },
    });
  }
  return { encryption: typeof doc.encryption === 'string' ? doc.encryption : 'none', drives: drives as PreparedDriveRecord[] };
}

/** BitLocker keys for the job, revealed only here, in the create body and the portal files; the file is 0600. */
export function saveDriveKeys(staging: string, keys: Array<{ driveId: string; key: Secret }>): void {
  writeJsonAtomic(keysFile(staging), { version: 1, keys: keys.map((k) => ({ driveId: k.driveId, bitLockerKey: k.key.reveal() })) });
}

/** The BitLocker keys prep saved, by drive id; empty when prep set none (`--encryption none`). */
export function readDriveKeys(staging: string): Map<string, Secret> {
  const out = new Map<string, Secret>();
  let text: string;
  try {
    text = fs.readFileSync(keysFile(staging), 'utf8');
  } catch {
    return out;
  }
  try {
    const doc = JSON.parse(text) as { keys?: Array<{ driveId?: unknown; bitLockerKey?: unknown }> };
    for (const e of doc.keys ?? []) if (typeof e.driveId === 'string' && typeof e.bitLockerKey === 'string') out.set(e.driveId, new Secret(e.bitLockerKey));
  } catch {
    throw new DriveseedError(
      'PREP_RECORD_INVALID',
      `${keysFile(staging)} is not valid JSON; the BitLocker keys are on the drives' volumes: read them with manage-bde -protectors -get on Windows, or from the job with driveseed keys --from-job`,
      {
        category: 'FAILED',
        details: { file: keysFile(staging) },
      },
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The import job's reference
// ---------------------------------------------------------------------------------------------

/** The job as saved in the staging settings (`settings.seed.job`). */
export interface JobReference {
  name: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  account: string;
  /** ISO time the service reports (systemData.createdAt), else the local time of the create call */
  createdAt: string;
  /** the job's status at the last time driveseed looked (DeviceOrdered after create, …) */
  state: string;
  /** the emulator ARM endpoint when the job lives there; absent for real Azure */
  emulator?: string;
}

function seedOf(staging: string): Record<string, unknown> {
  const seed = readSettings(staging)?.seed;
  return typeof seed === 'object' && seed !== null ? seed : {};
}

/** The job reference saved by job create, or JOB_NOT_CREATED naming the command that creates it. */
export function savedJob(staging: string): JobReference {
  const job = seedOf(staging).job as JobReference | undefined;
  if (!job || typeof job.name !== 'string' || typeof job.resourceGroup !== 'string' || typeof job.subscription !== 'string') {
    throw usageError(
      'JOB_NOT_CREATED',
      `No import job has been created for ${staging} yet (${settingsPath(staging)} has no seed.job); run driveseed job create --staging ${staging} (or prep without --no-job)`,
      { staging },
    );
  }
  return job;
}

/** The saved job reference, or undefined when none was saved. */
export function savedJobIfAny(staging: string): JobReference | undefined {
  try {
    return savedJob(staging);
  } catch {
    return undefined;
  }
}

/** Saves the job reference in settings.seed.job (the rest of settings.seed is kept). */
export function saveJobReference(staging: string, job: JobReference): void {
  updateSettings(staging, { seed: { ...seedOf(staging), job }, ...(job.emulator ? { emulator: job.emulator } : {}) });
}

// ---------------------------------------------------------------------------------------------
// The seed's state machine (settings.seed.state)
// ---------------------------------------------------------------------------------------------

/**
 * The seed's progress, in order. Each command moves it forward only:
 * prep → `prepared`; job create → `job-created`; ship → `shipped`; status, while the datacenter
 * copies → `importing`, once the job completed → `imported`; complete → `complete`.
 * The one step back is a cancelled job (job cancel): → `prepared`, the drives can go in a new job.
 */
export const SEED_STATES = ['prepared', 'job-created', 'shipped', 'importing', 'imported', 'complete'] as const;
export type SeedState = (typeof SEED_STATES)[number];

/** The seed's recorded state, or undefined before prep. */
export function seedState(staging: string): SeedState | undefined {
  const s = seedOf(staging).state;
  return (SEED_STATES as readonly unknown[]).includes(s) ? (s as SeedState) : undefined;
}

/**
 * Moves settings.seed.state to `to` when that is forward of where it is (or `back: true`, for a
 * cancelled job), merging `fields` into settings.seed either way. Returns the state now recorded
 * (undefined when the staging location has no settings.json).
 */
export function advanceSeed(staging: string, to: SeedState, fields: Record<string, unknown> = {}, opts: { back?: boolean } = {}): SeedState | undefined {
  // A repository staged without job settings (stage without --job, a test fixture) has no seed to track.
  if (!readSettings(staging)) return undefined;
  const seed = seedOf(staging);
  const cur = SEED_STATES.indexOf(seed.state as SeedState);
  const next = opts.back || cur < SEED_STATES.indexOf(to) ? to : SEED_STATES[cur]!;
  updateSettings(staging, { seed: { ...seed, ...fields, state: next } });
  return next;
}
