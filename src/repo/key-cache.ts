/**
 * The opt-in key cache (docs/key-cache.md): the passphrase-derived key-encryption key (KEK) of one
 * repository, kept for a limited time in `$DRIVESEED_HOME/key-cache/<repository id>.json` (directory
 * 0700, file 0600, owned by the user), so that a repeat stage or backup skips scrypt (0.26–0.4 s on
 * this project's 2-core test machine, bench/RESULTS.md). Never the passphrase: the file holds the
 * KEK, which opens this one repository's master keys and nothing else.
 *
 * Written only by `driveseed key-cache add`; read by unlockConfig (src/repo/config.ts), which uses an
 * entry only when every one of these holds, else derives the key from the passphrase as without a
 * cache:
 *  - DRIVESEED_KEY_CACHE is not `off`, and the platform is not Windows (no mode bits to check)
 *  - the directory and the file belong to this user and no other user may write the directory or
 *    read/write the file; the file is a regular file, not a link
 *  - the entry has not expired (an expired one is deleted when seen)
 *  - it names the repository's id and the very config it was made from (KDF parameters, salt and
 *    sealed keys: a changed passphrase or a re-created repository does not match)
 *  - the key unseals the config's master keys (checked by unlockConfig)
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { writeFileAtomic } from './atomic';
import type { KdfParams } from './crypto';
import { repoIoError } from './errors';

type Env = Record<string, string | undefined>;

/** `DRIVESEED_KEY_CACHE=off`: no command reads or writes the cache. */
export const KEY_CACHE_ENV = 'DRIVESEED_KEY_CACHE';

/** The parts of a repository config the cached key is bound to (src/repo/config.ts RepoConfig). */
export interface BoundConfig {
  id: string;
  kdf: KdfParams;
  keys: string;
}

export interface KeyCacheEntry {
  format: 'driveseed-key-cache';
  version: 1;
  repository: string;
  /** the staging location `key-cache add` was given (for status and forget; not part of the binding) */
  staging: string;
  /** sha256 of the config's KDF parameters, salt and sealed keys (bindingOf) */
  binding: string;
  kdf: KdfParams;
  created: string;
  expires: string;
  /** base64 of the 32-byte KEK */
  kek: string;
}

/** Why an entry is not used (key-cache status lists them). */
export type Unusable = 'expired' | 'unsafe-mode' | 'unsafe-owner' | 'not-a-file' | 'unreadable' | 'corrupt' | 'other-config';

/** `$DRIVESEED_HOME`, else `~/.driveseed` (the same rule as src/core/known-jobs.ts). */
export function keyCacheDir(env: Env = process.env): string {
  return path.join(env.DRIVESEED_HOME || path.join(os.homedir(), '.driveseed'), 'key-cache');
}

/** Why the cache cannot be used at all here, or undefined. */
export function cacheDisabled(env: Env = process.env): 'off' | 'unsupported' | undefined {
  if ((env[KEY_CACHE_ENV] ?? '').trim().toLowerCase() === 'off') return 'off';
  if (process.platform === 'win32' || typeof process.getuid !== 'function') return 'unsupported';
  return undefined;
}

export function bindingOf(c: BoundConfig): string {
  const k = c.kdf;
  return createHash('sha256')
    .update(JSON.stringify([c.id, k.name, k.N, k.r, k.p, k.salt, c.keys]))
    .digest('hex');
}

function fileOf(dir: string, id: string): string {
  return path.join(dir, `${id}.json`);
}

/** Owner and mode of the directory: undefined when safe (ours, not writable by others), else why not. */
function dirProblem(dir: string): Unusable | undefined {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) return 'not-a-file';
  if (st.uid !== process.getuid!()) return 'unsafe-owner';
  if ((st.mode & 0o022) !== 0) return 'unsafe-mode';
  return undefined;
}

/** Reads one entry file with the owner, mode and format checks; never follows a link. */
export function readEntry(file: string): { entry: KeyCacheEntry } | { problem: Unusable } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'not-a-file' : 'unreadable' };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { problem: 'not-a-file' };
    if (st.uid !== process.getuid!()) return { problem: 'unsafe-owner' };
    if ((st.mode & 0o077) !== 0) return { problem: 'unsafe-mode' };
    let e: KeyCacheEntry;
    try {
      e = JSON.parse(fs.readFileSync(fd, 'utf8')) as KeyCacheEntry;
    } catch {
      return { problem: 'corrupt' };
    }
    const ok =
      e?.format === 'driveseed-key-cache' &&
      e.version === 1 &&
      typeof e.repository === 'string' &&
      typeof e.binding === 'string' &&
      typeof e.kek === 'string' &&
      Buffer.from(e.kek, 'base64').length === 32 &&
      typeof e.kdf?.salt === 'string' &&
      !Number.isNaN(Date.parse(e.expires));
    return ok ? { entry: e } : { problem: 'corrupt' };
  } finally {
    fs.closeSync(fd);
  }
}

/** Overwrites the file's bytes with zeros (best effort: a journaling or copy-on-write file system may keep old blocks), then removes it. */
function shred(file: string): boolean {
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    try {
      const size = fs.fstatSync(fd).size;
      fs.writeSync(fd, Buffer.alloc(size), 0, size, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not ours to write, or a link: still unlinked below (the directory is ours) */
  }
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw repoIoError(err, 'remove', file);
  }
}

export interface CachedKek {
  kek: Buffer;
  repository: string;
  binding: string;
}

/**
 * The cached KEK for this repository config, or undefined (no entry, or one of the rules in the
 * file comment fails). An expired entry is deleted. The caller zeroes the returned key.
 */
export function cachedKek(config: BoundConfig, env: Env = process.env): CachedKek | undefined {
  const r = lookup(env, (dir) => [fileOf(dir, config.id)]);
  if (!r || r.repository !== config.id || r.binding !== bindingOf(config)) {
    r?.kek.fill(0);
    return undefined;
  }
  return r;
}

/** The cached KEK of whichever entry has these exact KDF parameters and salt (backup starts its key before it has the config). */
export function cachedKekForKdf(kdf: KdfParams, env: Env = process.env): CachedKek | undefined {
  const same = (a: KdfParams) => a.name === kdf.name && a.N === kdf.N && a.r === kdf.r && a.p === kdf.p && a.salt === kdf.salt;
  return lookup(
    env,
    (dir) =>
      fs
        .readdirSync(dir)
        .filter((n) => /^[0-9a-f]{32}\.json$/.test(n))
        .map((n) => path.join(dir, n)),
    same,
  );
}

function lookup(env: Env, files: (dir: string) => string[], match: (kdf: KdfParams) => boolean = () => true): CachedKek | undefined {
  if (cacheDisabled(env)) return undefined;
  const dir = keyCacheDir(env);
  try {
    if (dirProblem(dir)) return undefined;
    for (const file of files(dir)) {
      const r = readEntry(file);
      if (!('entry' in r) || !match(r.entry.kdf)) continue;
      if (Date.parse(r.entry.expires) <= Date.now()) {
        shred(file);
        continue;
      }
      return { kek: Buffer.from(r.entry.kek, 'base64'), repository: r.entry.repository, binding: r.entry.binding };
    }
  } catch {
    // No directory, or one we cannot read: no cache, as if none had been made.
  }
  return undefined;
}

/** Makes the cache directory (0700) or checks the existing one; KEY_CACHE_UNSAFE when another user could change it. */
function ensureDir(env: Env): string {
  const dir = keyCacheDir(env);
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw repoIoError(err, 'create', dir);
  }
  const problem = dirProblem(dir);
  if (problem) {
    throw new DriveseedError(
      'KEY_CACHE_UNSAFE',
      `The key cache directory ${dir} ${problem === 'unsafe-owner' ? 'belongs to another user' : problem === 'unsafe-mode' ? 'is writable by other users' : 'is not a directory'}; nothing was cached. Fix: remove it, or \`chown\` it to you and \`chmod 700\` it.`,
      { category: 'FAILED', details: { path: dir, problem } },
    );
  }
  return dir;
}

/** Refuses with KEY_CACHE_OFF / KEY_CACHE_UNSUPPORTED where the cache cannot be used. */
export function requireCacheUsable(env: Env): void {
  const why = cacheDisabled(env);
  if (why === 'off')
    throw new DriveseedError('KEY_CACHE_OFF', `${KEY_CACHE_ENV}=off turns the key cache off; unset it to cache a key.`, {
      category: 'USAGE',
      details: { env: KEY_CACHE_ENV },
    });
  if (why === 'unsupported')
    throw new DriveseedError(
      'KEY_CACHE_UNSUPPORTED',
      'The key cache needs POSIX file ownership and modes to protect the key, which this platform does not have; repeat runs derive the key from the passphrase.',
      { category: 'USAGE', details: { platform: process.platform } },
    );
}

/** Writes the entry (0600, atomically) and returns its file. `kek` is copied, not kept. */
export function storeKek(config: BoundConfig, staging: string, kek: Uint8Array, ttlMs: number, env: Env = process.env): { file: string; expires: string } {
  requireCacheUsable(env);
  const dir = ensureDir(env);
  const now = Date.now();
  const entry: KeyCacheEntry = {
    format: 'driveseed-key-cache',
    version: 1,
    repository: config.id,
    staging,
    binding: bindingOf(config),
    kdf: { ...config.kdf },
    created: new Date(now).toISOString(),
    expires: new Date(now + ttlMs).toISOString(),
    kek: Buffer.from(kek).toString('base64'),
  };
  const file = fileOf(dir, config.id);
  writeFileAtomic(file, `${JSON.stringify(entry)}\n`);
  return { file, expires: entry.expires };
}

export interface EntryStatus {
  file: string;
  repository: string | null;
  staging: string | null;
  expires: string | null;
  /** undefined when the entry would be used for its repository (the config match is checked at use) */
  unusable?: Unusable;
}

/** Every entry file with what its checks say; the key itself is never part of the answer. */
export function listEntries(env: Env = process.env): { dir: string; entries: EntryStatus[]; dirProblem?: Unusable } {
  const dir = keyCacheDir(env);
  let names: string[];
  let problem: Unusable | undefined;
  try {
    problem = dirProblem(dir);
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return { dir, entries: [] };
  }
  const entries = names.sort().map((n): EntryStatus => {
    const file = path.join(dir, n);
    const r = readEntry(file);
    if (!('entry' in r)) return { file, repository: null, staging: null, expires: null, unusable: r.problem };
    const e = r.entry;
    const expired = Date.parse(e.expires) <= Date.now();
    return { file, repository: e.repository, staging: e.staging, expires: e.expires, ...(expired ? { unusable: 'expired' as const } : {}) };
  });
  return { dir, entries, ...(problem ? { dirProblem: problem } : {}) };
}

/** Removes the entries `pick` selects (all when undefined); returns the files removed. */
export function forgetEntries(pick: ((e: EntryStatus) => boolean) | undefined, env: Env = process.env): string[] {
  const removed: string[] = [];
  for (const e of listEntries(env).entries) if (!pick || pick(e)) if (shred(e.file)) removed.push(e.file);
  return removed;
}
