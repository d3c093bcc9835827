/** `driveseed verify --target <t>... [--staging <dir>]` / RPC `verify` (src/core/verify.ts, docs/prep.md "Verify"). */
import { defineCommand } from '../core/command';
import { DriveseedError, usageError } from '../base/errors';
import { type VerifyOptions, type VerifyResult, verifyTargets } from '../core/verify';
import { formatBytes } from '../base/format';
import { cookStaging, stagingOption } from './options';

export interface VerifyRaw {
  target?: string[];
  staging?: string;
}

export const verifyCommand = defineCommand<VerifyRaw, VerifyOptions, VerifyResult>({
  name: 'verify',
  rpcMethod: 'verify',
  summary: 'Re-read prepared drives and check every block against their DriveManifest.xml; names every bad block',
  options: [
    {
      flags: '--target <t...>',
      name: 'target',
      description: 'a prepared drive: its device (/dev/sdX, mounted read-only for the check) or its mounted volume directory',
      type: 'string[]',
      required: true,
    },
    stagingOption('also compare each manifest with the one prep recorded for the job in this staging location', false),
  ],
  cook(raw) {
    const targets = raw.target ?? [];
    if (targets.length === 0) throw usageError('MISSING_OPTION', 'Give the drives to verify with --target <device or volume>...', { field: 'target' });
    // A target refusal like prep's (src/prep/targets.ts): same code, same category, exit 5.
    const twice = targets.find((t, i) => targets.indexOf(t) !== i);
    if (twice !== undefined) {
      throw new DriveseedError('TARGET_DUPLICATE', `--target lists ${twice} twice (${targets.join(', ')}); give each drive once`, {
        category: 'TARGET_REFUSED',
        details: { field: 'target', target: twice },
      });
    }
    return { targets, ...(raw.staging !== undefined ? { staging: cookStaging(raw.staging) } : {}) };
  },
  run: (o, ctx) => verifyTargets(o, ctx),
  exitCategory: (r) => (r.ok ? 'OK' : 'VERIFY_FAILED'),
  renderText(r) {
    const lines: string[] = [];
    for (const d of r.drives) {
      lines.push(
        `${d.target}: drive ${d.driveId || '?'}, ${d.blobs} files, ${d.blocks} blocks, ${formatBytes(d.bytes)} read: ${d.ok ? 'OK' : `${d.problems.length} problem(s)`}`,
      );
      for (const p of d.problems) lines.push(`  ${p.message}`);
    }
    lines.push(r.ok ? 'all drives verified' : `VERIFY FAILED: ${r.problems} problem(s); rerun prep with --format on the drives named above`);
    return lines.join('\n');
  },
});
