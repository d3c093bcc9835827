/**
 * A local cache of encrypted tree chunks, for reading a parent snapshot's tree stream in a backup
 * (src/core/backup.ts) without downloading it every time.
 *
 * Entries are `<staging>/.cache/tree-blobs/<chunk id>`: the blob bytes as stored in the pack, still
 * encrypted. decodeBlob authenticates them on every use (AES-GCM and the keyed id), so a damaged entry
 * is fetched again, never trusted. An unchanged tree dedups to the same tree chunks, so the next
 * backup finds them all here; only the tree chunks a change produced are downloaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeVerifiedChunk } from '../repo/blob-loader';
import { writeFileAtomic } from '../repo/atomic';
import type { ChunkIndex } from '../repo/chunk-index';
import { CLOUD_CHECK_FIX, corruptError } from '../repo/errors';
import type { Repository } from '../repo/repository';

export function treeBlobCacheDir(staging: string): string {
  return path.join(staging, '.cache', 'tree-blobs');
}

/** Reads one chunk of the repository through the encrypted blob cache; verifies it (AES-GCM + keyed id). */
export async function readChunkCached(
  repo: Repository,
  index: ChunkIndex,
  cacheDir: string,
  id: string,
  rawLength: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  const loc = index.lookup(Buffer.from(id, 'hex'));
  if (!loc) throw corruptError('index', `chunk ${id} is not in any index file`, { chunk: id }, CLOUD_CHECK_FIX);
  const pack = index.packs[loc.pack]!;
  const origin = { file: `${repo.backend.description}/${pack.path}`, pack: pack.name, offset: loc.offset, fix: CLOUD_CHECK_FIX };
  const decode = (blob: Buffer) => decodeVerifiedChunk(blob, id, rawLength, repo.keys.blobKeys(), repo.config.chunker.max, origin);
  const cached = path.join(cacheDir, id);
  try {
    return decode(fs.readFileSync(cached));
  } catch {
    // absent or damaged: fetch it
  }
  const blob = await repo.backend.readRange(pack.path, loc.offset, loc.length, signal);
  const data = decode(blob);
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(cached, blob);
  return data;
}
