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
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DataBoxManagementClient, JobResource } from '@azure/arm-databox';
import { ARM_API_VERSION, AZURE_ARM_ENDPOINT, armError, createDataBoxClient } from '../azure/arm';
import {
  type ImportJobInput,
  type JobView,
  type ShipTo,
  MAX_DISKS_PER_JOB,
  createValidations,
  datacenterRequest,
  importJobBody,
  jobViewOf,
  shipToOf,
  validationProblems,
} from '../azure/import-job';
import { DEFAULT_MANIFEST_FILE } from '../azure/manifest';
import { serviceRuleProblems, type ServiceRule } from '../prep/service-rules';
import { writeFileAtomic } from '../repo/atomic';
import { askOrFail, type CommandContext } from './command';
import { DriveseedError, usageError } from '../base/errors';
import { Secret } from '../base/secret';
import { askReturnInfo, type ReturnInfo } from './job-inputs';
import { readSettings, settingsPath, type JobSettings } from './settings';
import {
  type JobReference,
  type PreparedDriveRecord,
  advanceSeed,
  readDriveKeys,
  readPreparedDrives,
  saveJobReference,
  savedJob,
} from './staging-records';

export type { JobReference } from './staging-records';
export type { JobView, DiskView, ShipTo } from '../azure/import-job';

export interface JobCreateOptions {
  staging: string;
  /** contact, return address and return carrier; asked interactively (ctx.prompter) when absent */
  returnInfo?: ReturnInfo;
  /** ARM endpoint of the emulator; else settings.emulator; else real Azure */
  emulator?: string;
  /** subscription id from a .publishsettings file; else settings.subscription */
  subscription?: string;
  logLevel: 'Error' | 'Verbose';
  /** ask the service to keep a copy of each drive manifest in the storage account; default true */
  enableManifestBackup?: boolean;
  /** show the request instead of sending it (`job create --print`): nothing is created or saved */
  print?: boolean;
  /** tests: the ARM client to use instead of createDataBoxClient */
  client?: DataBoxManagementClient;
}

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

/** The Azure coordinates of the staging location's job, checked; throws naming what is missing. */
export interface JobCoordinates {
  settings: JobSettings;
  name: string;
  subscription: string;
  resourceGroup: string;
  account: string;
  location: string;
  emulator?: string;
}

/**
 * Reads the staging settings and checks that everything a job needs is there (subscription,
 * resource group, account, location). `subscription`/`emulator` override the saved values.
 * Throws SETTINGS_MISSING / JOB_SETTINGS_INCOMPLETE (USAGE) naming the stage options to give.
 */
export function jobCoordinates(staging: string, override: { subscription?: string; emulator?: string } = {}): JobCoordinates {
  const settings = readSettings(staging);
  if (!settings) {
    throw usageError('SETTINGS_MISSING', `${settingsPath(staging)} does not exist; run driveseed stage with --staging ${staging} --job <name> first`, { staging });
  }
  const subscription = override.subscription ?? settings.subscription;
  const missing: string[] = [];
  if (!subscription) missing.push('--subscription (or prep/job create --publish-settings <file>)');
  if (!settings.resourceGroup) missing.push('--resource-group');
  if (!settings.account) missing.push('--account');
  if (!settings.location) missing.push('--location');
  if (missing.length > 0) {
    throw usageError('JOB_SETTINGS_INCOMPLETE', `The job settings in ${settingsPath(staging)} lack ${missing.join(', ')}; add them with driveseed stage --staging ${staging} --job ${settings.job} ${missing.map((m) => m.split(' ')[0]).join(' … ')} …`, { staging, missing });
  }
  const emulator = override.emulator ?? settings.emulator;
  return { settings, name: settings.job, subscription: subscription!, resourceGroup: settings.resourceGroup!, account: settings.account!, location: settings.location!, ...(emulator ? { emulator } : {}) };
}

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
// The create request
// ---------------------------------------------------------------------------------------------

/**
 * The create request's inputs from the prepared drives, refusing what the service would refuse
 * before anything is sent: more than {@link MAX_DISKS_PER_JOB} disks (JOB_TOO_MANY_DISKS), and for
 * real Azure a generated drive id instead of a hardware serial (DRIVE_SERIAL_GENERATED) or a drive
 * without a BitLocker key (BITLOCKER_KEY_MISSING) or with 4K-native sectors
 * (DRIVE_SECTOR_SIZE_UNSUPPORTED). The emulator accepts them (a generated id with a warning).
 */
export function importJobInput(o: JobCreateOptions, c: JobCoordinates, returnInfo: ReturnInfo, ctx: Pick<CommandContext, 'reporter'>): ImportJobInput {
  const prepared = readPreparedDrives(o.staging, { required: true });
  const keys = readDriveKeys(o.staging);
  const drives = prepared.drives;
  // prep's drive rules, over what prep recorded (the disks may be far away by now).
  const problems = serviceRuleProblems(drives.map((d) => ({ input: d.driveId, serial: d.driveIdSource === 'hardware' ? d.driveId : null, ...(d.logicalSectorSize ? { logicalSectorSize: d.logicalSectorSize } : {}) })));
  const of = (rule: ServiceRule) => problems.filter((p) => p.rule === rule).map((p) => p.input!);
  if (problems.some((p) => p.rule === 'tooManyDisks')) {
    throw usageError('JOB_TOO_MANY_DISKS', `${drives.length} drives were prepared from ${o.staging}, but one import job takes at most ${MAX_DISKS_PER_JOB}; prepare the data in parts (stage each part into its own staging location) and create one job per part`, {
      staging: o.staging,
      drives: drives.length,
    });
  }
  const generated = of('serial');
  const unkeyed = drives.filter((d) => !keys.has(d.driveId)).map((d) => d.driveId);
  if (!c.emulator) {
    const sectors = of('sectorSize');
    if (sectors.length > 0) {
      const size = (id: string) => drives.find((d) => d.driveId === id)?.logicalSectorSize;
      throw usageError('DRIVE_SECTOR_SIZE_UNSUPPORTED', `Drive(s) ${sectors.map((id) => `${id} (${size(id)}-byte sectors)`).join(', ')} are 4K native, which the datacenter reports as UnsupportedDrive; prepare disks with 512-byte logical sectors (512n or 512e)`, {
        drives: sectors,
      });
    }
    if (generated.length > 0) {
      throw usageError('DRIVE_SERIAL_GENERATED', `Drive(s) ${generated.join(', ')} have a generated id, not the disk's hardware serial number, which the service matches disks by; prepare physical SATA disks (whose serial driveseed reads) for the real service, or create the job on the emulator with --emulator`, {
        drives: generated,
      });
    }
    if (unkeyed.length > 0) {
      throw usageError('BITLOCKER_KEY_MISSING', `Drive(s) ${unkeyed.join(', ')} have no BitLocker key in ${o.staging}/.prep/keys.json; the service requires BitLocker: prepare the drives on Windows with --encryption bitlocker (docs/windows.md)`, {
        drives: unkeyed,
      });
    }
  } else if (generated.length > 0) {
    ctx.reporter.warning('DRIVE_ID_GENERATED', `Drive(s) ${generated.join(', ')} use a generated id; the emulator accepts that, the real service would not`, { drives: generated });
  }
  const ra = returnInfo.returnAddress;
  return {
    location: c.location,
    storageAccountId: `/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${c.account}`,
    logLevel: o.logLevel,
    contact: { contactName: ra.recipientName, phone: ra.phone, emailList: [ra.email] },
    shippingAddress: {
      streetAddress1: ra.streetAddress1,
      ...(ra.streetAddress2 ? { streetAddress2: ra.streetAddress2 } : {}),
      city: ra.city,
      ...(ra.stateOrProvince ? { stateOrProvince: ra.stateOrProvince } : {}),
      postalCode: ra.postalCode,
      country: ra.countryOrRegion,
    },
    returnPackage: { ...returnInfo.returnShipping },
    enableManifestBackup: o.enableManifestBackup ?? true,
    disks: drives.map((d: PreparedDriveRecord) => {
      const key = keys.get(d.driveId);
      return { serialNumber: d.driveId, manifestFile: d.manifestFile || DEFAULT_MANIFEST_FILE, manifestHash: d.manifestHash, ...(key ? { bitLockerKey: key } : {}) };
    }),
  };
}

function jobUrl(c: Pick<JobCoordinates, 'subscription' | 'resourceGroup' | 'name' | 'emulator'>): string {
  return `${c.emulator ?? AZURE_ARM_ENDPOINT}/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.DataBox/jobs/${c.name}?api-version=${ARM_API_VERSION}`;
}

// ---------------------------------------------------------------------------------------------
// Registry of jobs known on this computer
// ---------------------------------------------------------------------------------------------

/** `$DRIVESEED_HOME`, else `~/.driveseed`: per-user records (jobs.json, shipments.json). */
export function driveseedHome(env: Record<string, string | undefined> = process.env): string {
  return env.DRIVESEED_HOME || path.join(os.homedir(), '.driveseed');
}

export interface KnownJob {
  name: string;
  subscription: string;
  resourceGroup: string;
  staging: string;
  createdAt: string;
}

/** Jobs created from this computer (`<home>/jobs.json`), newest last. */
export function knownJobs(env: Record<string, string | undefined> = process.env): KnownJob[] {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(driveseedHome(env), 'jobs.json'), 'utf8')) as { jobs?: KnownJob[] };
    return Array.isArray(doc.jobs) ? doc.jobs : [];
  } catch {
    return [];
  }
}

function rememberJob(job: KnownJob, env: Record<string, string | undefined>): void {
  const home = driveseedHome(env);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const jobs = knownJobs(env).filter((j) => !(j.name === job.name && j.subscription === job.subscription && j.resourceGroup === job.resourceGroup));
  jobs.push(job);
  writeFileAtomic(path.join(home, 'jobs.json'), JSON.stringify({ version: 1, jobs }, null, 2) + '\n');
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
    const have = jobViewOf(existing, c.name).disks.map((d) => d.serialNumber).sort();
    if (have.join(',') !== serials.join(',')) {
      throw new DriveseedError('JOB_EXISTS', `Import job ${c.name} already exists in resource group ${c.resourceGroup} with disks ${have.join(', ') || 'none'}, not the prepared disks ${serials.join(', ')}; stage into a new staging location with a new --job name`, {
        category: 'AZURE',
        details: { job: c.name, disks: have },
      });
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
      throw new DriveseedError('JOB_INPUTS_INVALID', `The service refused the job's inputs: ${problems.map((p) => `${p.validationType}: ${p.code ? `${p.code}: ` : ''}${p.message}`).join('; ')}; correct them (return address file, stage settings) and run driveseed job create again`, {
        category: 'AZURE',
        details: { job: c.name, problems },
      });
    }
    const carriers = datacenter.supportedCarriers;
    const carrier = input.returnPackage.carrierName;
    const match = carriers.find((x) => x.toLowerCase() === carrier.toLowerCase());
    if (carriers.length > 0 && !match) {
      throw usageError('RETURN_CARRIER_UNSUPPORTED', `The datacenter for ${c.location} returns disks with ${carriers.join(', ')} only; returnShipping.carrierName "${carrier}" in the return address is not one of them: give an account with one of those carriers`, {
        field: 'returnAddress',
        supportedCarriers: carriers,
      });
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
  rememberJob({ name: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup, staging: path.resolve(o.staging), createdAt: ref.createdAt }, ctx.env);
  const disks = view.disks.map((d) => ({ serialNumber: d.serialNumber, manifestHash: input.disks.find((x) => x.serialNumber === d.serialNumber)?.manifestHash ?? '', copyStatus: d.copyStatus }));
  ctx.reporter.event('job', { name: ref.name, resourceGroup: ref.resourceGroup, status: ref.state, disks: disks.length, shipTo: shipTo.address, supportedCarriers: shipTo.supportedCarriers });
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
export async function getJob(o: { staging: string; emulator?: string; client?: DataBoxManagementClient }, ctx: Pick<CommandContext, 'reporter'>): Promise<JobGetResult> {
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
    throw new DriveseedError('JOB_NOT_CANCELLABLE', `Import job ${ref.name} is ${view.status} and the service no longer allows cancelling it; contact Azure support to stop it`, { category: 'AZURE', details: { job: ref.name, status: view.status } });
  }
  if (!o.yes) {
    const answer = await askOrFail(ctx, { question: `Cancel import job ${ref.name} (${view.status}, ${view.disks.length} disk(s))? Type yes to cancel it:`, flag: '--yes', field: 'yes' });
    if (answer.toLowerCase() !== 'yes') {
      throw new DriveseedError('JOB_CANCEL_NOT_CONFIRMED', `Cancelling was not confirmed (typed "${answer}"); import job ${ref.name} is unchanged`, { category: 'CANCELLED', details: { job: ref.name } });
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
  ctx.reporter.info(`Import job ${ref.name} is ${after.status}; the drives can be sent in a new job (stage settings --job <new name>, then driveseed job create)`);
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
