/**
 * An opened repository: its root, config and master keys, and the readers built on them. Stage,
 * check and restore open one; other commands (prep, backup) use src/repo/index.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import type { Secret } from '../base/secret';
import { decodeVerifiedChunk } from './blob-loader';
import { ChunkIndex } from './chunk-index';
import { type InitOptions, type RepoConfig, createConfig, readConfig, unlockConfig } from './config';
import type { RepoKeys } from './crypto';
import { corruptError, repoIoError } from './errors';
import { listIndexIds, readIndex } from './index-file';
import { type SnapshotDoc, listSnapshotIds, readSnapshot } from './snapshot';

export class Repository {
  #fds = new Map<string, number>();

  private constructor(
    readonly root: string,
    readonly config: RepoConfig,
    readonly keys: RepoKeys,
  ) {}

  /** Creates a repository in `root` (created when missing). */
  static async init(root: string, passphrase: Secret, options: InitOptions = {}): Promise<Repository> {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      throw repoIoError(err, 'create', root);
    }
    const { config, keys } = await createConfig(root, passphrase, options);
    return new Repository(root, config, keys);
  }

  /** Opens an existing repository; REPO_NOT_FOUND when `root` has no config, WRONG_PASSPHRASE on a bad passphrase. */
  static async open(root: string, passphrase: Secret): Promise<Repository> {
    const config = readConfig(root);
    if (!config) {
      throw new DriveseedError(
        'REPO_NOT_FOUND',
        `${root} holds no driveseed repository (no config file). Check --staging, or run \`driveseed stage\` to create one.`,
        { category: 'USAGE', details: { staging: root } },
      );
    }
    return new Repository(root, config, await unlockConfig(root, config, passphrase));
  }

  /** Reads every index file into one chunk index. */
  loadChunkIndex(onIndex?: (id: string) => void): ChunkIndex {
    const index = new ChunkIndex();
    for (const id of listIndexIds(this.root)) {
      index.addIndex(readIndex(this.root, this.keys, id));
      onIndex?.(id);
    }
    return index;
  }

  /** Snapshots, oldest first. */
  listSnapshots(): Array<{ id: string; doc: SnapshotDoc }> {
    return listSnapshotIds(this.root)
      .map((id) => ({ id, doc: readSnapshot(this.root, this.keys, id) }))
      .sort((a, b) => a.doc.time.localeCompare(b.doc.time) || a.id.localeCompare(b.id));
  }

  /** `latest`, a full id or a unique id prefix (at least 4 hex chars). */
  resolveSnapshot(ref: string): { id: string; doc: SnapshotDoc } {
    const ids = listSnapshotIds(this.root);
    if (ref === 'latest') {
      const all = this.listSnapshots();
      const last = all[all.length - 1];
      if (!last)
        throw new DriveseedError('NO_SNAPSHOT', `The repository at ${this.root} has no snapshot yet; run \`driveseed stage\` first.`, {
          category: 'USAGE',
          details: { staging: this.root },
        });
      return last;
    }
    const matches = /^[0-9a-f]{4,64}$/.test(ref) ? ids.filter((id) => id.startsWith(ref)) : [];
    if (matches.length !== 1) {
      throw new DriveseedError(
        'SNAPSHOT_NOT_FOUND',
        matches.length > 1
          ? `--snapshot ${ref} matches ${matches.length} snapshots; give more characters of the id.`
          : `No snapshot ${ref} in ${this.root}; give "latest" or an id (at least 4 hex characters) from the list of snapshots.`,
        { category: 'USAGE', details: { field: 'snapshot', snapshot: ref } },
      );
    }
    const id = matches[0]!;
    return { id, doc: readSnapshot(this.root, this.keys, id) };
  }

  /**
   * Reads, decrypts and verifies one chunk (on the JS thread: meant for tree chunks, up to the
   * chunker's 8 MiB maximum). Throws REPO_CORRUPT naming the pack and offset when it fails.
   */
  readChunk(index: ChunkIndex, id: string, rawLength: number): Buffer {
    const loc = index.lookup(Buffer.from(id, 'hex'));
    if (!loc) throw corruptError('index', `chunk ${id} is not in any index file`, { chunk: id });
    const pack = index.packs[loc.pack]!;
    const blob = Buffer.alloc(loc.length);
    const file = path.join(this.root, pack.path);
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
    return decodeVerifiedChunk(blob, id, rawLength, this.keys.blobKeys(), this.config.chunker.max, { file: pack.path, pack: pack.name, offset: loc.offset });
  }

  /** Closes cached pack descriptors. */
  close(): void {
    for (const fd of this.#fds.values()) fs.closeSync(fd);
    this.#fds.clear();
  }
}
