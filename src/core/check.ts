/**
 * `driveseed check`: an independent re-read of the repository that reports EVERY problem with its
 * file, pack and offset, not just the first (CONTRIBUTING.md, "Write order on disk").
 *
 * Structure (always): config opens with the passphrase; every index and snapshot file hashes to
 * its name and decrypts; each index's plain pack list matches it; every indexed pack exists with
 * its recorded size, block-MD5 count and entries inside it; every snapshot's tree stream decodes
 * and every file chunk and hard link in it resolves. Data (--read-data): every chunk of every pack
 * decrypts and matches its id (verifyPacksJob), every pack's content name (from its block MD5s) equals its name and every
 * 4 MiB block matches the MD5 recorded for drive manifests (read in the same pass by verifyPacksJob).
 * Garbage (temps, unreferenced packs) is listed but does not make a repository unhealthy.
 */
import * as path from 'node:path';
import type { VerifyProblemEvent } from '../native/binding';
import { isCancelled } from '../native/errors';
import { loadBinding } from '../native/load';
import { runJob } from '../native/run-job';
import { ChunkIndex } from '../repo/chunk-index';
import { type IndexPack, listIndexIds, readIndex, readPackList } from '../repo/index-file';
import { scanGarbage } from '../repo/garbage';
import { Repository } from '../repo/repository';
import { listSnapshotIds, readSnapshot } from '../repo/snapshot';
import { ProblemList, checkPackDigests, checkPackEntries, checkTree, packListMatches } from './check-rules';
import type { CommandContext } from './command';
import { cancelledError } from '../base/errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { RateMeter } from '../base/reporter';

export interface CheckOptions {
  staging: string;
  passphrase: PassphraseSource;
  readData: boolean;
  threads: number;
}

export interface CheckProblem {
  /** INDEX_DAMAGED, PACK_LIST_MISMATCH, PACK_MISSING, PACK_SIZE, ENTRY_OUT_OF_RANGE, SNAPSHOT_DAMAGED, TREE_DAMAGED, CHUNK_MISSING, BAD_NAME, HARDLINK_DANGLING, CHUNK_BAD, PACK_HASH, BLOCK_MD5 */
  code: string;
  message: string;
  /** repository-relative file the problem is in */
  file?: string;
  pack?: string;
  offset?: number;
  length?: number;
  chunk?: string;
  snapshot?: string;
  /** path inside the snapshot */
  path?: string;
}

export interface CheckResult {
  staging: string;
  healthy: boolean;
  readData: boolean;
  /** the first 10,000 problems */
  problems: CheckProblem[];
  /** how many problems there are in all */
  problemCount: number;
  counts: { indexFiles: number; packs: number; chunks: number; snapshots: number; files: number; bytesRead: number };
  garbage: { temps: string[]; unreferencedPacks: string[]; orphanPackLists: string[]; unknown: string[]; bytes: number };
}

export async function check(o: CheckOptions, ctx: CommandContext): Promise<CheckResult> {
  const { reporter } = ctx;
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const repo = await Repository.open(o.staging, passphrase);
  const found = new ProblemList(reporter);
  const { report } = found;
  const counts = { indexFiles: 0, packs: 0, chunks: 0, snapshots: 0, files: 0, bytesRead: 0 };
  try {
    // ---- index files and the packs they list
    const index = new ChunkIndex();
    const packs = new Map<string, IndexPack>();
    for (const id of listIndexIds(o.staging)) {
      counts.indexFiles++;
      let doc;
      try {
        doc = readIndex(o.staging, repo.keys, id);
      } catch (err) {
        report({ code: 'INDEX_DAMAGED', message: (err as Error).message, file: `index/${id}` });
        continue;
      }
      index.addIndex(doc);
      try {
        const list = readPackList(o.staging, id);
        if (!packListMatches(list, doc))
          report({
            code: 'PACK_LIST_MISMATCH',
            message: `index/${id}.packs.json does not match index/${id}; drive manifests built from it would be wrong`,
            file: `index/${id}.packs.json`,
          });
      } catch (err) {
        report({ code: 'PACK_LIST_MISMATCH', message: (err as Error).message, file: `index/${id}.packs.json` });
      }
      for (const p of doc.packs) if (!packs.has(p.name)) packs.set(p.name, p);
    }
    const garbage = scanGarbage(o.staging, new Set(packs.keys()));
    for (const p of packs.values()) {
      counts.packs++;
      counts.chunks += p.entries.length;
      const disk = garbage.packsOnDisk.get(p.name);
      if (!disk) {
        report({ code: 'PACK_MISSING', message: `Pack ${p.path} is listed in the index but missing`, file: p.path, pack: p.name });
        continue;
      }
      if (disk.size !== p.size)
        report({
          code: 'PACK_SIZE',
          message: `Pack ${p.path} is ${disk.size} bytes, the index says ${p.size}`,
          file: p.path,
          pack: p.name,
          offset: Math.min(disk.size, p.size),
        });
      const blocks = Math.ceil(p.size / p.blockSize);
      if (p.blockMd5.length !== blocks)
        report({ code: 'PACK_LIST_MISMATCH', message: `Pack ${p.path} has ${p.blockMd5.length} block MD5s for ${blocks} blocks`, file: p.path, pack: p.name });
      checkPackEntries(p, report);
    }

    // ---- snapshots and their trees
    for (const sid of listSnapshotIds(o.staging)) {
      counts.snapshots++;
      let snap;
      try {
        snap = readSnapshot(o.staging, repo.keys, sid);
      } catch (err) {
        report({ code: 'SNAPSHOT_DAMAGED', message: (err as Error).message, file: `snapshots/${sid}`, snapshot: sid });
        continue;
      }
      await checkTree({
        snapshot: sid,
        tree: snap.tree,
        readChunk: (id, raw) => repo.readChunk(index, id, raw),
        index,
        counts,
        report,
        signal: ctx.signal,
        onStep: async (current) => {
          reporter.progress({ phase: 'check-tree', bytesDone: 0, itemsDone: counts.files, current });
          await new Promise((r) => setImmediate(r));
        },
      });
    }

    // ---- data
    if (o.readData) {
      const present = [...packs.values()].filter((p) => garbage.packsOnDisk.has(p.name));
      const byPath = new Map(present.map((p) => [path.join(o.staging, p.path), p]));
      const binding = loadBinding();
      const total = present.reduce((a, p) => a + p.size, 0);
      const meter = new RateMeter();
      try {
        const r = await runJob<VerifyProblemEvent, Awaited<ReturnType<typeof binding.verifyPacksJob>>>(
          (cb, token) =>
            binding.verifyPacksJob(
              {
                packs: present.map((p) => ({
                  path: path.join(o.staging, p.path),
                  name: p.name,
                  entries: p.entries.map(([id, offset, length, rawLength]) => ({ id: Buffer.from(id, 'hex'), offset, length, rawLength })),
                })),
                keys: repo.keys.blobKeys(),
                threads: o.threads,
                blockSize: repo.config.blockSize,
              },
              cb,
              token,
            ),
          {
            signal: ctx.signal,
            onProgress: (p, evs) => {
              for (const e of evs) {
                // The job names a pack by the path or the name it was given; report both as the index has them.
                const pk = packs.get(e.pack) ?? byPath.get(e.pack);
                report({
                  code: 'CHUNK_BAD',
                  message: `Pack ${pk?.path ?? e.pack}: chunk ${e.id?.toString('hex') ?? '?'} at offset ${e.offset} (+${e.length}) is damaged: ${e.code} ${e.message}`,
                  file: pk?.path ?? e.pack,
                  pack: pk?.name ?? e.pack,
                  offset: e.offset,
                  length: e.length,
                  ...(e.id ? { chunk: e.id.toString('hex') } : {}),
                });
              }
              const { rate, etaSeconds } = meter.sample(p.bytesDone, total);
              reporter.progress({ phase: 'verify', bytesDone: p.bytesDone, bytesTotal: total, rate, ...(etaSeconds !== undefined ? { etaSeconds } : {}) });
            },
          },
        );
        counts.bytesRead += r.bytes;
        // The 4 MiB block MD5s that drive manifests use, read by the same pass; the pack names derive from them.
        r.packs.forEach((d, i) => {
          if (d) checkPackDigests(present[i]!, d, repo.config.blockSize, report);
        });
      } catch (err) {
        if (isCancelled(err) || ctx.signal.aborted) throw cancelledError();
        throw err;
      }
    }

    const gb = garbage.temps.reduce((a, t) => a + t.size, 0) + garbage.unreferencedPacks.reduce((a, p) => a + p.size, 0);
    if (garbage.temps.length || garbage.unreferencedPacks.length || garbage.orphanPackLists.length) {
      reporter.info(
        `Unreferenced data (left by an interrupted run; the next stage removes it): ${garbage.temps.length} temp files, ${garbage.unreferencedPacks.length} packs, ${garbage.orphanPackLists.length} pack lists, ${gb} bytes`,
        { temps: garbage.temps.length, packs: garbage.unreferencedPacks.length, bytes: gb },
      );
    }
    return {
      staging: o.staging,
      healthy: found.count === 0,
      readData: o.readData,
      problems: found.problems,
      problemCount: found.count,
      counts,
      garbage: {
        temps: garbage.temps.map((t) => t.path),
        unreferencedPacks: garbage.unreferencedPacks.map((p) => p.path),
        orphanPackLists: garbage.orphanPackLists,
        unknown: garbage.unknown,
        bytes: gb,
      },
    };
  } finally {
    repo.close();
  }
}
