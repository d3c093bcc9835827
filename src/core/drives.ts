/**
 * Candidate disks for `driveseed drives` and RPC `drives.list`: what a person needs to pick the right
 * disk — path, size, model, serial, bus, partitions, mounted volumes, removable, read-only, and
 * whether it holds the running system.
 *
 *  - Linux: `lsblk -J -b -o …` (util-linux ≥ 2.37 for MOUNTPOINTS; 2.38 here), falling back to
 *    /sys/block + /proc/self/mountinfo when lsblk is missing or fails. Attached loop devices are
 *    listed (the virtual disks of the demo and the tests); zram/ram disks and optical drives are not.
 *  - Windows: Get-Disk, Get-Partition and Get-Volume through PowerShell (src/core/drives-windows.ts),
 *    run by the same PowerShell as prep ($DRIVESEED_POWERSHELL, else powershell.exe).
 *
 * A disk "holds the running system" when it (or a partition, or anything stacked on it) is mounted at
 * /, /boot, /boot/efi, /efi or /usr, or holds active swap; on Windows when Get-Disk says IsBoot or
 * IsSystem. The rule (SYSTEM_MOUNTS, systemDisks) and the mountinfo/swaps parsing are prep's
 * (src/prep/targets.ts, src/prep/sysfs.ts): prep refuses exactly the disks this list marks.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { parseMountInfo, parseSwaps } from '../prep/sysfs';
import { SYSTEM_MOUNTS, readSystemView, systemDisks } from '../prep/targets';
import { WINDOWS_SCRIPT, parseWindowsStorage } from './drives-windows';

export { WINDOWS_SCRIPT, parseWindowsStorage } from './drives-windows';

export interface PartitionInfo {
  path: string;
  sizeBytes: number;
  fsType?: string;
  label?: string;
  /** where it (or a volume stacked on it: LVM, dm-crypt) is mounted; "[SWAP]" for swap */
  mountpoints: string[];
}

export interface DiskInfo {
  /** what to pass as --target: /dev/sdb, /dev/loop3, \\.\PhysicalDrive2 */
  path: string;
  /** kernel name (sdb, loop3) or the Windows disk number as a string */
  name: string;
  sizeBytes: number;
  model?: string;
  serial?: string;
  /** usb, sata, nvme, sas, virtio, loop, … (lower case); undefined when the system does not say */
  bus?: string;
  type: 'disk' | 'loop';
  removable: boolean;
  readOnly: boolean;
  /** true when the disk holds the running system; `systemReasons` says why */
  system: boolean;
  systemReasons: string[];
  partitions: PartitionInfo[];
  /** filesystems mounted from the whole disk itself (no partition table) */
  mountpoints: string[];
  /** loop devices: the image file behind it */
  backingFile?: string;
}

// ─── Linux: lsblk ──────────────────────────────────────────────────────────────────────────────

export const LSBLK_ARGS = ['-J', '-b', '-o', 'NAME,PATH,SIZE,MODEL,SERIAL,TRAN,TYPE,MOUNTPOINTS,PKNAME,RO,RM,FSTYPE,LABEL'];

interface LsblkNode {
  name?: string;
  path?: string;
  size?: number | string | null;
  model?: string | null;
  serial?: string | null;
  tran?: string | null;
  type?: string;
  mountpoints?: Array<string | null> | null;
  /** older lsblk (< 2.37) has only MOUNTPOINT */
  mountpoint?: string | null;
  ro?: boolean | string | number;
  rm?: boolean | string | number;
  fstype?: string | null;
  label?: string | null;
  children?: LsblkNode[];
}

const flag = (v: unknown): boolean => v === true || v === '1' || v === 1;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0);

function mountsOf(n: LsblkNode): string[] {
  const list = n.mountpoints ?? (n.mountpoint !== undefined ? [n.mountpoint] : []);
  return list.filter((m): m is string => typeof m === 'string' && m !== '');
}

/** every mountpoint of a node and of everything stacked on it (partitions → LVM → dm-crypt …) */
function deepMounts(n: LsblkNode): string[] {
  return [...mountsOf(n), ...(n.children ?? []).flatMap(deepMounts)];
}

function busOf(n: LsblkNode, name: string): string | undefined {
  const tran = str(n.tran);
  if (tran) return tran.toLowerCase();
  if (n.type === 'loop') return 'loop';
  if (/^vd[a-z]+$/.test(name)) return 'virtio';
  if (/^nvme\d/.test(name)) return 'nvme';
  if (/^xvd[a-z]+$/.test(name)) return 'xen';
  return undefined;
}

/** Parses lsblk's JSON (tree form, -b for bytes) into candidate disks. Pure: tests feed recorded output. */
export function parseLsblk(json: string, extraSystemDisks: ReadonlySet<string> = new Set()): DiskInfo[] {
  let doc: { blockdevices?: LsblkNode[] };
  try {
    doc = JSON.parse(json) as { blockdevices?: LsblkNode[] };
  } catch (e) {
    throw new DriveseedError('DRIVES_PARSE', `Could not parse the output of lsblk: ${(e as Error).message}`, { category: 'FAILED' });
  }
  const out: DiskInfo[] = [];
  for (const n of doc.blockdevices ?? []) {
    const name = str(n.name) ?? '';
    if ((n.type !== 'disk' && n.type !== 'loop') || /^(z?ram)\d/.test(name)) continue;
    const size = num(n.size);
    if (size === 0) continue; // a detached loop device or an empty card reader slot
    const reasons: string[] = [];
    for (const m of deepMounts(n)) {
      if (SYSTEM_MOUNTS.has(m)) reasons.push(`${m} is mounted from it`);
      else if (m === '[SWAP]') reasons.push('it holds active swap');
    }
    if (extraSystemDisks.has(name) && reasons.length === 0) reasons.push('it holds a system mount or swap (mountinfo)');
    const partitions: PartitionInfo[] = (n.children ?? [])
      .filter((c) => c.type === 'part')
      .map((c) => {
        const p: PartitionInfo = { path: str(c.path) ?? `/dev/${c.name}`, sizeBytes: num(c.size), mountpoints: deepMounts(c) };
        const fsType = str(c.fstype);
        const label = str(c.label);
        if (fsType) p.fsType = fsType;
        if (label) p.label = label;
        return p;
      });
    const disk: DiskInfo = {
      path: str(n.path) ?? `/dev/${name}`,
      name,
      sizeBytes: size,
      type: n.type === 'loop' ? 'loop' : 'disk',
      removable: flag(n.rm),
      readOnly: flag(n.ro),
      system: reasons.length > 0,
      systemReasons: reasons,
      partitions,
      mountpoints: [...mountsOf(n), ...(n.children ?? []).filter((c) => c.type !== 'part').flatMap(deepMounts)],
    };
    const model = str(n.model);
    const serial = str(n.serial);
    const bus = busOf(n, name);
    if (model) disk.model = model;
    if (serial) disk.serial = serial;
    if (bus) disk.bus = bus;
    out.push(disk);
  }
  return out;
}

// ─── Linux: sysfs fallback ─────────────────────────────────────────────────────────────────────

function readTrim(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Mountpoints by "major:minor" and by /dev source (FUSE mounts report 0:NN), plus "[SWAP]" for active swap devices. */
export function mountsByDevice(mountinfo: string, swaps: string): { byMajMin: Map<string, string[]>; bySource: Map<string, string[]> } {
  const byMajMin = new Map<string, string[]>();
  const bySource = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const m of parseMountInfo(mountinfo)) {
    add(byMajMin, m.majMin, m.mountPoint);
    if (m.source.startsWith('/dev/')) add(bySource, m.source, m.mountPoint);
  }
  for (const dev of parseSwaps(swaps)) if (dev.startsWith('/dev/')) add(bySource, dev, '[SWAP]');
  return { byMajMin, bySource };
}

/** Builds the lsblk-shaped tree from sysfs, so that one parser serves both sources. */
export function lsblkFromSysfs(sysRoot = '/sys', procRoot = '/proc'): string {
  const { byMajMin, bySource } = mountsByDevice(readTrim(path.join(procRoot, 'self', 'mountinfo')) ?? '', readTrim(path.join(procRoot, 'swaps')) ?? '');
  const mountsFor = (name: string, dir: string) => {
    const mm = readTrim(path.join(dir, 'dev')) ?? '';
    return [...new Set([...(byMajMin.get(mm) ?? []), ...(bySource.get(`/dev/${name}`) ?? [])])];
  };
  const nodes: LsblkNode[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(sysRoot, 'block')).sort();
  } catch {
    /* no sysfs: no disks */
  }
  for (const name of names) {
    const dir = path.join(sysRoot, 'block', name);
    const isLoop = name.startsWith('loop');
    // holders (dm, md) are stacked devices: their mounts count for the disk under them
    const holders = (d: string): string[] => {
      let hs: string[] = [];
      try {
        hs = fs.readdirSync(path.join(d, 'holders'));
      } catch {
        /* none */
      }
      return hs.flatMap((h) => mountsFor(h, path.join(sysRoot, 'block', h)));
    };
    let parts: string[] = [];
    try {
      parts = fs.readdirSync(dir).filter((n) => n.startsWith(name) && fs.existsSync(path.join(dir, n, 'partition')));
    } catch {
      /* unreadable */
    }
    const sectors = (d: string) => Number(readTrim(path.join(d, 'size')) ?? '0') * 512; // sysfs counts 512-byte units
    nodes.push({
      name,
      path: `/dev/${name}`,
      size: sectors(dir),
      model: readTrim(path.join(dir, 'device', 'model')) ?? null,
      serial: readTrim(path.join(dir, 'device', 'serial')) ?? readTrim(path.join(dir, 'serial')) ?? null,
      tran: null,
      type: isLoop ? 'loop' : readTrim(path.join(dir, 'device', 'type')) === '5' ? 'rom' : 'disk',
      mountpoints: [...mountsFor(name, dir), ...holders(dir)],
      ro: readTrim(path.join(dir, 'ro')) === '1',
      rm: readTrim(path.join(dir, 'removable')) === '1',
      children: parts.sort().map((p) => ({
        name: p,
        path: `/dev/${p}`,
        size: sectors(path.join(dir, p)),
        type: 'part',
        mountpoints: [...mountsFor(p, path.join(dir, p)), ...holders(path.join(dir, p))],
      })),
    });
  }
  return JSON.stringify({ blockdevices: nodes });
}

// ─── live listing ──────────────────────────────────────────────────────────────────────────────

function run(cmd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000, windowsHide: true, signal }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve(stdout);
    });
  });
}

export interface ListDisksOptions {
  signal?: AbortSignal;
  /** where the list came from, for the result (lsblk, sysfs, powershell) */
  onSource?(source: 'lsblk' | 'sysfs' | 'powershell', note?: string): void;
}

/** Lists the candidate disks of this machine. */
export async function listDisks(opts: ListDisksOptions = {}): Promise<DiskInfo[]> {
  if (process.platform === 'win32') {
    let out: string;
    try {
      // prep's PowerShell, so that DRIVESEED_POWERSHELL picks the same one for both
      const { powerShellFile } = await import('../prep/powershell-scripts');
      out = await run(powerShellFile(), ['-NoProfile', '-NonInteractive', '-Command', WINDOWS_SCRIPT], opts.signal);
    } catch (e) {
      const err = e as { message?: string; stderr?: string; code?: unknown };
      throw new DriveseedError(
        'DRIVES_UNAVAILABLE',
        `Could not list disks with Get-Disk (powershell): ${(err.stderr || err.message || '').trim().split('\n')[0]}; run driveseed as an administrator on Windows 8/Server 2012 or later`,
        {
          category: 'FAILED',
          cause: e,
        },
      );
    }
    opts.onSource?.('powershell');
    return parseWindowsStorage(out);
  }
  if (process.platform !== 'linux') {
    throw new DriveseedError('DRIVES_UNSUPPORTED', `Listing disks is implemented for Linux and Windows, not ${process.platform}`, { category: 'FAILED' });
  }
  const extra = linuxSystemDisks();
  let disks: DiskInfo[];
  try {
    disks = parseLsblk(await run('lsblk', LSBLK_ARGS, opts.signal), extra);
    opts.onSource?.('lsblk');
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') throw e;
    disks = parseLsblk(lsblkFromSysfs(), extra);
    opts.onSource?.('sysfs', `lsblk failed (${String((e as Error).message).split('\n')[0]}); read /sys/block and /proc/self/mountinfo instead`);
  }
  for (const d of disks) {
    if (d.type === 'loop') {
      const back = readTrim(path.join('/sys/block', d.name, 'loop', 'backing_file'));
      if (back) d.backingFile = back;
    }
  }
  return disks;
}

/** The system disks by prep's rule (mountinfo by device number: catches what lsblk shows under other names, FUSE sources). */
function linuxSystemDisks(): Set<string> {
  try {
    return systemDisks(readSystemView());
  } catch {
    return new Set();
  }
}
