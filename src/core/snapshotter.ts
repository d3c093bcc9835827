/**
 * One snapshot run, shared by `stage` (into the staging directory) and `backup` (into the container):
 * walk the sources → keep the parent's chunks for unchanged files → pack the rest with the native
 * packJob in batches → pack the tree stream → write the snapshot. Write order (docs/format.md "Write
 * order", docs/cloud.md "Backup"): a batch's packs, then the index that lists them, before the next
 * batch; the tree stream the same way; the snapshot last.
 *
 * What differs between the two is a {@link SnapshotTarget}: where the packs go, how index files and
 * the snapshot are written, and the signal that stops the run (the command's, plus a lost lease).
 *
 * Memory: one batch of tree records being packed plus one being walked (≤ 4 × batchFiles records
 * each), the hard-link map (files with nlink > 1 only), the directory names on the current path, the
 * parent cursor (one record and the path depth) and the native job's fixed buffer pool. The tree
 * stream goes to a temp file, not to memory.
 *
 * Why one file: the write order above is the invariant that keeps a crashed run recoverable, and it
 * is checked most easily when the whole loop reads top to bottom in one place.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { PackDoneEvent, PackFileEvent, PackJobResult } from '../native/binding';
import { isCancelled } from '../native/errors';
import { packFiles } from '../native/pipeline';
import { tempPath } from '../repo/atomic';
import type { ChunkIndex } from '../repo/chunk-index';
import type { RepoConfig } from '../repo/config';
import type { RepoKeys } from '../repo/crypto';
import type { SnapshotDoc, SnapshotSummary } from '../repo/snapshot';
import { type FileRecord, type TreeRecord, TreeWriter, readTreeChunks } from '../repo/tree';
import { chunkIdsIfSameLine } from '../repo/tree-line';
import { type ParentFile, TreeCursor } from '../repo/tree-cursor';
import { type WalkStat, walkSource } from '../repo/walker';
import { DriveseedError } from '../base/errors';
import { RateMeter, type Reporter } from '../base/reporter';

/**
 * A batch is one packJob call followed by its index file. 10k files / 1 GiB: the native job keeps
 * ~150 B per pending file and ~80 B per new chunk id (format-packs.md), so a batch stays in the low
 * MiB; and an interrupted run loses at most one batch of work, since every finished batch is indexed.
 */
const DEFAULT_BATCH_FILES = 10_000;
const DEFAULT_BATCH_BYTES = 1024 ** 3;
/**
 * The racy-clean window: a file whose ctime is not at least this much older than the start of the
 * parent's run is read again, because a second change within one file-system timestamp tick can
 * leave its ctime unchanged (git's "racily clean" rule). 100 ms is well above a timestamp tick
 * (jiffies: 4–10 ms on Linux; NTFS 100 ns).
 */
const RACY_MARGIN_NS = 100_000_000n;

/** Reports a warning; `partial` marks the run PARTIAL (exit 3). */
export type Warn = (code: string, message: string, details: Record<string, unknown>, partial: boolean) => void;

/** Reports warnings through a reporter and counts them for the command's result. */
export class Warnings {
  count = 0;
  /** set once a warning marked the run PARTIAL */
  partial = false;
  constructor(private readonly reporter: Reporter) {}
  readonly warn: Warn = (code, message, details, partial) => {
    this.count++;
    if (partial) this.partial = true;
    this.reporter.warning(code, message, details);
  };
}

/** The packs of one packJob call, as the target receives them. */
export interface PackBatch {
  /** A pack the job has made durable in `packDir` (JS thread, in job order). */
  onPack(ev: PackDoneEvent): void;
  /**
   * Called once the job has ended. `failure` is its error (CANCELLED or a lost lease already put as
   * `stopped()`), undefined on success. On success the target writes the index that lists the
   * batch's packs; on failure it may throw an error that explains the failure better (a failed
   * upload, STAGING_FULL); otherwise the run throws `failure`.
   */
  finish(failure: unknown): Promise<void>;
}

/** Where a run's packs, index files and snapshot go: the staging directory or the container. */
export interface SnapshotTarget {
  /** the local directory the native job writes packs into */
  packDir: string;
  /** the local directory for the tree stream's temp file */
  tempDir: string;
  /** Starts the packs of one packJob call; `abortJob` stops that job (a failed upload). */
  openBatch(abortJob: (reason: unknown) => void): PackBatch;
  /** Writes the snapshot (last) and returns its id. */
  writeSnapshot(doc: SnapshotDoc): string | Promise<string>;
  /** aborted when the run must stop: the command's signal, and for backup a lost lease */
  signal: AbortSignal;
  /** the error a stopped run throws (CANCELLED, or LEASE_LOST) */
  stopped(): Error;
}

/** The parent snapshot: unchanged files keep its chunk lists unread. */
export interface ParentSnapshot {
  id: string;
  doc: SnapshotDoc;
  /** a tree chunk's verified plaintext */
  readChunk(id: string, rawLength: number): Buffer | Promise<Buffer>;
  /**
   * When its tree stream cannot be read: 'fail' the run (stage: a local tree that does not read is
   * damage), or warn PARENT_UNREADABLE and read every file (backup: the tree comes over the network).
   */
  onUnreadable: 'fail' | 'read-all';
}

/** The options of a snapshot run that stage and backup take alike. */
export interface SnapshotOptions {
  /** absolute, existing source paths with distinct basenames (checkStagePaths); entry i of the tree's root is basename(sources[i]) */
  sources: string[];
  /** zstd level 1..19 */
  level: number;
  /** compression/encryption threads */
  threads: number;
  /** files per packJob call; default 10,000 (bounds the records held in memory) */
  batchFiles?: number;
  /**
   * source bytes per packJob call; default 1 GiB (bounds the work lost to an interruption, and for
   * backup the local disk held by packs waiting for upload)
   */
  batchBytes?: number;
}

/** What the command has set up for the run. */
export interface SnapshotRun {
  job?: string;
  /** progress phase while files are packed ('stage', 'backup'); the tree stream is phase 'tree' */
  phase: string;
  /** Date.now() at the start of the command (the snapshot's durationMs) */
  startedAt: number;
  repo: { config: RepoConfig; keys: RepoKeys };
  /** every indexed chunk; the target adds its index files to it as they are written */
  index: ChunkIndex;
  /** totals from {@link countSources}, for progress and ETA; absent without a scan */
  totals?: { files: number; bytes: number };
  parent?: ParentSnapshot;
  /** Called on the JS thread after a batch was walked and before its files are read (tests). */
  beforePack?: (files: ReadonlyArray<{ path: string; size: number }>) => void | Promise<void>;
  reporter: Reporter;
  warn: Warn;
  target: SnapshotTarget;
}

interface Pending {
  rec: TreeRecord;
  /**
   * The record's JSON line when it is known already (an unchanged file's line in the parent tree).
   * It is what is written; rec's chunk list may then be left empty (the line has it).
   */
  text?: string;
  /** index into the batch's files for a regular file to read */
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
const yieldToLoop = () => new Promise((r) => setImmediate(r));

/** The parent snapshot: the latest (last) of `snapshots` with exactly these sources, in this order. */
export function latestWithSources<T extends { doc: SnapshotDoc }>(snapshots: T[], sources: string[]): T | undefined {
  const key = JSON.stringify(sources);
  return snapshots.filter((s) => JSON.stringify(s.doc.sources) === key).pop();
}

/**
 * Counts files and bytes for the ETA: an lstat-only walk (the OS caches what the real walk reads
 * again; about 10% of a run over 1M small files). Stops early, with what it counted, once `stopEarly`
 * says so (stage: the repository failed to open).
 */
export async function countSources(
  sources: string[],
  o: { signal: AbortSignal; stopped: () => Error; reporter: Reporter; stopEarly?: () => boolean },
): Promise<{ files: number; bytes: number; complete: boolean }> {
  let files = 0;
  let bytes = 0;
  let n = 0;
  for (const src of sources) {
    for (const ev of walkSource(src)) {
      if (ev.kind === 'wait') {
        await ev.promise;
        if (o.stopEarly?.()) return { files, bytes, complete: false };
        continue;
      }
      if (ev.kind === 'file') {
        files++;
        bytes += Number(ev.st.size);
      }
      if (++n % 2000 === 0) {
        if (o.signal.aborted) throw o.stopped();
        o.reporter.progress({ phase: 'scan', bytesDone: bytes, itemsDone: files, current: ev.path });
        await yieldToLoop();
        if (o.stopEarly?.()) return { files, bytes, complete: false };
      }
    }
  }
  return { files, bytes, complete: true };
}

/**
 * Totals for progress and ETA: the count when it walked the whole tree; when it stopped early (a
 * repeat run stops counting once the key is derived), the parent snapshot's files and bytes, an
 * estimate that is exact for an unchanged tree; else none (progress without totals or ETA).
 */
export function progressTotals(
  counted: { files: number; bytes: number; complete: boolean } | undefined,
  parent: { doc: { summary: { files: number; bytes: number } } } | undefined,
): { files: number; bytes: number } | undefined {
  if (!counted) return undefined;
  if (counted.complete) return { files: counted.files, bytes: counted.bytes };
  return parent ? { files: parent.doc.summary.files, bytes: parent.doc.summary.bytes } : undefined;
}

const emptySummary = (): SnapshotSummary => ({
  files: 0,
  dirs: 0,
  symlinks: 0,
  hardlinks: 0,
  bytes: 0,
  bytesRead: 0,
  bytesNew: 0,
  bytesStored: 0,
  chunksNew: 0,
  chunksDuplicate: 0,
  packs: 0,
  filesFailed: 0,
  filesChanged: 0,
  filesUnchanged: 0,
  durationMs: 0,
});

const chunkList = (ev: PackFileEvent): Array<[string, number]> => ev.lengths.map((len, i) => [ev.chunks.toString('hex', i * 32, i * 32 + 32), len]);

/** Runs one snapshot into `run.target` and returns the snapshot's id and summary. Reports through run.reporter; never prints. */
export async function takeSnapshot(o: SnapshotOptions, run: SnapshotRun): Promise<{ snapshot: string; summary: SnapshotSummary }> {
  const { reporter, warn, target, index } = run;
  const cfg = run.repo.config;
  const keys = run.repo.keys.blobKeys();
  const { signal } = target;
  const sum = emptySummary();
  const meter = new RateMeter();
  let bytesBefore = 0;
  let filesBefore = 0;
  /** Totals and ETA for a progress report, when the scan ran. */
  const totals = (bytesDone: number, itemsDone: number) => {
    const t = run.totals;
    const { rate, etaSeconds } = meter.sample(bytesDone, t?.bytes);
    return {
      bytesDone,
      itemsDone,
      rate,
      ...(t ? { bytesTotal: Math.max(t.bytes, bytesDone), itemsTotal: Math.max(t.files, itemsDone) } : {}),
      ...(etaSeconds !== undefined ? { etaSeconds } : {}),
    };
  };

  /** One packJob over `files`; the target indexes its packs. Returns the file events by index. */
  const pack = async (files: Array<{ path: string; size: number }>, phase: string): Promise<Array<PackFileEvent | undefined>> => {
    const events: Array<PackFileEvent | undefined> = new Array(files.length);
    const jobCtl = new AbortController();
    const batch = target.openBatch((reason) => jobCtl.abort(reason));
    let result: PackJobResult | undefined;
    let failure: unknown;
    try {
      result = await packFiles(
        {
          files,
          packDir: target.packDir,
          chunker: cfg.chunker,
          level: o.level,
          threads: o.threads,
          keys,
          known: index.knownBuffer(),
          packSize: cfg.packSize,
          blockSize: cfg.blockSize,
        },
        {
          signal: AbortSignal.any([signal, jobCtl.signal]),
          onProgress: (p, evs) => {
            for (const ev of evs) {
              if (ev.type === 'file') events[ev.index] = ev;
              else batch.onPack(ev);
            }
            reporter.progress({ phase, ...totals(bytesBefore + p.bytesDone, filesBefore + p.itemsDone) });
          },
        },
      );
    } catch (err) {
      failure = isCancelled(err) || signal.aborted ? target.stopped() : err;
    }
    await batch.finish(failure);
    if (failure) throw failure;
    sum.bytesNew += result!.bytesNew;
    sum.bytesStored += result!.bytesStored;
    sum.chunksNew += result!.chunksNew;
    sum.chunksDuplicate += result!.chunksDuplicate;
    sum.packs += result!.packs;
    return events;
  };

  const treeFile = tempPath(target.tempDir, 'tree');
  let treeWriter: TreeWriter | undefined = new TreeWriter(treeFile);
  try {
    const tw = treeWriter;
    const links = new Map<string, number>();
    const failedLinks = new Set<number>();

    /** Packs a batch's files, completes its records from the file events and appends them to the tree stream. */
    const runBatch = async (b: Batch) => {
      if (run.beforePack && b.files.length) await run.beforePack(b.files);
      const events = b.files.length ? await pack(b.files, run.phase) : [];
      for (const p of b.recs) {
        const rec = p.rec;
        if (p.file !== undefined) {
          const f = rec as FileRecord;
          const ev = events[p.file];
          if (b.files[p.file]!.size > 0) {
            if (ev?.error?.code === 'ENOENT') {
              // Deleted after the walk saw it (as a file deleted before the walk's lstat, not a failure).
              warn('FILE_VANISHED', `${p.path} disappeared before it was read; skipped`, { path: p.path }, false);
              if (f.k !== undefined) failedLinks.add(f.k);
              continue;
            }
            if (!ev || ev.error) {
              const e = ev?.error;
              warn(
                'FILE_UNREADABLE',
                `Skipped ${p.path}: ${e ? `${e.code} ${e.message}` : 'the pack job reported nothing for it'}`,
                { path: p.path, code: e?.code },
                true,
              );
              sum.filesFailed++;
              if (f.k !== undefined) failedLinks.add(f.k);
              continue;
            }
            f.c = chunkList(ev);
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
        tw.write(rec, p.text);
      }
      bytesBefore += b.bytes + b.unchangedBytes;
      filesBefore += b.files.length + b.unchangedFiles;
      reporter.progress({ phase: run.phase, ...totals(bytesBefore, filesBefore) });
    };

    const batchFiles = o.batchFiles ?? DEFAULT_BATCH_FILES;
    const batchBytes = o.batchBytes ?? DEFAULT_BATCH_BYTES;
    let batch = newBatch();
    let running: Promise<void> = Promise.resolve();
    // Walk the next batch while the previous one is packed; a failure there surfaces at the next await.
    let runError: unknown;
    let inFlight = 0; // batches submitted whose records are not all written yet
    const submit = async () => {
      await running;
      if (runError) throw runError;
      const b = batch;
      batch = newBatch();
      inFlight++;
      running = runBatch(b)
        .catch((err) => {
          runError = err;
        })
        .finally(() => {
          inFlight--;
        });
    };
    // A record that needs nothing read, when no record before it waits (no batch in flight, none
    // queued), goes straight to the tree stream: an unchanged re-stage then keeps no records in
    // memory, which would otherwise outlive the young-generation GC in batches of 40 000.
    let directSinceProgress = 0;
    const add = (p: Pending, unchangedBytes?: number) => {
      if (inFlight > 0 || batch.recs.length > 0) {
        batch.recs.push(p);
        if (unchangedBytes !== undefined) {
          batch.unchangedFiles++;
          batch.unchangedBytes += unchangedBytes;
        }
        return;
      }
      tw.write(p.rec, p.text);
      if (unchangedBytes === undefined) return;
      bytesBefore += unchangedBytes;
      filesBefore++;
      if (++directSinceProgress >= 4096) {
        directSinceProgress = 0;
        reporter.progress({ phase: run.phase, ...totals(bytesBefore, filesBefore) });
      }
    };

    // The parent snapshot's tree, read in step with the walk (same order): unchanged files keep their chunks unread.
    const parent = run.parent;
    let cursor = parent ? new TreeCursor(readTreeChunks(parent.doc.tree, (id, raw) => parent.readChunk(id, raw), `snapshots/${parent.id}`)) : undefined;
    const parentStartNs = parent ? BigInt(Date.parse(parent.doc.time) - parent.doc.summary.durationMs) * 1_000_000n - RACY_MARGIN_NS : 0n;
    /** After the parent's tree failed to read: stop (onUnreadable 'fail') or warn and read every file from here on. */
    const parentFailed = (err: unknown): undefined => {
      if (parent!.onUnreadable === 'fail') throw err;
      if (signal.aborted) throw target.stopped();
      warn(
        'PARENT_UNREADABLE',
        `Snapshot ${parent!.id} cannot be read as the parent (${(err as Error).message}); every file is read instead`,
        { parent: parent!.id },
        false,
      );
      cursor = undefined;
      return undefined;
    };
    /** The parent's record at prefix ‖ last; without a promise while the cursor has it read (most files). */
    const parentFile = (prefix: readonly (number | string)[], last: number | string): ParentFile | undefined | Promise<ParentFile | undefined> => {
      try {
        const r = cursor!.file(prefix, last);
        return r instanceof Promise ? r.catch(parentFailed) : r;
      } catch (err) {
        return parentFailed(err);
      }
    };
    /** Whether the parent's record stands for `rec` unread: same size, mtime, ctime and inode, not racily clean, every chunk indexed. */
    const unchanged = (prev: FileRecord, rec: FileRecord, st: WalkStat): boolean =>
      prev.s === rec.s &&
      prev.mt === rec.mt &&
      prev.ct === rec.ct &&
      prev.i === rec.i &&
      st.ctimeNs < parentStartNs &&
      prev.c.every(([id]) => index.hasHex(id));
    /**
     * Whether `rec`, given the unchanged parent record `prev`'s chunks and holes, is exactly `prev`, so
     * that the parent's stored line can be written instead of a new one: same name, mode and owner, no
     * hard-link key on either, and no field beyond those this writer gives (10, or 11 with holes).
     */
    const sameRecord = (prev: FileRecord, rec: FileRecord): boolean =>
      prev.n === rec.n &&
      prev.m === rec.m &&
      prev.u === rec.u &&
      prev.g === rec.g &&
      prev.k === undefined &&
      rec.k === undefined &&
      Object.keys(prev).length === (prev.h ? 11 : 10);
    const meta = (st: WalkStat, name: string) => ({ n: name, m: Number(st.mode), u: Number(st.uid), g: Number(st.gid), mt: st.mtimeNs.toString() });
    // Where the walk is: the source's index, then the names of the directories below it.
    const walkPath: Array<number | string> = [];
    let steps = 0;
    for (const [srcIndex, src] of o.sources.entries()) {
      for (const ev of walkSource(src)) {
        if (++steps % 1000 === 0) {
          if (signal.aborted) throw target.stopped();
          if (runError) throw runError;
          await yieldToLoop();
        }
        switch (ev.kind) {
          case 'wait':
            await ev.promise;
            break;
          case 'problem':
            warn(ev.code, ev.message, { path: ev.path }, ev.partial);
            if (ev.code === 'FILE_UNREADABLE') sum.filesFailed++;
            break;
          case 'dir':
            sum.dirs++;
            walkPath.push(walkPath.length ? ev.name : srcIndex);
            add({ rec: { t: 'd', ...meta(ev.st, ev.name) } });
            break;
          case 'end':
            walkPath.pop();
            add({ rec: { t: 'e' } });
            break;
          case 'symlink':
            sum.symlinks++;
            add({ rec: { t: 'l', ...meta(ev.st, ev.name), tg: ev.target } });
            break;
          case 'file': {
            const size = Number(ev.st.size);
            let k: number | undefined;
            if (ev.st.nlink > 1n) {
              const key = `${ev.st.dev}:${ev.st.ino}`;
              const seen = links.get(key);
              if (seen !== undefined) {
                batch.recs.push({ rec: { t: 'h', n: ev.name, k: seen }, path: ev.path });
                break;
              }
              k = links.size;
              links.set(key, k);
            }
            const rec: FileRecord = { t: 'f', ...meta(ev.st, ev.name), s: size, c: [] };
            if (k !== undefined) rec.k = k;
            rec.ct = ev.st.ctimeNs.toString();
            rec.i = ev.st.ino.toString();
            let hit = cursor && (walkPath.length ? parentFile(walkPath, ev.name) : parentFile([], srcIndex));
            if (hit instanceof Promise) hit = await hit;
            // Most unchanged files: the parent's line is this record's line with its chunk list, unparsed.
            const sameLine =
              hit !== undefined &&
              k === undefined &&
              ev.st.ctimeNs < parentStartNs &&
              (chunkIdsIfSameLine(hit.text, rec)?.every((id) => index.hasHex(id)) ?? false);
            let prev: FileRecord | undefined;
            if (hit && !sameLine) {
              try {
                const parsed = hit.record();
                if (unchanged(parsed, rec, ev.st)) prev = parsed;
              } catch (err) {
                parentFailed(err); // a malformed parent line: as a parent tree that cannot be read
              }
            }
            if (sameLine || prev) {
              if (prev) {
                rec.c = prev.c;
                if (prev.h) rec.h = prev.h;
              }
              sum.files++;
              sum.bytes += size;
              sum.filesUnchanged!++;
              // A hard-linked file's record waits in the batch like any other: its links' records follow it.
              if (k === undefined) add(sameLine || sameRecord(prev!, rec) ? { rec, text: hit!.text } : { rec }, size);
              else {
                batch.recs.push({ rec });
                batch.unchangedFiles++;
                batch.unchangedBytes += size;
              }
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
    const tev = (await pack([{ path: treeFile, size: treeSize }], 'tree'))[0];
    if (!tev || tev.error) {
      throw new DriveseedError('TREE_WRITE', `Could not pack the snapshot's tree stream ${treeFile}: ${tev?.error?.message ?? 'no result'}`, {
        category: 'FAILED',
        details: { path: treeFile },
      });
    }
    if (tev.holes.some(([, len]) => len > 0)) {
      // A tree stream is JSON text: it never holds 1 MiB of zeros; a hole means the job misread it.
      throw new DriveseedError('TREE_HOLES', `The pack job reported holes in the tree stream ${treeFile}`, { category: 'INTERNAL' });
    }
    fs.rmSync(treeFile, { force: true });

    sum.durationMs = Date.now() - run.startedAt;
    const snapshot = await target.writeSnapshot({
      version: 1,
      time: new Date().toISOString(),
      host: os.hostname(),
      sources: o.sources,
      ...(run.job ? { job: run.job } : {}),
      tree: { chunks: chunkList(tev), size: treeSize },
      summary: sum,
    });
    return { snapshot, summary: sum };
  } finally {
    treeWriter?.abandon();
  }
}
