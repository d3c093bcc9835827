// The datacenter's delivery from a block device and from an image file (src/emulator/volume.ts):
// a real NTFS loop disk (GPT + one partition + mkntfs, through prep's own format code) gets a drive
// layout (files, DriveManifest.xml, driveseed-drive-id) through ntfs-3g and is unmounted; then the
// emulator mounts it read-only itself (ntfs-3g -o ro; losetup -r -P for the image), imports it into
// Azurite, and leaves no mount and no loop device of its own behind — also when it refuses a drive.
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import { createDataBoxClient } from '../src/azure/arm';
import { containerClientFor } from '../src/azure/blob';
import { MAX_BLOCK_LENGTH, writeManifest, type ManifestBlob } from '../src/azure/manifest';
import { DriveseedError } from '../src/base/errors';
import { deliverDrive, DRIVE_ID_FILE, startEmulator, type RunningEmulator } from '../src/emulator';
import { firstPartitionPath, mountNtfs, partitionAndFormatNtfs } from '../src/prep/format';
import { attachLoop, gated, hasTool, loopUnavailable } from './helpers';
import { importJobBody } from './support/emulator-job';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'vol-rg';
const MiB = 1024 * 1024;
const reason =
  loopUnavailable() ?? (['mkntfs', 'ntfs-3g', 'sgdisk', 'blkid', 'lsblk'].every(hasTool) ? undefined : 'needs ntfs-3g, gdisk and util-linux (blkid, lsblk)');

/** Mount points of the datacenter's temp directories (driveseed-dc-*) in this namespace. */
function datacenterMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => /\/driveseed-dc-[^/]*$/.test(mp));
}

/** Loop devices backed by `image` (losetup -j), other than `except`. */
function loopsOver(image: string, except?: string): string[] {
  const r = spawnSync('losetup', ['-j', image], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.split(':')[0]!.trim())
    .filter((d) => d && d !== except);
}

interface Layout {
  driveId: string;
  manifestHash: string;
  files: Map<string, Buffer>;
}

/** GPT + NTFS on `dev` (prep's code), then files, the manifest over them and the id file, then unmount. */
async function prepareNtfsDisk(dev: string, driveId: string, container: string, sizes: number[]): Promise<Layout> {
  const part = partitionAndFormatNtfs(dev);
  assert.is(part, firstPartitionPath(dev));
  const m = mountNtfs(part);
  try {
    const files = new Map<string, Buffer>();
    const blobs: ManifestBlob[] = sizes.map((size, i) => {
      const name = `${String(i).padStart(4, '0')}.pack`;
      const bytes = randomBytes(size);
      fs.mkdirSync(path.join(m.dir, 'data', 'p'), { recursive: true });
      fs.writeFileSync(path.join(m.dir, 'data', 'p', name), bytes);
      files.set(`p/${name}`, bytes);
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
      return { blobPath: `${container}/p/${name}`, filePath: `\\data\\p\\${name}`, length: size, blocks };
    });
    const r = await writeManifest(path.join(m.dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
    fs.writeFileSync(path.join(m.dir, DRIVE_ID_FILE), `${driveId}\n`);
    return { driveId, manifestHash: r.manifestHash, files };
  } finally {
    m.release();
  }
}

async function shippedJob(client: DataBoxManagementClient, name: string, d: Layout): Promise<void> {
  await client.jobs.beginCreateAndWait(RG, name, importJobBody(SUB, RG, [d]));
  await client.jobs.markDevicesShipped(name, RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: `T-${name}` } });
}

async function assertBlobs(emu: RunningEmulator, container: string, d: Layout): Promise<void> {
  const c = containerClientFor({ account: 'devstoreaccount1', container, emulator: emu.accounts[0]! });
  for (const [name, bytes] of d.files) {
    const got = await c.getBlobClient(name).downloadToBuffer();
    assert.ok(got.equals(bytes), `${container}/${name} differs from the file on the NTFS disk`);
  }
}

gated(test, 'an NTFS loop disk delivered as a block device and as an image file is imported; nothing stays mounted or attached', reason, async () => {
  const loop = attachLoop(64 * MiB);
  let emu: RunningEmulator | undefined;
  try {
    const d = await prepareNtfsDisk(loop.dev, 'NTFS-LOOP-1', 'vol', [MAX_BLOCK_LENGTH * 2 + 777, 5000, 0]);
    assert.is(spawnSync('findmnt', ['-S', firstPartitionPath(loop.dev)]).status, 1, 'prep code left the partition mounted');
    emu = await startEmulator({ stepMs: 0 });
    const client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });

    // 1. The device itself: its first partition, NTFS, mounted read-only by the emulator.
    await shippedJob(client, 'bydevice', d);
    const r1 = (await deliverDrive({ emulator: emu, job: 'bydevice', drive: loop.dev, wait: true })) as {
      copyStatus: string;
      status: string;
      logStatus: string;
    };
    assert.equal([r1.logStatus, r1.copyStatus, r1.status], ['Completed', 'Completed', 'Completed']);
    await assertBlobs(emu, 'vol', d);
    assert.equal(datacenterMounts(), [], 'the datacenter left its mount behind');
    assert.is(spawnSync('findmnt', ['-S', firstPartitionPath(loop.dev)]).status, 1);

    // 2. The image file: losetup -r -P, partition 1, ntfs-3g -o ro; the blobs are renamed (the
    // default disposition) because the first import already created them.
    await shippedJob(client, 'byimage', d);
    const r2 = (await deliverDrive({ emulator: emu.armEndpoint, job: 'byimage', drive: loop.image, wait: true })) as {
      copyStatus: string;
      status: string;
      logStatus: string;
    };
    assert.equal([r2.logStatus, r2.copyStatus, r2.status], ['Completed', 'Completed', 'Completed']);
    const c = containerClientFor({ account: 'devstoreaccount1', container: 'vol', emulator: emu.accounts[0]! });
    assert.ok((await c.getBlobClient('p/0000 (2).pack').downloadToBuffer()).equals(d.files.get('p/0000.pack')!));
    assert.equal(datacenterMounts(), []);
    assert.equal(loopsOver(loop.image, loop.dev), [], 'the datacenter left its loop device attached');

    // 3. A refusal after mounting (the drive is not in the job) also unmounts and detaches.
    const other: Layout = { ...d, driveId: 'SOMEONE-ELSE' };
    await shippedJob(client, 'notlisted', other);
    try {
      await deliverDrive({ emulator: emu, job: 'notlisted', drive: loop.image });
      assert.unreachable('delivered a drive the job does not list');
    } catch (e) {
      assert.instance(e, DriveseedError);
      assert.is((e as DriveseedError).code, 'EMULATOR_DRIVE_NOT_IN_JOB');
      assert.match((e as Error).message, /serial 'NTFS-LOOP-1' \(from its driveseed-drive-id file\)/);
    }
    assert.equal(datacenterMounts(), []);
    assert.equal(loopsOver(loop.image, loop.dev), []);
  } finally {
    await emu?.stop();
    loop.detach();
  }
});

gated(
  test,
  'an image without a partition table (ext4, whole image) goes through mount -o ro; an unreadable image is DRIVE_MOUNT_FAILED',
  loopUnavailable() ?? (hasTool('mkfs.ext4') ? undefined : 'needs mkfs.ext4'),
  async () => {
    const loop = attachLoop(32 * MiB);
    const mnt = fs.mkdtempSync(path.join(path.dirname(loop.image), 'mnt-'));
    let emu: RunningEmulator | undefined;
    try {
      assert.is(spawnSync('mkfs.ext4', ['-q', '-F', loop.dev]).status, 0);
      assert.is(spawnSync('mount', [loop.dev, mnt]).status, 0);
      const bytes = randomBytes(3 * MiB + 1);
      let manifestHash: string;
      try {
        fs.mkdirSync(path.join(mnt, 'd'));
        fs.writeFileSync(path.join(mnt, 'd', 'f.bin'), bytes);
        const r = await writeManifest(path.join(mnt, 'DriveManifest.xml'), {
          driveId: 'EXT4-IMG-1',
          blobLists: [
            {
              blobs: [
                {
                  blobPath: 'ext/d/f.bin',
                  filePath: '\\d\\f.bin',
                  length: bytes.length,
                  blocks: [{ offset: 0, length: bytes.length, hash: createHash('md5').update(bytes).digest('hex').toUpperCase() }],
                },
              ],
            },
          ],
        });
        manifestHash = r.manifestHash;
        fs.writeFileSync(path.join(mnt, DRIVE_ID_FILE), 'EXT4-IMG-1');
      } finally {
        assert.is(spawnSync('umount', [mnt]).status, 0);
      }
      emu = await startEmulator({ stepMs: 0 });
      const client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
      await shippedJob(client, 'ext4img', { driveId: 'EXT4-IMG-1', manifestHash, files: new Map([['d/f.bin', bytes]]) });
      const r = (await deliverDrive({ emulator: emu, job: 'ext4img', drive: loop.image, wait: true })) as { status: string };
      assert.is(r.status, 'Completed');
      await assertBlobs(emu, 'ext', { driveId: '', manifestHash: '', files: new Map([['d/f.bin', bytes]]) });
      assert.equal(loopsOver(loop.image, loop.dev), []);

      await shippedJob(client, 'junkjob', { driveId: 'JUNK-1', manifestHash, files: new Map() });
      const junk = path.join(path.dirname(loop.image), 'junk.img');
      fs.writeFileSync(junk, Buffer.alloc(4 * MiB));
      try {
        await deliverDrive({ emulator: emu, job: 'junkjob', drive: junk });
        assert.unreachable('mounted an image with no file system');
      } catch (e) {
        assert.is((e as DriveseedError).code, 'EMULATOR_DRIVE_MOUNT_FAILED', (e as Error).message);
        assert.match((e as Error).message, /Could not mount .* \(unknown filesystem\) read-only/);
      }
      assert.equal(loopsOver(junk), []);
      assert.equal(datacenterMounts(), []);
    } finally {
      await emu?.stop();
      spawnSync('umount', [mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
      loop.detach();
    }
  },
);

gated(test, 'a 4K-native disk (4096-byte logical sectors) is received and reported UnsupportedDrive; nothing is copied', reason, async () => {
  const loop = attachLoop(64 * MiB, { sectorSize: 4096 });
  let emu: RunningEmulator | undefined;
  try {
    const d = await prepareNtfsDisk(loop.dev, 'NTFS-4KN-1', 'fourk', [5000]);
    emu = await startEmulator({ stepMs: 0 });
    const client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
    await shippedJob(client, 'fourk', d);
    const r = (await deliverDrive({ emulator: emu, job: 'fourk', drive: loop.dev, wait: true })) as { copyStatus: string; status: string };
    assert.equal([r.copyStatus, r.status], ['UnsupportedDrive', 'CompletedWithErrors']);
    const job = await client.jobs.get(RG, 'fourk', { expand: 'details' });
    const p = (job.details as { copyProgress?: Array<{ error?: { message?: string } }> }).copyProgress![0]!;
    assert.match(p.error!.message!, /4096-byte logical sectors/);
    const c = containerClientFor({ account: 'devstoreaccount1', container: 'fourk', emulator: emu.accounts[0]! });
    assert.is(await c.exists(), false, 'nothing was copied');
    assert.equal(datacenterMounts(), []);
  } finally {
    await emu?.stop();
    loop.detach();
  }
});

test.run();
