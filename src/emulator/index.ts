/**
 * driveseed's local Azure Import/Export double: Azurite for blob storage plus our own
 * Microsoft.DataBox ARM emulator (customer-disk import jobs) and datacenter, all on 127.0.0.1
 * (docs/emulator.md).
 *
 *   const emu = await startEmulator({ stateDir });            // ARM + Azurite up
 *   const client = createDataBoxClient({ subscriptionId, emulator: emu.armEndpoint });
 *   … jobs.beginCreateAndWait(rg, name, body) / jobs.markDevicesShipped(name, rg, …) through the SDK …
 *   const r = await deliverDrive({ emulator: emu, job: 'seed1', drive: '/mnt/disk1', wait: true });
 *   // r: { job, serialNumber, copyStatus, status (the job's), logStatus, errorLogLink?, verboseLogLink? }
 *   await emu.stop();                                         // nothing left running
 *
 * Storage accounts: the emulator hosts a fixed set of accounts (default: devstoreaccount1, with
 * Azurite's well-known key); other names get a random key, kept in the state. A job's
 * storageAccountId must name one of them (`…/providers/Microsoft.Storage/storageAccounts/<name>`).
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { blobServiceFor, type EmulatorAccount } from '../azure/blob';
import { DriveseedError } from '../base/errors';
import { Secret } from '../base/secret';
import { startAzurite, DEV_ACCOUNT, DEV_ACCOUNT_KEY, type AzuriteHandle } from './azurite';
import { Datacenter, DEFAULT_STEP_MS, type DriveOutcome } from './datacenter';
import { ArmError, type CopyLogFormat, type StoredJob } from './model';
import { createHandler } from './server';
import { StateStore } from './state';

export { DRIVE_ID_FILE } from './volume';
export type { DriveOutcome } from './datacenter';
export type { CopyLogFormat } from './model';

export interface EmulatorOptions {
  /** where jobs (emulator-state.json) and blobs (azurite/) persist across restarts; absent: memory only */
  stateDir?: string;
  /** ARM port on 127.0.0.1; 0 (default) picks a free one */
  armPort?: number;
  /** Azurite blob port on 127.0.0.1; 0 (default) picks a free one */
  blobPort?: number;
  /** storage accounts to host (3-24 lowercase letters and digits); default ["devstoreaccount1"] */
  accounts?: string[];
  /** pause between state transitions in ms; default env DRIVESEED_EMULATOR_STEP_MS, else 200 */
  stepMs?: number;
  /** the copy-log format new jobs get: 2021-08-01 (default, today's databoxcopylog logs) or 2014-11-01 (the classic DriveLog) */
  copyLogFormat?: CopyLogFormat;
}

export interface DeliverOptions {
  job: string;
  /** a mounted volume directory, a block device or an image file (mounted read-only by the emulator, as root) */
  drive: string;
  /** needed only when several resource groups have a job of that name */
  resourceGroup?: string;
  /** wait until the drive (and, if it is the last, the job) reached its final state; default false */
  wait?: boolean;
}

/** What deliver answers: with wait, the final outcome; without, the acceptance (job AtAzureDC). */
export type DeliverResult = DriveOutcome | { job: string; serialNumber: string; status: 'AtAzureDC' };

export interface RunningEmulator {
  /** `http://127.0.0.1:<port>`: pass as `endpoint` to the SDK (see createDataBoxClient) */
  armEndpoint: string;
  /** Azurite's `http://127.0.0.1:<port>`; an account's endpoint is `<blobEndpoint>/<account>` */
  blobEndpoint: string;
  accounts: EmulatorAccount[];
  stateDir?: string;
  /** plays the carrier and the datacenter for one drive (same as POST /_emulator/deliver) */
  deliver(opts: DeliverOptions): Promise<DeliverResult>;
  /** stops the datacenter (unmounting what it mounted), the ARM server and Azurite; idempotent */
  stop(): Promise<void>;
}

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

function stepFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.DRIVESEED_EMULATOR_STEP_MS;
  if (raw === undefined || raw === '') return DEFAULT_STEP_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new DriveseedError('EMULATOR_STEP_INVALID', `DRIVESEED_EMULATOR_STEP_MS="${raw}" must be a non-negative integer (milliseconds)`, {
      category: 'USAGE',
    });
  return n;
}

/** After a restart, disks that were being copied start over: the copy did not finish. */
function recoverInterrupted(jobs: StoredJob[]): void {
  for (const job of jobs) {
    for (const d of job.disks) {
      if (d.state === 'Received' || d.state === 'Transferring') {
        d.state = 'Specified';
        d.copyStatus = 'NotStarted';
        d.error = { code: 'Interrupted', message: 'the emulator stopped during the copy; deliver the disk again' };
        d.bytesProcessed = 0;
        d.filesProcessed = 0;
        d.filesErroredOut = 0;
      }
    }
  }
}

/**
 * Starts Azurite and the ARM emulator on 127.0.0.1. Throws DriveseedError AZURITE_START_FAILED,
 * EMULATOR_LISTEN_FAILED, EMULATOR_STATE_CORRUPT or EMULATOR_ACCOUNT_INVALID; on failure nothing
 * is left running.
 */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const stepMs = opts.stepMs ?? stepFromEnv(process.env);
  const store = await StateStore.open(opts.stateDir);
  const names = opts.accounts ?? [DEV_ACCOUNT];
  for (const n of names) {
    if (!ACCOUNT_NAME.test(n))
      throw new DriveseedError('EMULATOR_ACCOUNT_INVALID', `Storage account name "${n}" must be 3-24 lowercase letters and digits`, { category: 'USAGE' });
    store.state.accounts[n] ??= n === DEV_ACCOUNT ? DEV_ACCOUNT_KEY : randomBytes(64).toString('base64');
  }
  recoverInterrupted(store.state.jobs);
  await store.save();

  const azurite: AzuriteHandle = await startAzurite({
    accounts: store.state.accounts,
    port: opts.blobPort ?? 0,
    ...(opts.stateDir ? { location: path.join(opts.stateDir, 'azurite') } : {}),
  });
  const accounts: EmulatorAccount[] = Object.entries(store.state.accounts).map(([name, key]) => ({
    name,
    blobEndpoint: `${azurite.url}/${name}`,
    key: new Secret(key),
  }));
  const datacenter = new Datacenter({
    store,
    stepMs,
    blobService: (account) => blobServiceFor({ account, emulator: accounts.find((a) => a.name === account)! }),
  });
  let armEndpoint = '';
  const server = http.createServer(
    createHandler({
      store,
      datacenter,
      armEndpoint: () => armEndpoint,
      info: () => ({
        armEndpoint,
        blobEndpoint: azurite.url,
        accounts: accounts.map((a) => ({ name: a.name, blobEndpoint: a.blobEndpoint, key: a.key.reveal() })),
      }),
      copyLogFormat: opts.copyLogFormat ?? '2021-08-01',
    }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.armPort ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await azurite.stop();
    throw new DriveseedError(
      'EMULATOR_LISTEN_FAILED',
      `The ARM emulator could not listen on 127.0.0.1:${opts.armPort ?? 0}: ${(err as Error).message}; pick another --port`,
      { category: 'FAILED', cause: err },
    );
  }
  armEndpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  let stopping: Promise<void> | undefined;
  const emu: RunningEmulator = {
    armEndpoint,
    blobEndpoint: azurite.url,
    accounts,
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    async deliver(d) {
      const matches = store.state.jobs.filter(
        (j) => j.name === d.job && (d.resourceGroup === undefined || j.resourceGroup.toLowerCase() === d.resourceGroup.toLowerCase()),
      );
      try {
        if (matches.length !== 1)
          throw new ArmError(
            matches.length ? 409 : 404,
            matches.length ? 'AmbiguousJobName' : 'ResourceNotFound',
            matches.length ? `Several jobs are named '${d.job}'; pass resourceGroup.` : `No import job named '${d.job}' exists in this emulator.`,
            'job',
          );
        const accepted = await datacenter.deliver(matches[0]!, d.drive);
        if (d.wait) return await accepted.done;
        accepted.done.catch(() => {});
        return { job: accepted.job, serialNumber: accepted.serialNumber, status: 'AtAzureDC' };
      } catch (err) {
        throw deliverError(err, d);
      }
    },
    stop() {
      stopping ??= (async () => {
        await datacenter.stop();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await azurite.stop();
        await store.save();
      })();
      return stopping;
    },
  };
  return emu;
}

/**
 * Exit categories of deliver's refusals (docs/emulator.md, "deliver's errors"): what the emulator,
 * playing Azure, refuses is AZURE (6); a drive path that does not exist or needs root is USAGE (2);
 * a drive that cannot be mounted is FAILED (1).
 */
const DELIVER_CATEGORY: Record<string, 'USAGE' | 'FAILED' | 'AZURE'> = {
  DRIVE_NOT_FOUND: 'USAGE',
  DRIVE_NEEDS_ROOT: 'USAGE',
  DRIVE_MOUNT_FAILED: 'FAILED',
};

function deliverError(err: unknown, d: DeliverOptions): unknown {
  if (err instanceof ArmError) {
    return new DriveseedError(`EMULATOR_${err.code.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`, err.message, {
      category: DELIVER_CATEGORY[err.code] ?? 'AZURE',
      details: { armCode: err.code, job: d.job, drive: d.drive },
    });
  }
  return err;
}

/**
 * Delivers a drive to an emulator: a RunningEmulator in this process, or a running one at its ARM
 * endpoint URL (POST <url>/_emulator/deliver). Errors are DriveseedErrors: EMULATOR_<ARM CODE in
 * snake case> (EMULATOR_INVALID_JOB_STATE, EMULATOR_DRIVE_NOT_IN_JOB, EMULATOR_RESOURCE_NOT_FOUND,
 * EMULATOR_DRIVE_MOUNT_FAILED, …) or EMULATOR_UNREACHABLE.
 */
export async function deliverDrive(opts: DeliverOptions & { emulator: RunningEmulator | string }): Promise<DeliverResult> {
  const { emulator, ...d } = opts;
  if (typeof emulator !== 'string') return emulator.deliver(d);
  const url = `${emulator.replace(/\/+$/, '')}/_emulator/deliver`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(d) });
  } catch (err) {
    throw new DriveseedError(
      'EMULATOR_UNREACHABLE',
      `The emulator at ${emulator} did not answer (${(err as Error).message}); start it with "driveseed emulator start"`,
      { category: 'AZURE', cause: err },
    );
  }
  const body = (await res.json()) as DeliverResult & { error?: { code: string; message: string; target?: string } };
  if (!res.ok) throw deliverError(new ArmError(res.status, body.error?.code ?? 'Unknown', body.error?.message ?? `HTTP ${res.status}`, body.error?.target), d);
  return body;
}
