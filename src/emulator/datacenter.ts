/**
 * The emulated datacenter: receives a customer disk for a job and imports it the way the service
 * does (statuses and copy statuses: MicrosoftDocs/azure-docs articles/import-export/
 * storage-import-export-view-drive-status.md; copy logs: articles/storage/common/
 * storage-import-export-file-format-log.md), into the job's storage account in Azurite.
 *
 *   deliver(): job must be ShippedToAzureDC/AtAzureDC/DataCopy; the disk is identified by its serial
 *   (the id file prep writes on virtual disks, else the hardware serial) among the job's disks,
 *   which must not have arrived yet → job AtAzureDC. A 4K-native disk is refused there and then
 *   (copyStatus UnsupportedDrive). Then, in the background, step by step
 *   (DRIVESEED_EMULATOR_STEP_MS apart): job DataCopy, disk InProgress → manifest found? hash
 *   (MD5 for 32 hex, SHA-256 for 64) matches? well formed? DriveId matches? (else
 *   MetadataFilesModifiedOrRemoved) → per blob: each block read, MD5-checked against the manifest,
 *   Put Block with Content-MD5, then Put Block List (with the whole blob's Content-MD5) → the copy
 *   logs (the job's format: 2021-08-01 in `databoxcopylog`, or the classic DriveLog under
 *   `waimportexport/waies`) → disk Completed or CompletedWithErrors. When every disk is done: job
 *   Completed (no errors) or CompletedWithErrors, with the return package.
 *
 * One blob's copy (disposition, blocks, commit) is src/emulator/ingest.ts.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { CopyLogWriter, DriveLogWriter, type DriveLogStatus } from '../azure/drivelog';
import { filePathToPosix, readManifest } from '../azure/manifest';
import { parseStorageAccountId } from '../azure/blob';
import { DriveseedError } from '../base/errors';
import { importBlob } from './ingest';
import { ArmError, jobId, type StoredDisk, type StoredJob } from './model';
import type { StateStore } from './state';
import { openVolume, type OpenedVolume } from './volume';

/** Default pause between state transitions: long enough for `status --watch` to show each state. */
export const DEFAULT_STEP_MS = 200;

export interface DatacenterOptions {
  store: StateStore;
  /** the BlobServiceClient of a storage account hosted by the emulator */
  blobService(account: string): BlobServiceClient;
  stepMs: number;
}

export interface DeliveryAccepted {
  job: string;
  serialNumber: string;
  /** resolves when the disk (and, if it was the last, the job) reached its final state */
  done: Promise<DriveOutcome>;
}

/** What became of a delivered disk. */
export interface DriveOutcome {
  job: string;
  serialNumber: string;
  /** the disk's CopyStatus: Completed, CompletedWithErrors, MetadataFilesModifiedOrRemoved, UnsupportedDrive, … */
  copyStatus: string;
  /** the job's status afterwards */
  status: StoredJob['status'];
  /** the drive status the copy log reports (Completed, CompletedWithErrors, ManifestCorrupted, …) */
  logStatus: DriveLogStatus;
  errorLogLink?: string;
  verboseLogLink?: string;
}

/** Drive-level log statuses that mean the manifest on the disk is missing or not the one the job names. */
const METADATA_STATUSES = new Set<DriveLogStatus>([
  'ManifestNotFound',
  'ManifestCorrupted',
  'ManifestFormatInvalid',
  'ManifestDriveIdMismatch',
  'ManifestAccessDenied',
  'ReadManifestFailed',
]);

export class Datacenter {
  private readonly running = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();

  constructor(private readonly opts: DatacenterOptions) {}

  /**
   * Accepts a drive for `job` (throws ArmError 409/400 when the job or drive is not in a state to
   * receive it, or the volume cannot be opened) and starts importing it in the background.
   */
  async deliver(job: StoredJob, target: string): Promise<DeliveryAccepted> {
    const s = job.status;
    if (s !== 'ShippedToAzureDC' && s !== 'AtAzureDC' && s !== 'DataCopy') {
      throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${s}; disks are received only once they are marked shipped (markDevicesShipped).`);
    }
    let vol: OpenedVolume;
    try {
      vol = openVolume(target);
    } catch (err) {
      if (err instanceof DriveseedError) throw new ArmError(400, err.code, err.message, 'drive');
      throw err;
    }
    try {
      if (!vol.driveId)
        throw new ArmError(
          400,
          'DriveUnidentified',
          `The drive ${target} has no driveseed-drive-id file at its root and no hardware serial; the datacenter cannot tell which disk it is.`,
          'drive',
        );
      const drive = job.disks.find((d) => d.serialNumber === vol.driveId);
      if (!drive) {
        const listed = job.disks.map((d) => d.serialNumber).join(', ');
        throw new ArmError(
          409,
          'DriveNotInJob',
          `The drive ${target} has serial '${vol.driveId}' (from its ${vol.idSource === 'file' ? 'driveseed-drive-id file' : 'hardware serial'}), which job '${job.name}' does not list (it lists: ${listed}).`,
          'drive',
        );
      }
      if (drive.state !== 'Specified' && drive.state !== 'NeverReceived') {
        throw new ArmError(
          409,
          'DriveAlreadyReceived',
          `The disk '${drive.serialNumber}' of job '${job.name}' was already received (copy status ${drive.copyStatus}).`,
          'drive',
        );
      }
      drive.state = 'Received';
      drive.copyStatus = 'NotStarted';
      if (job.status === 'ShippedToAzureDC') enter(job, 'AtAzureDC');
      touch(job);
      await this.opts.store.save();
      if (vol.logicalSectorSize !== undefined && vol.logicalSectorSize !== 512) {
        // The datacenter's copy stations read 512-byte-sector disks only (docs/emulator.md).
        const done = this.track(
          this.unsupported(
            job,
            drive,
            `The disk has ${vol.logicalSectorSize}-byte logical sectors (4K native); the datacenter reads disks with 512-byte logical sectors only.`,
          ).finally(() => vol.release()),
        );
        return { job: job.name, serialNumber: drive.serialNumber, done };
      }
      const done = this.track(this.importOrFail(job, drive, vol).finally(() => vol.release()));
      return { job: job.name, serialNumber: drive.serialNumber, done };
    } catch (err) {
      vol.release();
      throw err;
    }
  }

  /** Stops background work at the next block and waits for it (volumes are released). */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([...this.running]);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    p.then(
      () => this.running.delete(p),
      () => this.running.delete(p),
    );
    return p;
  }

  private async step(): Promise<void> {
    if (this.opts.stepMs > 0) await new Promise((r) => setTimeout(r, this.opts.stepMs));
    if (this.abort.signal.aborted) throw new DriveseedError('CANCELLED', 'The emulator is stopping', { category: 'CANCELLED' });
  }

  /** importDrive, with an unexpected failure recorded on the disk (OtherServiceError) instead of lost. */
  private async importOrFail(job: StoredJob, drive: StoredDisk, vol: OpenedVolume): Promise<DriveOutcome> {
    try {
      return await this.importDrive(job, drive, vol);
    } catch (err) {
      // Stopping leaves the disk Transferring; the next start puts it back to Specified.
      if (!(err instanceof DriveseedError && err.code === 'CANCELLED')) {
        drive.state = 'Done';
        drive.copyStatus = 'OtherServiceError';
        drive.error = { code: 'InternalError', message: (err as Error).message };
        touch(job);
        await this.finishJobIfDone(job).catch(() => {});
        await this.opts.store.save().catch(() => {});
      }
      throw err;
    }
  }

  /** A disk the datacenter cannot read: no copy, copyStatus UnsupportedDrive, no log. */
  private async unsupported(job: StoredJob, drive: StoredDisk, message: string): Promise<DriveOutcome> {
    await this.step();
    drive.state = 'Done';
    drive.copyStatus = 'UnsupportedDrive';
    drive.error = { code: 'UnsupportedDrive', message };
    touch(job);
    await this.opts.store.save();
    await this.finishJobIfDone(job);
    return { job: job.name, serialNumber: drive.serialNumber, copyStatus: drive.copyStatus, status: job.status, logStatus: 'DiskOperationFailed' };
  }

  /** When every disk is done (or never came): the job Completed or CompletedWithErrors, and the return package. */
  private async finishJobIfDone(job: StoredJob): Promise<void> {
    if (!job.disks.every((d) => d.state === 'Done' || d.state === 'NeverReceived') || (job.status !== 'DataCopy' && job.status !== 'AtAzureDC')) return;
    await this.step();
    const errors = job.disks.some((d) => d.copyStatus !== 'Completed');
    enter(job, errors ? 'CompletedWithErrors' : 'Completed');
    const tracking = `EMU${createHash('md5').update(job.name).digest('hex').slice(0, 10).toUpperCase()}`;
    job.returnPackage = {
      carrierName: job.returnToCustomerPackageDetails.carrierName ?? 'FedEx',
      trackingId: tracking,
      trackingUrl: `https://tracking.example/emulator/${tracking}`,
    };
    touch(job);
    await this.opts.store.save();
  }

  /** The datacenter gives up waiting: disks that never arrived are DriveNotReceived, and the job finishes. */
  async closeJob(job: StoredJob): Promise<void> {
    if (job.status !== 'ShippedToAzureDC' && job.status !== 'AtAzureDC' && job.status !== 'DataCopy') {
      throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${job.status}; only a job waiting for or copying disks can be closed.`);
    }
    if (job.disks.some((d) => d.state === 'Received' || d.state === 'Transferring')) {
      throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is still copying a disk; close it when the copy has ended.`);
    }
    for (const d of job.disks) {
      if (d.state !== 'Specified') continue;
      d.state = 'NeverReceived';
      d.copyStatus = 'DriveNotReceived';
    }
    if (job.status === 'ShippedToAzureDC') enter(job, 'AtAzureDC');
    touch(job);
    await this.finishJobIfDone(job);
    await this.opts.store.save();
  }

  private async importDrive(job: StoredJob, drive: StoredDisk, vol: OpenedVolume): Promise<DriveOutcome> {
    const store = this.opts.store;
    await this.step();
    drive.state = 'Transferring';
    drive.copyStatus = 'InProgress';
    drive.bytesProcessed = 0;
    drive.filesProcessed = 0;
    drive.filesErroredOut = 0;
    if (job.status !== 'DataCopy') enter(job, 'DataCopy');
    touch(job);
    await store.save();

    const account = parseStorageAccountId(job.storageAccountId)!.account;
    const service = this.opts.blobService(account);
    const keepVerbose = job.logCollectionLevel === 'Verbose';
    const modern = job.copyLogFormat === '2021-08-01';
    const started = new Date();
    // The logs stream to temp files and are uploaded from there: a disk of millions of blocks
    // never has its log in memory (one blob's entry, ≤ 50,000 blocks, at a time).
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'driveseed-drivelog-'));
    let errorLog: DriveLogWriter | CopyLogWriter | undefined;
    let verboseLog: DriveLogWriter | CopyLogWriter | undefined;
    try {
      if (modern) {
        errorLog = await CopyLogWriter.create(path.join(tmp, 'copy.xml'), drive.serialNumber);
        if (keepVerbose) verboseLog = await CopyLogWriter.create(path.join(tmp, 'verbose.xml'), drive.serialNumber, { verbose: true });
      } else {
        errorLog = await DriveLogWriter.create(path.join(tmp, 'error.xml'), drive.serialNumber, { errorOnly: true });
        if (keepVerbose) verboseLog = await DriveLogWriter.create(path.join(tmp, 'verbose.xml'), drive.serialNumber);
      }
      let failed = 0;

      const manifestPath = path.join(vol.root, filePathToPosix(drive.manifestFile));
      let status: DriveLogStatus = await this.checkManifest(manifestPath, drive);
      if (status === 'Completed') {
        if (job.enableManifestBackup) {
          const { container, name } = logName(job, drive, started, 'manifest');
          const c = service.getContainerClient(container);
          await c.createIfNotExists();
          const bb = c.getBlockBlobClient(name);
          await bb.uploadFile(manifestPath);
          drive.backupManifestCloudPath = bb.url;
        }
        let total = 0;
        let files = 0;
        await readManifest(manifestPath, {
          onBlob: (b) => {
            total += b.length;
            files++;
          },
        });
        drive.totalBytesToProcess = total;
        drive.totalFilesToProcess = files;
        await readManifest(manifestPath, {
          onBlob: async (blob) => {
            if (this.abort.signal.aborted) throw new DriveseedError('CANCELLED', 'The emulator is stopping', { category: 'CANCELLED' });
            const entry = await importBlob(service, vol.root, blob, keepVerbose && modern, (n) => {
              drive.bytesProcessed += n;
            });
            await verboseLog?.addBlob(entry);
            await errorLog!.addBlob(entry);
            drive.filesProcessed++;
            if (entry.status !== 'Completed') {
              failed++;
              drive.filesErroredOut++;
            }
            touch(job);
            await store.save();
          },
        });
        if (failed > 0) status = 'CompletedWithErrors';
      }
      const validation = METADATA_STATUSES.has(status)
        ? [`${status}: ${drive.manifestFile} on the disk is missing or does not match the manifest hash the job names`]
        : [];
      await (errorLog instanceof CopyLogWriter ? errorLog.finish(status, validation) : errorLog.finish(status));
      drive.errorLogLink = await this.uploadLog(service, job, drive, started, 'error', errorLog.file);
      if (verboseLog) {
        await (verboseLog instanceof CopyLogWriter ? verboseLog.finish(status, validation) : verboseLog.finish(status));
        drive.verboseLogLink = await this.uploadLog(service, job, drive, started, 'verbose', verboseLog.file);
      }
      drive.state = 'Done';
      drive.copyStatus = status === 'Completed' ? 'Completed' : METADATA_STATUSES.has(status) ? 'MetadataFilesModifiedOrRemoved' : 'CompletedWithErrors';
      if (drive.copyStatus === 'MetadataFilesModifiedOrRemoved') drive.error = { code: status, message: validation[0]! };
      touch(job);
      await store.save();
      await this.finishJobIfDone(job);
      const out: DriveOutcome = { job: job.name, serialNumber: drive.serialNumber, copyStatus: drive.copyStatus, status: job.status, logStatus: status };
      if (drive.errorLogLink) out.errorLogLink = drive.errorLogLink;
      if (drive.verboseLogLink) out.verboseLogLink = drive.verboseLogLink;
      return out;
    } finally {
      await errorLog?.abort();
      await verboseLog?.abort();
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /** The drive-level checks, in the service's order: found, hash, format, DriveId. */
  private async checkManifest(file: string, drive: StoredDisk): Promise<DriveLogStatus> {
    let bytes: Buffer;
    try {
      bytes = await fs.promises.readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? 'ManifestNotFound' : code === 'EACCES' ? 'ManifestAccessDenied' : 'ReadManifestFailed';
    }
    const algo = drive.manifestHash.length === 64 ? 'sha256' : 'md5';
    if (createHash(algo).update(bytes).digest('hex').toUpperCase() !== drive.manifestHash) return 'ManifestCorrupted';
    let driveId: string;
    try {
      driveId = (await readManifest(file)).driveId;
    } catch (err) {
      if (err instanceof DriveseedError && err.code === 'MANIFEST_INVALID') return 'ManifestFormatInvalid';
      throw err;
    }
    return driveId === drive.serialNumber ? 'Completed' : 'ManifestDriveIdMismatch';
  }

  private async uploadLog(service: BlobServiceClient, job: StoredJob, drive: StoredDisk, at: Date, kind: 'error' | 'verbose', file: string): Promise<string> {
    const { container, name } = logName(job, drive, at, kind);
    const c = service.getContainerClient(container);
    await c.createIfNotExists();
    const bb = c.getBlockBlobClient(name);
    await bb.uploadFile(file, { blobHTTPHeaders: { blobContentType: 'application/xml' } });
    return bb.url;
  }
}

function touch(job: StoredJob): void {
  job.lastModifiedAt = new Date().toISOString();
}

/** Moves the job to `status` and records when. */
function enter(job: StoredJob, status: StoredJob['status']): void {
  job.status = status;
  job.stageTimes[status] = new Date().toISOString();
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`;
}

/** The job's id as the copy-log names carry it: a GUID derived from the job's resource id (stable across restarts). */
export function jobGuid(job: StoredJob): string {
  const h = createHash('md5').update(jobId(job).toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Where a disk's logs (and manifest backup) go, by the job's copy-log format:
 *  - 2021-08-01: `databoxcopylog/<job>_<serial>_CopyLog_<jobID>.xml`, `_VerboseLog_`, `_Manifest_`
 *  - 2014-11-01: `waimportexport/waies/<job>_<serial>_<yyyyMMdd-HHmmss-fff>_{error,verbose,manifest}.xml`
 */
export function logName(job: StoredJob, drive: StoredDisk, at: Date, kind: 'error' | 'verbose' | 'manifest'): { container: string; name: string } {
  if (job.copyLogFormat === '2021-08-01') {
    const what = kind === 'error' ? 'CopyLog' : kind === 'verbose' ? 'VerboseLog' : 'Manifest';
    return { container: 'databoxcopylog', name: `${job.name}_${drive.serialNumber}_${what}_${jobGuid(job)}.xml` };
  }
  return { container: 'waimportexport', name: `waies/${job.name}_${drive.serialNumber}_${stamp(at)}_${kind}.xml` };
}
