// Trial (d): the whole stage pipeline (read → content-defined chunking → zstd -3 → AES-256-GCM →
// HMAC-SHA-256 ids → MD5 of pack blocks → pack files) against `zstd -T0 -3` alone on the same files.
// Goal: ≥ 0.9×, i.e. chunking, hashing and encryption are nearly free next to compression.
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
    files, scratch, level: 3, threads: os.cpus().length,
    label: 'packJob(defaults: chunks 512K/1M/8M, level 3, 64 MiB packs)',
    chunker: { min: 512 * 1024, avg: 1024 * 1024, max: 8 * MiB },
  });
  log(`pipeline: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
  const [mZstd, mOurs] = await measureAll([zstd, ours], { runs: opts.runs, cache: policy });
  const row = compare('pipeline/pack-vs-zstd', 'chunk+compress+encrypt+hash (packJob) vs zstd -T0 -3', mOurs, mZstd, 0.9,
    mOurs.compressionRatio ? `compression ratio ours ${mOurs.compressionRatio} vs zstd ${mZstd.compressionRatio}` : `zstd compression ratio ${mZstd.compressionRatio ?? 'n/a'}`);
  return {
    title: 'Stage pipeline vs zstd alone',
    cache: policy,
    cacheNote,
    bytes,
    data: `whole data set, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB apparent`,
    rows: [row],
    measurements: { zstd: mZstd, ours: mOurs },
    notes: ['cpuPct is user+sys CPU time over wall time (200% = both cores of this machine busy).'],
    env: { tools: { zstd: toolVersion('zstd') } },
  };
});
