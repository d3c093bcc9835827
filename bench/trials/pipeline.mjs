// Trial (d): the whole stage pipeline (read → content-defined chunking → zstd -3 → AES-256-GCM →
// HMAC-SHA-256 ids → MD5 of pack blocks → pack files) against `zstd -T0 -3` alone on the same files.
// Goal: ≥ 0.9×, i.e. chunking, hashing and encryption are nearly free next to compression.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { cachePolicy, compare, dataFiles, log, main, measureAll, scratchDir, toolVersion, trialOptions, warmFiles, MiB } from '../lib/harness.mjs';
import { packContender, writeFileLists, zstdContender } from '../lib/baselines.mjs';

await main('pipeline', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'warm');
  const files = dataFiles(opts);
  const scratch = scratchDir('pipeline');
  const lists = writeFileLists(scratch, files);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  if (policy === 'warm') warmFiles(files.map((f) => f.abs));

  const zstd = zstdContender({ files, lists, scratch, level: 3 });
  const ours = packContender({
    files,
    scratch,
    level: 3,
    threads: os.cpus().length,
    label: 'packJob(defaults: chunks 512K/1M/8M, level 3, 64 MiB packs)',
    chunker: { min: 512 * 1024, avg: 1024 * 1024, max: 8 * MiB },
  });
  // Same job on one worker thread: if it is as fast as the default, the pipeline has a serial bound.
  const ours1 = packContender({
    files,
    scratch,
    level: 3,
    threads: 1,
    label: 'packJob(same, threads: 1)',
    chunker: { min: 512 * 1024, avg: 1024 * 1024, max: 8 * MiB },
  });
  log(`pipeline: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
  const [mZstd, mOurs, mOurs1] = await measureAll([zstd, ours, ours1], { runs: opts.runs, cache: policy });
  const primitives = onePerCore();
  const row = compare(
    'pipeline/pack-vs-zstd',
    'chunk+compress+encrypt+hash (packJob) vs zstd -T0 -3',
    mOurs,
    mZstd,
    0.9,
    mOurs.compressionRatio
      ? `compression ratio ours ${mOurs.compressionRatio} vs zstd ${mZstd.compressionRatio}`
      : `zstd compression ratio ${mZstd.compressionRatio ?? 'n/a'}`,
  );
  const scaling = compare(
    'pipeline/threads-scaling',
    `packJob threads: ${os.cpus().length} vs threads: 1`,
    mOurs,
    mOurs1,
    null,
    'info only: near 1.0 means a serial stage bounds the pipeline',
  );
  return {
    title: 'Stage pipeline vs zstd alone',
    cache: policy,
    cacheNote,
    bytes,
    data: `whole data set, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB apparent`,
    rows: [row, scaling],
    measurements: { zstd: mZstd, ours: mOurs, oursOneThread: mOurs1 },
    primitives,
    notes: [
      'cpuPct is user+sys CPU time over wall time (200% = both cores of this machine busy).',
      `one core of this machine (openssl speed, 1 MiB buffers): ${Object.entries(primitives)
        .map(([k, v]) => `${k} ${v} MB/s`)
        .join(', ')}`,
    ],
    env: { tools: { zstd: toolVersion('zstd') } },
  };
});

/**
 * Single-thread throughput of the primitives the pipeline runs over every byte, to say what bounds it:
 * `openssl speed` on 1 MiB buffers (the same OpenSSL 3 assembly the addon gets from Node's exports).
 */
function onePerCore() {
  const out = {};
  for (const [name, args] of [
    ['md5', ['-evp', 'md5']],
    ['sha256', ['-evp', 'sha256']],
    ['hmac-sha256', ['-hmac', 'sha256']],
    ['aes-256-gcm', ['-evp', 'aes-256-gcm']],
  ]) {
    const r = spawnSync('openssl', ['speed', '-elapsed', '-seconds', '1', '-bytes', String(MiB), ...args], { encoding: 'utf8' });
    const k = /([\d.]+)k\s*$/.exec((r.stdout || '').trim().split('\n').pop() ?? '');
    if (k) out[name] = Math.round(Number(k[1]) / 1000);
  }
  return out;
}
