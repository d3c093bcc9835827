/**
 * The Backend over an Azure blob container (Azure, Azurite, or the emulator's Azurite).
 *
 * Uploads: Put Block per 4 MiB block with the block's MD5 as Content-MD5 (the service rejects a block
 * damaged in transit), then one Put Block List, which makes the blob appear atomically. Block ids are
 * `<index, 6 digits>-<hex MD5>`, base64: deterministic per block index and content, so a rerun after
 * an interruption finds the blocks it already staged (Get Block List, uncommitted) and sends only the
 * rest, and a committed blob whose length and block list match is not sent again at all.
 *
 * Memory: at most `maxBlocksInFlight` block buffers (4 MiB each) exist at once across every transfer
 * of one backend (default 8 → 32 MiB), reused from a pool; ranged reads share the same cap. Every request goes through
 * withRetry (retry.ts): 408/429/5xx, connection resets and timeouts are retried with exponential
 * backoff and jitter; anything else fails at once with a CLOUD_* error naming the blob.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { ContainerClient } from '@azure/storage-blob';
import { cancelledError } from '../base/errors';
import { BLOCK_SIZE, type Backend, type BackendEntry, type PutFileOptions, type PutFileResult, blockMd5OfFile, checkRelPath } from '../repo/backend';
import { cloudError, storageFailure } from './errors';
import { type RetryOptions, Semaphore, withRetry } from './retry';

export interface ContainerBackendOptions {
  /** block buffers in flight across all transfers (the memory cap: this × 4 MiB); default 8 */
  maxBlocksInFlight?: number;
  retry?: RetryOptions;
}

/** Counters for tests and progress: what is in flight and what was sent, so tests can see that nothing leaks. */
export interface TransferCounters {
  blocksStaged: number;
  blocksReused: number;
  bytesSent: number;
  bytesRead: number;
  retries: number;
  /** highest number of block buffers alive at once */
  peakBlocksInFlight: number;
}

/** The block id of block `index` with MD5 `md5` (base64 of `000042-<32 hex>`, 39 bytes: every id of a blob has the same length, as Azure requires). */
export function blockId(index: number, md5: Uint8Array): string {
  return Buffer.from(`${String(index).padStart(6, '0')}-${Buffer.from(md5).toString('hex')}`).toString('base64');
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : cancelledError();
}

async function readBlock(fh: fs.promises.FileHandle, buf: Buffer, offset: number, length: number): Promise<void> {
  let n = 0;
  while (n < length) {
    const { bytesRead } = await fh.read(buf, n, length - n, offset + n);
    if (bytesRead === 0)
      throw Object.assign(new Error(`the file ended at ${offset + n} while ${offset + length} bytes were expected (it changed during upload)`), {
        code: 'ESHORT',
      });
    n += bytesRead;
  }
}

/**
 * Reads a download's body into `target`. A connection lost mid-body surfaces from the SDK's body
 * stream (RetriableReadableStream) as an AbortError although nobody aborted (`signal`, the attempt's,
 * is not): that is reported as ECONNRESET, so withRetry reads the range again instead of failing.
 */
async function streamInto(body: NodeJS.ReadableStream, target: Buffer, at: number, length: number, signal: AbortSignal): Promise<void> {
  let n = 0;
  try {
    for await (const piece of body as AsyncIterable<Buffer>) {
      if (n + piece.length > length) throw Object.assign(new Error('the service sent more bytes than asked for'), { code: 'SHORT_READ' });
      piece.copy(target, at + n);
      n += piece.length;
    }
  } catch (err) {
    if (signal.aborted || (err as Error)?.name !== 'AbortError') throw err;
    throw Object.assign(new Error(`the connection was lost after ${n} of ${length} bytes of the answer`), { code: 'ECONNRESET', cause: err });
  }
  if (n !== length) throw Object.assign(new Error(`got ${n} of ${length} bytes`), { code: 'SHORT_READ' });
}

export class ContainerBackend implements Backend {
  readonly description: string;
  readonly counters: TransferCounters = { blocksStaged: 0, blocksReused: 0, bytesSent: 0, bytesRead: 0, retries: 0, peakBlocksInFlight: 0 };
  private readonly slots: Semaphore;
  private readonly retry: RetryOptions;
  /** block buffers for uploads, reused (at most one per slot): no 4 MiB allocation per block */
  private readonly buffers: Buffer[] = [];

  constructor(
    readonly client: ContainerClient,
    description: string,
    options: ContainerBackendOptions = {},
  ) {
    this.description = description;
    this.slots = new Semaphore(options.maxBlocksInFlight ?? 8);
    const onRetry = options.retry?.onRetry;
    this.retry = {
      ...options.retry,
      onRetry: (info) => {
        this.counters.retries++;
        onRetry?.(info);
      },
    };
  }

  private where(p: string): string {
    return `${this.description}/${p}`;
  }

  private async call<T>(action: string, p: string, signal: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, signal, this.retry);
    } catch (err) {
      throw cloudError(err, action, this.where(p), (err as { attempts?: number })?.attempts);
    }
  }

  private async takeSlot(signal?: AbortSignal): Promise<void> {
    await this.slots.acquire(signal);
    this.counters.peakBlocksInFlight = Math.max(this.counters.peakBlocksInFlight, this.slots.inUse);
  }

  /** Creates the container when it does not exist (tests, and the first backup into an empty container). */
  async ensureContainer(signal?: AbortSignal): Promise<void> {
    await this.call('create the container', '', signal, (s) => this.client.createIfNotExists({ abortSignal: s }));
  }

  async list(prefix: string, signal?: AbortSignal): Promise<BackendEntry[]> {
    return this.call('list', `${prefix}*`, signal, async (s) => {
      const out: BackendEntry[] = [];
      for await (const page of this.client.listBlobsFlat({ prefix, abortSignal: s }).byPage({ maxPageSize: 5000 })) {
        for (const b of page.segment.blobItems) {
          const name = b.name.split('/').pop() ?? '';
          if (name.startsWith('.tmp-')) continue;
          out.push({ path: b.name, size: b.properties.contentLength ?? 0 });
        }
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    });
  }

  async stat(p: string, signal?: AbortSignal): Promise<BackendEntry | undefined> {
    const props = await this.properties(p, signal);
    return props && { path: p, size: props.size };
  }

  private async properties(p: string, signal?: AbortSignal): Promise<{ size: number; contentMd5?: Uint8Array } | undefined> {
    checkRelPath(p);
    const blob = this.client.getBlockBlobClient(p);
    return this.call('read the properties of', p, signal, async (s) => {
      try {
        const r = await blob.getProperties({ abortSignal: s });
        return { size: r.contentLength ?? 0, ...(r.contentMD5 ? { contentMd5: r.contentMD5 } : {}) };
      } catch (err) {
        if (storageFailure(err).statusCode === 404) return undefined;
        throw err;
      }
    });
  }

  async readRange(p: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    checkRelPath(p);
    const blob = this.client.getBlockBlobClient(p);
    const out = Buffer.allocUnsafe(length);
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const parts: Promise<void>[] = [];
    let failure: unknown;
    try {
      for (let at = 0; at < length; at += BLOCK_SIZE) {
        const n = Math.min(BLOCK_SIZE, length - at);
        await this.takeSlot(ctl.signal).catch((err) => {
          failure ??= err;
        });
        if (failure) break;
        parts.push(
          this.call('read', p, ctl.signal, async (s) => {
            const r = await blob.download(offset + at, n, { abortSignal: s });
            if (!r.readableStreamBody) throw Object.assign(new Error('no body in the download response'), { code: 'SHORT_READ' });
            await streamInto(r.readableStreamBody, out, at, n, s);
          })
            .then(() => {
              this.counters.bytesRead += n;
            })
            .catch((err) => {
              failure ??= err;
              ctl.abort(err);
            })
            .finally(() => this.slots.release()),
        );
      }
      await Promise.all(parts);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw abortReason(signal);
    if (failure) throw failure;
    return out;
  }

  async readAll(p: string, signal?: AbortSignal): Promise<Buffer> {
    const props = await this.properties(p, signal);
    if (!props) throw cloudError(Object.assign(new Error('BlobNotFound'), { statusCode: 404 }), 'read', this.where(p));
    return this.readRange(p, 0, props.size, signal);
  }

  async writeAtomic(p: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.upload(
      p,
      buf.length,
      undefined,
      Buffer.from(createHash('md5').update(buf).digest()),
      async (i) => {
        const at = i * BLOCK_SIZE;
        return buf.subarray(at, Math.min(buf.length, at + BLOCK_SIZE));
      },
      { signal },
    );
  }

  async putFile(p: string, localFile: string, options: PutFileOptions = {}): Promise<PutFileResult> {
    const size = (await fs.promises.stat(localFile)).size;
    const fh = await fs.promises.open(localFile, 'r');
    try {
      return await this.upload(
        p,
        size,
        options.blockMd5,
        options.contentMd5,
        async (i, buf) => {
          const n = Math.min(BLOCK_SIZE, size - i * BLOCK_SIZE);
          await readBlock(fh, buf, i * BLOCK_SIZE, n);
          return buf.subarray(0, n);
        },
        options,
        localFile,
      );
    } finally {
      await fh.close();
    }
  }

  /**
   * The upload engine behind putFile and writeAtomic. `block(i, buf)` returns block i's bytes (into
   * `buf` or a view of memory the caller already holds); blocks are read in order, one at a time,
   * and staged in parallel under the backend's slot cap.
   */
  private async upload(
    p: string,
    size: number,
    knownMd5: Buffer | undefined,
    contentMd5: Buffer | undefined,
    block: (i: number, buf: Buffer) => Promise<Buffer>,
    options: PutFileOptions,
    localFile?: string,
  ): Promise<PutFileResult> {
    checkRelPath(p);
    const { signal } = options;
    const blob = this.client.getBlockBlobClient(p);
    const nBlocks = Math.ceil(size / BLOCK_SIZE);
    if (knownMd5 && knownMd5.length !== nBlocks * 16) knownMd5 = undefined; // a different block size: recompute
    const result: PutFileResult = { path: p, size, bytesSent: 0, blocksReused: 0 };

    // 1. An identical committed blob: nothing to do.
    const props = await this.properties(p, signal);
    if (props && props.size === size) {
      if (contentMd5 && props.contentMd5 && Buffer.from(props.contentMd5).equals(contentMd5)) return { ...result, skipped: 'committed' };
      const committed = await this.blockList(p, 'committed', signal);
      if (committed.length === nBlocks && committed.every((b) => /^\d{6}-[0-9a-f]{32}$/.test(b.text))) {
        const md5s = knownMd5 ?? (localFile ? await blockMd5OfFile(localFile, signal) : await this.md5sOf(nBlocks, block));
        if (committed.every((b, i) => b.id === blockId(i, md5s.subarray(i * 16, i * 16 + 16)))) return { ...result, skipped: 'committed' };
      }
    }

    // 2. Blocks staged by an interrupted earlier attempt (uncommitted, same id = same index and MD5).
    const staged = new Map<string, number>();
    for (const b of await this.blockList(p, 'uncommitted', signal)) staged.set(b.id, b.size);

    // 3. Stage the rest in parallel, reading in order; then commit the list.
    const ids: string[] = [];
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    try {
      for (let i = 0; i < nBlocks && !failure; i++) {
        try {
          await this.takeSlot(ctl.signal);
        } catch (err) {
          failure ??= err;
          break;
        }
        let bytes: Buffer;
        let md5: Buffer;
        const buf = this.buffers.pop() ?? Buffer.allocUnsafe(BLOCK_SIZE);
        const done = () => {
          this.buffers.push(buf);
          this.slots.release();
        };
        try {
          bytes = await block(i, buf);
          md5 = knownMd5 ? knownMd5.subarray(i * 16, i * 16 + 16) : createHash('md5').update(bytes).digest();
        } catch (err) {
          done();
          failure ??= localFile ? cloudError(err, 'read the local file for', `${localFile} → ${this.where(p)}`) : err;
          break;
        }
        const id = blockId(i, md5);
        ids.push(id);
        if (staged.get(id) === bytes.length) {
          done();
          result.blocksReused++;
          this.counters.blocksReused++;
          continue;
        }
        const task = this.call('upload a block of', p, ctl.signal, (s) =>
          blob.stageBlock(id, bytes, bytes.length, { transactionalContentMD5: md5, abortSignal: s }),
        )
          .then(() => {
            result.bytesSent += bytes.length;
            this.counters.bytesSent += bytes.length;
            this.counters.blocksStaged++;
            options.onProgress?.(bytes.length);
          })
          .catch((err) => {
            failure ??= err;
            ctl.abort(err);
          })
          .finally(() => {
            done();
            inFlight.delete(task);
          });
        inFlight.add(task);
      }
      await Promise.all(inFlight);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw abortReason(signal);
    if (failure) throw failure;
    await this.call('commit the block list of', p, signal, (s) =>
      blob.commitBlockList(ids, { abortSignal: s, ...(contentMd5 ? { blobHTTPHeaders: { blobContentMD5: contentMd5 } } : {}) }),
    );
    return result;
  }

  private async md5sOf(nBlocks: number, block: (i: number, buf: Buffer) => Promise<Buffer>): Promise<Buffer> {
    const out: Buffer[] = [];
    for (let i = 0; i < nBlocks; i++)
      out.push(
        createHash('md5')
          .update(await block(i, Buffer.allocUnsafe(BLOCK_SIZE)))
          .digest(),
      );
    return Buffer.concat(out);
  }

  /**
   * The committed block list of blob `p` (empty when it does not exist): each block's id, its id
   * decoded (`<index>-<hex MD5>` for blocks this backend uploaded) and its size. check --cloud compares
   * the MD5s in the ids with the index's block MD5s, reading no data.
   */
  async committedBlocks(p: string, signal?: AbortSignal): Promise<Array<{ id: string; text: string; size: number }>> {
    return this.blockList(checkRelPath(p), 'committed', signal);
  }

  private async blockList(p: string, type: 'committed' | 'uncommitted', signal?: AbortSignal): Promise<Array<{ id: string; text: string; size: number }>> {
    const blob = this.client.getBlockBlobClient(p);
    return this.call('list the blocks of', p, signal, async (s) => {
      try {
        const r = await blob.getBlockList(type, { abortSignal: s });
        const list = (type === 'committed' ? r.committedBlocks : r.uncommittedBlocks) ?? [];
        return list.map((b) => ({ id: b.name, text: Buffer.from(b.name, 'base64').toString('latin1'), size: b.size }));
      } catch (err) {
        if (storageFailure(err).statusCode === 404) return [];
        throw err;
      }
    });
  }

  async delete(p: string, signal?: AbortSignal): Promise<void> {
    checkRelPath(p);
    await this.call('delete', p, signal, (s) => this.client.getBlockBlobClient(p).deleteIfExists({ abortSignal: s }));
  }
}
