/**
 * The read-back verifier: re-reads every file a drive's DriveManifest.xml lists with direct I/O
 * (native hashFiles, off the JS thread) and compares every 4 MiB block's MD5 with the manifest.
 * Reports EVERY mismatch (blob path, file, block offset and length, expected and actual MD5), every
 * missing or wrongly sized file, and checks the drive id file against the manifest's DriveId.
 * Memory: files are hashed in batches of BATCH_FILES; only mismatches are kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RateMeter, type Reporter } from '../base/reporter';
import { filePathToPosix, manifestFileHash, readManifest, type ManifestBlob } from '../azure/manifest';
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
    const r = await hashFiles(
      present.map((b) => ({ path: path.join(volume, filePathToPosix(b.filePath)) })),
      {
        direct: opts.direct ?? true,
        signal: opts.signal,
        onProgress: (p) => {
          const done = bytes + p.bytesDone;
          // total grows as the manifest is read batch by batch: no ETA until it is complete
          opts.reporter?.progress({
            phase: 'verify',
            bytesDone: done,
            current: volume,
            ...(manifestRead ? { bytesTotal: total, ...meter.sample(done, total) } : { rate: meter.sample(done).rate }),
          });
        },
      },
    );
    present.forEach((b, i) => {
      const got = r.items[i]!.blockMd5Hex;
      b.blocks.forEach((k, j) => {
        const actual = got[j] ?? null;
        if (actual !== k.hash.toUpperCase()) {
          const file = path.join(volume, filePathToPosix(b.filePath));
          const block: BadBlock = { blobPath: b.blobPath, file, offset: k.offset, length: k.length, expected: k.hash.toUpperCase(), actual };
          problems.push({
            kind: 'block',
            blobPath: b.blobPath,
            file,
            block,
            message: `${b.blobPath}: block at offset ${k.offset} (${k.length} bytes) of ${file} has MD5 ${actual ?? 'none'}, expected ${block.expected}`,
          });
        }
      });
    });
    bytes += r.bytes;
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
