// Trial: an unchanged incremental `driveseed backup` into Azurite (the staged repository seeded into
// a container, as the import leaves it) against restic's unchanged second run of the same data, by
// default (the passphrase's key derived, scrypt) and with the opt-in key cache (docs/key-cache.md;
// info row). Goal ≥ 3× restic.
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, cachePolicy, compare, log, main, measureAll, scratchDir, trialOptions, MiB } from '../lib/harness.mjs';
import { NO_KEY_CACHE, buildCli, cacheKey, cliResult, restic, resticAvailable, setPasswords, withEnv } from './_stage-common.mjs';

const require = createRequire(import.meta.url);
require('tsx/cjs');
const { startAzurite } = require(path.join(ROOT, 'src/cloud/azurite.ts'));
const { containerClientFor, describeLocation } = require(path.join(ROOT, 'src/cloud/client.ts'));
const { ContainerBackend } = require(path.join(ROOT, 'src/cloud/container-backend.ts'));
const { uploadRepository } = require(path.join(ROOT, 'src/cloud/seed.ts'));
const { updateSettings } = require(path.join(ROOT, 'src/core/settings.ts'));

await main('backup-unchanged', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'warm');
  setPasswords();
  const src = opts.data;
  const bytes = opts.manifest.files.reduce((s, f) => s + f.size, 0);
  const scratch = scratchDir('backup-unchanged');
  const staging = path.join(scratch, 'staging');
  const cli = buildCli('backup-unchanged');
  const azurite = await startAzurite();
  try {
    log(`backup-unchanged: staging ${opts.manifest.files.length} files, ${(bytes / MiB).toFixed(0)} MiB`);
    const st = await cli.run(['--json', 'stage', src, '--staging', staging, '--job', 'bench-backup', '--account', 'devstoreaccount1', '--container', 'bench']);
    cliResult(st.stdout);
    const loc = azurite.location('bench');
    const backend = new ContainerBackend(containerClientFor(loc), describeLocation(loc));
    await backend.ensureContainer();
    const seeded = await uploadRepository(staging, backend);
    updateSettings(staging, { blobEndpoint: azurite.blobEndpoint, seed: { state: 'complete', completed: new Date().toISOString() } });
    log(`backup-unchanged: seeded ${(seeded.bytes / MiB).toFixed(0)} MiB into ${azurite.blobEndpoint}/bench`);
    const blobBytes = async () => (await backend.list('')).reduce((s, e) => s + e.size, 0);

    const r = restic(path.join(scratch, 'restic'), path.join(scratch, 'restic-cache'));
    const noRestic = resticAvailable();
    if (!noRestic) {
      r.init();
      await r.run(['backup', src, '--compression', 'auto']);
    }
    const added = [];
    const addedCached = [];
    const backupRun = (env, into) => async () => {
      const before = await blobBytes();
      const t = await withEnv(env, () => cli.run(['--json', 'backup', src, '--staging', staging]));
      const res = cliResult(t.stdout);
      into.push((await blobBytes()) - before);
      if (res.parent?.filesReused === undefined) throw new Error('the backup found no parent snapshot');
      return t;
    };
    const ours = {
      label: 'driveseed backup (unchanged, into Azurite)',
      command: 'driveseed backup <data> --staging <dir>',
      bytes,
      run: backupRun(NO_KEY_CACHE, added),
    };
    const oursCached = {
      label: 'driveseed backup (unchanged, into Azurite, key cached)',
      command: 'driveseed key-cache add --staging <dir>; driveseed backup <data> --staging <dir>',
      bytes,
      run: backupRun({}, addedCached),
    };
    const resticAgain = {
      label: 'restic backup (second, unchanged, local repository)',
      command: 'restic backup <data>',
      bytes,
      unavailable: noRestic,
      run: () => r.run(['backup', src, '--compression', 'auto']),
    };
    await cacheKey(cli, staging);
    const [mRestic, mOurs, mOursCached] = await measureAll([resticAgain, ours, oursCached], { runs: opts.runs, cache: policy });
    return {
      title: 'Unchanged incremental backup vs restic second run',
      cache: policy,
      cacheNote,
      bytes,
      data: `generated data set ${src}, ${opts.manifest.files.length} files, ${(bytes / MiB).toFixed(0)} MiB`,
      rows: [
        compare(
          'backup/unchanged-vs-restic',
          'unchanged backup into Azurite vs restic unchanged second run (local repo)',
          mOurs,
          mRestic,
          3.0,
          `bytes added to the container per unchanged backup: ${added.join(', ')}`,
        ),
        compare(
          'backup/unchanged-cached-vs-restic',
          'unchanged backup into Azurite, key cached (opt-in) vs restic unchanged second run (local repo)',
          mOursCached,
          mRestic,
          null,
          `info: \`driveseed key-cache add\` before these runs (docs/key-cache.md); bytes added per backup: ${addedCached.join(', ')}`,
        ),
      ],
      measurements: { restic: mRestic, ours: mOurs, oursCached: mOursCached },
      notes: ['ours talks HTTP to Azurite on loopback (list index/, snapshots, lease, one snapshot upload); restic writes a local repository.'],
      env: { tools: { restic: r.version } },
    };
  } finally {
    await azurite.stop();
  }
});
