
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, cachePolicy, compare, log, main, measureAll, scratchDir, trialOptions, MiB } from '../lib/harness.mjs';
import { buildCli, cliResult, restic, resticAvailable, setPasswords } from './_stage-common.mjs';

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
    const ours = {
      label: 'driveseed backup (unchanged, into Azurite)',
      command: 'driveseed backup <data> --staging <dir>',
      bytes,
      run: async () => {
        const before = await blobBytes();
        const t = await cli.run(['--json', 'backup', src, '--staging', staging]);
        const res = cliResult(t.stdout);
        added.push((await blobBytes()) - before);
        if (res.parent?.filesReused === undefined) throw new Error('the backup found no parent snapshot');
        return t;
      },
    };
    const resticAgain = {
      label: 'restic backup (second, unchanged, local repository)',
      command: 'restic backup <data>',
      bytes,
      unavailable: noRestic,
      run: () => r.run(['backup', src, '--compression', 'auto']),
    };
    const [mRestic, mOurs] = await measureAll([resticAgain, ours], { runs: opts.runs, cache: policy });
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
      ],
      measurements: { restic: mRestic, ours: mOurs },
      notes: ['ours talks HTTP to Azurite on loopback (list index/, snapshots, lease, one snapshot upload); restic writes a local repository.'],
      env: { tools: { restic: r.version } },
    };
  } finally {
    await azurite.stop();
  }
});
