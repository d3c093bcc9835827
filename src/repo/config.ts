/**
 * The repository `config` file (docs/format.md §config): plain JSON with the format version, the
 * repository id, the scrypt parameters and salt, the master keys sealed under the passphrase-derived
 * key, and the chunking/pack parameters that every writer must use so deduplication works.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import type { Secret } from '../base/secret';
import { writeFileAtomic } from './atomic';
import { type ChunkIdScheme, DEFAULT_KDF, type KdfParams, RepoKeys, deriveKey, seal, unseal } from './crypto';
import { corruptError, repoIoError } from './errors';
import { bindingOf, cachedKek, cachedKekForKdf } from './key-cache';
import { CONFIG_FILE, FORMAT_VERSION, REPO_DEFAULTS } from './layout';
import type { ChunkerParams } from '../native/binding';
import { checkChunkerParams } from '../native/pipeline';

export interface RepoConfig {
  format: 'driveseed-repository';
  version: number;
  /** 32 lowercase hex chars */
  id: string;
  created: string;
  kdf: KdfParams;
  /** base64 of seal(kek, dataKey || idKey, aad = "driveseed-keys-v1:" + id) */
  keys: string;
  /** version 2: "blake3" (keyed BLAKE3 chunk ids); absent in version 1 (HMAC-SHA-256) */
  chunkIds?: 'blake3';
  chunker: ChunkerParams;
  packSize: number;
  blockSize: number;
}

/** How the config's repository computes chunk ids. */
export function chunkIdScheme(config: RepoConfig): ChunkIdScheme {
  return config.version >= 2 ? 'blake3' : 'hmac-sha256';
}

function keysAad(id: string): string {
  return `driveseed-keys-v1:${id}`;
}

/** Reads and validates `config` without the passphrase; undefined when the file does not exist. */
export function readConfig(root: string): RepoConfig | undefined {
  const file = path.join(root, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw repoIoError(err, 'read', file);
  }
  return parseConfig(text, file);
}

function chunkerOk(p: unknown): boolean {
  try {
    checkChunkerParams(p);
    return true;
  } catch {
    return false;
  }
}

/** Parses and validates the text of a `config` file (also read from the cloud); `file` names it in errors. */
export function parseConfig(text: string, file: string): RepoConfig {
  let c: RepoConfig;
  try {
    c = JSON.parse(text) as RepoConfig;
  } catch {
    throw corruptError(file, 'is not valid JSON');
  }
  if (c?.format !== 'driveseed-repository') throw corruptError(file, 'is not a driveseed repository config');
  if (!Number.isSafeInteger(c.version) || c.version < 1) throw corruptError(file, 'has no valid format version');
  if (c.version > FORMAT_VERSION) {
    throw new DriveseedError(
      'REPO_VERSION',
      `${file} has repository format version ${String(c.version)}; this driveseed reads up to version ${FORMAT_VERSION}. Upgrade driveseed.`,
      { category: 'FAILED', details: { path: file, version: c.version } },
    );
  }
  const k = c.kdf;
  const ok =
    typeof c.id === 'string' &&
    /^[0-9a-f]{32}$/.test(c.id) &&
    k?.name === 'scrypt' &&
    Number.isInteger(k.N) &&
    k.N >= 2 &&
    (k.N & (k.N - 1)) === 0 &&
    k.N <= 2 ** 22 &&
    Number.isInteger(k.r) &&
    k.r >= 1 &&
    k.r <= 32 &&
    Number.isInteger(k.p) &&
    k.p >= 1 &&
    k.p <= 16 &&
    typeof k.salt === 'string' &&
    typeof c.keys === 'string' &&
    // version 1: HMAC-SHA-256 ids and no chunkIds field; version 2: keyed BLAKE3, named
    (c.version === 1 ? c.chunkIds === undefined : c.chunkIds === 'blake3') &&
    chunkerOk(c.chunker) &&
    // the ranges the data plane takes (src/native/pipeline.ts), so a damaged value is reported here
    Number.isInteger(c.packSize) &&
    c.packSize >= 2 ** 20 &&
    c.packSize <= 2 ** 32 &&
    Number.isInteger(c.blockSize) &&
    c.blockSize >= 4096 &&
    c.blockSize <= 2 ** 30;
  if (!ok) throw corruptError(file, 'has missing or invalid fields');
  return c;
}

/** Options for a new repository; tests may lower the KDF cost or the pack size (both are recorded in config). */
export interface InitOptions {
  kdf?: { N: number; r: number; p: number };
  /** the chunk ids of a new repository: keyed BLAKE3 (format version 2, the default) or HMAC-SHA-256 (version 1, which older driveseed reads; tests of version 1) */
  chunkIds?: ChunkIdScheme;
  /** bytes, 1 MiB..4 GiB; default 64 MiB (tests use small packs so that a run completes several) */
  packSize?: number;
}

/** Creates `config` in an empty or new directory; refuses when one exists. */
export async function createConfig(root: string, passphrase: Secret, options: InitOptions = {}): Promise<{ config: RepoConfig; keys: RepoKeys }> {
  const { config, keys, written } = startConfig(root, passphrase, options);
  await written;
  return { config, keys };
}

/**
 * createConfig without waiting for the KDF: the master keys are random, so they exist at once, and
 * only sealing them into `config` needs the passphrase's key (scrypt, 0.2–0.4 s). `written` settles
 * when the file is written; until then `config.keys` is empty. The caller may write packs meanwhile
 * but nothing that a later run must read with these keys (index, snapshot) before `written`, and
 * should wait for `written` when it stops early (stage does). A process killed before then leaves no
 * config, and the next stage creates a new repository, which removes those packs as garbage.
 * Refuses at once when a config exists, and again at the write when another process created one
 * meanwhile.
 */
export function startConfig(root: string, passphrase: Secret, options: InitOptions = {}): { config: RepoConfig; keys: RepoKeys; written: Promise<void> } {
  const file = path.join(root, CONFIG_FILE);
  const exists = () =>
    new DriveseedError('REPO_EXISTS', `${root} already holds a driveseed repository; open it instead of creating one.`, {
      category: 'USAGE',
      details: { path: root },
    });
  if (fs.existsSync(file)) throw exists();
  const packSize = options.packSize ?? REPO_DEFAULTS.packSize;
  if (!Number.isInteger(packSize) || packSize < 2 ** 20 || packSize > 2 ** 32) {
    throw new TypeError(`Expected an integer from 1048576 to 4294967296 for packSize but received ${packSize}`);
  }
  const id = randomBytes(16).toString('hex');
  const cost = options.kdf ?? DEFAULT_KDF;
  const kdf: KdfParams = { name: 'scrypt', N: cost.N, r: cost.r, p: cost.p, salt: randomBytes(32).toString('base64') };
  const scheme = options.chunkIds ?? 'blake3';
  const keys = RepoKeys.generate(scheme);
  const config: RepoConfig = {
    format: 'driveseed-repository',
    version: scheme === 'blake3' ? FORMAT_VERSION : 1,
    id,
    created: new Date().toISOString(),
    kdf,
    keys: '',
    ...(scheme === 'blake3' ? { chunkIds: 'blake3' as const } : {}),
    chunker: { ...REPO_DEFAULTS.chunker },
    packSize,
    blockSize: REPO_DEFAULTS.blockSize,
  };
  const written = deriveKey(passphrase, kdf).then((kek) => {
    config.keys = seal(kek, keys.raw(), keysAad(id)).toString('base64');
    kek.fill(0);
    if (fs.existsSync(file)) throw exists();
    writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n');
  });
  return { config, keys, written };
}

/**
 * A key derivation started ahead of time from another copy of a repository's config (backup: the
 * staging directory's copy, while the container's is fetched). unlockConfig uses it only when the
 * config it unlocks has the very same KDF parameters and salt, so the result is the same key.
 * `cached`: the key came from the key cache (src/repo/key-cache.ts) and no derivation runs.
 */
export interface PendingKek {
  kdf: KdfParams;
  kek: Promise<Buffer>;
  cached?: { repository: string; binding: string };
}

/**
 * Starts deriving the passphrase's key for `kdf` on the libuv pool; hand the result to unlockConfig.
 * A key cached for exactly these KDF parameters and salt stands in for the derivation.
 */
export function startKeyDerivation(passphrase: Secret, kdf: KdfParams): PendingKek {
  const hit = cachedKekForKdf(kdf);
  if (hit) return { kdf: { ...kdf }, kek: Promise.resolve(hit.kek), cached: { repository: hit.repository, binding: hit.binding } };
  const kek = deriveKey(passphrase, kdf);
  kek.catch(() => {}); // reported by unlockConfig when it is used; an unused failed one is dropped
  return { kdf: { ...kdf }, kek };
}

function sameKdf(a: KdfParams, b: KdfParams): boolean {
  return a.name === b.name && a.N === b.N && a.r === b.r && a.p === b.p && a.salt === b.salt;
}

/** The master keys sealed in `config` under `kek`, or undefined when the key does not open them. */
function unsealKeys(config: RepoConfig, kek: Buffer): Buffer | undefined {
  const raw = unseal(kek, Buffer.from(config.keys, 'base64'), keysAad(config.id));
  return raw && raw.length === 64 ? raw : undefined;
}

function wrongPassphrase(root: string, config: RepoConfig): DriveseedError {
  return new DriveseedError(
    'WRONG_PASSPHRASE',
    `The passphrase does not open the repository at ${root}. Give the passphrase used when it was first staged (--passphrase-file, DRIVESEED_PASSPHRASE or the prompt).`,
    { category: 'FAILED', details: { staging: root, repository: config.id } },
  );
}

/**
 * Unseals the master keys; WRONG_PASSPHRASE when the passphrase does not open them. `early`: a
 * derivation started before the config was read (used only for identical KDF parameters). A key in
 * the key cache for this repository and config is tried first; it is used only when it opens the
 * keys, otherwise the passphrase's key is derived as without a cache.
 */
export async function unlockConfig(root: string, config: RepoConfig, passphrase: Secret, early?: PendingKek): Promise<RepoKeys> {
  // 1. The key cache: the entry found for this config, or the one backup's early start found by its KDF.
  let fromCache: Buffer | undefined;
  if (early?.cached) {
    const k = await early.kek;
    if (early.cached.repository === config.id && early.cached.binding === bindingOf(config) && sameKdf(early.kdf, config.kdf)) fromCache = k;
    else k.fill(0);
  } else fromCache = cachedKek(config)?.kek;
  if (fromCache) {
    const raw = unsealKeys(config, fromCache);
    fromCache.fill(0);
    if (raw) {
      if (early && !early.cached) discard(early);
      return new RepoKeys(raw.subarray(0, 32), raw.subarray(32), chunkIdScheme(config));
    }
  }
  // 2. The passphrase: the early derivation when it is for these KDF parameters, else a new one.
  const reuse = early !== undefined && !early.cached && sameKdf(early.kdf, config.kdf);
  if (early && !reuse && !early.cached) discard(early);
  const kek = reuse ? await early.kek : await deriveKey(passphrase, config.kdf);
  const raw = unsealKeys(config, kek);
  kek.fill(0);
  if (!raw) throw wrongPassphrase(root, config);
  return new RepoKeys(raw.subarray(0, 32), raw.subarray(32), chunkIdScheme(config));
}

/** Zeroes an early derivation's key once it arrives (it is not used). */
function discard(p: PendingKek): void {
  p.kek.then(
    (k) => k.fill(0),
    () => {},
  );
}

/**
 * For `key-cache add`: derives the passphrase's key for `config` and checks that it opens the master
 * keys (WRONG_PASSPHRASE otherwise). The caller stores it and zeroes it.
 */
export async function deriveCheckedKek(root: string, config: RepoConfig, passphrase: Secret): Promise<Buffer> {
  const kek = await deriveKey(passphrase, config.kdf);
  const raw = unsealKeys(config, kek);
  if (!raw) {
    kek.fill(0);
    throw wrongPassphrase(root, config);
  }
  raw.fill(0);
  return kek;
}
