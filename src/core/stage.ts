/**
 * `driveseed stage`: back source trees up into the staging repository (docs/format.md).
 *
 * Flow: open or create the repository while the sources are scanned for totals (the KDF runs on the
 * libuv pool meanwhile) → take its lock → delete what an interrupted run left →
 * load every index (the `known` chunk ids) → take the snapshot (src/core/snapshotter.ts: walk,
 * pack in batches, index each batch's packs before the next, pack the tree stream, write the
 * snapshot) into the staging directory: packs straight into data/, index files and the snapshot
 * written atomically.
 *
 * Memory (goal ≤ 512 MiB RSS for 1M files): the chunk index (~64 B per stored chunk) and what the
 * snapshotter holds (two batches of tree records, the hard-link map, the native job's buffers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChunkIndex } from '../repo/chunk-index';
import type { InitOptions } from '../repo/config';
import { readConfig, startKeyDerivation } from '../repo/config';
import { repoIoError } from '../repo/errors';
import { type IndexPack, packFromEvent } from '../repo/index-file';
import { DATA_DIR } from '../repo/layout';
import { removeGarbage, scanGarbage } from '../repo/garbage';
import { acquireRepoLock } from '../repo/lock';
import { Repository } from '../repo/repository';
import type { SnapshotSummary } from '../repo/snapshot';
import type { CommandContext } from './command';
import { cancelledError, usageError } from '../base/errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { type JobSettingsInput, mergeStageSettings } from './settings';
import { type SnapshotOptions, type SnapshotTarget, Warnings, countSources, latestWithSources, progressTotals, takeSnapshot } from './snapshotter';

export interface StageOptions extends SnapshotOptions {
  /** absolute staging directory */
  staging: string;
  settings: JobSettingsInput;
  passphrase: PassphraseSource;
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
      throw usageError(
        'SOURCE_NOT_FOUND',
        `Source ${s} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); give an existing directory or file.`,
        { field: 'sources', source: s },
      );
    }
    const name = path.basename(abs);
    if (!name)
      throw usageError('INVALID_SOURCE', `Source ${s} is the file-system root; give the directories under it instead.`, { field: 'sources', source: s });
    const real = realOrSelf(abs);
    if (inside(stagingReal, real)) {
      throw usageError(
        'STAGING_INSIDE_SOURCE',
        `--staging ${staging} is inside source ${s}: the repository would back itself up. Choose a staging location outside every source.`,
        {
          field: 'staging',
          source: s,
        },
      );
    }
    if (inside(real, stagingReal)) {
      throw usageError('SOURCE_INSIDE_STAGING', `Source ${s} is inside --staging ${staging}; choose a staging location outside every source.`, {
        field: 'sources',
        source: s,
      });
    }
    const prev = names.get(name);
    if (prev !== undefined) {
      throw usageError(
        'DUPLICATE_SOURCE_NAME',
        `Sources ${prev} and ${s} have the same name "${name}"; each source is stored under its name, so stage them in separate runs or rename one.`,
        {
          field: 'sources',
        },
      );
    }
    names.set(name, s);
  }
}

/** The staging directory as a snapshot target: packs straight into data/, index files and the snapshot written atomically. */
function stagingTarget(staging: string, repo: Repository, index: ChunkIndex, indexFiles: string[], signal: AbortSignal): SnapshotTarget {
  const packDir = path.join(staging, DATA_DIR);
  fs.mkdirSync(packDir, { recursive: true });
  return {
    packDir,
    tempDir: staging,
    signal,
    stopped: cancelledError,
    writeSnapshot: (doc) => repo.writeSnapshot(doc),
    openBatch() {
      const packs: IndexPack[] = [];
      const flushIndex = async () => {
        if (!packs.length) return;
        const doc = packs.splice(0);
        indexFiles.push(await repo.writeIndex(doc));
        index.addIndex({ version: 1, created: '', packs: doc });
      };
      return {
        onPack: (ev) => packs.push(packFromEvent(ev, repo.config.blockSize)),
        async finish(failure) {
          if (!failure) return flushIndex();
          // Index what was completed before the failure so a rerun reuses it (best effort: the disk may be full).
          try {
            await flushIndex();
          } catch {
            /* the packs stay unreferenced; the next run removes them */
          }
          const code = (failure as { code?: string }).code;
          if (code === 'ENOSPC' || code === 'EDQUOT') throw repoIoError(failure, 'write packs to', packDir);
        },
      };
    },
  };
}

/** Runs stage. Reports progress through ctx.reporter; never prints. */
export async function stage(o: StageOptions, ctx: CommandContext): Promise<StageResult> {
  const t0 = Date.now();
  const { reporter } = ctx;
  const warnings = new Warnings(reporter);
  const { warn } = warnings;

  try {
    fs.mkdirSync(o.staging, { recursive: true });
  } catch (err) {
    throw repoIoError(err, 'create', o.staging);
  }
  const existing = readConfig(o.staging);
  const exists = existing !== undefined;
  const passphrase = await resolvePassphrase(o.passphrase, ctx, !exists);
  // The derivation starts here, from the config just read, before anything else is loaded or walked:
  // Repository.open's own read of the config would otherwise reach the KDF only at the count's first
  // yield (about 40 ms later on the quick bench set). unlockConfig uses it only for identical KDF parameters.
  const early = existing ? startKeyDerivation(passphrase, existing.kdf) : undefined;
  // The KDF (scrypt N=2^17: 0.3–0.5 s on the libuv pool) runs while the sources are counted, which needs
  // no key; a wrong passphrase stops the count at its next yield. A re-stage counts only until the key
  // is there: the parent snapshot's totals stand in for the rest (the count walks the whole tree before
  // the snapshot walks it again: 0.53 s of lstat for 100k files, 0.23 s more than the KDF).
  // A new repository's keys are random and exist at once: packing starts while scrypt seals them into the
  // config, and the repository writes no index or snapshot before the config is on disk (initEarly).
  const opening = exists
    ? Repository.open(o.staging, passphrase, early ? { early } : {})
    : Promise.resolve().then(() => Repository.initEarly(o.staging, passphrase, o.init));
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
  const stopEarly = () => openFailed || (exists && !o.readAll && keyReady);
  const counted = o.scan !== false ? await countSources(o.sources, { signal: ctx.signal, stopped: cancelledError, reporter, stopEarly }) : undefined;
  const repo = await opening;
  if (!exists) reporter.info(`Created repository ${repo.config.id} in ${o.staging}`, { repository: repo.config.id });
  mergeStageSettings(o.staging, o.settings);

  const lock = acquireRepoLock(o.staging, 'stage');
  if (lock.replaced) {
    warn(
      'STALE_LOCK',
      `Took over a stale lock of pid ${lock.replaced.pid} (${lock.replaced.command}, ${lock.replaced.time}), which no longer runs`,
      { holder: lock.replaced },
      false,
    );
  }
  try {
    const index = await repo.loadChunkIndex();
    const garbage = scanGarbage(o.staging, new Set(index.packs.map((p) => p.name)));
    const cleaned = removeGarbage(o.staging, garbage);
    if (cleaned.files) reporter.info(`Removed ${cleaned.files} files (${cleaned.bytes} bytes) left by an interrupted run`, cleaned);
    const indexFiles: string[] = [];
    const target = stagingTarget(o.staging, repo, index, indexFiles, ctx.signal);
    const parent = o.readAll ? undefined : latestWithSources(await repo.listSnapshots(), o.sources);
    const totals = progressTotals(counted, parent);
    if (totals) {
      const about = counted?.complete ? '' : 'about ';
      reporter.info(`Staging ${about}${totals.files} files, ${about}${totals.bytes} bytes from ${o.sources.join(', ')}`, {
        files: totals.files,
        bytes: totals.bytes,
      });
    }
    if (parent)
      reporter.info(
        `Files unchanged since snapshot ${parent.id.slice(0, 12)} (size, mtime, ctime, inode) keep its chunks unread; --read-all reads every file`,
        { parent: parent.id },
      );
    const { snapshot, summary } = await takeSnapshot(o, {
      job: o.settings.job,
      phase: 'stage',
      startedAt: t0,
      repo,
      index,
      totals,
      parent: parent && { ...parent, readChunk: (id, raw) => repo.readChunk(index, id, raw), onUnreadable: 'fail' },
      beforePack: o.beforePack,
      reporter,
      warn,
      target,
    });
    reporter.event('snapshot', { id: snapshot, staging: o.staging, ...summary });
    return {
      snapshot,
      staging: o.staging,
      repository: repo.config.id,
      created: !exists,
      summary,
      indexFiles,
      cleaned,
      partial: warnings.partial,
      warnings: warnings.count,
    };
  } finally {
    // A new repository's first run that stops (cancelled, failed) still leaves its config, as when
    // the config was written before packing began: the next run resumes it rather than starting over.
    await repo.configWritten().catch(() => {});
    repo.close();
    lock.release();
  }
}
