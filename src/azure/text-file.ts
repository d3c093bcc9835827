/**
 * A UTF-8 text file written in ~1 MiB writes, for XML documents too large to build in memory (drive
 * manifests and DriveLogs of millions of blocks). Memory: the pending buffer plus whatever the caller
 * puts between maybeFlush() calls. Optionally feeds every written byte to a digest.
 */
import type { Hash } from 'node:crypto';
import * as fs from 'node:fs';

/** Flush at about this many pending characters: few syscalls, bounded memory. */
const FLUSH_BYTES = 1 << 20;

export class BufferedTextFile {
  private chunks: string[] = [];
  private pending = 0;
  private closed = false;
  /** bytes written to the file so far */
  bytes = 0;

  private constructor(
    readonly path: string,
    private readonly fh: fs.promises.FileHandle,
    private readonly digest?: Hash,
  ) {}

  /** Creates (truncates) `path` with `mode`. */
  static async create(path: string, opts: { mode?: number; digest?: Hash } = {}): Promise<BufferedTextFile> {
    return new BufferedTextFile(path, await fs.promises.open(path, 'w', opts.mode ?? 0o644), opts.digest);
  }

  put(s: string): void {
    this.chunks.push(s);
    this.pending += s.length;
  }

  /** Writes the buffer out once it has grown past the flush size. */
  async maybeFlush(): Promise<void> {
    if (this.pending >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    const buf = Buffer.from(this.chunks.join(''), 'utf8');
    this.chunks = [];
    this.pending = 0;
    this.digest?.update(buf);
    let off = 0;
    while (off < buf.length) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
    this.bytes += buf.length;
  }

  /** Flushes, optionally fsyncs, and closes. */
  async close(opts: { sync?: boolean } = {}): Promise<void> {
    await this.flush();
    if (opts.sync) await this.fh.sync();
    await this.fh.close();
    this.closed = true;
  }

  /** Gives up: closes (if open) and removes the file. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => {});
    }
    await fs.promises.rm(this.path, { force: true });
  }
}
