/**
 * `driveseed backup`: an incremental backup over the network into the seeded repository in the
 * Azure container (docs/cloud.md). It stores only chunks the repository does not hold yet.
 *
 * Flow: refuse unless the seed is complete → open the repository in the container (config, keys)
 * → take the repository lock (blob lease) → sync the local index cache and load the index (the
 * `known` chunk ids) → finish what an interrupted run left (the journal, below) → walk the sources
 * and pack them with the native packJob into a local work directory, uploading each pack as soon as
 * the job reports it → after each batch, once its packs are committed, write its index → pack the
 * tree stream the same way → write the snapshot. Write order: packs, then the index that lists them,
 * then the snapshot; the lease is checked right before each index and the snapshot, so a run that
 * lost its lock stops before anything refers to its packs.
 *
 * Resume (kill -9, network loss, lost lease): every pack the job reports is recorded in
 * `<staging>/.cache/backup/journal.jsonl` (fsync'd, with its index entry) before its upload starts,
 * and marked committed after. The next run first re-uploads journaled packs whose local file is still
 * there (putFile skips committed blobs and reuses staged blocks), checks the others exist in the
 * container, and writes one index for them all: no committed pack is uploaded again, and their
 * chunks count as known for the new run.
 *
 * Memory: the chunk index (~56 B per chunk), one batch of tree records, the upload cap (the
 * backend's blocks in flight × 4 MiB, default 32 MiB) and the native job's buffers. Local disk: the
 * packs of one batch not yet uploaded (≤ batchBytes of new data, default 1 GiB).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerBackend } from '../cloud/container-backend';
import { type CloudLocation, containerClientFor, describeLocation } from '../cloud/client';
import { indexCacheDir } from '../cloud/index-cache';
import { acquireLeaseLock } from '../cloud/lease-lock';
import { readChunkCached, treeBlobCacheDir } from '../cloud/tree-blob-cache';
import { CloudRepository } from '../cloud/repository';
import { requireSeedComplete, resolveCloudLocation } from '../cloud/settings';
import type { PackDoneEvent, PackFileEvent, PackJobResult } from '../native/binding';
import { isCancelled } from '../native/errors';
import { loadBinding } from '../native/load';
import { runJob } from '../native/run-job';
import { tempPath } from '../repo/atomic';
import type { ChunkIndex } from '../repo/chunk-index';
import { repoIoError } from '../repo/errors';
import { type IndexPack, packFromEvent } from '../repo/index-file';
import type { SnapshotSummary } from '../repo/snapshot';
import { type FileRecord, type TreeRecord, TreeWriter, readTree } from '../repo/tree';
import { TreeCursor, type TreePath } from '../repo/tree-cursor';
import { walkSource } from '../repo/walker';
import type { CommandContext } from './command';
import { DriveseedError, cancelledError, usageError } from './errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { RateMeter } from './reporter';
import { readSettings } from './settings';
import { checkStagePaths } from './stage';

export interface BackupOptions {
  /** absolute, existing source paths with distinct basenames */
  sources: string[];
  /** absolute staging location: its settings say where the cloud repository is; it holds the index cache and the work directory */
  staging: string;
  passphrase: PassphraseSource;
  /** break a repository lock held by someone else (after a warning naming the holder) */
  forceUnlock: boolean;
  /** zstd level 1..19 */
  level: number;
  /** compression/encryption threads */
  threads: number;
  /** where the repository is, instead of the saved settings (tests, and `--container` overrides) */
  location?: CloudLocation;
  /** upload blocks in flight (the upload memory cap is this × 4 MiB); default 8 */
  maxBlocksInFlight?: number;
  /** files per packJob call; default 10,000 */
  batchFiles?: number;
  /** source bytes per packJob call; default 1 GiB (bounds local disk used by packs waiting for upload) */
  batchBytes?: number;
  /** lease timings (tests shorten the renewal interval) */
  lease?: { leaseSeconds?: number; renewEveryMs?: number };
}

export interface BackupResult {
  snapshot: string;
  /** `<endpoint>/<container>` */
  location: string;
  summary: SnapshotSummary;
  upload: {
    /** packs uploaded by this run (including resumed ones) */
    packs: number;
    /** packs found already committed (resume) */
    packsSkipped: number;
    /** blocks found staged by an interrupted upload and not sent again */
    blocksReused: number;
    /** payload bytes sent (packs, index files and the snapshot) */
    bytesSent: number;
    indexFiles: string[];
    /** journaled packs of an interrupted run that this run indexed */
    resumedPacks: number;
  };
  index: { files: number; fetched: number; fetchedBytes: number; reused: number; chunks: number };
  /** the snapshot whose unchanged files (same size and mtime) were not read again; absent when none matched the sources and host */
  parent?: { snapshot: string; filesReused: number };
  partial: boolean;
  warnings: number;
}

const DEFAULT_BATCH_FILES = 10_000;
const DEFAULT_BATCH_BYTES = 1024 ** 3;
/** The racy-clean margin, the same as stage's (src/core/stage.ts): 100 ms covers coarse file-system clocks. */
const RACY_MARGIN_NS = 100_000_000n;

/** The backup work directory inside the staging location. */
export function backupWorkDir(staging: string): string {
  return path.join(staging, '.cache', 'backup');
}

type JournalLine = { p: IndexPack; f: string } | { c: string };

/** The pack journal (see the file comment). Appends are fsync'd: a line written is a line kept. */
class PackJournal {
  private fd: number | undefined;
  constructor(readonly file: string) {}

  read(): Array<{ pack: IndexPack; file: string; committed: boolean }> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw repoIoError(err, 'read', this.file);
    }
    const byName = new Map<string, { pack: IndexPack; file: string; committed: boolean }>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      let j: JournalLine;
      try {
        j = JSON.parse(line) as JournalLine;
      } catch {
        continue; // the torn last line of a killed run
      }
      if ('p' in j) byName.set(j.p.name, { pack: j.p, file: j.f, committed: false });
      else if (byName.has(j.c)) byName.get(j.c)!.committed = true;
    }
    return [...byName.values()];
  }

  append(line: JournalLine): void {
    try {
      this.fd ??= fs.openSync(this.file, 'a', 0o600);
      fs.writeSync(this.fd, JSON.stringify(line) + '\n');
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw repoIoError(err, 'write', this.file);
    }
  }

  /** Empties the journal: called only once an index lists every pack it names. */
  clear(): void {
    this.close();
    fs.rmSync(this.file, { force: true });
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

interface Pending {
  rec: TreeRecord;
  file?: number;
  path?: string;
  /** a file whose chunk list was taken from the parent snapshot (not read) */
  reused?: boolean;
}

/** Runs a backup. Reports through ctx.reporter; never prints. */
export async function backup(o: BackupOptions, ctx: CommandContext): Promise<BackupResult> {
  const t0 = Date.now();
  const { reporter } = ctx;
  checkStagePaths(o.sources, o.staging);
  const settings = readSettings(o.staging);
  if (!settings && !o.location) {
    throw usageError('SETTINGS_MISSING', `${o.staging} holds no driveseed settings; give the --staging location that was used for \`driveseed stage\` and the import.`, { field: 'staging' });
  }
  if (settings && !o.location) requireSeedComplete(settings, o.staging, 'backup');
  const location = o.location ?? (await resolveCloudLocation(settings!, o.staging, ctx.env));
  const client = containerClientFor(location);
  const where = describeLocation(location);
  const backend = new ContainerBackend(client, where, {
    maxBlocksInFlight: o.maxBlocksInFlight ?? 8,
    retry: { onRetry: ({ attempt, error }) => reporter.warning('CLOUD_RETRY', `Retrying a request to ${where} (attempt ${attempt + 1}): ${(error as Error)?.message?.split('\n')[0] ?? error}`, { attempt }) },
  });

  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const repo = await CloudRepository.open(backend, passphrase, ctx.signal);
  const lock = await acquireLeaseLock(client, { operation: 'backup', forceUnlock: o.forceUnlock, reporter, description: where, ...o.lease });
  const signal = AbortSignal.any([ctx.signal, lock.signal]);
  const stopped = (): Error => (lock.signal.aborted ? (lock.signal.reason as Error) : cancelledError());
  let warnings = 0;
  let partial = false;
  const warn = (code: string, message: string, details: Record<string, unknown>, isPartial: boolean) => {
    warnings++;
    if (isPartial) partial = true;
    reporter.warning(code, message, details);
  };

  const work = backupWorkDir(o.staging);
  const packDir = path.join(work, 'packs');
  const cacheDir = indexCacheDir(o.staging);
  let treeWriter: TreeWriter | undefined;
  const journal = new PackJournal(path.join(work, 'journal.jsonl'));
  try {
    fs.mkdirSync(packDir, { recursive: true });
    reporter.info(`Loading the index of ${where}`);
    const { index, docs, sync } = await repo.loadIndex(cacheDir, signal);
    reporter.info(`Index: ${docs} files, ${index.size} chunks (${sync.fetched} downloaded, ${sync.reused} from the local cache)`, { ...sync, ids: undefined });

    const upload = { packs: 0, packsSkipped: 0, blocksReused: 0, bytesSent: 0, indexFiles: [] as string[], resumedPacks: 0 };
    const writeIndex = async (packs: IndexPack[]) => {
      if (!packs.length) return;
      await lock.assertHeld();
      const id = await repo.writeIndex(packs, cacheDir, signal);
      upload.indexFiles.push(id);
      index.addIndex({ version: 1, created: '', packs });
    };

    // 1. What an interrupted run left: journaled packs → committed → one index.
    const known = new Set(index.packs.map((p) => p.name));
    const leftover = journal.read().filter((j) => !known.has(j.pack.name));
    if (leftover.length) {
      const recovered: IndexPack[] = [];
      for (const j of leftover) {
        const local = fs.existsSync(j.file) && fs.statSync(j.file).size === j.pack.size;
        if (local) {
          const r = await backend.putFile(j.pack.path, j.file, { blockMd5: Buffer.from(j.pack.blockMd5.join(''), 'hex'), signal });
          upload.blocksReused += r.blocksReused;
          if (r.skipped) upload.packsSkipped++;
          else upload.packs++;
          recovered.push(j.pack);
        } else if ((await backend.stat(j.pack.path, signal))?.size === j.pack.size) {
          upload.packsSkipped++;
          recovered.push(j.pack);
        }
      }
      await writeIndex(recovered);
      upload.resumedPacks = recovered.length;
      reporter.info(`Resumed an interrupted backup: indexed ${recovered.length} packs it had uploaded or left locally`, { packs: recovered.length });
    }
    journal.clear();
    fs.rmSync(packDir, { recursive: true, force: true });
    fs.mkdirSync(packDir, { recursive: true });

    // 2. The parent: the newest snapshot of exactly these sources (the same rule as stage). A file whose
    // size, mtime, ctime and inode equal its record there keeps that record's chunks unread, unless its
    // ctime is not clearly older than the start of the parent's run (git's "racily clean" rule: a change
    // within one coarse clock tick of the one the parent saw can keep its ctime).
    const key = JSON.stringify(o.sources);
    const parentSnap = (await repo.listSnapshots(signal)).filter((s) => JSON.stringify(s.doc.sources) === key).pop();
    const parentId = parentSnap?.id;
    let cursor: TreeCursor | undefined;
    let parentStartNs = 0n;
    if (parentSnap) {
      const treeCache = treeBlobCacheDir(o.staging);
      cursor = new TreeCursor(readTree(parentSnap.doc.tree, (id, raw) => readChunkCached(repo, index, treeCache, id, raw, signal), `snapshots/${parentSnap.id}`));
      parentStartNs = BigInt(Date.parse(parentSnap.doc.time) - parentSnap.doc.summary.durationMs) * 1_000_000n - RACY_MARGIN_NS;
      reporter.info(`Files unchanged since snapshot ${parentSnap.id.slice(0, 12)} (size, mtime, ctime, inode) are not read again`, { parent: parentSnap.id });
    }

    // 3. Scan for totals (progress, ETA).
    let totalFiles = 0;
    let totalBytes = 0;
    let steps = 0;
    for (const src of o.sources) {
      for (const ev of walkSource(src)) {
        if (ev.kind === 'file') {
          totalFiles++;
          totalBytes += Number(ev.st.size);
        }
        if (++steps % 2000 === 0) {
          if (signal.aborted) throw stopped();
          reporter.progress({ phase: 'scan', bytesDone: totalBytes, itemsDone: totalFiles, current: ev.path });
          await new Promise((r) => setImmediate(r));
        }
      }
    }

    const binding = loadBinding();
    const cfg = repo.config;
    const keys = repo.keys.blobKeys();
    const sum: SnapshotSummary = {
      files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, bytesRead: 0, bytesNew: 0, bytesStored: 0,
      chunksNew: 0, chunksDuplicate: 0, packs: 0, filesFailed: 0, filesChanged: 0, filesUnchanged: 0, durationMs: 0,
    };
    const meter = new RateMeter();
    // Upload progress (phase "upload"): bytes sent against bytes of packs reported so far, at most 5 a second.
    const sendMeter = new RateMeter();
    const sent = { bytes: 0, of: 0, packs: 0, at: 0 };
    const uploadProgress = (n: number) => {
      sent.bytes += n;
      const now = Date.now();
      if (now - sent.at < 200) return;
      sent.at = now;
      reporter.progress({ phase: 'upload', bytesDone: sent.bytes, bytesTotal: Math.max(sent.of, sent.bytes), itemsDone: sent.packs, rate: sendMeter.sample(sent.bytes).rate });
    };
    let bytesBefore = 0;
    let filesBefore = 0;

    /** One packJob; each pack is journaled and uploaded as soon as it is reported; its index is written once all are committed. */
    const pack = async (files: Array<{ path: string; size: number }>, phase: string, idx: ChunkIndex): Promise<Array<PackFileEvent | undefined>> => {
      const events: Array<PackFileEvent | undefined> = new Array(files.length);
      const committed: IndexPack[] = [];
      const uploads = new Set<Promise<void>>();
      const jobCtl = new AbortController();
      let uploadError: unknown;
      const startUpload = (ev: PackDoneEvent) => {
        const ip = packFromEvent(ev, cfg.blockSize);
        journal.append({ p: ip, f: ev.path });
        sent.of += ev.size;
        const u = backend
          .putFile(ip.path, ev.path, { blockMd5: ev.blockMd5, signal, onProgress: uploadProgress })
          .then((r) => {
            sent.packs++;
            sent.of -= r.size - r.bytesSent; // blocks not sent (already there) are not waited for
            upload.blocksReused += r.blocksReused;
            if (r.skipped) upload.packsSkipped++;
            else upload.packs++;
            journal.append({ c: ip.name });
            committed.push(ip);
            fs.rmSync(ev.path, { force: true });
          })
          .catch((err) => {
            uploadError ??= err;
            jobCtl.abort(err);
          })
          .finally(() => uploads.delete(u));
        uploads.add(u);
      };
      let result: PackJobResult | undefined;
      let jobError: unknown;
      try {
        result = await runJob<PackFileEvent | PackDoneEvent, PackJobResult>(
          (cb, token) =>
            binding.packJob(
              { files, packDir, chunker: cfg.chunker, level: o.level, threads: o.threads, keys, known: idx.knownBuffer(), packSize: cfg.packSize, blockSize: cfg.blockSize },
              cb,
              token,
            ),
          {
            signal: AbortSignal.any([signal, jobCtl.signal]),
            onProgress: (p, evs) => {
              for (const ev of evs) {
                if (ev.type === 'file') events[ev.index] = ev;
                else startUpload(ev);
              }
              const done = bytesBefore + p.bytesDone;
              const { rate, etaSeconds } = meter.sample(done, totalBytes);
              reporter.progress({
                phase,
                bytesDone: done,
                bytesTotal: Math.max(totalBytes, done),
                itemsDone: filesBefore + p.itemsDone,
                itemsTotal: totalFiles,
                rate,
                ...(etaSeconds !== undefined ? { etaSeconds } : {}),
              });
            },
          },
        );
      } catch (err) {
        jobError = err;
      }
      while (uploads.size) await Promise.all([...uploads]);
      if (signal.aborted) throw stopped();
      if (uploadError) throw uploadError;
      if (jobError) {
        if (isCancelled(jobError)) throw cancelledError();
        throw jobError;
      }
      sum.bytesNew += result!.bytesNew;
      sum.bytesStored += result!.bytesStored;
      sum.chunksNew += result!.chunksNew;
      sum.chunksDuplicate += result!.chunksDuplicate;
      sum.packs += result!.packs;
      await writeIndex(committed);
      journal.clear();
      return events;
    };

    // 4. Walk and pack, batch by batch (the same tree records as stage: src/repo/tree.ts).
    const treeFile = tempPath(work, 'tree');
    treeWriter = new TreeWriter(treeFile);
    const tw = treeWriter;
    const links = new Map<string, number>();
    const failedLinks = new Set<number>();
    let batch: { recs: Pending[]; files: Array<{ path: string; size: number }>; bytes: number } = { recs: [], files: [], bytes: 0 };
    const runBatch = async () => {
      const b = batch;
      batch = { recs: [], files: [], bytes: 0 };
      const events = b.files.length ? await pack(b.files, 'backup', index) : [];
      for (const p of b.recs) {
        const rec = p.rec;
        if (p.reused) {
          sum.files++;
          sum.bytes += (rec as FileRecord).s;
        } else if (p.file !== undefined) {
          const f = rec as FileRecord;
          const ev = events[p.file];
          if (f.s > 0) {
            if (!ev || ev.error) {
              warn('FILE_UNREADABLE', `Skipped ${p.path}: ${ev?.error ? `${ev.error.code} ${ev.error.message}` : 'the pack job reported nothing for it'}`, { path: p.path, code: ev?.error?.code }, true);
              sum.filesFailed++;
              if (f.k !== undefined) failedLinks.add(f.k);
              continue;
            }
            f.c = ev.lengths.map((len, i) => [ev.chunks.toString('hex', i * 32, i * 32 + 32), len]);
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
      bytesBefore += b.bytes;
      filesBefore += b.files.length;
    };
    const batchFiles = o.batchFiles ?? DEFAULT_BATCH_FILES;
    const batchBytes = o.batchBytes ?? DEFAULT_BATCH_BYTES;
    let filesReused = 0;
    /** The parent's record of this file when it is unchanged and all its chunks are indexed; a parent tree that cannot be read is dropped with a warning. */
    const unchanged = async (p: TreePath, st: fs.BigIntStats): Promise<FileRecord | undefined> => {
      if (!cursor) return undefined;
      let prev: FileRecord | undefined;
      try {
        prev = await cursor.file(p);
      } catch (err) {
        if (signal.aborted) throw stopped();
        warn('PARENT_UNREADABLE', `Snapshot ${parentId} cannot be read as the parent (${(err as Error).message}); every file is read instead`, { parent: parentId }, false);
        cursor = undefined;
        return undefined;
      }
      if (!prev || prev.s !== Number(st.size) || prev.mt !== st.mtimeNs.toString() || prev.ct !== st.ctimeNs.toString() || prev.i !== st.ino.toString()) return undefined;
      if (st.ctimeNs >= parentStartNs) return undefined;
      return prev.c.every(([id]) => index.lookup(Buffer.from(id, 'hex')) !== undefined) ? prev : undefined;
    };
    // Where the walk is: the source's index, then the names of the directories below it.
    const walkPath: Array<number | string> = [];
    const meta = (st: fs.BigIntStats, name: string) => ({ n: name, m: Number(st.mode), u: Number(st.uid), g: Number(st.gid), mt: st.mtimeNs.toString() });
    for (const [srcIndex, src] of o.sources.entries()) {
      for (const ev of walkSource(src)) {
        if (++steps % 1000 === 0) {
          if (signal.aborted) throw stopped();
          await new Promise((r) => setImmediate(r));
        }
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
            const prev = await unchanged((walkPath.length ? [...walkPath, ev.name] : [srcIndex]) as TreePath, ev.st);
            if (prev) {
              rec.c = prev.c;
              if (prev.h) rec.h = prev.h;
              batch.recs.push({ rec, path: ev.path, reused: true });
              filesReused++;
              sum.filesUnchanged!++;
              break;
            }
            batch.recs.push({ rec, file: batch.files.length, path: ev.path });
            batch.files.push({ path: ev.path, size });
            batch.bytes += size;
            if (batch.files.length >= batchFiles || batch.bytes >= batchBytes) await runBatch();
            break;
          }
        }
      }
    }
    await runBatch();

    // 5. The tree stream, then the snapshot.
    const treeSize = tw.close();
    treeWriter = undefined;
    const tev = (await pack([{ path: treeFile, size: treeSize }], 'tree', index))[0];
    if (!tev || tev.error || tev.holes.some(([, len]) => len > 0)) {
      throw new DriveseedError('TREE_WRITE', `Could not pack the snapshot's tree stream ${treeFile}: ${tev?.error?.message ?? 'unexpected result'}`, { category: 'FAILED', details: { path: treeFile } });
    }
    fs.rmSync(treeFile, { force: true });
    sum.durationMs = Date.now() - t0;
    await lock.assertHeld();
    const snapshot = await repo.writeSnapshot(
      {
        version: 1,
        time: new Date().toISOString(),
        host: os.hostname(),
        sources: o.sources,
        ...(settings?.job ? { job: settings.job } : {}),
        tree: { chunks: tev.lengths.map((len, i) => [tev.chunks.toString('hex', i * 32, i * 32 + 32), len]), size: treeSize },
        summary: sum,
      },
      signal,
    );
    upload.bytesSent = backend.counters.bytesSent;
    reporter.event('snapshot', { id: snapshot, location: where, ...sum, bytesSent: upload.bytesSent });
    return {
      snapshot,
      location: where,
      summary: sum,
      upload,
      index: { files: docs, fetched: sync.fetched, fetchedBytes: sync.fetchedBytes, reused: sync.reused, chunks: index.size },
      ...(parentId ? { parent: { snapshot: parentId, filesReused } } : {}),
      partial,
      warnings,
    };
  } catch (err) {
    if (lock.signal.aborted && !(err instanceof DriveseedError && err.code === 'LEASE_LOST')) throw lock.signal.reason;
    throw err;
  } finally {
    treeWriter?.abandon();
    journal.close();
    await lock.release();
  }
}
