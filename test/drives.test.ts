/**
 * `driveseed drives`: the lsblk parser against a captured and a hand-written fixture, the sysfs
 * fallback against lsblk on this machine, the Windows parser against a hand-written fixture (not
 * captured: no Windows here), and a live listing that sees a loop device we attach.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderDisks } from '../src/commands/drives';
import { listDisks, lsblkFromSysfs, parseLsblk, parseWindowsStorage } from '../src/core/drives';
import { attachLoop, gated, hasTool, loopUnavailable } from './helpers';

const FIX = path.join(__dirname, 'fixtures', 'drives');
const fixture = (n: string) => fs.readFileSync(path.join(FIX, n), 'utf8');

test('captured lsblk (VM): loop devices listed, zram skipped, the root disk is the system disk', () => {
  const disks = parseLsblk(fixture('lsblk-linux-vm.json'));
  assert.equal(
    disks.map((d) => d.path),
    ['/dev/loop0', '/dev/loop1', '/dev/vda'],
  );
  const [l0, l1, vda] = disks;
  assert.is(l0!.type, 'loop');
  assert.is(l0!.bus, 'loop');
  assert.is(l0!.sizeBytes, 64 * 1024 * 1024);
  assert.is(l0!.system, false);
  assert.equal(l1!.mountpoints, ['/tmp/tmp.whvQelCir9/mnt']);
  assert.is(vda!.system, true);
  assert.equal(vda!.systemReasons, ['/ is mounted from it']);
  assert.is(vda!.bus, 'virtio');
});

test('hand-written lsblk (desktop): system via LVM root and swap, USB disk with NTFS partition, rom and empty loop skipped', () => {
  const disks = parseLsblk(fixture('lsblk-desktop.json'));
  assert.equal(
    disks.map((d) => d.name),
    ['sda', 'sdb', 'nvme0n1', 'loop7'],
  );
  const sda = disks[0]!;
  assert.is(sda.system, true);
  assert.equal(sda.systemReasons, ['/boot/efi is mounted from it', '/ is mounted from it', 'it holds active swap']);
  assert.is(sda.model, 'Samsung SSD 860 EVO 500GB');
  assert.is(sda.serial, 'S3Z1NB0K123456A');
  assert.is(sda.bus, 'sata');
  assert.equal(
    sda.partitions.map((p) => [p.path, p.mountpoints]),
    [
      ['/dev/sda1', ['/boot/efi']],
      ['/dev/sda2', ['/', '[SWAP]']],
    ],
  );
  const sdb = disks[1]!;
  assert.is(sdb.system, false);
  assert.is(sdb.bus, 'usb');
  assert.equal(sdb.partitions, [{ path: '/dev/sdb1', sizeBytes: 8001561124864, fsType: 'ntfs', label: 'SEED 1', mountpoints: ['/media/admin/SEED 1'] }]);
  assert.is(disks[2]!.bus, 'nvme');
  assert.is(disks[3]!.readOnly, true);
});

test('a disk named as system by mountinfo (prep rule) is marked even when lsblk shows no system mount', () => {
  const disks = parseLsblk(fixture('lsblk-desktop.json'), new Set(['nvme0n1']));
  const nv = disks.find((d) => d.name === 'nvme0n1')!;
  assert.is(nv.system, true);
  assert.match(nv.systemReasons[0]!, /mountinfo/);
});

test('garbage from lsblk is a DRIVES_PARSE error', () => {
  assert.throws(
    () => parseLsblk('lsblk: unknown column'),
    (e: { code?: string }) => e.code === 'DRIVES_PARSE',
  );
});

test('Windows (hand-written fixture, not captured): disks, partitions, volumes, letters, bus enums', () => {
  const disks = parseWindowsStorage(fixture('windows-storage.json'));
  assert.equal(
    disks.map((d) => d.path),
    ['\\\\.\\PhysicalDrive0', '\\\\.\\PhysicalDrive1', '\\\\.\\PhysicalDrive2'],
  );
  const [d0, d1, d2] = disks;
  assert.is(d0!.system, true);
  assert.equal(d0!.systemReasons, ['Windows boots from it (IsBoot)', 'it holds the system partition (IsSystem)']);
  assert.is(d0!.bus, 'nvme');
  assert.equal(
    d0!.partitions.map((p) => [p.mountpoints, p.fsType ?? null, p.label ?? null]),
    [
      [[], 'FAT32', null],
      [[], null, null],
      [['C:\\'], 'NTFS', 'Windows'],
    ],
  );
  assert.is(d1!.system, false);
  assert.is(d1!.removable, true);
  assert.is(d1!.serial, 'WX12D80ABCDE');
  // partitions sorted by number; volume matched by GUID path case-insensitively; single AccessPaths string
  assert.equal(
    d1!.partitions.map((p) => [p.path, p.mountpoints, p.label ?? null]),
    [
      ['\\\\?\\GLOBALROOT\\Device\\Harddisk1\\Partition1', [], null],
      ['\\\\?\\GLOBALROOT\\Device\\Harddisk1\\Partition2', ['E:\\'], 'SEED 1'],
    ],
  );
  assert.is(d2!.bus, 'sata');
  assert.is(d2!.serial, 'ZFN0ABCD');
  assert.is(d2!.readOnly, true);
});

test('Windows: a single disk object (not an array) and a BOM are accepted', () => {
  const one =
    '\uFEFF{"disks":{"Number":3,"FriendlyName":"Msft Virtual Disk","SerialNumber":null,"BusType":"File Backed Virtual","Size":1073741824,"IsBoot":false,"IsSystem":false,"IsReadOnly":false},"partitions":null,"volumes":null}';
  const [d] = parseWindowsStorage(one);
  assert.is(d!.path, '\\\\.\\PhysicalDrive3');
  assert.is(d!.bus, 'file backed virtual');
  assert.equal(d!.partitions, []);
});

test('text rendering marks the system disk and says why', () => {
  const text = renderDisks(parseLsblk(fixture('lsblk-desktop.json')));
  assert.match(text, /\/dev\/sda {2}477 GiB {2}Samsung SSD 860 EVO 500GB, serial S3Z1NB0K123456A, sata {2}\[SYSTEM DISK\]/);
  assert.match(text, /not a target: \/boot\/efi is mounted from it/);
  assert.match(text, /\/dev\/sdb1 {2}7\.3 TiB {2}ntfs "SEED 1" {2}mounted at \/media\/admin\/SEED 1/);
});

gated(
  test,
  'sysfs fallback finds the same disks and system disk as lsblk on this machine',
  process.platform !== 'linux' ? 'Linux only' : !hasTool('lsblk') ? 'needs lsblk to compare with' : undefined,
  async () => {
    const viaLsblk = await listDisks();
    const viaSysfs = parseLsblk(lsblkFromSysfs());
    const key = (d: { path: string; sizeBytes: number; system: boolean; type: string }) => `${d.path} ${d.sizeBytes} ${d.system} ${d.type}`;
    assert.equal(viaSysfs.map(key).sort(), viaLsblk.map(key).sort());
    assert.ok(
      viaLsblk.some((d) => d.system),
      'some disk holds the running system',
    );
  },
);

gated(test, 'a loop device we attach is listed with its size and image file', loopUnavailable(), async () => {
  const loop = attachLoop(48 * 1024 * 1024);
  try {
    const disks = await listDisks();
    const d = disks.find((x) => x.path === loop.dev);
    assert.ok(d, `${loop.dev} listed`);
    assert.is(d!.sizeBytes, 48 * 1024 * 1024);
    assert.is(d!.type, 'loop');
    assert.is(d!.system, false);
    assert.is(d!.backingFile, loop.image);
  } finally {
    loop.detach();
  }
});

test.run();
