// Network faults while `driveseed complete` reads the imported blobs back, injected by a proxy in
// front of the emulator's Azurite (test/support/fault-proxy.ts). The import is set up as in
// test/complete.test.ts (a finished prep journal, drive directories with their manifests, a job the
// emulator's datacenter copies); a second proxy in front of the emulator's ARM endpoint rewrites its
// account info so that complete reads the blobs through the fault proxy. A fault the retries absorb
// must not show up as a damaged or missing blob; one they do not is a CLOUD_IO error that says what
// to do, and a rerun without faults completes the seed.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { MAX_BLOCK_LENGTH, writeManifest } from '../src/azure/manifest';
import type { DriveseedError } from '../src/base/errors';
import { silentReporter } from '../src/base/reporter';
import { complete } from '../src/core/complete';
import { readSettings, writeSettings } from '../src/core/settings';
import { DRIVE_ID_FILE, type RunningEmulator, deliverDrive, startEmulator } from '../src/emulator';
import { Journal } from '../src/prep/journal';
import { tmpDir } from './helpers';
import { cliEnv, MAIN } from './support/cli';
import { importJobBody } from './support/emulator-job';
import { FaultProxy, type FaultRule } from './support/fault-proxy';
import { ROOT } from './support/rpc-client';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const work = tmpDir('driveseed-netfault-complete-');
let emu: RunningEmulator;
let client: DataBoxManagementClient;
/** in front of the emulator's Azurite: the faults */
let blobs: FaultProxy;
/** in front of the emulator's ARM endpoint: sends complete to `blobs` for the account's blobs */
let arm: FaultProxy;

/** a ranged read of an imported blob (each test imports into its own container, named after its job) */
const GET_BLOB = { method: 'GET', path: /^\/devstoreaccount1\/[a-z]+\/./ };

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

/** A finished prep of one drive holding `layout`, its job created, shipped and imported; returns the staging location. */
async function imported(name: string, layout: Array<[string, number]>): Promise<string> {
  const staging = path.join(work, name, 'staging');
  const dir = path.join(work, name, 'drive0');
  fs.mkdirSync(staging, { recursive: true });
  const journal = Journal.open(staging);
  const plan = {
    drives: [
      { target: '/dev/fake0', files: layout.map(([p, size]) => ({ path: p, size })), bytes: 0, allocated: 0, manifestEstimate: 0, freeBytes: 0, spaceLeft: 0 },
    ],
    totalBytes: 0,
    fileCount: layout.length,
  };
  journal.append({ t: 'plan', v: 1, at: new Date().toISOString(), plan, fingerprint: 'x' });
  const driveId = `${name.toUpperCase()}-0`;
  journal.append({ t: 'drive', drive: 0, target: '/dev/fake0', driveId, formatted: true, serial: null });
  const list = [];
  for (const [p, size] of layout) {
    const bytes = randomBytes(size);
    for (const root of [staging, dir]) {
      fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      fs.writeFileSync(path.join(root, p), bytes);
    }
    const blocks = md5blocks(bytes);
    journal.append({ t: 'fileDone', drive: 0, path: p, size, blocks });
    list.push({
      blobPath: `${name}/${p}`,
      filePath: `\\${p.split('/').join('\\')}`,
      length: size,
      blocks: blocks.map((hash, k) => ({ offset: k * MAX_BLOCK_LENGTH, length: Math.min(MAX_BLOCK_LENGTH, size - k * MAX_BLOCK_LENGTH), hash })),
    });
  }
  const m = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs: list }] });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
  journal.append({ t: 'manifest', drive: 0, manifestHash: m.manifestHash, bytes: 0 });
  journal.append({ t: 'done', at: new Date().toISOString() });
  journal.close();
  writeSettings(staging, {
    version: 1,
    staging,
    job: name,
    account: 'devstoreaccount1',
    container: name,
    seed: {
      job: {
        name,
        subscription: SUB,
        resourceGroup: RG,
        location: 'westus',
        account: 'devstoreaccount1',
        createdAt: new Date().toISOString(),
        state: 'DeviceOrdered',
        emulator: arm.url(),
      },
    },
  });
  await client.jobs.beginCreateAndWait(RG, name, importJobBody(SUB, RG, [{ driveId, manifestHash: m.manifestHash }], 'Error'));
  await client.jobs.markDevicesShipped(name, RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: `T-${name}` } });
  await deliverDrive({ emulator: emu, job: name, drive: dir, wait: true });
  return staging;
}

const LAYOUT: Array<[string, number]> = [
  ['config', 300],
  ['data/aa/pack1', 2 * MAX_BLOCK_LENGTH + 4567],
  ['data/bb/pack2', MAX_BLOCK_LENGTH + 1],
  ['index/i1', 2000],
];
const TOTAL = LAYOUT.reduce((a, [, s]) => a + s, 0);
const ctx = () => ({ reporter: silentReporter, signal: new AbortController().signal, env: {} });

test.before(async () => {
  emu = await startEmulator({ stepMs: 0 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  blobs = await FaultProxy.start(emu.blobEndpoint);
  arm = await FaultProxy.start(emu.armEndpoint);
  arm.arm({
    name: 'blob endpoint → fault proxy',
    method: 'GET',
    path: '/_emulator/info',
    times: Number.POSITIVE_INFINITY,
    fault: { kind: 'rewrite', body: (b) => Buffer.from(b.toString('utf8').split(emu.blobEndpoint).join(blobs.url())) },
  });
});

test.after(async () => {
  await blobs?.stop();
  await arm?.stop();
  await emu?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test.after.each(() => blobs.reset());

async function completesDespite(name: string, rules: FaultRule[]): Promise<void> {
  const staging = await imported(name, LAYOUT);
  blobs.arm(...rules);
  const r = await complete({ staging }, ctx());
  for (const rule of rules) blobs.expectFired(rule);
  assert.equal(r.problems, [], 'a network fault is not a damaged or missing blob');
  assert.ok(r.ok);
  assert.is(r.bytes, TOTAL, 'every byte was read and checked');
  assert.is((readSettings(staging)!.seed as { state?: string }).state, 'complete');
}

test('connections reset halfway through a ranged read and before another: complete verifies every blob, reports no problem', () =>
  completesDespite('resets', [
    { name: 'reset mid-body of read 2', ...GET_BLOB, nth: 2, fault: { kind: 'drop', when: 'mid-response' } },
    { name: 'reset before read 4', ...GET_BLOB, nth: 4, fault: { kind: 'drop', when: 'before' } },
  ]));

test('503 ServerBusy on a ranged read and 500 on the listing: retried, every blob verified', () =>
  completesDespite('busy', [
    { name: '503 on read 1', ...GET_BLOB, nth: 1, fault: { kind: 'status', status: 503, code: 'ServerBusy' } },
    { name: '500 on the listing', method: 'GET', query: 'comp=list', nth: 1, fault: { kind: 'status', status: 500, code: 'InternalError' } },
  ]));

test('slow reads (throttled to 4 MiB/s, one stalled 1.5 s mid-body): every blob verified', () =>
  completesDespite('slow', [
    { name: 'stall read 1', ...GET_BLOB, nth: 1, fault: { kind: 'stall', ms: 1500, at: 'mid-body' } },
    { name: 'throttle the rest', ...GET_BLOB, nth: 2, times: Number.POSITIVE_INFINITY, fault: { kind: 'throttle', bytesPerSecond: 4 * 1024 * 1024 } },
  ]));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, ...args], { cwd: ROOT, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('503 on every read of one blob (beyond the retries), through the CLI: exit 6, CLOUD_IO naming the blob and the fix, no stack, no key, seed not complete; a rerun completes', async () => {
  const staging = await imported('down', LAYOUT);
  const rule = blobs.arm({
    name: '503 on every read of pack1',
    method: 'GET',
    path: '/down/data/aa/pack1',
    times: Number.POSITIVE_INFINITY,
    fault: { kind: 'status', status: 503, code: 'ServerBusy' },
  })[0]!;
  const out = await cli(['complete', '--staging', staging]);
  assert.is(out.code, 6, out.stderr + out.stdout);
  blobs.expectFired(rule, 2);
  assert.match(out.stderr, /\[CLOUD_IO\]/);
  assert.match(out.stderr, /down\/data\/aa\/pack1/);
  assert.match(out.stderr, /run the command again/, 'says what to do');
  assert.not.match(out.stdout + out.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.not.ok((out.stdout + out.stderr).includes(emu.accounts[0]!.key.reveal()), 'the account key reached the output');
  assert.not.ok((readSettings(staging)!.seed as { state?: string }).state === 'complete');
  const e = (await complete({ staging }, ctx()).catch((x: unknown) => x)) as DriveseedError;
  assert.is(e.code, 'CLOUD_IO');
  assert.is(e.category, 'AZURE');
  blobs.disarm();
  const ok = await cli(['--json', 'complete', '--staging', staging]);
  assert.is(ok.code, 0, ok.stderr + ok.stdout);
  assert.is((readSettings(staging)!.seed as { state?: string }).state, 'complete');
});

test.run();
