/**
 * Typed, validated wrappers over the native compute pipeline (binding.d.ts "One-shot functions",
 * "Stage pipeline", "Restore / verify pipeline"). Options are checked here with precise messages
 * (TypeError "Expected … for <name> but received …") before anything native runs; the defaults
 * below carry their reasons. Jobs take an AbortSignal and a progress callback through runJob and
 * fail with DataPlaneError (stable `code`, plus `path`/`offset` where known).
 */
import * as os from 'node:os';
import type {
  BlobKeys,
  ChunkerParams,
  ChunkRef,
  PackDoneEvent,
  PackEntry,
  PackFileEvent,
  PackJobResult,
  RestoreFileEvent,
  VerifyProblemEvent,
} from './binding';
import { wrapNativeError } from './errors';
import { type NativeBinding, loadBinding } from './load';
import { runJob, type JobOptions } from './run-job';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * FastCDC sizes. avg 1 MiB: chunks big enough that per-chunk costs (an index entry of ~80 bytes, an
 * HMAC, a GCM nonce and tag) stay below 0.01% of the data, small enough that an edit re-stores about
 * 1 MiB. min = avg / 2 is cut-point skipping (the chunker's speed); max = 8 × avg bounds a chunk's
 * memory while leaving runs of zeros or repeated data to dedup as whole max-size chunks. Chunks average
 * about 1.3 × avg (measured); the chunker runs at ~5.7 GB/s on one core with these sizes.
 */
export const DEFAULT_CHUNKER: Readonly<ChunkerParams> = Object.freeze({ min: 512 * KiB, avg: 1 * MiB, max: 8 * MiB });

/**
 * 64 MiB packs: 16 Azure 4 MiB blocks per pack blob; ~160k pack files for 10 TB (a directory
 * fan-out of 256 keeps each directory near 600 entries); a redo after a crash or a failed blob upload
 * costs at most 64 MiB.
 */
export const DEFAULT_PACK_SIZE = 64 * MiB;

/** Compression/encryption workers: one per CPU (zstd at level 3 is the pipeline's bottleneck). */
export const DEFAULT_THREADS = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

/** zstd level 3: zstd's own default, ~2.5× faster than level 9 for a few percent less ratio. */
export const DEFAULT_LEVEL = 3;

/** MD5 block recorded per pack: 4 MiB, the block size of Azure Import/Export's DriveManifest.xml. */
export const DEFAULT_BLOCK_SIZE = 4 * MiB;

/** Files read concurrently: small files are latency-bound (open, stat, read); 4 keeps a disk queue busy. */
export const DEFAULT_READERS = 4;

/** Zero ranges at least this long that the filesystem reports as holes are stored as holes, not chunks. */
export const DEFAULT_HOLE_MIN = 1 * MiB;

// ---- validation ---------------------------------------------------------------------------------

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v instanceof Uint8Array) return `a ${v.constructor.name} of ${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function expectInt(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw new TypeError(`Expected an integer from ${lo} to ${hi} for ${name} but received ${show(v)}`);
  return v;
}

function expectString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw new TypeError(`Expected a non-empty string for ${name} but received ${show(v)}`);
  return v;
}

function expectBytes(v: unknown, name: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length))
    throw new TypeError(`Expected a ${length !== undefined ? `${length}-byte ` : ''}Uint8Array for ${name} but received ${show(v)}`);
  return v;
}

function expectArray(v: unknown, name: string): unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`Expected an array for ${name} but received ${show(v)}`);
  return v;
}

function expectKeys(v: unknown, name: string): BlobKeys {
  if (typeof v !== 'object' || v === null) throw new TypeError(`Expected an object with dataKey and idKey for ${name} but received ${show(v)}`);
  const k = v as Record<string, unknown>;
  const keys: BlobKeys = { dataKey: expectBytes(k.dataKey, `${name}.dataKey`, 32), idKey: expectBytes(k.idKey, `${name}.idKey`, 32) };
  if (k.idScheme !== undefined) {
    if (k.idScheme !== 'hmac-sha256' && k.idScheme !== 'blake3')
      throw new TypeError(`Expected "hmac-sha256", "blake3" or undefined for ${name}.idScheme but received ${show(k.idScheme)}`);
    keys.idScheme = k.idScheme;
  }
  return keys;
}

/** Checks chunker sizes: 64 ≤ min < avg < max ≤ 1 GiB, avg a power of two ≥ 256. */
export function checkChunkerParams(p: unknown, name = 'chunker'): ChunkerParams {
  if (typeof p !== 'object' || p === null) throw new TypeError(`Expected an object with min, avg and max for ${name} but received ${show(p)}`);
  const o = p as Record<string, unknown>;
  const min = expectInt(o.min, `${name}.min`, 64, 2 ** 30);
  const avg = expectInt(o.avg, `${name}.avg`, 64, 2 ** 30);
  const max = expectInt(o.max, `${name}.max`, 64, 2 ** 30);
  if (!(min < avg && avg < max)) throw new TypeError(`Expected ${name}.min < ${name}.avg < ${name}.max but received ${min}, ${avg}, ${max}`);
  if (avg < 256 || (avg & (avg - 1)) !== 0) throw new TypeError(`Expected ${name}.avg to be a power of two of at least 256 but received ${avg}`);
  return { min, avg, max };
}

function call<T>(fn: () => T): T {
  const callSite = new Error();
  try {
    return fn();
  } catch (err) {
    return wrapNativeError(err, callSite);
  }
}

// ---- one-shot functions (JS thread; small buffers) ------------------------------------------------

export function md5(data: Uint8Array): Buffer {
  return call(() => loadBinding().md5(expectBytes(data, 'data')));
}

/**
 * MD5 of every blockSize piece of data (Azure's block MD5s; default 4 MiB), 16 bytes each, hashed
 * several blocks at once on the native multi-buffer path. JS thread: for buffers already in memory.
 */
export function md5Blocks(data: Uint8Array, blockSize: number = DEFAULT_BLOCK_SIZE): Buffer {
  return call(() => loadBinding().md5Blocks(expectBytes(data, 'data'), expectInt(blockSize, 'blockSize', 1, 2 ** 30)));
}

/** MD5 of each message, 16 bytes each, in order (multi-buffer). */
export function md5Many(messages: readonly Uint8Array[]): Buffer {
  if (!Array.isArray(messages)) throw new TypeError(`Expected an array of Uint8Array for messages but received ${show(messages)}`);
  return call(() => loadBinding().md5Many(messages.map((m, i) => expectBytes(m, `messages[${i}]`))));
}

/** 'avx512', 'avx2' or 'scalar': the MD5 path the CPU (and DRIVESEED_MD5) chose. */
export function md5Implementation(): 'scalar' | 'avx2' | 'avx512' {
  return loadBinding().md5Implementation();
}

export function sha256(data: Uint8Array): Buffer {
  return call(() => loadBinding().sha256(expectBytes(data, 'data')));
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return call(() => loadBinding().hmacSha256(expectBytes(key, 'key'), expectBytes(data, 'data')));
}

/** Content-defined chunk lengths of `data` (sums to data.length). */
export function chunkLengths(data: Uint8Array, params: ChunkerParams = DEFAULT_CHUNKER): number[] {
  return call(() => loadBinding().chunkLengths(expectBytes(data, 'data'), checkChunkerParams(params, 'params')));
}

/** One chunk in pack framing (docs/format-packs.md): its id and its encrypted blob. */
export function encodeBlob(data: Uint8Array, keys: BlobKeys, level = DEFAULT_LEVEL): { id: Buffer; blob: Buffer } {
  return call(() => loadBinding().encodeBlob(expectBytes(data, 'data'), expectKeys(keys, 'keys'), expectInt(level, 'level', 1, 19)));
}

/** Decodes a blob; DataPlaneError ERR_AUTH (tampered/wrong key), ERR_CORRUPT, ERR_TOO_LARGE. */
export function decodeBlob(blob: Uint8Array, id: Uint8Array, keys: BlobKeys, maxSize: number = DEFAULT_CHUNKER.max): Buffer {
  return call(() =>
    loadBinding().decodeBlob(expectBytes(blob, 'blob'), expectBytes(id, 'id', 32), expectKeys(keys, 'keys'), expectInt(maxSize, 'maxSize', 0, 2 ** 30)),
  );
}

// ---- stage pipeline -------------------------------------------------------------------------------

export interface PackFilesOptions {
  /** files in the order their 'file' events should come; size is what the caller saw (lstat) */
  files: Array<{ path: string; size: number }>;
  /** packs go to <packDir>/<name[0..2]>/<name>; temp files <packDir>/.pack-<hex>.tmp meanwhile */
  packDir: string;
  keys: BlobKeys;
  /** sorted concatenation of 32-byte ids already stored (default: none) */
  known?: Buffer;
  chunker?: ChunkerParams;
  level?: number;
  threads?: number;
  packSize?: number;
  blockSize?: number;
  readers?: number;
  holeMin?: number;
}

export type PackEvent = PackFileEvent | PackDoneEvent;

/** Runs the stage pipeline over `options.files` (binding.d.ts packJob). */
export function packFiles(options: PackFilesOptions, job: JobOptions<PackEvent> = {}): Promise<PackJobResult> {
  const files = expectArray(options.files, 'files').map((f, i) => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    return { path: expectString(o.path, `files[${i}].path`), size: expectInt(o.size, `files[${i}].size`, 0, Number.MAX_SAFE_INTEGER) };
  });
  const known = options.known ?? Buffer.alloc(0);
  expectBytes(known, 'known');
  if (known.length % 32 !== 0) throw new TypeError(`Expected a Buffer of sorted 32-byte ids for known but received ${show(known)}`);
  const spec = {
    files,
    packDir: expectString(options.packDir, 'packDir'),
    chunker: checkChunkerParams(options.chunker ?? DEFAULT_CHUNKER),
    level: expectInt(options.level ?? DEFAULT_LEVEL, 'level', 1, 19),
    threads: expectInt(options.threads ?? DEFAULT_THREADS, 'threads', 1, 256),
    keys: expectKeys(options.keys, 'keys'),
    known: Buffer.from(known.buffer, known.byteOffset, known.length),
    packSize: expectInt(options.packSize ?? DEFAULT_PACK_SIZE, 'packSize', MiB, 4 * 1024 * MiB),
    blockSize: expectInt(options.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize', 4096, 1024 * MiB),
    readers: expectInt(options.readers ?? DEFAULT_READERS, 'readers', 1, 64),
    holeMin: expectInt(options.holeMin ?? DEFAULT_HOLE_MIN, 'holeMin', 4096, Number.MAX_SAFE_INTEGER),
  };
  return runJob<PackEvent, PackJobResult>((cb, token) => loadBinding().packJob(spec, cb, token), job);
}

// ---- restore / verify pipeline --------------------------------------------------------------------

export interface RestoreFilesOptions {
  /** pack file paths; ChunkRef.pack indexes this list */
  packs: string[];
  /** destinations are created (truncated) in existing directories; holes are left unwritten */
  files: Array<{ dest: string; size: number; holes?: Array<[number, number]>; chunks: ChunkRef[] }>;
  keys: BlobKeys;
  threads?: number;
}

/** Restores files from packs (binding.d.ts restoreJob). A bad chunk fails only its file. */
export function restoreFiles(
  options: RestoreFilesOptions,
  job: JobOptions<RestoreFileEvent> = {},
): Promise<{ filesOk: number; filesFailed: number; bytes: number }> {
  const packs = expectArray(options.packs, 'packs').map((p, i) => expectString(p, `packs[${i}]`));
  expectArray(options.files, 'files').forEach((f, i) => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    expectString(o.dest, `files[${i}].dest`);
    expectInt(o.size, `files[${i}].size`, 0, Number.MAX_SAFE_INTEGER);
    expectArray(o.chunks, `files[${i}].chunks`).forEach((c, j) => {
      const r = (c ?? {}) as Record<string, unknown>;
      expectInt(r.pack, `files[${i}].chunks[${j}].pack`, 0, Math.max(0, packs.length - 1));
    });
  });
  const spec = {
    packs,
    files: options.files,
    keys: expectKeys(options.keys, 'keys'),
    threads: expectInt(options.threads ?? DEFAULT_THREADS, 'threads', 1, 256),
  };
  return runJob((cb, token) => loadBinding().restoreJob(spec, cb, token), job);
}

export interface VerifyPacksOptions {
  packs: Array<{ path: string; name: string; entries: Array<Omit<ChunkRef, 'pack'> | PackEntry> }>;
  keys: BlobKeys;
  threads?: number;
  /** block size of the MD5s the pack names derive from; default 4 MiB */
  blockSize?: number;
}

/** Re-reads packs and reports every problem (binding.d.ts verifyPacksJob). */
export function verifyPacks(options: VerifyPacksOptions, job: JobOptions<VerifyProblemEvent> = {}): ReturnType<NativeBinding['verifyPacksJob']> {
  expectArray(options.packs, 'packs').forEach((p, i) => {
    const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    expectString(o.path, `packs[${i}].path`);
    if (typeof o.name !== 'string' || !/^[0-9a-f]{64}$/.test(o.name))
      throw new TypeError(`Expected 64 lowercase hex digits (the pack's content name) for packs[${i}].name but received ${show(o.name)}`);
    expectArray(o.entries, `packs[${i}].entries`);
  });
  const spec = {
    packs: options.packs,
    keys: expectKeys(options.keys, 'keys'),
    threads: expectInt(options.threads ?? DEFAULT_THREADS, 'threads', 1, 256),
    blockSize: expectInt(options.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize', 4096, 1024 * MiB),
  };
  return runJob((cb, token) => loadBinding().verifyPacksJob(spec, cb, token), job);
}
