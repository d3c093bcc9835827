/**
 * `driveseed keys --staging <dir>` / RPC `keys.list`: the BitLocker recovery passwords of the drives
 * prep recorded (`<staging>/.prep/keys.json`, 0600), for the copy that must travel with the job.
 *
 * The one command whose result carries secrets in clear (returnsSecrets): it exists so that a script
 * can fetch the keys deliberately; every other response and line prints them as [redacted].
 */
import * as path from 'node:path';
import { defineCommand } from '../../core/command';
import { usageError } from '../../base/errors';
import { loadPreparedDrives } from '../../core/job';
import type { Secret } from '../../base/secret';

export interface KeysResult {
  staging: string;
  /** bitlocker or none, as prep recorded it */
  encryption: string;
  /** one entry per prepared drive; bitLockerKey is null when prep holds no key for it (--encryption none) */
  drives: Array<{ driveId: string; target: string | null; bitLockerKey: Secret | null }>;
}

export const keysCommand = defineCommand<{ staging?: string }, { staging: string }, KeysResult>({
  name: 'keys',
  rpcMethod: 'keys.list',
  summary: 'Show the BitLocker recovery passwords of the prepared drives (in clear: keep the output safe)',
  options: [{ flags: '--staging <dir>', name: 'staging', description: 'the staging location the drives were prepared from', type: 'string', required: true }],
  cook(raw) {
    if (!raw.staging) throw usageError('MISSING_OPTION', 'Give the staging location with --staging <dir>.', { field: 'staging' });
    return { staging: path.resolve(raw.staging) };
  },
  async run(o) {
    const { encryption, drives } = loadPreparedDrives(o.staging);
    return {
      staging: o.staging,
      encryption,
      drives: drives.map((d) => ({ driveId: d.driveId, target: d.target ?? null, bitLockerKey: d.bitLockerKey ?? null })),
    };
  },
  returnsSecrets: true,
  renderText: (r) =>
    r.drives.map((d) => `${d.driveId}${d.target ? ` (${d.target})` : ''}: ${d.bitLockerKey ? d.bitLockerKey.reveal() : 'no BitLocker key (not encrypted)'}`).join('\n'),
});
