/**
 * Linux disk preparation: GPT with one Microsoft basic data partition, NTFS (mkntfs), and mounting
 * through ntfs-3g into a driveseed-owned directory. Azure imports only the FIRST data volume and it
 * must be NTFS (docs/prep.md). Every external tool failure is a DriveseedError naming the command,
 * its stderr and the fix; nothing here prints.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';

export const VOLUME_LABEL = 'DRIVESEED';
/** GPT type GUID of "Microsoft basic data" (sgdisk code 0700): what Windows and the import service mount. */
export const MS_BASIC_DATA = '0700';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Runs a tool synchronously (they are short: partitioning, mkntfs --fast, mount). */
export function runTool(cmd: string, args: string[], what: string, timeoutMs = 120_000): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DriveseedError(
      missing ? 'TOOL_MISSING' : 'TOOL_FAILED',
      missing
        ? `${what} needs ${cmd}, which is not installed (Debian: apt-get install ${toolPackage(cmd)})`
        : `${what}: ${cmd} could not run: ${r.error.message}`,
      {
        category: 'FAILED',
        details: { command: [cmd, ...args].join(' ') },
        cause: r.error,
      },
    );
  }
  if (r.status !== 0) {
    throw new DriveseedError(
      'TOOL_FAILED',
      `${what} failed: \`${[cmd, ...args].join(' ')}\` exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`,
      {
        category: 'FAILED',
        details: { command: [cmd, ...args].join(' '), status: r.status, stderr: r.stderr.slice(-2000) },
      },
    );
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

function toolPackage(cmd: string): string {
  return (
    (
      {
        sgdisk: 'gdisk',
        mkntfs: 'ntfs-3g',
        'ntfs-3g': 'ntfs-3g',
        partx: 'util-linux',
        wipefs: 'util-linux',
        blockdev: 'util-linux',
        blkid: 'util-linux',
      } as Record<string, string>
    )[cmd] ?? cmd
  );
}

/** The device node of partition 1 of a disk: /dev/sdb1, /dev/loop3p1, /dev/nvme0n1p1. */
export function firstPartitionPath(disk: string): string {
  return /\d$/.test(disk) ? `${disk}p1` : `${disk}1`;
}

function waitForNode(p: string, timeoutMs = 5000): void {
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(p)) {
    if (Date.now() > until) {
      throw new DriveseedError(
        'FORMAT_NO_PARTITION',
        `The kernel did not create ${p} after re-reading the partition table; for a loop device attach it with losetup -P, or run partx -a ${p.replace(/p?1$/, '')}`,
        { category: 'FAILED', details: { partition: p } },
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/** Start sector (512-byte units) of a partition, from sysfs; mkntfs records it in the boot sector. */
function partitionStart(part: string): number | undefined {
  try {
    return Number(fs.readFileSync(`/sys/class/block/${path.basename(part)}/start`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * Erases the partition table, creates one GPT partition spanning the disk (type Microsoft basic
 * data), re-reads it and formats it NTFS with mkntfs --fast. The caller holds no O_EXCL claim on
 * the disk while this runs (the tools open it themselves) but keeps its flock. Returns partition 1.
 */
export function partitionAndFormatNtfs(disk: string, label = VOLUME_LABEL): string {
  runTool('wipefs', ['--all', '--quiet', disk], `Erasing signatures on ${disk}`);
  runTool('sgdisk', ['--zap-all', disk], `Clearing the partition table of ${disk}`);
  runTool('sgdisk', ['-n', '1:0:0', '-t', `1:${MS_BASIC_DATA}`, '-c', `1:${label}`, disk], `Creating the GPT partition on ${disk}`);
  // BLKRRPART fails on a disk whose partitions are in use; partx -u updates the kernel's view anyway.
  // Seen here: BLKRRPART returning 0 on a loop device without the p1 node appearing; partx -u/-a
  // update the kernel's partition list either way.
  spawnSync('blockdev', ['--rereadpt', disk], { encoding: 'utf8' });
  const part = firstPartitionPath(disk);
  if (!fs.existsSync(part)) spawnSync('partx', ['-u', disk]);
  if (!fs.existsSync(part)) runTool('partx', ['-a', disk], `Re-reading the partition table of ${disk}`);
  waitForNode(part);
  const start = partitionStart(part);
  const geometry = start === undefined ? [] : ['-p', String(start), '-H', '255', '-S', '63'];
  runTool('mkntfs', ['--fast', '--label', label, '--quiet', ...geometry, part], `Formatting ${part} as NTFS`, 600_000);
  return part;
}

/** Filesystem type of a block device (blkid), or undefined when it has none. */
export function fsTypeOf(dev: string): string | undefined {
  const r = spawnSync('blkid', ['-o', 'value', '-s', 'TYPE', dev], { encoding: 'utf8' });
  const t = r.status === 0 ? r.stdout.trim() : '';
  return t || undefined;
}

/** A volume mounted by driveseed; release() syncs, unmounts and removes the mount directory. */
export interface OwnedMount {
  readonly dir: string;
  readonly device: string;
  release(): void;
}

const live = new Set<OwnedMount>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A thrown error or process.exit still unmounts; kill -9 cannot be caught, and the next prep's
  // journal resume remounts after `driveseed` finds its stale mount (see cleanupStaleMounts).
  process.on('exit', () => {
    for (const m of [...live]) m.release();
  });
}

/** Where driveseed mounts volumes it owns: one fresh directory per mount. */
export function mountRoot(): string {
  const root = process.getuid?.() === 0 && fs.existsSync('/run') ? '/run/driveseed/mnt' : path.join(os.tmpdir(), 'driveseed-mnt');
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  return root;
}

/**
 * Mounts an NTFS partition with ntfs-3g. big_writes lets FUSE pass 128 KiB+ writes (checked accepted
 * by ntfs-3g 2022.10.3); noatime avoids metadata writes on every read-back.
 */
export function mountNtfs(part: string, opts: { readOnly?: boolean } = {}): OwnedMount {
  return mountWith(
    part,
    opts.readOnly ? ['ntfs-3g', [part, '', '-o', 'ro,noatime']] : ['ntfs-3g', [part, '', '-o', 'big_writes,noatime']],
    opts.readOnly ? 'read-only, ntfs-3g' : 'ntfs-3g',
  );
}

/**
 * Mounts a partition read-only for `driveseed verify`: NTFS through ntfs-3g, anything else (ext4 in
 * tests) through mount(8) with `-o ro`.
 */
export function mountReadOnly(part: string): OwnedMount {
  if (fsTypeOf(part) === 'ntfs') return mountNtfs(part, { readOnly: true });
  return mountWith(part, ['mount', ['-o', 'ro,noatime', part, '']], 'read-only');
}

/** Runs the mount tool with the fresh directory put in place of the '' argument. */
function mountWith(part: string, [tool, args]: [string, string[]], what: string): OwnedMount {
  const dir = fs.mkdtempSync(path.join(mountRoot(), `${path.basename(part)}-`));
  try {
    runTool(
      tool,
      args.map((a) => (a === '' ? dir : a)),
      `Mounting ${part} (${what})`,
    );
  } catch (err) {
    fs.rmdirSync(dir);
    throw err;
  }
  let released = false;
  const m: OwnedMount = {
    dir,
    device: part,
    release() {
      if (released) return;
      spawnSync('sync', ['-f', dir]);
      const r = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (r.status !== 0) {
        // lazy unmount as a last resort so that no mount outlives us; the error still surfaces
        spawnSync('umount', ['-l', dir]);
      }
      released = true;
      live.delete(m);
      try {
        fs.rmdirSync(dir);
      } catch {
        /* not empty only if unmount failed; left for the operator, named in the error below */
      }
      if (r.status !== 0) {
        throw new DriveseedError('UNMOUNT_FAILED', `Unmounting ${dir} (${part}) failed: ${r.stderr.trim()}; it was detached lazily; check \`findmnt ${dir}\``, {
          category: 'FAILED',
          details: { dir, device: part },
        });
      }
    },
  };
  live.add(m);
  installExitHook();
  return m;
}

/**
 * Unmounts driveseed-owned mounts of `device` left by a killed process (mounts under mountRoot()).
 * Called only for a device this process has just claimed, so another driveseed's mounts are never touched.
 */
export function cleanupStaleMounts(device: string, mountInfoText = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const root = mountRoot();
  const out: string[] = [];
  for (const line of mountInfoText.split('\n')) {
    const [pre, post] = line.split(' - ');
    const mp = pre?.split(' ')[4];
    const source = post?.split(' ')[1];
    if (mp && source === device && mp.startsWith(root + '/') && spawnSync('umount', [mp]).status === 0) {
      out.push(mp);
      try {
        fs.rmdirSync(mp);
      } catch {
        /* leave it */
      }
    }
  }
  return out;
}
