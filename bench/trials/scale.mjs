// Trial: scale and cold cache.
//
// (1) Many small files. A generated tree of DRIVESEED_BENCH_SCALE files (1 000 000 for the goals; not
//     committed: generated into the scratch dir, removed at exit) in directories of 1000, sizes 0–2 KiB
//     (a third zero-filled, a third text-like, a third random): first stage, unchanged re-stage and
//     unchanged backup into Azurite, against restic's first and unchanged second backup of the same
//     tree, with every process's peak RSS. Goals: unchanged runs ≥ 3× restic at 1 M files, peak RSS
//     ≤ 512 MiB. The unchanged runs also with the opt-in key cache (docs/key-cache.md; info rows). Opt-in (generation alone takes minutes there): without DRIVESEED_BENCH_SCALE the
//     trial says so and runs only (2).
// (2) Cold cache: `driveseed stage` of the data set from a dropped page cache, against the admin
//     pipeline `tar -cf - | zstd -T0 -3 | dd oflag=direct` from a dropped page cache (root: otherwise
//     both start warm, and the note says so). Goal ≥ 1.3×.
//
// Ours is the compiled CLI in a fresh process each run (as _stage-common.mjs builds it); peak RSS is
// /usr/bin/time's maximum resident set size of that process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ROOT, cachePolicy, compare, log, main, measureAll, round, scratchDir, toolVersion, trialOptions, MiB } from '../lib/harness.mjs';
import { NO_KEY_CACHE, buildCli, cacheKey, cliResult, repoBytes, restic, resticAvailable, setPasswords, withEnv } from './_stage-common.mjs';

const require = createRequire(import.meta.url);

/** Runs cmd under /usr/bin/time; resolves {seconds, cpuSeconds, maxRssKiB, stdout}. */
function timed(cmd, args) {
  return new Promise((resolve, reject) => {
    const tf = path.join(os.tmpdir(), `ds-scale-time-${process.pid}-${Date.now()}`);
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-o', tf, '-f', '%U %S %M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let cpuSeconds = null;
      let maxRssKiB = null;
      try {
        const [u, s, m] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
        cpuSeconds = u + s;
        maxRssKiB = m;
      } catch {
        /* time wrote nothing */
      }
      fs.rmSync(tf, { force: true });
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-500)}`));
      else resolve({ seconds, cpuSeconds, maxRssKiB, stdout });
    });
  });
}

/** xorshift32 bytes: deterministic filler that does not compress. */
function noise(n, seed) {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

/** Writes `count` small files under dir (1000 per directory); returns their total bytes. */
function generateTree(dir, count) {
  const words = 'seed block drive azure import manifest volume backup restore chunk pack index snapshot '.repeat(40);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const d = path.join(dir, `d${String(Math.floor(i / 1000)).padStart(4, '0')}`);
    if (i % 1000 === 0) fs.mkdirSync(d, { recursive: true });
    const size = (i * 2654435761) % 2049; // 0–2048 bytes, spread evenly
    const kind = i % 3;
    const data = kind === 0 ? Buffer.alloc(size) : kind === 1 ? Buffer.from(words.slice(i % 97, (i % 97) + size)) : noise(size, i + 1);
    fs.writeFileSync(path.join(d, `f${i}.dat`), data);
    bytes += data.length;
  }
  return bytes;
}

const mib = (kib) => (kib == null ? null : round(kib / 1024, 1));
// measureAll's after(): the peak RSS of the median run.
const withRss = (r) => ({ maxRssMiB: mib(r.maxRssKiB) });

await main('scale', async () => {
  const opts = trialOptions();
  setPasswords();
  const scratch = scratchDir('scale');
  const cli = buildCli('scale');
  const rows = [];
  const notes = [];
  const measurements = {};

  // ---- (2) cold cache: stage vs tar | zstd -T0 -3 | dd oflag=direct ----------------------------------
  {
    const { policy, note } = cachePolicy(opts, 'drop');
    notes.push(`cold-cache rows: ${note}`);
    const src = opts.data;
    const bytes = opts.manifest.files.reduce((s, f) => s + f.size, 0);
    const staging = path.join(scratch, 'cold-staging');
    const out = path.join(scratch, 'admin.tar.zst');
    const admin = {
      label: 'tar -cf - | zstd -T0 -3 | dd oflag=direct bs=4M',
      command: `tar -C <data> -cf - . | zstd -T0 -3 -q | dd of=out bs=4M iflag=fullblock oflag=direct`,
      bytes,
      prepare: () => fs.rmSync(out, { force: true }),
      run: () => timed('sh', ['-c', `tar -C '${src}' -cf - . | zstd -T0 -3 -q | dd of='${out}' bs=4M iflag=fullblock oflag=direct status=none`]),
    };
    const ours = {
      label: 'driveseed stage (new repository, cold cache)',
      command: 'driveseed stage <data> --staging <dir> --job bench-scale',
      bytes,
      prepare: () => fs.rmSync(staging, { recursive: true, force: true }),
      run: () => timed(process.execPath, [cli.main, 'stage', src, '--staging', staging, '--job', 'bench-scale', '--json']),
      after: withRss,
    };
    log(
      `scale: cold-cache stage vs the admin pipeline, ${opts.manifest.files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs, cache ${policy}`,
    );
    const [mAdmin, mOurs] = await measureAll([admin, ours], { runs: opts.runs, cache: policy });
    measurements.cold = { admin: mAdmin, ours: mOurs };
    rows.push(
      compare(
        'scale/cold-stage-vs-admin',
        `${policy === 'drop' ? 'cold cache' : 'warm cache (not root)'}: stage vs tar | zstd -T0 -3 | dd oflag=direct`,
        mOurs,
        mAdmin,
        1.3,
      ),
    );
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(out, { force: true });
  }

  // ---- (1) many small files ---------------------------------------------------------------------------
  const want = process.env.DRIVESEED_BENCH_SCALE;
  if (!want) {
    notes.push(
      'many-files rows skipped: set DRIVESEED_BENCH_SCALE=<files> (1000000 for the goals: generation alone takes minutes, the runs tens of minutes on 2 cores)',
    );
  } else {
    const count = Number(want);
    if (!Number.isInteger(count) || count < 1000) throw new Error(`Expected an integer of at least 1000 for DRIVESEED_BENCH_SCALE but received ${want}`);
    const tree = path.join(scratch, 'tree');
    const t0 = Date.now();
    const bytes = generateTree(tree, count);
    log(`scale: generated ${count} files, ${(bytes / MiB).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const staging = path.join(scratch, 'staging');
    const resticRepo = path.join(scratch, 'restic');
    const resticCache = path.join(scratch, 'restic-cache');
    const r = restic(resticRepo, resticCache);
    const noRestic = resticAvailable();
    const stageArgs = ['stage', tree, '--staging', staging, '--job', 'bench-scale', '--json', '--account', 'devstoreaccount1', '--container', 'scale'];
    const oursFirst = {
      label: 'driveseed stage (new repository)',
      bytes,
      prepare: () => fs.rmSync(staging, { recursive: true, force: true }),
      run: () => timed(process.execPath, [cli.main, ...stageArgs]),
      after: withRss,
    };
    const resticFirst = {
      label: 'restic backup (new repository)',
      bytes,
      unavailable: noRestic,
      prepare: () => r.init(),
      run: () => timed('restic', ['-r', resticRepo, '--cache-dir', resticCache, '--quiet', 'backup', tree, '--compression', 'auto']),
      after: withRss,
    };
    // One run each: at 1 M files a run takes minutes; the unchanged runs below are the goals.
    const [mOursFirst, mResticFirst] = await measureAll([oursFirst, resticFirst], { runs: 1, cache: 'warm' });
    const oursAgain = {
      label: 'driveseed stage (second, unchanged)',
      bytes,
      run: () => withEnv(NO_KEY_CACHE, () => timed(process.execPath, [cli.main, ...stageArgs])),
      after: withRss,
    };
    const oursCached = {
      label: 'driveseed stage (second, unchanged, key cached)',
      bytes,
      run: () => timed(process.execPath, [cli.main, ...stageArgs]),
      after: withRss,
    };
    const resticAgain = {
      label: 'restic backup (second, unchanged)',
      bytes,
      unavailable: noRestic,
      run: () => timed('restic', ['-r', resticRepo, '--cache-dir', resticCache, '--quiet', 'backup', tree, '--compression', 'auto']),
      after: withRss,
    };
    await cacheKey(cli, staging);
    const [mOursAgain, mResticAgain, mOursCached] = await measureAll([oursAgain, resticAgain, oursCached], { runs: opts.runs, cache: 'warm' });

    // Unchanged backup: the staged repository uploaded into a private Azurite as the import would.
    require('tsx/cjs');
    const { startAzurite } = require(path.join(ROOT, 'src/cloud/azurite.ts'));
    const { containerClientFor, describeLocation } = require(path.join(ROOT, 'src/cloud/client.ts'));
    const { ContainerBackend } = require(path.join(ROOT, 'src/cloud/container-backend.ts'));
    const { uploadRepository } = require(path.join(ROOT, 'src/cloud/seed.ts'));
    const { updateSettings } = require(path.join(ROOT, 'src/core/settings.ts'));
    const azurite = await startAzurite();
    let mBackup;
    let mBackupCached;
    try {
      const loc = azurite.location('scale');
      const backend = new ContainerBackend(containerClientFor(loc), describeLocation(loc));
      await backend.ensureContainer();
      await uploadRepository(staging, backend);
      updateSettings(staging, { blobEndpoint: azurite.blobEndpoint, seed: { state: 'complete', completed: new Date().toISOString() } });
      const backupRun = (env) => async () => {
        const t = await withEnv(env, () => timed(process.execPath, [cli.main, '--json', 'backup', tree, '--staging', staging]));
        if (cliResult(t.stdout).parent?.filesReused === undefined) throw new Error('the backup found no parent snapshot');
        return t;
      };
      const oursBackup = { label: 'driveseed backup (unchanged, into Azurite)', bytes, run: backupRun(NO_KEY_CACHE), after: withRss };
      const oursBackupCached = { label: 'driveseed backup (unchanged, into Azurite, key cached)', bytes, run: backupRun({}), after: withRss };
      [mBackup, mBackupCached] = await measureAll([oursBackup, oursBackupCached], { runs: opts.runs, cache: 'warm' });
    } finally {
      await azurite.stop();
    }
    measurements.manyFiles = {
      files: count,
      bytes,
      repositoryBytes: repoBytes(staging),
      oursFirst: mOursFirst,
      resticFirst: mResticFirst,
      oursAgain: mOursAgain,
      oursCached: mOursCached,
      resticAgain: mResticAgain,
      oursBackup: mBackup,
      oursBackupCached: mBackupCached,
    };
    const label = `${count} small files`;
    rows.push(
      compare(
        'scale/first-stage-vs-restic',
        `${label}: first stage vs restic backup`,
        mOursFirst,
        mResticFirst,
        null,
        `peak RSS ours ${mOursFirst.maxRssMiB ?? 'n/a'} MiB, restic ${mResticFirst.maxRssMiB ?? 'n/a'} MiB`,
      ),
    );
    rows.push(
      compare(
        'scale/unchanged-stage-vs-restic',
        `${label}: unchanged re-stage vs restic second run`,
        mOursAgain,
        mResticAgain,
        count >= 1e6 ? 3 : null,
        `peak RSS ours ${mOursAgain.maxRssMiB ?? 'n/a'} MiB, restic ${mResticAgain.maxRssMiB ?? 'n/a'} MiB`,
      ),
    );
    rows.push(
      compare(
        'scale/unchanged-backup-vs-restic',
        `${label}: unchanged backup into Azurite vs restic second run (local repo)`,
        mBackup,
        mResticAgain,
        count >= 1e6 ? 3 : null,
        `peak RSS ours ${mBackup.maxRssMiB ?? 'n/a'} MiB`,
      ),
    );
    rows.push(
      compare(
        'scale/unchanged-stage-cached-vs-restic',
        `${label}: unchanged re-stage, key cached (opt-in) vs restic second run`,
        mOursCached,
        mResticAgain,
        null,
        `info: docs/key-cache.md; peak RSS ours ${mOursCached.maxRssMiB ?? 'n/a'} MiB`,
      ),
    );
    rows.push(
      compare(
        'scale/unchanged-backup-cached-vs-restic',
        `${label}: unchanged backup into Azurite, key cached (opt-in) vs restic second run (local repo)`,
        mBackupCached,
        mResticAgain,
        null,
        `info: docs/key-cache.md; peak RSS ours ${mBackupCached.maxRssMiB ?? 'n/a'} MiB`,
      ),
    );
    const peak = Math.max(...[mOursFirst, mOursAgain, mOursCached, mBackup, mBackupCached].map((m) => m.maxRssMiB ?? 0));
    rows.push({
      id: 'scale/peak-rss',
      what: `${label}: peak RSS of any driveseed run (MiB)`,
      oursMBps: null,
      baselineMBps: null,
      ratio: null,
      goal: null,
      pass: count >= 1e6 ? peak <= 512 : null,
      note: `${peak} MiB; goal ≤ 512 MiB at 1 M files`,
    });
  }

  return {
    title: 'Scale (many small files) and cold-cache stage',
    cache: 'mixed',
    bytes: opts.manifest.files.reduce((s, f) => s + f.size, 0),
    data: `cold cache: the data set; many files: ${process.env.DRIVESEED_BENCH_SCALE ?? 'skipped'}`,
    rows,
    measurements,
    notes: [
      ...notes,
      'Both tools pay their KDF on every run and fsync what they write; the admin pipeline writes one compressed tar with O_DIRECT and no fsync of metadata.',
      'Peak RSS: /usr/bin/time %M of the whole process (ours: Node, the addon and its buffers).',
    ],
    env: { tools: { restic: 'restic', zstd: toolVersion('zstd'), tar: toolVersion('tar') }, addon: cli.addon },
  };
});
