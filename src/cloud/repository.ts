/**
 * A repository opened through a Backend (the blob container, or a local directory for tests and
 * for the restore/check code paths shared with staging): its config and keys, its index (through
 * the local index cache), its snapshots, and the writers that keep the repository's write order —
 * packs (putFile) → index (pack list, then index) → snapshot, each atomic.
 */
import type { Secret } from '../base/secret';
import { DriveseedError } from '../base/errors';
import { ChunkIndex } from '../repo/chunk-index';
import { type PendingKek, type RepoConfig, parseConfig, unlockConfig } from '../repo/config';
import { type RepoKeys, encodeMetadata, sha256Hex } from '../repo/crypto';
import { corruptError } from '../repo/errors';
import { type IndexDoc, type IndexPack, decodeIndex, encodeIndex } from '../repo/index-file';
import { CONFIG_FILE, ID_RE, SNAPSHOT_DIR, indexPath, packListPath, snapshotPath } from '../repo/layout';
import { type SnapshotDoc, decodeSnapshot } from '../repo/snapshot';
import type { Backend } from './backend';
import { type IndexCacheSync, addToIndexCache, readCachedIndex, syncIndexCache } from './index-cache';

export interface SnapshotListing {
  id: string;
  /** bytes of the snapshot file itself */
  fileSize: number;
  doc: SnapshotDoc;
}

export class CloudRepository {
  private constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    readonly keys: RepoKeys,
  ) {}

  /** Reads `config` from the backend and unlocks it (REPO_NOT_FOUND, WRONG_PASSPHRASE). */
  /** `early`: a key derivation already under way from the staging copy of the config (unlockConfig). */
  static async open(backend: Backend, passphrase: Secret, signal?: AbortSignal, early?: PendingKek): Promise<CloudRepository> {
    if (!(await backend.stat(CONFIG_FILE, signal))) {
      throw new DriveseedError(
        'REPO_NOT_FOUND',
        `${backend.description} holds no driveseed repository (no ${CONFIG_FILE} blob). Check the account and container in the staging settings, and that the seed was imported (\`driveseed status\`, \`driveseed complete\`).`,
        { category: 'USAGE', details: { location: backend.description } },
      );
    }
    const text = (await backend.readAll(CONFIG_FILE, signal)).toString('utf8');
    const config = parseConfig(text, `${backend.description}/${CONFIG_FILE}`);
    return new CloudRepository(backend, config, await unlockConfig(backend.description, config, passphrase, early));
  }

  /**
   * Syncs the local index cache and loads every index into a ChunkIndex (memory: ~64 B per chunk).
   * Returns the index and what the sync did (for reporting how little was downloaded).
   */
  async loadIndex(cacheDir: string, signal?: AbortSignal): Promise<{ index: ChunkIndex; docs: number; sync: IndexCacheSync }> {
    const sync = await syncIndexCache(this.backend, cacheDir, { signal });
    const index = new ChunkIndex();
    for (const id of sync.ids) {
      const bytes = readCachedIndex(cacheDir, id) ?? (await this.fetchChecked(indexPath(id), id, signal));
      index.addIndex(decodeIndex(this.keys, id, bytes));
    }
    return { index, docs: sync.ids.length, sync };
  }

  /** Syncs the index cache and returns the ids of the container's index files (for check). */
  async indexIds(cacheDir: string, signal?: AbortSignal): Promise<string[]> {
    return (await syncIndexCache(this.backend, cacheDir, { signal })).ids;
  }

  /** One index document, through the cache; REPO_CORRUPT when it does not hash to its name or decrypt. */
  async indexDoc(cacheDir: string, id: string, signal?: AbortSignal): Promise<IndexDoc> {
    const bytes = readCachedIndex(cacheDir, id) ?? (await this.fetchChecked(indexPath(id), id, signal));
    return decodeIndex(this.keys, id, bytes);
  }

  private async fetchChecked(rel: string, id: string, signal?: AbortSignal): Promise<Buffer> {
    const bytes = await this.backend.readAll(rel, signal);
    const actual = sha256Hex(bytes);
    if (actual !== id)
      throw corruptError(`${this.backend.description}/${rel}`, `content hash is ${actual}, not its name: the blob is damaged`, { expected: id, actual });
    return bytes;
  }

  /** Snapshots, oldest first. */
  async listSnapshots(signal?: AbortSignal): Promise<SnapshotListing[]> {
    const entries = (await this.backend.list(`${SNAPSHOT_DIR}/`, signal)).filter((e) => ID_RE.test(e.path.slice(SNAPSHOT_DIR.length + 1)));
    const out: SnapshotListing[] = [];
    for (const e of entries) {
      const id = e.path.slice(SNAPSHOT_DIR.length + 1);
      out.push({ id, fileSize: e.size, doc: decodeSnapshot(this.keys, id, await this.fetchChecked(e.path, id, signal)) });
    }
    return out.sort((a, b) => a.doc.time.localeCompare(b.doc.time) || a.id.localeCompare(b.id));
  }

  /** `latest`, a full id or a unique prefix of at least 4 hex characters. */
  async resolveSnapshot(ref: string, signal?: AbortSignal): Promise<SnapshotListing> {
    const all = await this.listSnapshots(signal);
    if (ref === 'latest') {
      const last = all[all.length - 1];
      if (!last) throw new DriveseedError('NO_SNAPSHOT', `${this.backend.description} has no snapshot yet.`, { category: 'USAGE' });
      return last;
    }
    const matches = /^[0-9a-f]{4,64}$/.test(ref) ? all.filter((s) => s.id.startsWith(ref)) : [];
    if (matches.length !== 1) {
      throw new DriveseedError(
        'SNAPSHOT_NOT_FOUND',
        matches.length > 1
          ? `--snapshot ${ref} matches ${matches.length} snapshots; give more characters of the id.`
          : `No snapshot ${ref} in ${this.backend.description}; give "latest" or an id (at least 4 hex characters) from \`driveseed snapshots --cloud\`.`,
        { category: 'USAGE', details: { field: 'snapshot', snapshot: ref } },
      );
    }
    return matches[0]!;
  }

  /**
   * Writes an index for packs that are already committed: the plain pack list first, then the
   * encrypted index (same order as writeIndex in src/repo/index-file.ts). Adds it to the cache.
   */
  async writeIndex(packs: IndexPack[], cacheDir: string | undefined, signal?: AbortSignal): Promise<string> {
    const { id, bytes, list } = encodeIndex(this.keys, packs);
    await this.backend.writeAtomic(packListPath(id), Buffer.from(JSON.stringify(list) + '\n'), signal);
    await this.backend.writeAtomic(indexPath(id), bytes, signal);
    if (cacheDir) addToIndexCache(cacheDir, id, bytes);
    return id;
  }

  /** Writes a snapshot document (last step of a backup). */
  async writeSnapshot(doc: SnapshotDoc, signal?: AbortSignal): Promise<string> {
    const { id, bytes } = encodeMetadata(this.keys, 'snapshot', doc);
    await this.backend.writeAtomic(snapshotPath(id), bytes, signal);
    return id;
  }
}
