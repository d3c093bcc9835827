/**
 * The import job (docs/prep.md "The import job"): an Azure Data Box job of SKU DataBoxCustomerDisk,
 * transferType ImportToAzure, through @azure/arm-databox (src/azure/arm.ts). It is created from the
 * drives prep recorded (src/core/staging-records.ts), read by ship, status, complete and repair
 * ({@link readJob}), and can be cancelled. Real Azure with DefaultAzureCredential by default; the
 * emulator when `emulator` is given or saved in the staging settings.
 *
 * What a created job leaves behind:
 *  - `settings.seed.job` in `<staging>/settings.json` ({@link JobReference}), seed state `job-created`
 *  - `settings.emulator` when the job went to the emulator
 *  - an entry in `$DRIVESEED_HOME/jobs.json` (default `~/.driveseed`), so that `driveseed ship`
 *    without options finds the job waiting to be shipped ({@link knownJobs})
 *
 * Secrets: the BitLocker keys are revealed only into the create request; `--print` masks them, and
 * nothing here logs or returns them ({@link jobKeys} returns them as Secret objects).
 */
import * as path from 'node:path';
import type { DataBoxManagementClient, JobResource } from '@azure/arm-databox';
import { ARM_API_VERSION, armError, createDataBoxClient } from '../azure/arm';
import { type JobView, type ShipTo, createValidations, datacenterRequest, importJobBody, jobViewOf, shipToOf, validationProblems } from '../azure/import-job';
import { askOrFail, type CommandContext } from './command';
import { DriveseedError, usageError } from '../base/errors';
import { Secret } from '../base/secret';
import { askReturnInfo } from './job-inputs';
import { importJobInput, jobCoordinates, jobUrl, type JobCoordinates, type JobCreateOptions } from './job-request';
import { rememberJob } from './known-jobs';
import { settingsPath } from './settings';
import { type JobReference, advanceSeed, readPreparedDrives, saveJobReference, savedJob } from './staging-records';

export type { JobReference } from './staging-records';
export type { JobView, DiskView, ShipTo } from '../azure/import-job';

export interface JobCreateResult {
  job: JobReference;
  disks: Array<{ serialNumber: string; manifestHash: string; copyStatus: string }>;
  shipTo: ShipTo;
  /** the settings file the job reference was saved in */
  settingsFile: string;
  /** true when the job already existed with these disks (create is idempotent) */
  existed: boolean;
}

/** `job create --print`: the exact request, BitLocker keys masked. */
export interface JobPrintResult {
  method: 'PUT';
  url: string;
  apiVersion: string;
  body: JobResource;
}

/** `job get`'s result: the saved reference with the service's view of the job. */
export interface JobGetResult {
  job: JobReference;
  status: string;
  view: JobView;
}

// ---------------------------------------------------------------------------------------------
// Where the job lives
// ---------------------------------------------------------------------------------------------

export { jobCoordinates, type JobCoordinates, type JobCreateOptions } from './job-request';
export { driveseedHome, knownJobs, type KnownJob } from './known-jobs';

/** Where a created job lives: the ARM coordinates of a {@link JobReference}. */
export interface JobLocation {
  name: string;
  subscription: string;
  resourceGroup: string;
  /** the emulator's ARM endpoint; absent means real Azure */
  emulator?: string;
}

/** The ARM client for the coordinates (emulator or real Azure with DefaultAzureCredential). */
export function clientFor(c: Pick<JobCoordinates, 'subscription' | 'emulator'>): DataBoxManagementClient {
  return createDataBoxClient({ subscriptionId: c.subscription, ...(c.emulator ? { emulator: c.emulator } : {}) });
}

/**
 * Jobs_Get, mapped to a {@link JobView}: the one reader that job get, ship, status, complete and
 * repair share. Errors: AZURE_REQUEST_FAILED (a 404 included) / AZURE_UNREACHABLE, naming the job.
 */
export async function readJob(at: JobLocation, client: DataBoxManagementClient = clientFor(at)): Promise<JobView> {
  try {
    return jobViewOf(await client.jobs.get(at.resourceGroup, at.name, { expand: 'details' }), at.name);
  } catch (err) {
    throw armError(err, `reading import job ${at.name} (resource group ${at.resourceGroup})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Create, get, cancel, keys
// ---------------------------------------------------------------------------------------------

/** The datacenter that receives the disks (regionConfiguration); a warning and an empty address when it cannot be read. */
export async function datacenterOf(client: DataBoxManagementClient, location: string, ctx: Pick<CommandContext, 'reporter'>): Promise<ShipTo> {
  try {
    const r = await client.service.regionConfiguration(location, datacenterRequest(location));
    return shipToOf(location, r.datacenterAddressResponse);
  } catch (err) {
    ctx.reporter.warning('DATACENTER_LOOKUP_FAILED', `Could not read the datacenter address of ${location}: ${armError(err, 'regionConfiguration').message}`);
    return { address: {}, supportedCarriers: [], location };
  }
}

/**
 * Creates the import job for the drives prep recorded: checks the drives against the service's
 * rules ({@link importJobInput}), runs the service's input validation (validateInputs; any failed
 * check is JOB_INPUTS_INVALID naming each), creates the job, saves the job reference in the
 * staging settings and in `$DRIVESEED_HOME/jobs.json`, and reports the datacenter's ship-to address
 * and supported return carriers (event `job`). With `print`, returns the request instead.
 *
 * Idempotent: when a job of that name already exists with the same disks, it is reported as
 * `existed: true`; with other disks it fails with JOB_EXISTS.
 * Errors: PREP_NOT_DONE, SETTINGS_MISSING, JOB_SETTINGS_INCOMPLETE, JOB_TOO_MANY_DISKS,
 * DRIVE_SERIAL_GENERATED, BITLOCKER_KEY_MISSING, DRIVE_SECTOR_SIZE_UNSUPPORTED, PROMPT_REQUIRED,
 * RETURN_ADDRESS_INVALID, RETURN_CARRIER_UNSUPPORTED (USAGE);
 * JOB_INPUTS_INVALID, JOB_EXISTS, AZURE_REQUEST_FAILED / AZURE_UNREACHABLE (AZURE).
 */
export async function createJob(o: JobCreateOptions & { print: true }, ctx: CommandContext): Promise<JobPrintResult>;
export async function createJob(o: JobCreateOptions, ctx: CommandContext): Promise<JobCreateResult>;
export async function createJob(o: JobCreateOptions, ctx: CommandContext): Promise<JobCreateResult | JobPrintResult> {
  const c = jobCoordinates(o.staging, { ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.emulator ? { emulator: o.emulator } : {}) });
  readPreparedDrives(o.staging, { required: true }); // PREP_NOT_DONE before asking for an address
  const returnInfo = o.returnInfo ?? (await askReturnInfo(ctx));
  const input = importJobInput(o, c, returnInfo, ctx);
  if (o.print) return { method: 'PUT', url: jobUrl(c), apiVersion: ARM_API_VERSION, body: importJobBody(input) };

  const client = o.client ?? clientFor(c);
  const serials = input.disks.map((d) => d.serialNumber).sort();
  let existing: JobResource | undefined;
  try {
    existing = await client.jobs.get(c.resourceGroup, c.name, { expand: 'details' });
  } catch (err) {
    const e = armError(err, `looking up import job ${c.name}`);
    if (e.details?.statusCode !== 404) throw e;
  }
  // The datacenter: its address is what the user ships to, its carriers what it returns disks with.
  const datacenter = await datacenterOf(client, c.location, ctx);
  let job = existing;
  if (existing) {
    const have = jobViewOf(existing, c.name)
      .disks.map((d) => d.serialNumber)
      .sort();
    if (have.join(',') !== serials.join(',')) {
      throw new DriveseedError(
        'JOB_EXISTS',
        `Import job ${c.name} already exists in resource group ${c.resourceGroup} with disks ${have.join(', ') || 'none'}, not the prepared disks ${serials.join(', ')}; stage into a new staging location with a new --job name`,
        {
          category: 'AZURE',
          details: { job: c.name, disks: have },
        },
      );
    }
    ctx.reporter.info(`Import job ${c.name} already exists with these disks; not creating it again`);
  } else {
    let validation;
    try {
      validation = await client.service.validateInputsByResourceGroup(c.resourceGroup, c.location, createValidations(input));
    } catch (err) {
      throw armError(err, `validating the inputs of import job ${c.name}`);
    }
    const problems = validationProblems(validation);
    if (problems.length > 0) {
      throw new DriveseedError(
        'JOB_INPUTS_INVALID',
        `The service refused the job's inputs: ${problems.map((p) => `${p.validationType}: ${p.code ? `${p.code}: ` : ''}${p.message}`).join('; ')}; correct them (return address file, stage settings) and run driveseed job create again`,
        {
          category: 'AZURE',
          details: { job: c.name, problems },
        },
      );
    }
    const carriers = datacenter.supportedCarriers;
    const carrier = input.returnPackage.carrierName;
    const match = carriers.find((x) => x.toLowerCase() === carrier.toLowerCase());
    if (carriers.length > 0 && !match) {
      throw usageError(
        'RETURN_CARRIER_UNSUPPORTED',
        `The datacenter for ${c.location} returns disks with ${carriers.join(', ')} only; returnShipping.carrierName "${carrier}" in the return address is not one of them: give an account with one of those carriers`,
        {
          field: 'returnAddress',
          supportedCarriers: carriers,
        },
      );
    }
    if (match) input.returnPackage.carrierName = match;
    ctx.reporter.info(`Creating import job ${c.name} in ${c.resourceGroup} (${c.emulator ? `emulator ${c.emulator}` : 'Azure'})`);
    try {
      job = await client.jobs.beginCreateAndWait(c.resourceGroup, c.name, importJobBody(input, { reveal: true }));
    } catch (err) {
      throw armError(err, `creating import job ${c.name}`);
    }
  }

  const view = jobViewOf(job!, c.name);
  const shipTo = view.shipTo && Object.keys(view.shipTo.address).length > 0 ? view.shipTo : datacenter;
  const ref: JobReference = {
    name: c.name,
    subscription: c.subscription,
    resourceGroup: c.resourceGroup,
    location: c.location,
    account: c.account,
    createdAt: view.createdAt ?? new Date().toISOString(),
    state: view.status,
    ...(c.emulator ? { emulator: c.emulator } : {}),
  };
  saveJobReference(o.staging, ref);
  advanceSeed(o.staging, 'job-created');
  rememberJob(
    { name: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup, staging: path.resolve(o.staging), createdAt: ref.createdAt },
    ctx.env,
  );
  const disks = view.disks.map((d) => ({
    serialNumber: d.serialNumber,
    manifestHash: input.disks.find((x) => x.serialNumber === d.serialNumber)?.manifestHash ?? '',
    copyStatus: d.copyStatus,
  }));
  ctx.reporter.event('job', {
    name: ref.name,
    resourceGroup: ref.resourceGroup,
    status: ref.state,
    disks: disks.length,
    shipTo: shipTo.address,
    supportedCarriers: shipTo.supportedCarriers,
  });
  return { job: ref, disks, shipTo, settingsFile: settingsPath(o.staging), existed: existing !== undefined };
}

function locationOf(ref: JobReference, emulator?: string): JobLocation {
  const e = emulator ?? ref.emulator;
  return { name: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup, ...(e ? { emulator: e } : {}) };
}

/**
 * Reads the job saved for the staging location from the service ({@link readJob}); refreshes
 * `settings.seed.job.state`. Errors: JOB_NOT_CREATED (USAGE), AZURE_*.
 */
export async function getJob(
  o: { staging: string; emulator?: string; client?: DataBoxManagementClient },
  ctx: Pick<CommandContext, 'reporter'>,
): Promise<JobGetResult> {
  const ref = savedJob(o.staging);
  const at = locationOf(ref, o.emulator);
  const view = await readJob(at, o.client ?? clientFor(at));
  if (view.status !== ref.state) saveJobReference(o.staging, { ...ref, state: view.status });
  ctx.reporter.event('job', { name: ref.name, status: view.status, disks: view.disks.length });
  return { job: { ...ref, state: view.status }, status: view.status, view };
}

export interface JobCancelOptions {
  staging: string;
  reason: string;
  /** confirmed already (--yes, or the RPC param yes) */
  yes: boolean;
  emulator?: string;
  client?: DataBoxManagementClient;
}

/**
 * Cancels the staging location's import job (Jobs_Cancel), after a typed "yes" or `yes`. Refused
 * when the service says the job can no longer be cancelled (JOB_NOT_CANCELLABLE: the disks are on
 * their way or at the datacenter). The seed goes back to `prepared`: the drives can go in a new job.
 * Errors: JOB_NOT_CREATED, PROMPT_REQUIRED (USAGE); JOB_CANCEL_NOT_CONFIRMED (CANCELLED);
 * JOB_NOT_CANCELLABLE, AZURE_* (AZURE).
 */
export async function cancelJob(o: JobCancelOptions, ctx: CommandContext): Promise<{ job: JobReference; status: string }> {
  const ref = savedJob(o.staging);
  const at = locationOf(ref, o.emulator);
  const client = o.client ?? clientFor(at);
  const view = await readJob(at, client);
  if (!view.isCancellable) {
    throw new DriveseedError(
      'JOB_NOT_CANCELLABLE',
      `Import job ${ref.name} is ${view.status} and the service no longer allows cancelling it; contact Azure support to stop it`,
      { category: 'AZURE', details: { job: ref.name, status: view.status } },
    );
  }
  if (!o.yes) {
    const answer = await askOrFail(ctx, {
      question: `Cancel import job ${ref.name} (${view.status}, ${view.disks.length} disk(s))? Type yes to cancel it:`,
      flag: '--yes',
      field: 'yes',
    });
    if (answer.toLowerCase() !== 'yes') {
      throw new DriveseedError('JOB_CANCEL_NOT_CONFIRMED', `Cancelling was not confirmed (typed "${answer}"); import job ${ref.name} is unchanged`, {
        category: 'CANCELLED',
        details: { job: ref.name },
      });
    }
  }
  try {
    await client.jobs.cancel(ref.resourceGroup, ref.name, { reason: o.reason });
  } catch (err) {
    throw armError(err, `cancelling import job ${ref.name}`);
  }
  const after = await readJob(at, client);
  const next = { ...ref, state: after.status };
  saveJobReference(o.staging, next);
  advanceSeed(o.staging, 'prepared', {}, { back: true });
  ctx.reporter.info(
    `Import job ${ref.name} is ${after.status}; the drives can be sent in a new job (stage settings --job <new name>, then driveseed job create)`,
  );
  return { job: next, status: after.status };
}

/**
 * The disks' BitLocker keys as the service holds them (Jobs_ListCredentials): serial → key, null
 * for a disk the job holds no key for (an unencrypted emulator disk). Errors: JOB_NOT_CREATED (USAGE), AZURE_*.
 */
export async function jobKeys(o: { staging: string; emulator?: string; client?: DataBoxManagementClient }): Promise<Map<string, Secret | null>> {
  const ref = savedJob(o.staging);
  const at = locationOf(ref, o.emulator);
  const client = o.client ?? clientFor(at);
  const out = new Map<string, Secret | null>();
  try {
    for await (const cred of client.jobs.listCredentials(ref.resourceGroup, ref.name)) {
      const secrets = cred.jobSecrets as { jobSecretsType?: string; diskSecrets?: Array<{ diskSerialNumber?: string; bitLockerKey?: string }> } | undefined;
      if (secrets?.jobSecretsType !== 'DataBoxCustomerDisk') continue;
      for (const d of secrets.diskSecrets ?? []) if (d.diskSerialNumber) out.set(d.diskSerialNumber, d.bitLockerKey ? new Secret(d.bitLockerKey) : null);
    }
  } catch (err) {
    throw armError(err, `reading the disk credentials of import job ${ref.name}`);
  }
  return out;
}
