/** `driveseed repair --staging <dir> [--full]` / RPC `repair` (src/core/repair.ts). */
import { defineCommand } from '../core/command';
import { type RepairOptions, type RepairResult, repair } from '../core/repair';
import { formatBytes, formatDuration } from '../base/format';
import { cookStaging, stagingOption } from './options';

export interface RepairRaw {
  staging?: string;
  full?: boolean;
}

export const repairCommand = defineCommand<RepairRaw, RepairOptions, RepairResult>({
  name: 'repair',
  rpcMethod: 'repair',
  summary: 'Re-upload from staging exactly the blobs and blocks the import missed or damaged (what RepairImport does), then verify them',
  options: [
    stagingOption('the staging location the drives were prepared from (it must still hold the data)'),
    { flags: '--full', name: 'full', description: 'verify the whole container first instead of using what the last complete found', type: 'boolean' },
  ],
  cook(raw) {
    return { staging: cookStaging(raw.staging), full: raw.full === true };
  },
  run: (o, ctx) => repair(o, ctx),
  claims: (o) => [o.staging],
  exitCategory: (r) => (r.ok ? 'OK' : 'VERIFY_FAILED'),
  renderText(r) {
    const lines = [
      `repaired ${r.repaired.length} blob(s) in ${r.container}, sent ${formatBytes(r.bytesSent)} in ${formatDuration(r.seconds)} (problems from the ${r.source === 'report' ? 'last complete' : 'verification just run'})`,
    ];
    for (const b of r.repaired)
      lines.push(`  ${b.blobPath}: ${b.mode === 'blob' ? 'whole blob' : `${b.blocksSent} block(s)`} re-uploaded (${formatBytes(b.bytesSent)})`);
    for (const p of r.problems) lines.push(`  still wrong: ${p.message}`);
    lines.push(`next: ${r.next}`);
    return lines.join('\n');
  },
});
