/** The body of an Import job over given drives, as tests create it in the emulator through the real SDK. */
import type { PutJobParameters } from '@azure/arm-storageimportexport';

export function importJobBody(
  subscription: string,
  resourceGroup: string,
  drives: Array<{ driveId: string; manifestHash: string }>,
  logLevel?: string,
): PutJobParameters {
  return {
    location: 'westus',
    properties: {
      storageAccountId: `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
      jobType: 'Import',
      returnAddress: { recipientName: 'Ops', streetAddress1: '1 Main St', city: 'Springfield', postalCode: '12345', countryOrRegion: 'US', phone: '5550100', email: 'ops@example.com' },
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123' },
      diagnosticsPath: 'waimportexport',
      ...(logLevel === undefined ? {} : { logLevel }),
      driveList: drives.map((d) => ({ driveId: d.driveId, manifestFile: '\\DriveManifest.xml', manifestHash: d.manifestHash })),
    },
  };
}
