/**
 * How the emulated datacenter copies one blob from a delivered disk into the storage account, the
 * way the service does: ImportDisposition (rename, no-overwrite, overwrite), every block read and
 * MD5-checked against the manifest, Put Block with Content-MD5, then Put Block List with the whole
 * blob's Content-MD5 (and, for the 2021-08-01 verbose log, its CRC-64). A failure inside a blob
 * leaves it uncommitted: blocks before are Uncommitted, the failing one Corrupted /
 * FileUnexpectedEnd / IOFailed / BlobRequestFailed, later ones Cancelled.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { Crc64 } from '../azure/crc64';
import type { DriveLogBlob, DriveLogBlock } from '../azure/drivelog';
import { filePathToPosix, splitBlobPath, type ManifestBlob } from '../azure/manifest';
import { md5Many } from '../native/pipeline';

/** Block ids when the manifest has none: equal-length base64 (Put Block rule), index-ordered. */
export function blockId(i: number): string {
  return Buffer.from(`driveseed-${String(i).padStart(6, '0')}`).toString('base64');
}

export async function importBlob(
  service: BlobServiceClient,
  root: string,
  blob: ManifestBlob,
  withCrc: boolean,
  progress: (bytes: number) => void,
): Promise<DriveLogBlob> {
  const entry: DriveLogBlob = { status: 'Completed', blobPath: blob.blobPath, filePath: blob.filePath, length: blob.length };
  const blocks: DriveLogBlock[] = blob.blocks.map((k, i) => ({
    offset: k.offset,
    length: k.length,
    id: k.id ?? blockId(i),
    hash: k.hash,
    status: 'Cancelled',
  }));
  entry.blocks = blocks;
  const { container, blobName } = splitBlobPath(blob.blobPath);
  const cc = service.getContainerClient(container);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(path.join(root, filePathToPosix(blob.filePath)), 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    entry.status = code === 'ENOENT' || code === 'ENOTDIR' ? 'FileNotFound' : code === 'EACCES' ? 'FileAccessDenied' : 'IOFailed';
    progress(blob.length);
    return entry;
  }
  try {
    let target: { name: string; disposition: NonNullable<DriveLogBlob['importDisposition']> };
    try {
      await cc.createIfNotExists();
      target = await resolveDisposition(cc, blobName, blob.importDisposition ?? 'rename');
    } catch {
      entry.status = 'BlobRequestFailed';
      progress(blob.length);
      return entry;
    }
    entry.importDisposition = target.disposition;
    if (target.disposition.status === 'Skipped') {
      for (const k of blocks) k.status = 'Completed';
      progress(blob.length);
      return entry;
    }
    const bb = cc.getBlockBlobClient(target.name);
    const whole = createHash('md5');
    const crc = withCrc ? new Crc64() : undefined;
    let failedAt = -1;
    let failure: DriveLogBlock['status'] = 'Failed';
    // Blocks are read BATCH at a time and their MD5s computed together on the native multi-buffer path
    // (md5Many); each is then checked and staged in order, so the first failing block is the one
    // reported, as when they were read one by one.
    const BATCH = 4;
    const maxLen = Math.max(1, ...blob.blocks.map((k) => k.length));
    const bufs = Array.from({ length: Math.max(1, Math.min(BATCH, blob.blocks.length)) }, () => Buffer.allocUnsafe(maxLen));
    batches: for (let first = 0; first < blob.blocks.length; first += BATCH) {
      const end = Math.min(first + BATCH, blob.blocks.length);
      const datas: Buffer[] = [];
      let readFailure: { at: number; status: DriveLogBlock['status'] } | undefined;
      for (let i = first; i < end; i++) {
        const k = blob.blocks[i]!;
        const buf = bufs[i - first]!;
        let n = 0;
        try {
          while (n < k.length) {
            const r = await fh.read(buf, n, k.length - n, k.offset + n);
            if (r.bytesRead === 0) break;
            n += r.bytesRead;
          }
        } catch {
          readFailure = { at: i, status: 'IOFailed' };
          break;
        }
        if (n < k.length) {
          readFailure = { at: i, status: 'FileUnexpectedEnd' };
          break;
        }
        datas.push(buf.subarray(0, k.length));
      }
      const md5s = md5Many(datas);
      for (let j = 0; j < datas.length; j++) {
        const i = first + j;
        const k = blob.blocks[i]!;
        const data = datas[j]!;
        const md5 = md5s.subarray(16 * j, 16 * j + 16);
        if (md5.toString('hex').toUpperCase() !== k.hash) {
          failedAt = i;
          failure = 'Corrupted';
          break batches;
        }
        whole.update(data);
        crc?.update(data);
        try {
          await bb.stageBlock(blocks[i]!.id!, data, k.length, { transactionalContentMD5: md5 });
        } catch {
          failedAt = i;
          failure = 'BlobRequestFailed';
          break batches;
        }
        blocks[i]!.status = 'Uncommitted';
        progress(k.length);
      }
      if (readFailure) {
        failedAt = readFailure.at;
        failure = readFailure.status;
        break;
      }
    }
    if (failedAt >= 0) {
      blocks[failedAt]!.status = failure;
      entry.status = 'CompletedWithErrors';
      entry.errorMessage = `block at offset ${blob.blocks[failedAt]!.offset} (length ${blob.blocks[failedAt]!.length}): ${failure === 'Corrupted' ? 'the MD5 of the data on the disk does not match the manifest' : failure}`;
      progress(blob.blocks.slice(failedAt).reduce((a, k) => a + k.length, 0));
      return entry;
    }
    try {
      const r = await bb.commitBlockList(
        blocks.map((k) => k.id!),
        { blobHTTPHeaders: { blobContentMD5: whole.digest() } },
      );
      if (r.lastModified) entry.lastModified = r.lastModified.toUTCString();
    } catch {
      entry.status = 'BlobRequestFailed';
      return entry;
    }
    for (const k of blocks) k.status = 'Committed';
    if (crc) entry.crc64 = crc.hex();
    return entry;
  } finally {
    await fh.close();
  }
}

/** ImportDisposition: rename (default) → `name (2)`, `name (3)`… before the last dot; no-overwrite → skip; overwrite. */
async function resolveDisposition(
  cc: ContainerClient,
  name: string,
  disposition: string,
): Promise<{ name: string; disposition: { value: string; status: 'Created' | 'Renamed' | 'Skipped' | 'Overwritten' } }> {
  if (!(await cc.getBlockBlobClient(name).exists())) return { name, disposition: { value: disposition, status: 'Created' } };
  if (disposition === 'overwrite') return { name, disposition: { value: disposition, status: 'Overwritten' } };
  if (disposition === 'no-overwrite') return { name, disposition: { value: disposition, status: 'Skipped' } };
  const slash = name.lastIndexOf('/');
  const dot = name.lastIndexOf('.');
  const cut = dot > slash + 1 ? dot : name.length;
  for (let n = 2; ; n++) {
    const candidate = `${name.slice(0, cut)} (${n})${name.slice(cut)}`;
    if (!(await cc.getBlockBlobClient(candidate).exists())) return { name: candidate, disposition: { value: disposition, status: 'Renamed' } };
  }
}
