/**
 * Where restore reads a snapshot from: the RestoreSource seam (as SnapshotTarget is for stage and
 * backup), so src/core/restore.ts never asks which kind of repository it has.
 *
 * The native restoreJob reads packs as local files at the chunks' offsets. A repository whose
 * backend has local files (a staging directory, a mounted drive) gives their paths and fetches
 * nothing. A remote one (the container, `restore --from-cloud`) downloads exactly the byte ranges a
 * batch needs (src/cloud/range-fetch.ts) into sparse local files under
 * `<staging>/.cache/restore/<pid>-<random>/` before the batch, and removes them after it and at
 * close(); the native job then authenticates every chunk (AES-GCM and the keyed id) as it does for
 * local packs. Local disk: the ranges of one restore batch (≤ 1 GiB of file data); memory: the chunk
 * index plus the ranges in flight.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Secret } from '../base/secret';
import { openBackend } from '../cloud/backends';
import { coalesceRanges, fetchRanges } from '../cloud/range-fetch';
import type { ChunkRef } from '../native/binding';
import type { ChunkIndex } from '../repo/chunk-index';
import { indexCacheDir } from '../repo/index-cache';
import { Repository } from '../repo/repository';
import { stagingCloudLocation } from './cloud-location';
import type { CommandContext } from './command';

export interface RestoreSource {
  /** the repository: snapshots, index, tree chunks, keys */
  readonly repo: Repository;
  /** the local file that stands for each pack of `index`, in index order (the restore job's `packs`) */
  packFiles(index: ChunkIndex): string[];
  /** before a batch: makes the bytes `files` need readable at packFiles()' paths */
  fetchFor(index: ChunkIndex, files: ReadonlyArray<{ chunks: ChunkRef[] }>): Promise<void>;
  /** after a batch (also after a failed one): drops what fetchFor fetched */
  drop(): void;
  /** closes the repository and removes anything fetched */
  close(): void;
}

/** The source for `repo`: its own pack files when its backend has local files, else packs fetched per batch into `<workRoot>/.cache/restore/`. */
export function restoreSourceFor(repo: Repository, workRoot: string, signal?: AbortSignal): RestoreSource {
  const { backend } = repo;
  if (backend.localPath) {
    const localPath = backend.localPath.bind(backend);
    return {
      repo,
      packFiles: (index) => index.packs.map((p) => localPath(p.path)),
      fetchFor: async () => {},
      drop() {},
      close: () => repo.close(),
    };
  }
  const work = path.join(workRoot, '.cache', 'restore', `${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(work, { recursive: true });
  return {
    repo,
    packFiles: (index) => index.packs.map((p) => path.join(work, p.name)),
    async fetchFor(index, files) {
      const ranges = coalesceRanges(files.flatMap((f) => f.chunks));
      await fetchRanges(
        backend,
        ranges,
        (pack) => {
          const p = index.packs[pack]!;
          return { path: p.path, file: path.join(work, p.name) };
        },
        signal,
      );
    },
    drop() {
      for (const n of fs.readdirSync(work)) fs.rmSync(path.join(work, n), { force: true });
    },
    close() {
      fs.rmSync(work, { recursive: true, force: true });
      repo.close();
    },
  };
}

/** Opens the source restore reads: the staging repository, or with `fromCloud` the container its settings name (index through the local cache). */
export async function openRestoreSource(
  o: { staging: string; fromCloud?: boolean },
  passphrase: Secret,
  ctx: Pick<CommandContext, 'env' | 'signal'>,
): Promise<RestoreSource> {
  if (!o.fromCloud) return restoreSourceFor(await Repository.open(o.staging, passphrase), o.staging, ctx.signal);
  const { spec } = await stagingCloudLocation(o.staging, ctx.env, {
    missing: '--from-cloud needs the --staging location whose settings name the account and container.',
  });
  const repo = await Repository.open(await openBackend(spec), passphrase, { signal: ctx.signal, indexCache: indexCacheDir(o.staging) });
  return restoreSourceFor(repo, o.staging, ctx.signal);
}
