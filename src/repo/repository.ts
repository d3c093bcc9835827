/**
 * An opened repository over a Backend (src/repo/backend.ts): a local directory (the staging
 * location, a mounted drive) or a blob container. It holds the config and master keys and reads the
 * index (optionally through the local index cache, src/repo/index-cache.ts), the snapshots and the
 * chunks; its writers keep the repository's write order: packs (written by the caller) → index
 * (plain pack list, then the encrypted index) → snapshot, each atomic.
 *
 * What differs between a local and a remote repository comes from the backend, not from a second
 * class: a backend with localPath() has its packs as local files, so chunks are read from them with
 * cached descriptors on the JS thread, and messages name the directory and `check --staging`; for
 * any other backend chunks are ranged reads, and messages name `<endpoint>/<container>/<path>` and
 * `check --cloud`.
 */
import * as fs from 'node:fs';
import { DriveseedError } from '../base/errors';
import type { Secret } from '../base/secret';
import { type Backend, LocalBackend } from './backend';
import { decodeVerifiedChunk } from './blob-loader';
import { ChunkIndex } from './chunk-index';
import { type InitOptions, type PendingKek, type RepoConfig, createConfig, parseConfig, startConfig, unlockConfig } from './config';
import { type RepoKeys, encodeMetadata, sha256Hex } from './crypto';
import { CLOUD_CHECK_FIX, STAGING_CHECK_FIX, corruptError, repoIoError } from './errors';
import { type IndexCacheSync, addToIndexCache, readCachedIndex, syncIndexCache } from './index-cache';
import { type IndexDoc, type IndexPack, type PackListDoc, checkAddressed, decodeIndex, encodeIndex } from './index-file';
import { CONFIG_FILE, ID_RE, INDEX_DIR, SNAPSHOT_DIR, indexPath, packListPath, snapshotPath } from './layout';
import { type SnapshotDoc, decodeSnapshot } from './snapshot';

export interface RepositoryOptions {
  signal?: AbortSignal;
  /** a key derivation already under way from another copy of the config (unlockConfig uses it when the KDF parameters match) */
  early?: PendingKek;
  /** a local directory that caches the index files (remote repositories): read from it when intact, kept in line with the backend */
  indexCache?: string;
  /** with indexCache: a local copy of the repository's `index/` to fill the cache from before downloading (the staging's own, after a seed) */
  indexLocal?: string;
  /** set by initEarly: settles when the new repository's config file is written */
  configWritten?: Promise<void>;
}

export interface SnapshotListing {
  id: string;
  /** bytes of the snapshot file itself */
  fileSize: number;
  doc: SnapshotDoc;
}

export class Repository {
  #fds = new Map<string, number>();
  /** the last index cache sync (remote repositories with an index cache) */
  #sync?: IndexCacheSync;

  private constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    readonly keys: RepoKeys,
    private readonly options: RepositoryOptions,
  ) {}

  /** Creates a repository in the local directory `root` (created when missing). */
  static async init(root: string, passphrase: Secret, options: InitOptions = {}): Promise<Repository> {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      throw repoIoError(err, 'create', root);
    }
    const { config, keys } = await createConfig(root, passphrase, options);
    return new Repository(new LocalBackend(root), config, keys, {});
  }

  /**
   * Repository.init without waiting for the KDF (startConfig): packs can be written at once, while
   * the config file is written when the key derivation ends. writeIndex and writeSnapshot wait for
   * it, so nothing a later run reads is written before the config; `configWritten` settles with it.
   */
  static initEarly(root: string, passphrase: Secret, options: InitOptions = {}): Repository {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      throw repoIoError(err, 'create', root);
    }
    const { config, keys, written } = startConfig(root, passphrase, options);
    written.catch(() => {}); // reported by the first write that waits for it
    return new Repository(new LocalBackend(root), config, keys, { configWritten: written });
  }

  /** Settles when the repository's config is on disk (at once, except after initEarly). */
  configWritten(): Promise<void> {
    return this.options.configWritten ?? Promise.resolve();
  }

  /**
   * Opens the repository in `where` (a Backend, or a local directory): reads `config` and unlocks it.
   * REPO_NOT_FOUND when there is no config, WRONG_PASSPHRASE on a bad passphrase.
   */
  static async open(where: Backend | string, passphrase: Secret, options: RepositoryOptions = {}): Promise<Repository> {
    const backend = typeof where === 'string' ? new LocalBackend(where) : where;
    const { signal } = options;
    const local = backend.localPath !== undefined;
    if (!(await backend.stat(CONFIG_FILE, signal))) {
      throw new DriveseedError(
        'REPO_NOT_FOUND',
        local
          ? `${backend.description} holds no driveseed repository (no config file). Check --staging, or run \`driveseed stage\` to create one.`
          : `${backend.description} holds no driveseed repository (no ${CONFIG_FILE} blob). Check the account and container in the staging settings, and that the seed was imported (\`driveseed status\`, \`driveseed complete\`).`,
        { category: 'USAGE', details: local ? { staging: backend.description } : { location: backend.description } },
      );
    }
    const text = (await backend.readAll(CONFIG_FILE, signal)).toString('utf8');
    const config = parseConfig(text, nameOf(backend, CONFIG_FILE));
    return new Repository(backend, config, await unlockConfig(backend.description, config, passphrase, options.early), options);
  }

  /** Where the repository is, for messages: the directory, or `<endpoint>/<container>`. */
  get description(): string {
    return this.backend.description;
  }

  private get local(): boolean {
    return this.backend.localPath !== undefined;
  }

  /** The check a damaged repository's error names. */
  private get fix(): string {
    return this.local ? STAGING_CHECK_FIX : CLOUD_CHECK_FIX;
  }

  /** Ids of the index files, sorted (with an index cache: syncs it first). */
  async indexIds(signal = this.options.signal): Promise<string[]> {
    if (this.options.indexCache) {
      this.#sync = await syncIndexCache(this.backend, this.options.indexCache, {
        signal,
        ...(this.options.indexLocal ? { localDir: this.options.indexLocal } : {}),
      });
      return this.#sync.ids;
    }
    return this.ids(INDEX_DIR, signal);
  }

  /** One index document (through the cache); REPO_CORRUPT when it does not hash to its name or decrypt. */
  async indexDoc(id: string, signal = this.options.signal): Promise<IndexDoc> {
    const cached = this.options.indexCache ? readCachedIndex(this.options.indexCache, id) : undefined;
    return decodeIndex(this.keys, id, cached ?? (await this.readAddressed(indexPath(id), id, signal)));
  }

  /**
   * Loads every index into one ChunkIndex (memory: ~64 B per chunk). `sync`: what the index cache
   * sync did, when there is a cache (for reporting how little was downloaded).
   */
  async loadIndex(signal = this.options.signal, onIndex?: (id: string) => void): Promise<{ index: ChunkIndex; docs: number; sync?: IndexCacheSync }> {
    const index = new ChunkIndex();
    const ids = await this.indexIds(signal);
    for (const id of ids) {
      index.addIndex(await this.indexDoc(id, signal));
      onIndex?.(id);
    }
    return { index, docs: ids.length, ...(this.options.indexCache && this.#sync ? { sync: this.#sync } : {}) };
  }

  /** loadIndex, the index alone. */
  async loadChunkIndex(onIndex?: (id: string) => void): Promise<ChunkIndex> {
    return (await this.loadIndex(this.options.signal, onIndex)).index;
  }

  /** The plain pack list of index `id` (no key needed); REPO_CORRUPT when it is not valid JSON or not that index's list. */
  async packList(id: string, signal = this.options.signal): Promise<PackListDoc> {
    const rel = packListPath(id);
    const bytes = await this.backend.readAll(rel, signal);
    let doc: PackListDoc;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as PackListDoc;
    } catch {
      throw corruptError(rel, 'is not valid JSON', {}, this.fix);
    }
    if (doc?.version !== 1 || doc.index !== id || !Array.isArray(doc.packs)) throw corruptError(rel, `is not the pack list of index ${id}`, {}, this.fix);
    return doc;
  }

  /** Ids of the snapshots, sorted by id. */
  async snapshotIds(signal = this.options.signal): Promise<string[]> {
    return this.ids(SNAPSHOT_DIR, signal);
  }

  /** One snapshot; REPO_CORRUPT when it does not hash to its name or decrypt. */
  async readSnapshot(id: string, signal = this.options.signal): Promise<SnapshotDoc> {
    return decodeSnapshot(this.keys, id, await this.readAddressed(snapshotPath(id), id, signal));
  }

  /** Snapshots, oldest first. */
  async listSnapshots(signal = this.options.signal): Promise<SnapshotListing[]> {
    const out: SnapshotListing[] = [];
    for (const e of await this.snapshotEntries(signal)) out.push({ ...e, doc: await this.readSnapshot(e.id, signal) });
    return out.sort((a, b) => a.doc.time.localeCompare(b.doc.time) || a.id.localeCompare(b.id));
  }

  /** `latest`, a full id or a unique id prefix (at least 4 hex characters). */
  async resolveSnapshot(ref: string, signal = this.options.signal): Promise<SnapshotListing> {
    if (ref === 'latest') {
      const last = (await this.listSnapshots(signal)).pop();
      if (!last)
        throw this.local
          ? new DriveseedError('NO_SNAPSHOT', `The repository at ${this.description} has no snapshot yet; run \`driveseed stage\` first.`, {
              category: 'USAGE',
              details: { staging: this.description },
            })
          : new DriveseedError('NO_SNAPSHOT', `${this.description} has no snapshot yet.`, { category: 'USAGE' });
      return last;
    }
    const entries = await this.snapshotEntries(signal);
    const matches = /^[0-9a-f]{4,64}$/.test(ref) ? entries.filter((e) => e.id.startsWith(ref)) : [];
    if (matches.length !== 1) {
      throw new DriveseedError(
        'SNAPSHOT_NOT_FOUND',
        matches.length > 1
          ? `--snapshot ${ref} matches ${matches.length} snapshots; give more characters of the id.`
          : `No snapshot ${ref} in ${this.description}; give "latest" or an id (at least 4 hex characters) from ${this.local ? 'the list of snapshots' : '`driveseed snapshots --cloud`'}.`,
        { category: 'USAGE', details: { field: 'snapshot', snapshot: ref } },
      );
    }
    const e = matches[0]!;
    return { ...e, doc: await this.readSnapshot(e.id, signal) };
  }

  /**
   * Reads, decrypts and verifies one chunk (on the JS thread: meant for tree chunks, up to the
   * chunker's 8 MiB maximum). Throws REPO_CORRUPT naming the pack and offset when it fails.
   */
  async readChunk(index: ChunkIndex, id: string, rawLength: number, signal = this.options.signal): Promise<Buffer> {
    const loc = index.lookup(Buffer.from(id, 'hex'));
    if (!loc) throw corruptError('index', `chunk ${id} is not in any index file`, { chunk: id }, this.fix);
    const pack = index.packs[loc.pack]!;
    const keys = this.keys.blobKeys();
    const max = this.config.chunker.max;
    if (!this.backend.localPath) {
      const blob = await this.backend.readRange(pack.path, loc.offset, loc.length, signal);
      return decodeVerifiedChunk(blob, id, rawLength, keys, max, { file: nameOf(this.backend, pack.path), pack: pack.name, offset: loc.offset, fix: this.fix });
    }
    const blob = Buffer.alloc(loc.length);
    const file = this.backend.localPath(pack.path);
    try {
      let fd = this.#fds.get(file);
      if (fd === undefined) {
        if (this.#fds.size >= 16) this.close();
        fd = fs.openSync(file, 'r');
        this.#fds.set(file, fd);
      }
      const n = fs.readSync(fd, blob, 0, blob.length, loc.offset);
      if (n !== blob.length)
        throw corruptError(pack.path, `is truncated: chunk ${id} at offset ${loc.offset} needs ${loc.length} bytes, got ${n}`, {
          pack: pack.name,
          offset: loc.offset,
          chunk: id,
        });
    } catch (err) {
      if (err instanceof DriveseedError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw corruptError(pack.path, `is missing (needed for chunk ${id})`, { pack: pack.name, chunk: id });
      throw repoIoError(err, 'read', file);
    }
    return decodeVerifiedChunk(blob, id, rawLength, keys, max, { file: pack.path, pack: pack.name, offset: loc.offset });
  }

  /**
   * Writes an index for packs that are already committed: the plain pack list first, then the
   * encrypted index, each atomically. Adds it to the index cache. Returns the index id.
   */
  async writeIndex(packs: IndexPack[], signal = this.options.signal): Promise<string> {
    await this.configWritten();
    const { id, bytes, list } = encodeIndex(this.keys, packs);
    await this.backend.writeAtomic(packListPath(id), Buffer.from(JSON.stringify(list) + '\n'), signal);
    await this.backend.writeAtomic(indexPath(id), bytes, signal);
    if (this.options.indexCache) addToIndexCache(this.options.indexCache, id, bytes);
    return id;
  }

  /** Writes a snapshot document (the last step of stage and backup). */
  async writeSnapshot(doc: SnapshotDoc, signal = this.options.signal): Promise<string> {
    await this.configWritten();
    const { id, bytes } = encodeMetadata(this.keys, 'snapshot', doc);
    await this.backend.writeAtomic(snapshotPath(id), bytes, signal);
    return id;
  }

  /** Closes cached pack descriptors. */
  close(): void {
    for (const fd of this.#fds.values()) fs.closeSync(fd);
    this.#fds.clear();
  }

  private async ids(dir: string, signal?: AbortSignal): Promise<string[]> {
    return (await this.entries(dir, signal)).map((e) => e.id);
  }

  private async snapshotEntries(signal?: AbortSignal): Promise<Array<{ id: string; fileSize: number }>> {
    return this.entries(SNAPSHOT_DIR, signal);
  }

  /** The content-addressed files directly in `dir` (sorted by id). */
  private async entries(dir: string, signal?: AbortSignal): Promise<Array<{ id: string; fileSize: number }>> {
    return (await this.backend.list(`${dir}/`, signal))
      .map((e) => ({ id: e.path.slice(dir.length + 1), fileSize: e.size }))
      .filter((e) => ID_RE.test(e.id))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A content-addressed file's bytes, checked to hash to its name. */
  private async readAddressed(rel: string, id: string, signal?: AbortSignal): Promise<Buffer> {
    const bytes = await this.backend.readAll(rel, signal);
    if (this.local) {
      checkAddressed(rel, id, bytes);
      return bytes;
    }
    const actual = sha256Hex(bytes);
    if (actual !== id)
      throw corruptError(nameOf(this.backend, rel), `content hash is ${actual}, not its name: the blob is damaged`, { expected: id, actual }, this.fix);
    return bytes;
  }
}

/** A repository file as the user finds it: its local path, or `<endpoint>/<container>/<path>`. */
function nameOf(backend: Backend, rel: string): string {
  return backend.localPath ? backend.localPath(rel) : `${backend.description}/${rel}`;
}
