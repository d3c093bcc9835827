/**
 * `driveseed check --cloud [--read-data]`: the same independent re-read as `check` (src/core/check.ts,
 * same problem codes and result shape), of the repository in the Azure container.
 *
 * Structure: config opens; every index file hashes to its name and decrypts (through the local index
 * cache, which re-verifies the hash), and its plain pack list matches it; every indexed pack blob
 * exists with its recorded size; where a pack's committed block list carries our block ids (packs
 * uploaded by backup), the MD5 in each id equals the recorded block MD5 — a check of the stored bytes
 * that reads no data; every snapshot decodes and its tree resolves.
 * Data (--read-data): each pack is downloaded (ranged parallel reads) into `<staging>/.cache/check/`,
 * two at a time, and checked like a local one: every chunk decrypts and matches its id, the content name
 * equals the name, every 4 MiB block matches its recorded MD5. Local disk: two packs.
 * Unreferenced packs (left by an interrupted backup whose journal is gone) are listed, not unhealthy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandContext } from '../base/context';
import type { CheckResult } from '../core/check';
import { ProblemList, checkPackDigests, checkPackEntries, checkTree, packListMatches } from '../core/check-rules';
import { DriveseedError, cancelledError, usageError } from '../base/errors';
import { type PassphraseSource, resolvePassphrase } from '../core/passphrase';
import { readSettings } from '../core/settings';
import type { VerifyProblemEvent } from '../native/binding';
import { isCancelled } from '../native/errors';
import { loadBinding } from '../native/load';
import { runJob } from '../native/run-job';
import { decodeVerifiedChunk } from '../repo/blob-loader';
import { ChunkIndex } from '../repo/chunk-index';
import { CLOUD_CHECK_FIX } from '../repo/errors';
import type { IndexDoc, IndexPack, PackListDoc } from '../repo/index-file';
import { DATA_DIR, packListPath } from '../repo/layout';
import { BLOCK_SIZE } from '../repo/backend';
import { openBackend } from './backends';
import type { CloudLocation } from './client';
import { blockId } from './container-backend';
import { storageFailure } from './errors';
import { indexCacheDir } from '../repo/index-cache';
import { Repository } from '../repo/repository';
import { resolveCloudLocation } from './settings';

export interface CloudCheckOptions {
  /** absolute staging location: settings, index cache, work directory */
  staging: string;
  passphrase: PassphraseSource;
  readData: boolean;
  threads: number;
  /** tests: a location instead of the saved settings */
  location?: CloudLocation;
}

export async function checkCloud(o: CloudCheckOptions, ctx: CommandContext): Promise<CheckResult> {
  const { reporter, signal } = ctx;
  let location = o.location;
  if (!location) {
    const settings = readSettings(o.staging);
    if (!settings)
      throw usageError(
        'SETTINGS_MISSING',
        `${o.staging} holds no driveseed settings; --cloud needs the --staging location whose settings name the account and container.`,
        { field: 'staging' },
      );
    location = await resolveCloudLocation(settings, o.staging, ctx.env);
  }
  const backend = await openBackend({ location });
  const where = backend.description;
  const client = backend.client;
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const cacheDir = indexCacheDir(o.staging);
  const repo = await Repository.open(backend, passphrase, { signal, indexCache: cacheDir });
  const found = new ProblemList(reporter);
  const { report } = found;
  const counts = { indexFiles: 0, packs: 0, chunks: 0, snapshots: 0, files: 0, bytesRead: 0 };

  // ---- index files and the packs they list
  const index = new ChunkIndex();
  const packs = new Map<string, IndexPack>();
  for (const id of await repo.indexIds(signal)) {
    counts.indexFiles++;
    let doc: IndexDoc;
    try {
      doc = await repo.indexDoc(id, signal);
    } catch (err) {
      if (!(err instanceof DriveseedError) || err.category !== 'VERIFY_FAILED') throw err;
      report({ code: 'INDEX_DAMAGED', message: err.message, file: `index/${id}` });
      continue;
    }
    index.addIndex(doc);
    try {
      const list = JSON.parse((await backend.readAll(packListPath(id), signal)).toString('utf8')) as PackListDoc;
      if (list.index !== id || !packListMatches(list, doc))
        report({ code: 'PACK_LIST_MISMATCH', message: `${packListPath(id)} does not match index/${id}`, file: packListPath(id) });
    } catch (err) {
      report({ code: 'PACK_LIST_MISMATCH', message: `${packListPath(id)}: ${(err as Error).message}`, file: packListPath(id) });
    }
    for (const p of doc.packs) if (!packs.has(p.name)) packs.set(p.name, p);
  }

  const blobs = new Map((await backend.list(`${DATA_DIR}/`, signal)).map((e) => [e.path, e.size]));
  for (const p of packs.values()) {
    counts.packs++;
    counts.chunks += p.entries.length;
    const size = blobs.get(p.path);
    if (size === undefined) {
      report({ code: 'PACK_MISSING', message: `Pack ${p.path} is listed in the index but missing from ${where}`, file: p.path, pack: p.name });
      continue;
    }
    if (size !== p.size)
      report({
        code: 'PACK_SIZE',
        message: `Pack ${p.path} is ${size} bytes in ${where}, the index says ${p.size}`,
        file: p.path,
        pack: p.name,
        offset: Math.min(size, p.size),
      });
    checkPackEntries(p, report);
    if (p.blockSize === BLOCK_SIZE) {
      let committed: Array<{ name: string }> = [];
      try {
        committed = (await client.getBlockBlobClient(p.path).getBlockList('committed', { abortSignal: signal })).committedBlocks ?? [];
      } catch (err) {
        if (storageFailure(err).statusCode !== 404) throw err;
      }
      const ours =
        committed.length === p.blockMd5.length && committed.every((b) => /^\d{6}-[0-9a-f]{32}$/.test(Buffer.from(b.name, 'base64').toString('latin1')));
      if (ours) {
        committed.forEach((b, i) => {
          if (b.name !== blockId(i, Buffer.from(p.blockMd5[i]!, 'hex'))) {
            const offset = i * BLOCK_SIZE;
            report({
              code: 'BLOCK_MD5',
              message: `Pack ${p.path}: block ${i} (bytes ${offset}..${Math.min(offset + BLOCK_SIZE, p.size)}) was stored with a different MD5 than the index recorded`,
              file: p.path,
              pack: p.name,
              offset,
              length: Math.min(BLOCK_SIZE, p.size - offset),
            });
          }
        });
      }
    }
  }
  const unreferenced = [...blobs.keys()].filter((b) => !packs.has(b.split('/').pop()!));

  // ---- snapshots and their trees
  const readChunk = async (id: string, raw: number) => {
    const loc = index.lookup(Buffer.from(id, 'hex'));
    if (!loc) throw new DriveseedError('REPO_CORRUPT', `tree chunk ${id} is in no index file`, { category: 'VERIFY_FAILED', details: { chunk: id } });
    const pk = index.packs[loc.pack]!;
    const blob = await backend.readRange(pk.path, loc.offset, loc.length, signal);
    return decodeVerifiedChunk(blob, id, raw, repo.keys.blobKeys(), repo.config.chunker.max, {
      file: `${backend.description}/${pk.path}`,
      pack: pk.name,
      offset: loc.offset,
      fix: CLOUD_CHECK_FIX,
    });
  };
  for (const s of await repo.listSnapshots(signal).catch((err: unknown) => {
    report({ code: 'SNAPSHOT_DAMAGED', message: (err as Error).message });
    return [];
  })) {
    counts.snapshots++;
    await checkTree({ snapshot: s.id, tree: s.doc.tree, readChunk, index, counts, report, signal });
  }

  // ---- data
  if (o.readData) {
    const work = path.join(o.staging, '.cache', 'check');
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    const present = [...packs.values()].filter((p) => blobs.get(p.path) === p.size);
    const binding = loadBinding();
    try {
      for (let i = 0; i < present.length; i += 2) {
        if (signal.aborted) throw cancelledError();
        const group = present.slice(i, i + 2);
        const files = await Promise.all(
          group.map(async (p) => {
            const file = path.join(work, p.name);
            const fd = fs.openSync(file, 'w', 0o600);
            try {
              for (let off = 0; off < p.size; off += 16 * BLOCK_SIZE) {
                const bytes = await backend.readRange(p.path, off, Math.min(16 * BLOCK_SIZE, p.size - off), signal);
                fs.writeSync(fd, bytes, 0, bytes.length, off);
              }
            } finally {
              fs.closeSync(fd);
            }
            counts.bytesRead += p.size;
            return file;
          }),
        );
        const r = await runJob<VerifyProblemEvent, Awaited<ReturnType<typeof binding.verifyPacksJob>>>(
          (cb, token) =>
            binding.verifyPacksJob(
              {
                packs: group.map((p, j) => ({
                  path: files[j]!,
                  name: p.name,
                  entries: p.entries.map(([id, offset, length, rawLength]) => ({ id: Buffer.from(id, 'hex'), offset, length, rawLength })),
                })),
                keys: repo.keys.blobKeys(),
                threads: o.threads,
                blockSize: repo.config.blockSize,
              },
              cb,
              token,
            ),
          {
            signal,
            onProgress: (_p, evs) => {
              for (const e of evs) {
                const pk = packs.get(e.pack) ?? group[files.indexOf(e.pack)];
                report({
                  code: 'CHUNK_BAD',
                  message: `Pack ${pk?.path ?? e.pack}: chunk ${e.id?.toString('hex') ?? '?'} at offset ${e.offset} (+${e.length}) is damaged: ${e.code} ${e.message}`,
                  file: pk?.path ?? e.pack,
                  pack: pk?.name ?? e.pack,
                  offset: e.offset,
                  length: e.length,
                  ...(e.id ? { chunk: e.id.toString('hex') } : {}),
                });
              }
            },
          },
        );
        r.packs.forEach((d, j) => {
          if (d) checkPackDigests(group[j]!, d, repo.config.blockSize, report);
        });
        for (const f of files) fs.rmSync(f, { force: true });
        reporter.progress({ phase: 'verify', bytesDone: counts.bytesRead, itemsDone: Math.min(i + 2, present.length), itemsTotal: present.length });
      }
    } catch (err) {
      if (isCancelled(err) || signal.aborted) throw cancelledError();
      throw err;
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }

  if (unreferenced.length)
    reporter.info(`${unreferenced.length} packs in ${where} are in no index (left by an interrupted backup); they do not harm the repository`, {
      packs: unreferenced.length,
    });
  return {
    staging: where,
    healthy: found.count === 0,
    readData: o.readData,
    problems: found.problems,
    problemCount: found.count,
    counts,
    garbage: { temps: [], unreferencedPacks: unreferenced, orphanPackLists: [], unknown: [], bytes: unreferenced.reduce((a, b) => a + (blobs.get(b) ?? 0), 0) },
  };
}
