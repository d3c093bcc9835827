// Where the cloud repository is and whether backups may run (src/cloud/settings.ts), and the retry
// rules (src/cloud/retry.ts). No Azurite needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeLocation } from '../src/cloud/client';
import { isTransient, withRetry } from '../src/cloud/retry';
import { cloudLocationFromSettings, requireSeedComplete, seedComplete } from '../src/cloud/settings';
import { DriveseedError } from '../src/base/errors';
import type { JobSettings } from '../src/core/settings';

const base: JobSettings = { version: 1, staging: '/s', job: 'job1', account: 'acct1', container: 'repo' };

test('credentials come from the environment in order of precedence, never from the settings; none → DefaultAzureCredential', () => {
  const kinds = (env: Record<string, string>) => cloudLocationFromSettings(base, '/s', env).credentials.kind;
  assert.is(kinds({}), 'defaultAzureCredential');
  assert.is(kinds({ DRIVESEED_STORAGE_KEY: 'k'.repeat(20) }), 'sharedKey');
  assert.is(kinds({ DRIVESEED_STORAGE_KEY: 'k'.repeat(20), DRIVESEED_STORAGE_SAS: 'sv=1&sig=abc' }), 'sas');
  assert.is(kinds({ DRIVESEED_STORAGE_SAS: 'sv=1&sig=abc', DRIVESEED_STORAGE_CONNECTION_STRING: 'AccountName=a;AccountKey=b' }), 'connectionString');
  const loc = cloudLocationFromSettings(base, '/s', { DRIVESEED_STORAGE_KEY: 'supersecretkeyvalue==' });
  assert.is(describeLocation(loc), 'https://acct1.blob.core.windows.net/repo');
  assert.not.ok(JSON.stringify(loc).includes('supersecretkeyvalue'), 'the key is a Secret');
});

test('Azurite development key only for devstoreaccount1 on a loopback endpoint', () => {
  const local = cloudLocationFromSettings({ ...base, account: 'devstoreaccount1', blobEndpoint: 'http://127.0.0.1:10000/devstoreaccount1' }, '/s', {});
  assert.is(local.credentials.kind, 'sharedKey');
  const remote = cloudLocationFromSettings({ ...base, account: 'devstoreaccount1', blobEndpoint: 'https://example.net/devstoreaccount1' }, '/s', {});
  assert.is(remote.credentials.kind, 'defaultAzureCredential');
});

test('missing account or container is CLOUD_CONFIG naming the field', () => {
  try {
    cloudLocationFromSettings({ ...base, container: undefined }, '/s', {});
    assert.unreachable();
  } catch (err) {
    assert.is((err as DriveseedError).code, 'CLOUD_CONFIG');
    assert.is((err as DriveseedError).details?.field, 'container');
  }
});

test('backup refuses until complete, naming the next step for each seed state', () => {
  const msg = (seed: Record<string, unknown> | undefined) => {
    try {
      requireSeedComplete({ ...base, ...(seed ? { seed } : {}) }, '/s', 'backup');
      return 'allowed';
    } catch (err) {
      assert.is((err as DriveseedError).code, 'SEED_NOT_COMPLETE');
      assert.is((err as DriveseedError).exitCode, 2);
      return (err as Error).message;
    }
  };
  assert.match(msg(undefined), /driveseed prep --staging/);
  assert.match(msg({ state: 'job-created' }), /driveseed ship --staging/);
  assert.not.match(msg({ state: 'job-created' }), /driveseed prep/);
  assert.match(msg({ state: 'importing' }), /driveseed status --staging "\/s"`, and when the job is Completed run `driveseed complete/);
  assert.match(msg({ state: 'imported' }), /driveseed complete --staging/);
  assert.is(msg({ state: 'complete' }), 'allowed');
  assert.ok(seedComplete({ ...base, seed: { completed: '2026-11-24T00:00:00Z' } }));
});

test('transient: 408, 429, 5xx, resets, timeouts; not: 400, 403, 404, 409, 412', () => {
  for (const s of [408, 429, 500, 503]) assert.ok(isTransient({ statusCode: s }), String(s));
  for (const s of [400, 403, 404, 409, 412]) assert.not.ok(isTransient({ statusCode: s }), String(s));
  assert.ok(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  assert.ok(isTransient(new Error('socket hang up')));
  assert.not.ok(isTransient(new Error('bad request')));
});

test('withRetry retries transient failures, stops at a permanent one, and an abort surfaces its reason', async () => {
  let n = 0;
  const v = await withRetry(
    async () => {
      if (++n < 3) throw Object.assign(new Error('busy'), { statusCode: 503 });
      return 'ok';
    },
    undefined,
    { baseDelayMs: 1 },
  );
  assert.is(v, 'ok');
  assert.is(n, 3);

  n = 0;
  const perm = await withRetry(
    async () => {
      n++;
      throw Object.assign(new Error('nope'), { statusCode: 400 });
    },
    undefined,
    { baseDelayMs: 1 },
  ).catch((e: unknown) => e);
  assert.is(n, 1);
  assert.is((perm as { attempts?: number }).attempts, 1);

  n = 0;
  const out = await withRetry(
    async () => {
      n++;
      throw Object.assign(new Error('busy'), { statusCode: 503 });
    },
    undefined,
    { baseDelayMs: 1, attempts: 4 },
  ).catch((e: unknown) => e);
  assert.is(n, 4);
  assert.is((out as { attempts?: number }).attempts, 4);

  const ctl = new AbortController();
  const reason = new DriveseedError('LEASE_LOST', 'lost', { category: 'FAILED' });
  const p = withRetry((s) => new Promise((_, reject) => s.addEventListener('abort', () => reject(new Error('aborted')))), ctl.signal);
  ctl.abort(reason);
  assert.is(await p.catch((e: unknown) => e), reason);

  const timedOut = await withRetry((s) => new Promise((_, reject) => s.addEventListener('abort', () => reject(new Error('aborted')))), undefined, {
    attemptTimeoutMs: 5,
    attempts: 2,
    baseDelayMs: 1,
  }).catch((e: unknown) => e);
  assert.is((timedOut as { code?: string }).code, 'ATTEMPT_TIMEOUT');
  assert.is((timedOut as { attempts?: number }).attempts, 2);
});

test.run();
