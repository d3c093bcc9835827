/**
 * The valid documents the fuzz mutations start from, made by the product's own writers (manifest,
 * DriveLog, copy logs) or shaped as the product writes them (repository config, index, snapshot,
 * sealed with a fixed test key).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CopyLogWriter, type DriveLog, DriveLogWriter } from '../../src/azure/drivelog';
import { type DriveManifest, writeManifest } from '../../src/azure/manifest';
import { decodeMetadata, encodeMetadata, RepoKeys } from '../../src/repo/crypto';
import { scratch } from './harness';

export const H = 'D41D8CD98F00B204E9800998ECF8427E';
const MANIFEST: DriveManifest = {
  driveId: 'WD-WCC4E1234567',
  clientCreator: 'driveseed fuzz',
  blobLists: [
    {
      id: 'session#1-0',
      blobs: [
        {
          blobPath: 'seed/data/ab/abcdef',
          filePath: '\\data\\ab\\abcdef',
          length: 5 * 1024 * 1024,
          importDisposition: 'overwrite',
          blocks: [
            { offset: 0, length: 4 * 1024 * 1024, hash: H },
            { offset: 4 * 1024 * 1024, length: 1024 * 1024, hash: H },
          ],
        },
        { blobPath: 'seed/config', filePath: '\\config', length: 0, blocks: [] },
      ],
    },
  ],
};

const LOG: DriveLog = {
  driveId: 'WD-WCC4E1234567',
  status: 'CompletedWithErrors',
  blobs: [
    {
      status: 'CompletedWithErrors',
      blobPath: 'seed/data/ab/abcdef',
      filePath: '\\data\\ab\\abcdef',
      length: 5 * 1024 * 1024,
      lastModified: 'Sat, 05 Dec 2026 10:00:00 GMT',
      importDisposition: { value: 'overwrite', status: 'Created' },
      blocks: [
        { offset: 0, length: 4 * 1024 * 1024, hash: H, status: 'Completed' },
        { offset: 4 * 1024 * 1024, length: 1024 * 1024, hash: H, status: 'IOFailed' },
      ],
    },
    { status: 'Completed', blobPath: 'seed/config', filePath: '\\config', length: 0, crc64: '0123456789ABCDEF' },
  ],
};

export interface Seeds {
  manifest: string;
  classicLog: string;
  copyLog: string;
  copyLogVerbose: string;
  publishSettings: string;
  returnInfo: string;
  config: string;
  index: Uint8Array;
  snapshot: Uint8Array;
}

export const KEYS = new RepoKeys(Buffer.alloc(32, 7), Buffer.alloc(32, 9));
let seeds: Seeds | undefined;

/** The seed documents; seedDocuments() must have run. */
export function seed(): Seeds {
  if (!seeds) throw new Error('seedDocuments() has not run');
  return seeds;
}

/** Builds the valid documents the mutations start from (once per process). */
export async function seedDocuments(): Promise<Seeds> {
  if (seeds) return seeds;
  const dir = fs.mkdtempSync(path.join(scratch(), 'seeds-'));
  try {
    const m = path.join(dir, 'DriveManifest.xml');
    await writeManifest(m, MANIFEST);
    const copy = async (verbose: boolean) => {
      const f = path.join(dir, `copy-${verbose}.xml`);
      const w = await CopyLogWriter.create(f, LOG.driveId, { verbose });
      for (const b of LOG.blobs) await w.addBlob(b);
      await w.finish('CompletedWithErrors', ['ManifestFileHashMismatch']);
      return fs.readFileSync(f, 'utf8');
    };
    const classic = path.join(dir, 'classic.xml');
    const dw = await DriveLogWriter.create(classic, LOG.driveId);
    for (const b of LOG.blobs) await dw.addBlob(b);
    await dw.finish(LOG.status);
    seeds = {
      manifest: fs.readFileSync(m, 'utf8'),
      classicLog: fs.readFileSync(classic, 'utf8'),
      copyLog: await copy(false),
      copyLogVerbose: await copy(true),
      publishSettings:
        '<?xml version="1.0" encoding="utf-8"?>\n<PublishData><PublishProfile SchemaVersion="2.0" PublishMethod="AzureServiceManagementAPI"><Subscription ServiceManagementUrl="https://management.core.windows.net" Id="00000000-0000-0000-0000-000000000001" Name="Prod" ManagementCertificate="MIIK" /></PublishProfile></PublishData>\n',
      returnInfo: JSON.stringify({
        returnAddress: {
          recipientName: 'Ops',
          streetAddress1: '1 Main St',
          city: 'Springfield',
          postalCode: '12345',
          countryOrRegion: 'US',
          phone: '5550100',
          email: 'ops@example.com',
        },
        returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123' },
      }),
      config: JSON.stringify({
        format: 'driveseed-repository',
        version: 2,
        chunkIds: 'blake3',
        id: '0123456789abcdef0123456789abcdef',
        created: '2026-12-05T10:00:00.000Z',
        kdf: { name: 'scrypt', N: 16384, r: 8, p: 1, salt: Buffer.alloc(32, 1).toString('base64') },
        keys: Buffer.alloc(92, 2).toString('base64'),
        chunker: { min: 524288, avg: 1048576, max: 8388608 },
        compression: { level: 3 },
        blockSize: 4194304,
        packSize: 67108864,
      }),
      index: encodeMetadata(KEYS, 'index', {
        version: 1,
        created: '2026-12-05T10:00:00.000Z',
        packs: [
          { name: 'a'.repeat(64), path: `data/aa/${'a'.repeat(64)}`, size: 1000, blockSize: 4194304, blockMd5: [H], entries: [['b'.repeat(64), 0, 900, 2000]] },
        ],
      }).bytes,
      snapshot: encodeMetadata(KEYS, 'snapshot', {
        version: 1,
        time: '2026-12-05T10:00:00.000Z',
        host: 'h',
        sources: ['/src'],
        job: 'j',
        tree: { size: 100, chunks: [['c'.repeat(64), 100]] },
        summary: {
          files: 1,
          dirs: 1,
          symlinks: 0,
          hardlinks: 0,
          bytes: 5,
          bytesRead: 5,
          bytesNew: 5,
          bytesStored: 40,
          chunksNew: 1,
          chunksDuplicate: 0,
          packs: 1,
          filesFailed: 0,
          filesChanged: 0,
          filesUnchanged: 0,
          durationMs: 12,
        },
      }).bytes,
    };
    return seeds;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The JSON inside a seed index or snapshot. */
export function plainOf(kind: 'index' | 'snapshot'): string {
  return JSON.stringify(decodeMetadata(KEYS, kind, seed()[kind]));
}

/** `json` sealed as the repository seals metadata, so the decoder gets past authentication; text that is not JSON is sealed as a string. */
export function resealed(kind: 'index' | 'snapshot', json: string): Uint8Array {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    doc = json;
  }
  return encodeMetadata(KEYS, kind, doc).bytes;
}
