/**
 * Typed, validated wrappers over the native direct-I/O half of the data plane (binding.d.ts
 * "Targets and locks" and "Direct I/O jobs"). Options are checked here with precise messages before
 * anything native runs; native operational failures arrive as DataPlaneError (code, syscall, errno,
 * path, offset). MD5 block lists are returned both as Buffers (16 bytes per block, for code) and as
 * uppercase hex strings (what DriveManifest.xml and users see).
 */
import * as os from 'node:os';
import type * as B from './binding';
import { wrapNativeError } from './errors';
import { loadBinding } from './load';
import { runJob, type JobOptions } from './run-job';

export type { TargetInfo, OpenTargetOptions, Target, TargetLock, NativeProgress } from './binding';

const MiB = 1024 * 1024;

/** Why the direct-I/O jobs cannot run here (no addon, or one without them), or undefined when they can; tests gate on this. */
export function ioJobsUnavailable(): string | undefined {
  try {
    const b = loadBinding() as unknown as Record<string, unknown>;
    if (typeof b.copyFilesJob !== 'function' || typeof b.hashFilesJob !== 'function')
      return 'the native addon has no copyFilesJob/hashFilesJob (native/src/io_jobs.cc)';
    return undefined;
  } catch (err) {
    return `native addon not loadable: ${(err as Error).message.split('\n')[0]}`;
  }
}

function fail(message: string): never {
  throw new TypeError(message);
}
function checkString(v: unknown, name: string): asserts v is string {
  if (typeof v !== 'string' || v.length === 0) fail(`Expected a non-empty string for ${name}`);
}
function checkBool(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== 'boolean') fail(`Expected a boolean for ${name}`);
}
function checkInt(v: unknown, name: string, lo: number, hi: number, multiple = 1): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi || v % multiple !== 0) {
    const range =
      multiple > 1
        ? `a multiple of ${multiple} from ${lo} to ${hi}`
        : hi === Number.MAX_SAFE_INTEGER
          ? `an integer of at least ${lo}`
          : `an integer from ${lo} to ${hi}`;
    fail(`Expected ${range} for ${name}`);
  }
}
function checkObject(v: unknown, name: string): asserts v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`Expected an object for ${name}`);
}

/** Splits a concatenation of 16-byte MD5 digests into uppercase hex strings, one per block. */
export function md5Hex(blockMd5: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 16 <= blockMd5.length; i += 16)
    out.push(
      blockMd5
        .subarray(i, i + 16)
        .toString('hex')
        .toUpperCase(),
    );
  return out;
}

/**
 * Opens a file or block device for (by default) direct I/O. Synchronous: open, ioctl and fallocate
 * are short calls. Close it with `close()`; it is also closed on garbage collection.
 * Throws DataPlaneError: ENOENT, EACCES, ERR_LOCKED (exclusive, held elsewhere or mounted), EINVAL
 * (direct I/O on a filesystem without it, e.g. tmpfs).
 */
export function openTarget(path: string, options: B.OpenTargetOptions = {}): B.Target {
  checkString(path, 'path');
  checkObject(options, 'options');
  for (const k of ['write', 'create', 'truncate', 'direct', 'exclusive'] as const) checkBool(options[k], `options.${k}`);
  checkInt(options.preallocate, 'options.preallocate', 0, Number.MAX_SAFE_INTEGER);
  const callSite = new Error();
  try {
    return loadBinding().openTarget(path, options);
  } catch (err) {
    return wrapNativeError(err, callSite);
  }
}

/**
 * Takes the exclusive claim on a target: O_EXCL (block devices: fails while mounted) plus flock on
 * Linux; lock + dismount of every volume on Windows. Throws DataPlaneError ERR_LOCKED when another
 * process, another handle in this process or a mount holds it. Release with `release()`.
 */
export function acquireLock(path: string): B.TargetLock {
  checkString(path, 'path');
  const callSite = new Error();
  try {
    return loadBinding().acquireLock(path);
  } catch (err) {
    return wrapNativeError(err, callSite);
  }
}

export interface IoTuning {
  /** aligned writes (or reads) in flight; 1..64, default 4 */
  queueDepth?: number;
  /** bytes per I/O: multiple of 4096 up to 64 MiB; default 4 MiB (fio: 1–4 MiB saturate here, docs/native-io.md) */
  ioSize?: number;
  /** O_DIRECT / FILE_FLAG_NO_BUFFERING; default true */
  direct?: boolean;
  /** fdatasync before reporting done; default true */
  sync?: boolean;
}

function checkTuning(o: IoTuning, where: string): void {
  checkInt(o.queueDepth, `${where}.queueDepth`, 1, 64);
  checkInt(o.ioSize, `${where}.ioSize`, 4096, 64 * MiB, 4096);
  checkBool(o.direct, `${where}.direct`);
  checkBool(o.sync, `${where}.sync`);
}

export interface CopiedFile {
  bytes: number;
  /** MD5 of every blockSize block, 16 bytes each */
  blockMd5: Buffer;
  /** the same, as uppercase hex strings (DriveManifest.xml) */
  blockMd5Hex: string[];
}

export interface CopyFilesOptions extends IoTuning, JobOptions<B.CopyFilesEvent> {
  /** MD5 block size, a multiple of ioSize; default 4 MiB (Azure's drive manifest) */
  blockSize?: number;
  /** reserve each destination's size before writing; default true */
  preallocate?: boolean;
}

/**
 * Copies each source file to its destination (created or truncated) with aligned direct writes,
 * hashing every blockSize block with MD5 on the way. Items are done in order; `onProgress` events
 * are `itemDone` per item. Rejects with DataPlaneError (ERR_CANCELLED, ERR_CHANGED, ENOSPC, …).
 */
export async function copyFiles(
  items: Array<{ source: string; dest: string }>,
  options: CopyFilesOptions = {},
): Promise<{ bytes: number; items: CopiedFile[] }> {
  if (!Array.isArray(items)) fail('Expected an array for items');
  items.forEach((it, i) => {
    checkObject(it, `items[${i}]`);
    checkString(it.source, `items[${i}].source`);
    checkString(it.dest, `items[${i}].dest`);
  });
  checkTuning(options, 'options');
  const ioSize = options.ioSize ?? 4 * MiB;
  checkInt(options.blockSize, 'options.blockSize', ioSize, 256 * MiB, ioSize);
  checkBool(options.preallocate, 'options.preallocate');
  const { signal, onProgress, ...tuning } = options;
  const spec: B.CopyFilesSpec = { items: items.map(({ source, dest }) => ({ source, dest })), ...tuning };
  const r = await runJob<B.CopyFilesEvent, B.CopyFilesResult>((cb, token) => loadBinding().copyFilesJob(spec, cb, token), { signal, onProgress });
  return { bytes: r.bytes, items: r.items.map((it) => ({ ...it, blockMd5Hex: md5Hex(it.blockMd5) })) };
}

export interface HashedItem extends CopiedFile {
  sha256?: Buffer;
}

export interface HashFilesOptions extends JobOptions<B.HashFilesEvent> {
  /** default 4 MiB; multiple of 4096 */
  blockSize?: number;
  direct?: boolean;
  /** reads in flight; default 4 */
  queueDepth?: number;
  /**
   * workers (each reads a block, then hashes it); default: direct, CPUs + queueDepth (at most 64), so
   * queueDepth reads stay in flight while every CPU hashes (a direct read has no read-ahead; with one
   * worker per CPU each stalls on its read and 2 CPUs ran 110% busy: verify of 301 MiB on a loop-device
   * ext4, 0.32 s → 0.25 s, bench/trials/prep.mjs); buffered, the number of CPUs
   */
  threads?: number;
  /** also SHA-256 of each whole item */
  sha256?: boolean;
}

/**
 * The direct reader: MD5 of every blockSize block of each item (and optionally SHA-256 of the whole
 * item). Blocks are read and hashed on `threads` workers across item boundaries (many small files keep
 * every worker busy); results and `itemDone` events come in item order. Devices need `length`; with a
 * `length`, exactly that range is read and a shorter file fails with ERR_CHANGED. If item k fails, the
 * items before it are still reported, then it rejects with DataPlaneError (ENOENT, EIO, ERR_CHANGED,
 * ERR_ALIGNMENT, ERR_CANCELLED, …). Memory: threads × batch × blockSize, at most max(16, threads) blocks
 * (blocks MD5ed together on the multi-buffer path; default, direct: (CPUs + 4) workers).
 */
export async function hashFiles(
  items: Array<{ path: string; offset?: number; length?: number }>,
  options: HashFilesOptions = {},
): Promise<{ bytes: number; items: HashedItem[] }> {
  if (!Array.isArray(items)) fail('Expected an array for items');
  items.forEach((it, i) => {
    checkObject(it, `items[${i}]`);
    checkString(it.path, `items[${i}].path`);
    checkInt(it.offset, `items[${i}].offset`, 0, Number.MAX_SAFE_INTEGER);
    checkInt(it.length, `items[${i}].length`, 0, Number.MAX_SAFE_INTEGER);
  });
  checkInt(options.blockSize, 'options.blockSize', 4096, 256 * MiB, 4096);
  checkInt(options.queueDepth, 'options.queueDepth', 1, 64);
  checkInt(options.threads, 'options.threads', 1, 64);
  checkBool(options.direct, 'options.direct');
  checkBool(options.sha256, 'options.sha256');
  const { signal, onProgress, ...rest } = options;
  const cpus = os.availableParallelism();
  const threads = rest.threads ?? (rest.direct === false ? cpus : Math.min(64, cpus + (rest.queueDepth ?? 4)));
  const spec: B.HashFilesSpec = { items: items.map(({ path, offset, length }) => ({ path, offset, length })), ...rest, threads };
  const r = await runJob<B.HashFilesEvent, B.HashFilesResult>((cb, token) => loadBinding().hashFilesJob(spec, cb, token), { signal, onProgress });
  return { bytes: r.bytes, items: r.items.map((it) => ({ ...it, blockMd5Hex: md5Hex(it.blockMd5) })) };
}

export interface WriteRawOptions extends IoTuning, JobOptions<never> {
  /** byte offset on the target, a multiple of its logical sector size; default 0 */
  offset?: number;
}

/**
 * Writes `length` bytes from a file or a pattern to a file or block device at `offset`, with
 * queueDepth aligned writes in flight. An unaligned tail keeps the target's bytes after the end.
 */
export async function writeRaw(
  target: string,
  source: { path: string } | { pattern: 'zero' | 'random' },
  length: number,
  options: WriteRawOptions = {},
): Promise<{ bytes: number }> {
  checkString(target, 'target');
  checkObject(source, 'source');
  if ('path' in source) checkString(source.path, 'source.path');
  else if (source.pattern !== 'zero' && source.pattern !== 'random') fail("Expected 'zero' or 'random' for source.pattern");
  if (length === undefined) fail('Expected an integer of at least 0 for length');
  checkInt(length, 'length', 0, Number.MAX_SAFE_INTEGER);
  checkInt(options.offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
  checkTuning(options, 'options');
  const { signal, onProgress, ...tuning } = options;
  const spec: B.WriteRawSpec = { target, source, length, ...tuning };
  return runJob<never, { bytes: number }>((cb, token) => loadBinding().writeRawJob(spec, cb, token), { signal, onProgress });
}
