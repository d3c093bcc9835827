/**
 * The read-back verifier: re-reads every file a drive's DriveManifest.xml lists with direct I/O
 * (native hashFiles, off the JS thread) and compares every 4 MiB block's MD5 with the manifest.
 * Reports EVERY mismatch (blob path, file, block offset and length, expected and actual MD5), every
 * block that cannot be read (EIO and other errno codes, a file that ends early: `actual` null and
 * `error` the code; the other blocks are still read), every missing or wrongly sized file, and checks
 * the drive id file against the manifest's DriveId.
 * Memory: files are hashed in batches of BATCH_FILES; only mismatches are kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RateMeter, type Reporter } from '../base/reporter';
import { filePathToPosix, manifestFileHash, readManifest, type ManifestBlob } from '../azure/manifest';
import { DataPlaneError } from '../native/errors';
import { hashFiles } from '../native/io';
import { readDriveIdFile } from './drive-id';

export const MANIFEST_NAME = 'DriveManifest.xml';
const BATCH_FILES = 256;

export interface BadBlock {
  blobPath: string;
  file: string;
  offset: number;
  length: number;
  expected: string;
  actual: string | null;
  /** the block could not be read: the error code (EIO, ERR_CHANGED, …) */
  error?: string;
}

export interface DriveProblem {
  kind: 'missing' | 'length' | 'block' | 'driveId' | 'manifest';
  message: string;
  blobPath?: string;
  file?: string;
  block?: BadBlock;
}

export interface DriveVerifyResult {
  volume: string;
  driveId: string;
  manifestHash: string;
  blobs: number;
  blocks: number;
  bytes: number;
  problems: DriveProblem[];
  ok: boolean;
}

/** Verifies one mounted drive. `expectManifestHash` (from the journal/job) is compared when given. */
export async function verifyDrive(
  volume: string,
  opts: { reporter?: Reporter; signal?: AbortSignal; direct?: boolean; expectManifestHash?: string } = {},
): Promise<DriveVerifyResult> {
  const manifestFile = path.join(volume, MANIFEST_NAME);
  const problems: DriveProblem[] = [];
  let driveId = '';
  let blobs = 0;
  let blocks = 0;
  let bytes = 0;
  let batch: ManifestBlob[] = [];
  let manifestRead = false;
  let total = 0;
  const meter = new RateMeter();

  const flush = async () => {
    const present: ManifestBlob[] = [];
    for (const b of batch) {
      const file = path.join(volume, filePathToPosix(b.filePath));
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        problems.push({ kind: 'missing', blobPath: b.blobPath, file, message: `${file} (blob ${b.blobPath}) is missing from the drive` });
        continue;
      }
      if (size !== b.length) {
        problems.push({ kind: 'length', blobPath: b.blobPath, file, message: `${file} (blob ${b.blobPath}) is ${size} bytes; the manifest says ${b.length}` });
        continue;
      }
      present.push(b);
    }
    batch = [];
    if (present.length === 0) return;
    const hashOpts = {
      direct: opts.direct ?? true,
      signal: opts.signal,
      onProgress: (p: { bytesDone: number }) => {
        const done = bytes + p.bytesDone;
        // total grows as the manifest is read batch by batch: no ETA until it is complete
        opts.reporter?.progress({
          phase: 'verify',
          bytesDone: done,
          current: volume,
          ...(manifestRead ? { bytesTotal: total, ...meter.sample(done, total) } : { rate: meter.sample(done).rate }),
        });
      },
    };
    // got[i][j]: the MD5 of block j of present[i], or the error that kept it from being read
    let got: Array<Array<string | DataPlaneError>>;
    try {
      const r = await hashFiles(
        present.map((b) => ({ path: path.join(volume, filePathToPosix(b.filePath)) })),
        hashOpts,
      );
      got = r.items.map((it) => it.blockMd5Hex);
      bytes += r.bytes;
    } catch (err) {
      if (!unreadable(err)) throw err;
      // A block that cannot be read is a bad block like any other: read the batch again block by
      // block, each file on its own, leaving out each block that fails, so that every other block is
      // still compared (docs/prep.md, "Verify").
      got = [];
      for (const b of present) got.push(await hashBlocks(path.join(volume, filePathToPosix(b.filePath)), b, hashOpts));
      bytes += present.reduce((s, b) => s + b.length, 0);
    }
    present.forEach((b, i) => {
      b.blocks.forEach((k, j) => {
        const g = got[i]![j];
        const actual = typeof g === 'string' ? g : null;
        if (actual !== k.hash.toUpperCase()) {
          const file = path.join(volume, filePathToPosix(b.filePath));
          const block: BadBlock = { blobPath: b.blobPath, file, offset: k.offset, length: k.length, expected: k.hash.toUpperCase(), actual };
          if (g instanceof DataPlaneError) block.error = g.code;
          problems.push({
            kind: 'block',
            blobPath: b.blobPath,
            file,
            block,
            message:
              g instanceof DataPlaneError
                ? `${b.blobPath}: block at offset ${k.offset} (${k.length} bytes) of ${file} could not be read: ${g.message}`
                : `${b.blobPath}: block at offset ${k.offset} (${k.length} bytes) of ${file} has MD5 ${actual ?? 'none'}, expected ${block.expected}`,
          });
        }
      });
    });
  };

  if (!fs.existsSync(manifestFile)) {
    problems.push({
      kind: 'manifest',
      message: `${manifestFile} is missing: this volume was not prepared by driveseed prep, or prep did not finish (rerun it)`,
    });
    return { volume, driveId, manifestHash: '', blobs, blocks, bytes, problems, ok: false };
  }
  const summary = await readManifest(manifestFile, {
    onHeader: (h) => {
      driveId = h.driveId;
    },
    onBlob: async (b) => {
      blobs++;
      blocks += b.blocks.length;
      total += b.length;
      batch.push(b);
      if (batch.length >= BATCH_FILES) await flush();
    },
  });
  manifestRead = true;
  await flush();
  driveId = summary.driveId;
  const manifestHash = await manifestFileHash(manifestFile);
  if (opts.expectManifestHash && opts.expectManifestHash.toUpperCase() !== manifestHash) {
    problems.push({
      kind: 'manifest',
      message: `${manifestFile} has MD5 ${manifestHash} but the job records ${opts.expectManifestHash}; the manifest changed after prep`,
    });
  }
  const idFile = readDriveIdFile(volume);
  if (idFile !== undefined && idFile !== driveId) {
    problems.push({ kind: 'driveId', message: `The volume's driveseed-drive-id is ${idFile} but its manifest says ${driveId}` });
  }
  return { volume, driveId, manifestHash, blobs, blocks, bytes, problems, ok: problems.length === 0 };
}

/** A read failure of the drive's data (not a cancellation, not a misuse of direct I/O). */
function unreadable(err: unknown): err is DataPlaneError {
  return err instanceof DataPlaneError && err.path !== undefined && (err.code === 'ERR_CHANGED' || (/^E[A-Z0-9]+$/.test(err.code) && err.code !== 'EINVAL'));
}

/**
 * The MD5 of every manifest block of one file, each block its own item; a block whose read fails is
 * left out and hashed no more (its entry is the error), and the rest are read again.
 */
async function hashBlocks(file: string, b: ManifestBlob, options: Parameters<typeof hashFiles>[1]): Promise<Array<string | DataPlaneError>> {
  const out: Array<string | DataPlaneError> = new Array(b.blocks.length);
  let todo = b.blocks.map((_, j) => j);
  while (todo.length > 0) {
    try {
      const r = await hashFiles(
        todo.map((j) => ({ path: file, offset: b.blocks[j]!.offset, length: b.blocks[j]!.length })),
        options,
      );
      todo.forEach((j, n) => {
        out[j] = r.items[n]!.blockMd5Hex[0] ?? '';
      });
      return out;
    } catch (err) {
      if (!unreadable(err) || err.path !== file) throw err;
      const at = err.offset ?? 0;
      // the block the failed read was in (the first one left when the offset is unknown)
      const j = todo.find((x) => at >= b.blocks[x]!.offset && at < b.blocks[x]!.offset + b.blocks[x]!.length) ?? todo[0]!;
      out[j] = err;
      todo = todo.filter((x) => x !== j);
    }
  }
  return out;
}
