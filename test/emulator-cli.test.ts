// `driveseed emulator start` and `driveseed emulator deliver`, spawned from source: --json gives
// the emulator.ready event with the endpoints on stdout; deliver imports a drive directory and
// returns the documented exit codes for its refusals; SIGTERM stops the emulator and its Azurite.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { importJobBody } from './support/emulator-job';
import { containerClientFor, emulatorAccount } from '../src/azure/blob';
import { writeManifest } from '../src/azure/manifest';
import { DRIVE_ID_FILE } from '../src/emulator';
import { tmpDir } from './helpers';
import { cliEnv, MAIN, runCli } from './support/cli';
import { ROOT } from './support/rpc-client';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'cli-rg';
const work = tmpDir('driveseed-emu-cli-');

interface Started {
  child: ChildProcess;
  ready: { armEndpoint: string; blobEndpoint: string; accounts: Array<{ name: string; blobEndpoint: string }>; stateDir: string | null };
  stdout: () => string;
  closed: Promise<number | null>;
}

/** Spawns `driveseed --json emulator start --port 0` and waits for its emulator.ready line. */
function startCli(): Promise<Started> {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, '--json', 'emulator', 'start', '--port', '0'], {
    cwd: ROOT,
    env: cliEnv({ DRIVESEED_EMULATOR_STEP_MS: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no emulator.ready within 120 s; stderr: ${err}`)), 120_000);
    child.stderr!.setEncoding('utf8').on('data', (c: string) => void (err += c));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      for (const line of out.split('\n').slice(0, -1)) {
        const o = JSON.parse(line) as { type: string; event?: string; data?: Started['ready'] };
        if (o.type === 'event' && o.event === 'emulator.ready') {
          clearTimeout(timer);
          resolve({ child, ready: o.data!, stdout: () => out, closed });
        }
      }
    });
    closed.then((code) => {
      clearTimeout(timer);
      reject(new Error(`emulator start exited ${code} before it was ready: ${err}`));
    });
  });
}

/** Children of `pid` whose command line mentions azurite (the emulator's Azurite). */
function azuriteChildren(pid: number): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('azurite')) out.push(Number(n));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Running azurite processes whose environment holds `entry`. */
function azuriteWith(entry: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => {
      if (!/^\d+$/.test(n)) return false;
      try {
        return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes('azurite') && fs.readFileSync(`/proc/${n}/environ`, 'utf8').split('\0').includes(entry);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function connects(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A drive directory: one file, the manifest over it, the id file. */
async function buildDrive(name: string, driveId: string): Promise<{ dir: string; manifestHash: string; bytes: Buffer }> {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const bytes = randomBytes(5 * 1024 * 1024 + 3);
  fs.writeFileSync(path.join(dir, 'data', 'f.pack'), bytes);
  const blocks = [0, 4 * 1024 * 1024].map((offset) => {
    const length = Math.min(4 * 1024 * 1024, bytes.length - offset);
    return {
      offset,
      length,
      hash: createHash('md5')
        .update(bytes.subarray(offset, offset + length))
        .digest('hex')
        .toUpperCase(),
    };
  });
  const r = await writeManifest(path.join(dir, 'DriveManifest.xml'), {
    driveId,
    blobLists: [{ blobs: [{ blobPath: `c-${name}/data/f.pack`, filePath: '\\data\\f.pack', length: bytes.length, blocks }] }],
  });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), driveId);
  return { dir, manifestHash: r.manifestHash, bytes };
}

/** The last --json line of a finished command. */
function last(stdout: string): { type: string; code?: string; exitCode?: number; data?: Record<string, unknown>; message?: string } {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

test('emulator start --json: ready event with endpoints; deliver succeeds and refuses with the documented exit codes; SIGTERM leaves no Azurite', async () => {
  const s = await startCli();
  let azurite: number[] = [];
  try {
    const { armEndpoint, blobEndpoint, accounts } = s.ready;
    assert.match(armEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(blobEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(accounts, [{ name: 'devstoreaccount1', blobEndpoint: `${blobEndpoint}/devstoreaccount1` }]);
    assert.is(s.ready.stateDir, null);
    assert.not.match(s.stdout(), /Eby8vdM02x/, 'the account key is never printed');
    azurite = azuriteChildren(s.child.pid!);
    assert.is(azurite.length, 1, 'one Azurite child');

    const client = createDataBoxClient({ subscriptionId: SUB, emulator: armEndpoint });
    const d = await buildDrive('one', 'CLI-1');
    await client.jobs.beginCreateAndWait(RG, 'clijob', importJobBody(SUB, RG, [{ driveId: 'CLI-1', manifestHash: d.manifestHash }]));
    const deliver = (args: string[]) => runCli(['--json', 'emulator', 'deliver', '--emulator', armEndpoint, ...args]);

    // Refusals, before the disks are marked shipped: exit 6 (the emulator refused), 2 (usage), 6 (unreachable).
    let r = deliver(['--job', 'clijob', '--drive', d.dir]);
    assert.is(r.code, 6, r.stdout + r.stderr);
    assert.equal([last(r.stdout).code, last(r.stdout).exitCode], ['EMULATOR_INVALID_JOB_STATE', 6]);
    r = deliver(['--job', 'nosuchjob', '--drive', d.dir]);
    assert.is(r.code, 6);
    assert.is(last(r.stdout).code, 'EMULATOR_RESOURCE_NOT_FOUND');
    r = runCli(['--json', 'emulator', 'deliver', '--job', 'clijob', '--drive', d.dir, '--emulator', 'ftp://x']);
    assert.is(r.code, 2);
    assert.is(last(r.stdout).code, 'EMULATOR_URL_INVALID');
    r = runCli(['--json', 'emulator', 'deliver', '--job', 'clijob', '--drive', d.dir], { DRIVESEED_EMULATOR: 'http://127.0.0.1:1' });
    assert.is(r.code, 6);
    assert.is(last(r.stdout).code, 'EMULATOR_UNREACHABLE');

    await client.jobs.markDevicesShipped('clijob', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: 'T-cli' } });
    r = deliver(['--job', 'clijob', '--drive', path.join(work, 'missing')]);
    assert.is(r.code, 2, r.stdout);
    assert.is(last(r.stdout).code, 'EMULATOR_DRIVE_NOT_FOUND');
    const stranger = await buildDrive('stranger', 'NOT-IN-JOB');
    r = deliver(['--job', 'clijob', '--drive', stranger.dir]);
    assert.is(r.code, 6);
    assert.is(last(r.stdout).code, 'EMULATOR_DRIVE_NOT_IN_JOB');

    // Success, with --wait: the disk's copy status and the job's status as the result.
    r = deliver(['--job', 'clijob', '--drive', d.dir, '--wait']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const res = last(r.stdout);
    assert.is(res.type, 'result');
    assert.equal([res.data!.copyStatus, res.data!.status, res.data!.logStatus], ['Completed', 'Completed', 'Completed']);
    const account = await emulatorAccount(armEndpoint, 'devstoreaccount1');
    const got = await containerClientFor({ account: 'devstoreaccount1', container: 'c-one', emulator: account })
      .getBlobClient('data/f.pack')
      .downloadToBuffer();
    assert.ok(got.equals(d.bytes));
    // Delivered twice: the job is Completed now.
    r = deliver(['--job', 'clijob', '--drive', d.dir]);
    assert.is(r.code, 6);
    assert.is(last(r.stdout).code, 'EMULATOR_INVALID_JOB_STATE');

    // Text mode: the result is one readable line on stdout.
    r = runCli(['emulator', 'deliver', '--emulator', armEndpoint, '--job', 'nosuchjob', '--drive', d.dir]);
    assert.is(r.code, 6);
    assert.match(r.stderr, /No import job named 'nosuchjob'/);

    s.child.kill('SIGTERM');
    const code = await s.closed;
    assert.is(code, 0);
    const end = last(s.stdout());
    assert.equal([end.type, end.data!.stopped], ['result', true]);
    for (let i = 0; i < 100 && azurite.some(alive); i++) await new Promise((res2) => setTimeout(res2, 50));
    assert.equal(azurite.filter(alive), [], 'Azurite outlived the emulator');
    assert.is(await connects(blobEndpoint), false, 'the blob port still answers');
    assert.is(await connects(armEndpoint), false, 'the ARM port still answers');
  } finally {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await s.closed;
    }
    for (const pid of azurite.filter(alive)) process.kill(pid, 'SIGKILL');
  }
});

test('emulator start: a taken --port is EMULATOR_LISTEN_FAILED (exit 1) and leaves no Azurite behind', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const mark = randomBytes(8).toString('hex');
    const r = runCli(['--json', 'emulator', 'start', '--port', String(port)], { DRIVESEED_TEST_MARK: mark });
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.is(last(r.stdout).code, 'EMULATOR_LISTEN_FAILED');
    assert.match(last(r.stdout).message!, new RegExp(`127\\.0\\.0\\.1:${port}`));
    // runCli waited for the process; an Azurite it left would still run, with our mark in its environment.
    assert.equal(azuriteWith(`DRIVESEED_TEST_MARK=${mark}`), []);
  } finally {
    server.close();
  }
});

test('emulator start: --port out of range is a usage error naming the flag', () => {
  const r = runCli(['--json', 'emulator', 'start', '--port', '70000']);
  assert.is(r.code, 2);
  assert.is(last(r.stdout).code, 'PORT_INVALID');
  assert.match(last(r.stdout).message!, /Expected a TCP port from 0 to 65535 for --port but received 70000/);
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));

test.run();
