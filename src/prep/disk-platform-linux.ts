/**
 * Linux DiskPlatform: targets from /proc/self/mountinfo and /sys/block (src/prep/targets.ts), claims
 * by O_EXCL + flock (src/prep/native.ts), GPT + mkntfs and the ntfs-3g mount (src/prep/format.ts).
 * BitLocker cannot be created here: the only key is the one of a dislocker-unlocked drive, given in
 * --bitlocker-key-file (src/prep/encryption.ts).
 */
import * as fs from 'node:fs';
import { DriveseedError } from '../base/errors';
import type { Secret } from '../base/secret';
import type { EncryptionDecision } from './encryption';
import { cleanupStaleMounts, firstPartitionPath, fsTypeOf, mountNtfs, partitionAndFormatNtfs } from './format';
import { claimTarget, targetInfo, type TargetLock } from './native';
import { estimateFormattedFree, type Claim, type DiskPlatform, type PlatformContext, type PrepVolume } from './platform';
import type { DriveFacts } from './service-rules';
import { SysBlock } from './sysfs';
import { classifyTargets, type Target } from './targets';

/** A disk behind USB (its sysfs device path runs through a USB host): fine for preparing, not for shipping. */
function isUsb(disk: string): boolean {
  try {
    return fs.realpathSync(`/sys/block/${disk}/device`).includes('/usb');
  } catch {
    return false;
  }
}

function statfsFree(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The exclusive claim on a target; released and retaken around the tools that open the disk themselves. */
class LinuxClaim implements Claim {
  constructor(public lock: TargetLock | undefined) {}
  release(): void {
    this.lock?.release();
    this.lock = undefined;
  }
}

export class LinuxPlatform implements DiskPlatform {
  readonly name = 'linux' as const;

  /** flock on /run/driveseed/disk-<maj>_<min>.lock for each block-device target, after removing stale driveseed mounts of it. */
  preclaim(inputs: string[]): Claim[] {
    return inputs.map((t) => claimDiskFlock(t)).filter((x): x is TargetLock => x !== undefined);
  }

  async inspect(inputs: string[]): Promise<Target[]> {
    return classifyTargets(inputs);
  }

  lock(t: Target): Claim {
    return new LinuxClaim(claimTarget(t));
  }

  planSpace(t: Target, format: boolean): number {
    if (t.kind === 'disk') {
      if (!format && fsTypeOf(firstPartitionPath(t.path)) !== 'ntfs') {
        throw new DriveseedError('PREP_NEEDS_FORMAT', `${t.input} has no NTFS volume; give --format to partition and format it (this erases it)`, {
          category: 'USAGE',
          details: { target: t.input },
        });
      }
      return estimateFormattedFree(t.sizeBytes);
    }
    if (t.kind === 'volume') {
      if (format)
        throw new DriveseedError('PREP_FORMAT_VOLUME', `--format takes whole disks; ${t.input} is a mounted volume (give its disk, unmounted, to format it)`, {
          category: 'USAGE',
          details: { target: t.input },
        });
      return statfsFree(t.path);
    }
    throw new DriveseedError('PREP_PLATFORM', `${t.input} is a Windows target; run driveseed on Windows to prepare it`, {
      category: 'USAGE',
      details: { target: t.input },
    });
  }

  driveFacts(t: Target, format: boolean): DriveFacts {
    if (t.kind === 'disk') {
      const info = targetInfo(t.path);
      // prep writes the first partition: the one it creates with --format, else the disk's first
      const fileSystem = format ? 'ntfs' : (fsTypeOf(firstPartitionPath(t.path)) ?? '');
      return { input: t.input, serial: info.serial, logicalSectorSize: info.logicalSectorSize, fileSystem, firstVolume: true, usb: isUsb(t.name) };
    }
    if (t.kind === 'volume') {
      const sys = new SysBlock();
      const n = t.source.startsWith('/dev/') ? sys.nodeOfPath(t.source) : undefined;
      if (!n) return { input: t.input, serial: null, fileSystem: t.fsType };
      const info = targetInfo(`/dev/${n.disk}`);
      const first = sys.partitions(n.disk)[0];
      return {
        input: t.input,
        serial: info.serial,
        logicalSectorSize: info.logicalSectorSize,
        fileSystem: t.fsType,
        firstVolume: !n.isPartition || first === n.name,
        usb: isUsb(n.disk),
      };
    }
    return { input: t.input, serial: null };
  }

  describe(t: Target): string {
    return t.path;
  }

  async format(t: Target, claim: Claim, ctx: PlatformContext): Promise<void> {
    if (t.kind !== 'disk') throw new TypeError(`format takes a disk, got ${t.kind}`);
    const c = claim as LinuxClaim;
    ctx.reporter.info(`Partitioning ${t.path} (GPT) and formatting it NTFS`);
    c.release(); // the tools open the disk themselves; the flock-less window is the tool run only
    partitionAndFormatNtfs(t.path);
    c.lock = claimTarget(t);
  }

  async mount(t: Target, claim: Claim): Promise<PrepVolume> {
    if (t.kind === 'disk') {
      const serial = targetInfo(t.path).serial;
      const part = firstPartitionPath(t.path);
      cleanupStaleMounts(part);
      // The O_EXCL claim on the disk would make the partition's mount fail with EBUSY; from here
      // on our own mount keeps other claimants (mkfs, another driveseed) out of the disk.
      claim.release();
      const m = mountNtfs(part);
      return { target: t, root: m.dir, serial, freeBytes: () => statfsFree(m.dir), release: () => m.release() };
    }
    if (t.kind === 'volume') {
      const n = t.source.startsWith('/dev/') ? new SysBlock().nodeOfPath(t.source) : undefined;
      const serial = n ? targetInfo(`/dev/${n.disk}`).serial : null;
      return { target: t, root: t.path, serial, freeBytes: () => statfsFree(t.path), release: () => undefined };
    }
    throw new TypeError(`mount takes a Linux disk or volume, got ${t.kind}`);
  }

  /** Nothing to turn on here: the key, if any, is the dislocker drive's from --bitlocker-key-file. */
  async encrypt(_v: PrepVolume, enc: EncryptionDecision): Promise<Secret | undefined> {
    return enc.key;
  }

  async finish(): Promise<void> {
    /* nothing to wait for: no BitLocker conversion runs on Linux */
  }
}

/** flock on the disk (O_EXCL-free: a lock file) for a block-device target, after removing stale driveseed mounts of it. */
function claimDiskFlock(input: string): TargetLock | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(input);
  } catch {
    return undefined;
  }
  if (!st.isBlockDevice()) return undefined;
  const node = new SysBlock().nodeOfPath(input);
  if (!node || node.isPartition) return undefined;
  const lock = claimTarget({ kind: 'volume', input, path: input, identity: `disk:${node.majMin}`, fsType: '', source: '', readOnly: false });
  cleanupStaleMounts(firstPartitionPath(`/dev/${node.name}`));
  return lock;
}
