/**
 * The local cache of a remote repository's index files: `<staging>/.cache/index/<id>`
 * (Repository.open's `indexCache` option).
 *
 * Index files are content-addressed (their name is the SHA-256 of their bytes, docs/format.md), so
 * the name is the checksum: a cached file is reused only when its bytes still hash to its name; a
 * damaged or truncated one is fetched again. Entries are therefore written without fsync
 * (writeCacheFile): a crash costs at most a download. Files no longer in the container (after a prune) are
 * removed from the cache. A backup thus downloads each index file once, ever; later runs list
 * `index/` (one request per 5000 files) and read the rest from disk.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Backend } from './backend';
import { writeCacheFile } from './atomic';
import { repoIoError } from './errors';
import { ID_RE, INDEX_DIR, TEMP_PREFIX } from './layout';

/** Where the index cache lives inside a staging location. */
export function indexCacheDir(staging: string): string {
  return path.join(staging, '.cache', INDEX_DIR);
}

export interface IndexCacheSync {
  /** ids of the container's index files, sorted */
  ids: string[];
  /** fetched from the container in this call */
  fetched: number;
  fetchedBytes: number;
  /** taken from the cache (checksum verified) */
  reused: number;
  /** copied into the cache from `localDir` (checksum verified) instead of downloaded */
  local: number;
  /** cache files removed: gone from the container, or damaged */
  removed: number;
}

/**
 * Brings the cache in line with the container's `index/` and returns the ids. At most `parallel`
 * downloads run at once (index files are small: a 64 MiB pack lists ~64 chunks, a few KiB). An index
 * file missing from the cache is first looked for in `localDir` (the staging location's own `index/`,
 * while the seed's repository data is kept there: the same files the seed uploaded), used when its
 * bytes hash to its name.
 */
export async function syncIndexCache(
  backend: Backend,
  cacheDir: string,
  options: { signal?: AbortSignal; parallel?: number; localDir?: string } = {},
): Promise<IndexCacheSync> {
  const { signal } = options;
  const remote = (await backend.list(`${INDEX_DIR}/`, signal)).map((e) => e.path.slice(INDEX_DIR.length + 1)).filter((n) => ID_RE.test(n));
  const want = new Set(remote);
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
  } catch (err) {
    throw repoIoError(err, 'create', cacheDir);
  }
  const out: IndexCacheSync = { ids: remote.sort(), fetched: 0, fetchedBytes: 0, reused: 0, local: 0, removed: 0 };
  for (const name of fs.readdirSync(cacheDir)) {
    if (!want.has(name) || name.startsWith(TEMP_PREFIX)) {
      fs.rmSync(path.join(cacheDir, name), { force: true });
      out.removed++;
    }
  }
  const missing: string[] = [];
  for (const id of out.ids) {
    if (readCachedIndex(cacheDir, id)) out.reused++;
    else if (options.localDir && copyLocalIndex(options.localDir, cacheDir, id)) out.local++;
    else missing.push(id);
  }
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const id = missing[next++]!;
      const bytes = await backend.readAll(`${INDEX_DIR}/${id}`, signal);
      // A damaged download is not cached; the reader (decodeIndex) would refuse it anyway.
      if (sha256(bytes) === id) writeCacheFile(path.join(cacheDir, id), bytes);
      out.fetched++;
      out.fetchedBytes += bytes.length;
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel ?? 8, missing.length) }, worker));
  return out;
}

/** Copies index `id` from `localDir` into the cache when the local file's bytes hash to its name. */
function copyLocalIndex(localDir: string, cacheDir: string, id: string): boolean {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path.join(localDir, id));
  } catch {
    return false;
  }
  if (sha256(bytes) !== id) return false;
  writeCacheFile(path.join(cacheDir, id), bytes);
  return true;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The cached bytes of index `id`, or undefined when absent or damaged (a damaged file is deleted). */
export function readCachedIndex(cacheDir: string, id: string): Buffer | undefined {
  const file = path.join(cacheDir, id);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw repoIoError(err, 'read', file);
  }
  if (sha256(bytes) === id) return bytes;
  fs.rmSync(file, { force: true });
  return undefined;
}

/** Adds index `id` (written by this process) to the cache, so the next run does not download it. */
export function addToIndexCache(cacheDir: string, id: string, bytes: Uint8Array): void {
  writeCacheFile(path.join(cacheDir, id), bytes);
}
