/**
 * The Data Box job model (src/azure/import-job.ts): every copy status the SDK knows has a meaning
 * and an action, and a JobResource as the service returns it maps to the view status and complete read.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KnownCopyStatus, KnownStageName, type JobResource } from '@azure/arm-databox';
import { COPY_STATUS, explainCopyStatus, FINAL_STATUSES, jobViewOf, SHIPPABLE_STATUSES } from '../src/azure/import-job';

test('every CopyStatus value of @azure/arm-databox is explained with a meaning and an action', () => {
  const known = Object.values(KnownCopyStatus) as string[];
  assert.equal(Object.keys(COPY_STATUS).sort(), [...known].sort(), 'the table covers exactly the SDK\'s values');
  for (const v of known) {
    const e = explainCopyStatus(v);
    assert.ok(e.meaning.length > 10 && e.action.length > 5, v);
  }
  assert.ok(explainCopyStatus('Completed').ok);
  assert.not.ok(explainCopyStatus('CompletedWithErrors').ok);
  assert.match(explainCopyStatus('UnsupportedDrive').action, /512-byte/);
  assert.match(explainCopyStatus('MetadataFilesModifiedOrRemoved').meaning, /manifest/);
  assert.match(explainCopyStatus('DriveCorrupted').action, /prepare a new disk/);
  assert.match(explainCopyStatus('SomethingNew').meaning, /SomethingNew/, 'a value newer than the table is named, not dropped');
});

test('the status sets use the SDK\'s stage names only', () => {
  const stages = new Set(Object.values(KnownStageName) as string[]);
  for (const s of [...FINAL_STATUSES, ...SHIPPABLE_STATUSES]) assert.ok(stages.has(s), s);
});

test('jobViewOf: disks from importDiskDetailsCollection and copyProgress, logs by serial, never a key', () => {
  const r = {
    name: 'seed1',
    location: 'westus',
    status: 'DataCopy',
    isCancellable: false,
    transferType: 'ImportToAzure',
    sku: { name: 'DataBoxCustomerDisk' },
    details: {
      jobDetailsType: 'DataBoxCustomerDisk',
      contactDetails: { contactName: 'x', phone: '1', emailList: ['a@b.c'] },
      returnToCustomerPackageDetails: {},
      dataImportDetails: [{ accountDetails: { dataAccountType: 'StorageAccount', storageAccountId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1' } }],
      importDiskDetailsCollection: { SER1: { manifestFile: '\\DriveManifest.xml', manifestHash: 'AA', bitLockerKey: 'secret', backupManifestCloudPath: 'https://acct1/x' }, SER2: { manifestFile: '\\DriveManifest.xml', manifestHash: 'BB', bitLockerKey: 'secret' } },
      copyProgress: [{ serialNumber: 'SER1', copyStatus: 'InProgress', bytesProcessed: 50, totalBytesToProcess: 200, filesProcessed: 1, totalFilesToProcess: 4 }],
      copyLogDetails: [{ copyLogDetailsType: 'DataBoxCustomerDisk', serialNumber: 'SER1', errorLogLink: 'https://e', verboseLogLink: 'https://v' }],
      jobStages: [{ stageName: 'DeviceOrdered', stageStatus: 'Succeeded', stageTime: new Date('2026-12-01T00:00:00Z') }, { stageName: 'DataCopy', stageStatus: 'InProgress' }],
      deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: '1Z999' },
    },
  } as unknown as JobResource;
  const v = jobViewOf(r, 'fallback');
  assert.is(v.status, 'DataCopy');
  assert.is(v.account, 'acct1');
  assert.equal(v.disks.map((d) => [d.serialNumber, d.copyStatus, d.percentComplete]), [['SER1', 'InProgress', 25], ['SER2', 'NotStarted', 0]]);
  assert.is(v.disks[0]!.errorLogLink, 'https://e');
  assert.is(v.disks[0]!.backupManifestCloudPath, 'https://acct1/x');
  assert.equal(v.stages[0], { stageName: 'DeviceOrdered', stageStatus: 'Succeeded', stageTime: '2026-12-01T00:00:00.000Z' });
  assert.equal(v.deliverToDcPackage, { carrierName: 'FedEx', trackingId: '1Z999' });
  assert.not.ok(JSON.stringify(v).includes('secret'));
});

test.run();
