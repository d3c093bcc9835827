/**
 * `driveseed restore`: writes a snapshot's files back with their metadata, every chunk verified by
 * the native restoreJob.
 *
 * Path safety (a tampered snapshot can never write outside --to):
 *  - --to must be empty or not exist, so everything under it was created by this run;
 *  - entry names '', '.', '..', or containing '/' or NUL are refused (warning, VERIFY_FAILED), with
 *    their subtree;
 *  - order: directories, then file contents, then hard links, then symlinks, then directory
 *    metadata. While files are written no symlink exists under --to, so no write can pass through
 *    one; symlinks are created last and never followed (lchown/lutimes).
 * Memory: two batches of files (≤ 1000 files / 1 GiB each: one restoring, one being read), plus the hard links, symlinks and directories
 * whose metadata is applied at the end (O(dirs + links), not O(files)).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChunkRef } from '../native/binding';
import { isCancelled } from '../native/errors';
import { restoreFiles } from '../native/pipeline';
import { type FileRecord, type MetaFields, badName, readTree } from '../repo/tree';
import type { CommandContext } from './command';
import { DriveseedError, cancelledError, usageError } from '../base/errors';
import { type PassphraseSource, resolvePassphrase } from './passphrase';
import { RateMeter } from '../base/reporter';
import { openRestoreSource } from './restore-source';

export interface RestoreOptions {
  staging: string;
  /** absolute; must be empty or missing */
  to: string;
  /** "latest" or a snapshot id (prefix) */
  snapshot: string;
  /** glob patterns on snapshot paths ("<source name>/dir/*.txt", "**" any depth); empty = everything */
  include: string[];
  passphrase: PassphraseSource;
  threads: number;
  /** restore from the repository in the Azure container named by the staging settings (src/core/restore-source.ts) */
  fromCloud?: boolean;
  /** files per restoreJob call; default 1000 */
  batchFiles?: number;
}

export interface RestoreResult {
  snapshot: string;
  to: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
  /** files whose data failed verification or could not be written (each reported as a warning) */
  filesFailed: number;
  /** entries refused for their names */
  refused: number;
  /** true when anything failed verification (exit category VERIFY_FAILED) */
  verifyFailed: boolean;
}

/** Compiles --include globs: `*` and `?` within a component, `**` across components. */
export function compileIncludes(patterns: string[]): ((p: string) => boolean) | undefined {
  if (!patterns.length) return undefined;
  const res = patterns.map((pat) => {
    const src = pat
      .replace(/^\/+|\/+$/g, '')
      .split(/(\*\*\/?|\*|\?)/)
      .map((part) =>
        part === '**' || part === '**/'
          ? '(?:.*/)?' + (part === '**' ? '.*' : '')
          : part === '*'
            ? '[^/]*'
            : part === '?'
              ? '[^/]'
              : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
      )
      .join('');
    // A pattern that matches a directory includes everything below it.
    return new RegExp(`^${src}(?:/.*)?$`);
  });
  return (p) => res.some((r) => r.test(p));
}

const nsToSeconds = (ns: string) => Number(BigInt(ns) / 1000n) / 1e6;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface DirMeta {
  dest: string;
  meta: MetaFields;
}

export async function restore(o: RestoreOptions, ctx: CommandContext): Promise<RestoreResult> {
  const { reporter } = ctx;
  try {
    const existing = fs.readdirSync(o.to);
    if (existing.length) {
      throw usageError('TARGET_NOT_EMPTY', `--to ${o.to} is not empty; restore into a new or empty directory so nothing under it can redirect the writes.`, {
        field: 'to',
      });
    }
  } catch (err) {
    if (err instanceof DriveseedError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw usageError('TARGET_NOT_DIR', `--to ${o.to} is not a directory.`, { field: 'to' });
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw usageError('TARGET_UNUSABLE', `--to ${o.to} cannot be read (${(err as NodeJS.ErrnoException).code}).`, { field: 'to' });
  }
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const source = await openRestoreSource(o, passphrase, ctx);
  const { repo } = source;
  try {
    const { id: snapshotId, doc: snap } = await repo.resolveSnapshot(o.snapshot);
    const index = await repo.loadChunkIndex();
    fs.mkdirSync(o.to, { recursive: true });
    const root = fs.realpathSync(o.to);
    const include = compileIncludes(o.include);
    const res: RestoreResult = {
      snapshot: snapshotId,
      to: o.to,
      files: 0,
      dirs: 0,
      symlinks: 0,
      hardlinks: 0,
      bytes: 0,
      filesFailed: 0,
      refused: 0,
      verifyFailed: false,
    };
    const fail = (code: string, message: string, details: Record<string, unknown>) => {
      res.verifyFailed = true;
      reporter.warning(code, message, details);
    };

    // Directories on the current path: their snapshot path, destination, metadata, and whether created yet.
    const stack: Array<{ rel: string; dest: string; meta: MetaFields; made: boolean; skip: boolean }> = [];
    const dirs: DirMeta[] = [];
    const hardlinks: Array<{ k: number; dest: string; rel: string }> = [];
    const symlinks: Array<{ dest: string; rec: MetaFields & { tg: string } }> = [];
    const linkDest = new Map<number, string>();
    const total = snap.summary.bytes;
    const meter = new RateMeter();
    const packPaths = source.packFiles(index);

    const ensureDirs = () => {
      for (const d of stack) {
        if (d.made) continue;
        try {
          fs.mkdirSync(d.dest, { mode: 0o700 });
        } catch (err) {
          // A snapshot naming one directory twice: reuse it only if it is a real directory made here.
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(d.dest).isDirectory()) throw err;
        }
        d.made = true;
        res.dirs++;
        dirs.push({ dest: d.dest, meta: d.meta });
      }
    };

    type Job = { dest: string; rel: string; rec: FileRecord };
    let batch: Job[] = [];
    let batchBytes = 0;
    const runBatch = async (jobs: Job[]) => {
      const files: Array<{ dest: string; size: number; holes?: Array<[number, number]>; chunks: ChunkRef[] }> = [];
      const sent: Job[] = [];
      for (const j of jobs) {
        const chunks: ChunkRef[] = [];
        let missing: string | undefined;
        for (const [id, raw] of j.rec.c) {
          const buf = Buffer.from(id, 'hex');
          const loc = index.lookup(buf);
          if (!loc) {
            missing = id;
            break;
          }
          chunks.push({ pack: loc.pack, offset: loc.offset, length: loc.length, rawLength: raw, id: buf });
        }
        if (missing) {
          res.filesFailed++;
          fail('RESTORE_FILE_FAILED', `Did not restore ${j.rel}: its chunk ${missing} is in no index file (run check)`, { path: j.rel, chunk: missing });
          continue;
        }
        files.push({ dest: j.dest, size: j.rec.s, chunks, ...(j.rec.h ? { holes: j.rec.h } : {}) });
        sent.push(j);
      }
      if (!files.length) return;
      const ok = new Array<boolean>(files.length).fill(false);
      const seen = new Array<boolean>(files.length).fill(false);
      const before = res.bytes;
      try {
        await source.fetchFor(index, files);
        await restoreFiles(
          { packs: packPaths, files, keys: repo.keys.blobKeys(), threads: o.threads },
          {
            signal: ctx.signal,
            onProgress: (p, evs) => {
              for (const e of evs) {
                seen[e.index] = true;
                ok[e.index] = e.ok;
                if (!e.ok) {
                  const j = sent[e.index]!;
                  const err = e.error;
                  res.filesFailed++;
                  fail(
                    'RESTORE_FILE_FAILED',
                    `Did not restore ${j.rel}: ${err?.code ?? 'error'} ${err?.message ?? ''}${err?.pack ? ` (pack ${err.pack}${err.offset !== undefined ? ` at offset ${err.offset}` : ''})` : ''}; the incomplete file was removed`,
                    { path: j.rel, code: err?.code, pack: err?.pack, offset: err?.offset },
                  );
                  fs.rmSync(j.dest, { force: true });
                }
              }
              const done = before + p.bytesDone;
              const { rate, etaSeconds } = meter.sample(done, total);
              reporter.progress({
                phase: 'restore',
                bytesDone: done,
                bytesTotal: total,
                itemsDone: res.files,
                rate,
                ...(etaSeconds !== undefined ? { etaSeconds } : {}),
              });
            },
          },
        );
      } catch (err) {
        if (isCancelled(err) || ctx.signal.aborted) throw cancelledError();
        throw err;
      } finally {
        source.drop();
      }
      sent.forEach((j, i) => {
        if (!seen[i]) {
          res.filesFailed++;
          fail('RESTORE_FILE_FAILED', `Did not restore ${j.rel}: the restore job reported nothing for it`, { path: j.rel });
          fs.rmSync(j.dest, { force: true });
          return;
        }
        if (!ok[i]) return;
        applyMeta(j.dest, j.rec, false);
        res.files++;
        res.bytes += j.rec.s;
        if (j.rec.k !== undefined) linkDest.set(j.rec.k, j.dest);
      });
    };

    // One batch restores while the tree walk builds the next (decoding tree chunks, index lookups,
    // making directories), so that JS work no longer runs while the native workers sit idle. Jobs never
    // overlap: a batch starts once the previous one (metadata included) is done.
    let running: Promise<void> = Promise.resolve();
    const submit = async (b: Job[]) => {
      await running;
      running = runBatch(b);
      running.catch(() => {}); // observed here; the error surfaces at the next submit or the final await
    };

    let steps = 0;
    try {
      for await (const { rec, depth } of readTree(snap.tree, (id, raw) => repo.readChunk(index, id, raw), `snapshots/${snapshotId}`)) {
        if (++steps % 2000 === 0) {
          if (ctx.signal.aborted) throw cancelledError();
          await new Promise((r) => setImmediate(r));
        }
        if (rec.t === 'e') {
          stack.length = depth;
          continue;
        }
        stack.length = depth;
        const parent = stack[depth - 1];
        if (parent?.skip) {
          if (rec.t === 'd') stack.push({ ...parent });
          continue;
        }
        const bad = badName(rec.n);
        const rel = parent ? `${parent.rel}/${rec.n}` : String(rec.n);
        if (bad) {
          res.refused++;
          fail('UNSAFE_NAME', `Refused snapshot entry ${JSON.stringify(rel)}: ${bad}; it${rec.t === 'd' ? ' and everything below it' : ''} was not restored`, {
            path: rel,
          });
          if (rec.t === 'd') stack.push({ rel, dest: '', meta: rec, made: true, skip: true });
          continue;
        }
        const dest = path.join(parent ? parent.dest : root, rec.n);
        const wanted = !include || include(rel);
        if (rec.t === 'd') {
          // Created lazily: with --include, only directories that hold something included (or match) appear.
          stack.push({ rel, dest, meta: rec as MetaFields, made: false, skip: false });
          if (wanted) ensureDirs();
          continue;
        }
        if (!wanted) continue;
        ensureDirs();
        if (rec.t === 'f') {
          if (rec.s === 0) {
            try {
              fs.writeFileSync(dest, '', { flag: 'wx', mode: 0o600 });
            } catch (err) {
              res.filesFailed++;
              fail('RESTORE_FILE_FAILED', `Did not restore ${rel}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path: rel });
              continue;
            }
            applyMeta(dest, rec, false);
            res.files++;
            if (rec.k !== undefined) linkDest.set(rec.k, dest);
            continue;
          }
          batch.push({ dest, rel, rec });
          batchBytes += rec.s;
          if (batch.length >= (o.batchFiles ?? 1000) || batchBytes >= 1024 ** 3) {
            await submit(batch);
            batch = [];
            batchBytes = 0;
          }
        } else if (rec.t === 'h') {
          hardlinks.push({ k: rec.k, dest, rel });
        } else if (rec.t === 'l') {
          symlinks.push({ dest, rec });
        }
      }
      await submit(batch);
      await running;
    } catch (err) {
      await running.catch(() => {}); // never return while a job still writes under --to
      throw err;
    }

    for (const h of hardlinks) {
      const target = linkDest.get(h.k);
      if (!target) {
        fail('RESTORE_FILE_FAILED', `Did not restore hard link ${h.rel}: the file it names was not restored`, { path: h.rel });
        res.filesFailed++;
        continue;
      }
      try {
        fs.linkSync(target, h.dest);
        res.hardlinks++;
      } catch (err) {
        res.filesFailed++;
        fail('RESTORE_FILE_FAILED', `Did not restore hard link ${h.rel}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path: h.rel });
      }
    }
    for (const s of symlinks) {
      try {
        fs.symlinkSync(s.rec.tg, s.dest);
      } catch (err) {
        // EEXIST: the snapshot names something else here too; the symlink never replaces it.
        res.filesFailed++;
        fail('RESTORE_FILE_FAILED', `Did not restore symlink ${s.dest}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path: s.dest });
        continue;
      }
      applyMeta(s.dest, s.rec, true);
      res.symlinks++;
    }
    // Deepest first, so setting a directory's mtime is the last change inside its parent.
    for (let i = dirs.length - 1; i >= 0; i--) applyMeta(dirs[i]!.dest, dirs[i]!.meta, false);
    reporter.event('restore', { ...res });
    return res;
  } finally {
    source.close();
  }
}

/** Owner (when root), mode and mtime; `link`: a symlink, changed without following it. */
function applyMeta(dest: string, m: MetaFields, link: boolean): void {
  const t = nsToSeconds(m.mt);
  if (link) {
    if (isRoot) fs.lchownSync(dest, m.u, m.g);
    fs.lutimesSync(dest, t, t);
    return;
  }
  if (isRoot) fs.chownSync(dest, m.u, m.g);
  fs.chmodSync(dest, m.m & 0o7777);
  fs.utimesSync(dest, t, t);
}
