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
import { DriveseedError } from '../core/errors';

/** The id file at the volume root (`\driveseed-drive-id` on Windows). */
export const DRIVE_ID_FILE = 'driveseed-drive-id';

export interface OpenedVolume {
  /** the volume root (a directory) */
  root: string;
  /** the id from DRIVE_ID_FILE or the device serial; undefined when neither exists */
  driveId: string | undefined;
  /** where the id came from */
  idSource: 'file' | 'serial' | 'none';
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

function readIdFile(root: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, DRIVE_ID_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The first partition of a whole disk, or the device itself when it has none. */
function firstVolume(dev: string): string {
  const r = run('lsblk', ['-lnpo', 'NAME,TYPE', dev]);
  if (r.ok) {
    const part = r.out.split('\n').map((l) => l.trim().split(/\s+/)).find((x) => x[1] === 'part');
    if (part) return part[0]!;
  }
  return dev;
}

/**
 * Opens `target` (directory, block device or image file) for reading. Throws DRIVE_NOT_FOUND,
 * DRIVE_MOUNT_FAILED (with the tool's message) or DRIVE_NEEDS_ROOT.
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
    throw fail('DRIVE_NEEDS_ROOT', `Mounting ${target} read-only needs root; run the emulator as root or mount the volume yourself and deliver the directory`, { target });
  }
  const undo: Array<() => void> = [];
  const release = () => {
    for (const u of undo.reverse()) u();
    undo.length = 0;
  };
  try {
    let dev = target;
    if (st.isFile()) {
      const r = run('losetup', ['-f', '--show', '-r', '-P', target]);
      if (!r.ok) throw fail('DRIVE_MOUNT_FAILED', `losetup could not attach ${target}: ${r.err}`, { target });
      dev = r.out;
      undo.push(() => void run('losetup', ['-d', dev]));
      // Partition nodes appear asynchronously after -P.
      spawnSync('udevadm', ['settle'], { stdio: 'ignore' });
    }
    const vol = firstVolume(dev);
    const fsType = run('blkid', ['-o', 'value', '-s', 'TYPE', vol]).out;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-dc-'));
    undo.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const m = fsType === 'ntfs' ? run('ntfs-3g', ['-o', 'ro', vol, dir]) : run('mount', ['-o', 'ro', vol, dir]);
    if (!m.ok) throw fail('DRIVE_MOUNT_FAILED', `Could not mount ${vol} (${fsType || 'unknown filesystem'}) read-only: ${m.err}`, { target, volume: vol, fsType });
    undo.push(() => {
      if (!run('umount', [dir]).ok) run('umount', ['-l', dir]);
    });
    const fileId = readIdFile(dir);
    const serial = fileId ? undefined : st.isBlockDevice() ? serialOf(target) : undefined;
    return { root: dir, driveId: fileId ?? serial, idSource: fileId ? 'file' : serial ? 'serial' : 'none', release };
  } catch (err) {
    release();
    throw err;
  }
}
