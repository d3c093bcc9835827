/** `driveseed stage <source>... --staging <dir> --job <name> …` / RPC `stage` (src/core/stage.ts). */
import * as path from 'node:path';
import { defineCommand } from '../core/command';
import { usageError } from '../base/errors';
import { cookPassphrase } from '../core/passphrase';
import {
  readSettings,
  validateAccount,
  validateContainer,
  validateJobName,
  validateLocation,
  validateResourceGroup,
  validateSubscription,
} from '../core/settings';
import { type StageOptions, type StageResult, checkStagePaths, stage } from '../core/stage';
import { cookStaging, defaultThreads, intOption, passphraseOptions, stagingOption } from './options';

export interface StageRaw {
  sources?: string[];
  staging?: string;
  job?: string;
  account?: string;
  container?: string;
  subscription?: string;
  resourceGroup?: string;
  location?: string;
  passphraseFile?: string;
  passphrase?: string;
  level?: number;
  threads?: number;
  scan?: boolean;
  readAll?: boolean;
}

export const stageCommand = defineCommand<StageRaw, StageOptions, StageResult>({
  name: 'stage',
  rpcMethod: 'stage',
  summary: 'Back source trees up into the staging repository (encrypted, compressed, deduplicated)',
  args: [{ name: 'sources', label: 'source', description: 'directories or files to back up', variadic: true, required: true }],
  options: [
    stagingOption('the staging location (created when missing)'),
    {
      flags: '--job <name>',
      name: 'job',
      description: 'Azure Import/Export job name (3-24 lowercase letters, digits, hyphens); saved for prep',
      type: 'string',
    },
    { flags: '--account <name>', name: 'account', description: 'storage account name (3-24 lowercase letters and digits)', type: 'string' },
    { flags: '--container <name>', name: 'container', description: 'blob container (3-63 lowercase letters, digits, single hyphens)', type: 'string' },
    { flags: '--subscription <id>', name: 'subscription', description: 'Azure subscription id (GUID)', type: 'string' },
    { flags: '--resource-group <name>', name: 'resourceGroup', description: 'resource group of the storage account', type: 'string' },
    { flags: '--location <region>', name: 'location', description: 'Azure region of the import job (e.g. westeurope)', type: 'string' },
    ...passphraseOptions,
    // zstd level 3: zstd's own default, the best throughput/ratio point for backup data.
    { flags: '--level <n>', name: 'level', description: 'zstd compression level 1-19 (default 3)', type: 'number' },
    { flags: '--threads <n>', name: 'threads', description: 'compression/encryption threads (default: CPU count)', type: 'number' },
    { flags: '--no-scan', name: 'scan', description: 'skip counting files first (progress then has no totals or ETA)', type: 'boolean' },
    {
      flags: '--read-all',
      name: 'readAll',
      description: 'read every file, also those unchanged since the last snapshot of these sources (size, mtime, ctime, inode)',
      type: 'boolean',
    },
  ],
  cook(raw, ctx) {
    const staging = cookStaging(raw.staging);
    const sources = (raw.sources ?? []).map((s) => path.resolve(s));
    checkStagePaths(sources, staging);
    const saved = readSettings(staging);
    const job = raw.job ?? saved?.job;
    if (job === undefined)
      throw usageError('MISSING_OPTION', 'Give the import job name with --job <name> (3-24 lowercase letters, digits and hyphens, starting with a letter).', {
        field: 'job',
      });
    return {
      sources,
      staging,
      settings: {
        job: validateJobName(job),
        ...(raw.account !== undefined ? { account: validateAccount(raw.account) } : {}),
        ...(raw.container !== undefined ? { container: validateContainer(raw.container) } : {}),
        ...(raw.subscription !== undefined ? { subscription: validateSubscription(raw.subscription) } : {}),
        ...(raw.resourceGroup !== undefined ? { resourceGroup: validateResourceGroup(raw.resourceGroup) } : {}),
        ...(raw.location !== undefined ? { location: validateLocation(raw.location) } : {}),
      },
      passphrase: cookPassphrase(raw, ctx.env),
      level: intOption(raw.level, '--level', 'level', 1, 19, 3),
      threads: intOption(raw.threads, '--threads', 'threads', 1, 256, defaultThreads()),
      scan: raw.scan !== false,
      readAll: raw.readAll === true,
    };
  },
  run: (o, ctx) => stage(o, ctx),
  claims: (o) => [o.staging],
  exitCategory: (r) => (r.partial ? 'PARTIAL' : 'OK'),
  renderText(r) {
    const s = r.summary;
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    return [
      `snapshot ${r.snapshot} saved in ${r.staging}${r.created ? ' (new repository)' : ''}`,
      `${s.files} files, ${s.dirs} directories, ${s.symlinks} symlinks, ${s.hardlinks} hard links, ${mib(s.bytes)}`,
      `new data ${mib(s.bytesNew)} stored as ${mib(s.bytesStored)} in ${s.packs} packs; ${s.chunksDuplicate} chunks already stored${s.filesUnchanged ? `; ${s.filesUnchanged} files unchanged since the last snapshot (not read)` : ''}`,
      ...(r.partial ? [`PARTIAL: ${s.filesFailed} files could not be read and were skipped (see the warnings)`] : []),
    ].join('\n');
  },
});
