// The emulated datacenter: a drive directory built here (pack-like files + DriveManifest.xml from
// our writer + the drive id file) delivered to a Shipping job → blobs in Azurite with identical
// bytes, job Completed; a tampered file → drive CompletedMoreInfo, job Closed, error log naming
// the blob and block.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StorageImportExport } from '@azure/arm-storageimportexport';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createImportExportClient } from '../src/azure/arm';
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
let client: StorageImportExport;

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
      blocks.push({ offset: off, length: len, hash: createHash('md5').update(bytes.subarray(off, off + len)).digest('hex').toUpperCase() });
    }
    return { blobPath: `c-${name}/${rel}`, filePath: `\\data\\p\\${String(i).padStart(4, '0')}.pack`, length: size, blocks };
  });
  const r = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
  return { dir, driveId, manifestHash: r.manifestHash, files };
}

async function shippedJob(name: string, drives: Drive[], logLevel = 'Error'): Promise<void> {
  await client.jobs.create(name, RG, importJobBody(SUB, RG, drives, logLevel));
  await client.jobs.update(name, RG, { state: 'Shipping', deliveryPackage: { carrierName: 'FedEx', trackingNumber: `T-${name}`, driveCount: drives.length } });
}

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
  client = createImportExportClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('a prepared drive is imported: identical blobs with Content-MD5, drive and job Completed, logs written', async () => {
  const d = await buildDrive('good', 'GOOD-1', [MAX_BLOCK_LENGTH * 2 + 12345, 1000, 0]);
  await shippedJob('good1', [d], 'Verbose');
  const r = await deliverDrive({ emulator: emu!, job: 'good1', drive: d.dir, wait: true });
  assert.equal({ driveState: (r as { driveState: string }).driveState, jobState: (r as { jobState: string }).jobState }, { driveState: 'Completed', jobState: 'Completed' });
  for (const [blobPath, bytes] of Object.entries(d.files)) {
    const got = await download('c-good', blobPath.slice('c-good/'.length));
    assert.ok(got.equals(bytes), `${blobPath} differs`);
    const props = await containerClientFor({ account: 'devstoreaccount1', container: 'c-good', emulator: emu!.accounts[0]! }).getBlobClient(blobPath.slice('c-good/'.length)).getProperties();
    assert.equal(Buffer.from(props.contentMD5!).toString('hex'), createHash('md5').update(bytes).digest('hex'));
  }
  const job = await client.jobs.get('good1', RG);
  assert.is(job.properties!.state, 'Completed');
  assert.is(job.properties!.percentComplete, 100);
  assert.ok(job.properties!.returnPackage?.trackingNumber);
  const drive = job.properties!.driveList![0]!;
  assert.is(drive.state, 'Completed');
  assert.is(drive.copyStatus, 'Completed');
  assert.is(drive.bytesSucceeded, MAX_BLOCK_LENGTH * 2 + 12345 + 1000);
  assert.match(drive.errorLogUri!, /\/devstoreaccount1\/waimportexport\/waies\/good1_GOOD-1_\d{8}-\d{6}-\d{3}_error\.xml$/);
  assert.match(drive.verboseLogUri!, /_verbose\.xml$/);
  const err = await logAt(drive.errorLogUri!);
  assert.equal({ status: err.status, blobs: err.blobs.length }, { status: 'Completed', blobs: 0 });
  const verbose = await logAt(drive.verboseLogUri!);
  assert.is(verbose.blobs.length, 3);
  assert.ok(verbose.blobs.every((b) => b.status === 'Completed' && b.blocks!.every((k) => k.status === 'Committed')));
});

test('a tampered file: drive CompletedMoreInfo, job Closed, error log names the blob and the block', async () => {
  const d = await buildDrive('bad', 'BAD-1', [MAX_BLOCK_LENGTH * 2 + 10, 500]);
  const victim = path.join(d.dir, 'data', 'p', '0000.pack');
  const fd = fs.openSync(victim, 'r+');
  fs.writeSync(fd, Buffer.from([0xff ^ d.files['c-bad/p/0000.pack']![MAX_BLOCK_LENGTH + 7]!]), 0, 1, MAX_BLOCK_LENGTH + 7);
  fs.closeSync(fd);
  await shippedJob('bad1', [d]);
  // Over HTTP this time, as `driveseed emulator deliver` does; without wait it returns at Received.
  const accepted = await deliverDrive({ emulator: emu!.armEndpoint, job: 'bad1', drive: d.dir });
  assert.equal(accepted, { job: 'bad1', driveId: 'BAD-1', driveState: 'Received' });
  let job = await client.jobs.get('bad1', RG);
  for (let i = 0; i < 600 && job.properties!.state !== 'Closed'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    job = await client.jobs.get('bad1', RG);
  }
  assert.is(job.properties!.state, 'Closed');
  const drive = job.properties!.driveList![0]!;
  assert.is(drive.state, 'CompletedMoreInfo');
  assert.is(drive.copyStatus, 'CompletedWithErrors');
  assert.is(drive.bytesSucceeded, 500);
  const log = await logAt(drive.errorLogUri!);
  assert.is(log.status, 'CompletedWithErrors');
  assert.is(log.blobs.length, 1);
  const b = log.blobs[0]!;
  assert.equal({ path: b.blobPath, file: b.filePath, status: b.status }, { path: 'c-bad/p/0000.pack', file: '\\data\\p\\0000.pack', status: 'CompletedWithErrors' });
  assert.equal(b.blocks!.map((k) => [k.offset, k.status]), [[0, 'Uncommitted'], [MAX_BLOCK_LENGTH, 'Corrupted'], [MAX_BLOCK_LENGTH * 2, 'Cancelled']]);
  // The corrupt blob was not committed; the good one was.
  const c = containerClientFor({ account: 'devstoreaccount1', container: 'c-bad', emulator: emu!.accounts[0]! });
  assert.is(await c.getBlobClient('p/0000.pack').exists(), false);
  assert.ok((await download('c-bad', 'p/0001.pack')).equals(d.files['c-bad/p/0001.pack']!));
  assert.is(drive.verboseLogUri, undefined, 'logLevel Error writes no verbose log');
});

test('drive-level failures: manifest hash mismatch → ManifestCorrupted; missing manifest → ManifestNotFound', async () => {
  const d = await buildDrive('hash', 'HASH-1', [100]);
  const m = await buildDrive('nomanifest', 'NOMAN-1', [100]);
  fs.rmSync(path.join(m.dir, 'DriveManifest.xml'));
  await shippedJob('hash1', [{ ...d, manifestHash: '0'.repeat(32) }, m]);
  const r1 = (await deliverDrive({ emulator: emu!, job: 'hash1', drive: d.dir, wait: true })) as { status: string; driveState: string; jobState: string };
  assert.equal([r1.status, r1.driveState, r1.jobState], ['ManifestCorrupted', 'CompletedMoreInfo', 'Transferring']);
  const r2 = (await deliverDrive({ emulator: emu!, job: 'hash1', drive: m.dir, wait: true })) as { status: string; driveState: string; jobState: string };
  assert.equal([r2.status, r2.driveState, r2.jobState], ['ManifestNotFound', 'CompletedMoreInfo', 'Closed']);
  const job = await client.jobs.get('hash1', RG);
  assert.equal(job.properties!.driveList!.map((x) => x.copyStatus), ['ManifestCorrupted', 'ManifestNotFound']);
  assert.is((await logAt(job.properties!.driveList![0]!.errorLogUri!)).status, 'ManifestCorrupted');
});

test('deliver refusals: job not Shipping, unknown job, drive not in the job, drive delivered twice, no id', async () => {
  const d = await buildDrive('early', 'EARLY-1', [10]);
  await client.jobs.create('early1', RG, {
    location: 'westus',
    properties: {
      storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
      jobType: 'Import',
      driveList: [{ driveId: d.driveId, manifestFile: '\\DriveManifest.xml', manifestHash: d.manifestHash }],
    },
  });
  await fails(deliverDrive({ emulator: emu!.armEndpoint, job: 'early1', drive: d.dir }), 'EMULATOR_INVALID_JOB_STATE', /is Creating; drives are received only once it is Shipping/);
  await fails(deliverDrive({ emulator: emu!, job: 'nosuch', drive: d.dir }), 'EMULATOR_RESOURCE_NOT_FOUND', /No import job named 'nosuch'/);
  const other = await buildDrive('other', 'OTHER-1', [10]);
  await fails(deliverDrive({ emulator: emu!, job: 'good1', drive: other.dir }), 'EMULATOR_INVALID_JOB_STATE', /is Completed/);
  await shippedJob('two1', [d]);
  await fails(deliverDrive({ emulator: emu!.armEndpoint, job: 'two1', drive: other.dir }), 'EMULATOR_DRIVE_NOT_IN_JOB', /id 'OTHER-1'.*does not list \(it lists: EARLY-1\)/);
  fs.rmSync(path.join(other.dir, DRIVE_ID_FILE));
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: other.dir }), 'EMULATOR_DRIVE_UNIDENTIFIED', /no driveseed-drive-id file/);
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: path.join(work, 'missing') }), 'EMULATOR_DRIVE_NOT_FOUND', /does not exist/);
  await deliverDrive({ emulator: emu!, job: 'two1', drive: d.dir, wait: true });
  await fails(deliverDrive({ emulator: emu!, job: 'two1', drive: d.dir }), 'EMULATOR_INVALID_JOB_STATE', /is Completed/);
});

test.run();
