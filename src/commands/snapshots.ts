/** `driveseed snapshots --staging <dir> [--cloud]` / RPC `snapshots.list` (src/core/snapshots.ts). */
import { defineCommand } from '../core/command';
import { cookPassphrase } from '../core/passphrase';
import { type SnapshotsOptions, type SnapshotsResult, listSnapshots } from '../core/snapshots';
import { formatBytes } from '../base/format';
import { cookStaging, passphraseOptions, stagingOption } from './options';

export interface SnapshotsRaw {
  staging?: string;
  cloud?: boolean;
  passphraseFile?: string;
  passphrase?: string;
}

export const snapshotsCommand = defineCommand<SnapshotsRaw, SnapshotsOptions, SnapshotsResult>({
  name: 'snapshots',
  rpcMethod: 'snapshots.list',
  summary: 'List the snapshots (id, date, host, files, size, new data) of the staging repository or, with --cloud, of the repository in Azure',
  options: [
    stagingOption('the staging location (with --cloud: whose settings name the account and container)'),
    { flags: '--cloud', name: 'cloud', description: 'list the repository in the Azure container instead of the local one', type: 'boolean' },
    ...passphraseOptions,
  ],
  cook(raw, ctx) {
    return { staging: cookStaging(raw.staging), cloud: raw.cloud === true, passphrase: cookPassphrase(raw, ctx.env) };
  },
  run: (o, ctx) => listSnapshots(o, ctx),
  renderText(r) {
    if (!r.snapshots.length) return `No snapshots in ${r.location}.`;
    const rows = r.snapshots.map((s) => [
      s.id.slice(0, 12),
      s.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      s.host,
      String(s.files),
      formatBytes(s.bytes),
      formatBytes(s.bytesNew),
      s.sources.join(', '),
    ]);
    const head = ['ID', 'TIME (UTC)', 'HOST', 'FILES', 'SIZE', 'NEW', 'SOURCES'];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]!))).join('  ');
    return [`${r.snapshots.length} snapshots in ${r.location}`, line(head), ...rows.map(line)].join('\n');
  },
});
