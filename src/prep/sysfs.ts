/**
 * What Linux says about block devices and mounts: /proc/self/mountinfo, /proc/swaps and /sys/block.
 * Pure readers; every function takes the file text or a root so tests can feed recorded content.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MountEntry {
  /** "major:minor" of the mounted device as the kernel reports it (0:NN for FUSE and overlay) */
  majMin: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  /** the mount source, e.g. /dev/loop3p1, or "overlay"/"tmpfs" */
  source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)). */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const g = post.split(' ');
    out.push({
      majMin: f[2] ?? '',
      mountPoint: unescapeMount(f[4] ?? ''),
      options: (f[5] ?? '').split(','),
      fsType: g[0] ?? '',
      source: unescapeMount(g[1] ?? ''),
    });
  }
  return out;
}

/** The block devices and files in /proc/swaps. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => unescapeMount(l.split(/\s+/)[0] ?? ''))
    .filter((p) => p.length > 0);
}

/** major:minor of a dev_t as Node reports it in stat().rdev / .dev (glibc encoding). */
export function majMinOf(dev: number): string {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00);
  return `${major}:${minor}`;
}

export interface BlockNode {
  /** kernel name: loop3, loop3p1, sdb, sdb1, nvme0n1p2 */
  name: string;
  majMin: string;
  /** the whole disk's kernel name (itself for a disk) */
  disk: string;
  isPartition: boolean;
}

export class SysBlock {
  constructor(readonly sysRoot = '/sys') {}

  /** Resolves "major:minor" to its kernel block node, or undefined when sysfs does not know it. */
  node(majMin: string): BlockNode | undefined {
    let real: string;
    try {
      real = fs.realpathSync(path.join(this.sysRoot, 'dev', 'block', majMin));
    } catch {
      return undefined;
    }
    const name = path.basename(real);
    const isPartition = fs.existsSync(path.join(real, 'partition'));
    return { name, majMin, disk: isPartition ? path.basename(path.dirname(real)) : name, isPartition };
  }

  /** A device path (/dev/…) to its node; undefined when it is not a block device. */
  nodeOfPath(p: string): BlockNode | undefined {
    try {
      const st = fs.statSync(p);
      return st.isBlockDevice() ? this.node(majMinOf(st.rdev)) : undefined;
    } catch {
      return undefined;
    }
  }

  partitions(disk: string): string[] {
    const dir = path.join(this.sysRoot, 'block', disk);
    try {
      return fs
        .readdirSync(dir)
        .filter((n) => n.startsWith(disk) && fs.existsSync(path.join(dir, n, 'partition')))
        .sort();
    } catch {
      return [];
    }
  }

  private attr(name: string, attr: string): string | undefined {
    const disk = this.node(this.majMinOfName(name) ?? '')?.disk ?? name;
    const candidates = disk === name ? [path.join(this.sysRoot, 'block', name, attr)] : [path.join(this.sysRoot, 'block', disk, name, attr)];
    for (const c of candidates) {
      try {
        return fs.readFileSync(c, 'utf8').trim();
      } catch {
        /* next */
      }
    }
    return undefined;
  }

  private majMinOfName(name: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.sysRoot, 'class', 'block', name, 'dev'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  /** capacity in bytes (sysfs counts 512-byte units whatever the sector size) */
  sizeBytes(name: string): number | undefined {
    const s = this.attr(name, 'size');
    return s === undefined ? undefined : Number(s) * 512;
  }

  readOnly(name: string): boolean {
    return this.attr(name, 'ro') === '1';
  }
}
