/** `driveseed status --staging <dir> [--watch] [--interval <s>]` / RPC `status` (src/core/status.ts). */
import { defineCommand } from '../core/command';
import { usageError } from '../base/errors';
import { type StatusOptions, type StatusResult, status } from '../core/status';
import { renderJobView } from './render-job';
import { cookStaging, stagingOption } from './options';

export interface StatusRaw {
  staging?: string;
  watch?: boolean;
  interval?: number;
  logs?: boolean;
}

// 30 s: the real service updates a job a few times an hour; the emulator steps every 200 ms, so
// tests and the demo pass a smaller --interval.
const DEFAULT_INTERVAL_S = 30;

export const statusCommand = defineCommand<StatusRaw, StatusOptions, StatusResult>({
  name: 'status',
  rpcMethod: 'status',
  summary: "Show the import job: its status and stages, each disk's copy status in words, progress, and the blobs and blocks the service could not import",
  options: [
    stagingOption('the staging location whose settings name the job'),
    {
      flags: '--watch',
      name: 'watch',
      description: "poll until the job's status is final (Completed, CompletedWithErrors, Cancelled, Failed_…; Ctrl-C stops watching)",
      type: 'boolean',
    },
    { flags: '--interval <seconds>', name: 'interval', description: `seconds between polls with --watch (default ${DEFAULT_INTERVAL_S})`, type: 'number' },
    { flags: '--no-logs', name: 'logs', description: 'do not download and summarise the copy error logs', type: 'boolean' },
  ],
  cook(raw) {
    const interval = raw.interval ?? DEFAULT_INTERVAL_S;
    if (!Number.isFinite(interval) || interval < 0.05 || interval > 86400) {
      throw usageError('INVALID_OPTION', `Invalid --interval ${raw.interval}: expected seconds from 0.05 to 86400.`, {
        field: 'interval',
        value: raw.interval,
      });
    }
    return { staging: cookStaging(raw.staging), watch: raw.watch === true, intervalSeconds: interval, logs: raw.logs !== false };
  },
  run: (o, ctx) => status(o, ctx),
  // A status that was read is a success whatever the job's state: scripts read result.job.status and result.disks
  // (docs/workflow.md). Failures of the import are data here; `complete` is what fails on them.
  exitCategory: () => 'OK',
  renderText(r) {
    const lines = renderJobView(r.job, r.resourceGroup);
    for (const f of r.failures) {
      lines.push(`drive ${f.driveId}: ${f.status}${f.reason ? ` — ${f.reason}` : ''}; ${f.blobsFailed} blob(s) not imported (log: ${f.errorLogUri})`);
      for (const b of f.blobs)
        lines.push(`  ${b.blobPath} (${b.status}): ${b.reason}${b.blocksCancelled ? `; ${b.blocksCancelled} later block(s) not attempted` : ''}`);
      if (f.blobsFailed > f.blobs.length) lines.push(`  … and ${f.blobsFailed - f.blobs.length} more (see the log)`);
    }
    if (r.watch === 'interrupted') lines.push('(stopped watching)');
    lines.push(`next: ${r.next}`);
    return lines.join('\n');
  },
});
