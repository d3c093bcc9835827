// Trial (b): compression throughput and ratio against `zstd -T0 -3` on the same bytes (the whole data
// set). The binding has no pure multi-threaded compression job, so ours is packJob with chunks and packs
// made large (8 MiB average chunks, 1 GiB packs): it still encrypts and hashes every chunk, so this is
// an upper bound on the cost of compression alone. Goal: ≥ 1.0× zstd's MB/s with a compression ratio
// within 2% of zstd's.
import os from 'node:os';
import { cachePolicy, compare, dataFiles, log, main, measureAll, scratchDir, toolVersion, trialOptions, warmFiles, MiB } from '../lib/harness.mjs';
import { packContender, writeFileLists, zstdContender } from '../lib/baselines.mjs';

await main('compress', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'warm');
  const files = dataFiles(opts);
  const scratch = scratchDir('compress');
  const lists = writeFileLists(scratch, files);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  if (policy === 'warm') warmFiles(files.map((f) => f.abs));

  const zstd = zstdContender({ files, lists, scratch, level: 3 });
  const ours = packContender({
    files,
    scratch,
    level: 3,
    threads: os.cpus().length,
    label: 'packJob(level 3, chunks 4/8/16 MiB, 1 GiB packs)',
    chunker: { min: 4 * MiB, avg: 8 * MiB, max: 16 * MiB },
    packSize: 1024 * MiB,
  });
  log(`compress: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
  const [mZstd, mOurs] = await measureAll([zstd, ours], { runs: opts.runs, cache: policy });

  const row = compare('compress/pack-vs-zstd', 'packJob as compressor vs zstd -T0 -3', mOurs, mZstd, 1.0);
  if (mOurs.compressionRatio && mZstd.compressionRatio) {
    const rel = mOurs.compressionRatio / mZstd.compressionRatio;
    row.compressionRatio = { ours: mOurs.compressionRatio, baseline: mZstd.compressionRatio, relative: Math.round(rel * 1000) / 1000, goal: '≥ 0.98' };
    row.pass = row.pass && rel >= 0.98;
    row.note = [row.note, `compression ratio ours ${mOurs.compressionRatio} vs zstd ${mZstd.compressionRatio} (${((rel - 1) * 100).toFixed(1)}%)`]
      .filter(Boolean)
      .join('; ');
  } else {
    row.note = [row.note, `zstd compression ratio ${mZstd.compressionRatio ?? 'n/a'}`].filter(Boolean).join('; ');
  }
  return {
    title: 'Compression throughput and ratio (zstd level 3)',
    cache: policy,
    cacheNote,
    bytes,
    data: `whole data set, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB apparent (holes of the sparse file count as read bytes)`,
    rows: [row],
    measurements: { zstd: mZstd, ours: mOurs },
    notes: [
      'Ours is packJob (no pure compression job in the binding): it also encrypts (AES-256-GCM) and hashes (HMAC-SHA-256) each chunk.',
      'Compressed sizes: zstd = its output file; ours = the pack files on disk (framing, nonces and tags included).',
    ],
    env: { tools: { zstd: toolVersion('zstd') } },
  };
});
