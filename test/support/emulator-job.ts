/** The body of a customer-disk import job over given disks, as tests create it in the emulator through the real SDK. */
import type { JobResource } from '@azure/arm-databox';

export function importJobBody(
  subscription: string,
  resourceGroup: string,
  drives: Array<{ driveId: string; manifestHash: string; bitLockerKey?: string }>,
  logLevel: 'Error' | 'Verbose' = 'Error',
  opts: { location?: string; enableManifestBackup?: boolean } = {},
): JobResource {
  return {
    location: opts.location ?? 'westus',
    sku: { name: 'DataBoxCustomerDisk' },
    transferType: 'ImportToAzure',
    details: {
      jobDetailsType: 'DataBoxCustomerDisk',
      contactDetails: { contactName: 'Ops', phone: '5550100', emailList: ['ops@example.com'] },
      shippingAddress: { streetAddress1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
      dataImportDetails: [
        {
          accountDetails: {
            dataAccountType: 'StorageAccount',
            storageAccountId: `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
          },
          logCollectionLevel: logLevel,
        },
      ],
      importDiskDetailsCollection: Object.fromEntries(
        drives.map((d) => [d.driveId, { manifestFile: '\\DriveManifest.xml', manifestHash: d.manifestHash, bitLockerKey: d.bitLockerKey ?? '' }]),
      ),
      returnToCustomerPackageDetails: { carrierName: 'FedEx', carrierAccountNumber: '123' },
      enableManifestBackup: opts.enableManifestBackup ?? false,
    },
  };
}
