/**
 * The emulator's data model: an import job as Azure runs it today, a Microsoft.DataBox job of SKU
 * DataBoxCustomerDisk (transferType ImportToAzure), stored in the state file and shown on the wire
 * as the `JobResource` of api-version 2022-12-01 (Azure/azure-rest-api-specs,
 * specification/databox/resource-manager/Microsoft.DataBox/stable/2022-12-01/databox.json; the
 * same types @azure/arm-databox 5.0.0 is generated from). Also the ARM error type and the static
 * datacenters per location.
 *
 * bitLockerKey lives only in the state file (mode 0600) and in listCredentials answers:
 * toJobResource() never includes it, as the service never returns it from a GET.
 */

export const API_VERSION = '2022-12-01';
export const PROVIDER = 'Microsoft.DataBox';
export const JOB_TYPE = 'Microsoft.DataBox/jobs';
export const SKU = 'DataBoxCustomerDisk';

/** An ARM error: serialized as `{"error":{"code","message","target?","details?"}}` with `status`. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: Array<{ code: string; message: string; target?: string }>,
  ) {
    super(message);
    this.name = 'ArmError';
  }
  toBody(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export interface ContactDetails {
  contactName: string;
  phone: string;
  phoneExtension?: string;
  mobile?: string;
  emailList: string[];
}

export interface ShippingAddress {
  streetAddress1: string;
  streetAddress2?: string;
  streetAddress3?: string;
  city?: string;
  stateOrProvince?: string;
  country: string;
  postalCode?: string;
  companyName?: string;
  addressType?: string;
}

/**
 * The job's status: the StageName values a customer-disk import goes through in this emulator, in
 * order (docs/emulator.md "States"), plus Cancelled.
 */
export const JOB_FLOW = ['DeviceOrdered', 'ShippedToAzureDC', 'AtAzureDC', 'DataCopy'] as const;
export type JobStatus = (typeof JOB_FLOW)[number] | 'Completed' | 'CompletedWithErrors' | 'Cancelled';

/**
 * Internal per-disk state of the datacenter's work (never on the wire: the wire has copyStatus).
 * Specified → Received → Transferring → Done; NeverReceived when the job closed without it.
 */
export type DiskState = 'Specified' | 'Received' | 'Transferring' | 'Done' | 'NeverReceived';

export interface StoredDisk {
  /** the disk's serial number: the key of importDiskDetailsCollection */
  serialNumber: string;
  /** the recovery password as given; '' for a disk declared unencrypted (emulator-only leniency) */
  bitLockerKey: string;
  manifestFile: string;
  manifestHash: string;
  state: DiskState;
  /** the CopyStatus the service reports for the disk */
  copyStatus: string;
  bytesProcessed: number;
  totalBytesToProcess: number;
  filesProcessed: number;
  totalFilesToProcess: number;
  filesErroredOut: number;
  errorLogLink?: string;
  verboseLogLink?: string;
  backupManifestCloudPath?: string;
  /** the error the copy progress carries for this disk */
  error?: { code: string; message: string };
}

export interface StageRecord {
  stageName: string;
  displayName: string;
  stageStatus: 'None' | 'InProgress' | 'Succeeded' | 'Failed' | 'Cancelled';
  stageTime?: string;
}

export interface StoredJob {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  createdAt: string;
  lastModifiedAt: string;
  status: JobStatus;
  cancellationReason?: string;
  /** the storage account the disks are copied into (dataImportDetails[0]) */
  storageAccountId: string;
  logCollectionLevel: 'Error' | 'Verbose';
  contactDetails: ContactDetails;
  shippingAddress: ShippingAddress;
  returnToCustomerPackageDetails: { carrierName?: string; carrierAccountNumber?: string; trackingId?: string };
  enableManifestBackup: boolean;
  preferences?: Record<string, unknown>;
  deliverToDcPackageDetails?: { carrierName: string; trackingId: string };
  returnPackage?: { carrierName: string; trackingId: string; trackingUrl: string };
  /** when each stage was reached (ISO times, by stage name) */
  stageTimes: Record<string, string>;
  /** the copy-log format the datacenter writes for this job (an emulator option; docs/emulator.md) */
  copyLogFormat: CopyLogFormat;
  disks: StoredDisk[];
}

/** `2021-08-01`: today's `databoxcopylog` logs; `2014-11-01`: the older `waies` DriveLog. */
export type CopyLogFormat = '2021-08-01' | '2014-11-01';

export function jobId(j: Pick<StoredJob, 'subscriptionId' | 'resourceGroup' | 'name'>): string {
  return `/subscriptions/${j.subscriptionId}/resourceGroups/${j.resourceGroup}/providers/${PROVIDER}/jobs/${j.name}`;
}

/** Where a job stands in the flow, for isCancellable and the stage list. */
const FINAL = new Set<JobStatus>(['Completed', 'CompletedWithErrors', 'Cancelled']);
const STAGE_NAMES: Record<string, string> = {
  DeviceOrdered: 'Ordered',
  ShippedToAzureDC: 'Shipped to Azure datacenter',
  AtAzureDC: 'Received at Azure datacenter',
  DataCopy: 'Data copy in progress',
  Completed: 'Completed',
  CompletedWithErrors: 'Completed with errors',
  Cancelled: 'Cancelled',
};

/** The customer-disk stages with their status and time, as details.jobStages shows them. */
export function jobStages(j: StoredJob): StageRecord[] {
  const times = j.stageTimes;
  const reached = (s: string) => times[s] !== undefined;
  const out: StageRecord[] = [];
  for (const s of JOB_FLOW) {
    const st: StageRecord = { stageName: s, displayName: STAGE_NAMES[s]!, stageStatus: reached(s) ? (j.status === s ? 'InProgress' : 'Succeeded') : 'None' };
    if (j.status === 'Cancelled' && !reached(s)) st.stageStatus = 'Cancelled';
    if (times[s]) st.stageTime = times[s];
    out.push(st);
  }
  const last: string = j.status === 'Cancelled' ? 'Cancelled' : j.status === 'CompletedWithErrors' ? 'CompletedWithErrors' : 'Completed';
  out.push({
    stageName: last,
    displayName: STAGE_NAMES[last]!,
    stageStatus: FINAL.has(j.status) ? 'Succeeded' : 'None',
    ...(times[last] ? { stageTime: times[last] } : {}),
  });
  return out;
}

/** Cancel is allowed until the disks are on their way (the service's rule for customer-disk jobs). */
export function isCancellable(j: StoredJob): boolean {
  return j.status === 'DeviceOrdered';
}

/** The wire form of a job (GET/PUT/PATCH answers, list items): never a bitLockerKey. */
export function toJobResource(j: StoredJob): Record<string, unknown> {
  const datacenter = findDatacenter(j.location);
  const account = j.storageAccountId.split('/').pop() ?? '';
  const details: Record<string, unknown> = {
    jobDetailsType: SKU,
    jobStages: jobStages(j),
    contactDetails: j.contactDetails,
    shippingAddress: j.shippingAddress,
    dataImportDetails: [
      { accountDetails: { dataAccountType: 'StorageAccount', storageAccountId: j.storageAccountId }, logCollectionLevel: j.logCollectionLevel },
    ],
    importDiskDetailsCollection: Object.fromEntries(
      j.disks.map((d) => [
        d.serialNumber,
        {
          manifestFile: d.manifestFile,
          manifestHash: d.manifestHash,
          ...(d.backupManifestCloudPath ? { backupManifestCloudPath: d.backupManifestCloudPath } : {}),
        },
      ]),
    ),
    returnToCustomerPackageDetails: j.returnToCustomerPackageDetails,
    enableManifestBackup: j.enableManifestBackup,
    copyProgress: j.disks.map((d) => ({
      serialNumber: d.serialNumber,
      copyStatus: d.copyStatus,
      storageAccountName: account,
      transferType: 'ImportToAzure',
      dataAccountType: 'StorageAccount',
      accountId: j.storageAccountId,
      bytesProcessed: d.bytesProcessed,
      totalBytesToProcess: d.totalBytesToProcess,
      filesProcessed: d.filesProcessed,
      totalFilesToProcess: d.totalFilesToProcess,
      filesErroredOut: d.filesErroredOut,
      invalidFilesProcessed: 0,
      invalidFileBytesUploaded: 0,
      renamedContainerCount: 0,
      directoriesErroredOut: 0,
      invalidDirectoriesProcessed: 0,
      isEnumerationInProgress: d.state === 'Transferring' && d.totalFilesToProcess === 0,
      ...(d.error ? { error: d.error } : {}),
    })),
    copyLogDetails: j.disks
      .filter((d) => d.errorLogLink || d.verboseLogLink)
      .map((d) => ({
        copyLogDetailsType: SKU,
        serialNumber: d.serialNumber,
        ...(d.errorLogLink ? { errorLogLink: d.errorLogLink } : {}),
        ...(d.verboseLogLink ? { verboseLogLink: d.verboseLogLink } : {}),
      })),
    ...(j.preferences ? { preferences: j.preferences } : {}),
    ...(j.deliverToDcPackageDetails ? { deliverToDcPackageDetails: j.deliverToDcPackageDetails } : {}),
    ...(j.returnPackage ? { returnPackage: j.returnPackage } : {}),
    ...(datacenter ? { datacenterAddress: datacenterAddressResponse(datacenter) } : {}),
  };
  return {
    id: jobId(j),
    name: j.name,
    type: JOB_TYPE,
    location: j.location,
    tags: j.tags,
    sku: { name: SKU },
    identity: { type: 'None' },
    systemData: {
      createdBy: 'driveseed-emulator',
      createdByType: 'User',
      createdAt: j.createdAt,
      lastModifiedBy: 'driveseed-emulator',
      lastModifiedByType: 'User',
      lastModifiedAt: j.lastModifiedAt,
    },
    properties: {
      transferType: 'ImportToAzure',
      isCancellable: isCancellable(j),
      isDeletable: FINAL.has(j.status),
      isShippingAddressEditable: j.status === 'DeviceOrdered',
      isPrepareToShipEnabled: false,
      status: j.status,
      startTime: j.createdAt,
      deliveryType: 'NonScheduled',
      isCancellableWithoutFee: isCancellable(j),
      ...(j.cancellationReason ? { cancellationReason: j.cancellationReason } : {}),
      details,
    },
  };
}

export interface DatacenterInfo {
  location: string;
  contactPersonName: string;
  company: string;
  street1: string;
  street2: string;
  city: string;
  state: string;
  zip: string;
  country: string;
  phone: string;
  additionalShippingInformation: string;
  supportedCarriersForReturnShipment: string[];
}

const NOT_REAL = 'EMULATOR ADDRESS: driveseed emulator test data. Do not ship anything here.';

/** A few datacenters, one per location. The addresses are made up on purpose: nobody should ship to them. */
export const DATACENTERS: DatacenterInfo[] = [
  {
    location: 'westus',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: '100 Emulator Way',
    street2: 'Dock 2',
    city: 'Santa Clara',
    state: 'CA',
    zip: '95054',
    country: 'US',
    phone: '+1 555 0100',
    additionalShippingInformation: NOT_REAL,
    supportedCarriersForReturnShipment: ['FedEx', 'UPS', 'DHL'],
  },
  {
    location: 'westus2',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: '200 Emulator Way',
    street2: '',
    city: 'Quincy',
    state: 'WA',
    zip: '98848',
    country: 'US',
    phone: '+1 555 0101',
    additionalShippingInformation: NOT_REAL,
    supportedCarriersForReturnShipment: ['FedEx', 'UPS', 'DHL'],
  },
  {
    location: 'eastus',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: '300 Emulator Way',
    street2: '',
    city: 'Boydton',
    state: 'VA',
    zip: '23917',
    country: 'US',
    phone: '+1 555 0102',
    additionalShippingInformation: NOT_REAL,
    supportedCarriersForReturnShipment: ['FedEx', 'UPS', 'DHL'],
  },
  {
    location: 'westeurope',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: 'Emulatorweg 1',
    street2: '',
    city: 'Middenmeer',
    state: 'Noord-Holland',
    zip: '1775 PA',
    country: 'NL',
    phone: '+31 555 0103',
    additionalShippingInformation: NOT_REAL,
    supportedCarriersForReturnShipment: ['DHL', 'FedEx'],
  },
  {
    location: 'northeurope',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: '1 Emulator Road',
    street2: '',
    city: 'Dublin',
    state: 'Dublin',
    zip: 'D24',
    country: 'IE',
    phone: '+353 555 0104',
    additionalShippingInformation: NOT_REAL,
    supportedCarriersForReturnShipment: ['DHL', 'FedEx'],
  },
  {
    location: 'australiaeast',
    contactPersonName: 'Azure Import/Export (emulator)',
    company: 'Microsoft (emulated)',
    street1: '1 Emulator Street',
    street2: '',
    city: 'Sydney',
    state: 'NSW',
    zip: '2000',
    country: 'AU',
    phone: '+61 555 0105',
    additionalShippingInformation: `${NOT_REAL} Parcels need a Microsoft inbound ID.`,
    supportedCarriersForReturnShipment: ['DHL'],
  },
];

/** The datacenter of a location ("westus" or "West US"), case-insensitively. */
export function findDatacenter(location: string): DatacenterInfo | undefined {
  const n = location.toLowerCase().replace(/\s+/g, '');
  return DATACENTERS.find((l) => l.location === n);
}

/** The DatacenterAddressLocationResponse of a datacenter. */
export function datacenterAddressResponse(d: DatacenterInfo): Record<string, unknown> {
  const { location, ...rest } = d;
  return { datacenterAddressType: 'DatacenterAddressLocation', ...rest, addressType: 'Commercial', dataCenterAzureLocation: location };
}

export const OPERATIONS = [
  ['jobs/read', 'Jobs', 'Get jobs', 'Lists or gets the orders'],
  ['jobs/write', 'Jobs', 'Create or update a job', 'Creates or updates an order'],
  ['jobs/delete', 'Jobs', 'Delete a job', 'Deletes an order'],
  ['jobs/cancel/action', 'Jobs', 'Cancel a job', 'Cancels an order in progress'],
  ['jobs/markDevicesShipped/action', 'Jobs', 'Mark devices shipped', "Records the shipment of the customer's disks"],
  ['jobs/listCredentials/action', 'Jobs', 'List credentials', 'Lists the unencrypted secrets of an order'],
  ['locations/validateInputs/action', 'Locations', 'Validate inputs', 'Validates the inputs of a new order'],
  ['locations/regionConfiguration/action', 'Locations', 'Region configuration', 'Gets the configuration of a region'],
].map(([op, resource, operation, description]) => ({ name: `${PROVIDER}/${op}`, display: { provider: PROVIDER, resource, operation, description } }));
