// Trial (c): MD5 of every 4 MiB block (hashFilesJob, blocks hashed in parallel on all cores and, within a
// core, up to 16 at once on the multi-buffer path) against `md5sum` of the same files. Goals: ≥ 1.6×,
// and ≥ 3× on one core from a warm cache. Two rows: the whole data set (many small files included)
// and its large files only. Before timing, a few digests are checked against Node's crypto.
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  cachePolicy,
  compare,
  dataFiles,
  log,
  main,
  measureAll,
  nativeFn,
  scratchDir,
  timeFn,
  toolVersion,
  trialOptions,
  warmFiles,
  MiB,
} from '../lib/harness.mjs';
import { md5sumContender, writeFileLists } from '../lib/baselines.mjs';

const BLOCK = 4 * MiB;

function hashContender(files, hash, label, extra = {}) {
  return {
    label,
    bytes: files.reduce((s, f) => s + f.size, 0),
    unavailable: hash.why,
    run: () => timeFn(() => hash.fn({ items: files.map((f) => ({ path: f.abs })), blockSize: BLOCK, ...extra })),
  };
}

/** The job's block digests for a few files must equal Node's MD5 of the same 4 MiB blocks. */
async function checkDigests(hash, files) {
  const sample = [files.find((f) => f.size > 0 && f.size < BLOCK), files.find((f) => f.size > BLOCK && f.size % BLOCK !== 0)].filter(Boolean);
  const r = await hash.fn({ items: sample.map((f) => ({ path: f.abs })), blockSize: BLOCK });
  sample.forEach((f, i) => {
    const data = fs.readFileSync(f.abs);
    for (let off = 0, b = 0; off < data.length; off += BLOCK, b++) {
      const want = crypto
        .createHash('md5')
        .update(data.subarray(off, off + BLOCK))
        .digest();
      if (!want.equals(r.items[i].blockMd5.subarray(b * 16, b * 16 + 16))) throw new Error(`hashFilesJob block ${b} of ${f.path} differs from Node's MD5`);
    }
  });
  return sample.map((f) => f.path);
}

await main('md5', async () => {
  const opts = trialOptions();
  const { policy, note: cacheNote } = cachePolicy(opts, 'drop');
  const all = dataFiles(opts);
  const large = all.filter((f) => f.size >= 16 * MiB);
  const hash = nativeFn('hashFilesJob');
  const scratch = scratchDir('md5');
  const notes = [];
  if (hash.fn) notes.push(`block digests of ${(await checkDigests(hash, all)).join(', ')} match Node's crypto`);
  const rows = [];
  const measurements = {};
  for (const [id, files, what] of [
    ['all', all, 'whole data set'],
    ['large', large, 'large files (≥ 16 MiB)'],
  ]) {
    const dir = `${scratch}/${id}`;
    fs.mkdirSync(dir, { recursive: true });
    const lists = writeFileLists(dir, files);
    const bytes = files.reduce((s, f) => s + f.size, 0);
    if (policy === 'warm') warmFiles(files.map((f) => f.abs));
    log(`md5: ${what}: ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB, ${opts.runs} runs each, cache ${policy}`);
    const m = await measureAll([md5sumContender({ files, lists }), hashContender(files, hash, 'hashFilesJob(4 MiB blocks, direct, all cores)')], {
      runs: opts.runs,
      cache: policy,
    });
    measurements[id] = m;
    rows.push(compare(`md5/${id}`, `${what}: hashFilesJob vs md5sum`, m[1], m[0], 1.6));
  }
  // Diagnostic: both from a warm page cache (ours with direct: false), so only hashing is measured:
  // how well blocks hash in parallel, with the disk out of the picture.
  {
    const dir = `${scratch}/warm`;
    fs.mkdirSync(dir, { recursive: true });
    const lists = writeFileLists(dir, large);
    warmFiles(large.map((f) => f.abs));
    log(`md5: large files from a warm page cache, ${opts.runs} runs each`);
    const m = await measureAll(
      [
        md5sumContender({ files: large, lists }),
        hashContender(large, hash, 'hashFilesJob(direct: false, warm cache)', { direct: false }),
        hashContender(large, hash, 'hashFilesJob(direct: false, warm cache, threads: 1)', { direct: false, threads: 1 }),
      ],
      { runs: opts.runs, cache: 'warm' },
    );
    measurements.warm = m;
    rows.push(
      compare(
        'md5/large-warm',
        'large files, warm cache: hashFilesJob(buffered) vs md5sum',
        m[1],
        m[0],
        null,
        `info only: hashing alone, no disk; cpu ours ${m[1].cpuPct ?? 'n/a'}%, md5sum ${m[0].cpuPct ?? 'n/a'}%`,
      ),
    );
    // The multi-buffer goal: one worker thread (one core hashing 16 blocks per SIMD pass) against md5sum.
    rows.push(
      compare(
        'md5/one-core',
        'large files, warm cache, one core: hashFilesJob(threads: 1) vs md5sum',
        m[2],
        m[0],
        3,
        `multi-buffer MD5 (${nativeFn('md5Implementation').fn?.() ?? 'n/a'}); cpu ours ${m[2].cpuPct ?? 'n/a'}%, md5sum ${m[0].cpuPct ?? 'n/a'}%`,
      ),
    );
    rows.push(
      compare(
        'md5/threads-scaling',
        `warm cache: hashFilesJob threads: default vs threads: 1`,
        m[1],
        m[2],
        null,
        'info only: about 2 on an idle 2-core machine if blocks hash in parallel; near 1 = one core (serial, or the other core busy elsewhere)',
      ),
    );
  }
  return {
    title: 'MD5 of every 4 MiB block vs md5sum',
    cache: policy,
    cacheNote,
    bytes: all.reduce((s, f) => s + f.size, 0),
    data: `whole data set (${all.length} files) and its ${large.length} files of ≥ 16 MiB`,
    rows,
    measurements,
    notes: [...notes, 'md5sum reads through the page cache (readahead); hashFilesJob reads with O_DIRECT, 4 reads in flight.'],
    env: { tools: { md5sum: toolVersion('md5sum') } },
  };
});
