/**
 * Target classification and refusals (docs/prep.md "Targets"). A target is a mounted volume (its
 * mount directory; Windows: a drive letter) or a whole disk (/dev/sdX, /dev/loopN;
 * Windows: \\.\PhysicalDriveN) that prep partitions and formats. Every refusal is a DriveseedError of
 * category TARGET_REFUSED with its own code:
 *
 *   TARGET_NOT_FOUND      nothing at that path (or Windows syntax on Linux)
 *   TARGET_NOT_VOLUME     a directory that is not the root of a mounted volume, a partition, a file
 *   TARGET_SYSTEM_DISK    the disk holds /, /boot, /boot/efi or swap
 *   TARGET_MOUNTED        a whole disk with mounted volumes (give the volume directory instead)
 *   TARGET_BUSY           claimed by another process (O_EXCL) or another driveseed (flock)
 *   TARGET_DUPLICATE      the same disk or volume given twice (also under two names)
 *   TARGET_NOT_CONFIRMED  a destructive action without the typed device name / --yes + exact name
 *   TARGET_TOO_SMALL      smaller than MIN_TARGET_BYTES
 *   TARGET_READ_ONLY      read-only device or volume
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Prompter } from '../base/context';
import { DriveseedError } from '../base/errors';
import { type MountEntry, SysBlock, majMinOf, parseMountInfo, parseSwaps } from './sysfs';

/** Smallest disk or volume prep accepts: NTFS metadata plus one 4 MiB block leave nothing useful below this. */
export const MIN_TARGET_BYTES = 32 * 1024 * 1024;

export type Target =
  | {
      kind: 'volume';
      /** what the user typed */
      input: string;
      /** the volume's mount directory (realpath) */
      path: string;
      /** identity for duplicate detection: "vol:<st_dev>" */
      identity: string;
      fsType: string;
      /** mount source (/dev/loop3p1, or the FUSE source) */
      source: string;
      readOnly: boolean;
    }
  | {
      kind: 'disk';
      input: string;
      /** /dev/<kernel name>, the canonical device path */
      path: string;
      /** "dev:<major:minor>" */
      identity: string;
      name: string;
      sizeBytes: number;
      readOnly: boolean;
      partitions: string[];
    }
  | { kind: 'windowsVolume'; input: string; letter: string; path: string; identity: string }
  | { kind: 'windowsDisk'; input: string; number: number; path: string; identity: string };

/** A whole disk (Linux or Windows) that prep may partition and format, as opposed to a volume written into as it is. */
export function isWholeDisk(t: Target): t is Extract<Target, { kind: 'disk' | 'windowsDisk' }> {
  return t.kind === 'disk' || t.kind === 'windowsDisk';
}

export function refuse(code: string, message: string, details: Record<string, unknown>): DriveseedError {
  return new DriveseedError(code, message, { category: 'TARGET_REFUSED', details });
}

/**
 * Windows target syntax: a drive letter `E:` / `E` / `E:\`, or `\\.\PhysicalDrive2` (case-insensitive).
 * Returns undefined for anything else.
 */
export function parseWindowsTarget(input: string): Target | undefined {
  const letter = /^([A-Za-z]):?\\?$/.exec(input);
  if (letter) {
    const l = letter[1]!.toUpperCase();
    return { kind: 'windowsVolume', input, letter: l, path: `${l}:`, identity: `winvol:${l}` };
  }
  const disk = /^\\\\[.?]\\PhysicalDrive(\d{1,3})$/i.exec(input);
  if (disk) {
    const n = Number(disk[1]);
    return { kind: 'windowsDisk', input, number: n, path: `\\\\.\\PhysicalDrive${n}`, identity: `windisk:${n}` };
  }
  return undefined;
}

/** The system's view, read once per classification; injectable for tests. */
export interface SystemView {
  mounts: MountEntry[];
  swaps: string[];
  sys: SysBlock;
}

export function readSystemView(): SystemView {
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  return { mounts: parseMountInfo(read('/proc/self/mountinfo')), swaps: parseSwaps(read('/proc/swaps')), sys: new SysBlock() };
}

/** Mount points that make a disk the running system's (with active swap): prep refuses it, `driveseed drives` marks it. */
export const SYSTEM_MOUNTS: ReadonlySet<string> = new Set(['/', '/boot', '/boot/efi', '/efi', '/usr']);

/** Kernel disk names a mount lives on: by major:minor, and by its /dev source (FUSE mounts report 0:NN). */
function disksOfMount(m: MountEntry, sys: SysBlock): string[] {
  const out = new Set<string>();
  const byNum = sys.node(m.majMin);
  if (byNum) out.add(byNum.disk);
  if (m.source.startsWith('/dev/')) {
    const bySrc = sys.nodeOfPath(m.source);
    if (bySrc) out.add(bySrc.disk);
  }
  return [...out];
}

/** Disks holding a SYSTEM_MOUNTS mount point or an active swap area. */
export function systemDisks(view: SystemView): Set<string> {
  const out = new Set<string>();
  for (const m of view.mounts) if (SYSTEM_MOUNTS.has(m.mountPoint)) for (const d of disksOfMount(m, view.sys)) out.add(d);
  for (const s of view.swaps) {
    const n = view.sys.nodeOfPath(s);
    if (n) out.add(n.disk);
    else {
      try {
        const d = view.sys.node(majMinOf(fs.statSync(s).dev));
        if (d) out.add(d.disk);
      } catch {
        /* a swap file that vanished */
      }
    }
  }
  return out;
}

/**
 * Classifies one target string and applies the per-target refusals (everything but TARGET_BUSY, TARGET_DUPLICATE
 * and TARGET_NOT_CONFIRMED, which need the whole set or a lock). Throws the refusal.
 */
export function classifyTarget(input: string, view: SystemView = readSystemView(), platform: NodeJS.Platform = process.platform): Target {
  const win = parseWindowsTarget(input);
  if (platform === 'win32') {
    if (!win) throw refuse('TARGET_NOT_FOUND', `Expected a drive letter (E:) or \\\\.\\PhysicalDriveN for --target but received "${input}"`, { target: input });
    return win;
  }
  if (win && !fs.existsSync(input)) {
    throw refuse(
      'TARGET_NOT_FOUND',
      `"${input}" is Windows target syntax; on ${platform} give a whole disk (/dev/sdX, /dev/loopN) or the directory a volume is mounted on`,
      { target: input },
    );
  }
  let st: fs.Stats;
  let real: string;
  try {
    real = fs.realpathSync(input);
    st = fs.statSync(real);
  } catch {
    throw refuse(
      'TARGET_NOT_FOUND',
      `Target ${input} does not exist; give a whole disk (/dev/sdX, /dev/loopN) or the directory a volume is mounted on (see lsblk)`,
      { target: input },
    );
  }
  const system = systemDisks(view);

  if (st.isDirectory()) {
    const mount = [...view.mounts].reverse().find((m) => m.mountPoint === real);
    if (!mount) {
      throw refuse(
        'TARGET_NOT_VOLUME',
        `${input} is a directory but not the root of a mounted volume; Azure imports from the volume root, so give the mount point itself (findmnt -T ${input})`,
        { target: input },
      );
    }
    const disks = disksOfMount(mount, view.sys);
    if (SYSTEM_MOUNTS.has(mount.mountPoint) || disks.some((d) => system.has(d))) {
      throw refuse('TARGET_SYSTEM_DISK', `${input} is on the system disk (${disks.join(', ') || mount.source}); use a separate disk for the import`, {
        target: input,
        disks,
      });
    }
    const readOnly = mount.options.includes('ro');
    if (readOnly) throw refuse('TARGET_READ_ONLY', `${input} is mounted read-only; remount it read-write (mount -o remount,rw ${input})`, { target: input });
    return { kind: 'volume', input, path: real, identity: `vol:${st.dev}`, fsType: mount.fsType, source: mount.source, readOnly };
  }

  if (!st.isBlockDevice()) {
    throw refuse('TARGET_NOT_VOLUME', `${input} is neither a block device nor a mounted volume directory`, { target: input });
  }
  const majMin = majMinOf(st.rdev);
  const node = view.sys.node(majMin);
  if (!node) throw refuse('TARGET_NOT_FOUND', `${input} (${majMin}) is not known to /sys/dev/block; is the device still attached?`, { target: input });
  if (node.isPartition) {
    throw refuse(
      'TARGET_NOT_VOLUME',
      `${input} is a partition of /dev/${node.disk}; give the whole disk /dev/${node.disk} (prep partitions and formats it) or the directory the partition is mounted on`,
      { target: input, disk: `/dev/${node.disk}` },
    );
  }
  if (system.has(node.disk)) {
    throw refuse('TARGET_SYSTEM_DISK', `${input} is the system disk (it holds /, /boot or swap); driveseed never formats it`, { target: input });
  }
  const mounted = view.mounts.filter((m) => disksOfMount(m, view.sys).includes(node.disk));
  if (mounted.length > 0) {
    const points = mounted.map((m) => m.mountPoint);
    throw refuse(
      'TARGET_MOUNTED',
      `${input} has mounted volumes (${points.join(', ')}); unmount them first (umount ${points.join(' ')}), or give the mounted volume directory as --target to write into it without formatting`,
      { target: input, mountPoints: points },
    );
  }
  const sizeBytes = view.sys.sizeBytes(node.name) ?? 0;
  if (view.sys.readOnly(node.name))
    throw refuse('TARGET_READ_ONLY', `${input} is a read-only device; check the disk's write-protect switch or blockdev --setrw ${input}`, { target: input });
  if (sizeBytes < MIN_TARGET_BYTES) {
    throw refuse('TARGET_TOO_SMALL', `${input} holds ${sizeBytes} bytes; a drive for import needs at least ${MIN_TARGET_BYTES} bytes`, {
      target: input,
      sizeBytes,
      minBytes: MIN_TARGET_BYTES,
    });
  }
  return {
    kind: 'disk',
    input,
    path: `/dev/${node.name}`,
    identity: `dev:${majMin}`,
    name: node.name,
    sizeBytes,
    readOnly: false,
    partitions: view.sys.partitions(node.name),
  };
}

/**
 * Classifies every target and refuses duplicates: the same string twice, two names for one device
 * (a /dev/disk/by-id link and /dev/sdb), or a volume directory on a disk also given whole.
 */
export function classifyTargets(inputs: string[], view: SystemView = readSystemView(), platform: NodeJS.Platform = process.platform): Target[] {
  const seen = new Map<string, string>();
  const out: Target[] = [];
  for (const input of inputs) {
    const t = classifyTarget(input, view, platform);
    const keys = [t.identity];
    if (t.kind === 'volume' && t.source.startsWith('/dev/')) {
      const n = view.sys.nodeOfPath(t.source);
      if (n) keys.push(`dev:${view.sys.nodeOfPath(`/dev/${n.disk}`)?.majMin ?? n.disk}`);
    }
    for (const k of keys) {
      const prev = seen.get(k);
      if (prev !== undefined) {
        throw refuse('TARGET_DUPLICATE', `--target ${input} names the same ${t.kind === 'volume' ? 'volume' : 'disk'} as ${prev}; give each drive once`, {
          target: input,
          same: prev,
        });
      }
    }
    for (const k of keys) seen.set(k, input);
    out.push(t);
  }
  return out;
}

/**
 * The confirmation a destructive action (partition + format) needs. Interactive: the user types the
 * device name (`/dev/loop3` or `loop3`; `\\.\PhysicalDrive2` or `PhysicalDrive2`). Non-interactive (no prompter, or --yes): --yes AND the
 * target given exactly as its canonical device path, so that a glob or a stale by-id link cannot
 * wipe the wrong disk.
 */
export async function confirmFormat(targets: Target[], opts: { yes: boolean; prompter?: Prompter; describe?: (t: Target) => string }): Promise<void> {
  for (const t of targets) {
    if (!isWholeDisk(t)) continue;
    const what = opts.describe?.(t) ?? t.path;
    if (opts.yes) {
      if (t.input !== t.path) {
        throw refuse('TARGET_NOT_CONFIRMED', `--yes formats only targets named exactly: give --target ${t.path} instead of ${t.input}`, {
          target: t.input,
          exact: t.path,
        });
      }
      continue;
    }
    if (!opts.prompter) {
      throw refuse('TARGET_NOT_CONFIRMED', `Formatting ${t.path} erases it; confirm with --yes and --target ${t.path} (or run interactively)`, {
        target: t.input,
      });
    }
    const answer = await opts.prompter.ask(`ALL DATA ON ${what} WILL BE ERASED. Type the device name (${t.path}) to continue: `);
    const base = t.kind === 'disk' ? path.basename(t.path) : `PhysicalDrive${t.number}`;
    if (answer !== t.path && answer !== base) {
      throw refuse('TARGET_NOT_CONFIRMED', `${t.path} was not confirmed (typed "${answer}"); nothing was written`, { target: t.input });
    }
  }
}
