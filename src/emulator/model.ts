/**
 * The emulator's data model: what a job looks like in the state file and on the wire
 * (Microsoft.ImportExport 2021-01-01 `JobResponse`, as published in Azure/azure-rest-api-specs,
 * specification/storageimportexport/resource-manager/Microsoft.ImportExport), the ARM error type, and the
 * static datacenter locations. bitLockerKey lives only in the state file (mode 0600) and in
 * listBitLockerKeys answers; toJobResponse() never includes it.
 */

export const API_VERSION = '2021-01-01';
export const PROVIDER = 'Microsoft.ImportExport';
export const JOB_TYPE = 'Microsoft.ImportExport/jobs';

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

export interface Address {
  recipientName?: string;
  streetAddress1?: string;
  streetAddress2?: string;
  city?: string;
  stateOrProvince?: string;
  postalCode?: string;
  countryOrRegion?: string;
  phone?: string;
  email?: string;
}

export interface DeliveryPackage {
  carrierName: string;
  trackingNumber: string;
  driveCount?: number;
  shipDate?: string;
}

export type DriveState = 'Specified' | 'Received' | 'NeverReceived' | 'Transferring' | 'Completed' | 'CompletedMoreInfo' | 'ShippedBack';
export type JobState = 'Creating' | 'Shipping' | 'Received' | 'Transferring' | 'Packaging' | 'Completed' | 'Closed' | 'Canceled';

export interface StoredDrive {
  driveId: string;
  /** absent: the drive was declared unencrypted (emulator-only leniency, docs/emulator.md) */
  bitLockerKey?: string;
  manifestFile: string;
  manifestHash: string;
  driveHeaderHash?: string;
  state: DriveState;
  copyStatus?: string;
  percentComplete?: number;
  verboseLogUri?: string;
  errorLogUri?: string;
  manifestUri?: string;
  bytesSucceeded?: number;
}

export interface StoredJobProperties {
  storageAccountId: string;
  jobType: 'Import';
  returnAddress?: Address;
  returnShipping?: { carrierName: string; carrierAccountNumber: string };
  shippingInformation: Address & { additionalInformation?: string };
  deliveryPackage?: DeliveryPackage;
  returnPackage?: { carrierName: string; trackingNumber: string; driveCount: number; shipDate: string };
  diagnosticsPath: string;
  logLevel: 'Error' | 'Verbose';
  backupDriveManifest: boolean;
  state: JobState;
  cancelRequested: boolean;
  percentComplete: number;
  driveList: StoredDrive[];
  provisioningState: 'Succeeded';
  encryptionKey: { kekType: 'MicrosoftManaged' | 'CustomerManaged'; kekUrl?: string; kekVaultResourceID?: string };
}

export interface StoredJob {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  createdAt: string;
  lastModifiedAt: string;
  properties: StoredJobProperties;
}

export function jobId(j: Pick<StoredJob, 'subscriptionId' | 'resourceGroup' | 'name'>): string {
  return `/subscriptions/${j.subscriptionId}/resourceGroups/${j.resourceGroup}/providers/${PROVIDER}/jobs/${j.name}`;
}

/** The wire form of a job (GET/PUT/PATCH answers, list items): never a bitLockerKey. */
export function toJobResponse(j: StoredJob): Record<string, unknown> {
  const { driveList, ...rest } = j.properties;
  return {
    id: jobId(j),
    name: j.name,
    type: JOB_TYPE,
    location: j.location,
    tags: j.tags,
    systemData: {
      createdBy: 'driveseed-emulator',
      createdByType: 'User',
      createdAt: j.createdAt,
      lastModifiedBy: 'driveseed-emulator',
      lastModifiedByType: 'User',
      lastModifiedAt: j.lastModifiedAt,
    },
    identity: { type: 'None' },
    properties: { ...rest, driveList: driveList.map(({ bitLockerKey: _omit, ...d }) => d) },
  };
}

export interface LocationInfo {
  code: string;
  name: string;
  recipientName: string;
  streetAddress1: string;
  streetAddress2: string;
  city: string;
  stateOrProvince: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  additionalShippingInformation: string;
  supportedCarriers: string[];
  alternateLocations: string[];
}

const NOT_REAL = 'EMULATOR ADDRESS: driveseed emulator test data. Do not ship anything here.';

/** A few datacenter locations. The addresses are made up on purpose: nobody should ship to them. */
export const LOCATIONS: LocationInfo[] = [
  { code: 'westus', name: 'West US', recipientName: 'Azure Import/Export (emulator)', streetAddress1: '100 Emulator Way', streetAddress2: 'Dock 2', city: 'Santa Clara', stateOrProvince: 'CA', postalCode: '95054', countryOrRegion: 'US', phone: '+1 555 0100', additionalShippingInformation: NOT_REAL, supportedCarriers: ['FedEx', 'UPS', 'DHL'], alternateLocations: ['westus2'] },
  { code: 'westus2', name: 'West US 2', recipientName: 'Azure Import/Export (emulator)', streetAddress1: '200 Emulator Way', streetAddress2: '', city: 'Quincy', stateOrProvince: 'WA', postalCode: '98848', countryOrRegion: 'US', phone: '+1 555 0101', additionalShippingInformation: NOT_REAL, supportedCarriers: ['FedEx', 'UPS', 'DHL'], alternateLocations: ['westus'] },
  { code: 'eastus', name: 'East US', recipientName: 'Azure Import/Export (emulator)', streetAddress1: '300 Emulator Way', streetAddress2: '', city: 'Boydton', stateOrProvince: 'VA', postalCode: '23917', countryOrRegion: 'US', phone: '+1 555 0102', additionalShippingInformation: NOT_REAL, supportedCarriers: ['FedEx', 'UPS', 'DHL'], alternateLocations: [] },
  { code: 'westeurope', name: 'West Europe', recipientName: 'Azure Import/Export (emulator)', streetAddress1: 'Emulatorweg 1', streetAddress2: '', city: 'Middenmeer', stateOrProvince: 'Noord-Holland', postalCode: '1775 PA', countryOrRegion: 'NL', phone: '+31 555 0103', additionalShippingInformation: NOT_REAL, supportedCarriers: ['DHL', 'FedEx'], alternateLocations: ['northeurope'] },
  { code: 'northeurope', name: 'North Europe', recipientName: 'Azure Import/Export (emulator)', streetAddress1: '1 Emulator Road', streetAddress2: '', city: 'Dublin', stateOrProvince: 'Dublin', postalCode: 'D24', countryOrRegion: 'IE', phone: '+353 555 0104', additionalShippingInformation: NOT_REAL, supportedCarriers: ['DHL', 'FedEx'], alternateLocations: ['westeurope'] },
  { code: 'australiaeast', name: 'Australia East', recipientName: 'Azure Import/Export (emulator)', streetAddress1: '1 Emulator Street', streetAddress2: '', city: 'Sydney', stateOrProvince: 'NSW', postalCode: '2000', countryOrRegion: 'AU', phone: '+61 555 0105', additionalShippingInformation: `${NOT_REAL} Parcels need a Microsoft inbound ID.`, supportedCarriers: ['DHL'], alternateLocations: [] },
];

/** Finds a location by code ("westus") or display name ("West US"), case-insensitively. */
export function findLocation(name: string): LocationInfo | undefined {
  const n = name.toLowerCase().replace(/\s+/g, '');
  return LOCATIONS.find((l) => l.code === n);
}

export function toLocationResponse(l: LocationInfo): Record<string, unknown> {
  const { code, name, ...props } = l;
  return {
    id: `/providers/${PROVIDER}/locations/${code}`,
    name,
    type: `${PROVIDER}/locations`,
    properties: { ...props, alternateLocations: props.alternateLocations.map((c) => `/providers/${PROVIDER}/locations/${c}`) },
  };
}

export const OPERATIONS = [
  ['locations/read', 'Locations', 'Get locations', 'Gets the locations where drives can be shipped to'],
  ['jobs/read', 'Jobs', 'Get jobs', 'Gets import/export jobs'],
  ['jobs/write', 'Jobs', 'Create or update a job', 'Creates or updates an import/export job'],
  ['jobs/delete', 'Jobs', 'Delete a job', 'Deletes an import/export job'],
  ['jobs/listBitLockerKeys/action', 'BitLocker keys', 'List BitLocker keys', "Gets the BitLocker keys of a job's drives"],
].map(([op, resource, operation, description]) => ({ name: `${PROVIDER}/${op}`, display: { provider: PROVIDER, resource, operation, description } }));
