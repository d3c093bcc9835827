/**
 * `driveseed status`: where the import job stands (docs/workflow.md).
 *
 *   settings.json (job, subscription, resource group, emulator) → Jobs_Get → the job's status and
 *   stages, each disk's copyStatus (in plain words, with what to do) and copy progress → for each
 *   disk with an error log (copyLogDetails): the copy log from the storage account, in either the
 *   current `databoxcopylog` format or the older `waies` DriveLog format, summarised as the blobs
 *   and blocks that failed and why → seed state in the settings (importing / imported).
 *
 * With `watch`, it polls until the job reaches a final status (Completed, CompletedWithErrors,
 * Cancelled, Failed_…) or the signal aborts (Ctrl-C), reporting each change as an event and the
 * import as progress.
 *
 * The job is read by src/core/job.ts's {@link readJob} (one reader for job get, ship, status, complete
 * and repair). Also home of the pieces complete and repair share: where the job and its storage are
 * ({@link seedTarget}, {@link jobLocation}) and the clients for the job's storage account ({@link jobStorage}).
 */
import type { ContainerClient } from '@azure/storage-blob';
import { containerClientFor as importContainerClient, emulatorAccount, parseStorageAccountId } from '../azure/blob';
import { parseDriveLog, type DriveLog } from '../azure/drivelog';
import { summariseDriveLog, type DriveFailures } from './copy-log-summary';
import { COPIED_STATUSES, FINAL_STATUSES, explainCopyStatus, type CopyStatusExplanation } from '../azure/job-status';
import { cloudLocationFromSettings } from '../cloud/settings';
import { containerClientFor as cloudContainerClient } from '../cloud/client';
import type { CommandContext } from './command';
import { cancelledError, DriveseedError } from '../base/errors';
import { readJob, type JobLocation, type JobView } from './job';
import { readSettings, settingsPath, type JobSettings } from './settings';
import { advanceSeed, readPreparedDrives, savedJob, type SeedState } from './staging-records';
export interface SeedTarget {
  staging: string;
  settings: JobSettings;
  job: string;
  subscription: string;
  resourceGroup: string;
  /** the emulator's ARM endpoint; absent means real Azure */
  emulator?: string;
}

/** The job's ARM coordinates, for {@link readJob}. */
export function jobLocation(t: SeedTarget): JobLocation {
  return { name: t.job, subscription: t.subscription, resourceGroup: t.resourceGroup, ...(t.emulator ? { emulator: t.emulator } : {}) };
}

/** Reads what status/complete/repair need from the staging settings; errors name the missing setting and the command that saves it. */
export function seedTarget(staging: string): SeedTarget {
  const settings = readSettings(staging);
  if (!settings) {
    throw new DriveseedError(
      'SETTINGS_MISSING',
      `${settingsPath(staging)} does not exist: ${staging} is not a staging location (run \`driveseed stage … --staging ${staging} --job <name>\` first, or give the right --staging)`,
      {
        category: 'USAGE',
        details: { staging },
      },
    );
  }
  // `job create` saves the job's coordinates in settings.seed.job; without it no job was created
  // from this staging location, whatever else the settings name.
  const ref = savedJob(staging);
  const t: SeedTarget = { staging, settings, job: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup };
  const emulator = ref.emulator ?? settings.emulator;
  if (typeof emulator === 'string' && emulator) t.emulator = emulator;
  if (ref.account && !settings.account) t.settings = { ...settings, account: ref.account };
  return t;
}

export interface StatusOptions {
  staging: string;
  watch: boolean;
  /** seconds between polls with watch */
  intervalSeconds: number;
  /** fetch and summarise the error logs (default true) */
  logs?: boolean;
}

export type { DiskView, JobView } from './job';
export { summariseDriveLog, type DriveFailures, type FailedBlob, type FailedBlock } from './copy-log-summary';

/** A disk's copy status in words: what it means and what to do. */
export interface DiskAdvice extends CopyStatusExplanation {
  serialNumber: string;
  copyStatus: string;
}

export interface StatusResult {
  staging: string;
  resourceGroup: string;
  job: JobView;
  /** each disk's copyStatus explained, in the order of job.disks */
  disks: DiskAdvice[];
  /** true when the job's status is final (nothing more is copied) */
  terminal: boolean;
  failures: DriveFailures[];
  /** the next command to run, in words */
  next: string;
  /** with --watch: how the watch ended */
  watch?: 'terminal' | 'interrupted';
  polls: number;
}

/** The job's storage account: settings.account, else the account in the job's storageAccountId. */
export function accountOf(t: SeedTarget, job?: JobView): string {
  const a = t.settings.account ?? (job ? parseStorageAccountId(job.storageAccountId)?.account : undefined);
  if (!a) {
    throw new DriveseedError(
      'CLOUD_CONFIG',
      `The settings in ${settingsPath(t.staging)} name no storage account; run \`driveseed stage --staging ${t.staging} --job ${t.job} --account <name>\``,
      { category: 'USAGE', details: { field: 'account' } },
    );
  }
  return a;
}

export interface JobStorage {
  account: string;
  /** the account's blob endpoint (`http://127.0.0.1:<port>/<account>` on the emulator) */
  blobEndpoint: string;
  container(name: string): ContainerClient;
}

/**
 * The job's storage account: on the emulator with the account's key (asked from the running
 * emulator); on Azure with the credentials docs/cloud.md describes (environment, else
 * DefaultAzureCredential). Credentials stay inside the clients.
 */
export async function jobStorage(t: SeedTarget, account: string): Promise<JobStorage> {
  if (t.emulator) {
    const acc = await emulatorAccount(t.emulator, account);
    return { account, blobEndpoint: acc.blobEndpoint, container: (name) => importContainerClient({ account, container: name, emulator: acc }) };
  }
  const loc = (name: string) => cloudLocationFromSettings({ ...t.settings, account, container: name }, t.staging, process.env);
  return {
    account,
    blobEndpoint: loc('x-probe').blobEndpoint ?? `https://${account}.blob.core.windows.net`,
    container: (name) => cloudContainerClient(loc(name)),
  };
}

/** Splits a blob URL of the account into container and blob name (the error log URIs of the job). */
export function blobOfUri(uri: string, blobEndpoint: string): { container: string; name: string } {
  const u = new URL(uri);
  const base = new URL(blobEndpoint);
  let p = u.pathname;
  const prefix = base.pathname.replace(/\/+$/, '');
  if (prefix && p.startsWith(`${prefix}/`)) p = p.slice(prefix.length);
  const [, container, ...rest] = p.split('/');
  if (!container || rest.length === 0) {
    throw new DriveseedError('DRIVELOG_URI_INVALID', `The job's log URI ${uri} does not name a blob of the storage account at ${blobEndpoint}`, {
      category: 'AZURE',
      details: { uri },
    });
  }
  return { container, name: decodeURIComponent(rest.join('/')) };
}

/** Downloads and parses one DriveLog. */
export async function fetchDriveLog(storage: JobStorage, uri: string): Promise<DriveLog> {
  const { container, name } = blobOfUri(uri, storage.blobEndpoint);
  let text: string;
  try {
    text = (await storage.container(container).getBlobClient(name).downloadToBuffer()).toString('utf8');
  } catch (err) {
    throw new DriveseedError(
      'DRIVELOG_UNREADABLE',
      `The copy log ${uri} could not be downloaded from the storage account (${(err as Error).message}); check the account's credentials (docs/cloud.md) and rerun status`,
      {
        category: 'AZURE',
        cause: err,
        details: { uri },
      },
    );
  }
  return parseDriveLog(text);
}

/** What to do next, for a job in its status. */
export function nextStep(staging: string, job: JobView, failures: DriveFailures[]): string {
  const s = JSON.stringify(staging);
  switch (job.status) {
    case 'DeviceOrdered':
    case 'Created':
    case 'AwaitingShipmentDetails':
    case 'ReadyToReceiveAtAzureDC':
      return `send the disks and record the tracking number: driveseed ship --staging ${s} --carrier <name> --tracking <number>`;
    case 'ShippedToAzureDC':
    case 'Delivered':
    case 'AtAzureDC':
    case 'DataCopy':
      return `wait for the import: driveseed status --staging ${s} --watch`;
    case 'Completed':
    case 'CompletedWithWarnings':
    case 'PreparingToShipFromAzureDC':
    case 'ShippedToCustomer':
    case 'CompletedWithErrors':
      if (job.status !== 'CompletedWithErrors' && job.disks.every((d) => explainCopyStatus(d.copyStatus).ok))
        return `verify the blobs and switch backups to the network: driveseed complete --staging ${s}`;
      return failures.length > 0
        ? `the import finished with errors (listed above); verify what is missing with driveseed complete --staging ${s}, then re-upload it with driveseed repair --staging ${s}`
        : `the import finished with errors; driveseed complete --staging ${s} names what is missing, driveseed repair --staging ${s} re-uploads it`;
    case 'Cancelled':
      return 'the job was cancelled; create a new job for the disks (driveseed job create with a new --job name in the stage settings)';
    case 'Failed_IssueDetectedAtAzureDC':
    case 'Failed_IssueReportedAtCustomer':
    case 'Aborted':
      return `the job failed${job.error?.message ? ` (${job.error.message})` : ''}; read each disk's status above, fix what it names and send the disks in a new job, or upload over the network with driveseed repair --staging ${s}`;
    default:
      return `driveseed status --staging ${s} --watch`;
  }
}

/** The seed state a job status implies (the seed never moves backwards, never past imported here). */
function seedStateFor(status: string): SeedState | undefined {
  if (['Delivered', 'AtAzureDC', 'DataCopy'].includes(status)) return 'importing';
  if (COPIED_STATUSES.has(status)) return 'imported';
  if (status === 'ShippedToAzureDC') return 'shipped';
  return undefined;
}

function recordSeedState(t: SeedTarget, job: JobView): void {
  const want = seedStateFor(job.status);
  if (want) advanceSeed(t.staging, want, { jobState: job.status, checkedAt: new Date().toISOString() });
}

/** Bytes of the prepared drives (prep's record), for disks the service reports no total for yet. */
function preparedBytes(staging: string): Map<string, number> {
  try {
    const prepared = readPreparedDrives(staging);
    return new Map((prepared?.drives ?? []).map((d) => [d.driveId, d.bytes ?? 0]));
  } catch {
    return new Map(); // a damaged record costs the byte estimate only; status reads the job regardless
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Reads the job once or, with watch, until it is terminal or the signal aborts. */
export async function status(o: StatusOptions, ctx: CommandContext): Promise<StatusResult> {
  const t = seedTarget(o.staging);
  const { reporter, signal } = ctx;
  const sizes = preparedBytes(o.staging);
  const logCache = new Map<string, DriveFailures>();
  let storage: JobStorage | undefined;
  let prev: JobView | undefined;
  let polls = 0;
  for (;;) {
    if (signal.aborted && polls === 0) throw cancelledError();
    const job = await readJob(jobLocation(t));
    polls++;
    if (!prev || prev.status !== job.status)
      reporter.event('job.state', { job: job.name, state: job.status, previous: prev?.status ?? null, stages: job.stages });
    const disks: DiskAdvice[] = job.disks.map((d) => ({ serialNumber: d.serialNumber, copyStatus: d.copyStatus, ...explainCopyStatus(d.copyStatus) }));
    for (const d of job.disks) {
      const before = prev?.disks.find((x) => x.serialNumber === d.serialNumber);
      if (!before || before.copyStatus !== d.copyStatus) {
        const { meaning, action } = explainCopyStatus(d.copyStatus);
        reporter.event('drive.state', {
          driveId: d.serialNumber,
          state: d.copyStatus,
          previous: before?.copyStatus ?? null,
          copyStatus: d.copyStatus,
          meaning,
          action,
          percentComplete: d.percentComplete,
          bytesProcessed: d.bytesProcessed,
        });
      }
    }
    const sizeOf = (d: JobView['disks'][number]) => d.totalBytesToProcess || (sizes.get(d.serialNumber) ?? 0);
    const total = job.disks.reduce((a, d) => a + sizeOf(d), 0);
    if (total > 0) {
      const done = job.disks.reduce((a, d) => a + (d.totalBytesToProcess ? d.bytesProcessed : Math.round((sizeOf(d) * d.percentComplete) / 100)), 0);
      reporter.progress({
        phase: 'import',
        bytesDone: done,
        bytesTotal: total,
        itemsDone: job.disks.filter((d) => d.copyStatus !== 'NotStarted' && d.copyStatus !== 'InProgress').length,
        itemsTotal: job.disks.length,
        current: job.status,
      });
    }
    recordSeedState(t, job);

    const failures: DriveFailures[] = [];
    if (o.logs !== false) {
      for (const d of job.disks) {
        if (!d.errorLogLink) continue;
        let f = logCache.get(d.errorLogLink);
        if (!f) {
          storage ??= await jobStorage(t, accountOf(t, job));
          const log = await fetchDriveLog(storage, d.errorLogLink);
          f = summariseDriveLog(log, d.errorLogLink);
          logCache.set(d.errorLogLink, f);
          if (f.blobsFailed > 0 || f.status !== 'Completed') reporter.event('drive.failures', { ...f });
        }
        if (f.blobsFailed > 0 || f.status !== 'Completed') failures.push(f);
      }
    }
    const terminal = FINAL_STATUSES.has(job.status);
    const result: StatusResult = {
      staging: o.staging,
      resourceGroup: t.resourceGroup,
      job,
      disks,
      terminal,
      failures,
      next: nextStep(o.staging, job, failures),
      polls,
    };
    if (!o.watch) return result;
    if (terminal) return { ...result, watch: 'terminal' };
    prev = job;
    await sleep(o.intervalSeconds * 1000, signal);
    if (signal.aborted) return { ...result, watch: 'interrupted' };
  }
}
