/**
 * `driveseed key-cache add | status | forget` / RPC `keyCache.add`, `keyCache.status`,
 * `keyCache.forget`: the opt-in cache of a repository's passphrase-derived key (docs/key-cache.md).
 * Named apart from `keys` (the BitLocker recovery passwords of the prepared drives): forgetting a
 * cached repository key must never read as deleting a drive's recovery password.
 */
import { usageError } from '../base/errors';
import { defineCommand } from '../core/command';
import { DEFAULT_TTL, type KeyCacheAddResult, type KeyCacheStatusResult, addKeyCache, forgetKeyCache, keyCacheStatus, parseTtl } from '../core/key-cache';
import { cookPassphrase } from '../core/passphrase';
import { cookStaging, passphraseOptions, stagingOption } from './options';

export const keyCacheAddCommand = defineCommand<
  { staging?: string; ttl?: string; passphraseFile?: string; passphrase?: string },
  { staging: string; ttlMs: number; passphrase: ReturnType<typeof cookPassphrase> },
  KeyCacheAddResult
>({
  name: 'key-cache add',
  rpcMethod: 'keyCache.add',
  summary: "Cache the staging repository's passphrase-derived key for a while, so that repeat stages and backups skip the key derivation (docs/key-cache.md)",
  options: [
    stagingOption('the staging location whose repository key to cache'),
    {
      flags: '--ttl <time>',
      name: 'ttl',
      description: `how long the key stays cached: 30m, 8h, 7d (1m to 30d; default ${DEFAULT_TTL})`,
      type: 'string',
      defaultValue: DEFAULT_TTL,
    },
    ...passphraseOptions,
  ],
  cook: (raw, ctx) => ({ staging: cookStaging(raw.staging), ttlMs: parseTtl(raw.ttl ?? DEFAULT_TTL), passphrase: cookPassphrase(raw, ctx.env) }),
  run: (o, ctx) => addKeyCache(o, ctx),
  renderText: (r) => `key of repository ${r.repository} (${r.staging}) cached in ${r.file} until ${r.expires}; \`driveseed key-cache forget\` removes it`,
});

export const keyCacheStatusCommand = defineCommand<Record<string, unknown>, Record<string, never>, KeyCacheStatusResult>({
  name: 'key-cache status',
  rpcMethod: 'keyCache.status',
  summary: 'List the cached repository keys: repository, staging location, expiry, and why one would not be used',
  options: [],
  cook: () => ({}),
  run: async (_o, ctx) => keyCacheStatus(ctx.env),
  renderText(r) {
    const head = r.disabled
      ? `key cache ${r.disabled === 'off' ? 'turned off (DRIVESEED_KEY_CACHE=off)' : 'not available on this platform'}; ${r.dir}`
      : `key cache ${r.dir}${r.dirProblem ? ` (not used: ${r.dirProblem})` : ''}`;
    const lines = r.entries.map(
      (e) => `${e.repository ?? '?'} ${e.staging ?? ''} until ${e.expires ?? '?'}: ${e.usable ? 'in use' : `not used (${e.reason ?? r.dirProblem})`}`,
    );
    return [head, ...(lines.length ? lines : ['no cached keys'])].join('\n');
  },
});

export const keyCacheForgetCommand = defineCommand<{ staging?: string; all?: boolean }, { staging?: string; all: boolean }, { removed: string[] }>({
  name: 'key-cache forget',
  rpcMethod: 'keyCache.forget',
  summary: 'Remove the cached key of a staging location (--staging) or every cached key (--all)',
  options: [
    stagingOption('the staging location whose cached key to remove', false),
    { flags: '--all', name: 'all', description: 'remove every cached repository key', type: 'boolean' },
  ],
  cook(raw) {
    if (raw.all === true && raw.staging !== undefined)
      throw usageError('CONFLICTING_OPTIONS', 'Give either --staging <dir> or --all, not both.', { field: 'all' });
    if (raw.all === true) return { all: true };
    return { staging: cookStaging(raw.staging, 'or --all to remove every cached key'), all: false };
  },
  run: async (o, ctx) => forgetKeyCache(o, ctx.env),
  renderText: (r) => (r.removed.length ? `removed ${r.removed.join(', ')}` : 'no cached key to remove'),
});
