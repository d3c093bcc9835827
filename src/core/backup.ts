/**
 * `driveseed backup`: an incremental backup over the network into the seeded repository in the
 * Azure container (docs/cloud.md). It stores only chunks the repository does not hold yet.
 *
 * Flow: refuse unless the seed is complete → open the repository in the container (config, keys)
 * → take the repository lock (blob lease) → sync the local index cache and load the index (the
 * `known` chunk ids) → finish what an interrupted run left (the journal, below) → take the snapshot
 * as stage does (src/core/snapshotter.ts) into the container: the native packJob writes packs into a
 * local work directory and each is uploaded as soon as the job reports it; after each batch, once
 * its packs are committed, its index is written; the tree stream the same way; the snapshot last.
 * Write order: packs, then the index that lists them, then the snapshot; the lease is checked right
 * before each index and the snapshot, so a run that lost its lock stops before anything refers to
 * its packs.
 *
 * Resume (kill -9, network loss, lost lease): every pack the job reports is recorded in
 * `<staging>/.cache/backup/journal.jsonl` (fsync'd, with its index entry) before its upload starts,
 * and marked committed after. The next run first re-uploads journaled packs whose local file is still
 * there (putFile skips committed blobs and reuses staged blocks), checks the others exist in the
 * container, and writes one index for them all: no committed pack is uploaded again, and their
 * chunks count as known for the new run.
 *
 * Memory: the chunk index (~64 B per chunk), what the snapshotter holds (two batches of tree
 * records, the native job's buffers) and the upload cap (the backend's blocks in flight × 4 MiB,
 * default 32 MiB). Local disk: the packs of one batch not yet uploaded (≤ batchBytes of new data,
 * default 1 GiB).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBackend } from '../cloud/backends';
import type { CloudLocation } from '../cloud/client';
import { indexCacheDir } from '../repo/index-cache';
import { acquireLeaseLock } from '../cloud/lease-lock';
import { readChunkCached, treeBlobCacheDir } from '../cloud/tree-blob-cache';
import { Repository } from '../repo/repository';
import { readConfig, startKeyDerivation } from '../repo/config';
import type { KdfParams } from '../repo/crypto';
import { repoIoError } from '../repo/errors';
import { type IndexPack, packFromEvent } from '../repo/index-file';
import type { SnapshotSummary } from '../repo/snapshot';
import { INDEX_DIR } from '../repo/layout';
import type { CommandContext } from './command';
import { DriveseedError, cancelledError } from '../base/errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { RateMeter } from '../base/reporter';
import { stagingCloudLocation } from './cloud-location';
import { type PackBatch, type SnapshotOptions, Warnings, countSources, latestWithSources, progressTotals, takeSnapshot } from './snapshotter';
import { checkStagePaths } from './stage';

export interface BackupOptions extends SnapshotOptions {
  /** absolute staging location: its settings say where the cloud repository is; it holds the index cache and the work directory */
  staging: string;
  passphrase: PassphraseSource;
  /** break a repository lock held by someone else (after a warning naming the holder) */
  forceUnlock: boolean;
  /** where the repository is, instead of the saved settings (tests, and `--container` overrides) */
  location?: CloudLocation;
  /** upload blocks in flight (the upload memory cap is this × 4 MiB); default 8 */
  maxBlocksInFlight?: number;
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
  index: { files: number; fetched: number; fetchedBytes: number; reused: number; local: number; chunks: number };
  /** the snapshot whose unchanged files (same size and mtime) were not read again; absent when none matched the sources and host */
  parent?: { snapshot: string; filesReused: number };
  partial: boolean;
  warnings: number;
}

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

/** The KDF parameters of the staging directory's copy of the config, if it has a readable one. */
function localKdf(staging: string): KdfParams | undefined {
  try {
    return readConfig(staging)?.kdf;
  } catch {
    return undefined; // only a head start: the container's config is the one that counts
  }
}

/** Runs a backup. Reports through ctx.reporter; never prints. */
export async function backup(o: BackupOptions, ctx: CommandContext): Promise<BackupResult> {
  const t0 = Date.now();
  const { reporter } = ctx;
  checkStagePaths(o.sources, o.staging);
  const { spec, settings } = await stagingCloudLocation(o.staging, ctx.env, {
    location: o.location,
    missing: 'give the --staging location that was used for `driveseed stage` and the import.',
    seedCommand: 'backup',
  });
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  // scrypt starts now, from the staging directory's copy of the config, while the Azure SDK loads and
  // the container's config is fetched (0.1–0.2 s of an unchanged backup, measured); unlockConfig uses
  // the result only if the container's config has the same KDF parameters and salt.
  const early = localKdf(o.staging);
  const pending = early ? startKeyDerivation(passphrase, early) : undefined;
  const backend = await openBackend(spec, {
    maxBlocksInFlight: o.maxBlocksInFlight ?? 8,
    retry: {
      onRetry: ({ attempt, error }) =>
        reporter.warning(
          'CLOUD_RETRY',
          `Retrying a request to ${backend.description} (attempt ${attempt + 1}): ${(error as Error)?.message?.split('\n')[0] ?? error}`,
          {
            attempt,
          },
        ),
    },
  });
  const { client, description: where } = backend;

  // The KDF (scrypt N=2^17: 0.3–0.5 s on the libuv pool) runs while the sources are counted, as in
  // stage: the count needs no key, and it ran after the KDF here, in the critical path (measured on
  // the quick bench set: 30 ms of a 0.9 s unchanged backup; up to the whole KDF on large trees). A
  // wrong passphrase stops the count at its next yield.
  const cacheDir = indexCacheDir(o.staging);
  const opening = Repository.open(backend, passphrase, {
    signal: ctx.signal,
    indexCache: cacheDir,
    indexLocal: path.join(o.staging, INDEX_DIR),
    ...(pending ? { early: pending } : {}),
  });
  let openFailed = false;
  let keyReady = false;
  opening.then(
    () => {
      keyReady = true;
    },
    () => {
      openFailed = true;
    },
  );
  // Only until the key is there: the parent snapshot's totals stand in for the rest (progressTotals).
  const counted = await countSources(o.sources, { signal: ctx.signal, stopped: cancelledError, reporter, stopEarly: () => openFailed || keyReady });
  const repo = await opening;
  const lock = await acquireLeaseLock(client, { operation: 'backup', forceUnlock: o.forceUnlock, reporter, description: where, ...o.lease });
  const signal = AbortSignal.any([ctx.signal, lock.signal]);
  const stopped = (): Error => (lock.signal.aborted ? (lock.signal.reason as Error) : cancelledError());
  const warnings = new Warnings(reporter);
  const { warn } = warnings;

  const work = backupWorkDir(o.staging);
  const packDir = path.join(work, 'packs');
  const journal = new PackJournal(path.join(work, 'journal.jsonl'));
  try {
    fs.mkdirSync(packDir, { recursive: true });
    reporter.info(`Loading the index of ${where}`);
    const loaded = await repo.loadIndex(signal);
    const { index, docs } = loaded;
    const sync = loaded.sync!; // opened with an index cache
    reporter.info(
      `Index: ${docs} files, ${index.size} chunks (${sync.fetched} downloaded, ${sync.reused} from the local cache, ${sync.local} from the staging's own copy)`,
      { ...sync, ids: undefined },
    );

    const upload = { packs: 0, packsSkipped: 0, blocksReused: 0, bytesSent: 0, indexFiles: [] as string[], resumedPacks: 0 };
    const writeIndex = async (packs: IndexPack[]) => {
      if (!packs.length) return;
      await lock.assertHeld();
      const id = await repo.writeIndex(packs, signal);
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

    // 2. The parent: the newest snapshot of exactly these sources (the same rule as stage).
    const parent = latestWithSources(await repo.listSnapshots(signal), o.sources);
    const totals = progressTotals(counted, parent);
    if (parent) reporter.info(`Files unchanged since snapshot ${parent.id.slice(0, 12)} (size, mtime, ctime, inode) are not read again`, { parent: parent.id });

    // 3. Totals for progress and ETA: counted above, while the key was derived.
    // Upload progress (phase "upload"): bytes sent against bytes of packs reported so far, at most 5 a second.
    const sendMeter = new RateMeter();
    const sent = { bytes: 0, of: 0, packs: 0, at: 0 };
    const uploadProgress = (n: number) => {
      sent.bytes += n;
      const now = Date.now();
      if (now - sent.at < 200) return;
      sent.at = now;
      reporter.progress({
        phase: 'upload',
        bytesDone: sent.bytes,
        bytesTotal: Math.max(sent.of, sent.bytes),
        itemsDone: sent.packs,
        rate: sendMeter.sample(sent.bytes).rate,
      });
    };
    /** One packJob's packs: each is journaled and its upload started as soon as the job reports it; the index is written once all are committed. */
    const openBatch = (abortJob: (reason: unknown) => void): PackBatch => {
      const committed: IndexPack[] = [];
      const uploads = new Set<Promise<void>>();
      let uploadError: unknown;
      return {
        onPack(ev) {
          const ip = packFromEvent(ev, repo.config.blockSize);
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
              abortJob(err);
            })
            .finally(() => uploads.delete(u));
          uploads.add(u);
        },
        async finish(failure) {
          while (uploads.size) await Promise.all([...uploads]);
          if (signal.aborted) throw stopped();
          if (uploadError) throw uploadError;
          if (failure) return;
          await writeIndex(committed);
          journal.clear();
        },
      };
    };

    // 4. Walk, pack and upload batch by batch, then the tree stream and the snapshot (the same tree records as stage: src/repo/tree.ts).
    const treeCache = treeBlobCacheDir(o.staging);
    const { snapshot, summary } = await takeSnapshot(o, {
      job: settings?.job,
      phase: 'backup',
      startedAt: t0,
      repo,
      index,
      totals,
      parent: parent && { ...parent, readChunk: (id, raw) => readChunkCached(repo, index, treeCache, id, raw, signal, o.staging), onUnreadable: 'read-all' },
      reporter,
      warn,
      target: {
        packDir,
        tempDir: work,
        signal,
        stopped,
        openBatch,
        writeSnapshot: async (doc) => {
          await lock.assertHeld();
          return repo.writeSnapshot(doc, signal);
        },
      },
    });
    upload.bytesSent = backend.counters.bytesSent;
    reporter.event('snapshot', { id: snapshot, location: where, ...summary, bytesSent: upload.bytesSent });
    return {
      snapshot,
      location: where,
      summary,
      upload,
      index: { files: docs, fetched: sync.fetched, fetchedBytes: sync.fetchedBytes, reused: sync.reused, local: sync.local, chunks: index.size },
      ...(parent ? { parent: { snapshot: parent.id, filesReused: summary.filesUnchanged! } } : {}),
      partial: warnings.partial,
      warnings: warnings.count,
    };
  } catch (err) {
    if (lock.signal.aborted && !(err instanceof DriveseedError && err.code === 'LEASE_LOST')) throw lock.signal.reason;
    throw err;
  } finally {
    journal.close();
    await lock.release();
  }
}
