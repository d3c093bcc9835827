/**
 * The emulated datacenter: receives a drive for a job and imports it the way the service does
 * (job and drive states: MicrosoftDocs/azure-docs articles/import-export/storage-import-export-view-drive-status.md; copy
 * logs: articles/storage/common/storage-import-export-file-format-log.md), into the job's storage
 * account in Azurite.
 *
 *   deliver(): job must be Shipping/Received/Transferring; the drive is identified (id file or
 *   serial) among the job's drives, which must still be Specified → drive Received, job Received.
 *   Then, in the background, step by step (DRIVESEED_EMULATOR_STEP_MS apart):
 *   drive Transferring → manifest found? hash (MD5 for 32 hex, SHA-256 for 64) matches? well
 *   formed? DriveId matches? → per blob: each block read, MD5-checked against the manifest,
 *   Put Block with Content-MD5, then Put Block List (with the whole blob's Content-MD5) →
 *   DriveLog error log (always) and verbose log (logLevel Verbose) under
 *   `<diagnosticsPath>/waies/<job>_<DriveId>_<yyyyMMdd-HHmmss-fff>_{error,verbose}.xml` →
 *   drive Completed, or CompletedMoreInfo when anything failed. When every drive of the job is
 *   done: job Packaging → Completed (no errors) or Closed (errors).
 *
 * A blob with a bad block is not committed: its earlier blocks stay Uncommitted, the bad one is
 * Corrupted (or FileUnexpectedEnd / BlobRequestFailed), later ones Cancelled (§4.3).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { DriveLogWriter, type DriveLogBlob, type DriveLogBlock, type DriveLogStatus } from '../azure/drivelog';
import { filePathToPosix, readManifest, splitBlobPath, type ManifestBlob } from '../azure/manifest';
import { parseStorageAccountId } from '../azure/blob';
import { DriveseedError } from '../base/errors';
import { ArmError, type StoredDrive, type StoredJob } from './model';
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
  driveId: string;
  /** resolves when the drive (and, if it was the last, the job) reached its final state */
  done: Promise<DriveOutcome>;
}

export interface DriveOutcome {
  job: string;
  driveId: string;
  driveState: StoredDrive['state'];
  jobState: StoredJob['properties']['state'];
  status: DriveLogStatus;
  errorLogUri?: string;
  verboseLogUri?: string;
}

const TERMINAL = new Set<StoredDrive['state']>(['Completed', 'CompletedMoreInfo']);

export class Datacenter {
  private readonly running = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();

  constructor(private readonly opts: DatacenterOptions) {}

  /**
   * Accepts a drive for `job` (throws ArmError 409/400 when the job or drive is not in a state to
   * receive it, or the volume cannot be opened) and starts importing it in the background.
   */
  async deliver(job: StoredJob, target: string): Promise<DeliveryAccepted> {
    const s = job.properties.state;
    if (s !== 'Shipping' && s !== 'Received' && s !== 'Transferring') {
      throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${s}; drives are received only once it is Shipping (set deliveryPackage and state Shipping first).`);
    }
    let vol: OpenedVolume;
    try {
      vol = openVolume(target);
    } catch (err) {
      if (err instanceof DriveseedError) throw new ArmError(400, err.code, err.message, 'drive');
      throw err;
    }
    try {
      if (!vol.driveId) throw new ArmError(400, 'DriveUnidentified', `The drive ${target} has no driveseed-drive-id file at its root and no hardware serial; the datacenter cannot tell which drive it is.`, 'drive');
      const drive = job.properties.driveList.find((d) => d.driveId === vol.driveId);
      if (!drive) {
        const listed = job.properties.driveList.map((d) => d.driveId).join(', ');
        throw new ArmError(409, 'DriveNotInJob', `The drive ${target} has id '${vol.driveId}' (from its ${vol.idSource === 'file' ? 'driveseed-drive-id file' : 'serial'}), which job '${job.name}' does not list (it lists: ${listed}).`, 'drive');
      }
      if (drive.state !== 'Specified' && drive.state !== 'NeverReceived') {
        throw new ArmError(409, 'DriveAlreadyReceived', `The drive '${drive.driveId}' of job '${job.name}' was already received (it is ${drive.state}).`, 'drive');
      }
      drive.state = 'Received';
      drive.percentComplete = 0;
      delete drive.copyStatus;
      if (job.properties.state === 'Shipping') job.properties.state = 'Received';
      touch(job);
      await this.opts.store.save();
      const done = this.track(this.importOrFail(job, drive, vol).finally(() => vol.release()));
      return { job: job.name, driveId: drive.driveId, done };
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

  /** importDrive, with an unexpected failure recorded on the drive (InternalError) instead of lost. */
  private async importOrFail(job: StoredJob, drive: StoredDrive, vol: OpenedVolume): Promise<DriveOutcome> {
    try {
      return await this.importDrive(job, drive, vol);
    } catch (err) {
      // Stopping leaves the drive Transferring; the next start puts it back to Specified.
      if (!(err instanceof DriveseedError && err.code === 'CANCELLED')) {
        drive.state = 'CompletedMoreInfo';
        drive.copyStatus = `InternalError: ${(err as Error).message}`;
        touch(job);
        await this.opts.store.save().catch(() => {});
      }
      throw err;
    }
  }

  private async importDrive(job: StoredJob, drive: StoredDrive, vol: OpenedVolume): Promise<DriveOutcome> {
    const store = this.opts.store;
    await this.step();
    drive.state = 'Transferring';
    drive.copyStatus = 'InProgress';
    drive.bytesSucceeded = 0;
    job.properties.state = 'Transferring';
    touch(job);
    await store.save();

    const account = parseStorageAccountId(job.properties.storageAccountId)!.account;
    const service = this.opts.blobService(account);
    const keepVerbose = job.properties.logLevel === 'Verbose';
    const started = new Date();
    // Both logs stream to temp files and are uploaded from there: a drive of millions of blocks
    // never has its log in memory (one blob's entry, ≤ 50,000 blocks, at a time).
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'driveseed-drivelog-'));
    let errorLog: DriveLogWriter | undefined;
    let verboseLog: DriveLogWriter | undefined;
    try {
      errorLog = await DriveLogWriter.create(path.join(tmp, 'error.xml'), drive.driveId, { errorOnly: true });
      if (keepVerbose) verboseLog = await DriveLogWriter.create(path.join(tmp, 'verbose.xml'), drive.driveId);
      let failed = 0;

      const manifestPath = path.join(vol.root, filePathToPosix(drive.manifestFile));
      let status: DriveLogStatus = await this.checkManifest(manifestPath, drive);
      if (status === 'Completed') {
        if (job.properties.backupDriveManifest) {
          const { container, name } = diagnosticsName(job, drive, started, 'manifest.xml');
          const c = service.getContainerClient(container);
          await c.createIfNotExists();
          const bb = c.getBlockBlobClient(name);
          await bb.uploadFile(manifestPath);
          drive.manifestUri = bb.url;
        }
        let total = 0;
        await readManifest(manifestPath, { onBlob: (b) => void (total += b.length) });
        let done = 0;
        await readManifest(manifestPath, {
          onBlob: async (blob) => {
            if (this.abort.signal.aborted) throw new DriveseedError('CANCELLED', 'The emulator is stopping', { category: 'CANCELLED' });
            const entry = await this.importBlob(service, vol.root, blob, drive, (n) => {
              done += n;
              drive.percentComplete = total === 0 ? 100 : Math.floor((done / total) * 100);
              job.properties.percentComplete = jobPercent(job);
            });
            await verboseLog?.addBlob(entry);
            await errorLog!.addBlob(entry);
            if (entry.status !== 'Completed') failed++;
            touch(job);
            await store.save();
          },
        });
        if (failed > 0) status = 'CompletedWithErrors';
      }
      await errorLog.finish(status);
      drive.errorLogUri = await this.uploadLog(service, job, drive, started, 'error', errorLog.file);
      if (verboseLog) {
        await verboseLog.finish(status);
        drive.verboseLogUri = await this.uploadLog(service, job, drive, started, 'verbose', verboseLog.file);
      }
      drive.state = status === 'Completed' ? 'Completed' : 'CompletedMoreInfo';
      drive.copyStatus = status;
      drive.percentComplete = 100;
      job.properties.percentComplete = jobPercent(job);
      touch(job);
      await store.save();

      if (job.properties.driveList.every((d) => TERMINAL.has(d.state)) && job.properties.state === 'Transferring') {
        await this.step();
        job.properties.state = 'Packaging';
        touch(job);
        await store.save();
        await this.step();
        const errors = job.properties.driveList.some((d) => d.state !== 'Completed');
        job.properties.state = errors ? 'Closed' : 'Completed';
        job.properties.returnPackage = {
          carrierName: job.properties.returnShipping?.carrierName ?? 'FedEx',
          trackingNumber: `EMU${createHash('md5').update(job.name).digest('hex').slice(0, 10).toUpperCase()}`,
          driveCount: job.properties.driveList.length,
          shipDate: new Date().toISOString(),
        };
        touch(job);
        await store.save();
      }
      const out: DriveOutcome = { job: job.name, driveId: drive.driveId, driveState: drive.state, jobState: job.properties.state, status };
      if (drive.errorLogUri) out.errorLogUri = drive.errorLogUri;
      if (drive.verboseLogUri) out.verboseLogUri = drive.verboseLogUri;
      return out;
    } finally {
      await errorLog?.abort();
      await verboseLog?.abort();
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  /** The drive-level checks, in the service's order: found, hash, format, DriveId. */
  private async checkManifest(file: string, drive: StoredDrive): Promise<DriveLogStatus> {
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
    return driveId === drive.driveId ? 'Completed' : 'ManifestDriveIdMismatch';
  }

  private async importBlob(service: BlobServiceClient, root: string, blob: ManifestBlob, drive: StoredDrive, progress: (bytes: number) => void): Promise<DriveLogBlob> {
    const entry: DriveLogBlob = { status: 'Completed', blobPath: blob.blobPath, filePath: blob.filePath, length: blob.length };
    const blocks: DriveLogBlock[] = blob.blocks.map((k, i) => ({ offset: k.offset, length: k.length, id: k.id ?? blockId(i), hash: k.hash, status: 'Cancelled' }));
    entry.blocks = blocks;
    const { container, blobName } = splitBlobPath(blob.blobPath);
    const cc = service.getContainerClient(container);
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(path.join(root, filePathToPosix(blob.filePath)), 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      entry.status = code === 'ENOENT' || code === 'ENOTDIR' ? 'FileNotFound' : code === 'EACCES' ? 'FileAccessDenied' : 'IOFailed';
      progress(blob.length);
      return entry;
    }
    try {
      let target: { name: string; disposition: NonNullable<DriveLogBlob['importDisposition']> };
      try {
        await cc.createIfNotExists();
        target = await resolveDisposition(cc, blobName, blob.importDisposition ?? 'rename');
      } catch {
        entry.status = 'BlobRequestFailed';
        progress(blob.length);
        return entry;
      }
      entry.importDisposition = target.disposition;
      if (target.disposition.status === 'Skipped') {
        for (const k of blocks) k.status = 'Completed';
        progress(blob.length);
        return entry;
      }
      const bb = cc.getBlockBlobClient(target.name);
      const whole = createHash('md5');
      let failedAt = -1;
      let failure: DriveLogBlock['status'] = 'Failed';
      const buf = Buffer.allocUnsafe(Math.max(1, ...blob.blocks.map((k) => k.length)));
      for (let i = 0; i < blob.blocks.length; i++) {
        const k = blob.blocks[i]!;
        let n = 0;
        try {
          while (n < k.length) {
            const r = await fh.read(buf, n, k.length - n, k.offset + n);
            if (r.bytesRead === 0) break;
            n += r.bytesRead;
          }
        } catch {
          failedAt = i;
          failure = 'IOFailed';
          break;
        }
        if (n < k.length) {
          failedAt = i;
          failure = 'FileUnexpectedEnd';
          break;
        }
        const data = buf.subarray(0, k.length);
        const md5 = createHash('md5').update(data).digest();
        if (md5.toString('hex').toUpperCase() !== k.hash) {
          failedAt = i;
          failure = 'Corrupted';
          break;
        }
        whole.update(data);
        try {
          await bb.stageBlock(blocks[i]!.id!, data, k.length, { transactionalContentMD5: md5 });
        } catch {
          failedAt = i;
          failure = 'BlobRequestFailed';
          break;
        }
        blocks[i]!.status = 'Uncommitted';
        progress(k.length);
      }
      if (failedAt >= 0) {
        blocks[failedAt]!.status = failure;
        entry.status = 'CompletedWithErrors';
        progress(blob.blocks.slice(failedAt).reduce((a, k) => a + k.length, 0));
        return entry;
      }
      try {
        const r = await bb.commitBlockList(blocks.map((k) => k.id!), { blobHTTPHeaders: { blobContentMD5: whole.digest() } });
        if (r.lastModified) entry.lastModified = r.lastModified.toUTCString();
      } catch {
        entry.status = 'BlobRequestFailed';
        return entry;
      }
      for (const k of blocks) k.status = 'Committed';
      drive.bytesSucceeded = (drive.bytesSucceeded ?? 0) + blob.length;
      return entry;
    } finally {
      await fh.close();
    }
  }

  private async uploadLog(service: BlobServiceClient, job: StoredJob, drive: StoredDrive, at: Date, kind: 'error' | 'verbose', file: string): Promise<string> {
    const { container, name } = diagnosticsName(job, drive, at, `${kind}.xml`);
    const c = service.getContainerClient(container);
    await c.createIfNotExists();
    const bb = c.getBlockBlobClient(name);
    await bb.uploadFile(file, { blobHTTPHeaders: { blobContentType: 'application/xml' } });
    return bb.url;
  }
}

/** Block ids when the manifest has none: equal-length base64 (Put Block rule), index-ordered. */
export function blockId(i: number): string {
  return Buffer.from(`driveseed-${String(i).padStart(6, '0')}`).toString('base64');
}

function touch(job: StoredJob): void {
  job.lastModifiedAt = new Date().toISOString();
}

function jobPercent(job: StoredJob): number {
  const d = job.properties.driveList;
  return Math.floor(d.reduce((a, x) => a + (x.percentComplete ?? 0), 0) / d.length);
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`;
}

/** `<diagnosticsPath>/waies/<job>_<DriveId>_<yyyyMMdd-HHmmss-fff>_<suffix>` split into container and blob name. */
export function diagnosticsName(job: StoredJob, drive: StoredDrive, at: Date, suffix: string): { container: string; name: string } {
  const [container, ...dir] = job.properties.diagnosticsPath.split('/');
  return { container: container!, name: [...dir, 'waies', `${job.name}_${drive.driveId}_${stamp(at)}_${suffix}`].join('/') };
}

/** ImportDisposition: rename (default) → `name (2)`, `name (3)`… before the last dot; no-overwrite → skip; overwrite. */
async function resolveDisposition(cc: ContainerClient, name: string, disposition: string): Promise<{ name: string; disposition: { value: string; status: 'Created' | 'Renamed' | 'Skipped' | 'Overwritten' } }> {
  if (!(await cc.getBlockBlobClient(name).exists())) return { name, disposition: { value: disposition, status: 'Created' } };
  if (disposition === 'overwrite') return { name, disposition: { value: disposition, status: 'Overwritten' } };
  if (disposition === 'no-overwrite') return { name, disposition: { value: disposition, status: 'Skipped' } };
  const slash = name.lastIndexOf('/');
  const dot = name.lastIndexOf('.');
  const cut = dot > slash + 1 ? dot : name.length;
  for (let n = 2; ; n++) {
    const candidate = `${name.slice(0, cut)} (${n})${name.slice(cut)}`;
    if (!(await cc.getBlockBlobClient(candidate).exists())) return { name: candidate, disposition: { value: disposition, status: 'Renamed' } };
  }
}
