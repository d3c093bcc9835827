/**
 * The import job as Azure models it today: a Microsoft.DataBox job of SKU DataBoxCustomerDisk with
 * transferType ImportToAzure (the customer's own disks; the classic Microsoft.ImportExport API is
 * retired). This module only maps: driveseed's inputs → the request bodies @azure/arm-databox sends
 * (create, validateInputs, regionConfiguration), and the JobResource the service returns → a
 * {@link JobView} the commands read. It does no I/O. The statuses in words are src/azure/job-status.ts.
 *
 * Secrets: the create body carries each disk's BitLocker recovery password, because the service
 * needs it to unlock the disk. {@link importJobBody} reveals them only when asked to (`reveal`),
 * for the one PUT; everything else (`job create --print`, logs, errors) gets them masked.
 */
import type {
  CreateJobValidations,
  DataBoxCustomerDiskCopyLogDetails,
  DataBoxCustomerDiskCopyProgress,
  DataBoxCustomerDiskJobDetails,
  DatacenterAddressLocationResponse,
  JobResource,
  RegionConfigurationRequest,
  ValidationResponse,
} from '@azure/arm-databox';
import type { Secret } from '../base/secret';
import { parseStorageAccountId } from './blob';
import { COPY_DONE } from './job-status';

export const SKU = 'DataBoxCustomerDisk';
/** The service's limit on disks in one customer-disk import job. */
export const MAX_DISKS_PER_JOB = 10;
/** What masked secrets read as in printed bodies. */
export const MASKED = '[redacted]';

export interface ImportDisk {
  /** the disk's serial number: the service matches the disk it receives by it */
  serialNumber: string;
  /** the manifest's path on the disk's first volume, e.g. `\DriveManifest.xml` */
  manifestFile: string;
  /** Base16 MD5 of that manifest file */
  manifestHash: string;
  /** the BitLocker recovery password (48 digits); absent for unencrypted (emulator-only) drives */
  bitLockerKey?: Secret;
}

/** Everything a create request needs, already validated. */
export interface ImportJobInput {
  location: string;
  storageAccountId: string;
  logLevel: 'Error' | 'Verbose';
  contact: { contactName: string; phone: string; emailList: string[] };
  /** the customer's address: where the service returns the disks */
  shippingAddress: { streetAddress1: string; streetAddress2?: string; city: string; stateOrProvince?: string; postalCode: string; country: string };
  /** the carrier and account the datacenter ships the disks back with */
  returnPackage: { carrierName: string; carrierAccountNumber: string };
  /** ask the service to keep a copy of each disk's manifest in the storage account */
  enableManifestBackup: boolean;
  disks: ImportDisk[];
}

/**
 * The JobResource body of Jobs_Create. With `reveal: false` (the default) every BitLocker key reads
 * {@link MASKED}: that body is for showing, never for sending.
 */
export function importJobBody(i: ImportJobInput, opts: { reveal?: boolean } = {}): JobResource {
  const details: DataBoxCustomerDiskJobDetails = {
    jobDetailsType: SKU,
    contactDetails: { contactName: i.contact.contactName, phone: i.contact.phone, emailList: [...i.contact.emailList] },
    shippingAddress: { ...i.shippingAddress },
    dataImportDetails: [{ accountDetails: { dataAccountType: 'StorageAccount', storageAccountId: i.storageAccountId }, logCollectionLevel: i.logLevel }],
    importDiskDetailsCollection: Object.fromEntries(
      i.disks.map((d) => [
        d.serialNumber,
        // The published type marks bitLockerKey required; an unencrypted drive (emulator only) sends "".
        { manifestFile: d.manifestFile, manifestHash: d.manifestHash, bitLockerKey: d.bitLockerKey ? (opts.reveal ? d.bitLockerKey.reveal() : MASKED) : '' },
      ]),
    ),
    returnToCustomerPackageDetails: { carrierName: i.returnPackage.carrierName, carrierAccountNumber: i.returnPackage.carrierAccountNumber },
    enableManifestBackup: i.enableManifestBackup,
    preferences: { transportPreferences: { preferredShipmentType: 'CustomerManaged' } },
  };
  return { location: i.location, sku: { name: SKU }, transferType: 'ImportToAzure', details };
}

/** The service's pre-create checks for this job (validateInputs), in the order the portal runs them. */
export function createValidations(i: ImportJobInput): CreateJobValidations {
  return {
    validationCategory: 'JobCreationValidation',
    individualRequestDetails: [
      { validationType: 'ValidateSubscriptionIsAllowedToCreateJob' },
      { validationType: 'ValidateSkuAvailability', deviceType: SKU, transferType: 'ImportToAzure', country: i.shippingAddress.country, location: i.location },
      { validationType: 'ValidateCreateOrderLimit', deviceType: SKU },
      { validationType: 'ValidateAddress', deviceType: SKU, shippingAddress: { ...i.shippingAddress } },
      {
        validationType: 'ValidateDataTransferDetails',
        deviceType: SKU,
        transferType: 'ImportToAzure',
        dataImportDetails: [{ accountDetails: { dataAccountType: 'StorageAccount', storageAccountId: i.storageAccountId }, logCollectionLevel: i.logLevel }],
      },
    ],
  };
}

/** One failed pre-create check, in words. */
export interface ValidationProblem {
  validationType: string;
  code?: string;
  message: string;
}

/** The checks that did not pass: an error, an Invalid status, or an address the service could not confirm. */
export function validationProblems(r: ValidationResponse): ValidationProblem[] {
  const out: ValidationProblem[] = [];
  for (const d of r.individualResponseDetails ?? []) {
    const x = d as { validationType: string; status?: string; validationStatus?: string; error?: { code?: string; message?: string } };
    const bad =
      (x.error?.code !== undefined && x.error.code !== 'None') ||
      x.status === 'Invalid' ||
      x.validationStatus === 'Invalid' ||
      x.validationStatus === 'Ambiguous';
    if (!bad) continue;
    const p: ValidationProblem = {
      validationType: x.validationType,
      message: x.error?.message ?? (x.validationStatus === 'Ambiguous' ? 'the service could not confirm the address; correct it or add details' : 'invalid'),
    };
    if (x.error?.code) p.code = x.error.code;
    out.push(p);
  }
  if (out.length === 0 && r.status === 'InputsRevisitRequired')
    out.push({ validationType: 'JobCreationValidation', message: 'the service asks to revisit the inputs' });
  return out;
}

/** The regionConfiguration request for the datacenter that receives the disks of `location`. */
export function datacenterRequest(location: string): RegionConfigurationRequest {
  return { datacenterAddressRequest: { storageLocation: location, skuName: SKU } };
}

/** The datacenter's ship-to address and the carriers it returns disks with. */
export interface ShipTo {
  address: Record<string, string>;
  supportedCarriers: string[];
  /** the Azure location the datacenter serves */
  location: string;
}

/** A datacenter address response (regionConfiguration or the job's details.datacenterAddress) as a {@link ShipTo}. */
export function shipToOf(location: string, r: unknown): ShipTo {
  const a = (r ?? {}) as Partial<DatacenterAddressLocationResponse> & { address?: string };
  const address: Record<string, string> = {};
  const fields: Array<[string, unknown]> = [
    ['contactPersonName', a.contactPersonName],
    ['company', a.company],
    ['street1', a.street1],
    ['street2', a.street2],
    ['street3', a.street3],
    ['city', a.city],
    ['state', a.state],
    ['zip', a.zip],
    ['country', a.country],
    ['phone', a.phone],
    ['phoneExtension', a.phoneExtension],
    ['additionalShippingInformation', a.additionalShippingInformation],
    ['instructions', a.address],
  ];
  for (const [k, v] of fields) if (typeof v === 'string' && v !== '') address[k] = v;
  return { address, supportedCarriers: [...(a.supportedCarriersForReturnShipment ?? [])], location: a.dataCenterAzureLocation ?? location };
}

// ---------------------------------------------------------------------------------------------
// Reading a job
// ---------------------------------------------------------------------------------------------

/** A disk of the job as the service reports it (never its BitLocker key). */
export interface DiskView {
  serialNumber: string;
  /** the service's copy status; NotStarted until the datacenter reports one */
  copyStatus: string;
  bytesProcessed: number;
  totalBytesToProcess: number;
  filesProcessed: number;
  totalFilesToProcess: number;
  filesErroredOut: number;
  /** 0–100, from bytes */
  percentComplete: number;
  errorLogLink?: string;
  verboseLogLink?: string;
  /** where the service kept a copy of the manifest (enableManifestBackup) */
  backupManifestCloudPath?: string;
  /** the service's error for this disk's copy */
  error?: { code?: string; message?: string };
}

/** A stage of the job's timeline (details.jobStages). */
export interface StageView {
  stageName: string;
  displayName?: string;
  stageStatus?: string;
  stageTime?: string;
}

/** The job as the service reports it. */
export interface JobView {
  name: string;
  /** the job's status (StageName): DeviceOrdered … ShippedToAzureDC, AtAzureDC, DataCopy, Completed, … */
  status: string;
  isCancellable: boolean;
  storageAccountId: string;
  /** the storage account named by storageAccountId */
  account?: string;
  stages: StageView[];
  disks: DiskView[];
  deliverToDcPackage?: { carrierName?: string; trackingId?: string };
  /** how the datacenter sent the disks back */
  returnPackage?: { carrierName?: string; trackingId?: string; trackingUrl?: string };
  /** the datacenter to ship the disks to, when the service reports it on the job */
  shipTo?: ShipTo;
  createdAt?: string;
  lastModifiedAt?: string;
  /** the job-level error the service reports (e.g. with Failed_IssueDetectedAtAzureDC) */
  error?: { code?: string; message?: string };
  cancellationReason?: string;
}

const iso = (d: unknown): string | undefined => (d instanceof Date ? d.toISOString() : typeof d === 'string' && d !== '' ? d : undefined);

/** Maps a JobResource (Jobs_Get) to a {@link JobView}. Missing fields read as the service's initial values. */
export function jobViewOf(r: JobResource, fallbackName: string): JobView {
  const det = (r.details ?? {}) as Partial<DataBoxCustomerDiskJobDetails>;
  const storageAccountId = (det.dataImportDetails?.[0]?.accountDetails as { storageAccountId?: string } | undefined)?.storageAccountId ?? '';
  const logs = new Map<string, DataBoxCustomerDiskCopyLogDetails>();
  for (const l of det.copyLogDetails ?? []) {
    const c = l as DataBoxCustomerDiskCopyLogDetails;
    if (c.serialNumber) logs.set(c.serialNumber, c);
  }
  const progress = new Map<string, DataBoxCustomerDiskCopyProgress>();
  for (const p of det.copyProgress ?? []) if (p.serialNumber) progress.set(p.serialNumber, p);
  const serials = new Set<string>([...Object.keys(det.importDiskDetailsCollection ?? {}), ...progress.keys()]);
  const disks: DiskView[] = [...serials].sort().map((serialNumber) => {
    const p = progress.get(serialNumber) ?? {};
    const total = p.totalBytesToProcess ?? 0;
    const done = p.bytesProcessed ?? 0;
    const v: DiskView = {
      serialNumber,
      copyStatus: p.copyStatus ?? 'NotStarted',
      bytesProcessed: done,
      totalBytesToProcess: total,
      filesProcessed: p.filesProcessed ?? 0,
      totalFilesToProcess: p.totalFilesToProcess ?? 0,
      filesErroredOut: p.filesErroredOut ?? 0,
      percentComplete: total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : COPY_DONE.has(p.copyStatus ?? '') ? 100 : 0,
    };
    const log = logs.get(serialNumber);
    if (log?.errorLogLink) v.errorLogLink = log.errorLogLink;
    if (log?.verboseLogLink) v.verboseLogLink = log.verboseLogLink;
    const backup = det.importDiskDetailsCollection?.[serialNumber]?.backupManifestCloudPath;
    if (backup) v.backupManifestCloudPath = backup;
    if (p.error && (p.error.code || p.error.message))
      v.error = { ...(p.error.code ? { code: p.error.code } : {}), ...(p.error.message ? { message: p.error.message } : {}) };
    return v;
  });
  const view: JobView = {
    name: r.name ?? fallbackName,
    status: r.status ?? 'DeviceOrdered',
    isCancellable: r.isCancellable ?? false,
    storageAccountId,
    stages: (det.jobStages ?? []).map((s) => {
      const st: StageView = { stageName: s.stageName ?? '' };
      if (s.displayName) st.displayName = s.displayName;
      if (s.stageStatus) st.stageStatus = s.stageStatus;
      const t = iso(s.stageTime);
      if (t) st.stageTime = t;
      return st;
    }),
    disks,
  };
  const acc = parseStorageAccountId(storageAccountId)?.account;
  if (acc) view.account = acc;
  if (det.deliverToDcPackageDetails) view.deliverToDcPackage = { ...det.deliverToDcPackageDetails };
  if (det.returnPackage) {
    const rp = det.returnPackage;
    view.returnPackage = {
      ...(rp.carrierName ? { carrierName: rp.carrierName } : {}),
      ...(rp.trackingId ? { trackingId: rp.trackingId } : {}),
      ...(rp.trackingUrl ? { trackingUrl: rp.trackingUrl } : {}),
    };
  }
  if (det.datacenterAddress) view.shipTo = shipToOf(r.location ?? '', det.datacenterAddress);
  const created = iso(r.systemData?.createdAt) ?? iso(r.startTime);
  if (created) view.createdAt = created;
  const lm = iso(r.systemData?.lastModifiedAt);
  if (lm) view.lastModifiedAt = lm;
  if (r.error && (r.error.code || r.error.message))
    view.error = { ...(r.error.code ? { code: r.error.code } : {}), ...(r.error.message ? { message: r.error.message } : {}) };
  if (r.cancellationReason) view.cancellationReason = r.cancellationReason;
  return view;
}
