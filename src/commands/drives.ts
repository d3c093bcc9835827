/** `driveseed drives` / RPC `drives.list`: the disks this machine could prepare, and which to avoid. */
import { defineCommand } from '../core/command';
import { type DiskInfo, listDisks } from '../core/drives';
import { formatBytes } from '../base/format';

export interface DrivesResult {
  /** where the list came from: lsblk, sysfs (lsblk failed) or powershell */
  source: string;
  note?: string;
  disks: DiskInfo[];
}

export const drivesCommand = defineCommand<Record<string, unknown>, Record<string, never>, DrivesResult>({
  name: 'drives',
  rpcMethod: 'drives.list',
  summary: 'List the disks (with size, model, serial, bus, partitions and mounts) and mark the one that holds the system',
  options: [],
  cook: () => ({}),
  async run(_o, ctx) {
    let source = 'unknown';
    let note: string | undefined;
    const disks = await listDisks({
      signal: ctx.signal,
      onSource: (s, n) => {
        source = s;
        note = n;
        if (n) ctx.reporter.warning('DRIVES_FALLBACK', n);
      },
    });
    return note ? { source, note, disks } : { source, disks };
  },
  renderText: (r) => renderDisks(r.disks),
});

export function renderDisks(disks: DiskInfo[]): string {
  if (disks.length === 0) return 'No disks found.';
  const lines: string[] = [];
  for (const d of disks) {
    const what = [d.model, d.serial && `serial ${d.serial}`, d.bus].filter(Boolean).join(', ');
    const flags = [d.removable && 'removable', d.readOnly && 'read-only', d.system && 'SYSTEM DISK'].filter(Boolean).join(', ');
    lines.push(`${d.path}  ${formatBytes(d.sizeBytes)}${what ? `  ${what}` : ''}${flags ? `  [${flags}]` : ''}`);
    if (d.backingFile) lines.push(`    image file: ${d.backingFile}`);
    if (d.system) lines.push(`    not a target: ${d.systemReasons.join('; ')}`);
    if (d.mountpoints.length) lines.push(`    mounted at ${d.mountpoints.join(', ')}`);
    for (const p of d.partitions) {
      const desc = [p.fsType, p.label && `"${p.label}"`].filter(Boolean).join(' ');
      lines.push(
        `    ${p.path}  ${formatBytes(p.sizeBytes)}${desc ? `  ${desc}` : ''}${p.mountpoints.length ? `  mounted at ${p.mountpoints.join(', ')}` : ''}`,
      );
    }
  }
  return lines.join('\n');
}
