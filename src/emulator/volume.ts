/**
 * How the emulated datacenter gets at a delivered drive: a mounted volume directory is used as it
 * is; a block device or an image file is mounted read-only into a temp directory (its first
 * partition when it has a partition table — the service processes only the first data volume),
 * NTFS through ntfs-3g, anything else through mount(8). release() unmounts and detaches what was
 * attached here, and nothing else.
 *
 * The drive's identity is the text of the `driveseed-drive-id` file at the volume root (written by
 * `driveseed prep`), else the device's hardware serial (sysfs).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';

/** The id file at the volume root (`\driveseed-drive-id` on Windows). */
export const DRIVE_ID_FILE = 'driveseed-drive-id';

export interface OpenedVolume {
  /** the volume root (a directory) */
  root: string;
  /** the id from DRIVE_ID_FILE or the device serial; undefined when neither exists */
  driveId: string | undefined;
  /** where the id came from */
  idSource: 'file' | 'serial' | 'none';
  /** the disk's logical sector size (block devices and images; undefined for a directory) */
  logicalSectorSize?: number;
  release(): void;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: (r.stderr ?? r.error?.message ?? '').trim() };
}

function fail(code: string, message: string, details: Record<string, unknown>): DriveseedError {
  return new DriveseedError(code, message, { category: 'FAILED', details });
}

function serialOf(dev: string): string | undefined {
  const name = path.basename(fs.realpathSync(dev));
  const base = /^(nvme\d+n\d+|[a-z]+)/.exec(name)?.[1] ?? name;
  for (const f of [`/sys/class/block/${base}/device/serial`, `/sys/class/block/${base}/serial`]) {
    try {
      const s = fs.readFileSync(f, 'utf8').trim();
      if (s) return s;
    } catch {
      /* not exposed for this device */
    }
  }
  const r = run('lsblk', ['-dno', 'SERIAL', `/dev/${base}`]);
  return r.ok && r.out ? r.out : undefined;
}

/** The logical sector size sysfs reports for a disk (or the disk of a partition). */
function logicalSectorSize(dev: string): number | undefined {
  try {
    const name = path.basename(fs.realpathSync(dev));
    const n = Number(fs.readFileSync(`/sys/class/block/${name}/queue/logical_block_size`, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function readIdFile(root: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, DRIVE_ID_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Sleeps without an event loop (release() is synchronous: it also runs from the process 'exit' hook). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The first partition of a whole disk, or the device itself when it has no partition table. When
 * the kernel has no node for the partition (seen here: a kernel whose loop devices get no partitions
 * from `losetup -P` or BLKRRPART for a GPT disk; prep adds them with partx -a), partx reads the
 * table in user space and the partition is attached as a read-only loop device over its byte range,
 * so that the delivered disk's own partition list is never changed. `undo` gets that loop's detach.
 */
function firstVolume(dev: string, backing: string, undo: Array<() => void>): string {
  const r = run('lsblk', ['-lnpo', 'NAME,TYPE', dev]);
  if (r.ok) {
    const part = r.out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .find((x) => x[1] === 'part');
    if (part) {
      // lsblk reads sysfs; the /dev node of a partition just scanned by `losetup -P` can lag behind.
      for (let i = 0; i < 100 && !fs.existsSync(part[0]!); i++) sleepSync(50);
      return part[0]!;
    }
  }
  // START and SECTORS in 512-byte units (libblkid's unit whatever the logical sector size).
  const t = run('partx', ['-g', '-n', '1', '-o', 'START,SECTORS', dev]);
  const [start, sectors] = t.ok ? t.out.split(/\s+/).map(Number) : [];
  if (!start || !sectors) return dev;
  const l = run('losetup', ['-f', '--show', '-r', '-o', String(start * 512), '--sizelimit', String(sectors * 512), backing]);
  if (!l.ok) throw fail('DRIVE_MOUNT_FAILED', `losetup could not attach partition 1 of ${dev} (offset ${start * 512}): ${l.err}`, { target: backing });
  undo.push(() => detachLoop(l.out, backing));
  return l.out;
}

/** Whether `dir` is a mount point in this mount namespace. */
function isMountPoint(dir: string): boolean {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === dir);
}

/**
 * Detaches a loop device this module attached. The kernel defers the detach (autoclear) while the
 * device is still open — the ntfs-3g daemon closes it a moment after `umount` returns — so wait
 * for the backing file to go, up to 10 s, so that a caller that checks finds nothing left.
 */
function detachLoop(dev: string, backing: string): void {
  run('losetup', ['-d', dev]);
  const real = fs.realpathSync(backing);
  for (let i = 0; i < 200; i++) {
    const r = run('losetup', ['-n', '-O', 'BACK-FILE', dev]);
    if (!r.ok || !r.out?.startsWith(real)) return;
    sleepSync(50);
  }
}

/** Unmounts `dir` (lazily as a last resort so that nothing outlives the emulator), then removes the empty directory. */
function unmount(dir: string): void {
  if (isMountPoint(dir)) {
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      // A FUSE mount just used can answer EBUSY for a moment while its last reads drain.
      ok = run('umount', [dir]).ok || !isMountPoint(dir);
      if (!ok) sleepSync(100);
    }
    if (!ok) run('umount', ['-l', dir]);
  }
  // Never a recursive removal: if the unmount failed the directory holds the drive's files.
  try {
    fs.rmdirSync(dir);
  } catch {
    /* still busy (lazy unmount); the operator can remove it */
  }
}

const live = new Set<() => void>();
let exitHook = false;
function track(release: () => void): void {
  live.add(release);
  if (!exitHook) {
    exitHook = true;
    // A thrown error or process.exit still unmounts and detaches; SIGKILL cannot be caught.
    process.on('exit', () => {
      for (const r of [...live]) r();
    });
  }
}

/**
 * Opens `target` (directory, block device or image file) for reading. Throws DRIVE_NOT_FOUND,
 * DRIVE_MOUNT_FAILED (with the tool's message) or DRIVE_NEEDS_ROOT. release() is idempotent, never
 * throws, and undoes exactly what this call did (unmount, then detach the loop device it attached).
 */
export function openVolume(target: string): OpenedVolume {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw fail('DRIVE_NOT_FOUND', `The drive ${target} does not exist; give a mounted volume directory, a block device or an image file`, { target });
  }
  if (st.isDirectory()) {
    const id = readIdFile(target);
    return { root: target, driveId: id, idSource: id ? 'file' : 'none', release() {} };
  }
  if (!st.isBlockDevice() && !st.isFile()) throw fail('DRIVE_NOT_FOUND', `${target} is neither a directory, a block device nor an image file`, { target });
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw fail('DRIVE_NEEDS_ROOT', `Mounting ${target} read-only needs root; run the emulator as root or mount the volume yourself and deliver the directory`, {
      target,
    });
  }
  const undo: Array<() => void> = [];
  const release = () => {
    live.delete(release);
    while (undo.length > 0) {
      const u = undo.pop()!;
      try {
        u();
      } catch {
        /* keep undoing the rest: a failed unmount must not leave the loop device attached */
      }
    }
  };
  track(release);
  try {
    let dev = target;
    if (st.isFile()) {
      const r = run('losetup', ['-f', '--show', '-r', '-P', target]);
      if (!r.ok) throw fail('DRIVE_MOUNT_FAILED', `losetup could not attach ${target}: ${r.err}`, { target });
      const attached = r.out;
      dev = attached;
      undo.push(() => detachLoop(attached, target));
      // Partition nodes appear asynchronously after -P.
      spawnSync('udevadm', ['settle'], { stdio: 'ignore' });
    }
    const vol = firstVolume(dev, st.isFile() ? target : dev, undo);
    // -p: probe the device itself, not blkid's cache (which may predate a fresh mkntfs).
    const fsType = run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', vol]).out;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-dc-'));
    undo.push(() => unmount(dir));
    const m = fsType === 'ntfs' ? run('ntfs-3g', ['-o', 'ro', vol, dir]) : run('mount', ['-o', 'ro', vol, dir]);
    if (!m.ok)
      throw fail('DRIVE_MOUNT_FAILED', `Could not mount ${vol} (${fsType || 'unknown filesystem'}) read-only: ${m.err}`, { target, volume: vol, fsType });
    const fileId = readIdFile(dir);
    const serial = fileId ? undefined : st.isBlockDevice() ? serialOf(target) : undefined;
    const sector = logicalSectorSize(dev);
    return {
      root: dir,
      driveId: fileId ?? serial,
      idSource: fileId ? 'file' : serial ? 'serial' : 'none',
      ...(sector ? { logicalSectorSize: sector } : {}),
      release,
    };
  } catch (err) {
    release();
    throw err;
  }
}
