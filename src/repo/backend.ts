/**
 * The storage Backend: what the repository (src/repo/repository.ts) needs from where a repository
 * lives, implemented by a local directory (LocalBackend, below: a staging location or a mounted
 * drive) and by a blob container (ContainerBackend, src/cloud/container-backend.ts). Backends are
 * built by openBackend (src/cloud/backends.ts). Paths are repository-relative with '/'
 * (`data/ab/ab12…`, `index/<id>`, `snapshots/<id>`); in the container the blob name is the path.
 *
 * Contract shared by both implementations (the conformance tests in test/cloud-backend.test.ts run
 * against both):
 *  - writeAtomic and putFile are atomic: a reader sees the old object, or the whole new one, never
 *    a part. A crash during either leaves nothing visible (the container may keep uncommitted
 *    blocks, which Azure discards after a week and which a rerun reuses).
 *  - putFile of a path whose object already holds the same bytes (same length and recorded block
 *    MD5s) sends nothing and reports `skipped: 'committed'`.
 *  - list() never returns work files (names starting with `.tmp-`) and returns paths sorted.
 *  - Reads of a missing object fail with CLOUD_NOT_FOUND (container) or REPO_IO ENOENT (local);
 *    stat() of a missing object returns undefined.
 *  - Every method takes an AbortSignal; an abort rejects with the signal's reason when it is an
 *    Error (e.g. LEASE_LOST), else CANCELLED.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cancelledError, usageError } from '../base/errors';
import { fsyncDir, tempPath, writeFileAtomic } from './atomic';
import { repoIoError } from './errors';
import { TEMP_PREFIX } from './layout';

/** Azure block size used for every upload: the drive-manifest block, so per-block MD5s recorded by packJob apply as is. */
export const BLOCK_SIZE = 4 * 1024 * 1024;

export interface BackendEntry {
  /** repository-relative path with '/' */
  path: string;
  /** bytes */
  size: number;
}

export interface PutFileOptions {
  /** MD5 of every BLOCK_SIZE block of the file, 16 bytes each, in order (packJob's `blockMd5`); computed while reading when absent */
  blockMd5?: Buffer;
  /** MD5 of the whole file; stored as the blob's Content-MD5 when given (never computed: it would cost a second pass) */
  contentMd5?: Buffer;
  signal?: AbortSignal;
  /** bytes newly sent over the network since the last call (blocks reused or skipped are not counted) */
  onProgress?: (bytesSent: number) => void;
}

export interface PutFileResult {
  path: string;
  size: number;
  /** payload bytes sent in this call (0 when skipped) */
  bytesSent: number;
  /** 'committed': an identical object was already there, nothing sent */
  skipped?: 'committed';
  /** blocks found already staged (uncommitted) from an interrupted earlier upload and not sent again */
  blocksReused: number;
}

export interface Backend {
  /** where this backend points, for messages (never carries a secret) */
  readonly description: string;
  /** objects whose path starts with `prefix` (e.g. 'index/'), sorted by path */
  list(prefix: string, signal?: AbortSignal): Promise<BackendEntry[]>;
  stat(path: string, signal?: AbortSignal): Promise<BackendEntry | undefined>;
  /** exactly `length` bytes from `offset`; a shorter object is an error */
  readRange(path: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  readAll(path: string, signal?: AbortSignal): Promise<Buffer>;
  /** small objects (index, snapshot, config): written whole, atomically, replacing any previous one */
  writeAtomic(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** large objects (packs) from a local file, with bounded memory; resumable (see the contract above) */
  putFile(path: string, localFile: string, options?: PutFileOptions): Promise<PutFileResult>;
  /** removes the object; a missing object is not an error */
  delete(path: string, signal?: AbortSignal): Promise<void>;
  /**
   * The object as a local file, for a backend whose objects are local files (LocalBackend): the
   * native jobs (restore, verify) read packs by path. Absent for remote storage, whose packs are
   * fetched into local files first (src/core/restore-source.ts, src/core/check.ts).
   */
  localPath?(path: string): string;
}

/** Checks a repository-relative path: no leading '/', no '..', no empty or '.' segments, no backslashes. */
export function checkRelPath(p: string): string {
  const segs = p.split('/');
  if (p.length === 0 || p.includes('\\') || p.includes('\0') || segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw usageError('BAD_REPO_PATH', `Not a repository-relative path: ${JSON.stringify(p)} (expected segments separated by '/', without '..')`, { path: p });
  }
  return p;
}

/** The MD5 of each BLOCK_SIZE block of `data`, concatenated (the PutFileOptions.blockMd5 layout). */
export function blockMd5Of(data: Uint8Array, blockSize = BLOCK_SIZE): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += blockSize) {
    out.push(
      createHash('md5')
        .update(data.subarray(off, Math.min(data.length, off + blockSize)))
        .digest(),
    );
  }
  return Buffer.concat(out);
}

/** blockMd5Of for a file, read one block at a time (memory: one block). */
export async function blockMd5OfFile(file: string, signal?: AbortSignal, blockSize = BLOCK_SIZE): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(blockSize);
    const out: Buffer[] = [];
    for (let off = 0; ; off += blockSize) {
      if (signal?.aborted) throw abortReason(signal);
      let n = 0;
      while (n < blockSize) {
        const { bytesRead } = await fh.read(buf, n, blockSize - n, off + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n === 0) break;
      out.push(createHash('md5').update(buf.subarray(0, n)).digest());
      if (n < blockSize) break;
    }
    return Buffer.concat(out);
  } finally {
    await fh.close();
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : cancelledError();
}

/** A repository in a local directory: a staging location or a mounted drive. */
export class LocalBackend implements Backend {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = path.resolve(root);
  }

  private abs(rel: string): string {
    return path.join(this.root, ...checkRelPath(rel).split('/'));
  }

  localPath(rel: string): string {
    return this.abs(rel);
  }

  async list(prefix: string, signal?: AbortSignal): Promise<BackendEntry[]> {
    // Walk from the deepest directory the prefix names completely ('data/ab/' → data/ab).
    const cut = prefix.lastIndexOf('/');
    const startRel = cut < 0 ? '' : prefix.slice(0, cut);
    const out: BackendEntry[] = [];
    const walk = async (rel: string): Promise<void> => {
      if (signal?.aborted) throw abortReason(signal);
      let names: fs.Dirent[];
      try {
        names = await fs.promises.readdir(rel ? this.abs(rel) : this.root, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw repoIoError(err, 'list', rel || this.root);
      }
      for (const d of names) {
        if (d.name.startsWith(TEMP_PREFIX)) continue;
        const child = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (child.startsWith(prefix) || prefix.startsWith(`${child}/`)) await walk(child);
        } else if (d.isFile() && child.startsWith(prefix)) {
          out.push({ path: child, size: (await fs.promises.stat(this.abs(child))).size });
        }
      }
    };
    await walk(startRel);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async stat(rel: string): Promise<BackendEntry | undefined> {
    try {
      const st = await fs.promises.stat(this.abs(rel));
      return st.isFile() ? { path: rel, size: st.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw repoIoError(err, 'stat', this.abs(rel));
    }
  }

  async readRange(rel: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (signal?.aborted) throw abortReason(signal);
    const file = this.abs(rel);
    let fh: fs.promises.FileHandle | undefined;
    try {
      fh = await fs.promises.open(file, 'r');
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done !== length) {
        throw Object.assign(new Error(`short read: wanted ${length} bytes at offset ${offset}, the file ends after ${offset + done}`), { code: 'ESHORT' });
      }
      return buf;
    } catch (err) {
      throw repoIoError(err, 'read', file);
    } finally {
      await fh?.close();
    }
  }

  async readAll(rel: string): Promise<Buffer> {
    try {
      return await fs.promises.readFile(this.abs(rel));
    } catch (err) {
      throw repoIoError(err, 'read', this.abs(rel));
    }
  }

  async writeAtomic(rel: string, data: Uint8Array): Promise<void> {
    writeFileAtomic(this.abs(rel), data);
  }

  async putFile(rel: string, localFile: string, options: PutFileOptions = {}): Promise<PutFileResult> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    const dest = this.abs(rel);
    const size = (await fs.promises.stat(localFile)).size;
    const existing = await this.stat(rel);
    if (existing && existing.size === size && options.blockMd5) {
      const have = await blockMd5OfFile(dest, options.signal);
      if (have.equals(options.blockMd5)) return { path: rel, size, bytesSent: 0, skipped: 'committed', blocksReused: 0 };
    }
    const dir = path.dirname(dest);
    await fs.promises.mkdir(dir, { recursive: true });
    const tmp = tempPath(dir, 'put');
    try {
      await fs.promises.copyFile(localFile, tmp);
      const fh = await fs.promises.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, dest);
      fsyncDir(dir);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw repoIoError(err, 'write', dest);
    }
    options.onProgress?.(size);
    return { path: rel, size, bytesSent: size, blocksReused: 0 };
  }

  async delete(rel: string): Promise<void> {
    await fs.promises.rm(this.abs(rel), { force: true });
  }
}
