/**
 * A new repository's config is written when the KDF has sealed its random master keys, while stage
 * already packs (Repository.initEarly): no index or snapshot is written before the config, the
 * config opens with the passphrase to the same keys, and a first stage killed before its config was
 * written leaves packs that the next stage (a new repository) removes as garbage. (A stage that is
 * cancelled or fails waits for its config: test/rpc-resume.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret } from '../src/base/secret';
import { restore } from '../src/core/restore';
import { stage } from '../src/core/stage';
import { readConfig } from '../src/repo/config';
import { Repository } from '../src/repo/repository';
import { FAST_KDF, PASS, collector, context, makeTree, passphrase } from './stage-fixtures';
import { tmpDir } from './helpers';

test('initEarly: the keys exist at once; an index written at once waits for the config and opens with it', async () => {
  const root = path.join(tmpDir(), 'staging');
  const repo = Repository.initEarly(root, new Secret(PASS), FAST_KDF);
  assert.is(readConfig(root), undefined, 'no config before the KDF ends');
  assert.is(repo.keys.raw().length, 64);
  const indexId = await repo.writeIndex([]);
  const config = readConfig(root);
  assert.ok(config, 'the config is on disk when the index write returns');
  assert.is(config!.id, repo.config.id);
  assert.ok(config!.keys.length > 0);
  const reopened = await Repository.open(root, new Secret(PASS));
  assert.ok(reopened.keys.raw().equals(repo.keys.raw()), 'the sealed keys are the ones the packs were written with');
  const index = await reopened.loadChunkIndex();
  assert.is(index.size, 0);
  assert.ok(fs.existsSync(path.join(root, 'index', indexId)));
});

test('initEarly refuses a directory that holds a repository, at once and when one appears before the write', async () => {
  const root = path.join(tmpDir(), 'staging');
  await Repository.init(root, new Secret(PASS), FAST_KDF);
  assert.throws(() => Repository.initEarly(root, new Secret(PASS), FAST_KDF), /already holds a driveseed repository/);
  const other = path.join(tmpDir(), 'staging');
  const repo = Repository.initEarly(other, new Secret(PASS), FAST_KDF);
  fs.copyFileSync(path.join(root, 'config'), path.join(other, 'config')); // another process wins the race
  let code: string | undefined;
  try {
    await repo.configWritten();
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.is(code, 'REPO_EXISTS');
  assert.is(readConfig(other)!.id, readConfig(root)!.id, 'the other process keeps its repository');
});

test('a first stage killed before its config was written: the next stage starts a new repository and removes the packs', async () => {
  const dir = tmpDir();
  const src = makeTree(dir);
  const staging = path.join(dir, 'staging');
  const first = await stage(
    { sources: [src], staging, passphrase: passphrase(), init: FAST_KDF, settings: { job: 'init-early' }, level: 3, threads: 2 },
    context(),
  );
  assert.ok(first.snapshot);
  // What a run killed before its config write leaves: packs, nothing a later run could read with their keys.
  for (const name of ['config', 'index', 'snapshots', 'packlists']) fs.rmSync(path.join(staging, name), { recursive: true, force: true });
  const packsBefore = fs.readdirSync(path.join(staging, 'data'), { recursive: true }).length;
  assert.ok(packsBefore > 0);
  const rep = collector();
  const second = await stage(
    { sources: [src], staging, passphrase: passphrase(), init: FAST_KDF, settings: { job: 'init-early' }, level: 3, threads: 2 },
    context(rep),
  );
  assert.ok(second.created, 'a new repository');
  assert.is.not(second.repository, first.repository);
  assert.ok(second.cleaned.files > 0, 'the old packs were removed as garbage');
  const to = path.join(dir, 'restored');
  await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.equal(fs.readdirSync(path.join(to, 'src')).sort(), fs.readdirSync(src).sort());
});

test('a first stage cancelled while it packs still leaves its config, and the next stage resumes that repository', async () => {
  const dir = tmpDir();
  const src = makeTree(dir);
  const staging = path.join(dir, 'staging');
  const ac = new AbortController();
  const run = { sources: [src], staging, passphrase: passphrase(), settings: { job: 'init-early' }, level: 3, threads: 2 };
  // A KDF far slower than the pack: the cancel comes long before scrypt ends.
  const slow = { kdf: { N: 2 ** 16, r: 8, p: 1 } };
  let failed: unknown;
  try {
    await stage({ ...run, init: slow, beforePack: () => ac.abort() }, { reporter: collector(), signal: ac.signal, env: {} });
  } catch (err) {
    failed = err;
  }
  assert.ok(failed, 'the stage was cancelled');
  const config = readConfig(staging);
  assert.ok(config, 'the config was written before the cancelled stage returned');
  const second = await stage({ ...run, init: slow }, context());
  assert.not.ok(second.created, 'the same repository');
  assert.is(second.repository, config!.id);
});

test.run();
