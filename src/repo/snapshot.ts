/**
 * Snapshots (docs/format.md §Snapshots): `snapshots/<id>`, an encrypted JSON document naming the
 * tree stream (its chunk ids and size) and summarising the run. Written last, atomically: a
 * snapshot exists only when everything it references is durable and indexed.
 */
import * as path from 'node:path';
import { writeFileAtomic } from './atomic';
import { type RepoKeys, decodeMetadata, encodeMetadata } from './crypto';
import { corruptError } from './errors';
import { listIds, readAddressed } from './index-file';
import { SNAPSHOT_DIR, snapshotPath } from './layout';
import type { TreeRef } from './tree';

export interface SnapshotSummary {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** logical bytes of all regular files (holes included) */
  bytes: number;
  /** bytes read from the sources */
  bytesRead: number;
  /** raw bytes of chunks that were new to the repository */
  bytesNew: number;
  /** bytes written into packs (compressed and encrypted, new chunks only) */
  bytesStored: number;
  chunksNew: number;
  chunksDuplicate: number;
  packs: number;
  /** files skipped because they could not be read */
  filesFailed: number;
  /** files that changed while being read */
  filesChanged: number;
  /** files not read because the parent snapshot holds them unchanged (size, mtime, ctime, inode); absent in older snapshots */
  filesUnchanged?: number;
  durationMs: number;
}

export interface SnapshotDoc {
  version: 1;
  time: string;
  host: string;
  /** absolute source paths as given; entry i of the tree's root is basename(sources[i]) */
  sources: string[];
  job?: string;
  tree: TreeRef;
  summary: SnapshotSummary;
}

export function writeSnapshot(root: string, keys: RepoKeys, doc: SnapshotDoc): string {
  const { id, bytes } = encodeMetadata(keys, 'snapshot', doc);
  writeFileAtomic(path.join(root, snapshotPath(id)), bytes);
  return id;
}

export function listSnapshotIds(root: string): string[] {
  return listIds(root, SNAPSHOT_DIR);
}

export function readSnapshot(root: string, keys: RepoKeys, id: string): SnapshotDoc {
  return decodeSnapshot(keys, id, readAddressed(root, snapshotPath(id), id));
}

/** Decrypts and validates the bytes of snapshot `id` (their hash must already have been checked). */
export function decodeSnapshot(keys: RepoKeys, id: string, bytes: Uint8Array): SnapshotDoc {
  const rel = snapshotPath(id);
  const doc = decodeMetadata(keys, 'snapshot', bytes) as SnapshotDoc | undefined;
  if (!doc) throw corruptError(rel, "does not decrypt with this repository's key");
  const t = doc.tree;
  const sum = doc.summary as unknown as Record<string, unknown> | undefined;
  const ok =
    doc.version === 1 &&
    typeof doc.time === 'string' &&
    Number.isFinite(Date.parse(doc.time)) &&
    typeof doc.host === 'string' &&
    Array.isArray(doc.sources) &&
    doc.sources.every((s) => typeof s === 'string') &&
    (doc.job === undefined || typeof doc.job === 'string') &&
    // what the next stage (time - durationMs), restore (bytes) and `snapshots` read without checking
    typeof sum === 'object' &&
    sum !== null &&
    Object.values(sum).every((v) => Number.isSafeInteger(v)) &&
    sum.files !== undefined &&
    sum.bytes !== undefined &&
    sum.durationMs !== undefined &&
    t &&
    Number.isSafeInteger(t.size) &&
    Array.isArray(t.chunks) &&
    t.chunks.every((c) => Array.isArray(c) && typeof c[0] === 'string' && /^[0-9a-f]{64}$/.test(c[0]) && Number.isSafeInteger(c[1]));
  if (!ok) throw corruptError(rel, 'is not a valid version 1 snapshot');
  return doc;
}
