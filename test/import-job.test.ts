/**
 * The Data Box job model (src/azure/import-job.ts): every copy status the SDK knows has a meaning
 * and an action, and a JobResource as the service returns it maps to the view status and complete read.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KnownCopyStatus, KnownStageName, type JobResource } from '@azure/arm-databox';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { jobViewOf } from '../src/azure/import-job';
import { COPY_STATUS, explainCopyStatus, FINAL_STATUSES, SHIPPABLE_STATUSES } from '../src/azure/job-status';
import { PORTAL_JOURNAL_LIMIT, writePortalFiles } from '../src/azure/portal-files';
import { Secret } from '../src/base/secret';
import { tmpDir } from './helpers';

test('every CopyStatus value of @azure/arm-databox is explained with a meaning and an action', () => {
  const known = Object.values(KnownCopyStatus) as string[];
  assert.equal(Object.keys(COPY_STATUS).sort(), [...known].sort(), "the table covers exactly the SDK's values");
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

test("the status sets use the SDK's stage names only", () => {
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
      dataImportDetails: [
        {
          accountDetails: {
            dataAccountType: 'StorageAccount',
            storageAccountId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1',
          },
        },
      ],
      importDiskDetailsCollection: {
        SER1: { manifestFile: '\\DriveManifest.xml', manifestHash: 'AA', bitLockerKey: 'secret', backupManifestCloudPath: 'https://acct1/x' },
        SER2: { manifestFile: '\\DriveManifest.xml', manifestHash: 'BB', bitLockerKey: 'secret' },
      },
      copyProgress: [
        { serialNumber: 'SER1', copyStatus: 'InProgress', bytesProcessed: 50, totalBytesToProcess: 200, filesProcessed: 1, totalFilesToProcess: 4 },
      ],
      copyLogDetails: [{ copyLogDetailsType: 'DataBoxCustomerDisk', serialNumber: 'SER1', errorLogLink: 'https://e', verboseLogLink: 'https://v' }],
      jobStages: [
        { stageName: 'DeviceOrdered', stageStatus: 'Succeeded', stageTime: new Date('2026-12-01T00:00:00Z') },
        { stageName: 'DataCopy', stageStatus: 'InProgress' },
      ],
      deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: '1Z999' },
    },
  } as unknown as JobResource;
  const v = jobViewOf(r, 'fallback');
  assert.is(v.status, 'DataCopy');
  assert.is(v.account, 'acct1');
  assert.equal(
    v.disks.map((d) => [d.serialNumber, d.copyStatus, d.percentComplete]),
    [
      ['SER1', 'InProgress', 25],
      ['SER2', 'NotStarted', 0],
    ],
  );
  assert.is(v.disks[0]!.errorLogLink, 'https://e');
  assert.is(v.disks[0]!.backupManifestCloudPath, 'https://acct1/x');
  assert.equal(v.stages[0], { stageName: 'DeviceOrdered', stageStatus: 'Succeeded', stageTime: '2026-12-01T00:00:00.000Z' });
  assert.equal(v.deliverToDcPackage, { carrierName: 'FedEx', trackingId: '1Z999' });
  assert.not.ok(JSON.stringify(v).includes('secret'));
});

test('portal files: a v1 journal with the DriveInfo record and the _DriveInfo_ file, mode 0600, far below the portal limit', () => {
  const dir = tmpDir();
  const key = '111111-222222-333333-444444-555555-666666-777777-888888';
  const [f] = writePortalFiles(
    path.join(dir, 'portal'),
    'seed-2026',
    [{ serialNumber: 'WD-WCC4N1234560', manifestFile: '\\DriveManifest.xml', manifestHash: 'd863fe44f861ae0da4dceaeeffccce68', bitLockerKey: new Secret(key) }],
    new Date('2026-12-05T10:00:00.123Z'),
  );
  assert.is(path.basename(f!.journal), 'seed-2026-WD-WCC4N1234560.jrn');
  assert.is(path.basename(f!.driveInfo), 'seed-2026-WD-WCC4N1234560_DriveInfo_WD-WCC4N1234560.xml');
  const jrn = fs.readFileSync(f!.journal, 'utf8');
  assert.ok(jrn.startsWith('[BeginUpdateRecord][2026/12/05 10:00:00.123][Type:NewJournalFile]\r\nVocabularyVersion: 2013-02-01\r\n[EndUpdateRecord]\r\n'));
  assert.match(
    jrn,
    /ActivityId: DriveInfo\r\nDriveState: \[BeginValue\]\r\n<\?xml version="1\.0" encoding="UTF-8"\?>\r\n<Drive><DriveId>WD-WCC4N1234560<\/DriveId><BitLockerKey>111111-222222-333333-444444-555555-666666-777777-888888<\/BitLockerKey><ManifestFile>\\DriveManifest\.xml<\/ManifestFile><ManifestHash>D863FE44F861AE0DA4DCEAEEFFCCCE68<\/ManifestHash><\/Drive>\r\n\[EndValue\]\r\nSaveCommandOutput: Completed\r\n\[EndUpdateRecord\]\r\n$/,
  );
  assert.ok(Buffer.byteLength(jrn) < PORTAL_JOURNAL_LIMIT / 100);
  const info = fs.readFileSync(f!.driveInfo, 'utf8');
  assert.ok(jrn.includes(info.replace(/\r\n$/, '')), "the DriveInfo file is the journal's <Drive> element");
  for (const file of [f!.journal, f!.driveInfo]) assert.is(fs.statSync(file).mode & 0o777, 0o600, `${file} holds the key: 0600`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
