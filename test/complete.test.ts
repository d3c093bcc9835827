// `driveseed complete` and `driveseed repair` against the emulator, without disks: the staging
// location holds repository-like files and the prep journal that says which went on which drive;
// each drive is a directory with those files, its DriveManifest.xml and the drive id file.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { containerClientFor } from '../src/azure/blob';
import { MAX_BLOCK_LENGTH, writeManifest } from '../src/azure/manifest';
import { complete } from '../src/core/complete';
import type { DriveseedError } from '../src/base/errors';
import { silentReporter } from '../src/base/reporter';
import { readSettings, writeSettings } from '../src/core/settings';
import { repair } from '../src/core/repair';
import { deliverDrive, DRIVE_ID_FILE, startEmulator, type RunningEmulator } from '../src/emulator';
import { Journal } from '../src/prep/journal';
import { spawnCli } from './support/cli';
import { tmpDir } from './helpers';
import { importJobBody } from './support/emulator-job';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const CONTAINER = 'seed';
const work = tmpDir('driveseed-complete-');
let emu: RunningEmulator;
let client: DataBoxManagementClient;

const md5blocks = (b: Buffer) => {
  const out: string[] = [];
  for (let off = 0; off < b.length; off += MAX_BLOCK_LENGTH)
    out.push(
      createHash('md5')
        .update(b.subarray(off, off + MAX_BLOCK_LENGTH))
        .digest('hex')
        .toUpperCase(),
    );
  return out;
};

interface Setup {
  staging: string;
  drives: Array<{ dir: string; driveId: string; manifestHash: string }>;
  files: Map<string, Buffer>;
}

/** Staging files + a finished prep journal for `layout` (files per drive), and the drive directories. */
async function setup(name: string, layout: Array<Array<[string, number]>>): Promise<Setup> {
  const staging = path.join(work, name, 'staging');
  fs.mkdirSync(staging, { recursive: true });
  const files = new Map<string, Buffer>();
  const journal = Journal.open(staging);
  const plan = {
    drives: layout.map((fs_, i) => ({
      target: `/dev/fake${i}`,
      files: fs_.map(([p, size]) => ({ path: p, size })),
      bytes: fs_.reduce((a, [, s]) => a + s, 0),
      allocated: 0,
      manifestEstimate: 0,
      freeBytes: 0,
      spaceLeft: 0,
    })),
    totalBytes: 0,
    fileCount: layout.flat().length,
  };
  journal.append({ t: 'plan', v: 1, at: new Date().toISOString(), plan, fingerprint: 'x' });
  const drives: Setup['drives'] = [];
  for (let i = 0; i < layout.length; i++) {
    const driveId = `${name.toUpperCase()}-${i}`;
    journal.append({ t: 'drive', drive: i, target: `/dev/fake${i}`, driveId, formatted: true, serial: null });
    const dir = path.join(work, name, `drive${i}`);
    const blobs = [];
    for (const [p, size] of layout[i]!) {
      const bytes = randomBytes(size);
      files.set(p, bytes);
      for (const root of [staging, dir]) {
        fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
        fs.writeFileSync(path.join(root, p), bytes);
      }
      const blocks = md5blocks(bytes);
      journal.append({ t: 'fileDone', drive: i, path: p, size, blocks });
      blobs.push({
        blobPath: `${CONTAINER}/${p}`,
        filePath: `\\${p.split('/').join('\\')}`,
        length: size,
        blocks: blocks.map((hash, k) => ({ offset: k * MAX_BLOCK_LENGTH, length: Math.min(MAX_BLOCK_LENGTH, size - k * MAX_BLOCK_LENGTH), hash })),
      });
    }
    const m = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
    fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
    journal.append({ t: 'manifest', drive: i, manifestHash: m.manifestHash, bytes: 0 });
    drives.push({ dir, driveId, manifestHash: m.manifestHash });
  }
  journal.append({ t: 'done', at: new Date().toISOString() });
  journal.close();
  writeSettings(staging, {
    version: 1,
    staging,
    job: name,
    account: 'devstoreaccount1',
    container: CONTAINER,
    seed: {
      job: {
        name,
        subscription: SUB,
        resourceGroup: RG,
        location: 'westus',
        account: 'devstoreaccount1',
        createdAt: new Date().toISOString(),
        state: 'DeviceOrdered',
        emulator: emu.armEndpoint,
      },
    },
  });
  await client.jobs.beginCreateAndWait(RG, name, importJobBody(SUB, RG, drives, 'Error'));
  return { staging, drives, files };
}

const ctx = () => ({ reporter: silentReporter, signal: new AbortController().signal, env: {} });
const container = () => containerClientFor({ account: 'devstoreaccount1', container: CONTAINER, emulator: emu.accounts[0]! });

test.before(async () => {
  emu = await startEmulator({ stepMs: 0 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
});

test.after(async () => {
  await emu?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('complete before the import finished: JOB_NOT_COMPLETED naming the state and what to do', async () => {
  const s = await setup('early', [[['config', 100]]]);
  const e = (await complete({ staging: s.staging }, ctx()).catch((x) => x)) as DriveseedError;
  assert.is(e.code, 'JOB_NOT_COMPLETED');
  assert.match(e.message, /is DeviceOrdered, not Completed: ship the drives first/);
  const r = (await repair({ staging: s.staging, full: false }, ctx()).catch((x) => x)) as DriveseedError;
  assert.is(r.code, 'JOB_NOT_COMPLETED');
});

test('complete: all good → seed complete; a deleted and a corrupted blob → VERIFY_FAILED naming both; repair re-uploads exactly those; complete succeeds', async () => {
  const big = 2 * MAX_BLOCK_LENGTH + 4567;
  const s = await setup('seed1', [
    [
      ['config', 300],
      ['data/aa/pack1', big],
      ['index/i1', 2000],
    ],
    [
      ['data/bb/pack2', MAX_BLOCK_LENGTH + 1],
      ['snapshots/s1', 0],
      ['data/cc/pack3', 5000],
    ],
  ]);
  await client.jobs.markDevicesShipped('seed1', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: 'T1' } });
  for (const d of s.drives) await deliverDrive({ emulator: emu, job: 'seed1', drive: d.dir, wait: true });

  // Damage: delete one blob; overwrite the middle block of another (same layout, other bytes).
  const c = container();
  await c.getBlobClient('data/cc/pack3').delete();
  const bb = c.getBlockBlobClient('data/aa/pack1');
  const ids = (await bb.getBlockList('committed')).committedBlocks!.map((k) => k.name);
  await bb.stageBlock(ids[1]!, randomBytes(MAX_BLOCK_LENGTH), MAX_BLOCK_LENGTH);
  await bb.commitBlockList(ids);

  const bad = await complete({ staging: s.staging }, ctx());
  assert.not.ok(bad.ok);
  assert.is(bad.blobs, 6);
  assert.equal(
    bad.problems.map((p) => [p.kind, p.blobPath, p.block?.offset ?? null]),
    [
      ['block', 'seed/data/aa/pack1', MAX_BLOCK_LENGTH],
      ['missing', 'seed/data/cc/pack3', null],
    ],
  );
  const blockProblem = bad.problems[0]!;
  assert.is(blockProblem.block!.expected, md5blocks(s.files.get('data/aa/pack1')!)[1]);
  assert.is.not(blockProblem.block!.actual, blockProblem.block!.expected);
  assert.is(blockProblem.driveId, 'SEED1-0');
  assert.match(bad.next, /driveseed repair/);
  assert.not.ok((readSettings(s.staging)!.seed as { state?: string }).state === 'complete');

  // The CLI: exit 4 with the list as the result.
  const cli = await spawnCli(['--json', 'complete', '--staging', s.staging], () => {});
  assert.is(cli.code, 4, cli.stderr);
  const last = JSON.parse(cli.stdout.trim().split('\n').at(-1)!);
  assert.is(last.type, 'result');
  assert.is(last.data.problems.length, 2);

  const r = await repair({ staging: s.staging, full: false }, ctx());
  assert.is(r.source, 'report');
  assert.ok(r.ok, JSON.stringify(r.problems));
  assert.equal(
    r.repaired.map((x) => [x.blobPath, x.mode, x.blocksSent, x.bytesSent]),
    [
      ['seed/data/aa/pack1', 'blocks', 1, MAX_BLOCK_LENGTH],
      ['seed/data/cc/pack3', 'blob', 1, 5000],
    ],
  );
  for (const p of ['data/aa/pack1', 'data/cc/pack3']) {
    const got = await c.getBlobClient(p).downloadToBuffer();
    assert.ok(got.equals(s.files.get(p)!), `${p} restored byte for byte`);
    const props = await c.getBlobClient(p).getProperties();
    assert.is(Buffer.from(props.contentMD5!).toString('hex'), createHash('md5').update(s.files.get(p)!).digest('hex'));
  }

  const good = await complete({ staging: s.staging }, ctx());
  assert.ok(good.ok, JSON.stringify(good.problems));
  assert.is(
    good.bytes,
    [...s.files.values()].reduce((a, b) => a + b.length, 0),
  );
  assert.ok(good.deletable!.some((d) => /\/data\/?$/.test(d)));
  const settings = readSettings(s.staging)!;
  const seed = settings.seed as Record<string, unknown>;
  assert.equal([seed.state, seed.container, seed.account, typeof seed.completed], ['complete', CONTAINER, 'devstoreaccount1', 'string']);
  assert.ok((seed.job as { name: string }).name === 'seed1', 'the job reference is kept');
  assert.is(settings.blobEndpoint, emu.accounts[0]!.blobEndpoint);
});

test('repair without a report verifies first; a staging file changed since prep is refused, not uploaded', async () => {
  const s = await setup('seed2', [
    [
      ['data/x/p', MAX_BLOCK_LENGTH + 10],
      ['data/y/q', 10],
    ],
  ]);
  await client.jobs.markDevicesShipped('seed2', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: 'T2' } });
  await deliverDrive({ emulator: emu, job: 'seed2', drive: s.drives[0]!.dir, wait: true });
  await container().getBlobClient('data/y/q').delete();
  const r = await repair({ staging: s.staging, full: false }, ctx());
  assert.is(r.source, 'verification');
  assert.equal(
    r.repaired.map((x) => x.blobPath),
    ['seed/data/y/q'],
  );
  assert.ok(r.ok);
  await container().getBlobClient('data/x/p').delete();
  fs.writeFileSync(path.join(s.staging, 'data/x/p'), randomBytes(MAX_BLOCK_LENGTH + 10));
  const e = (await repair({ staging: s.staging, full: true }, ctx()).catch((x) => x)) as DriveseedError;
  assert.is(e.code, 'REPAIR_SOURCE_MISMATCH');
  assert.match(e.message, /data\/x\/p block at offset 0/);
  assert.is(await container().getBlobClient('data/x/p').exists(), false);
});

test.run();
