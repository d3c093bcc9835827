// The whole seed through the CLI, on two NTFS loop disks, against the emulator: stage → prep
// --no-job → job create → ship → deliver (a tampered file on one drive) while `status --watch`
// follows every state → complete names what is missing or damaged (the tampered blob, plus a blob
// deleted and a block corrupted in the storage account) → repair → complete → restore from the
// cloud equals the source. The emulator runs in this process with a slow step
// (DRIVESEED_EMULATOR_STEP_MS semantics through stepMs), so every CLI call is spawned
// asynchronously (a synchronous spawn would stall the emulator it talks to).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { containerClientFor } from '../src/azure/blob';
import { readSettings } from '../src/core/settings';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { firstPartitionPath, mountNtfs } from '../src/prep/format';
import { nativeIoUnavailable } from '../src/prep/native';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { cliEnv, MAIN } from './support/cli';
import { ROOT } from './support/rpc-client';

const MiB = 1024 * 1024;
const reason =
  loopUnavailable() ?? nativeIoUnavailable() ?? (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

interface Line {
  type: string;
  event?: string;
  data?: any;
  code?: string;
  message?: string;
}

/** `driveseed --json …` from source, asynchronously; onLine sees each parsed stdout line. */
function cli(
  args: string[],
  env: Record<string, string>,
  onLine?: (l: Line) => void,
): Promise<{ code: number | null; lines: Line[]; last: Line; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, '--json', ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = JSON.parse(buf.slice(0, nl)) as Line;
      buf = buf.slice(nl + 1);
      lines.push(l);
      onLine?.(l);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, lines, last: lines.at(-1)!, stderr })));
}

const ok = (r: { code: number | null; last: Line; stderr: string }, what: string) =>
  assert.is(r.code, 0, `${what}: ${JSON.stringify(r.last)} ${r.stderr.slice(-500)}`);

gated(
  test,
  'the whole flow on loop disks through the CLI: status in every state, a tampered drive, complete → repair → complete, restore from the cloud',
  reason,
  async () => {
    const work = tmpDir('driveseed-flow-');
    const a = attachLoop(48 * MiB);
    const b = attachLoop(64 * MiB);
    let emu: RunningEmulator | undefined;
    try {
      emu = await startEmulator({ stepMs: 250, stateDir: path.join(work, 'emu') });
      const source = path.join(work, 'src');
      fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(source, 'big.bin'), randomBytes(9 * MiB + 123));
      fs.writeFileSync(path.join(source, 'sub', 'notes.txt'), 'hello seed\n'.repeat(5000));
      fs.writeFileSync(path.join(source, 'more.bin'), randomBytes(6 * MiB));
      const pass = path.join(work, 'pass');
      fs.writeFileSync(pass, 'flow test passphrase\n', { mode: 0o600 });
      const env = { DRIVESEED_HOME: path.join(work, 'home') };
      const staging = path.join(work, 'staging');

      ok(
        await cli(
          [
            'stage',
            source,
            '--staging',
            staging,
            '--job',
            'flow1',
            '--account',
            'devstoreaccount1',
            '--container',
            'seed',
            '--subscription',
            '00000000-0000-0000-0000-0000000000f1',
            '--resource-group',
            'flow-rg',
            '--location',
            'westus',
            '--passphrase-file',
            pass,
          ],
          env,
        ),
        'stage',
      );
      const prep = await cli(['prep', '--staging', staging, '--target', a.dev, b.dev, '--format', '--yes', '--encryption', 'none', '--no-job'], env);
      ok(prep, 'prep');
      const drives = prep.last.data.drives as Array<{ target: string; driveId: string; files: number }>;
      assert.is(drives.length, 2);

      // status before a job exists: a usage error that says what to run
      const early = await cli(['status', '--staging', staging], env);
      assert.is(early.code, 2);
      assert.is(early.last.code, 'JOB_NOT_CREATED');

      const ret = path.join(work, 'return.json');
      fs.writeFileSync(
        ret,
        JSON.stringify({
          returnAddress: {
            recipientName: 'Ops',
            streetAddress1: '1 Main St',
            city: 'Springfield',
            postalCode: '12345',
            countryOrRegion: 'US',
            phone: '5550100',
            email: 'ops@example.com',
          },
          returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123' },
        }),
      );
      ok(await cli(['job', 'create', '--staging', staging, '--return-address', ret, '--emulator', emu.armEndpoint], env), 'job create');
      let st = await cli(['status', '--staging', staging], env);
      ok(st, 'status');
      assert.is(st.last.data.job.status, 'DeviceOrdered');
      assert.equal(
        st.last.data.job.disks.map((d: any) => d.copyStatus),
        ['NotStarted', 'NotStarted'],
      );

      // complete before the import: refused with the state and the next step
      const tooEarly = await cli(['complete', '--staging', staging], env);
      assert.is(tooEarly.code, 2);
      assert.is(tooEarly.last.code, 'JOB_NOT_COMPLETED');
      assert.match(tooEarly.last.message!, /is DeviceOrdered/);

      ok(await cli(['ship', '--staging', staging, '--carrier', 'FedEx', '--tracking', '770011223344', '--yes'], env), 'ship');
      st = await cli(['status', '--staging', staging], env);
      assert.is(st.last.data.job.status, 'ShippedToAzureDC');

      // Tamper with a pack on the drive that holds the largest one (after prep verified it).
      const packDrive = drives.reduce((x, y) => (y.files > 0 && (x.files === 0 || y.files < x.files) ? y : x));
      const dev = packDrive.target;
      const m = mountNtfs(firstPartitionPath(dev));
      let tamperedBlob: string;
      try {
        const manifest = fs.readFileSync(path.join(m.dir, 'DriveManifest.xml'), 'utf8');
        const packs = [...manifest.matchAll(/<BlobPath>(seed\/data\/[^<]+)<\/BlobPath>\s*<FilePath>\\([^<]+)<\/FilePath>\s*<Length>(\d+)<\/Length>/g)];
        const biggest = packs.sort((x, y) => Number(y[3]) - Number(x[3]))[0]!;
        tamperedBlob = biggest[1]!;
        const fd = fs.openSync(path.join(m.dir, biggest[2]!.split('\\').join('/')), 'r+');
        fs.writeSync(fd, Buffer.from('tampered!'), 0, 9, Math.min(Number(biggest[3]) - 9, MiB + 17));
        fs.closeSync(fd);
      } finally {
        m.release();
      }

      // Watch while the drives are delivered (async: deliver returns once the disk is received).
      let delivering: Promise<unknown> | undefined;
      const watch = await cli(['status', '--staging', staging, '--watch', '--interval', '0.1'], env, (l) => {
        if (!delivering && l.event === 'job.state' && l.data.state === 'ShippedToAzureDC') {
          delivering = (async () => {
            for (const d of [a.dev, b.dev])
              ok(await cli(['emulator', 'deliver', '--job', 'flow1', '--drive', d, '--emulator', emu!.armEndpoint], env), `deliver ${d}`);
          })();
        }
      });
      await delivering;
      ok(watch, 'status --watch');
      const jobStates = watch.lines.filter((l) => l.event === 'job.state').map((l) => l.data.state);
      assert.equal(jobStates[0], 'ShippedToAzureDC');
      assert.equal(jobStates.at(-1), 'CompletedWithErrors');
      assert.ok(jobStates.includes('DataCopy'), jobStates.join(' → '));
      const tamperedId = packDrive.driveId;
      const driveStates = (id: string) => watch.lines.filter((l) => l.event === 'drive.state' && l.data.driveId === id).map((l) => l.data.state);
      assert.equal(driveStates(tamperedId)[0], 'NotStarted');
      assert.equal(driveStates(tamperedId).at(-1), 'CompletedWithErrors');
      const other = drives.find((d) => d.driveId !== tamperedId)!.driveId;
      assert.equal(driveStates(other).at(-1), 'Completed');
      const res = watch.last.data;
      assert.is(res.watch, 'terminal');
      assert.is(res.failures.length, 1);
      assert.is(res.failures[0].driveId, tamperedId);
      assert.equal(
        res.failures[0].blobs.map((x: any) => [x.blobPath, x.status]),
        [[tamperedBlob!, 'UploadErrorDataValidationError']],
      );
      assert.match(res.failures[0].blobs[0].reason, /block at offset 0 /);
      assert.match(res.next, /driveseed repair/);

      // Damage in the storage account too: delete one more blob, corrupt a block of another.
      const c = containerClientFor({ account: 'devstoreaccount1', container: 'seed', emulator: emu.accounts[0]! });
      const names: string[] = [];
      for await (const x of c.listBlobsFlat()) names.push(x.name);
      const deleted = names.find((n) => n.startsWith('snapshots/'))!;
      await c.getBlobClient(deleted).delete();
      const corrupt = names.find((n) => n.startsWith('data/') && `seed/${n}` !== tamperedBlob)!;
      const bb = c.getBlockBlobClient(corrupt);
      const committed = (await bb.getBlockList('committed')).committedBlocks!;
      await bb.stageBlock(committed[0]!.name, randomBytes(committed[0]!.size), committed[0]!.size);
      await bb.commitBlockList(committed.map((k) => k.name));

      const bad = await cli(['complete', '--staging', staging], env);
      assert.is(bad.code, 4, bad.stderr);
      assert.equal(
        bad.last.data.problems.map((p: any) => [p.kind, p.blobPath, p.block?.offset ?? null]).sort(),
        [
          ['block', `seed/${corrupt}`, 0],
          ['missing', `seed/${deleted}`, null],
          ['missing', tamperedBlob!, null],
        ].sort(),
      );
      assert.not.equal((readSettings(staging)!.seed as any).state, 'complete');

      const rep = await cli(['repair', '--staging', staging], env);
      ok(rep, 'repair');
      assert.equal(
        rep.last.data.repaired.map((x: any) => [x.blobPath, x.mode]).sort(),
        [
          [`seed/${corrupt}`, 'blocks'],
          [`seed/${deleted}`, 'blob'],
          [tamperedBlob!, 'blob'],
        ].sort(),
      );
      assert.equal(rep.last.data.problems, []);

      const good = await cli(['complete', '--staging', staging], env);
      ok(good, 'complete');
      assert.ok(good.lines.some((l) => l.type === 'warning' && l.code === 'JOB_CLOSED'));
      assert.is((readSettings(staging)!.seed as any).state, 'complete');

      const to = path.join(work, 'restore');
      ok(await cli(['restore', '--staging', staging, '--from-cloud', '--to', to, '--passphrase-file', pass], env), 'restore --from-cloud');
      for (const f of ['big.bin', 'more.bin', 'sub/notes.txt']) {
        const h = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        assert.is(h(path.join(to, 'src', f)), h(path.join(source, f)), `${f} restored identical`);
      }
    } finally {
      await emu?.stop();
      for (const d of [a, b]) {
        // prep and the emulator unmount what they mount; a failed assertion mid-way may not have
        fs.existsSync(firstPartitionPath(d.dev)) && require('node:child_process').spawnSync('umount', [firstPartitionPath(d.dev)], { stdio: 'ignore' });
        d.detach();
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
);

test.run();
