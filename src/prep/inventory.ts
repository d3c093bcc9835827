/**
 * What goes on the drives: every file of the staging repository at its repository-relative path
 * (it becomes blob `<container>/<path>`), with the MD5 of each 4 MiB block. Pack files take their
 * sizes and block MD5s from the plain pack lists staging wrote (index/<id>.packs.json), never
 * rehashed; the small metadata files (config, index, snapshots) are hashed here. Local-only state
 * (settings.json, locks/, .prep/, temp files) never goes on a drive.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { CONFIG_FILE, DATA_DIR, INDEX_DIR, SNAPSHOT_DIR, TEMP_PREFIX } from '../repo/layout';
import { PACK_LIST_SUFFIX, listIndexIds, readPackList } from '../repo/index-file';
import { BLOCK_SIZE } from './plan';

export interface StagedFile {
  /** repository-relative POSIX path */
  path: string;
  /** absolute path in the staging directory */
  source: string;
  size: number;
  /** uppercase hex MD5 of every 4 MiB block (none for an empty file) */
  blocks: string[];
  kind: 'pack' | 'meta';
}

function stagingError(message: string, details: Record<string, unknown>): DriveseedError {
  return new DriveseedError('STAGING_INVALID', message, { category: 'VERIFY_FAILED', details });
}

/** MD5 per 4 MiB block of a small file, read in one go (metadata files are KiB to a few MiB). */
export function hashSmallFile(file: string): string[] {
  const data = fs.readFileSync(file);
  if (data.length === 0) return [];
  const out: string[] = [];
  for (let off = 0; off < data.length; off += BLOCK_SIZE)
    out.push(
      createHash('md5')
        .update(data.subarray(off, off + BLOCK_SIZE))
        .digest('hex')
        .toUpperCase(),
    );
  return out;
}

function listDir(root: string, rel: string): string[] {
  try {
    return fs
      .readdirSync(path.join(root, rel))
      .filter((n) => !n.startsWith(TEMP_PREFIX) && !n.startsWith('.'))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Lists the repository's files in a stable order: config, index/*, snapshots/*, then packs by path.
 * Throws STAGING_INVALID when the directory is not a repository, a listed pack is missing or its
 * size differs from the pack list.
 */
export function inventory(staging: string): StagedFile[] {
  if (!fs.existsSync(path.join(staging, CONFIG_FILE))) {
    throw new DriveseedError(
      'STAGING_NOT_FOUND',
      `${staging} is not a driveseed staging repository (no ${CONFIG_FILE}); run driveseed stage first, or give the right --staging`,
      { category: 'USAGE', details: { staging } },
    );
  }
  const meta: StagedFile[] = [];
  const add = (rel: string) => {
    const source = path.join(staging, rel);
    const st = fs.statSync(source);
    if (st.isFile()) meta.push({ path: rel, source, size: st.size, blocks: hashSmallFile(source), kind: 'meta' });
  };
  add(CONFIG_FILE);
  for (const n of listDir(staging, INDEX_DIR)) add(`${INDEX_DIR}/${n}`);
  for (const n of listDir(staging, SNAPSHOT_DIR)) add(`${SNAPSHOT_DIR}/${n}`);

  const packs = new Map<string, StagedFile>();
  for (const id of listIndexIds(staging)) {
    for (const p of readPackList(staging, id).packs) {
      if (packs.has(p.path)) continue;
      const source = path.join(staging, p.path);
      let size: number;
      try {
        size = fs.statSync(source).size;
      } catch {
        throw stagingError(
          `Pack ${p.path} is listed in ${INDEX_DIR}/${id}${PACK_LIST_SUFFIX} but missing from ${staging}; run driveseed check --staging ${staging}`,
          { pack: p.path },
        );
      }
      if (size !== p.size)
        throw stagingError(`Pack ${p.path} is ${size} bytes but its pack list says ${p.size}; the staging data is damaged (driveseed check)`, {
          pack: p.path,
          size,
          expected: p.size,
        });
      if (p.blockMd5.length !== Math.max(1, Math.ceil(p.size / BLOCK_SIZE)) || (p.blockSize ?? BLOCK_SIZE) !== BLOCK_SIZE) {
        throw stagingError(`Pack ${p.path} has ${p.blockMd5.length} block MD5s of ${p.blockSize} bytes; expected one per ${BLOCK_SIZE}-byte block`, {
          pack: p.path,
        });
      }
      packs.set(p.path, { path: p.path, source, size, blocks: p.blockMd5.map((h) => h.toUpperCase()), kind: 'pack' });
    }
  }
  void DATA_DIR;
  return [...meta, ...[...packs.values()].sort((a, b) => (a.path < b.path ? -1 : 1))];
}

/** A short fingerprint of the file list (paths, sizes, block MD5s): resume refuses a changed staging. */
export function fingerprint(files: StagedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.path}\0${f.size}\0${f.blocks.join('')}\n`);
  return h.digest('hex').slice(0, 32);
}
