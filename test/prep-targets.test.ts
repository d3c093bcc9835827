import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import { claimTarget } from '../src/prep/native';
import { parseMountInfo, SysBlock } from '../src/prep/sysfs';
import { classifyTarget, classifyTargets, confirmFormat, parseWindowsTarget, readSystemView, type SystemView } from '../src/prep/targets';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';

function refusal(fn: () => unknown): DriveseedError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DriveseedError);
    assert.is((err as DriveseedError).category, 'TARGET_REFUSED');
    return err as DriveseedError;
  }
  throw new Error('expected a refusal');
}
async function refusalAsync(fn: () => Promise<unknown>): Promise<DriveseedError> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, DriveseedError);
    return err as DriveseedError;
  }
  throw new Error('expected a refusal');
}

test('TARGET_NOT_FOUND for a missing path, and Windows syntax on Linux says so', () => {
  const e = refusal(() => classifyTarget('/nonexistent/driveseed-disk', readSystemView(), 'linux'));
  assert.is(e.code, 'TARGET_NOT_FOUND');
  const w = refusal(() => classifyTarget('E:', readSystemView(), 'linux'));
  assert.is(w.code, 'TARGET_NOT_FOUND');
  assert.match(w.message, /Windows target syntax/);
});

test('Windows target syntax is classified', () => {
  assert.equal(parseWindowsTarget('e:'), { kind: 'windowsVolume', input: 'e:', letter: 'E', path: 'E:', identity: 'winvol:E' });
  assert.is(parseWindowsTarget('F')?.kind, 'windowsVolume');
  assert.is(parseWindowsTarget('G:\\')?.path, 'G:');
  const d = parseWindowsTarget('\\\\.\\PhysicalDrive2');
  assert.is(d?.kind, 'windowsDisk');
  assert.is(d?.kind === 'windowsDisk' && d.number, 2);
  assert.is(parseWindowsTarget('/dev/sdb'), undefined);
  assert.is(parseWindowsTarget('EF:'), undefined);
  const e = refusal(() => classifyTarget('/dev/sdb', readSystemView(), 'win32'));
  assert.is(e.code, 'TARGET_NOT_FOUND');
  assert.equal(
    classifyTargets(['E:', '\\\\.\\PhysicalDrive3'], readSystemView(), 'win32').map((t) => t.path),
    ['E:', '\\\\.\\PhysicalDrive3'],
  );
  assert.is(refusal(() => classifyTargets(['E:', 'e'], readSystemView(), 'win32')).code, 'TARGET_DUPLICATE');
});

test('TARGET_SYSTEM_DISK for the root volume', () => {
  const e = refusal(() => classifyTarget('/', readSystemView(), 'linux'));
  assert.is(e.code, 'TARGET_SYSTEM_DISK');
});

test('TARGET_NOT_VOLUME for a plain directory', () => {
  const d = tmpDir();
  const e = refusal(() => classifyTarget(d, readSystemView(), 'linux'));
  assert.is(e.code, 'TARGET_NOT_VOLUME');
  assert.match(e.message, /mount point/);
  fs.rmSync(d, { recursive: true });
});

// mountinfo lines that put /, swap or a FUSE mount on the loop device under test; sysfs lookups are real.
gated(test, 'TARGET_SYSTEM_DISK (/, swap) and TARGET_MOUNTED (FUSE) from recorded mountinfo', loopUnavailable(), () => {
  const loop = attachLoop(64 * 1024 * 1024);
  try {
    const st = fs.statSync(loop.dev);
    const sys = new SysBlock();
    const node = sys.nodeOfPath(loop.dev)!;
    const view = (line: string): SystemView => ({ mounts: parseMountInfo(line), swaps: [], sys });
    const rootOn = view(`25 1 ${node.majMin} / / rw,relatime shared:1 - ext4 ${loop.dev} rw\n`);
    assert.is(refusal(() => classifyTarget(loop.dev, rootOn, 'linux')).code, 'TARGET_SYSTEM_DISK');
    const swapOn: SystemView = { mounts: [], swaps: [loop.dev], sys };
    assert.is(refusal(() => classifyTarget(loop.dev, swapOn, 'linux')).code, 'TARGET_SYSTEM_DISK');
    const fuse = view(`90 25 0:77 / /mnt/x rw,relatime - fuseblk ${loop.dev} rw\n`);
    const m = refusal(() => classifyTarget(loop.dev, fuse, 'linux'));
    assert.is(m.code, 'TARGET_MOUNTED');
    assert.equal(m.details?.mountPoints, ['/mnt/x']);
    assert.ok(st.isBlockDevice());
  } finally {
    loop.detach();
  }
});

gated(
  test,
  'TARGET_MOUNTED for a disk with a mounted ext4 volume; the volume itself is accepted',
  loopUnavailable() ?? (hasTool('mkfs.ext4') ? undefined : 'needs mkfs.ext4'),
  () => {
    const loop = attachLoop(64 * 1024 * 1024);
    const mnt = tmpDir('driveseed-mnt-');
    let mounted = false;
    try {
      assert.is(spawnSync('mkfs.ext4', ['-q', '-F', loop.dev]).status, 0);
      assert.is(spawnSync('mount', [loop.dev, mnt]).status, 0);
      mounted = true;
      const e = refusal(() => classifyTarget(loop.dev));
      assert.is(e.code, 'TARGET_MOUNTED');
      assert.match(e.message, new RegExp(mnt));
      const v = classifyTarget(mnt);
      assert.is(v.kind, 'volume');
      assert.is(v.kind === 'volume' && v.fsType, 'ext4');
      assert.is(refusal(() => classifyTargets([mnt, `${mnt}/`])).code, 'TARGET_DUPLICATE');
    } finally {
      if (mounted) spawnSync('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
      loop.detach();
    }
  },
);

gated(test, 'TARGET_DUPLICATE for one device under two names', loopUnavailable(), () => {
  const loop = attachLoop(64 * 1024 * 1024);
  const d = tmpDir();
  try {
    const link = path.join(d, 'by-id-link');
    fs.symlinkSync(loop.dev, link);
    const e = refusal(() => classifyTargets([loop.dev, link]));
    assert.is(e.code, 'TARGET_DUPLICATE');
    assert.is(refusal(() => classifyTargets([loop.dev, loop.dev])).code, 'TARGET_DUPLICATE');
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
    loop.detach();
  }
});

gated(test, 'TARGET_TOO_SMALL and TARGET_READ_ONLY', loopUnavailable(), () => {
  const small = attachLoop(8 * 1024 * 1024);
  try {
    assert.is(refusal(() => classifyTarget(small.dev)).code, 'TARGET_TOO_SMALL');
  } finally {
    small.detach();
  }
  const dir = tmpDir('driveseed-loop-');
  const img = path.join(dir, 'ro.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 64 * 1024 * 1024);
  const r = spawnSync('losetup', ['-f', '--show', '-r', img], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const dev = r.stdout.trim();
  try {
    assert.is(refusal(() => classifyTarget(dev)).code, 'TARGET_READ_ONLY');
  } finally {
    spawnSync('losetup', ['-d', dev]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

gated(test, 'TARGET_NOT_VOLUME for a partition', loopUnavailable() ?? (hasTool('sgdisk') ? undefined : 'needs sgdisk'), () => {
  const loop = attachLoop(64 * 1024 * 1024);
  try {
    assert.is(spawnSync('sgdisk', ['-n', '1:0:0', loop.dev]).status, 0);
    spawnSync('partx', ['-u', loop.dev]);
    const p1 = `${loop.dev}p1`;
    if (!fs.existsSync(p1)) spawnSync('partx', ['-a', loop.dev]);
    const e = refusal(() => classifyTarget(p1));
    assert.is(e.code, 'TARGET_NOT_VOLUME');
    assert.match(e.message, new RegExp(`whole disk ${loop.dev}`));
  } finally {
    loop.detach();
  }
});

gated(test, 'TARGET_BUSY while another holder has the disk', loopUnavailable(), () => {
  const loop = attachLoop(64 * 1024 * 1024);
  try {
    const t = classifyTarget(loop.dev);
    const lock = claimTarget(t);
    try {
      const e = refusal(() => claimTarget(t));
      assert.is(e.code, 'TARGET_BUSY');
    } finally {
      lock.release();
    }
    claimTarget(t).release();
  } finally {
    loop.detach();
  }
});

test('TARGET_NOT_CONFIRMED: --yes needs the exact name; interactive needs the typed name', async () => {
  const disk = {
    kind: 'disk' as const,
    input: '/dev/disk/by-id/usb-X',
    path: '/dev/sdz',
    identity: 'dev:8:200',
    name: 'sdz',
    sizeBytes: 1e9,
    readOnly: false,
    partitions: [],
  };
  let e = await refusalAsync(() => confirmFormat([disk], { yes: true }));
  assert.is(e.code, 'TARGET_NOT_CONFIRMED');
  assert.match(e.message, /--target \/dev\/sdz/);
  e = await refusalAsync(() => confirmFormat([{ ...disk, input: '/dev/sdz' }], { yes: false }));
  assert.is(e.code, 'TARGET_NOT_CONFIRMED');
  const asked: string[] = [];
  const prompter = (answer: string) => ({ ask: async (q: string) => (asked.push(q), answer), askSecret: async () => '' });
  e = await refusalAsync(() => confirmFormat([disk], { yes: false, prompter: prompter('yes') }));
  assert.is(e.code, 'TARGET_NOT_CONFIRMED');
  await confirmFormat([disk], { yes: false, prompter: prompter('sdz') });
  await confirmFormat([disk], { yes: false, prompter: prompter('/dev/sdz') });
  await confirmFormat([{ ...disk, input: '/dev/sdz' }], { yes: true });
  assert.match(asked[0]!, /ERASED/);
});

test.run();
