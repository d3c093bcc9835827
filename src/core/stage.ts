/**
 * `driveseed stage`: back source trees up into the staging repository (docs/format.md).
 *
 * Flow: open or create the repository while the sources are scanned for totals (the KDF runs on the
 * libuv pool meanwhile) → take its lock → delete what an interrupted run left →
 * load every index (the `known` chunk ids) → walk the sources, packing files
 * in batches with the native packJob (each batch's packs are indexed before the next batch starts,
 * so an interrupted run keeps what it packed) → pack the tree stream → write the snapshot.
 *
 * Memory (goal ≤ 512 MiB RSS for 1M files): the chunk index (~56 B per stored chunk), one batch of
 * tree records being packed plus one being walked (≤ 10k files each), the hard-link map (files
 * with nlink > 1 only), the names of the directories on the current path, and the native job's
 * fixed buffer pool. Nothing is proportional to the number of files in the tree except the
 * hard-link map; the tree stream goes to a temp file, not to memory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PackDoneEvent, PackFileEvent } from '../native/binding';
import { isCancelled } from '../native/errors';
import { loadBinding } from '../native/load';
import { runJob } from '../native/run-job';
import { tempPath } from '../repo/atomic';
import type { ChunkIndex } from '../repo/chunk-index';
import type { InitOptions } from '../repo/config';
import { readConfig } from '../repo/config';
import { repoIoError } from '../repo/errors';
import { type IndexPack, packFromEvent, writeIndex } from '../repo/index-file';
import { DATA_DIR } from '../repo/layout';
import { removeGarbage, scanGarbage } from '../repo/garbage';
import { acquireRepoLock } from '../repo/lock';
import { Repository } from '../repo/repository';
import { type SnapshotDoc, type SnapshotSummary, writeSnapshot } from '../repo/snapshot';
import { type FileRecord, type TreeRecord, TreeWriter, readTree } from '../repo/tree';
import { TreeCursor, type TreePath } from '../repo/tree-cursor';
import { walkSource } from '../repo/walker';
import type { CommandContext } from './command';
import { DriveseedError, cancelledError, usageError } from './errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { RateMeter } from './reporter';
import { type JobSettingsInput, mergeStageSettings } from './settings';

export interface StageOptions {
  /** absolute, existing source paths with distinct basenames (checkStagePaths) */
  sources: string[];
  /** absolute staging directory */
  staging: string;
  settings: JobSettingsInput;
  passphrase: PassphraseSource;
  /** zstd level 1..19 */
  level: number;
  /** compression/encryption threads */
  threads: number;
  /** files per packJob call; default 10,000 (bounds the records held in memory) */
  batchFiles?: number;
  /** source bytes per packJob call; default 1 GiB (bounds the work lost to an interruption) */
  batchBytes?: number;
  /**
   * Count files and bytes first for the ETA (default true). The count is an lstat-only walk of the
   * tree; with `scan: false` progress shows files, bytes and rate without totals or ETA.
   */
  scan?: boolean;
  /**
   * Read every file (default false). Otherwise a file whose size, mtime, ctime and inode equal those
   * in the parent snapshot (the latest with the same sources) keeps that snapshot's chunks unread.
   */
  readAll?: boolean;
  /** repository creation options (tests lower the KDF cost) */
  init?: InitOptions;
  /**
   * Called on the JS thread after a batch was walked (sizes from lstat) and before its files are
   * read. Not an RPC/CLI option: tests use it to change a file in between (FILE_CHANGED).
   */
  beforePack?: (files: ReadonlyArray<{ path: string; size: number }>) => void | Promise<void>;
}

export interface StageResult {
  snapshot: string;
  staging: string;
  repository: string;
  created: boolean;
  summary: SnapshotSummary;
  /** index files written by this run */
  indexFiles: string[];
  /** files removed that an interrupted run had left (temps, unreferenced packs) */
  cleaned: { files: number; bytes: number };
  /** true when some files were skipped (exit category PARTIAL) */
  partial: boolean;
  warnings: number;
}

const DEFAULT_BATCH_FILES = 10_000;
const DEFAULT_BATCH_BYTES = 1024 ** 3;
/** 100 ms: well above a file-system timestamp tick (jiffies: 4–10 ms on Linux; NTFS 100 ns). */
const RACY_MARGIN_NS = 100_000_000n;

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Refusals before any work: every source exists; none is the file-system root; their names
 * (basenames, the entries of the snapshot's root) differ; the staging location is not inside a
 * source and no source is inside the staging location. Paths are compared after resolving symlinks.
 */
export function checkStagePaths(sources: string[], staging: string): void {
  if (!sources.length) throw usageError('MISSING_ARGUMENT', 'Give at least one <source> directory or file to stage.', { field: 'sources' });
  const stagingReal = realOrSelf(path.resolve(staging));
  const names = new Map<string, string>();
  for (const s of sources) {
    const abs = path.resolve(s);
    try {
      fs.lstatSync(abs);
    } catch (err) {
      throw usageError('SOURCE_NOT_FOUND', `Source ${s} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); give an existing directory or file.`, { field: 'sources', source: s });
    }
    const name = path.basename(abs);
    if (!name) throw usageError('INVALID_SOURCE', `Source ${s} is the file-system root; give the directories under it instead.`, { field: 'sources', source: s });
    const real = realOrSelf(abs);
    if (inside(stagingReal, real)) {
      throw usageError('STAGING_INSIDE_SOURCE', `--staging ${staging} is inside source ${s}: the repository would back itself up. Choose a staging location outside every source.`, {
        field: 'staging',
        source: s,
      });
    }
    if (inside(real, stagingReal)) {
      throw usageError('SOURCE_INSIDE_STAGING', `Source ${s} is inside --staging ${staging}; choose a staging location outside every source.`, { field: 'sources', source: s });
    }
    const prev = names.get(name);
    if (prev !== undefined) {
      throw usageError('DUPLICATE_SOURCE_NAME', `Sources ${prev} and ${s} have the same name "${name}"; each source is stored under its name, so stage them in separate runs or rename one.`, {
        field: 'sources',
      });
    }
    names.set(name, s);
  }
}

interface Pending {
  rec: TreeRecord;
  /** index into the batch's files for a regular file */
  file?: number;
  /** the source path, for warnings */
  path?: string;
}

interface Batch {
  recs: Pending[];
  files: Array<{ path: string; size: number }>;
  /** bytes of `files` */
  bytes: number;
  /** files (and their bytes) taken unread from the parent snapshot */
  unchangedFiles: number;
  unchangedBytes: number;
}

const newBatch = (): Batch => ({ recs: [], files: [], bytes: 0, unchangedFiles: 0, unchangedBytes: 0 });

/** The parent snapshot: the latest one with exactly these sources, in this order. */
function findParent(repo: Repository, sources: string[]): { id: string; doc: SnapshotDoc } | undefined {
  const key = JSON.stringify(sources);
  return repo
    .listSnapshots()
    .filter((s) => JSON.stringify(s.doc.sources) === key)
    .pop();
}

/** Runs stage. Reports progress through ctx.reporter; never prints. */
export async function stage(o: StageOptions, ctx: CommandContext): Promise<StageResult> {
  const t0 = Date.now();
  const { reporter } = ctx;
  let warnings = 0;
  let partial = false;
  const warn = (code: string, message: string, details: Record<string, unknown>, isPartial: boolean) => {
    warnings++;
    if (isPartial) partial = true;
    reporter.warning(code, message, details);
  };

  try {
    fs.mkdirSync(o.staging, { recursive: true });
  } catch (err) {
    throw repoIoError(err, 'create', o.staging);
  }
  const exists = readConfig(o.staging) !== undefined;
  const passphrase = await resolvePassphrase(o.passphrase, ctx, !exists);
  // The KDF (scrypt N=2^17: 0.3–0.5 s on the libuv pool) runs while the sources are counted, which needs
  // no key; a wrong passphrase stops the count at its next yield.
  const opening = exists ? Repository.open(o.staging, passphrase) : Repository.init(o.staging, passphrase, o.init);
  let openFailed = false;
  opening.catch(() => {
    openFailed = true;
  });

  // Scan for totals (progress and ETA). lstat only; the OS caches what the walk reads again.
  // Measured on 1M small files: about 10% of the run; --no-scan skips it.
  let totalFiles = 0;
  let totalBytes = 0;
  let n = 0;
  const scan = o.scan !== false;
  scanning: for (const src of scan ? o.sources : []) {
    for (const ev of walkSource(src)) {
      if (ev.kind === 'file') {
        totalFiles++;
        totalBytes += Number(ev.st.size);
      }
      if (++n % 2000 === 0) {
        if (ctx.signal.aborted) throw cancelledError();
        reporter.progress({ phase: 'scan', bytesDone: totalBytes, itemsDone: totalFiles, current: ev.path });
        await new Promise((r) => setImmediate(r));
        if (openFailed) break scanning;
      }
    }
  }
  const repo = await opening;
  if (!exists) reporter.info(`Created repository ${repo.config.id} in ${o.staging}`, { repository: repo.config.id });
  mergeStageSettings(o.staging, o.settings);

  const lock = acquireRepoLock(o.staging, 'stage');
  if (lock.replaced) {
    warn('STALE_LOCK', `Took over a stale lock of pid ${lock.replaced.pid} (${lock.replaced.command}, ${lock.replaced.time}), which no longer runs`, { holder: lock.replaced }, false);
  }
  let treeWriter: TreeWriter | undefined;
  try {
    const index = repo.loadChunkIndex();
    const garbage = scanGarbage(o.staging, new Set(index.packs.map((p) => p.name)));
    const cleaned = removeGarbage(o.staging, garbage);
    if (cleaned.files) reporter.info(`Removed ${cleaned.files} files (${cleaned.bytes} bytes) left by an interrupted run`, cleaned);

    if (scan) reporter.info(`Staging ${totalFiles} files, ${totalBytes} bytes from ${o.sources.join(', ')}`, { files: totalFiles, bytes: totalBytes });
    /** Totals and ETA for a progress report, when the scan ran. */
    const totals = (bytesDone: number, itemsDone: number) => {
      const { rate, etaSeconds } = meter.sample(bytesDone, scan ? totalBytes : undefined);
      return {
        bytesDone,
        itemsDone,
        rate,
        ...(scan ? { bytesTotal: Math.max(totalBytes, bytesDone), itemsTotal: Math.max(totalFiles, itemsDone) } : {}),
        ...(etaSeconds !== undefined ? { etaSeconds } : {}),
      };
    };

    const binding = loadBinding();
    const cfg = repo.config;
    const keys = repo.keys.blobKeys();
    const packDir = path.join(o.staging, DATA_DIR);
    fs.mkdirSync(packDir, { recursive: true });
    const sum: SnapshotSummary = {
      files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, bytesRead: 0, bytesNew: 0, bytesStored: 0,
      chunksNew: 0, chunksDuplicate: 0, packs: 0, filesFailed: 0, filesChanged: 0, filesUnchanged: 0, durationMs: 0,
    };
    const indexFiles: string[] = [];
    const meter = new RateMeter();
    let bytesBefore = 0;
    let filesBefore = 0;

    /** One packJob over `files`; indexes its packs. Returns the file events by index. */
    const pack = async (files: Array<{ path: string; size: number }>, phase: string, known: ChunkIndex): Promise<Array<PackFileEvent | undefined>> => {
      const events: Array<PackFileEvent | undefined> = new Array(files.length);
      const packs: IndexPack[] = [];
      const flushIndex = () => {
        if (!packs.length) return;
        const doc = packs.splice(0);
        indexFiles.push(writeIndex(o.staging, repo.keys, doc));
        known.addIndex({ version: 1, created: '', packs: doc });
      };
      try {
        const r = await runJob<PackFileEvent | PackDoneEvent, Awaited<ReturnType<typeof binding.packJob>>>(
          (cb, token) =>
            binding.packJob(
              {
                files,
                packDir,
                chunker: cfg.chunker,
                level: o.level,
                threads: o.threads,
                keys,
                known: known.knownBuffer(),
                packSize: cfg.packSize,
                blockSize: cfg.blockSize,
              },
              cb,
              token,
            ),
          {
            signal: ctx.signal,
            onProgress: (p, evs) => {
              for (const ev of evs) {
                if (ev.type === 'file') events[ev.index] = ev;
                else packs.push(packFromEvent(ev, cfg.blockSize));
              }
              reporter.progress({ phase, ...totals(bytesBefore + p.bytesDone, filesBefore + p.itemsDone) });
            },
          },
        );
        sum.bytesNew += r.bytesNew;
        sum.bytesStored += r.bytesStored;
        sum.chunksNew += r.chunksNew;
        sum.chunksDuplicate += r.chunksDuplicate;
        sum.packs += r.packs;
        flushIndex();
        return events;
      } catch (err) {
        // Index what was completed before the failure so a rerun reuses it (best effort: the disk may be full).
        try {
          flushIndex();
        } catch {
          /* the packs stay unreferenced; the next run removes them */
        }
        if (isCancelled(err) || ctx.signal.aborted) throw cancelledError();
        const code = (err as { code?: string }).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') throw repoIoError(err, 'write packs to', packDir);
        throw err;
      }
    };

    const treeFile = tempPath(o.staging, 'tree');
    treeWriter = new TreeWriter(treeFile);
    const tw = treeWriter;
    const links = new Map<string, number>();
    const failedLinks = new Set<number>();

    const runBatch = async (b: Batch) => {
      if (o.beforePack && b.files.length) await o.beforePack(b.files);
      const events = b.files.length ? await pack(b.files, 'stage', index) : [];
      for (const p of b.recs) {
        const rec = p.rec;
        if (p.file !== undefined) {
          const f = rec as FileRecord;
          const ev = events[p.file];
          const size = b.files[p.file]!.size;
          if (size > 0) {
            if (!ev || ev.error) {
              const e = ev?.error;
              warn('FILE_UNREADABLE', `Skipped ${p.path}: ${e ? `${e.code} ${e.message}` : 'the pack job reported nothing for it'}`, { path: p.path, code: e?.code }, true);
              sum.filesFailed++;
              if (f.k !== undefined) failedLinks.add(f.k);
              continue;
            }
            const ids = ev.chunks;
            f.c = ev.lengths.map((len, i) => [ids.toString('hex', i * 32, i * 32 + 32), len]);
            const holes = ev.holes.filter(([, len]) => len > 0);
            if (holes.length) f.h = holes;
            const content = ev.lengths.reduce((a, x) => a + x, 0) + holes.reduce((a, [, len]) => a + len, 0);
            if (ev.changed || content !== f.s) {
              warn('FILE_CHANGED', `${p.path} changed while it was read; the snapshot holds what was read (${content} bytes)`, { path: p.path }, false);
              sum.filesChanged++;
              f.s = content;
            }
            sum.bytesRead += ev.size;
          }
          sum.files++;
          sum.bytes += f.s;
        } else if (rec.t === 'h') {
          if (failedLinks.has(rec.k)) {
            warn('FILE_UNREADABLE', `Skipped ${p.path}: it is a hard link to a file that could not be read`, { path: p.path }, true);
            continue;
          }
          sum.hardlinks++;
        }
        tw.write(rec);
      }
      bytesBefore += b.bytes + b.unchangedBytes;
      filesBefore += b.files.length + b.unchangedFiles;
      reporter.progress({ phase: 'stage', ...totals(bytesBefore, filesBefore) });
    };

    const batchFiles = o.batchFiles ?? DEFAULT_BATCH_FILES;
    const batchBytes = o.batchBytes ?? DEFAULT_BATCH_BYTES;
    let batch = newBatch();
    let running: Promise<void> = Promise.resolve();
    // Walk the next batch while the previous one is packed; a failure there surfaces at the next await.
    let runError: unknown;
    const submit = async () => {
      await running;
      if (runError) throw runError;
      const b = batch;
      batch = newBatch();
      running = runBatch(b).catch((err) => {
        runError = err;
      });
    };
    // The parent snapshot's tree, read in step with the walk (same order): unchanged files keep their chunks unread.
    const parent = o.readAll ? undefined : findParent(repo, o.sources);
    const cursor = parent ? new TreeCursor(readTree(parent.doc.tree, (id, raw) => repo.readChunk(index, id, raw), `snapshots/${parent.id}`)) : undefined;
    if (parent) reporter.info(`Files unchanged since snapshot ${parent.id.slice(0, 12)} (size, mtime, ctime, inode) keep its chunks unread; --read-all reads every file`, { parent: parent.id });
    // A file changed again within one timestamp tick of the change the parent saw can keep its ctime
    // (coarse file-system clocks), so files whose recorded ctime is not clearly older than the start
    // of the parent's run are read again (git's "racily clean" rule).
    const parentStartNs = parent ? BigInt(Date.parse(parent.doc.time) - parent.doc.summary.durationMs) * 1_000_000n - RACY_MARGIN_NS : 0n;
    /** The parent's record for this file when it is unchanged and all its chunks are indexed. */
    const unchanged = async (p: TreePath, st: fs.BigIntStats): Promise<FileRecord | undefined> => {
      const prev = await cursor!.file(p);
      if (!prev || prev.s !== Number(st.size) || prev.mt !== st.mtimeNs.toString() || prev.ct !== st.ctimeNs.toString() || prev.i !== st.ino.toString()) return undefined;
      if (st.ctimeNs >= parentStartNs) return undefined;
      return prev.c.every(([id]) => index.lookup(Buffer.from(id, 'hex')) !== undefined) ? prev : undefined;
    };
    // Where the walk is: the source's index, then the names of the directories below it.
    const walkPath: Array<number | string> = [];
    let steps = 0;
    for (const [srcIndex, src] of o.sources.entries()) {
      for (const ev of walkSource(src)) {
        if (++steps % 1000 === 0) {
          if (ctx.signal.aborted) throw cancelledError();
          if (runError) throw runError;
          await new Promise((r) => setImmediate(r));
        }
        const meta = (st: fs.BigIntStats, name: string) => ({ n: name, m: Number(st.mode), u: Number(st.uid), g: Number(st.gid), mt: st.mtimeNs.toString() });
        switch (ev.kind) {
          case 'problem':
            warn(ev.code, ev.message, { path: ev.path }, ev.partial);
            if (ev.code === 'FILE_UNREADABLE') sum.filesFailed++;
            break;
          case 'dir':
            sum.dirs++;
            walkPath.push(walkPath.length ? ev.name : srcIndex);
            batch.recs.push({ rec: { t: 'd', ...meta(ev.st, ev.name) } });
            break;
          case 'end':
            walkPath.pop();
            batch.recs.push({ rec: { t: 'e' } });
            break;
          case 'symlink':
            sum.symlinks++;
            batch.recs.push({ rec: { t: 'l', ...meta(ev.st, ev.name), tg: ev.target } });
            break;
          case 'file': {
            const size = Number(ev.st.size);
            let k: number | undefined;
            if (ev.st.nlink > 1n) {
              const key = `${ev.st.dev}:${ev.st.ino}`;
              const known = links.get(key);
              if (known !== undefined) {
                batch.recs.push({ rec: { t: 'h', n: ev.name, k: known }, path: ev.path });
                break;
              }
              k = links.size;
              links.set(key, k);
            }
            const rec: FileRecord = { t: 'f', ...meta(ev.st, ev.name), s: size, c: [] };
            if (k !== undefined) rec.k = k;
            rec.ct = ev.st.ctimeNs.toString();
            rec.i = ev.st.ino.toString();
            const prev = cursor && (await unchanged((walkPath.length ? [...walkPath, ev.name] : [srcIndex]) as TreePath, ev.st));
            if (prev) {
              rec.c = prev.c;
              if (prev.h) rec.h = prev.h;
              batch.recs.push({ rec });
              sum.files++;
              sum.bytes += size;
              sum.filesUnchanged!++;
              batch.unchangedFiles++;
              batch.unchangedBytes += size;
            } else {
              batch.recs.push({ rec, file: batch.files.length, path: ev.path });
              batch.files.push({ path: ev.path, size });
              batch.bytes += size;
            }
            // Records of unchanged files are bounded too: they wait in the batch until it is written.
            if (batch.files.length >= batchFiles || batch.bytes >= batchBytes || batch.recs.length >= 4 * batchFiles) await submit();
            break;
          }
        }
      }
    }
    await cursor?.close();
    await submit();
    await running;
    if (runError) throw runError;

    // The tree stream: packed like file data, so unchanged trees dedup against earlier snapshots.
    const treeSize = tw.close();
    treeWriter = undefined;
    const treeEvents = await pack([{ path: treeFile, size: treeSize }], 'tree', index);
    const tev = treeEvents[0];
    if (!tev || tev.error) {
      throw new DriveseedError('TREE_WRITE', `Could not pack the snapshot's tree stream ${treeFile}: ${tev?.error?.message ?? 'no result'}`, { category: 'FAILED', details: { path: treeFile } });
    }
    const treeChunks: Array<[string, number]> = tev.lengths.map((len, i) => [tev.chunks.toString('hex', i * 32, i * 32 + 32), len]);
    if (tev.holes.some(([, len]) => len > 0)) {
      // A tree stream is JSON text: it never holds 1 MiB of zeros; a hole means the job misread it.
      throw new DriveseedError('TREE_WRITE', `The pack job reported holes in the tree stream ${treeFile}`, { category: 'INTERNAL' });
    }
    fs.rmSync(treeFile, { force: true });

    sum.durationMs = Date.now() - t0;
    const snapshot = writeSnapshot(o.staging, repo.keys, {
      version: 1,
      time: new Date().toISOString(),
      host: os.hostname(),
      sources: o.sources,
      job: o.settings.job,
      tree: { chunks: treeChunks, size: treeSize },
      summary: sum,
    });
    reporter.event('snapshot', { id: snapshot, staging: o.staging, ...sum });
    return { snapshot, staging: o.staging, repository: repo.config.id, created: !exists, summary: sum, indexFiles, cleaned, partial, warnings };
  } finally {
    treeWriter?.abandon();
    repo.close();
    lock.release();
  }
}
