/**
 * Index files (docs/format.md §Index): `index/<id>` is an encrypted JSON document listing packs,
 * each with its size, the MD5 of every 4 MiB block and its entries (chunk id, offset, length, raw
 * length); `index/<id>.packs.json` is the same pack list without the entries, in plain JSON, so that
 * drive preparation can build Azure manifests without the passphrase and without rehashing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PackDoneEvent } from '../native/binding';
import { writeFileAtomic } from './atomic';
import { type RepoKeys, decodeMetadata, encodeMetadata, sha256Hex } from './crypto';
import { corruptError, repoIoError } from './errors';
import { ID_RE, INDEX_DIR, PACK_LIST_SUFFIX, indexPath, packListPath, packPath } from './layout';

/** One chunk inside a pack: [id hex, offset, length (stored bytes), rawLength (plaintext bytes)]. */
export type IndexEntry = [id: string, offset: number, length: number, rawLength: number];

export interface IndexPack {
  /** 64 hex chars: the pack's content name, packName(size, blockSize, blockMd5) (src/repo/pack-name.ts) */
  name: string;
  /** repository-relative: data/<name[0..2]>/<name> */
  path: string;
  size: number;
  /** bytes per MD5 block (4 MiB) */
  blockSize: number;
  /** hex MD5 of every blockSize block of the pack file, in order (the last may be short) */
  blockMd5: string[];
  entries: IndexEntry[];
}

export interface IndexDoc {
  version: 1;
  created: string;
  packs: IndexPack[];
}

/** The unencrypted pack list next to an index file. */
export interface PackListDoc {
  version: 1;
  index: string;
  packs: Array<Omit<IndexPack, 'entries'>>;
}

/** Converts the native job's pack event into the index's form. */
export function packFromEvent(ev: PackDoneEvent, blockSize: number): IndexPack {
  const blockMd5: string[] = [];
  for (let i = 0; i + 16 <= ev.blockMd5.length; i += 16) blockMd5.push(ev.blockMd5.toString('hex', i, i + 16));
  return {
    name: ev.name,
    path: packPath(ev.name),
    size: ev.size,
    blockSize,
    blockMd5,
    entries: ev.entries.map((e) => [e.id.toString('hex'), e.offset, e.length, e.rawLength]),
  };
}

/**
 * Writes one index file for `packs` (which must already be durable on disk): the plain pack list
 * first, then the encrypted index, each atomically. Returns the index id.
 */
export function writeIndex(root: string, keys: RepoKeys, packs: IndexPack[]): string {
  const { id, bytes, list } = encodeIndex(keys, packs);
  writeFileAtomic(path.join(root, packListPath(id)), JSON.stringify(list) + '\n');
  writeFileAtomic(path.join(root, indexPath(id)), bytes);
  return id;
}

/** The bytes of an index file for `packs` and its plain pack list (writeIndex without the writing; the cloud backup uses it). */
export function encodeIndex(keys: RepoKeys, packs: IndexPack[]): { id: string; bytes: Buffer; list: PackListDoc } {
  const doc: IndexDoc = { version: 1, created: new Date().toISOString(), packs };
  const { id, bytes } = encodeMetadata(keys, 'index', doc);
  return { id, bytes, list: { version: 1, index: id, packs: packs.map(({ entries: _e, ...p }) => p) } };
}

/** Ids of all index files, sorted. */
export function listIndexIds(root: string): string[] {
  return listIds(root, INDEX_DIR);
}

export function listIds(root: string, dir: string): string[] {
  const full = path.join(root, dir);
  try {
    return fs
      .readdirSync(full)
      .filter((n) => ID_RE.test(n))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw repoIoError(err, 'list', full);
  }
}

/** Reads a content-addressed metadata file and checks that its bytes hash to its name. */
export function readAddressed(root: string, rel: string, id: string): Buffer {
  const file = path.join(root, rel);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw repoIoError(err, 'read', file);
  }
  checkAddressed(rel, id, bytes);
  return bytes;
}

/** Throws REPO_CORRUPT when a content-addressed file's bytes do not hash to its name. */
export function checkAddressed(rel: string, id: string, bytes: Uint8Array): void {
  const actual = sha256Hex(bytes);
  if (actual !== id) throw corruptError(rel, `content hash is ${actual}, not its name: the file is damaged`, { expected: id, actual });
}

/** Reads and decrypts one index file. */
export function readIndex(root: string, keys: RepoKeys, id: string): IndexDoc {
  return decodeIndex(keys, id, readAddressed(root, indexPath(id), id));
}

/** Decrypts and validates the bytes of index file `id` (their hash must already have been checked). */
export function decodeIndex(keys: RepoKeys, id: string, bytes: Uint8Array): IndexDoc {
  const rel = indexPath(id);
  const doc = decodeMetadata(keys, 'index', bytes) as IndexDoc | undefined;
  if (!doc) throw corruptError(rel, "does not decrypt with this repository's key");
  if (doc.version !== 1 || !Array.isArray(doc.packs)) throw corruptError(rel, 'is not a version 1 index document');
  for (const p of doc.packs) {
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p.name !== 'string' ||
      !ID_RE.test(p.name) ||
      p.path !== packPath(p.name) ||
      !Number.isSafeInteger(p.size) ||
      p.size < 0 ||
      !Array.isArray(p.entries)
    ) {
      throw corruptError(rel, `has an invalid pack record ${JSON.stringify(p?.name)}`);
    }
    // Cheap per entry (an index can list millions): the shape the chunk index reads, not the hex of each id.
    for (const e of p.entries as unknown[]) {
      if (
        !Array.isArray(e) ||
        typeof e[0] !== 'string' ||
        e[0].length !== 64 ||
        !Number.isSafeInteger(e[1]) ||
        !Number.isSafeInteger(e[2]) ||
        !Number.isSafeInteger(e[3]) ||
        e[1] < 0 ||
        e[2] < 0 ||
        e[3] < 0
      )
        throw corruptError(rel, `has an invalid chunk entry in pack ${p.name}`);
    }
  }
  return doc;
}

/** Reads the plain pack list of index `id` (no key needed). */
export function readPackList(root: string, indexId: string): PackListDoc {
  const rel = packListPath(indexId);
  let doc: PackListDoc;
  try {
    doc = JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8')) as PackListDoc;
  } catch (err) {
    if (err instanceof SyntaxError) throw corruptError(rel, 'is not valid JSON');
    throw repoIoError(err, 'read', path.join(root, rel));
  }
  if (doc?.version !== 1 || doc.index !== indexId || !Array.isArray(doc.packs)) throw corruptError(rel, `is not the pack list of index ${indexId}`);
  return doc;
}

export { PACK_LIST_SUFFIX };
