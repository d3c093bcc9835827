/** `driveseed complete --staging <dir>` / RPC `complete` (src/core/complete.ts). */
import { defineCommand } from '../core/command';
import { type CompleteOptions, type CompleteResult, complete } from '../core/complete';
import { formatBytes, formatDuration } from '../base/format';
import { cookStaging, stagingOption } from './options';

export interface CompleteRaw {
  staging?: string;
}

/** At most this many problems in the text summary; the JSON result and .prep/complete-report.json have all. */
const TEXT_PROBLEMS = 50;

export const completeCommand = defineCommand<CompleteRaw, CompleteOptions, CompleteResult>({
  name: 'complete',
  rpcMethod: 'complete',
  summary: 'After the import: verify every blob against the drive manifests and record the seed as complete (backups then go over the network)',
  options: [stagingOption('the staging location the drives were prepared from')],
  cook(raw) {
    return { staging: cookStaging(raw.staging) };
  },
  run: (o, ctx) => complete(o, ctx),
  claims: (o) => [o.staging],
  exitCategory: (r) => (r.ok ? 'OK' : 'VERIFY_FAILED'),
  renderText(r) {
    const head = `verified ${r.blobs} blobs, ${r.blocks} blocks, ${formatBytes(r.bytes)} in ${r.account}/${r.container} in ${formatDuration(r.seconds)} (job ${r.job} ${r.jobState})`;
    if (r.ok) return [head, `seed complete at ${r.completedAt}`, `next: ${r.next}`].join('\n');
    const lines = [head, `${r.problems.length} problem(s):`];
    for (const p of r.problems.slice(0, TEXT_PROBLEMS)) lines.push(`  ${p.message}`);
    if (r.problems.length > TEXT_PROBLEMS) lines.push(`  … and ${r.problems.length - TEXT_PROBLEMS} more (see --json or .prep/complete-report.json)`);
    lines.push(`next: ${r.next}`);
    return lines.join('\n');
  },
});
