import { createHash } from 'node:crypto';

/**
 * A pack's content name (docs/format-packs.md §Naming and placement): lowercase hex SHA-256 of
 * size (u64 LE) || blockSize (u64 LE) || the MD5 of every blockSize block of the file (the last may be
 * short), 16 bytes each. The block MD5s are the ones the index records for drive manifests, so a name
 * check needs no second pass over the pack; any changed byte changes a block MD5 and so the name.
 */
export function packName(size: number, blockSize: number, blockMd5: Uint8Array): string {
  const head = Buffer.alloc(16);
  head.writeBigUInt64LE(BigInt(size), 0);
  head.writeBigUInt64LE(BigInt(blockSize), 8);
  return createHash('sha256').update(head).update(blockMd5).digest('hex');
}
