/**
 * The opt-in key cache (src/repo/key-cache.ts, docs/key-cache.md). A cached key is used when it is
 * present, shown here by unlocking with a WRONG passphrase (only the cached key can open the
 * repository then); it is ignored, and the passphrase's key derived as without a cache, when it is
 * expired (and the file is then deleted), for another repository, for a changed config, readable by
 * others, in a directory others can write, a symbolic link, owned by another user (root only), or
 * turned off with DRIVESEED_KEY_CACHE=off. `key-cache forget` removes it; the key never appears in
 * what the CLI prints (text and --json). Repositories here use a cheap KDF (N=2^10).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret } from '../src/base/secret';
import { forgetKeyCache, keyCacheStatus, parseTtl } from '../src/core/key-cache';
import { type RepoConfig, createConfig, startKeyDerivation, unlockConfig } from '../src/repo/config';
import { deriveKey } from '../src/repo/crypto';
import { keyCacheDir, storeKek } from '../src/repo/key-cache';
import { tmpDir } from './helpers';
import { runCli } from './support/cli';

const base = tmpDir('driveseed-key-cache-');
const home = path.join(base, 'home');
process.env.DRIVESEED_HOME = home;
delete process.env.DRIVESEED_KEY_CACHE;
const RIGHT = new Secret('the right passphrase');
const WRONG = new Secret('not the passphrase');
const KDF = { N: 2 ** 10, r: 8, p: 1 };
const HOUR = 3_600_000;

let n = 0;
async function repo(): Promise<{ root: string; config: RepoConfig; kek: Buffer }> {
  const root = path.join(base, `repo-${n++}`);
  fs.mkdirSync(root, { recursive: true });
  const { config } = await createConfig(root, RIGHT, { kdf: KDF });
  return { root, config, kek: await deriveKey(RIGHT, config.kdf) };
}

const entryFile = (c: RepoConfig) => path.join(keyCacheDir(), `${c.id}.json`);

async function opensWithWrongPassphrase(root: string, config: RepoConfig): Promise<boolean> {
  try {
    await unlockConfig(root, config, WRONG);
    return true;
  } catch (e) {
    assert.is((e as { code?: string }).code, 'WRONG_PASSPHRASE');
    return false;
  }
}

test.before.each(() => {
  fs.rmSync(home, { recursive: true, force: true });
  delete process.env.DRIVESEED_KEY_CACHE;
});

test('used when present: the cached key opens the repository without the passphrase; without it the wrong passphrase fails', async () => {
  const r = await repo();
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  const { file } = storeKek(r.config, r.root, r.kek, HOUR);
  assert.is(file, entryFile(r.config));
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.is(fs.statSync(keyCacheDir()).mode & 0o777, 0o700);
  assert.not.ok(fs.readFileSync(file, 'utf8').includes(RIGHT.reveal()), 'the passphrase is not in the file');
  assert.is(await opensWithWrongPassphrase(r.root, r.config), true);
  // backup's early start finds it by the KDF parameters and salt, and derives nothing
  const early = startKeyDerivation(WRONG, r.config.kdf);
  assert.ok(early.cached);
  const keys = await unlockConfig(r.root, r.config, WRONG, early);
  assert.ok(keys);
});

test('ignored when expired (and the expired file is deleted)', async () => {
  const r = await repo();
  const { file } = storeKek(r.config, r.root, r.kek, HOUR);
  const e = JSON.parse(fs.readFileSync(file, 'utf8'));
  e.expires = new Date(Date.now() - 1000).toISOString();
  fs.writeFileSync(file, JSON.stringify(e), { mode: 0o600 });
  assert.equal(
    keyCacheStatus(process.env).entries.map((x) => x.reason),
    ['expired'],
  );
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  assert.not.ok(fs.existsSync(file), 'the expired entry is removed when seen');
  // the right passphrase still works as without a cache
  assert.ok(await unlockConfig(r.root, r.config, RIGHT));
});

test('ignored for another repository and for a changed config', async () => {
  const a = await repo();
  const b = await repo();
  // a's key stored under b's id: wrong repository
  const { file } = storeKek(a.config, a.root, a.kek, HOUR);
  fs.renameSync(file, entryFile(b.config));
  assert.is(await opensWithWrongPassphrase(b.root, b.config), false);
  assert.is(await opensWithWrongPassphrase(a.root, a.config), false);
  // the config re-sealed under another salt (a passphrase change): the binding no longer matches
  storeKek(a.config, a.root, a.kek, HOUR);
  const changed: RepoConfig = { ...a.config, kdf: { ...a.config.kdf, salt: b.config.kdf.salt }, keys: b.config.keys };
  assert.is(await opensWithWrongPassphrase(a.root, changed), false);
  assert.is(await opensWithWrongPassphrase(a.root, a.config), true);
  // a matching binding whose key does not open the keys (a damaged entry) is not used either
  const e = JSON.parse(fs.readFileSync(entryFile(a.config), 'utf8'));
  e.kek = Buffer.alloc(32, 7).toString('base64');
  fs.writeFileSync(entryFile(a.config), JSON.stringify(e), { mode: 0o600 });
  assert.is(await opensWithWrongPassphrase(a.root, a.config), false);
});

test('ignored when the file or the directory is open to others, or the file is a link', async () => {
  const r = await repo();
  const { file } = storeKek(r.config, r.root, r.kek, HOUR);
  fs.chmodSync(file, 0o640);
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  assert.equal(
    keyCacheStatus(process.env).entries.map((x) => x.reason),
    ['unsafe-mode'],
  );
  fs.chmodSync(file, 0o600);
  assert.is(await opensWithWrongPassphrase(r.root, r.config), true);
  fs.chmodSync(keyCacheDir(), 0o777);
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  assert.is(keyCacheStatus(process.env).dirProblem, 'unsafe-mode');
  // and `key-cache add` refuses to write into it
  try {
    storeKek(r.config, r.root, r.kek, HOUR);
    assert.unreachable('stored into a world-writable directory');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'KEY_CACHE_UNSAFE');
  }
  fs.chmodSync(keyCacheDir(), 0o700);
  const real = path.join(base, 'elsewhere.json');
  fs.renameSync(file, real);
  fs.symlinkSync(real, file);
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
});

test(`ignored when owned by another user${process.getuid?.() === 0 ? '' : ' [skipped: needs root to chown]'}`, async () => {
  if (process.getuid?.() !== 0) return;
  const r = await repo();
  const { file } = storeKek(r.config, r.root, r.kek, HOUR);
  fs.chownSync(file, 65534, 65534);
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  assert.equal(
    keyCacheStatus(process.env).entries.map((x) => x.reason),
    ['unsafe-owner'],
  );
});

test('DRIVESEED_KEY_CACHE=off: not read, and not written', async () => {
  const r = await repo();
  storeKek(r.config, r.root, r.kek, HOUR);
  process.env.DRIVESEED_KEY_CACHE = 'off';
  assert.is(await opensWithWrongPassphrase(r.root, r.config), false);
  assert.throws(
    () => storeKek(r.config, r.root, r.kek, HOUR),
    (e: { code?: string }) => e.code === 'KEY_CACHE_OFF',
  );
});

test('forget removes the entry of one staging location, or all', async () => {
  const a = await repo();
  const b = await repo();
  storeKek(a.config, a.root, a.kek, HOUR);
  storeKek(b.config, b.root, b.kek, HOUR);
  assert.equal(forgetKeyCache({ staging: a.root, all: false }, process.env).removed, [entryFile(a.config)]);
  assert.is(await opensWithWrongPassphrase(a.root, a.config), false);
  assert.is(await opensWithWrongPassphrase(b.root, b.config), true);
  // by the recorded path also when the staging location is gone
  fs.rmSync(b.root, { recursive: true });
  assert.equal(forgetKeyCache({ staging: b.root, all: false }, process.env).removed, [entryFile(b.config)]);
  // a path that is neither a staging location nor recorded: an error, not a silent no-op
  assert.throws(
    () => forgetKeyCache({ staging: b.root, all: false }, process.env),
    (e: { code?: string }) => e.code === 'STAGING_NOT_FOUND',
  );
  storeKek(a.config, a.root, a.kek, HOUR);
  assert.equal(forgetKeyCache({ all: true }, process.env).removed.length, 1);
  assert.equal(fs.readdirSync(keyCacheDir()), []);
});

test('--ttl: 1m to 30d', () => {
  assert.is(parseTtl('30m'), 30 * 60_000);
  assert.is(parseTtl('8h'), 8 * HOUR);
  assert.is(parseTtl('7d'), 7 * 24 * HOUR);
  for (const bad of ['0m', '59s', '31d', '8', 'h', '-1h', 'soon'])
    assert.throws(
      () => parseTtl(bad),
      (e: { code?: string }) => e.code === 'INVALID_OPTION',
      bad,
    );
});

test('the CLI: add, status, forget; the key is never printed (text, --json, errors)', async () => {
  const r = await repo();
  const pf = path.join(base, 'pass');
  fs.writeFileSync(pf, `${RIGHT.reveal()}\n`, { mode: 0o600 });
  const env = { DRIVESEED_HOME: home, DRIVESEED_PASSPHRASE: '' };
  const outputs: string[] = [];
  const run = (args: string[], extra: Record<string, string> = {}) => {
    const x = runCli(args, { ...env, ...extra });
    outputs.push(x.stdout, x.stderr);
    return x;
  };
  const add = run(['--json', 'key-cache', 'add', '--staging', r.root, '--passphrase-file', pf, '--ttl', '2h']);
  assert.is(add.code, 0, add.stderr);
  const res = JSON.parse(add.stdout.trim().split('\n').pop()!).data;
  assert.is(res.repository, r.config.id);
  assert.ok(Math.abs(Date.parse(res.expires) - Date.now() - 2 * HOUR) < 60_000, res.expires);
  assert.is(run(['key-cache', 'add', '--staging', r.root, '--passphrase-file', pf]).code, 0);
  assert.match(run(['key-cache', 'status']).stdout, `${r.config.id} ${r.root} until`);
  const wrong = path.join(base, 'wrong');
  fs.writeFileSync(wrong, 'wrong\n', { mode: 0o600 });
  const bad = run(['--json', 'key-cache', 'add', '--staging', r.root, '--passphrase-file', wrong]);
  assert.is(bad.code, 1);
  assert.match(bad.stdout, '"code":"WRONG_PASSPHRASE"');
  assert.match(run(['--json', 'key-cache', 'add', '--staging', r.root, '--passphrase-file', pf], { DRIVESEED_KEY_CACHE: 'off' }).stdout, 'KEY_CACHE_OFF');
  const forget = run(['--json', 'key-cache', 'forget', '--staging', r.root]);
  assert.match(forget.stdout, `${r.config.id}.json`);
  assert.is(run(['key-cache', 'forget', '--all']).stdout.trim(), 'no cached key to remove');
  assert.is(run(['key-cache', 'forget']).code, 2);
  const text = outputs.join('\n');
  for (const form of [r.kek.toString('base64'), r.kek.toString('hex'), r.kek.toString('base64url'), RIGHT.reveal()])
    assert.not.ok(text.includes(form), 'the key or the passphrase appears in the output');
});

test.run();
