/**
 * The rules `check` (src/core/check.ts) applies to a repository, in the staging directory or in the
 * container (the two differ only in how they read bytes: src/core/check-storage.ts); what counts as a
 * problem, and how problems are collected, lives here once.
 */
import type { ChunkIndex } from '../repo/chunk-index';
import { packName } from '../repo/pack-name';
import type { IndexDoc, IndexPack, PackListDoc } from '../repo/index-file';
import { type TreeRef, badName, readTree } from '../repo/tree';
import type { CheckProblem, CheckResult } from './check';
import { DriveseedError, cancelledError } from '../base/errors';
import type { Reporter } from '../base/reporter';

/** Problems beyond this many are counted but not listed (the count is exact). */
const MAX_LISTED = 10_000;

/** Collects problems: every one is reported as a warning and counted; the first MAX_LISTED are kept. */
export class ProblemList {
  readonly problems: CheckProblem[] = [];
  count = 0;
  constructor(private readonly reporter: Reporter) {}
  readonly report = (p: CheckProblem): void => {
    this.count++;
    if (this.problems.length < MAX_LISTED) this.problems.push(p);
    this.reporter.warning(p.code, p.message, { ...p });
  };
}

/** True when a plain pack list says exactly what its encrypted index says (prep builds manifests from it). */
export function packListMatches(list: PackListDoc, doc: IndexDoc): boolean {
  return (
    list.packs.length === doc.packs.length &&
    list.packs.every((p, i) => {
      const q = doc.packs[i]!;
      return p.name === q.name && p.path === q.path && p.size === q.size && p.blockMd5.join() === q.blockMd5.join();
    })
  );
}

/** Reports every index entry that lies outside its pack. */
export function checkPackEntries(p: IndexPack, report: (p: CheckProblem) => void): void {
  for (const [id, offset, length] of p.entries) {
    if (offset < 0 || length <= 0 || offset + length > p.size) {
      report({
        code: 'ENTRY_OUT_OF_RANGE',
        message: `Chunk ${id} at offset ${offset} (+${length}) lies outside pack ${p.path} (${p.size} bytes)`,
        file: p.path,
        pack: p.name,
        offset,
        length,
        chunk: id,
      });
    }
  }
}

export interface TreeCheck {
  snapshot: string;
  tree: TreeRef;
  readChunk: (id: string, rawLength: number) => Buffer | Promise<Buffer>;
  index: ChunkIndex;
  counts: CheckResult['counts'];
  report: (p: CheckProblem) => void;
  signal: AbortSignal;
  /** called every few thousand entries (progress; yields to the event loop) */
  onStep?: (path: string) => Promise<void>;
}

/**
 * Walks one snapshot's tree: refused names, dangling hard links, chunks no index lists; a tree that
 * cannot be read is one TREE_DAMAGED problem naming the pack and offset where known.
 */
export async function checkTree(t: TreeCheck): Promise<void> {
  const { snapshot: sid, report, counts } = t;
  const names: string[] = [];
  const links = new Set<number>();
  let steps = 0;
  try {
    for await (const { rec, depth } of readTree(t.tree, t.readChunk, `snapshots/${sid}`)) {
      if (++steps % 5000 === 0) {
        if (t.signal.aborted) throw cancelledError();
        await t.onStep?.(names.join('/'));
      }
      names.length = depth;
      if (rec.t === 'e') continue;
      const where = [...names, rec.n].join('/');
      const bad = badName(rec.n);
      if (bad) report({ code: 'BAD_NAME', message: `Snapshot ${sid}: entry ${JSON.stringify(where)} is refused: ${bad}`, snapshot: sid, path: where });
      if (rec.t === 'd') names.push(rec.n);
      else if (rec.t === 'h') {
        if (!links.has(rec.k))
          report({
            code: 'HARDLINK_DANGLING',
            message: `Snapshot ${sid}: hard link ${where} names link ${rec.k}, which no earlier file has`,
            snapshot: sid,
            path: where,
          });
      } else if (rec.t === 'f') {
        counts.files++;
        if (rec.k !== undefined) links.add(rec.k);
        for (const [id] of rec.c) {
          if (!t.index.lookup(Buffer.from(id, 'hex'))) {
            report({
              code: 'CHUNK_MISSING',
              message: `Snapshot ${sid}: file ${where} needs chunk ${id}, which no index lists`,
              snapshot: sid,
              path: where,
              chunk: id,
            });
          }
        }
      }
    }
  } catch (err) {
    if (err instanceof DriveseedError && err.category === 'CANCELLED') throw err;
    const d = (err as DriveseedError).details ?? {};
    report({
      code: 'TREE_DAMAGED',
      message: `Snapshot ${sid}: its tree cannot be read: ${(err as Error).message}`,
      snapshot: sid,
      ...(typeof d.pack === 'string' ? { pack: d.pack } : {}),
      ...(typeof d.offset === 'number' ? { offset: d.offset } : {}),
      ...(typeof d.chunk === 'string' ? { chunk: d.chunk } : {}),
    });
  }
}

/**
 * Compares a pack's digests as read (length and block MD5s, from verifyPacksJob) with its name and
 * with the block MD5s the index recorded for drive manifests: PACK_HASH and one BLOCK_MD5 per block.
 */
export function checkPackDigests(p: IndexPack, read: { bytes: number; blockMd5: Buffer }, blockSize: number, report: (p: CheckProblem) => void): void {
  const named = packName(read.bytes, blockSize, read.blockMd5);
  if (named !== p.name)
    report({ code: 'PACK_HASH', message: `Pack ${p.path}: its content name (from its block MD5s) is ${named}, not its name`, file: p.path, pack: p.name });
  for (let b = 0; b * 16 < read.blockMd5.length; b++) {
    const got = read.blockMd5.toString('hex', b * 16, b * 16 + 16);
    if (got !== p.blockMd5[b]) {
      const offset = b * blockSize;
      report({
        code: 'BLOCK_MD5',
        message: `Pack ${p.path}: bytes ${offset}..${Math.min(offset + blockSize, p.size)} have MD5 ${got}, the index recorded ${p.blockMd5[b] ?? 'none'}`,
        file: p.path,
        pack: p.name,
        offset,
        length: Math.min(blockSize, p.size - offset),
      });
    }
  }
}
