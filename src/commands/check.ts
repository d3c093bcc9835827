/** `driveseed check --staging <dir> [--read-data]` / RPC `check` (src/core/check.ts). */
import { defineCommand } from '../core/command';
import { type CheckOptions, type CheckResult, check } from '../core/check';
import { cookPassphrase } from '../core/passphrase';
import { cookStaging, defaultThreads, intOption, passphraseOptions, stagingOption } from './options';

interface CheckRaw {
  staging?: string;
  readData?: boolean;
  passphraseFile?: string;
  passphrase?: string;
  threads?: number;
  cloud?: boolean;
}

export const checkCommand = defineCommand<CheckRaw, CheckOptions & { cloud: boolean }, CheckResult>({
  name: 'check',
  rpcMethod: 'check',
  summary: 'Check the staging repository; with --read-data, read and verify every chunk',
  options: [
    stagingOption(),
    {
      flags: '--read-data',
      name: 'readData',
      description: 'also read every pack: decrypt and verify every chunk, pack hashes and block MD5s',
      type: 'boolean',
    },
    ...passphraseOptions,
    { flags: '--threads <n>', name: 'threads', description: 'verification threads (default: CPU count)', type: 'number' },
    {
      flags: '--cloud',
      name: 'cloud',
      description: 'check the repository in the Azure container named by the staging settings (src/core/check.ts)',
      type: 'boolean',
    },
  ],
  cook(raw, ctx) {
    return {
      staging: cookStaging(raw.staging),
      readData: raw.readData === true,
      passphrase: cookPassphrase(raw, ctx.env),
      threads: intOption(raw.threads, '--threads', 'threads', 1, 256, defaultThreads()),
      cloud: raw.cloud === true,
    };
  },
  run: (o, ctx) => check(o, ctx),
  exitCategory: (r) => (r.healthy ? 'OK' : 'VERIFY_FAILED'),
  renderText(r) {
    const c = r.counts;
    const lines = [
      `${r.healthy ? 'healthy' : `UNHEALTHY: ${r.problemCount} problems`}: ${c.snapshots} snapshots, ${c.indexFiles} index files, ${c.packs} packs, ${c.chunks} chunks, ${c.files} files${r.readData ? `, ${c.bytesRead} bytes read` : ' (structure only; --read-data reads every chunk)'}`,
      ...r.problems.map((p) => `  ${p.code}: ${p.message}`),
    ];
    const g = r.garbage;
    if (g.temps.length || g.unreferencedPacks.length || g.orphanPackLists.length) {
      lines.push(
        `unreferenced (the next stage removes it): ${g.temps.length} temp files, ${g.unreferencedPacks.length} packs, ${g.orphanPackLists.length} pack lists, ${g.bytes} bytes`,
      );
    }
    if (g.unknown.length) lines.push(`unknown files (left alone): ${g.unknown.join(', ')}`);
    return lines.join('\n');
  },
});
