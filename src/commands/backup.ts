/** `driveseed backup <source>... --staging <dir> [--force-unlock]` / RPC `backup` (src/core/backup.ts). */
import * as path from 'node:path';
import { defineCommand } from '../core/command';
import { type BackupOptions, type BackupResult, backup } from '../core/backup';
import { cookPassphrase } from '../core/passphrase';
import { checkStagePaths } from '../core/stage';
import { formatBytes } from '../base/format';
import { cookStaging, defaultThreads, intOption, passphraseOptions, stagingOption } from './options';

export interface BackupRaw {
  sources?: string[];
  staging?: string;
  forceUnlock?: boolean;
  passphraseFile?: string;
  passphrase?: string;
  level?: number;
  threads?: number;
}

export const backupCommand = defineCommand<BackupRaw, BackupOptions, BackupResult>({
  name: 'backup',
  rpcMethod: 'backup',
  summary: 'After the seed: back source trees up over the network into the repository in Azure, sending only new data',
  args: [{ name: 'sources', label: 'source', description: 'directories or files to back up', variadic: true, required: true }],
  options: [
    stagingOption('the staging location whose settings name the storage account and container (its data may be deleted after complete)'),
    {
      flags: '--force-unlock',
      name: 'forceUnlock',
      description: 'break the repository lock held by another client (only when that client is gone: it is named before the lock is broken)',
      type: 'boolean',
    },
    ...passphraseOptions,
    // zstd level 3: zstd's default; the network, not compression, is the bottleneck of a backup.
    { flags: '--level <n>', name: 'level', description: 'zstd compression level 1-19 (default 3)', type: 'number' },
    { flags: '--threads <n>', name: 'threads', description: 'compression/encryption threads (default: CPU count)', type: 'number' },
  ],
  cook(raw, ctx) {
    const staging = cookStaging(raw.staging, 'its settings say where the repository in Azure is');
    const sources = (raw.sources ?? []).map((s) => path.resolve(s));
    checkStagePaths(sources, staging);
    return {
      sources,
      staging,
      forceUnlock: raw.forceUnlock === true,
      passphrase: cookPassphrase(raw, ctx.env),
      level: intOption(raw.level, '--level', 'level', 1, 19, 3),
      threads: intOption(raw.threads, '--threads', 'threads', 1, 256, defaultThreads()),
    };
  },
  run: (o, ctx) => backup(o, ctx),
  // The staging location's .cache/ is this run's work directory (the cloud lease guards the repository itself).
  claims: (o) => [o.staging],
  exitCategory: (r) => (r.partial ? 'PARTIAL' : 'OK'),
  renderText(r) {
    const s = r.summary;
    const u = r.upload;
    return [
      `snapshot ${r.snapshot} saved in ${r.location}`,
      `${s.files} files, ${formatBytes(s.bytes)}; new data ${formatBytes(s.bytesNew)} in ${u.packs} packs`,
      `sent ${formatBytes(u.bytesSent)} over the network (${u.indexFiles.length} index files${u.packsSkipped ? `, ${u.packsSkipped} packs already there` : ''}${u.blocksReused ? `, ${u.blocksReused} blocks reused` : ''})`,
      `index: ${r.index.chunks} chunks, ${r.index.fetched} index files downloaded, ${r.index.reused} from the local cache`,
      ...(r.partial ? ['some files could not be read; see the warnings above'] : []),
    ].join('\n');
  },
});
