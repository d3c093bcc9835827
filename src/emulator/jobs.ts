/**
 * The customer-disk job rules the emulator enforces (docs/emulator.md has the table of refusals
 * with their ARM error codes): the create body as the published DataBoxCustomerDisk types require
 * it, the name rule, markDevicesShipped, cancel, delete, the tag-only PATCH, and the service's
 * pre-create validations. Pure functions over the state: the HTTP layer parses, calls these,
 * persists and answers.
 */
import { parseStorageAccountId } from '../azure/blob';
import {
  ArmError,
  findDatacenter,
  isCancellable,
  SKU,
  type ContactDetails,
  type CopyLogFormat,
  type ShippingAddress,
  type StoredDisk,
  type StoredJob,
} from './model';

/**
 * Job names, as the published spec has them: 3–24 characters matching `^[-\w\.]+$` (letters,
 * digits, underscore, hyphen, dot). The SDK's doc comment says "alphanumeric and underscore only";
 * the spec's pattern is what the service validates.
 */
export const JOB_NAME = /^[-\w.]{3,24}$/;
export const MAX_DISKS = 10;
const BITLOCKER_KEY = /^\d{6}(?:-\d{6}){7}$/;
const HASH = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})$/;
const MANIFEST_FILE = /^\\[^/]+$/;

type Json = Record<string, unknown>;

function missing(target: string): ArmError {
  return new ArmError(400, 'MissingRequiredProperty', `The property '${target}' is required.`, target);
}
function badValue(target: string, message: string): ArmError {
  return new ArmError(400, 'InvalidPropertyValue', message, target);
}
function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(o: Json, key: string, target: string): Json {
  const v = o[key];
  if (v === undefined || v === null) throw missing(`${target}.${key}`);
  if (!isObj(v)) throw badValue(`${target}.${key}`, `The property '${target}.${key}' must be an object.`);
  return v;
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
    throw new ArmError(
      400,
      'InvalidJobName',
      `The job name '${name}' is invalid. A job name has 3 to 24 characters: letters, digits, underscores, hyphens and dots.`,
      'jobName',
    );
  }
}

function contactDetails(v: Json, target: string): ContactDetails {
  const c: ContactDetails = { contactName: str(v, 'contactName', target, true)!, phone: str(v, 'phone', target, true)!, emailList: [] };
  const list = v.emailList;
  if (!Array.isArray(list) || list.length === 0) throw missing(`${target}.emailList`);
  for (const [i, e] of list.entries()) {
    if (typeof e !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))
      throw badValue(`${target}.emailList[${i}]`, `The e-mail address '${String(e)}' is not valid.`);
    c.emailList.push(e);
  }
  for (const k of ['phoneExtension', 'mobile'] as const) {
    const s = str(v, k, target, false);
    if (s !== undefined) c[k] = s;
  }
  return c;
}

function shippingAddress(v: Json, target: string): ShippingAddress {
  const a: ShippingAddress = { streetAddress1: str(v, 'streetAddress1', target, true)!, country: str(v, 'country', target, true)! };
  for (const k of ['streetAddress2', 'streetAddress3', 'city', 'stateOrProvince', 'postalCode', 'companyName', 'addressType'] as const) {
    const s = str(v, k, target, false);
    if (s !== undefined) a[k] = s;
  }
  if (a.addressType !== undefined && !['None', 'Residential', 'Commercial'].includes(a.addressType))
    throw badValue(`${target}.addressType`, `addressType '${a.addressType}' must be None, Residential or Commercial.`);
  return a;
}

function disks(v: unknown, target: string): StoredDisk[] {
  if (v === undefined || v === null) throw missing(target);
  if (!isObj(v)) throw badValue(target, `The property '${target}' must be an object keyed by disk serial number.`);
  const entries = Object.entries(v);
  if (entries.length === 0) throw missing(`${target} (at least one disk)`);
  if (entries.length > MAX_DISKS)
    throw new ArmError(
      400,
      'TooManyDisks',
      `A job takes at most ${MAX_DISKS} disks; this one lists ${entries.length}. Split the disks over several jobs.`,
      target,
    );
  return entries.map(([serial, d]) => {
    const t = `${target}['${serial}']`;
    if (serial.trim() === '' || /\s/.test(serial)) throw badValue(t, `The disk serial number '${serial}' must be non-empty and contain no whitespace.`);
    if (!isObj(d)) throw badValue(t, `The property '${t}' must be an object.`);
    const manifestFile = str(d, 'manifestFile', t, true)!;
    if (!MANIFEST_FILE.test(manifestFile) || /(^|\\)\.\.?(\\|$)/.test(manifestFile))
      throw badValue(
        `${t}.manifestFile`,
        `The manifestFile '${manifestFile}' must be a path relative to the disk root starting with "\\", such as "\\DriveManifest.xml".`,
      );
    const manifestHash = str(d, 'manifestHash', t, true)!;
    if (!HASH.test(manifestHash))
      throw badValue(`${t}.manifestHash`, `The manifestHash '${manifestHash}' must be a Base16 MD5 (32 digits) or SHA-256 (64 digits).`);
    // Required by the type; '' is the emulator's leniency for disks prepared without BitLocker.
    const key = str(d, 'bitLockerKey', t, false);
    if (key === undefined) throw missing(`${t}.bitLockerKey`);
    if (key !== '' && !BITLOCKER_KEY.test(key))
      throw badValue(`${t}.bitLockerKey`, 'The bitLockerKey must be a 48-digit BitLocker recovery password (8 groups of 6 digits).');
    return {
      serialNumber: serial,
      bitLockerKey: key,
      manifestFile,
      manifestHash: manifestHash.toUpperCase(),
      state: 'Specified',
      copyStatus: 'NotStarted',
      bytesProcessed: 0,
      totalBytesToProcess: 0,
      filesProcessed: 0,
      totalFilesToProcess: 0,
      filesErroredOut: 0,
    };
  });
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
  copyLogFormat: CopyLogFormat;
}

/** The storage account of dataImportDetails, checked against the hosted accounts. */
function importAccount(details: Json, accounts: string[]): { storageAccountId: string; logCollectionLevel: 'Error' | 'Verbose' } {
  const t = 'properties.details.dataImportDetails';
  const list = details.dataImportDetails;
  if (!Array.isArray(list) || list.length === 0) throw missing(t);
  if (list.length > 1)
    throw new ArmError(400, 'InvalidPropertyValue', 'A customer-disk import job copies into one storage account: give one dataImportDetails entry.', t);
  const entry = list[0];
  if (!isObj(entry)) throw badValue(`${t}[0]`, `The property '${t}[0]' must be an object.`);
  const acc = obj(entry, 'accountDetails', `${t}[0]`);
  const type = str(acc, 'dataAccountType', `${t}[0].accountDetails`, true)!;
  if (type !== 'StorageAccount')
    throw badValue(`${t}[0].accountDetails.dataAccountType`, `dataAccountType '${type}' is not supported for customer disks; use StorageAccount.`);
  const storageAccountId = str(acc, 'storageAccountId', `${t}[0].accountDetails`, true)!;
  const parsed = parseStorageAccountId(storageAccountId);
  if (!parsed)
    throw new ArmError(
      400,
      'InvalidStorageAccountId',
      `The storageAccountId '${storageAccountId}' is not a storage account resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>).`,
      `${t}[0].accountDetails.storageAccountId`,
    );
  if (!accounts.includes(parsed.account))
    throw new ArmError(
      400,
      'StorageAccountNotFound',
      `The storage account '${parsed.account}' does not exist in this emulator; it hosts: ${accounts.join(', ')}.`,
      `${t}[0].accountDetails.storageAccountId`,
    );
  const level = entry.logCollectionLevel ?? 'Error';
  if (level !== 'Error' && level !== 'Verbose') throw badValue(`${t}[0].logCollectionLevel`, `logCollectionLevel '${String(level)}' must be Error or Verbose.`);
  return { storageAccountId, logCollectionLevel: level };
}

/** Validates a Jobs_Create body (JobResource) and builds the stored job (status DeviceOrdered). */
export function buildJob(body: unknown, ctx: CreateContext): StoredJob {
  checkJobName(ctx.name);
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  const loc = str(body, 'location', 'body', true)!;
  if (!findDatacenter(loc))
    throw new ArmError(
      400,
      'LocationNotSupported',
      `The location '${loc}' has no customer-disk datacenter in this emulator (it serves westus, westus2, eastus, westeurope, northeurope, australiaeast).`,
      'location',
    );
  const sku = obj(body, 'sku', 'body');
  const skuName = str(sku, 'name', 'sku', true)!;
  if (skuName !== SKU)
    throw new ArmError(
      400,
      'SkuNotSupported',
      `The sku '${skuName}' is not supported by this emulator; it serves ${SKU} (Import/Export with your own disks) only.`,
      'sku.name',
    );
  const p = obj(body, 'properties', 'body');
  const transferType = str(p, 'transferType', 'properties', true)!;
  if (transferType !== 'ImportToAzure')
    throw new ArmError(
      400,
      'UnsupportedTransferType',
      `The transferType '${transferType}' is not supported by this emulator; only ImportToAzure is.`,
      'properties.transferType',
    );
  const d = obj(p, 'details', 'properties');
  const type = str(d, 'jobDetailsType', 'properties.details', true)!;
  if (type !== SKU) throw badValue('properties.details.jobDetailsType', `jobDetailsType '${type}' must match the sku (${SKU}).`);
  if (d.dataExportDetails !== undefined && d.dataExportDetails !== null)
    throw badValue('properties.details.dataExportDetails', 'An ImportToAzure job takes dataImportDetails, not dataExportDetails.');
  const account = importAccount(d, ctx.accounts);
  const ret = obj(d, 'returnToCustomerPackageDetails', 'properties.details');
  const returnPackage = {
    carrierName: str(ret, 'carrierName', 'properties.details.returnToCustomerPackageDetails', true)!,
    carrierAccountNumber: str(ret, 'carrierAccountNumber', 'properties.details.returnToCustomerPackageDetails', true)!,
  };
  const dc = findDatacenter(loc)!;
  if (!dc.supportedCarriersForReturnShipment.some((c) => c.toLowerCase() === returnPackage.carrierName.toLowerCase())) {
    throw new ArmError(
      400,
      'InvalidReturnCarrier',
      `The datacenter for '${loc}' returns disks with ${dc.supportedCarriersForReturnShipment.join(', ')}; '${returnPackage.carrierName}' is not one of them.`,
      'properties.details.returnToCustomerPackageDetails.carrierName',
    );
  }
  const enable = d.enableManifestBackup ?? false;
  if (typeof enable !== 'boolean') throw badValue('properties.details.enableManifestBackup', 'enableManifestBackup must be true or false.');
  const job: StoredJob = {
    subscriptionId: ctx.subscriptionId,
    resourceGroup: ctx.resourceGroup,
    name: ctx.name,
    location: loc,
    tags: tags(body.tags),
    createdAt: ctx.now,
    lastModifiedAt: ctx.now,
    status: 'DeviceOrdered',
    stageTimes: { DeviceOrdered: ctx.now },
    storageAccountId: account.storageAccountId,
    logCollectionLevel: account.logCollectionLevel,
    contactDetails: contactDetails(obj(d, 'contactDetails', 'properties.details'), 'properties.details.contactDetails'),
    // Required for an import: where the disks go back to.
    shippingAddress: shippingAddress(obj(d, 'shippingAddress', 'properties.details'), 'properties.details.shippingAddress'),
    returnToCustomerPackageDetails: returnPackage,
    enableManifestBackup: enable,
    copyLogFormat: ctx.copyLogFormat,
    disks: disks(d.importDiskDetailsCollection, 'properties.details.importDiskDetailsCollection'),
  };
  if (isObj(d.preferences)) job.preferences = d.preferences;
  return job;
}

/** Jobs_MarkDevicesShipped: only while the job waits for the disks (or to correct it before they arrive). */
export function markShipped(job: StoredJob, body: unknown, now: string): void {
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  const p = obj(body, 'deliverToDcPackageDetails', 'body');
  const carrierName = str(p, 'carrierName', 'deliverToDcPackageDetails', true)!;
  const trackingId = str(p, 'trackingId', 'deliverToDcPackageDetails', true)!;
  if (job.status !== 'DeviceOrdered' && job.status !== 'ShippedToAzureDC') {
    throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${job.status}; devices can be marked shipped only before they reach the datacenter.`);
  }
  job.deliverToDcPackageDetails = { carrierName, trackingId };
  if (job.status === 'DeviceOrdered') {
    job.status = 'ShippedToAzureDC';
    job.stageTimes.ShippedToAzureDC = now;
  }
  job.lastModifiedAt = now;
}

/** Jobs_Cancel: a reason of 1 to 500 characters, only while the job is cancellable. */
export function cancel(job: StoredJob, body: unknown, now: string): void {
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  const reason = str(body, 'reason', 'body', true)!;
  if (reason.length > 500) throw badValue('reason', 'The reason has at most 500 characters.');
  if (!isCancellable(job)) throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${job.status} and can no longer be cancelled.`);
  job.status = 'Cancelled';
  job.cancellationReason = reason;
  job.stageTimes.Cancelled = now;
  job.lastModifiedAt = now;
}

/** Jobs_Update (PATCH): the emulator takes tags only; details change before shipping through a new job. */
export function applyUpdate(job: StoredJob, body: unknown, now: string): void {
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  for (const k of Object.keys(body)) {
    if (k !== 'tags')
      throw new ArmError(
        400,
        'UnsupportedUpdateProperty',
        `'${k}' cannot be updated by this emulator; a PATCH takes tags (shipping goes through markDevicesShipped).`,
        k,
      );
  }
  job.tags = tags(body.tags);
  job.lastModifiedAt = now;
}

/** Jobs_Delete: only jobs that are done (completed or cancelled). */
export function checkDeletable(job: StoredJob): void {
  if (!['Completed', 'CompletedWithErrors', 'Cancelled'].includes(job.status)) {
    throw new ArmError(409, 'InvalidJobState', `The job '${job.name}' is ${job.status}; only completed or cancelled jobs can be deleted.`);
  }
}

/** Jobs_Create on an existing job: refused (the service answers with a conflict). */
export function conflict(job: StoredJob): ArmError {
  return new ArmError(409, 'Conflict', `The job '${job.name}' already exists (status ${job.status}); choose another name.`);
}

// ---------------------------------------------------------------------------------------------
// validateInputs
// ---------------------------------------------------------------------------------------------

/**
 * Service_ValidateInputs for a customer-disk create: each individual request answered with its
 * own response type (status Valid/Invalid, or validationStatus for addresses) and an error when
 * it does not pass; the overall status AllValidToProceed or InputsRevisitRequired.
 */
export function validateInputs(body: unknown, ctx: { location: string; accounts: string[]; activeJobs: number }): Record<string, unknown> {
  if (!isObj(body)) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.');
  if (body.validationCategory !== 'JobCreationValidation') throw badValue('validationCategory', "validationCategory must be 'JobCreationValidation'.");
  const list = body.individualRequestDetails;
  if (!Array.isArray(list) || list.length === 0) throw missing('individualRequestDetails');
  const dc = findDatacenter(ctx.location);
  const out: Json[] = [];
  for (const [i, r] of list.entries()) {
    if (!isObj(r)) throw badValue(`individualRequestDetails[${i}]`, 'Each validation request must be an object.');
    const type = r.validationType;
    const invalid = (code: string, message: string) => ({ code, message });
    let error: { code: string; message: string } | undefined;
    switch (type) {
      case 'ValidateSubscriptionIsAllowedToCreateJob':
        out.push({ validationType: type, status: 'Valid' });
        continue;
      case 'ValidateSkuAvailability':
        if (r.deviceType !== SKU) error = invalid('SkuNotAvailable', `The device type '${String(r.deviceType)}' is not available from this emulator.`);
        else if (!dc) error = invalid('SkuNotAvailable', `${SKU} is not available in '${ctx.location}'.`);
        else if (r.transferType !== 'ImportToAzure')
          error = invalid('SkuNotAvailable', `The transfer type '${String(r.transferType)}' is not available for ${SKU} here.`);
        out.push({ validationType: type, status: error ? 'Invalid' : 'Valid', ...(error ? { error } : {}) });
        continue;
      case 'ValidateCreateOrderLimit':
        if (ctx.activeJobs >= 100) error = invalid('OrderLimitReached', 'The subscription has 100 open orders; complete or cancel some first.');
        out.push({ validationType: type, status: error ? 'Invalid' : 'Valid', ...(error ? { error } : {}) });
        continue;
      case 'ValidateAddress': {
        const a = r.shippingAddress;
        if (!isObj(a) || typeof a.streetAddress1 !== 'string' || a.streetAddress1.trim() === '' || typeof a.country !== 'string' || a.country.trim() === '') {
          error = invalid('InvalidAddress', 'The shipping address needs at least streetAddress1 and country.');
        } else if (typeof a.postalCode !== 'string' || a.postalCode.trim() === '') {
          error = invalid('InvalidAddress', 'The shipping address has no postal code.');
        }
        out.push({ validationType: type, validationStatus: error ? 'Invalid' : 'Valid', alternateAddresses: [], ...(error ? { error } : {}) });
        continue;
      }
      case 'ValidateDataTransferDetails': {
        try {
          if (r.transferType !== 'ImportToAzure') throw new ArmError(400, 'InvalidTransferType', 'Only ImportToAzure transfers are served here.');
          importAccount({ dataImportDetails: r.dataImportDetails }, ctx.accounts);
        } catch (err) {
          if (!(err instanceof ArmError)) throw err;
          error = invalid(err.code, err.message);
        }
        out.push({ validationType: type, status: error ? 'Invalid' : 'Valid', ...(error ? { error } : {}) });
        continue;
      }
      case 'ValidatePreferences':
        out.push({ validationType: type, status: 'Valid' });
        continue;
      default:
        throw badValue(`individualRequestDetails[${i}].validationType`, `validationType '${String(type)}' is not one the service knows.`);
    }
  }
  const bad = out.some((x) => x.status === 'Invalid' || x.validationStatus === 'Invalid');
  return { properties: { status: bad ? 'InputsRevisitRequired' : 'AllValidToProceed', individualResponseDetails: out } };
}
