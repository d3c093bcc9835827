// Contenders shared by several trials: the standard tools (zstd, md5sum) and our native jobs over the
// same list of files. A contender is { label, command, bytes, prepare?, run, after? } (harness.measureAll).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeFn, timeCommand, timeFn, treeBytes } from './harness.mjs';

/** Writes a NUL-separated and a newline-separated list of paths (for xargs -0 and zstd --filelist). */
export function writeFileLists(dir, files) {
  const nul = path.join(dir, 'files.nul');
  const nl = path.join(dir, 'files.txt');
  fs.writeFileSync(nul, files.map((f) => f.abs).join('\0'));
  fs.writeFileSync(nl, files.map((f) => f.abs).join('\n') + '\n');
  return { nul, nl };
}

/**
 * `zstd -T0 -<level>` of every file, one frame per file, concatenated into one output file (like
 * `zstd -c f1 f2 …`). Throughput counts input bytes (apparent sizes, holes read as zeros).
 */
export function zstdContender({ files, lists, scratch, level = 3 }) {
  const out = path.join(scratch, 'zstd.out');
  const bytes = files.reduce((s, f) => s + f.size, 0);
  return {
    label: `zstd -T0 -${level}`,
    command: `zstd -T0 -${level} -q -c --filelist <${files.length} files> > out`,
    bytes,
    prepare: () => fs.rmSync(out, { force: true }),
    run: async () => {
      const r = await timeCommand('zstd', ['-T0', `-${level}`, '-q', '-c', '--filelist', lists.nl], { stdoutFile: out });
      return { ...r, outBytes: fs.statSync(out).size };
    },
    after: (r) => ({ outBytes: r.outBytes, compressionRatio: Math.round((bytes / r.outBytes) * 1000) / 1000 }),
  };
}

/** `md5sum` of every file (xargs batches them into as few md5sum processes as it can, one after another). */
export function md5sumContender({ files, lists }) {
  return {
    label: 'md5sum',
    command: `xargs -0 -a <list of ${files.length} files> md5sum > /dev/null`,
    bytes: files.reduce((s, f) => s + f.size, 0),
    run: () => timeCommand('sh', ['-c', `xargs -0 -a '${lists.nul}' md5sum > /dev/null`]),
  };
}

/** Keys as a new repository's (format version 2: keyed BLAKE3 chunk ids, docs/format.md §config). */
export function randomKeys() {
  return { dataKey: crypto.randomBytes(32), idKey: crypto.randomBytes(32), idScheme: 'blake3' };
}

/**
 * packJob over the files into a fresh pack directory each run. Compressed size is what lands on disk
 * (pack files, all framing included).
 */
export function packContender({ files, scratch, label, chunker, level = 3, threads = os.cpus().length, packSize, extra = {} }) {
  const pack = nativeFn('packJob');
  const packDir = path.join(scratch, 'packs');
  const bytes = files.reduce((s, f) => s + f.size, 0);
  const keys = randomKeys();
  return {
    label,
    bytes,
    unavailable: pack.why,
    prepare: () => {
      fs.rmSync(packDir, { recursive: true, force: true });
      fs.mkdirSync(packDir, { recursive: true });
    },
    run: async () => {
      const r = await timeFn(() =>
        pack.fn({
          files: files.map((f) => ({ path: f.abs, size: f.size })),
          packDir,
          chunker,
          level,
          threads,
          keys,
          known: Buffer.alloc(0),
          ...(packSize ? { packSize } : {}),
          ...extra,
        }),
      );
      return { ...r, outBytes: treeBytes(packDir) };
    },
    after: (r) => ({ outBytes: r.outBytes, compressionRatio: Math.round((bytes / r.outBytes) * 1000) / 1000, job: r.value }),
  };
}
