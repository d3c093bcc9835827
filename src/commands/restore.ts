/** `driveseed restore --staging <dir> --to <dir> [--snapshot <id>|latest] [--include <pattern>]` / RPC `restore`. */
import * as path from 'node:path';
import { defineCommand } from '../core/command';
import { usageError } from '../base/errors';
import { cookPassphrase } from '../core/passphrase';
import { type RestoreOptions, type RestoreResult, restore } from '../core/restore';
import { cookStaging, defaultThreads, intOption, passphraseOptions, stagingOption } from './options';

interface RestoreRaw {
  staging?: string;
  to?: string;
  snapshot?: string;
  include?: string[];
  passphraseFile?: string;
  passphrase?: string;
  threads?: number;
  fromCloud?: boolean;
}

export const restoreCommand = defineCommand<RestoreRaw, RestoreOptions, RestoreResult>({
  name: 'restore',
  rpcMethod: 'restore',
  summary: 'Restore a snapshot from the staging repository into an empty directory, verifying every chunk',
  options: [
    stagingOption(),
    { flags: '--to <dir>', name: 'to', description: 'an empty or new directory to restore into', type: 'string', required: true },
    { flags: '--snapshot <id>', name: 'snapshot', description: 'snapshot id (or a unique prefix), or "latest"', type: 'string', defaultValue: 'latest' },
    {
      flags: '--include <pattern...>',
      name: 'include',
      description: 'restore only paths matching these globs ("<source>/dir", "*.txt", "**")',
      type: 'string[]',
    },
    ...passphraseOptions,
    { flags: '--threads <n>', name: 'threads', description: 'decryption threads (default: CPU count)', type: 'number' },
    {
      flags: '--from-cloud',
      name: 'fromCloud',
      description: 'restore from the repository in the Azure container named by the staging settings (after the seed)',
      type: 'boolean',
    },
  ],
  cook(raw, ctx) {
    if (!raw.to) throw usageError('MISSING_OPTION', 'Give the directory to restore into with --to <dir>.', { field: 'to' });
    const snapshot = raw.snapshot ?? 'latest';
    if (snapshot !== 'latest' && !/^[0-9a-f]{4,64}$/.test(snapshot)) {
      throw usageError(
        'INVALID_OPTION',
        `Invalid --snapshot ${JSON.stringify(snapshot)}: give "latest" or a snapshot id (at least 4 lowercase hex characters).`,
        { field: 'snapshot' },
      );
    }
    const staging = cookStaging(raw.staging);
    const to = path.resolve(raw.to);
    if (to === staging || to.startsWith(staging + path.sep))
      throw usageError('INVALID_OPTION', `--to ${raw.to} is inside --staging; restore somewhere else.`, { field: 'to' });
    return {
      staging,
      to,
      snapshot,
      include: raw.include ?? [],
      passphrase: cookPassphrase(raw, ctx.env),
      threads: intOption(raw.threads, '--threads', 'threads', 1, 256, defaultThreads()),
      ...(raw.fromCloud ? { fromCloud: true } : {}),
    };
  },
  run: (o, ctx) => restore(o, ctx),
  claims: (o) => [o.to],
  exitCategory: (r) => (r.verifyFailed ? 'VERIFY_FAILED' : 'OK'),
  renderText: (r) =>
    [
      `restored snapshot ${r.snapshot} into ${r.to}: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks, ${r.hardlinks} hard links, ${r.bytes} bytes`,
      ...(r.verifyFailed ? [`FAILED: ${r.filesFailed} files did not verify or could not be written, ${r.refused} entries refused (see the warnings)`] : []),
    ].join('\n'),
});
