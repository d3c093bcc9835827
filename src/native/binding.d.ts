/**
 * The native binding's contract (native/src/*). This is the only file that describes what the addon
 * exports; src/native/io.ts and src/native/pipeline.ts wrap it in typed, validated APIs.
 *
 * Units: every size, offset and length is in bytes, as a JS number (safe up to 2^53, i.e. 8 PiB).
 * Threads: synchronous functions run on the JS thread and are meant for small buffers (metadata,
 * tests). Every `*Job` function copies its spec into C++ on the JS thread, runs on its own native
 * thread(s) and returns a Promise; `onProgress` is called on the JS thread at most every 200 ms with
 * counters and the ordered events produced since the last call. The promise settles only after every
 * native thread, aligned buffer and descriptor of the job has been released.
 * Cancellation: pass a CancelToken; after `cancel()` the job stops at its next block boundary and
 * rejects with code ERR_CANCELLED. An `onProgress` that throws cancels the job and is not called
 * again; the promise then rejects with the thrown value (after every thread has been joined).
 * Environment teardown (worker.terminate(), process exit) cancels the environment's jobs and joins
 * their threads; their promises never settle.
 *
 * Errors: argument errors throw TypeError synchronously with an exact message. Operational errors
 * are Error objects with these properties (see NativeErrorShape):
 *   code     errno name (EBUSY, ENOSPC, EACCES, EINVAL, ENOENT, …; on Windows ERROR_* names) or one of
 *            ERR_CANCELLED   the job was cancelled
 *            ERR_ALIGNMENT   offset/length/buffer not a multiple of the logical sector size
 *            ERR_LOCKED      the target is locked by another driveseed process or mounted
 *            ERR_AUTH        AES-GCM authentication failed (wrong key or tampered data)
 *            ERR_CORRUPT     structure damaged (bad pack trailer, id mismatch, bad codec byte)
 *            ERR_TOO_LARGE   decompressed size exceeds the stated maximum; scrypt needs more than 1 GiB
 *            ERR_CHANGED     a source file changed size while being read
 *            ERR_INTERNAL    a bug; please report
 *   syscall, errno, path, offset  when known.
 *
 * Alignment (direct I/O): buffers are allocated natively and aligned to max(4096, physical sector
 * size); offsets and I/O sizes must be multiples of the target's logical sector size. A file whose
 * length is not a multiple of the sector size is written with a padded last write and then truncated
 * to its exact length.
 *
 * Why one file: it is the whole contract of the addon, in one place on purpose (see above).
 */

export interface NativeErrorShape extends Error {
  code: string;
  syscall?: string;
  errno?: number;
  path?: string;
  offset?: number;
}

export interface NativeProgress {
  bytesDone: number;
  bytesTotal: number;
  /** bytes written to the output (compressed/encrypted bytes for pack jobs) */
  bytesOut: number;
  itemsDone: number;
  itemsTotal: number;
  elapsedMs: number;
}

export type ProgressCallback<E> = (progress: NativeProgress, events: E[]) => void;

export class CancelToken {
  constructor();
  cancel(): void;
  readonly cancelled: boolean;
}

export interface Counters {
  alignedBytes: number;
  openTargets: number;
  liveJobs: number;
  heldLocks: number;
}
export function counters(): Counters;
export const abiVersion: number;

// ---- Targets and locks (native/src/target.cc, platform files) ------------------------------------

export interface TargetInfo {
  path: string;
  kind: 'file' | 'blockDevice';
  /** bytes; direct I/O offsets and lengths must be multiples of this */
  logicalSectorSize: number;
  physicalSectorSize: number;
  /** device capacity, or current file length */
  size: number;
  /** hardware serial number; null for files and devices without one (loop devices, most VMs) */
  serial: string | null;
  model: string | null;
  /** true when opened with O_DIRECT / FILE_FLAG_NO_BUFFERING */
  direct: boolean;
}

export interface OpenTargetOptions {
  write?: boolean;
  create?: boolean;
  truncate?: boolean;
  /** default true */
  direct?: boolean;
  /** Linux: O_EXCL on block devices + flock; Windows: lock and dismount every volume of the disk */
  exclusive?: boolean;
  /** regular files: reserve this many bytes (fallocate / SetFileInformationByHandle) */
  preallocate?: number;
}

/** An open file or device; closes on close(), on garbage collection and at environment teardown. */
export class Target {
  private constructor();
  info(): TargetInfo;
  close(): void;
  readonly closed: boolean;
}
export function openTarget(path: string, options?: OpenTargetOptions): Target;

/** An exclusive claim on a target (see OpenTargetOptions.exclusive). Throws ERR_LOCKED when held elsewhere. */
export class TargetLock {
  private constructor();
  readonly path: string;
  readonly held: boolean;
  release(): void;
}
export function acquireLock(path: string): TargetLock;

// ---- Direct I/O jobs (native/src/io_jobs.cc) ------------------------------------------------------
// copyFilesJob and writeRawJob are the direct writers; hashFilesJob is the matching direct reader
// (prep's read-back verification of every 4 MiB block, check's pack hashes): reading a target back
// only ever needs its digests, so no job hands file bytes to JS. Threads: a job thread plus the
// workers named below; none touches JS. Units: bytes. Alignment under direct I/O: offsets and
// blockSize/ioSize must be multiples of the logical sector size of every file involved (ERR_ALIGNMENT
// otherwise); buffers are native and aligned to max(4096, sector size). On failure the destination
// being written is left as far as it got (callers rewrite it); nothing else is removed.

export interface CopyFilesSpec {
  items: Array<{ source: string; dest: string }>;
  /** aligned writes in flight per job; default 4 */
  queueDepth?: number;
  /** bytes per I/O, multiple of 4096; default 4 MiB */
  ioSize?: number;
  /** MD5 block size, multiple of ioSize; default 4 MiB (Azure drive manifest) */
  blockSize?: number;
  /** O_DIRECT on dest (and source reads); default true */
  direct?: boolean;
  /** preallocate dest to the source size; default true */
  preallocate?: boolean;
  /** fdatasync each dest before reporting it done; default true */
  sync?: boolean;
}
export interface CopyFilesEvent {
  type: 'itemDone';
  index: number;
  bytes: number;
  /** MD5 of every blockSize block of what was written, 16 bytes each, in order */
  blockMd5: Buffer;
}
export interface CopyFilesResult {
  bytes: number;
  items: Array<{ bytes: number; blockMd5: Buffer }>;
}
export function copyFilesJob(spec: CopyFilesSpec, onProgress?: ProgressCallback<CopyFilesEvent>, cancel?: CancelToken): Promise<CopyFilesResult>;

/**
 * MD5 of every blockSize block (and optionally SHA-256) of each item, read with direct I/O where the
 * filesystem allows it (else buffered: tmpfs, some FUSE). The job thread opens items ahead, at most
 * threads + queueDepth at once (the descriptor bound); `threads` workers claim batches of blocks in
 * (item, block) order across item boundaries, so many small files keep every worker busy, and MD5 each
 * batch at once on the multi-buffer path (native/src/md5_mb.h). Results and 'itemDone' events come
 * strictly in item order. Memory: threads × batch × blockSize aligned bytes, batch = min(SIMD lanes,
 * max(16, threads) / threads) (at most max(16, threads) blocks). If item k fails,
 * items before k are still finished and reported, then the job rejects with the error a sequential
 * read would have met first (lowest item, lowest block): ENOENT/EACCES (open), EIO (pread, with
 * offset), ERR_CHANGED (the file ended before offset + length; offset = where it ended), EINVAL
 * (offset past the end, a device without length), ERR_ALIGNMENT.
 */
export interface HashFilesSpec {
  /**
   * files or devices. Without length: from offset to the current end of the file (devices: length is
   * required). With length: exactly that range, and the file's reported size is not consulted
   * (procfs files report 0; a shorter file fails with ERR_CHANGED).
   */
  items: Array<{ path: string; offset?: number; length?: number }>;
  /** default 4 MiB; a multiple of 4096 (and of the sector size under direct I/O) */
  blockSize?: number;
  /** default true */
  direct?: boolean;
  /** reads in flight across all workers; default 4 */
  queueDepth?: number;
  /** hashing threads (each holds one blockSize buffer); default number of CPUs */
  threads?: number;
  /** also compute SHA-256 of each whole item; default false */
  sha256?: boolean;
}
export interface HashFilesEvent {
  type: 'itemDone';
  index: number;
  bytes: number;
  blockMd5: Buffer;
  sha256?: Buffer;
}
export interface HashFilesResult {
  bytes: number;
  items: Array<{ bytes: number; blockMd5: Buffer; sha256?: Buffer }>;
}
export function hashFilesJob(spec: HashFilesSpec, onProgress?: ProgressCallback<HashFilesEvent>, cancel?: CancelToken): Promise<HashFilesResult>;

export interface WriteRawSpec {
  /** file or block device */
  target: string;
  /** where the bytes come from: a file (read with direct I/O) or a generated pattern */
  source: { path: string } | { pattern: 'zero' | 'random' };
  /** byte offset on target, multiple of the logical sector size; default 0 */
  offset?: number;
  length: number;
  queueDepth?: number;
  ioSize?: number;
  direct?: boolean;
  sync?: boolean;
}
export function writeRawJob(spec: WriteRawSpec, onProgress?: ProgressCallback<never>, cancel?: CancelToken): Promise<{ bytes: number }>;

// ---- One-shot functions on the JS thread (native/src/util_fns.cc) ---------------------------------
// These block the JS thread: for keys, metadata and tests (inputs up to 1 GiB). Argument errors are
// TypeErrors "Expected a Uint8Array for data", "Expected a 32-byte Uint8Array for keys.dataKey",
// "Expected a 12-byte Uint8Array for nonce", "Expected an integer from 1 to 19 for level",
// "Expected an integer from 0 to 1073741824 for maxSize".

export function md5(data: Uint8Array): Buffer;
/**
 * MD5 of every `blockSize` piece of `data` (the last may be short; none for empty data), 16 bytes each,
 * in order: Azure's per-block MD5s of a buffer. Hashes up to 16 blocks at once, one per SIMD lane
 * (native/src/md5_mb.h). blockSize 1..1073741824 ("Expected an integer from 1 to 1073741824 for blockSize").
 */
export function md5Blocks(data: Uint8Array, blockSize: number): Buffer;
/** MD5 of each message, 16 bytes each, in order (multi-buffer; at most 1 GiB in all). */
export function md5Many(messages: Uint8Array[]): Buffer;
/** The MD5 implementation this process picked from the CPU, capped by DRIVESEED_MD5=scalar|avx2|avx512. */
export function md5Implementation(): 'scalar' | 'avx2' | 'avx512';
export function sha256(data: Uint8Array): Buffer;
export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer;
/**
 * BLAKE3 of data, 32 bytes (the plain hash), or with a 32-byte key its keyed_hash mode (a PRF/MAC:
 * the key as every node's starting chaining value, native/src/blake3.h). Hashes 16 (AVX-512) or 8
 * (AVX2) 1 KiB chunks at once, one per SIMD lane, at the level DRIVESEED_BLAKE3=scalar|avx2|avx512
 * caps, read on each call ("Expected a 32-byte Uint8Array or undefined for key").
 */
export function blake3(data: Uint8Array, key?: Uint8Array): Buffer;
/** The BLAKE3 level the next blake3() call uses: this CPU's best, capped by DRIVESEED_BLAKE3 now. */
export function blake3Level(): 'scalar' | 'avx2' | 'avx512';
/** AES-256-GCM: returns ciphertext || 16-byte tag. key 32 bytes, nonce 12 bytes. */
export function aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer;
/** throws ERR_AUTH when the tag does not verify */
export function aesGcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Buffer;
/** One zstd frame with its content size; level 1..19. */
export function zstdCompress(data: Uint8Array, level: number): Buffer;
/** Any zstd frames (also from the zstd CLI); throws ERR_TOO_LARGE beyond maxSize, ERR_CORRUPT on bad input */
export function zstdDecompress(data: Uint8Array, maxSize: number): Buffer;

export interface ChunkerParams {
  /** bytes; defaults 512 KiB / 1 MiB / 8 MiB; min < avg < max, avg a power of two */
  min: number;
  avg: number;
  max: number;
}
/**
 * Content-defined chunk lengths of data (FastCDC, normalisation level 1, fixed gear table), summing to
 * data.length. The same bytes give the same lengths on every machine and release; packJob chunks with
 * the same code, so chunkLengths(file) equals the lengths of its 'file' event (for a file without holes).
 * Mean chunk length is about 1.3 × avg; one insertion changes about 1.4 chunks on average.
 */
export function chunkLengths(data: Uint8Array, params: ChunkerParams): number[];
/**
 * Whether a chunk is stored without trying zstd: 64 KiB or more, and 16 samples of 2 KiB spread over it
 * have a byte entropy of at least 7.98 bits (random, encrypted or already compressed data;
 * docs/format-packs.md §Blob). encodeBlob and packJob apply it.
 */
export function looksIncompressible(data: Uint8Array): boolean;

export interface BlobKeys {
  /** AES-256-GCM key, 32 bytes */
  dataKey: Uint8Array;
  /** the key of chunk ids, 32 bytes */
  idKey: Uint8Array;
  /** how ids are computed from idKey and a chunk: HMAC-SHA-256 (the default; format version 1) or keyed BLAKE3 (version 2) */
  idScheme?: 'hmac-sha256' | 'blake3';
}
/**
 * The chunk framing used inside packs (docs/format-packs.md): id = the keyed hash of data under idKey
 * (keys.idScheme: HMAC-SHA-256 or keyed BLAKE3);
 * blob = nonce(12) || AES-256-GCM(dataKey, nonce, codec(1) || payload, aad = id) || tag(16),
 * codec 0 = stored, 1 = zstd. Stored is chosen when compression does not save space, or without
 * trying it when looksIncompressible(data). The nonce is
 * random, so encoding the same data twice gives different blobs with the same id.
 */
export function encodeBlob(data: Uint8Array, keys: BlobKeys, level: number): { id: Buffer; blob: Buffer };
/** Decrypts, decompresses and checks that the keyed hash of the data (keys.idScheme) is id. Throws ERR_AUTH / ERR_CORRUPT. */
export function decodeBlob(blob: Uint8Array, id: Uint8Array, keys: BlobKeys, maxSize: number): Buffer;

// ---- Stage pipeline (native/src/pack_job.cc) ------------------------------------------------------
// Threads: `readers` reader threads (which also compress and encrypt a small file's only chunk,
// ≤ 64 KiB, themselves), `threads` compression/encryption workers (which also MD5, 8 blocks at a time
// on the multi-buffer path, and write each full blockSize block of pack) and one ordered writer (the
// job thread); none touches JS.
// Memory cap, whatever the data size:
//   slots × (2 × chunker.max + 29) + (threads + 2 + batch) × blockSize,
//   slots = min(2 × threads + 1 + readers, 40), batch = 8 pack blocks MD5ed together (0 without SIMD)
// (defaults, threads = 2: 9 × 16 MiB + 48 MiB = 192 MiB; readers read straight into the slots; only
// pages actually used become resident, about 3 MiB a slot at 1 MiB chunks; blockSize > 16 MiB: no block buffers, the writer hashes), plus
// per job: a copy of `known`, ~80 bytes per new chunk id (in-job dedup) and ~150 bytes per file whose
// event is still pending. Callers bound those by batching files (e.g. 10k files or 1 GiB per call).
// Errors: an unreadable file is not an error of the job (its 'file' event carries `error`); the promise
// rejects on pack-writing failures (ENOSPC, EACCES on packDir, EIO), ERR_CANCELLED, or ENOMEM. On
// rejection the temporary pack is removed; packs already announced by a 'pack' event stay valid.

export interface PackJobSpec {
  files: Array<{ path: string; size: number }>;
  /** pack files are written as <packDir>/<name[0..2]>/<name>, name = SHA-256(size ‖ blockSize ‖ block MD5s) (docs/format-packs.md) */
  packDir: string;
  chunker: ChunkerParams;
  /** zstd level, 1..19 */
  level: number;
  /** compression/encryption worker threads */
  threads: number;
  keys: BlobKeys;
  /** sorted concatenation of 32-byte ids already stored; those chunks are not written again */
  known: Buffer;
  /** a pack is closed once it reaches this many bytes (1 MiB..4 GiB); default 64 MiB */
  packSize?: number;
  /** MD5 block size recorded per pack; default 4 MiB */
  blockSize?: number;
  /** files read concurrently (small files); default 4 */
  readers?: number;
  /** ranges of zeros this long or longer inside sparse files are recorded as holes; default 1 MiB */
  holeMin?: number;
}
/**
 * One per spec file, in spec order, and only after the 'pack' events of every pack holding its chunks
 * (including chunks deduplicated against the pack still being written), so an index built from events
 * never points at a pack that is not on disk. The file's content is the chunks concatenated with the
 * holes inserted: logical length = sum(lengths) + sum of hole lengths.
 */
export interface PackFileEvent {
  type: 'file';
  index: number;
  /** bytes of content read (excluding holes) */
  size: number;
  /** 32-byte chunk ids in order */
  chunks: Buffer;
  /** raw length of each chunk */
  lengths: number[];
  /** [offset, length] pairs of holes not stored; content is the chunks with holes inserted */
  holes: Array<[number, number]>;
  /** set when the file could not be read (it is then skipped) */
  error?: { code: string; message: string; errno?: number; syscall?: string; path?: string };
  /** set when the size or mtime changed while reading, or the size differs from spec.files[i].size;
   *  a file that shrank mid-read has only what was read (its holes cut at that point) */
  changed?: boolean;
}
export interface PackEntry {
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
}
/** A pack is fsynced and renamed to its content name (and its directory fsynced) before this event. */
export interface PackDoneEvent {
  type: 'pack';
  name: string;
  path: string;
  size: number;
  /** MD5 of every blockSize block of the pack file, 16 bytes each */
  blockMd5: Buffer;
  entries: PackEntry[];
}
export interface PackJobResult {
  /** files read without error (filesFailed: with an error event) */
  filesRead: number;
  filesFailed: number;
  bytesRead: number;
  chunksNew: number;
  chunksDuplicate: number;
  /** raw bytes of the new chunks */
  bytesNew: number;
  /** bytes of pack files written (blobs, headers, trailers); also progress.bytesOut */
  bytesStored: number;
  packs: number;
}
export function packJob(spec: PackJobSpec, onProgress?: ProgressCallback<PackFileEvent | PackDoneEvent>, cancel?: CancelToken): Promise<PackJobResult>;

// ---- Restore / verify pipeline (native/src/restore_job.cc, verify_packs_job.cc) -------------------
// restoreJob: `threads` workers pread, decode and pwrite chunks; memory ≤ threads × (largest blob +
// largest chunk) + a queue of 4 × threads chunk references; at most 32 packs open at once. Destination
// directories must exist (the caller creates them, and decides what may be written where). Each dest is
// created/truncated (by the worker that handles its first chunk), written at positional offsets with
// holes left unwritten (files stay sparse), then truncated to `size` when it ends in a hole. A chunk that fails to decode fails only its file: the partial dest is removed and
// its event has ok: false with ERR_AUTH / ERR_CORRUPT / ERR_TOO_LARGE (or an errno code), the pack path
// and the blob offset; other files continue. A file whose chunk lengths plus holes do not add up to
// `size` fails with ERR_CORRUPT before anything is written. On cancellation, unfinished dests are removed.
// verifyPacksJob: see VerifyProblemEvent.

export interface ChunkRef {
  /** index into spec.packs */
  pack: number;
  offset: number;
  length: number;
  rawLength: number;
  id: Buffer;
}
export interface RestoreJobSpec {
  packs: string[];
  files: Array<{ dest: string; size: number; holes?: Array<[number, number]>; chunks: ChunkRef[] }>;
  keys: BlobKeys;
  threads: number;
}
export interface RestoreFileEvent {
  type: 'file';
  index: number;
  ok: boolean;
  error?: { code: string; message: string; pack?: string; offset?: number };
}
export function restoreJob(
  spec: RestoreJobSpec,
  onProgress?: ProgressCallback<RestoreFileEvent>,
  cancel?: CancelToken,
): Promise<{ filesOk: number; filesFailed: number; bytes: number }>;

export interface VerifyPacksSpec {
  packs: Array<{ path: string; name: string; entries: Array<Omit<ChunkRef, 'pack'>> }>;
  keys: BlobKeys;
  threads: number;
  /** block size of the pack names' block MD5s (docs/format-packs.md); default 4 MiB */
  blockSize?: number;
}
/**
 * Every problem found, not just the first, packs in spec order. Checks per pack: each listed blob lies
 * inside the file and does not overlap another, decrypts (ERR_AUTH), decompresses and matches its id
 * and rawLength (ERR_CORRUPT); the content name derived from the file's block MD5s equals `name` (ERR_CORRUPT, offset 0,
 * length = file size); the trailer and the encrypted header parse (ERR_CORRUPT / ERR_AUTH at their
 * offset); the header's blobs are contiguous and end where the header starts; the header and the
 * listed entries agree. A pack that cannot be opened is one problem with its errno code.
 */
export interface VerifyProblemEvent {
  type: 'problem';
  pack: string;
  offset: number;
  length: number;
  id?: Buffer;
  code: string;
  message: string;
}
export function verifyPacksJob(
  spec: VerifyPacksSpec,
  onProgress?: ProgressCallback<VerifyProblemEvent>,
  cancel?: CancelToken,
): Promise<{
  chunksOk: number;
  chunksBad: number;
  packsBad: number;
  bytes: number;
  /** per pack, spec order: its length and the MD5 of every blockSize block, read while verifying; null when the pack could not be read to its end */
  packs: Array<{ bytes: number; blockMd5: Buffer } | null>;
}>;

// ---- The source walker's directory listing (native/src/posix/dir_scan_posix.cc) -------------------

/**
 * One directory's entries and their lstat fields, for the source walker (src/repo/walker.ts): opendir,
 * then readdir with fstatat(AT_SYMLINK_NOFOLLOW) relative to the directory, on the JS thread. `names`
 * are the entries whose names are valid UTF-8, in directory order (not sorted; "." and ".." left
 * out); `stats` holds `listDirFields` values per name, in the order errno, mode, uid, gid, nlink,
 * size, dev, ino, mtimeNs, ctimeNs (errno 0, or that entry's fstatat errno and the rest 0; the times
 * are int64 bits, negative before 1970: read them with BigInt.asIntN(64, …));
 * `invalid` the raw names that are not UTF-8, not stat'ed. Throws {code, syscall: 'scandir', path}
 * when the directory cannot be opened or read. POSIX only: undefined on Windows.
 */
export const listDir: ((path: string) => { names: string[]; stats: BigUint64Array; invalid: Buffer[] }) | undefined;
export const listDirFields: number | undefined;
/** listDir on the libuv pool: a promise of the same result (rejects as listDir throws). POSIX only, like listDir. */
export const listDirAsync: ((path: string) => Promise<{ names: string[]; stats: BigUint64Array; invalid: Buffer[] }>) | undefined;

// ---- Key derivation (native/src/scrypt_fn.cc, scrypt.cc) ------------------------------------------

/**
 * scrypt (RFC 7914), bit-identical to node:crypto's scrypt: PBKDF2-HMAC-SHA-256 (OpenSSL) around ROMix
 * with a vector Salsa20/8 (SSE2 or AVX-512VL, picked per call from the CPU and
 * DRIVESEED_SCRYPT_SIMD=scalar|sse2|avx512, a cap that is lowered to what the CPU has). The password
 * and salt are copied on the JS thread (the password copy is zeroed after use), the derivation runs on
 * the libuv pool and the promise resolves with a keyLen-byte Buffer; every intermediate (128·r·N bytes
 * of V, 128·r·p of B) is zeroed before it is freed.
 * Argument errors throw TypeError: "Expected a Uint8Array for password" / "for salt", "Expected an
 * integer from 2 to 4294967296 for N", "… from 1 to 1073741823 for r" / "for p", "… from 1 to
 * 1073741824 for keyLen". Parameter errors throw {code} synchronously too: EINVAL when N is not a power
 * of two, N ≥ 2^(16·r) or r·p ≥ 2^30; ERR_TOO_LARGE when 128·r·(N + p + 2) exceeds 1 GiB. ENOMEM
 * rejects the promise when the memory cannot be had.
 * Undefined in addons built before it existed (a prebuild): callers fall back to node:crypto.
 */
export const scrypt: ((password: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, keyLen: number) => Promise<Buffer>) | undefined;
/** The scrypt path scrypt() would take now: the CPU's best, capped by DRIVESEED_SCRYPT_SIMD. Undefined where scrypt is. */
export const scryptImplementation: (() => 'scalar' | 'sse2' | 'avx512') | undefined;
