/**
 * Restore straight from the container (`driveseed restore --from-cloud`): the same surface the
 * restore command uses on a local Repository (resolveSnapshot, loadChunkIndex, readChunk, keys),
 * plus fetchFor()/dropFetched() around each restore batch.
 *
 * The native restoreJob reads packs from local files at the chunks' offsets. fetchFor() downloads
 * exactly the byte ranges a batch needs (adjacent chunks coalesced into ranges of at most 8 MiB,
 * up to 4 ranges at once, each split into 4 MiB parallel ranged reads by the backend) and writes
 * them at the same offsets into sparse local files, so nothing else of a pack is fetched. The native
 * job then authenticates every chunk (AES-GCM and the keyed id) as it does for local packs.
 *
 * Local disk: the ranges of one restore batch (the restore batches ≤ 1 GiB of file data), under
 * `<staging>/.cache/restore/<pid>-<random>/`, removed after each batch and at close(). Memory: the
 * chunk index plus at most 4 × 8 MiB of ranges in flight.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Secret } from '../base/secret';
import type { ChunkRef } from '../native/binding';
import type { ChunkIndex } from '../repo/chunk-index';
import { decodeVerifiedChunk } from '../repo/blob-loader';
import { CLOUD_CHECK_FIX, corruptError } from '../repo/errors';
import type { RepoKeys } from '../repo/crypto';
import type { SnapshotDoc } from '../repo/snapshot';
import type { Backend } from '../repo/backend';
import { indexCacheDir } from '../repo/index-cache';
import { Repository } from '../repo/repository';

/** Largest coalesced range fetched in one readRange call (memory per range in flight). */
const MAX_RANGE = 8 * 1024 * 1024;
/** Chunks closer than this are fetched in one range (a few wasted bytes beat another request). */
const GAP = 256 * 1024;
const RANGES_IN_FLIGHT = 4;

export class CloudRestoreSource {
  readonly keys: RepoKeys;
  private readonly work: string;
  private index?: ChunkIndex;
  /** bytes downloaded for file data (not index or tree) */
  bytesFetched = 0;

  private constructor(
    private readonly repo: Repository,
    staging: string,
    private readonly signal: AbortSignal,
  ) {
    this.keys = repo.keys;
    this.work = path.join(staging, '.cache', 'restore', `${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(this.work, { recursive: true });
  }

  /** Opens the repository in `backend`; `staging` holds the index cache and the work directory. */
  static async open(backend: Backend, staging: string, passphrase: Secret, signal: AbortSignal): Promise<CloudRestoreSource> {
    return new CloudRestoreSource(await Repository.open(backend, passphrase, { signal, indexCache: indexCacheDir(staging) }), staging, signal);
  }

  get description(): string {
    return this.repo.backend.description;
  }

  async resolveSnapshot(ref: string): Promise<{ id: string; doc: SnapshotDoc }> {
    const s = await this.repo.resolveSnapshot(ref, this.signal);
    return { id: s.id, doc: s.doc };
  }

  async loadChunkIndex(): Promise<ChunkIndex> {
    this.index = await this.repo.loadChunkIndex();
    return this.index;
  }

  /** One chunk, fetched with a ranged read and verified (tree chunks; on the JS thread, ≤ 8 MiB). */
  async readChunk(index: ChunkIndex, id: string, rawLength: number): Promise<Buffer> {
    const loc = index.lookup(Buffer.from(id, 'hex'));
    if (!loc) throw corruptError('index', `chunk ${id} is not in any index file`, { chunk: id }, CLOUD_CHECK_FIX);
    const pack = index.packs[loc.pack]!;
    const blob = await this.repo.backend.readRange(pack.path, loc.offset, loc.length, this.signal);
    return decodeVerifiedChunk(blob, id, rawLength, this.keys.blobKeys(), this.repo.config.chunker.max, {
      file: `${this.description}/${pack.path}`,
      pack: pack.name,
      offset: loc.offset,
      fix: CLOUD_CHECK_FIX,
    });
  }

  /** The local (sparse) file that stands for pack `name` in the restore job's spec. */
  packFile(name: string): string {
    return path.join(this.work, name);
  }

  /** Downloads the ranges `files` need into their packs' local files. */
  async fetchFor(files: Array<{ chunks: ChunkRef[] }>): Promise<void> {
    const index = this.index;
    if (!index) throw new Error('CloudRestoreSource: loadChunkIndex() first');
    const byPack = new Map<number, Array<[number, number]>>();
    for (const f of files) {
      for (const c of f.chunks) {
        let l = byPack.get(c.pack);
        if (!l) byPack.set(c.pack, (l = []));
        l.push([c.offset, c.offset + c.length]);
      }
    }
    const ranges: Array<{ pack: number; start: number; end: number }> = [];
    for (const [pack, list] of byPack) {
      list.sort((a, b) => a[0] - b[0]);
      let cur: { pack: number; start: number; end: number } | undefined;
      for (const [s, e] of list) {
        if (cur && s <= cur.end + GAP && Math.max(e, cur.end) - cur.start <= MAX_RANGE) cur.end = Math.max(cur.end, e);
        else ranges.push((cur = { pack, start: s, end: e }));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < ranges.length) {
        const r = ranges[next++]!;
        const pack = index.packs[r.pack]!;
        const bytes = await this.repo.backend.readRange(pack.path, r.start, r.end - r.start, this.signal);
        const fd = fs.openSync(this.packFile(pack.name), fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
        try {
          fs.writeSync(fd, bytes, 0, bytes.length, r.start);
        } finally {
          fs.closeSync(fd);
        }
        this.bytesFetched += bytes.length;
      }
    };
    await Promise.all(Array.from({ length: Math.min(RANGES_IN_FLIGHT, ranges.length) }, worker));
  }

  /** Removes the local pack files of the last batch. */
  dropFetched(): void {
    for (const n of fs.readdirSync(this.work)) fs.rmSync(path.join(this.work, n), { force: true });
  }

  close(): void {
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
