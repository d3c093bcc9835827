/**
 * `driveseed key-cache add | status | forget` (docs/key-cache.md): the opt-in cache of a staging
 * location's passphrase-derived key, which lets repeat stages and backups skip scrypt. The file
 * format, its checks and where unlockConfig reads it: src/repo/key-cache.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError, usageError } from '../base/errors';
import { deriveCheckedKek, readConfig } from '../repo/config';
import { type EntryStatus, type Unusable, cacheDisabled, forgetEntries, listEntries, requireCacheUsable, storeKek } from '../repo/key-cache';
import type { CommandContext } from './command';
import { type PassphraseSource, resolvePassphrase } from './passphrase';

/** Default 8 hours: a working day of repeat runs; a nightly schedule asks for more with --ttl. */
export const DEFAULT_TTL = '8h';
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 30 * 86_400_000;

/** `--ttl 30m | 8h | 7d` (s, m, h, d; from 1 minute to 30 days) in milliseconds, or INVALID_OPTION naming --ttl. */
export function parseTtl(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/i.exec(value);
  const ms = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : Number.NaN;
  if (!(ms >= MIN_TTL_MS && ms <= MAX_TTL_MS)) {
    throw usageError('INVALID_OPTION', `Invalid --ttl "${value}": expected a time from 1m to 30d, such as 30m, 8h or 7d.`, { field: 'ttl', value });
  }
  return Math.round(ms);
}

function stagingConfig(staging: string) {
  const config = readConfig(staging);
  if (!config) {
    throw new DriveseedError(
      'REPO_NOT_FOUND',
      `${staging} holds no driveseed repository (no config file). Check --staging, or run \`driveseed stage\` to create one.`,
      {
        category: 'USAGE',
        details: { staging },
      },
    );
  }
  return config;
}

export interface KeyCacheAddResult {
  staging: string;
  repository: string;
  file: string;
  expires: string;
}

/** Derives the key from the passphrase (scrypt, as every run does), checks it opens the repository, caches it. */
export async function addKeyCache(
  o: { staging: string; passphrase: PassphraseSource; ttlMs: number },
  ctx: Pick<CommandContext, 'prompter' | 'env'>,
): Promise<KeyCacheAddResult> {
  requireCacheUsable(ctx.env);
  const config = stagingConfig(o.staging);
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  const kek = await deriveCheckedKek(o.staging, config, passphrase);
  try {
    const { file, expires } = storeKek(config, o.staging, kek, o.ttlMs, ctx.env);
    return { staging: o.staging, repository: config.id, file, expires };
  } finally {
    kek.fill(0);
  }
}

export interface KeyCacheStatusResult {
  dir: string;
  /** off: DRIVESEED_KEY_CACHE=off; unsupported: Windows (no mode bits to check) */
  disabled: 'off' | 'unsupported' | null;
  /** why the directory itself is refused (then no entry is used) */
  dirProblem: Unusable | null;
  entries: Array<{ file: string; repository: string | null; staging: string | null; expires: string | null; usable: boolean; reason: Unusable | null }>;
}

export function keyCacheStatus(env: Record<string, string | undefined>): KeyCacheStatusResult {
  const { dir, entries, dirProblem } = listEntries(env);
  return {
    dir,
    disabled: cacheDisabled(env) ?? null,
    dirProblem: dirProblem ?? null,
    entries: entries.map((e) => ({
      file: e.file,
      repository: e.repository,
      staging: e.staging,
      expires: e.expires,
      usable: !e.unusable && !dirProblem,
      reason: e.unusable ?? null,
    })),
  };
}

/**
 * Removes the cached keys of one staging location (the entry of its repository id, and any entry
 * recorded for that path, also when the staging location is gone) or, with `all`, every entry.
 */
export function forgetKeyCache(o: { staging?: string; all: boolean }, env: Record<string, string | undefined>): { removed: string[] } {
  if (o.all) return { removed: forgetEntries(undefined, env) };
  const staging = path.resolve(o.staging!);
  let id: string | undefined;
  try {
    id = readConfig(staging)?.id;
  } catch {
    /* an unreadable or damaged config: forget by the recorded path only */
  }
  const pick = (e: EntryStatus) => e.staging === staging || (id !== undefined && e.repository === id);
  const removed = forgetEntries(pick, env);
  // A mistyped path must not read as "forgotten": nothing cached for it and no such directory is an error.
  if (removed.length === 0 && !fs.existsSync(staging)) {
    throw new DriveseedError(
      'STAGING_NOT_FOUND',
      `${staging} does not exist and no key is cached for it; check --staging (\`driveseed key-cache status\` lists the cached keys).`,
      {
        category: 'USAGE',
        details: { staging },
      },
    );
  }
  return { removed };
}
