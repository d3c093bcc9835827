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
import { loadBinding } from '../native/load';
import { writeFileAtomic } from '../repo/atomic';
import type { ChunkIndex } from '../repo/chunk-index';
import { corruptError } from '../repo/errors';
import type { CloudRepository } from './repository';

export function treeBlobCacheDir(staging: string): string {
  return path.join(staging, '.cache', 'tree-blobs');
}

/** Reads one chunk of the repository through the encrypted blob cache; verifies it (AES-GCM + keyed id). */
export async function readChunkCached(
  repo: CloudRepository,
  index: ChunkIndex,
  cacheDir: string,
  id: string,
  rawLength: number,
  signal?: AbortSignal,
): Promise<Buffer> {
  const loc = index.lookup(Buffer.from(id, 'hex'));
  if (!loc) throw corruptError('index', `chunk ${id} is not in any index file`, { chunk: id });
  const binding = loadBinding();
  const decode = (blob: Buffer) => {
    const data = binding.decodeBlob(blob, Buffer.from(id, 'hex'), repo.keys.blobKeys(), repo.config.chunker.max);
    if (data.length !== rawLength) throw new Error(`length ${data.length}, expected ${rawLength}`);
    return data;
  };
  const cached = path.join(cacheDir, id);
  try {
    return decode(fs.readFileSync(cached));
  } catch {
    // absent or damaged: fetch it
  }
  const pack = index.packs[loc.pack]!;
  const blob = await repo.backend.readRange(pack.path, loc.offset, loc.length, signal);
  let data: Buffer;
  try {
    data = decode(blob);
  } catch (err) {
    throw corruptError(`${repo.backend.description}/${pack.path}`, `chunk ${id} at offset ${loc.offset} does not verify (${(err as Error).message})`, {
      pack: pack.name,
      offset: loc.offset,
      chunk: id,
    });
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(cached, blob);
  return data;
}
