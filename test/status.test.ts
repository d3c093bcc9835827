// `driveseed status` against the emulator, without disks: a drive is a directory with files, a
// DriveManifest.xml and the drive id file (what the datacenter reads). The job is created and
// shipped through the Data Box client directly; status reads it from the staging settings. Copy
// logs in both formats: today's 2021-08-01 (the default emulator) and the classic DriveLog
// (a second emulator started with copyLogFormat 2014-11-01).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { MAX_BLOCK_LENGTH, writeManifest, type ManifestBlob } from '../src/azure/manifest';
import { DriveseedError } from '../src/base/errors';
import { silentReporter } from '../src/base/reporter';
import { writeSettings } from '../src/core/settings';
import { getJob, readJob } from '../src/core/job';
import { blobOfUri, status } from '../src/core/status';
import { deliverDrive, DRIVE_ID_FILE, startEmulator, type RunningEmulator } from '../src/emulator';
import { runCli, spawnCli } from './support/cli';
import { tmpDir } from './helpers';
import { importJobBody } from './support/emulator-job';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const work = tmpDir('driveseed-status-');
let emu: RunningEmulator;
let client: DataBoxManagementClient;
let classic: RunningEmulator;
let classicClient: DataBoxManagementClient;

interface Drive {
  dir: string;
  driveId: string;
  manifestHash: string;
  bytes: number;
}

async function buildDrive(name: string, driveId: string, container: string, sizes: number[]): Promise<Drive> {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const blobs: ManifestBlob[] = sizes.map((size, i) => {
    const bytes = randomBytes(size);
    fs.writeFileSync(path.join(dir, 'data', `${i}.pack`), bytes);
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
    return { blobPath: `${container}/data/${i}.pack`, filePath: `\\data\\${i}.pack`, length: size, blocks };
  });
  const r = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
  return { dir, driveId, manifestHash: r.manifestHash, bytes: sizes.reduce((a, b) => a + b, 0) };
}

/** A staging location holding only what status reads: settings.json and prep's drives.json. */
function staging(name: string, job: string, drives: Drive[], on: RunningEmulator = emu): string {
  const dir = path.join(work, `staging-${name}`);
  fs.mkdirSync(path.join(dir, '.prep'), { recursive: true });
  writeSettings(dir, {
    version: 1,
    staging: dir,
    job,
    account: 'devstoreaccount1',
    container: `c-${name}`,
    seed: {
      job: {
        name: job,
        subscription: SUB,
        resourceGroup: RG,
        location: 'westus',
        account: 'devstoreaccount1',
        createdAt: new Date().toISOString(),
        state: 'DeviceOrdered',
        emulator: on.armEndpoint,
      },
    },
  });
  fs.writeFileSync(
    path.join(dir, '.prep', 'drives.json'),
    JSON.stringify({
      version: 1,
      encryption: 'none',
      drives: drives.map((d) => ({
        driveId: d.driveId,
        driveIdSource: 'generated',
        manifestFile: '\\DriveManifest.xml',
        manifestHash: d.manifestHash,
        bytes: d.bytes,
      })),
    }),
  );
  return dir;
}

async function createJob(name: string, drives: Drive[], c: DataBoxManagementClient = client): Promise<void> {
  await c.jobs.beginCreateAndWait(RG, name, importJobBody(SUB, RG, drives, 'Error'));
}

const ship = (name: string, c: DataBoxManagementClient = client) =>
  c.jobs.markDevicesShipped(name, RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: `T-${name}` } });
const ctx = () => ({ reporter: silentReporter, signal: new AbortController().signal, env: {} });
const lines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; event?: string; data?: any });

test.before(async () => {
  emu = await startEmulator({ stepMs: 150 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  classic = await startEmulator({ stepMs: 0, copyLogFormat: '2014-11-01' });
  classicClient = createDataBoxClient({ subscriptionId: SUB, emulator: classic.armEndpoint });
});

test.after(async () => {
  await emu?.stop();
  await classic?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('missing settings and a job not created yet are usage errors that say what to run', async () => {
  const none = path.join(work, 'nothing');
  fs.mkdirSync(none);
  const e1 = (await status({ staging: none, watch: false, intervalSeconds: 1 }, ctx()).catch((e) => e)) as DriveseedError;
  assert.is(e1.code, 'SETTINGS_MISSING');
  const half = path.join(work, 'half');
  fs.mkdirSync(half);
  // stage saved the job's coordinates, but no job was created (no seed.job)
  writeSettings(half, { version: 1, staging: half, job: 'seedx', subscription: SUB, resourceGroup: RG });
  const e2 = (await status({ staging: half, watch: false, intervalSeconds: 1 }, ctx()).catch((e) => e)) as DriveseedError;
  assert.is(e2.code, 'JOB_NOT_CREATED');
  assert.match(e2.message, /driveseed job create --staging/);
  const r = runCli(['--json', 'status', '--staging', half]);
  assert.is(r.code, 2);
  assert.is(lines(r.stdout).at(-1)!.type, 'error');
  const bad = runCli(['--json', 'status', '--staging', half, '--interval', '0']);
  assert.is(bad.code, 2);
  assert.match(bad.stdout, /--interval/);
});

test('status through the flow: DeviceOrdered, ShippedToAzureDC, then --watch through AtAzureDC/DataCopy to Completed', async () => {
  const d1 = await buildDrive('w1', 'WATCH-1', 'c-watch', [MAX_BLOCK_LENGTH + 99, 2048]);
  const d2 = await buildDrive('w2', 'WATCH-2', 'c-watch', [5000]);
  const dir = staging('watch', 'watch1', [d1, d2]);
  await createJob('watch1', [d1, d2]);
  let r = await status({ staging: dir, watch: false, intervalSeconds: 1 }, ctx());
  assert.is(r.job.status, 'DeviceOrdered');
  assert.equal(
    r.job.disks.map((d) => d.copyStatus),
    ['NotStarted', 'NotStarted'],
  );
  assert.match(r.disks[0]!.meaning, /has not started/);
  assert.match(r.next, /driveseed ship/);
  assert.ok(
    r.job.stages.some((s) => s.stageName === 'DeviceOrdered' && s.stageStatus === 'InProgress'),
    'the stages come with the job',
  );
  await ship('watch1');
  r = await status({ staging: dir, watch: false, intervalSeconds: 1 }, ctx());
  assert.is(r.job.status, 'ShippedToAzureDC');
  assert.equal(r.job.deliverToDcPackage, { carrierName: 'FedEx', trackingId: 'T-watch1' });
  assert.is(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).seed.state, 'shipped');

  let delivered = false;
  const run = spawnCli(['--json', 'status', '--staging', dir, '--watch', '--interval', '0.05'], (child, stdout) => {
    if (!delivered && stdout.includes('"state":"ShippedToAzureDC"')) {
      delivered = true;
      void (async () => {
        await deliverDrive({ emulator: emu, job: 'watch1', drive: d1.dir });
        await new Promise((res) => setTimeout(res, 400));
        await deliverDrive({ emulator: emu, job: 'watch1', drive: d2.dir });
      })().catch(() => child.kill());
    }
  });
  const out = await run;
  assert.is(out.code, 0, out.stderr + out.stdout);
  const ls = lines(out.stdout);
  const jobStates = ls.filter((l) => l.event === 'job.state').map((l) => l.data.state);
  assert.equal(jobStates, ['ShippedToAzureDC', 'AtAzureDC', 'DataCopy', 'Completed']);
  const d1States = ls.filter((l) => l.event === 'drive.state' && l.data.driveId === 'WATCH-1').map((l) => l.data.copyStatus);
  assert.equal(d1States[0], 'NotStarted');
  assert.equal(d1States.at(-1), 'Completed');
  assert.ok(ls.some((l) => l.type === 'progress' && (l as any).phase === 'import'));
  const res = ls.at(-1)!;
  assert.is(res.type, 'result');
  assert.is(res.data.watch, 'terminal');
  assert.is(res.data.job.status, 'Completed');
  assert.equal(
    res.data.job.disks.map((d: any) => [d.copyStatus, d.percentComplete, d.bytesProcessed, d.filesProcessed, d.totalFilesToProcess]),
    [
      ['Completed', 100, d1.bytes, 2, 2],
      ['Completed', 100, d2.bytes, 1, 1],
    ],
  );
  assert.ok(res.data.job.returnPackage?.trackingId, 'the return package once the job completed');
  assert.equal(res.data.failures, []);
  assert.match(res.data.next, /driveseed complete/);
  assert.is(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).seed.state, 'imported');
});

async function tamperedDrive(name: string): Promise<Drive> {
  const d = await buildDrive(name, `TAMPER-${name}`, `c-${name}`, [MAX_BLOCK_LENGTH * 2 + 10, 700]);
  const victim = path.join(d.dir, 'data', '0.pack');
  const fd = fs.openSync(victim, 'r+');
  fs.writeSync(fd, Buffer.from('XX'), 0, 2, MAX_BLOCK_LENGTH + 3);
  fs.closeSync(fd);
  return d;
}

test('a tampered drive, 2021-08-01 copy log: CompletedWithErrors, the copy log from databoxcopylog names the blob and why (JSON and text)', async () => {
  const d = await tamperedDrive('t1');
  const dir = staging('tamper', 'tamper1', [d]);
  await createJob('tamper1', [d]);
  await ship('tamper1');
  const outcome = await deliverDrive({ emulator: emu, job: 'tamper1', drive: d.dir, wait: true });
  assert.match((outcome as { errorLogLink: string }).errorLogLink, /\/databoxcopylog\/tamper1_TAMPER-t1_CopyLog_[0-9a-f-]{36}\.xml$/);
  const r = await status({ staging: dir, watch: true, intervalSeconds: 0.05 }, ctx());
  assert.is(r.job.status, 'CompletedWithErrors');
  assert.equal([r.job.disks[0]!.copyStatus, r.job.disks[0]!.filesErroredOut, r.job.disks[0]!.filesProcessed], ['CompletedWithErrors', 1, 2]);
  assert.match(r.disks[0]!.action, /driveseed repair/);
  assert.is(r.failures.length, 1);
  const f = r.failures[0]!;
  assert.equal([f.driveId, f.status, f.blobsFailed, f.format], ['TAMPER-t1', 'CompletedWithErrors', 1, '2021-08-01']);
  const b = f.blobs[0]!;
  assert.equal([b.blobPath, b.status], ['c-t1/data/0.pack', 'UploadErrorDataValidationError']);
  assert.match(b.reason, /did not match its checksum.*block at offset 4194304/);
  assert.match(r.next, /driveseed repair/);

  // spawnCli, not runCli: a synchronous spawn would block this process's emulator the CLI talks to
  const text = await spawnCli(['status', '--staging', dir], () => {});
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /import job tamper1 \(seed-rg\): CompletedWithErrors/);
  assert.match(text.stdout, /disk TAMPER-t1: CompletedWithErrors/);
  assert.match(text.stdout, /c-t1\/data\/0\.pack \(UploadErrorDataValidationError\)/);
});

test('a tampered drive, classic DriveLog: status names the blob, the block and why', async () => {
  const d = await tamperedDrive('t2');
  const dir = staging('tamper2', 'tamper2', [d], classic);
  await createJob('tamper2', [d], classicClient);
  await ship('tamper2', classicClient);
  const outcome = await deliverDrive({ emulator: classic, job: 'tamper2', drive: d.dir, wait: true });
  assert.match((outcome as { errorLogLink: string }).errorLogLink, /\/waimportexport\/waies\/tamper2_TAMPER-t2_\d{8}-\d{6}-\d{3}_error\.xml$/);
  const r = await status({ staging: dir, watch: false, intervalSeconds: 1 }, ctx());
  assert.is(r.job.status, 'CompletedWithErrors');
  const f = r.failures[0]!;
  assert.equal([f.driveId, f.status, f.blobsFailed, f.format], ['TAMPER-t2', 'CompletedWithErrors', 1, '2014-11-01']);
  const b = f.blobs[0]!;
  assert.equal([b.blobPath, b.filePath, b.status], ['c-t2/data/0.pack', '\\data\\0.pack', 'CompletedWithErrors']);
  assert.equal(
    b.blocks.map((k) => [k.offset, k.length, k.status]),
    [[MAX_BLOCK_LENGTH, MAX_BLOCK_LENGTH, 'Corrupted']],
  );
  assert.is(b.blocksCancelled, 1);
  assert.match(b.reason, /did not match the MD5/);
});

test('a changed manifest is MetadataFilesModifiedOrRemoved; a disk that never arrives is DriveNotReceived; each explained', async () => {
  const good = await buildDrive('m1', 'META-1', 'c-meta', [1000]);
  const gone = await buildDrive('m2', 'META-2', 'c-meta', [1000]);
  const dir = staging('meta', 'meta1', [good, gone]);
  await createJob('meta1', [good, gone]);
  await ship('meta1');
  fs.appendFileSync(path.join(good.dir, 'DriveManifest.xml'), '\n<!-- edited after prep -->\n');
  const outcome = await deliverDrive({ emulator: emu, job: 'meta1', drive: good.dir, wait: true });
  assert.equal([(outcome as any).copyStatus, (outcome as any).logStatus], ['MetadataFilesModifiedOrRemoved', 'ManifestCorrupted']);
  const close = await fetch(`${emu.armEndpoint}/_emulator/close`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ job: 'meta1' }),
  });
  assert.is(close.status, 200);
  const r = await status({ staging: dir, watch: false, intervalSeconds: 1 }, ctx());
  assert.is(r.job.status, 'CompletedWithErrors');
  assert.equal(
    r.disks.map((d) => d.copyStatus),
    ['MetadataFilesModifiedOrRemoved', 'DriveNotReceived'],
  );
  assert.match(r.disks[0]!.meaning, /manifest/);
  assert.match(r.disks[1]!.action, /tracking number/);
  assert.ok(r.job.disks[0]!.error?.message?.includes('DriveManifest.xml'));
  assert.equal(
    r.failures.map((f) => [f.driveId, f.status]),
    [['META-1', 'ManifestCorrupted']],
  );
  assert.match(r.failures[0]!.reason!, /does not match the manifestHash/);
  const text = await spawnCli(['status', '--staging', dir], () => {});
  assert.match(text.stdout, /disk META-2: DriveNotReceived\n\s+the datacenter has not received this disk/);
});

test('status, job get and ship read the job through one reader: the same view of status, disks and packages', async () => {
  const d = await buildDrive('v1', 'VIEW-1', 'c-view', [3000]);
  const dir = staging('view', 'view1', [d]);
  await createJob('view1', [d]);
  await ship('view1');
  const s = await status({ staging: dir, watch: false, intervalSeconds: 1, logs: false }, ctx());
  const g = await getJob({ staging: dir }, ctx());
  const r = await readJob({ name: 'view1', subscription: SUB, resourceGroup: RG, emulator: emu.armEndpoint });
  assert.equal(s.job, r, "status reports readJob's view unchanged");
  assert.equal(g.view, r);
  assert.equal(r.deliverToDcPackage, { carrierName: 'FedEx', trackingId: 'T-view1' });
  assert.equal(
    r.disks.map((x) => [x.serialNumber, x.copyStatus, x.percentComplete, x.bytesProcessed]),
    [['VIEW-1', 'NotStarted', 0, 0]],
  );
  assert.ok(r.shipTo && Object.keys(r.shipTo.address).length > 0, 'the datacenter address is in the view');
  assert.is(r.account, 'devstoreaccount1');
  // one error for a missing job, naming it and its resource group
  const e = (await readJob({ name: 'no-such-job', subscription: SUB, resourceGroup: RG, emulator: emu.armEndpoint }).catch((x) => x)) as DriveseedError;
  assert.instance(e, DriveseedError);
  assert.is(e.category, 'AZURE');
  assert.match(e.message, /no-such-job \(resource group seed-rg\)/);
});

test('blobOfUri: path-style emulator URLs and Azure URLs', () => {
  assert.equal(blobOfUri('http://127.0.0.1:1234/devstoreaccount1/waimportexport/waies/j_D_1_error.xml', 'http://127.0.0.1:1234/devstoreaccount1'), {
    container: 'waimportexport',
    name: 'waies/j_D_1_error.xml',
  });
  assert.equal(blobOfUri('https://acc.blob.core.windows.net/logs/a%20b.xml', 'https://acc.blob.core.windows.net'), { container: 'logs', name: 'a b.xml' });
  assert.throws(() => blobOfUri('https://acc.blob.core.windows.net/onlycontainer', 'https://acc.blob.core.windows.net'), /does not name a blob/);
});

test.run();
