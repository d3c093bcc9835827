/**
 * The one verified blob loader: a chunk's blob, read from a pack (a local file or a ranged read of a
 * container blob), is decrypted, decompressed and authenticated against its id through the validated
 * native wrapper, and its length is checked against the index. Every reader of chunks (the local
 * repository, the cloud tree cache, restore, check) decodes through here, so a damaged chunk gives the
 * same REPO_CORRUPT error wherever it is read; only the fix it names differs per backend.
 */
import type { BlobKeys } from '../native/binding';
import { decodeBlob } from '../native/pipeline';
import { corruptError, STAGING_CHECK_FIX } from './errors';

/** Where the blob came from, for the error: the pack's file (or container path), its name and offset. */
export interface BlobOrigin {
  /** The pack as the user can find it: a path in the staging directory or `<container>/<path>`. */
  file: string;
  pack: string;
  offset: number;
  /** The check to run for this backend (STAGING_CHECK_FIX or CLOUD_CHECK_FIX). */
  fix?: string;
}

/** Decodes chunk `id` (hex) from `blob` and checks it has `rawLength` bytes; REPO_CORRUPT naming `origin` otherwise. */
export function decodeVerifiedChunk(blob: Uint8Array, id: string, rawLength: number, keys: BlobKeys, maxSize: number, origin: BlobOrigin): Buffer {
  let data: Buffer;
  try {
    data = decodeBlob(blob, Buffer.from(id, 'hex'), keys, maxSize);
  } catch (err) {
    throw chunkError(id, (err as Error).message, origin);
  }
  if (data.length !== rawLength) throw chunkError(id, `length ${data.length}, expected ${rawLength}`, origin);
  return data;
}

function chunkError(id: string, why: string, origin: BlobOrigin) {
  return corruptError(
    origin.file,
    `chunk ${id} at offset ${origin.offset} does not verify (${why})`,
    { pack: origin.pack, offset: origin.offset, chunk: id },
    origin.fix ?? STAGING_CHECK_FIX,
  );
}
