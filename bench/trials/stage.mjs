// Trial: `driveseed stage` of the whole data set against `tar -cf - | zstd -T0 -3` and
// against `restic backup` (local repository, compression auto), then an unchanged second run against
// restic's second run, and the compression ratio (repository bytes) against restic's.
// Goals: stage ≥ 1.0× tar|zstd and ≥ 1.5× restic; unchanged re-stage ≥ 3× restic; ratio no worse.
// The unchanged re-stage is measured twice: as by default (the passphrase's key derived, scrypt) and
// with the opt-in key cache (docs/key-cache.md; info rows: the goal stays on the default).
// Every run of ours is the CLI in a fresh process, as a user runs it (KDF, index load, walk, packs,
// fsyncs, snapshot): compiled JS, not tsx. Caches are warmed equally; inputs are the same bytes.
import path from 'node:path';
import fs from 'node:fs';
import {
  cachePolicy,
  compare,
  dataFiles,
  log,
  main,
  measureAll,
  round,
  scratchDir,
  timeCommand,
  toolVersion,
  trialOptions,
  warmFiles,
  MiB,
} from '../lib/harness.mjs';
import { NO_KEY_CACHE, buildCli, cacheKey, cliResult, repoBytes, restic, resticAvailable, setPasswords, withEnv } from './_stage-common.mjs';

await main('stage', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'warm');
  setPasswords();
  const files = dataFiles(opts);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  const scratch = scratchDir('stage');
  const cli = buildCli('stage');
  if (policy === 'warm') warmFiles(files.map((f) => f.abs));
  const src = opts.data;
  const staging = path.join(scratch, 'staging');
  const tarOut = path.join(scratch, 'tar.zst');
  const r = restic(path.join(scratch, 'restic'), path.join(scratch, 'restic-cache'));
  const noRestic = resticAvailable();
  const stageArgs = ['stage', src, '--staging', staging, '--job', 'bench-stage', '--json'];

  const tarZstd = {
    label: 'tar -cf - | zstd -T0 -3',
    command: `tar -C <data> -cf - . | zstd -T0 -3 -q > out`,
    bytes,
    prepare: () => fs.rmSync(tarOut, { force: true }),
    run: () => timeCommand('sh', ['-c', `tar -C '${src}' -cf - . | zstd -T0 -3 -q > '${tarOut}'`]),
    after: () => ({ outBytes: fs.statSync(tarOut).size }),
  };
  const resticFirst = {
    label: 'restic backup (new repository)',
    command: 'restic -r <repo> backup <data> --compression auto',
    bytes,
    unavailable: noRestic,
    prepare: () => r.init(),
    run: () => r.run(['backup', src, '--compression', 'auto']),
    after: () => ({ outBytes: repoBytes(path.join(scratch, 'restic')) }),
  };
  const ours = {
    label: 'driveseed stage (new repository)',
    command: 'driveseed stage <data> --staging <dir> --job bench-stage',
    bytes,
    prepare: () => fs.rmSync(staging, { recursive: true, force: true }),
    run: async () => ({ ...(await withEnv(NO_KEY_CACHE, () => cli.run(stageArgs))), outBytes: repoBytes(staging) }),
    after: (x) => ({ outBytes: x.outBytes, summary: cliResult(x.stdout).summary }),
  };
  log(`stage: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
  const [mTar, mRestic, mOurs] = await measureAll([tarZstd, resticFirst, ours], { runs: opts.runs, cache: policy });

  // Unchanged second runs on the repositories the last first runs left.
  const resticAgain = { label: 'restic backup (second, unchanged)', bytes, unavailable: noRestic, run: () => r.run(['backup', src, '--compression', 'auto']) };
  const oursAgain = {
    label: 'driveseed stage (second, unchanged)',
    bytes,
    run: () => withEnv(NO_KEY_CACHE, () => cli.run(stageArgs)),
    after: (x) => ({ summary: cliResult(x.stdout).summary }),
  };
  const oursCached = {
    label: 'driveseed stage (second, unchanged, key cached)',
    bytes,
    run: () => cli.run(stageArgs),
    after: (x) => ({ summary: cliResult(x.stdout).summary }),
  };
  const oursReadAll = {
    label: 'driveseed stage --read-all (second, unchanged)',
    bytes,
    run: () => withEnv(NO_KEY_CACHE, () => cli.run([...stageArgs, '--read-all'])),
    after: (x) => ({ summary: cliResult(x.stdout).summary }),
  };
  await cacheKey(cli, staging);
  const [mResticAgain, mOursAgain, mOursCached, mOursReadAll] = await measureAll([resticAgain, oursAgain, oursCached, oursReadAll], {
    runs: opts.runs,
    cache: policy,
  });

  const ratioOf = (m) => (m.outBytes ? round(bytes / m.outBytes, 3) : null);
  const rows = [
    compare('stage/vs-tar-zstd', 'stage vs tar piped to zstd -T0 -3', mOurs, mTar, 1.0),
    compare('stage/vs-restic', 'stage vs restic backup', mOurs, mRestic, 1.5),
    compare('stage/unchanged-vs-restic', 'unchanged re-stage vs restic second run', mOursAgain, mResticAgain, 3.0),
    compare(
      'stage/unchanged-cached-vs-restic',
      'unchanged re-stage, key cached (opt-in) vs restic second run',
      mOursCached,
      mResticAgain,
      null,
      'info: `driveseed key-cache add` before these runs; no scrypt (docs/key-cache.md)',
    ),
    compare(
      'stage/read-all-vs-restic',
      'unchanged re-stage --read-all vs restic second run',
      mOursReadAll,
      mResticAgain,
      null,
      'info: every file read, chunked and hashed again',
    ),
  ];
  const cr = { ours: ratioOf(mOurs), restic: ratioOf(mRestic), tarZstd: ratioOf(mTar) };
  const crRow = rows[1];
  if (cr.ours && cr.restic) {
    crRow.compressionRatio = { ours: cr.ours, baseline: cr.restic, relative: round(cr.ours / cr.restic, 3), goal: '≥ 1.0' };
    crRow.note = [crRow.note, `compression ratio (data bytes / repository bytes): ours ${cr.ours}, restic ${cr.restic}, tar|zstd ${cr.tarZstd}`]
      .filter(Boolean)
      .join('; ');
  }
  return {
    title: 'Stage throughput, unchanged re-stage and repository size vs tar | zstd and restic',
    cache: policy,
    cacheNote,
    bytes,
    data: `whole data set, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB apparent (the sparse file's holes count as bytes for every contender)`,
    rows,
    compression: cr,
    measurements: {
      tarZstd: mTar,
      restic: mRestic,
      ours: mOurs,
      resticAgain: mResticAgain,
      oursAgain: mOursAgain,
      oursCached: mOursCached,
      oursReadAll: mOursReadAll,
    },
    notes: [
      'Ours and restic pay a KDF on every run (ours scrypt N=2^17, r=8; restic its calibrated scrypt) and fsync their output; tar | zstd neither.',
      'Ours skips holes of sparse files (SEEK_DATA); tar without -S and restic read them as zeros.',
      'Unchanged re-stage: files whose size, mtime, ctime and inode match the parent snapshot keep their chunks unread (restic: its parent snapshot, same rule).',
      'Repository bytes: every file of the repository except locks and settings (ours: packs, indexes, pack lists, snapshots, config).',
    ],
    env: { tools: { restic: r.version, zstd: toolVersion('zstd'), tar: toolVersion('tar') }, addon: cli.addon },
  };
});
