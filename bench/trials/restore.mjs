// Trial: `driveseed restore` of the whole data set against `restic restore` (local
// repository). Goal ≥ 1.5×. Debian's restic 0.14 has no --sparse: it writes the sparse file's holes
// as zeros, while ours leaves them as holes (a note in the result says so). Both repositories are
// written once before timing (untimed); each run restores into a fresh, empty directory. Throughput
// counts the data set's apparent bytes; both verify what they read (ours: GCM tag and HMAC id of
// every chunk; restic: its blob hashes).
import path from 'node:path';
import fs from 'node:fs';
import { cachePolicy, compare, dataFiles, log, main, measureAll, scratchDir, trialOptions, warmFiles, MiB } from '../lib/harness.mjs';
import { buildCli, restic, resticAvailable, setPasswords } from './_stage-common.mjs';

await main('restore', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'warm');
  setPasswords();
  const files = dataFiles(opts);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  const scratch = scratchDir('restore');
  const cli = buildCli('restore');
  const staging = path.join(scratch, 'staging');
  const r = restic(path.join(scratch, 'restic'), path.join(scratch, 'restic-cache'));
  const noRestic = resticAvailable();
  log(`restore: writing both repositories (untimed)`);
  await cli.run(['stage', opts.data, '--staging', staging, '--job', 'bench-restore']);
  if (!noRestic) {
    r.init();
    await r.run(['backup', opts.data, '--compression', 'auto']);
  }
  // Repositories are the input here: warm them equally.
  const walk = (d) =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.isFile() ? [path.join(d, e.name)] : []));
  if (policy === 'warm') warmFiles([...walk(staging), ...(noRestic ? [] : walk(path.join(scratch, 'restic')))]);
  const toOurs = path.join(scratch, 'to-ours');
  const toRestic = path.join(scratch, 'to-restic');
  const ours = {
    label: 'driveseed restore',
    command: 'driveseed restore --staging <dir> --to <empty dir>',
    bytes,
    prepare: () => fs.rmSync(toOurs, { recursive: true, force: true }),
    run: () => cli.run(['restore', '--staging', staging, '--to', toOurs]),
  };
  const base = {
    label: 'restic restore',
    command: 'restic -r <repo> restore latest --target <empty dir>',
    bytes,
    unavailable: noRestic,
    prepare: () => fs.rmSync(toRestic, { recursive: true, force: true }),
    run: () => r.run(['restore', 'latest', '--target', toRestic]),
  };
  log(`restore: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
  const [mOurs, mBase] = await measureAll([ours, base], { runs: opts.runs, cache: policy });
  return {
    title: 'Restore throughput vs restic restore',
    cache: policy,
    cacheNote,
    bytes,
    data: `whole data set, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB apparent`,
    rows: [compare('restore/vs-restic', 'restore vs restic restore', mOurs, mBase, 1.5)],
    measurements: { ours: mOurs, restic: mBase },
    notes: [
      'Both pay their KDF once per run and verify every chunk they read; neither fsyncs restored files.',
      'Ours restores owner (as root), mode and mtime of every entry; restic the same.',
      'restic 0.14 has no --sparse: it writes the sparse file (holes) as zeros; ours skips holes. That file is part of both figures.',
    ],
    env: { tools: { restic: r.version }, addon: cli.addon },
  };
});
