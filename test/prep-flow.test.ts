import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentReporter } from '../src/base/reporter';
import { prep } from '../src/core/prep';
import type { DriveseedError } from '../src/base/errors';
import { firstPartitionPath, mountNtfs } from '../src/prep/format';
import { Journal } from '../src/prep/journal';
import { nativeIoUnavailable } from '../src/prep/native';
import { verifyDrive } from '../src/prep/verifier';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';

const MiB = 1024 * 1024;
const reason =
  loopUnavailable() ?? nativeIoUnavailable() ?? (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');
const ctx = () => ({ reporter: silentReporter, signal: new AbortController().signal, env: {} });

gated(test, 'format + write + verify on two NTFS loop disks, spanning; a tampered block is named by verify', reason, async () => {
  const staging = tmpDir();
  makeStaging(staging, [20 * MiB, 20 * MiB, 9 * MiB + 123, 30 * MiB]);
  const a = attachLoop(64 * MiB);
  const b = attachLoop(128 * MiB);
  try {
    const r = await prep({ staging, targets: [a.dev, b.dev], container: 'seed', format: true, yes: true, encryption: 'none', verify: true }, ctx());
    assert.is(r.drives.length, 2);
    assert.ok(r.drives[0]!.files > 0 && r.drives[1]!.files > 0, 'data spans both drives');
    assert.is(r.drives[0]!.files + r.drives[1]!.files, 7, 'config, index, its pack list and 4 packs');
    assert.ok(r.drives.every((d) => d.verified === true && /^DS[0-9A-F]{14}$/.test(d.driveId) && /^[0-9A-F]{32}$/.test(d.manifestHash)));
    assert.is(spawnSync('findmnt', ['-S', firstPartitionPath(a.dev)]).status, 1, 'no mount left behind');

    const m = mountNtfs(firstPartitionPath(b.dev));
    try {
      const good = await verifyDrive(m.dir);
      assert.ok(good.ok, JSON.stringify(good.problems));
      assert.is(good.driveId, r.drives[1]!.driveId);
      const manifest = fs.readFileSync(path.join(m.dir, 'DriveManifest.xml'), 'utf8');
      const pack = /<FilePath>\\(data\\[^<]+)<\/FilePath>/.exec(manifest)![1]!.split('\\').join('/');
      const fd = fs.openSync(path.join(m.dir, pack), 'r+');
      fs.writeSync(fd, Buffer.from('tampered'), 0, 8, 4 * MiB + 10);
      fs.closeSync(fd);
      const bad = await verifyDrive(m.dir);
      assert.not.ok(bad.ok);
      assert.is(bad.problems.length, 1);
      assert.is(bad.problems[0]!.block?.offset, 4 * MiB);
      assert.is(bad.problems[0]!.block?.blobPath, `seed/${pack}`);
    } finally {
      m.release();
    }
  } finally {
    a.detach();
    b.detach();
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

gated(test, 'write + verify into a mounted ext4 volume (no format)', loopUnavailable() ?? nativeIoUnavailable(), async () => {
  const staging = tmpDir();
  makeStaging(staging, [6 * MiB, 5 * MiB]);
  const d = attachLoop(64 * MiB);
  const mnt = tmpDir('driveseed-mnt-');
  let mounted = false;
  try {
    assert.is(spawnSync('mkfs.ext4', ['-q', '-F', d.dev]).status, 0);
    assert.is(spawnSync('mount', [d.dev, mnt]).status, 0);
    mounted = true;
    const e = await prep({ staging, targets: [mnt], container: 'seed', format: false, yes: false, verify: true }, ctx()).catch((x) => x);
    assert.is((e as DriveseedError).code, 'PREP_ENCRYPTION_REQUIRED');
    const r = await prep({ staging, targets: [mnt], container: 'seed', format: false, yes: false, encryption: 'none', verify: true }, ctx());
    assert.is(r.drives[0]!.files, 5);
    assert.ok((await verifyDrive(mnt)).ok);
    assert.ok(fs.existsSync(path.join(mnt, 'driveseed-drive-id')));
  } finally {
    if (mounted) spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    d.detach();
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

gated(test, 'kill -9 mid-prep, then resume: same manifest as an uninterrupted run', reason, async () => {
  const staging = tmpDir();
  makeStaging(
    staging,
    Array.from({ length: 12 }, () => 4 * MiB + 4096),
  );
  const d = attachLoop(128 * MiB);
  try {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'prep-support', 'prep-child.ts'), staging, d.dev], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise((r) => child.once('exit', r));
    // kill once the journal shows a few files done
    const journalFile = path.join(staging, '.prep', 'journal.jsonl');
    await new Promise<void>((resolve, reject) => {
      const iv = setInterval(() => {
        const n = fs.existsSync(journalFile) ? (fs.readFileSync(journalFile, 'utf8').match(/"fileDone"/g) ?? []).length : 0;
        if (n >= 3) {
          clearInterval(iv);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(iv);
        resolve();
      });
      setTimeout(() => reject(new Error(`child never progressed: ${err}`)), 120_000);
    });
    await exited;
    const st = Journal.open(staging).load();
    assert.not.ok(st.done, 'the child was killed before finishing');
    // the killed child's ntfs-3g mount is still there; resume must cope
    const r1 = await prep({ staging, targets: [d.dev], container: 'seed', format: true, yes: true, encryption: 'none', verify: true }, ctx());
    assert.ok(r1.resumed);
    assert.ok(r1.drives[0]!.verified);
    const st2 = Journal.open(staging).load();
    assert.ok(st2.done);
    // an uninterrupted run of the same plan with the same drive id writes the same manifest
    fs.rmSync(path.join(staging, '.prep'), { recursive: true });
    const driveId = r1.drives[0]!.driveId;
    const m = mountNtfs(firstPartitionPath(d.dev));
    const before = fs.readFileSync(path.join(m.dir, 'DriveManifest.xml'));
    m.release();
    const r2 = await prep({ staging, targets: [d.dev], container: 'seed', format: false, yes: false, encryption: 'none', verify: true }, ctx());
    assert.is(r2.drives[0]!.driveId, driveId, 'id file reused');
    assert.is(r2.drives[0]!.manifestHash, r1.drives[0]!.manifestHash);
    const m2 = mountNtfs(firstPartitionPath(d.dev));
    assert.ok(before.equals(fs.readFileSync(path.join(m2.dir, 'DriveManifest.xml'))));
    m2.release();
  } finally {
    spawnSync('umount', ['-l', firstPartitionPath(d.dev)]);
    d.detach();
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test.run();
