/**
 * `driveseed keys --staging <dir> [--from-job]` / RPC `keys.list`: the BitLocker recovery passwords
 * of the prepared drives: by default the ones prep recorded (`<staging>/.prep/keys.json`, 0600);
 * with `--from-job`, the ones the import job holds (Jobs_ListCredentials), e.g. after the staging
 * location's records were lost, or to check that the job has the keys the drives were locked with.
 *
 * The one command whose result carries secrets in clear (returnsSecrets): it exists so that a script
 * can fetch the keys deliberately; every other response and line prints them as [redacted].
 */
import { defineCommand } from '../core/command';
import type { Secret } from '../base/secret';
import { jobKeys } from '../core/job';
import { readDriveKeys, readPreparedDrives } from '../core/staging-records';
import { cookEmulatorUrl, cookStaging, stagingOption } from './options';

export interface KeysResult {
  staging: string;
  /** where the keys came from: prep's record, or the import job */
  source: 'prep' | 'job';
  /** bitlocker or none, as prep recorded it (unknown when prep's record is missing and the keys come from the job) */
  encryption: string;
  /** one entry per drive; bitLockerKey is null when there is no key for it (--encryption none) */
  drives: Array<{ driveId: string; target: string | null; bitLockerKey: Secret | null }>;
}

export const keysCommand = defineCommand<
  { staging?: string; fromJob?: boolean; emulator?: string },
  { staging: string; fromJob: boolean; emulator?: string },
  KeysResult
>({
  name: 'keys',
  rpcMethod: 'keys.list',
  summary: 'Show the BitLocker recovery passwords of the prepared drives (in clear: keep the output safe)',
  options: [
    stagingOption('the staging location the drives were prepared from'),
    { flags: '--from-job', name: 'fromJob', description: "read the keys back from the import job (listCredentials) instead of prep's record", type: 'boolean' },
    {
      flags: '--emulator <url>',
      name: 'emulator',
      description: 'with --from-job: emulator ARM endpoint (default: the one saved with the job)',
      type: 'string',
    },
  ],
  cook(raw) {
    const emulator = cookEmulatorUrl(raw.emulator);
    return { staging: cookStaging(raw.staging), fromJob: raw.fromJob === true, ...(emulator ? { emulator } : {}) };
  },
  async run(o) {
    if (o.fromJob) {
      const keys = await jobKeys(o);
      const prepared = readPreparedDrives(o.staging);
      const targets = new Map((prepared?.drives ?? []).map((d) => [d.driveId, d.target ?? null]));
      return {
        staging: o.staging,
        source: 'job',
        encryption: prepared?.encryption ?? 'unknown',
        drives: [...keys].map(([driveId, key]) => ({ driveId, target: targets.get(driveId) ?? null, bitLockerKey: key })),
      };
    }
    const { encryption, drives } = readPreparedDrives(o.staging, { required: true });
    const keys = readDriveKeys(o.staging);
    return {
      staging: o.staging,
      source: 'prep',
      encryption,
      drives: drives.map((d) => ({ driveId: d.driveId, target: d.target ?? null, bitLockerKey: keys.get(d.driveId) ?? null })),
    };
  },
  returnsSecrets: true,
  renderText: (r) =>
    r.drives
      .map((d) => `${d.driveId}${d.target ? ` (${d.target})` : ''}: ${d.bitLockerKey ? d.bitLockerKey.reveal() : 'no BitLocker key (not encrypted)'}`)
      .join('\n'),
});
