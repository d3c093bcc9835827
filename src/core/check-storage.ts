/**
 * What `driveseed check` (src/core/check.ts) does differently for a staging directory and for the
 * repository in the container: a small strategy, so the check itself is one driver.
 *
 *  - where the packs are looked for, and what else is there (the staging directory's garbage scan:
 *    temps, unreferenced packs, orphan pack lists; the container's `data/` listing: unreferenced packs);
 *  - checks only one storage can make: a local pack's block-MD5 count; a remote object's committed
 *    block list (a backend with committedBlocks(): the container), whose ids carry the MD5 each block was stored with (a check of the stored bytes that
 *    reads no data);
 *  - how --read-data gets packs as local files for the native verifier: the staging directory's own
 *    files, all in one job; the container's packs downloaded (ranged parallel reads) into
 *    `<staging>/.cache/check/`, two at a time (local disk: two packs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { blockId } from '../cloud/container-backend';
import { BLOCK_SIZE, type Backend } from '../repo/backend';
import { scanGarbage } from '../repo/garbage';
import type { IndexPack } from '../repo/index-file';
import { DATA_DIR } from '../repo/layout';
import type { CheckProblem, CheckResult } from './check';

export interface CheckStorage {
  /** the result's `staging`: the staging directory, or `<endpoint>/<container>` */
  readonly where: string;
  /** where the packs were looked for, ending PACK_MISSING and PACK_SIZE messages ('' for the staging directory) */
  readonly missingFrom: string;
  readonly sizeIn: string;
  /** packs of the wrong size are verified too (a local file is read as it is; a download needs the recorded size) */
  readonly verifiesWrongSize: boolean;
  /** packs per verify job (each group is made local, verified, released) */
  readonly groupSize: number;
  /** an error reading an index file that is a problem to report (INDEX_DAMAGED); any other is thrown */
  reportsIndexError(err: unknown): boolean;
  /** the packs there are: name → size; `referenced` are the indexed ones (for the garbage scan) */
  packsPresent(referenced: Set<string>, signal: AbortSignal): Promise<Map<string, number>>;
  /** checks of one indexed, present pack that only this storage can make */
  checkPack(p: IndexPack, report: (p: CheckProblem) => void, signal: AbortSignal): Promise<void>;
  /** local files holding `group`'s packs, in order */
  materialise(group: IndexPack[], signal: AbortSignal): Promise<string[]>;
  /** after a group is verified */
  release(files: string[]): void;
  /** the left-overs: the result's `garbage`, and the info line naming them (undefined: none) */
  garbage(): { garbage: CheckResult['garbage']; info?: { message: string; facts: Record<string, unknown> } };
  close(): void;
}

/** The staging directory `staging`. */
export function stagingStorage(staging: string, packPath: (rel: string) => string): CheckStorage {
  let scan: ReturnType<typeof scanGarbage> | undefined;
  return {
    where: staging,
    missingFrom: '',
    sizeIn: '',
    verifiesWrongSize: true,
    groupSize: Number.MAX_SAFE_INTEGER,
    reportsIndexError: () => true,
    async packsPresent(referenced) {
      scan = scanGarbage(staging, referenced);
      return new Map([...scan.packsOnDisk].map(([name, p]) => [name, p.size]));
    },
    async checkPack(p, report) {
      const blocks = Math.ceil(p.size / p.blockSize);
      if (p.blockMd5.length !== blocks)
        report({ code: 'PACK_LIST_MISMATCH', message: `Pack ${p.path} has ${p.blockMd5.length} block MD5s for ${blocks} blocks`, file: p.path, pack: p.name });
    },
    materialise: async (group) => group.map((p) => packPath(p.path)),
    release() {},
    garbage() {
      const g = scan!;
      const bytes = g.temps.reduce((a, t) => a + t.size, 0) + g.unreferencedPacks.reduce((a, p) => a + p.size, 0);
      return {
        garbage: {
          temps: g.temps.map((t) => t.path),
          unreferencedPacks: g.unreferencedPacks.map((p) => p.path),
          orphanPackLists: g.orphanPackLists,
          unknown: g.unknown,
          bytes,
        },
        ...(g.temps.length || g.unreferencedPacks.length || g.orphanPackLists.length
          ? {
              info: {
                message: `Unreferenced data (left by an interrupted run; the next stage removes it): ${g.temps.length} temp files, ${g.unreferencedPacks.length} packs, ${g.orphanPackLists.length} pack lists, ${bytes} bytes`,
                facts: { temps: g.temps.length, packs: g.unreferencedPacks.length, bytes },
              },
            }
          : {}),
      };
    },
    close() {},
  };
}

/** What a remote backend may offer check: blob block lists whose ids carry each block's MD5 (ContainerBackend). */
interface BlockListing {
  committedBlocks?(path: string, signal?: AbortSignal): Promise<Array<{ id: string; text: string; size: number }>>;
}

/** A repository without local files (the container) behind `backend`; downloads for --read-data go under `<staging>/.cache/check/`. */
export function remoteStorage(backend: Backend & BlockListing, staging: string): CheckStorage {
  const where = backend.description;
  const work = path.join(staging, '.cache', 'check');
  let blobs = new Map<string, { path: string; size: number }>();
  let referenced = new Set<string>();
  let workMade = false;
  return {
    where,
    missingFrom: ` from ${where}`,
    sizeIn: ` in ${where}`,
    verifiesWrongSize: false,
    groupSize: 2,
    reportsIndexError: (err) => err instanceof DriveseedError && err.category === 'VERIFY_FAILED',
    async packsPresent(refs, signal) {
      referenced = refs;
      blobs = new Map((await backend.list(`${DATA_DIR}/`, signal)).map((e) => [e.path.split('/').pop()!, e]));
      return new Map([...blobs].map(([name, e]) => [name, e.size]));
    },
    async checkPack(p, report, signal) {
      if (p.blockSize !== BLOCK_SIZE || !backend.committedBlocks) return;
      const committed = await backend.committedBlocks(p.path, signal);
      // Only blobs whose block ids are ours (packs uploaded by backup) carry the block MD5s.
      if (committed.length !== p.blockMd5.length || !committed.every((b) => /^\d{6}-[0-9a-f]{32}$/.test(b.text))) return;
      committed.forEach((b, i) => {
        if (b.id === blockId(i, Buffer.from(p.blockMd5[i]!, 'hex'))) return;
        const offset = i * BLOCK_SIZE;
        report({
          code: 'BLOCK_MD5',
          message: `Pack ${p.path}: block ${i} (bytes ${offset}..${Math.min(offset + BLOCK_SIZE, p.size)}) was stored with a different MD5 than the index recorded`,
          file: p.path,
          pack: p.name,
          offset,
          length: Math.min(BLOCK_SIZE, p.size - offset),
        });
      });
    },
    async materialise(group, signal) {
      if (!workMade) {
        fs.rmSync(work, { recursive: true, force: true });
        fs.mkdirSync(work, { recursive: true });
        workMade = true;
      }
      return Promise.all(
        group.map(async (p) => {
          const file = path.join(work, p.name);
          const fd = fs.openSync(file, 'w', 0o600);
          try {
            for (let off = 0; off < p.size; off += 16 * BLOCK_SIZE) {
              const bytes = await backend.readRange(p.path, off, Math.min(16 * BLOCK_SIZE, p.size - off), signal);
              fs.writeSync(fd, bytes, 0, bytes.length, off);
            }
          } finally {
            fs.closeSync(fd);
          }
          return file;
        }),
      );
    },
    release(files) {
      for (const f of files) fs.rmSync(f, { force: true });
    },
    garbage() {
      const unreferenced = [...blobs].filter(([name]) => !referenced.has(name)).map(([, e]) => e);
      return {
        garbage: {
          temps: [],
          unreferencedPacks: unreferenced.map((e) => e.path),
          orphanPackLists: [],
          unknown: [],
          bytes: unreferenced.reduce((a, e) => a + e.size, 0),
        },
        ...(unreferenced.length
          ? {
              info: {
                message: `${unreferenced.length} packs in ${where} are in no index (left by an interrupted backup); they do not harm the repository`,
                facts: { packs: unreferenced.length },
              },
            }
          : {}),
      };
    },
    close() {
      if (workMade) fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
