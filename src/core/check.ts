/**
 * `driveseed check [--cloud]`: an independent re-read of the repository, in the staging directory or
 * (--cloud) in the Azure container its settings name, that reports EVERY problem with its file, pack
 * and offset, not just the first (CONTRIBUTING.md, "Write order on disk"). One driver over the
 * Repository; what differs between the two storages is a small strategy (src/core/check-storage.ts).
 *
 * Structure (always): config opens with the passphrase; every index and snapshot file hashes to
 * its name and decrypts; each index's plain pack list matches it; every indexed pack exists with
 * its recorded size, block-MD5 count and entries inside it; every snapshot's tree stream decodes
 * and every file chunk and hard link in it resolves. Data (--read-data): every chunk of every pack
 * decrypts and matches its id (verifyPacksJob), every pack's content name (from its block MD5s) equals its name and every
 * 4 MiB block matches the MD5 recorded for drive manifests (read in the same pass by verifyPacksJob).
 * Container only: where a pack's committed block list carries our block ids (packs uploaded by
 * backup), the MD5 in each id equals the recorded block MD5. Garbage (temps, unreferenced packs left
 * by an interrupted stage or backup) is listed but does not make a repository unhealthy.
 */
import { cancelledError } from '../base/errors';
import { RateMeter } from '../base/reporter';
import { openBackend } from '../cloud/backends';
import type { CloudLocation } from '../cloud/client';
import { isCancelled } from '../native/errors';
import { verifyPacks } from '../native/pipeline';
import { ChunkIndex } from '../repo/chunk-index';
import type { IndexDoc, IndexPack } from '../repo/index-file';
import { indexCacheDir } from '../repo/index-cache';
import { packListPath } from '../repo/layout';
import { Repository } from '../repo/repository';
import { ProblemList, checkPackDigests, checkPackEntries, checkTree, packListMatches } from './check-rules';
import { type CheckStorage, remoteStorage, stagingStorage } from './check-storage';
import { stagingCloudLocation } from './cloud-location';
import type { CommandContext } from './command';
import { type PassphraseSource, resolvePassphrase } from './passphrase';

export interface CheckOptions {
  staging: string;
  passphrase: PassphraseSource;
  readData: boolean;
  threads: number;
  /** check the repository in the container the staging settings name (index through `<staging>/.cache/index`) */
  cloud?: boolean;
  /** tests: with `cloud`, this location instead of the saved settings' */
  location?: CloudLocation;
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

/** Opens the repository and its storage strategy (the container's location first, then the passphrase, as before). */
async function openChecked(o: CheckOptions, ctx: CommandContext): Promise<{ repo: Repository; storage: CheckStorage }> {
  if (!o.cloud) {
    const repo = await Repository.open(o.staging, await resolvePassphrase(o.passphrase, ctx, false));
    return { repo, storage: stagingStorage(o.staging, (rel) => repo.backend.localPath!(rel)) };
  }
  const { spec } = await stagingCloudLocation(o.staging, ctx.env, {
    location: o.location,
    missing: '--cloud needs the --staging location whose settings name the account and container.',
  });
  const backend = await openBackend(spec);
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const repo = await Repository.open(backend, passphrase, { signal: ctx.signal, indexCache: indexCacheDir(o.staging) });
  return { repo, storage: remoteStorage(backend, o.staging) };
}

export async function check(o: CheckOptions, ctx: CommandContext): Promise<CheckResult> {
  const { reporter, signal } = ctx;
  const { repo, storage } = await openChecked(o, ctx);
  const found = new ProblemList(reporter);
  const { report } = found;
  const counts = { indexFiles: 0, packs: 0, chunks: 0, snapshots: 0, files: 0, bytesRead: 0 };
  try {
    // ---- index files and the packs they list
    const index = new ChunkIndex();
    const packs = new Map<string, IndexPack>();
    for (const id of await repo.indexIds(signal)) {
      counts.indexFiles++;
      let doc: IndexDoc;
      try {
        doc = await repo.indexDoc(id, signal);
      } catch (err) {
        if (!storage.reportsIndexError(err)) throw err;
        report({ code: 'INDEX_DAMAGED', message: (err as Error).message, file: `index/${id}` });
        continue;
      }
      index.addIndex(doc);
      const listFile = packListPath(id);
      try {
        if (!packListMatches(await repo.packList(id, signal), doc))
          report({
            code: 'PACK_LIST_MISMATCH',
            message: `${listFile} does not match index/${id}; drive manifests built from it would be wrong`,
            file: listFile,
          });
      } catch (err) {
        report({ code: 'PACK_LIST_MISMATCH', message: (err as Error).message, file: listFile });
      }
      for (const p of doc.packs) if (!packs.has(p.name)) packs.set(p.name, p);
    }
    const present = await storage.packsPresent(new Set(packs.keys()), signal);
    for (const p of packs.values()) {
      counts.packs++;
      counts.chunks += p.entries.length;
      const size = present.get(p.name);
      if (size === undefined) {
        report({ code: 'PACK_MISSING', message: `Pack ${p.path} is listed in the index but missing${storage.missingFrom}`, file: p.path, pack: p.name });
        continue;
      }
      if (size !== p.size)
        report({
          code: 'PACK_SIZE',
          message: `Pack ${p.path} is ${size} bytes${storage.sizeIn}, the index says ${p.size}`,
          file: p.path,
          pack: p.name,
          offset: Math.min(size, p.size),
        });
      await storage.checkPack(p, report, signal);
      checkPackEntries(p, report);
    }

    // ---- snapshots and their trees
    for (const sid of await repo.snapshotIds(signal)) {
      counts.snapshots++;
      let snap;
      try {
        snap = await repo.readSnapshot(sid, signal);
      } catch (err) {
        report({ code: 'SNAPSHOT_DAMAGED', message: (err as Error).message, file: `snapshots/${sid}`, snapshot: sid });
        continue;
      }
      await checkTree({
        snapshot: sid,
        tree: snap.tree,
        readChunk: (id, raw) => repo.readChunk(index, id, raw, signal),
        index,
        counts,
        report,
        signal,
        onStep: async (current) => {
          reporter.progress({ phase: 'check-tree', bytesDone: 0, itemsDone: counts.files, current });
          await new Promise((r) => setImmediate(r));
        },
      });
    }

    // ---- data: every chunk decrypts and matches its id; content names and 4 MiB block MD5s (the ones drive manifests use) in the same pass
    if (o.readData) {
      const verified = [...packs.values()].filter((p) => present.has(p.name) && (storage.verifiesWrongSize || present.get(p.name) === p.size));
      const total = verified.reduce((a, p) => a + p.size, 0);
      const meter = new RateMeter();
      try {
        for (let i = 0; i < verified.length; i += storage.groupSize) {
          if (signal.aborted) throw cancelledError();
          const group = verified.slice(i, i + storage.groupSize);
          const files = await storage.materialise(group, signal);
          // The job names a pack by the file or the name it was given; report both as the index has them.
          const byFile = new Map(files.map((f, j) => [f, group[j]!]));
          const before = counts.bytesRead;
          const r = await verifyPacks(
            {
              packs: group.map((p, j) => ({
                path: files[j]!,
                name: p.name,
                entries: p.entries.map(([id, offset, length, rawLength]) => ({ id: Buffer.from(id, 'hex'), offset, length, rawLength })),
              })),
              keys: repo.keys.blobKeys(),
              threads: o.threads,
              blockSize: repo.config.blockSize,
            },
            {
              signal,
              onProgress: (p, evs) => {
                for (const e of evs) {
                  const pk = packs.get(e.pack) ?? byFile.get(e.pack);
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
                const done = before + p.bytesDone;
                const { rate, etaSeconds } = meter.sample(done, total);
                reporter.progress({ phase: 'verify', bytesDone: done, bytesTotal: total, rate, ...(etaSeconds !== undefined ? { etaSeconds } : {}) });
              },
            },
          );
          counts.bytesRead += r.bytes;
          r.packs.forEach((d, j) => {
            if (d) checkPackDigests(group[j]!, d, repo.config.blockSize, report);
          });
          storage.release(files);
          if (verified.length > group.length)
            reporter.progress({ phase: 'verify', bytesDone: counts.bytesRead, bytesTotal: total, itemsDone: i + group.length, itemsTotal: verified.length });
        }
      } catch (err) {
        if (isCancelled(err) || signal.aborted) throw cancelledError();
        throw err;
      }
    }

    const { garbage, info } = storage.garbage();
    if (info) reporter.info(info.message, info.facts);
    return {
      staging: storage.where,
      healthy: found.count === 0,
      readData: o.readData,
      problems: found.problems,
      problemCount: found.count,
      counts,
      garbage,
    };
  } finally {
    storage.close();
    repo.close();
  }
}

/** check --cloud (the name the command and tests call it by). */
export function checkCloud(o: Omit<CheckOptions, 'cloud'>, ctx: CommandContext): Promise<CheckResult> {
  return check({ ...o, cloud: true }, ctx);
}
