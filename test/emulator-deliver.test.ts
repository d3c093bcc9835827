// The emulated datacenter: a disk directory built here (pack-like files + DriveManifest.xml from
// our writer + the drive id file) delivered to a shipped customer-disk job → blobs in Azurite with
// identical bytes, job Completed; a tampered file → disk and job CompletedWithErrors, a copy log
// naming the blob; the classic log format; manifest failures; deliver's refusals; close.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DataBoxCustomerDiskJobDetails, DataBoxManagementClient, JobResource } from '@azure/arm-databox';
import { createDataBoxClient } from '../src/azure/arm';
import { crc64 } from '../src/azure/crc64';
import { containerClientFor } from '../src/azure/blob';
import { parseDriveLog } from '../src/azure/drivelog';
import { MAX_BLOCK_LENGTH, writeManifest, type ManifestBlob } from '../src/azure/manifest';
import { DriveseedError } from '../src/base/errors';
import { deliverDrive, DRIVE_ID_FILE, startEmulator, type RunningEmulator } from '../src/emulator';
import { tmpDir } from './helpers';
import { importJobBody } from './support/emulator-job';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const work = tmpDir('driveseed-emu-dc-');
let emu: RunningEmulator | undefined;
let client: DataBoxManagementClient;

interface Drive {
  dir: string;
  driveId: string;
  manifestHash: string;
  files: Record<string, Buffer>;
}

/** A volume directory with files under data/, a manifest over them and the id file. */
async function buildDrive(name: string, driveId: string, sizes: number[]): Promise<Drive> {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'data', 'p'), { recursive: true });
  const files: Record<string, Buffer> = {};
  const blobs: ManifestBlob[] = sizes.map((size, i) => {
    const rel = `p/${String(i).padStart(4, '0')}.pack`;
    const bytes = randomBytes(size);
    fs.writeFileSync(path.join(dir, 'data', rel), bytes);
    files[`c-${name}/${rel}`] = bytes;
    const blocks = [];
    for (let off = 0; off < size; off += MAX_BLOCK_LENGTH) {
      const len = Math.min(MAX_BLOCK_LENGTH, size - off);
      blocks.push({
        offset: off,
        length: len,
        hash: createHash('md5')
          .update(bytes.subarray(off, off + len))
          .digest('hex')
          .toUpperCase(),
      });
    }
    return { blobPath: `c-${name}/${rel}`, filePath: `\\data\\p\\${String(i).padStart(4, '0')}.pack`, length: size, blocks };
  });
  const r = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
  return { dir, driveId, manifestHash: r.manifestHash, files };
}

async function shippedJob(name: string, drives: Drive[], logLevel: 'Error' | 'Verbose' = 'Error', c: DataBoxManagementClient = client): Promise<void> {
  await c.jobs.beginCreateAndWait(RG, name, importJobBody(SUB, RG, drives, logLevel, { enableManifestBackup: true }));
  await c.jobs.markDevicesShipped(name, RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: `T-${name}` } });
}

const jobGet = (name: string, c: DataBoxManagementClient = client) => c.jobs.get(RG, name, { expand: 'details' });
const det = (j: JobResource) => j.details as DataBoxCustomerDiskJobDetails;
const logsOf = (j: JobResource, serial: string) =>
  (det(j).copyLogDetails ?? []).find((l) => (l as { serialNumber?: string }).serialNumber === serial) as
    | { errorLogLink?: string; verboseLogLink?: string }
    | undefined;

async function download(container: string, blobName: string): Promise<Buffer> {
  const c = containerClientFor({ account: 'devstoreaccount1', container, emulator: emu!.accounts.find((a) => a.name === 'devstoreaccount1')! });
  return c.getBlobClient(blobName).downloadToBuffer();
}

async function logAt(uri: string): Promise<ReturnType<typeof parseDriveLog>> {
  const u = new URL(uri);
  const [, , container, ...rest] = u.pathname.split('/');
  return parseDriveLog((await download(container!, decodeURIComponent(rest.join('/')))).toString('utf8'));
}

async function fails(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, DriveseedError);
    assert.is((e as DriveseedError).code, code, (e as Error).message);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test.before(async () => {
  emu = await startEmulator({ stepMs: 0 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('a prepared disk is imported: identical blobs with Content-MD5, disk and job Completed, 2021-08-01 logs and the manifest backup written', async () => {
  const d = await buildDrive('good', 'GOOD-1', [MAX_BLOCK_LENGTH * 2 + 12345, 1000, 0]);
  await shippedJob('good1', [d], 'Verbose');
  const r = await deliverDrive({ emulator: emu!, job: 'good1', drive: d.dir, wait: true });
  assert.equal([(r as { copyStatus: string }).copyStatus, (r as { status: string }).status], ['Completed', 'Completed']);
  for (const [blobPath, bytes] of Object.entries(d.files)) {
    const got = await download('c-good', blobPath.slice('c-good/'.length));
    assert.ok(got.equals(bytes), `${blobPath} differs`);
    const props = await containerClientFor({ account: 'devstoreaccount1', container: 'c-good', emulator: emu!.accounts[0]! })
      .getBlobClient(blobPath.slice('c-good/'.length))
      .getProperties();
    assert.equal(Buffer.from(props.contentMD5!).toString('hex'), createHash('md5').update(bytes).digest('hex'));
  }
  const job = await jobGet('good1');
  assert.is(job.status, 'Completed');
  assert.ok(det(job).returnPackage?.trackingId);
  assert.equal(
    det(job).jobStages!.map((s) => [s.stageName, s.stageStatus]),
    [
      ['DeviceOrdered', 'Succeeded'],
      ['ShippedToAzureDC', 'Succeeded'],
      ['AtAzureDC', 'Succeeded'],
      ['DataCopy', 'Succeeded'],
      ['Completed', 'Succeeded'],
    ],
  );
  const p = det(job).copyProgress![0]!;
  assert.equal(
    [p.serialNumber, p.copyStatus, p.bytesProcessed, p.totalBytesToProcess, p.filesProcessed, p.totalFilesToProcess, p.filesErroredOut],
    ['GOOD-1', 'Completed', MAX_BLOCK_LENGTH * 2 + 12345 + 1000, MAX_BLOCK_LENGTH * 2 + 12345 + 1000, 3, 3, 0],
  );
  const logs = logsOf(job, 'GOOD-1')!;
  assert.match(logs.errorLogLink!, /\/devstoreaccount1\/databoxcopylog\/good1_GOOD-1_CopyLog_[0-9a-f-]{36}\.xml$/);
  assert.match(logs.verboseLogLink!, /_VerboseLog_[0-9a-f-]{36}\.xml$/);
  assert.match(det(job).importDiskDetailsCollection!['GOOD-1']!.backupManifestCloudPath!, /\/databoxcopylog\/good1_GOOD-1_Manifest_/);
  const err = await logAt(logs.errorLogLink!);
  assert.equal([err.format, err.status, err.blobs.length, err.totalFiles, err.filesErrored], ['2021-08-01', 'Completed', 0, 3, 0]);
  const verbose = await logAt(logs.verboseLogLink!);
  assert.is(verbose.blobs.length, 3);
  for (const b of verbose.blobs) assert.is(b.crc64, crc64(d.files[b.blobPath]!), `${b.blobPath}: the CRC-64 of the imported data`);
});

test('a tampered file: disk and job CompletedWithErrors, the copy log names the blob; the corrupt blob is not committed', async () => {
  const d = await buildDrive('bad', 'BAD-1', [MAX_BLOCK_LENGTH * 2 + 10, 500]);
  const victim = path.join(d.dir, 'data', 'p', '0000.pack');
  const fd = fs.openSync(victim, 'r+');
  fs.writeSync(fd, Buffer.from([0xff ^ d.files['c-bad/p/0000.pack']![MAX_BLOCK_LENGTH + 7]!]), 0, 1, MAX_BLOCK_LENGTH + 7);
  fs.closeSync(fd);
  await shippedJob('bad1', [d]);
  // Over HTTP this time, as `driveseed emulator deliver` does; without wait it returns once received.
  const accepted = await deliverDrive({ emulator: emu!.armEndpoint, job: 'bad1', drive: d.dir });
  assert.equal(accepted, { job: 'bad1', serialNumber: 'BAD-1', status: 'AtAzureDC' });
  let job = await jobGet('bad1');
  for (let i = 0; i < 600 && job.status !== 'CompletedWithErrors'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    job = await jobGet('bad1');
  }
  assert.is(job.status, 'CompletedWithErrors');
  const p = det(job).copyProgress![0]!;
  assert.equal([p.copyStatus, p.filesErroredOut, p.filesProcessed], ['CompletedWithErrors', 1, 2]);
  const log = await logAt(logsOf(job, 'BAD-1')!.errorLogLink!);
  assert.equal([log.status, log.blobs.length, log.filesErrored], ['CompletedWithErrors', 1, 1]);
  const b = log.blobs[0]!;
  assert.equal([b.blobPath, b.category], ['c-bad/p/0000.pack', 'UploadErrorDataValidationError']);
  assert.match(b.errorMessage!, new RegExp(`block at offset ${MAX_BLOCK_LENGTH} \\(length ${MAX_BLOCK_LENGTH}\\)`));
  const c = containerClientFor({ account: 'devstoreaccount1', container: 'c-bad', emulator: emu!.accounts[0]! });
  assert.is(await c.getBlobClient('p/0000.pack').exists(), false);
  assert.ok((await download('c-bad', 'p/0001.pack')).equals(d.files['c-bad/p/0001.pack']!));
  assert.is(logsOf(job, 'BAD-1')!.verboseLogLink, undefined, 'log level Error writes no verbose log');
});

test('classic logs (emulator option): the DriveLog under waimportexport/waies with the blocks', async () => {
  const classic = await startEmulator({ stepMs: 0, copyLogFormat: '2014-11-01' });
  try {
    const cc = createDataBoxClient({ subscriptionId: SUB, emulator: classic.armEndpoint });
    const d = await buildDrive('classic', 'CLASSIC-1', [MAX_BLOCK_LENGTH + 5]);
    fs.appendFileSync(path.join(d.dir, 'data', 'p', '0000.pack'), 'x'); // longer than the manifest says: still imports the listed length
    await shippedJob('classic1', [d], 'Verbose', cc);
    const r = (await deliverDrive({ emulator: classic, job: 'classic1', drive: d.dir, wait: true })) as {
      errorLogLink: string;
      verboseLogLink: string;
      copyStatus: string;
    };
    assert.is(r.copyStatus, 'Completed');
    assert.match(r.errorLogLink, /\/waimportexport\/waies\/classic1_CLASSIC-1_\d{8}-\d{6}-\d{3}_error\.xml$/);
    const u = new URL(r.verboseLogLink);
    const [, , container, ...rest] = u.pathname.split('/');
    const text = (
      await containerClientFor({ account: 'devstoreaccount1', container: container!, emulator: classic.accounts[0]! })
        .getBlobClient(rest.join('/'))
        .downloadToBuffer()
    ).toString('utf8');
    const v = parseDriveLog(text);
    assert.is(v.format, '2014-11-01');
    assert.ok(v.blobs[0]!.blocks!.every((k) => k.status === 'Committed'));
  } finally {
    await classic.stop();
  }
});

test('disk-level failures: manifest hash mismatch and a missing manifest are MetadataFilesModifiedOrRemoved, with the log saying which', async () => {
  const d = await buildDrive('hash', 'HASH-1', [100]);
  const m = await buildDrive('nomanifest', 'NOMAN-1', [100]);
  fs.rmSync(path.join(m.dir, 'DriveManifest.xml'));
  await shippedJob('hash1', [{ ...d, manifestHash: '0'.repeat(32) }, m]);
  const r1 = (await deliverDrive({ emulator: emu!, job: 'hash1', drive: d.dir, wait: true })) as { logStatus: string; copyStatus: string; status: string };
  assert.equal([r1.logStatus, r1.copyStatus, r1.status], ['ManifestCorrupted', 'MetadataFilesModifiedOrRemoved', 'DataCopy']);
  const r2 = (await deliverDrive({ emulator: emu!, job: 'hash1', drive: m.dir, wait: true })) as { logStatus: string; copyStatus: string; status: string };
  assert.equal([r2.logStatus, r2.copyStatus, r2.status], ['ManifestNotFound', 'MetadataFilesModifiedOrRemoved', 'CompletedWithErrors']);
  const job = await jobGet('hash1');
  assert.equal(
    det(job).copyProgress!.map((x) => x.copyStatus),
    ['MetadataFilesModifiedOrRemoved', 'MetadataFilesModifiedOrRemoved'],
  );
  assert.is((await logAt(logsOf(job, 'HASH-1')!.errorLogLink!)).status, 'ManifestCorrupted');
});

test('deliver refusals: job not shipped, unknown job, disk not in the job, disk delivered twice, no id; close marks the missing disk DriveNotReceived', async () => {
  const d = await buildDrive('early', 'EARLY-1', [10]);
  await client.jobs.beginCreateAndWait(RG, 'early1', importJobBody(SUB, RG, [d]));
  await fails(
    deliverDrive({ emulator: emu!.armEndpoint, job: 'early1', drive: d.dir }),
    'EMULATOR_INVALID_JOB_STATE',
    /is DeviceOrdered; disks are received only once they are marked shipped/,
  );
  await fails(deliverDrive({ emulator: emu!, job: 'nosuch', drive: d.dir }), 'EMULATOR_RESOURCE_NOT_FOUND', /No import job named 'nosuch'/);
  const other = await buildDrive('other', 'OTHER-1', [10]);
  await fails(deliverDrive({ emulator: emu!, job: 'good1', drive: other.dir }), 'EMULATOR_INVALID_JOB_STATE', /is Completed/);
  const third = await buildDrive('third', 'THIRD-1', [10]);
  await shippedJob('two1', [d, third]);
  await fails(
    deliverDrive({ emulator: emu!.armEndpoint, job: 'two1', drive: other.dir }),
    'EMULATOR_DRIVE_NOT_IN_JOB',
    /serial 'OTHER-1'.*does not list \(it lists: EARLY-1, THIRD-1\)/,
  );
  fs.rmSync(path.join(other.dir, DRIVE_ID_FILE));
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: other.dir }), 'EMULATOR_DRIVE_UNIDENTIFIED', /no driveseed-drive-id file/);
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: path.join(work, 'missing') }), 'EMULATOR_DRIVE_NOT_FOUND', /does not exist/);
  await deliverDrive({ emulator: emu!, job: 'two1', drive: d.dir, wait: true });
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: d.dir }), 'EMULATOR_DRIVE_ALREADY_RECEIVED', /already received/);
  const closed = await fetch(`${emu!.armEndpoint}/_emulator/close`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ job: 'two1' }),
  });
  assert.is(closed.status, 200);
  const job = await jobGet('two1');
  assert.is(job.status, 'CompletedWithErrors');
  assert.equal(
    det(job).copyProgress!.map((x) => [x.serialNumber, x.copyStatus]),
    [
      ['EARLY-1', 'Completed'],
      ['THIRD-1', 'DriveNotReceived'],
    ],
  );
});

test.run();
