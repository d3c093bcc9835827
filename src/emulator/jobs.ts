/**
 * The Import/Export job rules the emulator enforces (docs/emulator.md has the table of refusals
 * with their ARM error codes). Pure functions over the state: the HTTP layer parses, calls these,
 * persists and answers.
 */
import { parseStorageAccountId } from '../azure/blob';
import { ArmError, findLocation, type Address, type DeliveryPackage, type JobState, type StoredDrive, type StoredJob } from './model';

/** Job names: 2-64 characters, lowercase letters, digits and hyphens, starting with a letter (docs/emulator.md). */
export const JOB_NAME = /^[a-z][a-z0-9-]{1,63}$/;
export const MAX_DRIVES = 10;
const BITLOCKER_KEY = /^\d{6}(?:-\d{6}){7}$/;
const HASH = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})$/;
const RETURN_ADDRESS_REQUIRED = ['recipientName', 'streetAddress1', 'city', 'postalCode', 'countryOrRegion', 'phone', 'email'] as const;
const ADDRESS_FIELDS = [...RETURN_ADDRESS_REQUIRED, 'streetAddress2', 'stateOrProvince'];
const UPDATABLE = ['cancelRequested', 'state', 'returnAddress', 'returnShipping', 'deliveryPackage', 'logLevel', 'backupDriveManifest', 'driveList'];
/** Service-owned fields a client may echo back in a PUT; they are ignored, not refused. */
const READ_ONLY = ['shippingInformation', 'returnPackage', 'state', 'cancelRequested', 'percentComplete', 'incompleteBlobListUri', 'provisioningState'];
const CREATE_FIELDS = ['storageAccountId', 'jobType', 'returnAddress', 'returnShipping', 'deliveryPackage', 'diagnosticsPath', 'logLevel', 'backupDriveManifest', 'driveList', 'export', 'encryptionKey', ...READ_ONLY];

type Json = Record<string, unknown>;

function missing(target: string, what = target): ArmError {
  return new ArmError(400, 'MissingRequiredProperty', `The property '${what}' is required.`, target);
}
function badValue(target: string, message: string): ArmError {
  return new ArmError(400, 'InvalidPropertyValue', message, target);
}
function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(o: Json, key: string, target: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw missing(`${target}.${key}`);
    return undefined;
  }
  if (typeof v !== 'string') throw badValue(`${target}.${key}`, `The property '${target}.${key}' must be a string.`);
  if (required && v.trim() === '') throw missing(`${target}.${key}`);
  return v;
}

export function checkJobName(name: string): void {
  if (!JOB_NAME.test(name)) {
    throw new ArmError(400, 'InvalidJobName', `The job name '${name}' is invalid. A job name has 2-64 characters: lowercase letters, digits and hyphens, starting with a letter.`, 'jobName');
  }
}

function address(v: unknown, target: string): Address {
  if (!isObj(v)) throw badValue(target, `The property '${target}' must be an object.`);
  const out: Address = {};
  for (const k of ADDRESS_FIELDS) {
    const s = str(v, k, target, (RETURN_ADDRESS_REQUIRED as readonly string[]).includes(k));
    if (s !== undefined) (out as Record<string, string>)[k] = s;
  }
  if (out.email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(out.email)) throw badValue(`${target}.email`, `The e-mail address '${out.email}' is not valid.`);
  return out;
}

function returnShipping(v: unknown, target: string): { carrierName: string; carrierAccountNumber: string } {
  if (!isObj(v)) throw badValue(target, `The property '${target}' must be an object.`);
  return { carrierName: str(v, 'carrierName', target, true)!, carrierAccountNumber: str(v, 'carrierAccountNumber', target, true)! };
}

function deliveryPackage(v: unknown, target: string): DeliveryPackage {
  if (!isObj(v)) throw badValue(target, `The property '${target}' must be an object.`);
  const p: DeliveryPackage = { carrierName: str(v, 'carrierName', target, true)!, trackingNumber: str(v, 'trackingNumber', target, true)! };
  if (v.driveCount !== undefined && v.driveCount !== null) {
    if (!Number.isInteger(v.driveCount) || (v.driveCount as number) < 1 || (v.driveCount as number) > MAX_DRIVES) throw badValue(`${target}.driveCount`, `driveCount must be an integer from 1 to ${MAX_DRIVES}.`);
    p.driveCount = v.driveCount as number;
  }
  const shipDate = str(v, 'shipDate', target, false);
  if (shipDate !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}/.test(shipDate) || Number.isNaN(Date.parse(shipDate))) throw badValue(`${target}.shipDate`, `shipDate '${shipDate}' is not an ISO 8601 date.`);
    p.shipDate = shipDate;
  }
  return p;
}

function driveList(v: unknown, target: string): StoredDrive[] {
  if (v === undefined || v === null) throw missing(target);
  if (!Array.isArray(v)) throw badValue(target, `The property '${target}' must be an array.`);
  if (v.length === 0) throw missing(target, `${target} (at least one drive)`);
  if (v.length > MAX_DRIVES) throw new ArmError(400, 'TooManyDrives', `A job takes at most ${MAX_DRIVES} drives; this one lists ${v.length}. Split the drives over several jobs.`, target);
  const seen = new Set<string>();
  return v.map((d, i) => {
    const t = `${target}[${i}]`;
    if (!isObj(d)) throw badValue(t, `The property '${t}' must be an object.`);
    const driveId = str(d, 'driveId', t, true)!;
    if (/\s/.test(driveId)) throw badValue(`${t}.driveId`, `The driveId '${driveId}' must not contain whitespace.`);
    if (seen.has(driveId)) throw new ArmError(400, 'DuplicateDriveId', `The drive '${driveId}' is listed twice.`, `${t}.driveId`);
    seen.add(driveId);
    const manifestFile = str(d, 'manifestFile', t, true)!;
    if (!/^\\[^/]+$/.test(manifestFile) || /(^|\\)\.\.?(\\|$)/.test(manifestFile)) throw badValue(`${t}.manifestFile`, `The manifestFile '${manifestFile}' must be a path relative to the drive root starting with "\\", such as "\\DriveManifest.xml".`);
    const manifestHash = str(d, 'manifestHash', t, true)!;
    if (!HASH.test(manifestHash)) throw badValue(`${t}.manifestHash`, `The manifestHash '${manifestHash}' must be a hex MD5 (32 digits) or SHA-256 (64 digits).`);
    const drive: StoredDrive = { driveId, manifestFile, manifestHash: manifestHash.toUpperCase(), state: 'Specified' };
    const key = str(d, 'bitLockerKey', t, false);
    if (key !== undefined) {
      if (!BITLOCKER_KEY.test(key)) throw badValue(`${t}.bitLockerKey`, 'The bitLockerKey must be a 48-digit BitLocker recovery password (8 groups of 6 digits).');
      drive.bitLockerKey = key;
    }
    const header = str(d, 'driveHeaderHash', t, false);
    if (header !== undefined && header !== '') drive.driveHeaderHash = header;
    return drive;
  });
}

function logLevel(v: unknown, target: string): 'Error' | 'Verbose' {
  if (typeof v === 'string' && /^error$/i.test(v)) return 'Error';
  if (typeof v === 'string' && /^verbose$/i.test(v)) return 'Verbose';
  throw badValue(target, `The logLevel '${String(v)}' is invalid; use 'Error' or 'Verbose'.`);
}

function bool(v: unknown, target: string): boolean {
  if (typeof v !== 'boolean') throw badValue(target, `The property '${target}' must be true or false.`);
  return v;
}

function tags(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) throw badValue('tags', 'tags must be an object of string values.');
  return v as Record<string, string>;
}

export interface CreateContext {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** the storage accounts this emulator hosts */
  accounts: string[];
  now: string;
}

/** Validates a Jobs_Create body and builds the stored job (state Creating, drives Specified). */
export function buildJob(body: unknown, ctx: CreateContext, existing?: StoredJob): StoredJob {
  checkJobName(ctx.name);
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  const loc = str(body, 'location', 'body', true)!;
  const location = findLocation(loc);
  if (!location) throw new ArmError(400, 'LocationNotSupported', `The location '${loc}' is not an Import/Export location of this emulator. Use one of GET /providers/Microsoft.ImportExport/locations.`, 'location');
  const p = body.properties;
  if (!isObj(p)) throw missing('properties');
  for (const k of Object.keys(p)) if (!CREATE_FIELDS.includes(k)) throw badValue(`properties.${k}`, `'${k}' is not a property of an Import/Export job.`);
  const storageAccountId = str(p, 'storageAccountId', 'properties', true)!;
  const acct = parseStorageAccountId(storageAccountId);
  if (!acct) throw new ArmError(400, 'InvalidStorageAccountId', `The storageAccountId '${storageAccountId}' is not a storage account resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).`, 'properties.storageAccountId');
  if (!ctx.accounts.includes(acct.account)) throw new ArmError(400, 'StorageAccountNotFound', `The storage account '${acct.account}' does not exist in this emulator; it hosts: ${ctx.accounts.join(', ')}.`, 'properties.storageAccountId');
  const jobType = str(p, 'jobType', 'properties', true)!;
  if (jobType !== 'Import') throw new ArmError(400, 'UnsupportedJobType', `The jobType '${jobType}' is not supported by the emulator; only 'Import' is.`, 'properties.jobType');
  const props: StoredJob['properties'] = {
    storageAccountId,
    jobType: 'Import',
    shippingInformation: {
      recipientName: location.recipientName, streetAddress1: location.streetAddress1, streetAddress2: location.streetAddress2, city: location.city,
      stateOrProvince: location.stateOrProvince, postalCode: location.postalCode, countryOrRegion: location.countryOrRegion, phone: location.phone,
      additionalInformation: location.additionalShippingInformation,
    },
    diagnosticsPath: 'waimportexport',
    logLevel: 'Error',
    backupDriveManifest: false,
    state: 'Creating',
    cancelRequested: false,
    percentComplete: 0,
    driveList: driveList(p.driveList, 'properties.driveList'),
    provisioningState: 'Succeeded',
    encryptionKey: { kekType: 'MicrosoftManaged' },
  };
  if (p.returnAddress !== undefined && p.returnAddress !== null) props.returnAddress = address(p.returnAddress, 'properties.returnAddress');
  if (p.returnShipping !== undefined && p.returnShipping !== null) props.returnShipping = returnShipping(p.returnShipping, 'properties.returnShipping');
  if (p.deliveryPackage !== undefined && p.deliveryPackage !== null) props.deliveryPackage = deliveryPackage(p.deliveryPackage, 'properties.deliveryPackage');
  const diag = str(p, 'diagnosticsPath', 'properties', false);
  if (diag !== undefined) {
    if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}(?:\/[^/]+)*$/.test(diag)) throw badValue('properties.diagnosticsPath', `The diagnosticsPath '${diag}' must be <container>[/<virtual directory>] with a valid container name.`);
    props.diagnosticsPath = diag;
  }
  if (p.logLevel !== undefined && p.logLevel !== null) props.logLevel = logLevel(p.logLevel, 'properties.logLevel');
  if (p.backupDriveManifest !== undefined && p.backupDriveManifest !== null) props.backupDriveManifest = bool(p.backupDriveManifest, 'properties.backupDriveManifest');
  if (isObj(p.encryptionKey)) {
    const kekType = p.encryptionKey.kekType ?? 'MicrosoftManaged';
    if (kekType !== 'MicrosoftManaged' && kekType !== 'CustomerManaged') throw badValue('properties.encryptionKey.kekType', `kekType '${String(kekType)}' must be MicrosoftManaged or CustomerManaged.`);
    props.encryptionKey = { kekType };
    if (kekType === 'CustomerManaged') props.encryptionKey.kekUrl = str(p.encryptionKey, 'kekUrl', 'properties.encryptionKey', true);
  }
  return {
    subscriptionId: ctx.subscriptionId,
    resourceGroup: ctx.resourceGroup,
    name: ctx.name,
    location: loc,
    tags: tags(body.tags),
    createdAt: existing?.createdAt ?? ctx.now,
    lastModifiedAt: ctx.now,
    properties: props,
  };
}

/** Applies a Jobs_Update (PATCH) body to `job` in place, all or nothing. */
export function applyUpdate(job: StoredJob, body: unknown, now: string): void {
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  for (const k of Object.keys(body)) if (k !== 'tags' && k !== 'properties') throw new ArmError(400, 'UnsupportedUpdateProperty', `'${k}' cannot be updated; a PATCH takes tags and properties.{${UPDATABLE.join(', ')}}.`, k);
  const p = body.properties ?? {};
  if (!isObj(p)) throw badValue('properties', 'properties must be an object.');
  for (const k of Object.keys(p)) {
    if (!UPDATABLE.includes(k)) throw new ArmError(400, 'UnsupportedUpdateProperty', `'properties.${k}' cannot be updated; updatable: ${UPDATABLE.join(', ')}.`, `properties.${k}`);
  }
  const state = job.properties.state;
  const present = (k: string) => p[k] !== undefined && p[k] !== null;
  const changesProps = UPDATABLE.some(present);
  if (changesProps && state !== 'Creating' && state !== 'Shipping') {
    throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${state}; only its tags can change now (other properties change only in Creating or Shipping).`, 'properties');
  }
  if (present('driveList') && state !== 'Creating') throw new ArmError(409, 'InvalidJobState', `The driveList of '${job.name}' can only change while the job is Creating; it is ${state}.`, 'properties.driveList');
  // Validate everything before changing anything.
  const next = { ...job.properties };
  if (present('returnAddress')) next.returnAddress = address(p.returnAddress, 'properties.returnAddress');
  if (present('returnShipping')) next.returnShipping = returnShipping(p.returnShipping, 'properties.returnShipping');
  if (present('deliveryPackage')) next.deliveryPackage = deliveryPackage(p.deliveryPackage, 'properties.deliveryPackage');
  if (present('logLevel')) next.logLevel = logLevel(p.logLevel, 'properties.logLevel');
  if (present('backupDriveManifest')) next.backupDriveManifest = bool(p.backupDriveManifest, 'properties.backupDriveManifest');
  if (present('driveList')) next.driveList = driveList(p.driveList, 'properties.driveList');
  if (present('cancelRequested')) {
    if (p.cancelRequested !== true) throw badValue('properties.cancelRequested', 'If specified, cancelRequested must be true.');
    next.cancelRequested = true;
    next.state = 'Canceled';
  }
  if (present('state')) {
    if (p.state !== 'Shipping') throw badValue('properties.state', `If specified, state must be 'Shipping'; got '${String(p.state)}'.`);
    if (present('cancelRequested')) throw badValue('properties.state', 'A job cannot be shipped and canceled in one request.');
    if (!next.returnAddress) throw new ArmError(400, 'MissingRequiredProperty', 'The ReturnAddress must be set, in this request or a previous one, before the state can be Shipping.', 'properties.returnAddress');
    if (!next.deliveryPackage) throw new ArmError(400, 'MissingRequiredProperty', 'The DeliveryPackage (carrier and tracking number) must be set, in this request or a previous one, before the state can be Shipping.', 'properties.deliveryPackage');
    next.state = 'Shipping';
  }
  const nextTags = body.tags === undefined ? job.tags : tags(body.tags);
  job.properties = next;
  job.tags = nextTags;
  job.lastModifiedAt = now;
}

/** Jobs_Delete rule: "Only jobs in the Creating or Completed states can be deleted." */
export function checkDeletable(job: StoredJob): void {
  const s: JobState = job.properties.state;
  if (s !== 'Creating' && s !== 'Completed') throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${s}; only jobs in the Creating or Completed states can be deleted.`);
}

/** Jobs_Create on an existing job: a replace is allowed only while it is Creating. */
export function checkReplaceable(job: StoredJob): void {
  if (job.properties.state !== 'Creating') throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' already exists and is ${job.properties.state}; a job can be replaced only while it is Creating. Use PATCH to update it.`);
}
