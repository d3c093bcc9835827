/**
 * The Azure Import/Export job (docs/prep.md "The import job"): created after prep from the drive
 * records prep saved (`<staging>/.prep/drives.json`, keys in `.prep/keys.json`), through
 * Microsoft.ImportExport api-version 2021-01-01 (src/azure/arm.ts). Real Azure with
 * DefaultAzureCredential by default; the emulator when `emulator` is given or saved in the staging
 * settings.
 *
 * What a created job leaves behind (read by ship, status and complete):
 *  - `settings.seed.job` in `<staging>/settings.json`: {@link JobReference}
 *  - `settings.emulator` when the job went to the emulator
 *  - an entry in `$DRIVESEED_HOME/jobs.json` (default `~/.driveseed`), so that `driveseed ship`
 *    without options finds the job waiting to be shipped ({@link knownJobs})
 *
 * Secrets: the BitLocker keys are revealed only into the PUT body; nothing here logs or returns them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StorageImportExport } from '@azure/arm-storageimportexport';
import { armError, createImportExportClient } from '../azure/arm';
import { parseStorageAccountId } from '../azure/blob';
import { DEFAULT_MANIFEST_FILE } from '../azure/manifest';
import { journalDir } from '../prep/journal';
import { writeFileAtomic } from '../repo/atomic';
import { askOrFail, type CommandContext } from './command';
import { DriveseedError, usageError } from '../base/errors';
import { Secret } from '../base/secret';
import { readSettings, settingsPath, updateSettings, validateSubscription, type JobSettings } from './settings';

/** Where the service writes copy logs and (with backupDriveManifest) manifest copies: the documented example. */
export const DIAGNOSTICS_PATH = 'waimportexport';

/** The return address fields of the ARM `returnAddress` object (* = required by the service). */
export interface ReturnAddress {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  email: string;
}

/** The carrier and account the datacenter ships the drives back with (ARM `returnShipping`). */
export interface ReturnShipping {
  carrierName: string;
  carrierAccountNumber: string;
}

/** What `--return-address <json file>` holds (docs/prep.md "Return address file"). */
export interface ReturnInfo {
  returnAddress: ReturnAddress;
  returnShipping: ReturnShipping;
}

/** The job as saved in the staging settings (`settings.seed.job`). */
export interface JobReference {
  name: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  account: string;
  /** ISO time the service reports (systemData.createdAt), else the local time of the create call */
  createdAt: string;
  /** the state at the last time driveseed looked (Creating after create, Shipping after ship, …) */
  state: string;
  /** the emulator ARM endpoint when the job lives there; absent for real Azure */
  emulator?: string;
}

/** A drive as prep recorded it for the job (`.prep/drives.json`). */
export interface PreparedDriveRecord {
  driveId: string;
  manifestFile: string;
  manifestHash: string;
  target?: string;
  files?: number;
  bytes?: number;
}

/** The datacenter's address to ship to, and the carriers it accepts. */
export interface ShipTo {
  address: Record<string, string>;
  supportedCarriers: string[];
  /** the location the address belongs to */
  location: string;
}

export interface JobCreateOptions {
  staging: string;
  /** return address and shipping; asked interactively (ctx.prompter) when absent */
  returnInfo?: ReturnInfo;
  /** ARM endpoint of the emulator; else settings.emulator; else real Azure */
  emulator?: string;
  /** subscription id from a .publishsettings file; else settings.subscription */
  subscription?: string;
  logLevel: 'Error' | 'Verbose';
  /** ask the service to keep a copy of each drive manifest under diagnosticsPath; default true */
  backupDriveManifest?: boolean;
  /** tests: the ARM client to use instead of createImportExportClient */
  client?: StorageImportExport;
}

export interface JobCreateResult {
  job: JobReference;
  drives: Array<{ driveId: string; manifestHash: string; state: string }>;
  shipTo: ShipTo;
  /** the settings file the job reference was saved in */
  settingsFile: string;
  /** true when the job already existed with these drives (create is idempotent) */
  existed: boolean;
}

/** `job get`'s result: the saved reference with the service's view of the job (src/core/job.ts readJob). */
export interface JobGetResult {
  job: JobReference;
  state: string;
  percentComplete: number;
  deliveryPackage?: NonNullable<JobView['deliveryPackage']>;
  /** the datacenter's address to send the drives to */
  shipTo?: Record<string, string>;
  drives: DriveView[];
}

// ---------------------------------------------------------------------------------------------
// Inputs: publish settings, return address
// ---------------------------------------------------------------------------------------------

/**
 * Reads the subscription id(s) from a classic `.publishsettings` file (`<PublishData><PublishProfile>
 * <Subscription Id="…" Name="…" ManagementCertificate="…"/>`). The management certificate is for the
 * retired Service Management API and cannot authenticate against ARM: it is never read into memory
 * beyond this parse and never used (credentials come from DefaultAzureCredential).
 * Throws PUBLISH_SETTINGS_INVALID naming the file.
 */
export function parsePublishSettings(file: string): { subscriptionId: string; subscriptionName?: string; subscriptions: number } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError('PUBLISH_SETTINGS_UNREADABLE', `--publish-settings ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); give the .publishsettings file downloaded for the subscription`, { field: 'publishSettings', file });
  }
  if (!/<PublishData[\s>]/.test(text)) {
    throw usageError('PUBLISH_SETTINGS_INVALID', `--publish-settings ${file} is not a .publishsettings file (no <PublishData> element)`, { field: 'publishSettings', file });
  }
  const subs = [...text.matchAll(/<Subscription\b([^>]*)\/?>/g)].map((m) => {
    const attr = (name: string) => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(m[1]!)?.[1];
    return { id: attr('Id'), name: attr('Name') };
  });
  const first = subs.find((s) => s.id);
  if (!first?.id) throw usageError('PUBLISH_SETTINGS_INVALID', `--publish-settings ${file} names no subscription (<Subscription Id="…">)`, { field: 'publishSettings', file });
  const subscriptionId = validateSubscription(first.id, '--publish-settings subscription');
  return first.name ? { subscriptionId, subscriptionName: first.name, subscriptions: subs.length } : { subscriptionId, subscriptions: subs.length };
}

const ADDRESS_FIELDS: Array<{ key: keyof ReturnAddress; required: boolean; question: string }> = [
  { key: 'recipientName', required: true, question: 'Contact name:' },
  { key: 'phone', required: true, question: 'Contact phone number:' },
  { key: 'email', required: true, question: 'Contact e-mail address:' },
  { key: 'streetAddress1', required: true, question: 'Return address, street:' },
  { key: 'streetAddress2', required: false, question: 'Return address, second line (optional):' },
  { key: 'city', required: true, question: 'City:' },
  { key: 'stateOrProvince', required: false, question: 'State or province (optional):' },
  { key: 'postalCode', required: true, question: 'Postal code:' },
  { key: 'countryOrRegion', required: true, question: 'Country or region:' },
];
const SHIPPING_FIELDS: Array<{ key: keyof ReturnShipping; question: string }> = [
  { key: 'carrierName', question: 'Carrier to return the drives with (e.g. FedEx):' },
  { key: 'carrierAccountNumber', question: 'Your account number with that carrier:' },
];

/**
 * Validates a return-address object (the parsed `--return-address` file). Every missing or
 * malformed field is named in one RETURN_ADDRESS_INVALID error (details.fields lists them).
 */
export function validateReturnInfo(value: unknown, source = '--return-address'): ReturnInfo {
  const problems: string[] = [];
  const obj = (v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const root = obj(value);
  if (!root) throw usageError('RETURN_ADDRESS_INVALID', `${source} must hold a JSON object {"returnAddress": {…}, "returnShipping": {…}} (docs/prep.md)`, { field: 'returnAddress' });
  const ra = obj(root.returnAddress);
  const rs = obj(root.returnShipping);
  if (!ra) problems.push('returnAddress');
  if (!rs) problems.push('returnShipping');
  const address: Record<string, string> = {};
  if (ra) {
    for (const f of ADDRESS_FIELDS) {
      const v = ra[f.key];
      if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
        if (f.required) problems.push(`returnAddress.${f.key}`);
      } else if (typeof v !== 'string') problems.push(`returnAddress.${f.key} (not a string)`);
      else address[f.key] = v.trim();
    }
    if (address.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address.email)) problems.push(`returnAddress.email ("${address.email}" is not an e-mail address)`);
  }
  const shipping: Record<string, string> = {};
  if (rs) {
    for (const f of SHIPPING_FIELDS) {
      const v = rs[f.key];
      if (typeof v !== 'string' || v.trim() === '') problems.push(`returnShipping.${f.key}`);
      else shipping[f.key] = v.trim();
    }
  }
  if (problems.length > 0) {
    throw usageError('RETURN_ADDRESS_INVALID', `${source} is missing or has invalid: ${problems.join(', ')} (the import service requires them; docs/prep.md "Return address file")`, { field: 'returnAddress', fields: problems });
  }
  return { returnAddress: address as unknown as ReturnAddress, returnShipping: shipping as unknown as ReturnShipping };
}

/** Reads and validates a `--return-address` JSON file. */
export function readReturnInfo(file: string): ReturnInfo {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError('RETURN_ADDRESS_UNREADABLE', `--return-address ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`, { field: 'returnAddress', file });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError('RETURN_ADDRESS_INVALID', `--return-address ${file} is not valid JSON (${(err as Error).message})`, { field: 'returnAddress', file });
  }
  return validateReturnInfo(value, `--return-address ${file}`);
}

/** Asks each field like the old tool did; without a prompter, PROMPT_REQUIRED naming --return-address. */
export async function askReturnInfo(ctx: Pick<CommandContext, 'prompter'>): Promise<ReturnInfo> {
  const ask = (question: string) => askOrFail(ctx, { question, flag: '--return-address', field: 'returnAddress' });
  const returnAddress: Record<string, string> = {};
  for (const f of ADDRESS_FIELDS) {
    for (;;) {
      const a = (await ask(f.question)).trim();
      if (a === '' && f.required) continue; // all required, as in the old tool: ask again
      if (a !== '') returnAddress[f.key] = a;
      break;
    }
  }
  const returnShipping: Record<string, string> = {};
  for (const f of SHIPPING_FIELDS) {
    let a = '';
    while (a === '') a = (await ask(f.question)).trim();
    returnShipping[f.key] = a;
  }
  return validateReturnInfo({ returnAddress, returnShipping }, 'the answers');
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

/** The ARM client for the coordinates (emulator or real Azure with DefaultAzureCredential). */
export function clientFor(c: Pick<JobCoordinates, 'subscription' | 'emulator'>): StorageImportExport {
  return createImportExportClient({ subscriptionId: c.subscription, ...(c.emulator ? { emulator: c.emulator } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Reading the job (Jobs_Get): the one reader that job get, ship, status, complete and repair share
// ---------------------------------------------------------------------------------------------

/** A drive of the job as the service reports it. */
export interface DriveView {
  driveId: string;
  state: string;
  percentComplete: number;
  bytesSucceeded: number;
  copyStatus?: string;
  errorLogUri?: string;
  verboseLogUri?: string;
}

/** The job as the service reports it (never its BitLocker keys). */
export interface JobView {
  name: string;
  state: string;
  percentComplete: number;
  storageAccountId: string;
  /** the storage account named by storageAccountId */
  account?: string;
  diagnosticsPath?: string;
  deliveryPackage?: { carrierName?: string; trackingNumber?: string; shipDate?: string; driveCount?: number };
  returnPackage?: { carrierName?: string; trackingNumber?: string; shipDate?: string };
  /** the datacenter's address to send the drives to (ARM shippingInformation) */
  shipTo?: Record<string, string>;
  lastModifiedAt?: string;
  drives: DriveView[];
}

/** Where a created job lives: the ARM coordinates of a {@link JobReference}. */
export interface JobLocation {
  name: string;
  subscription: string;
  resourceGroup: string;
  /** the emulator's ARM endpoint; absent means real Azure */
  emulator?: string;
}

/**
 * Jobs_Get, mapped to a {@link JobView}. Fields the service leaves out read as its initial values:
 * job state Creating, drive state Specified, 0 % and 0 bytes. Errors: AZURE_REQUEST_FAILED (a 404
 * included) / AZURE_UNREACHABLE, naming the job and its resource group.
 */
export async function readJob(at: JobLocation, client: StorageImportExport = clientFor(at)): Promise<JobView> {
  let r: Awaited<ReturnType<StorageImportExport['jobs']['get']>>;
  try {
    r = await client.jobs.get(at.name, at.resourceGroup);
  } catch (err) {
    throw armError(err, `reading import job ${at.name} (resource group ${at.resourceGroup})`);
  }
  const p = r.properties ?? {};
  const view: JobView = {
    name: r.name ?? at.name,
    state: p.state ?? 'Creating',
    percentComplete: p.percentComplete ?? 0,
    storageAccountId: p.storageAccountId ?? '',
    drives: (p.driveList ?? []).map((d) => {
      const v: DriveView = { driveId: d.driveId ?? '', state: d.state ?? 'Specified', percentComplete: d.percentComplete ?? 0, bytesSucceeded: d.bytesSucceeded ?? 0 };
      if (d.copyStatus) v.copyStatus = d.copyStatus;
      if (d.errorLogUri) v.errorLogUri = d.errorLogUri;
      if (d.verboseLogUri) v.verboseLogUri = d.verboseLogUri;
      return v;
    }),
  };
  const acc = parseStorageAccountId(view.storageAccountId)?.account;
  if (acc) view.account = acc;
  if (p.diagnosticsPath) view.diagnosticsPath = p.diagnosticsPath;
  const dp = p.deliveryPackage;
  if (dp) view.deliveryPackage = { carrierName: dp.carrierName, trackingNumber: dp.trackingNumber, ...(dp.shipDate ? { shipDate: dp.shipDate } : {}), ...(dp.driveCount !== undefined ? { driveCount: dp.driveCount } : {}) };
  if (p.shippingInformation) {
    const to: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.shippingInformation)) if (typeof v === 'string' && v !== '') to[k] = v;
    view.shipTo = to;
  }
  if (p.returnPackage) view.returnPackage = { carrierName: p.returnPackage.carrierName, trackingNumber: p.returnPackage.trackingNumber, shipDate: p.returnPackage.shipDate };
  const lm = r.systemData?.lastModifiedAt;
  if (lm) view.lastModifiedAt = lm instanceof Date ? lm.toISOString() : String(lm);
  return view;
}

/** The job reference saved by job create, or JOB_NOT_CREATED naming the command that creates it. */
export function savedJob(staging: string): JobReference {
  const s = readSettings(staging);
  const job = (s?.seed as { job?: JobReference } | undefined)?.job;
  if (!job) {
    throw usageError('JOB_NOT_CREATED', `No import job has been created for ${staging} yet; run driveseed job create --staging ${staging} (or prep without --no-job)`, { staging });
  }
  return job;
}

/** Merges `patch` into settings.seed.job (and keeps the rest of settings.seed). */
export function saveJobReference(staging: string, job: JobReference): void {
  const s = readSettings(staging);
  const seed = { ...((s?.seed as Record<string, unknown>) ?? {}), job };
  updateSettings(staging, { seed, ...(job.emulator ? { emulator: job.emulator } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Prepared drives
// ---------------------------------------------------------------------------------------------

/** The drives prep recorded, with their BitLocker keys when prep had them (Windows, dislocker). */
export function loadPreparedDrives(staging: string): { encryption: string; drives: Array<PreparedDriveRecord & { bitLockerKey?: Secret }> } {
  const file = path.join(journalDir(staging), 'drives.json');
  let doc: { version?: number; encryption?: string; drives?: PreparedDriveRecord[] };
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw usageError('PREP_NOT_DONE', `${file} does not exist: no drives have been prepared from ${staging}; run driveseed prep --staging ${staging} --target … first`, { staging, file });
    }
    throw new DriveseedError('PREP_RECORD_INVALID', `${file} cannot be read (${(err as Error).message}); rerun driveseed prep to rewrite it`, { category: 'FAILED', details: { file } });
  }
  if (doc.version !== 1 || !Array.isArray(doc.drives) || doc.drives.length === 0) {
    throw new DriveseedError('PREP_RECORD_INVALID', `${file} lists no drives; rerun driveseed prep`, { category: 'FAILED', details: { file } });
  }
  const keys = new Map<string, string>();
  try {
    const k = JSON.parse(fs.readFileSync(path.join(journalDir(staging), 'keys.json'), 'utf8')) as { keys?: Array<{ driveId: string; bitLockerKey: string }> };
    for (const e of k.keys ?? []) keys.set(e.driveId, e.bitLockerKey);
  } catch {
    /* no keys: --encryption none */
  }
  return {
    encryption: doc.encryption ?? 'none',
    drives: doc.drives.map((d) => {
      const key = keys.get(d.driveId);
      return key ? { ...d, bitLockerKey: new Secret(key) } : { ...d };
    }),
  };
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
// Create and get
// ---------------------------------------------------------------------------------------------

function shipToOf(location: string, info: Record<string, unknown> | undefined, carriers: string[]): ShipTo {
  const address: Record<string, string> = {};
  for (const [k, v] of Object.entries(info ?? {})) if (typeof v === 'string' && v !== '') address[k] = v;
  return { address, supportedCarriers: carriers, location };
}

/**
 * Creates (PUT) the import job for the drives prep recorded in `<staging>/.prep/drives.json`, saves
 * the job reference in the staging settings and in `$DRIVESEED_HOME/jobs.json`, and reports the
 * datacenter's ship-to address and supported carriers (event `job`).
 *
 * Idempotent: when a job of that name already exists with the same drives, it is reported as
 * `existed: true` instead of being created again; with other drives it fails with JOB_EXISTS.
 * Errors: PREP_NOT_DONE, SETTINGS_MISSING, JOB_SETTINGS_INCOMPLETE, PROMPT_REQUIRED (no return
 * address and no prompter), RETURN_ADDRESS_INVALID (USAGE); AZURE_REQUEST_FAILED /
 * AZURE_UNREACHABLE (AZURE) from the service.
 */
export async function createJob(o: JobCreateOptions, ctx: CommandContext): Promise<JobCreateResult> {
  const c = jobCoordinates(o.staging, { ...(o.subscription ? { subscription: o.subscription } : {}), ...(o.emulator ? { emulator: o.emulator } : {}) });
  const prepared = loadPreparedDrives(o.staging);
  const returnInfo = o.returnInfo ?? (await askReturnInfo(ctx));
  const client = o.client ?? clientFor(c);
  const storageAccountId = `/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${c.account}`;
  const driveIds = prepared.drives.map((d) => d.driveId).sort();

  let existing: Awaited<ReturnType<StorageImportExport['jobs']['get']>> | undefined;
  try {
    existing = await client.jobs.get(c.name, c.resourceGroup);
  } catch (err) {
    const e = armError(err, `looking up import job ${c.name}`);
    if (e.details?.statusCode !== 404) throw e;
  }
  let job = existing;
  const existed = existing !== undefined;
  if (existing) {
    const have = (existing.properties?.driveList ?? []).map((d) => d.driveId ?? '').sort();
    if (have.join(',') !== driveIds.join(',')) {
      throw new DriveseedError('JOB_EXISTS', `Import job ${c.name} already exists in resource group ${c.resourceGroup} with drives ${have.join(', ') || 'none'}, not the prepared drives ${driveIds.join(', ')}; stage into a new staging location with a new --job name`, {
        category: 'AZURE',
        details: { job: c.name, drives: have },
      });
    }
    ctx.reporter.info(`Import job ${c.name} already exists with these drives; not creating it again`);
  } else {
    ctx.reporter.info(`Creating import job ${c.name} in ${c.resourceGroup} (${c.emulator ? `emulator ${c.emulator}` : 'Azure'})`);
    try {
      job = await client.jobs.create(c.name, c.resourceGroup, {
        location: c.location,
        properties: {
          storageAccountId,
          jobType: 'Import',
          returnAddress: returnInfo.returnAddress,
          returnShipping: returnInfo.returnShipping,
          diagnosticsPath: DIAGNOSTICS_PATH,
          logLevel: o.logLevel,
          backupDriveManifest: o.backupDriveManifest ?? true,
          driveList: prepared.drives.map((d) => ({
            driveId: d.driveId,
            ...(d.bitLockerKey ? { bitLockerKey: d.bitLockerKey.reveal() } : {}),
            manifestFile: d.manifestFile || DEFAULT_MANIFEST_FILE,
            manifestHash: d.manifestHash,
          })),
        },
      });
    } catch (err) {
      throw armError(err, `creating import job ${c.name}`);
    }
  }

  let carriers: string[] = [];
  try {
    const loc = await client.locations.get(c.location);
    carriers = loc.supportedCarriers ?? [];
  } catch (err) {
    ctx.reporter.warning('LOCATION_LOOKUP_FAILED', `Could not read the supported carriers of ${c.location}: ${armError(err, 'locations.get').message}`);
  }
  const props = job!.properties ?? {};
  const ref: JobReference = {
    name: c.name,
    subscription: c.subscription,
    resourceGroup: c.resourceGroup,
    location: c.location,
    account: c.account,
    createdAt: job!.systemData?.createdAt ? new Date(job!.systemData.createdAt).toISOString() : new Date().toISOString(),
    state: props.state ?? 'Creating',
    ...(c.emulator ? { emulator: c.emulator } : {}),
  };
  saveJobReference(o.staging, ref);
  rememberJob({ name: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup, staging: path.resolve(o.staging), createdAt: ref.createdAt }, ctx.env);
  const shipTo = shipToOf(c.location, props.shippingInformation as Record<string, unknown> | undefined, carriers);
  const drives = (props.driveList ?? []).map((d) => ({ driveId: d.driveId ?? '', manifestHash: d.manifestHash ?? '', state: d.state ?? 'Specified' }));
  ctx.reporter.event('job', { name: ref.name, resourceGroup: ref.resourceGroup, state: ref.state, drives: drives.length, shipTo: shipTo.address, supportedCarriers: carriers });
  return { job: ref, drives, shipTo, settingsFile: settingsPath(o.staging), existed };
}

/**
 * Reads the job saved for the staging location from the service ({@link readJob}): its state,
 * delivery package, the ship-to address and each drive's state, percent, bytes and copy status (never
 * BitLocker keys). Also refreshes `settings.seed.job.state`. Errors: JOB_NOT_CREATED (USAGE), AZURE_*.
 */
export async function getJob(o: { staging: string; emulator?: string; client?: StorageImportExport }, ctx: Pick<CommandContext, 'reporter'>): Promise<JobGetResult> {
  const ref = savedJob(o.staging);
  const emulator = o.emulator ?? ref.emulator;
  const at: JobLocation = { name: ref.name, subscription: ref.subscription, resourceGroup: ref.resourceGroup, ...(emulator ? { emulator } : {}) };
  const view = await readJob(at, o.client ?? clientFor(at));
  if (view.state !== ref.state) saveJobReference(o.staging, { ...ref, state: view.state });
  ctx.reporter.event('job', { name: ref.name, state: view.state, drives: view.drives.length });
  const result: JobGetResult = { job: { ...ref, state: view.state }, state: view.state, percentComplete: view.percentComplete, drives: view.drives };
  if (view.deliveryPackage) result.deliveryPackage = { ...view.deliveryPackage };
  if (view.shipTo) result.shipTo = view.shipTo;
  return result;
}
