// The repository over a container (src/repo/repository.ts), the seed upload (src/cloud/seed.ts) and the index
// cache (src/repo/index-cache.ts) against a private Azurite. Needs no native pack job: index and
// snapshot files are written by the repository code in JS, packs are plain random files.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalBackend, blockMd5Of } from '../src/repo/backend';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { containerClientFor, describeLocation } from '../src/cloud/client';
import { ContainerBackend } from '../src/cloud/container-backend';
import { uploadRepository } from '../src/cloud/seed';
import type { DriveseedError } from '../src/base/errors';
import { listSnapshots } from '../src/core/snapshots';
import { Secret } from '../src/base/secret';
import { type IndexPack, writeIndex } from '../src/repo/index-file';
import { packPath } from '../src/repo/layout';
import { indexCacheDir } from '../src/repo/index-cache';
import { Repository } from '../src/repo/repository';
import { writeSnapshot } from '../src/repo/snapshot';
import { tmpDir } from './helpers';

let azurite: AzuriteHandle;
const pass = new Secret('correct horse battery staple');
const dirs: string[] = [];

test.before(async () => {
  azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A staged repository with `nIndex` index files of 2 fake packs each and one snapshot. */
async function stagedRepo(nIndex: number): Promise<{ dir: string; chunkIds: string[] }> {
  const dir = tmpDir('driveseed-cloudrepo-');
  dirs.push(dir);
  const repo = await Repository.init(dir, pass, { kdf: { N: 1024, r: 8, p: 1 } });
  const chunkIds: string[] = [];
  for (let i = 0; i < nIndex; i++) {
    const packs: IndexPack[] = [];
    for (let j = 0; j < 2; j++) {
      const bytes = randomBytes(5 * 1024 * 1024 + j);
      const name = randomBytes(32).toString('hex');
      fs.mkdirSync(path.join(dir, 'data', name.slice(0, 2)), { recursive: true });
      fs.writeFileSync(path.join(dir, packPath(name)), bytes);
      const id = randomBytes(32).toString('hex');
      chunkIds.push(id);
      const md5 = blockMd5Of(bytes);
      packs.push({
        name,
        path: packPath(name),
        size: bytes.length,
        blockSize: 4 * 1024 * 1024,
        blockMd5: [md5.toString('hex', 0, 16), md5.toString('hex', 16, 32)],
        entries: [[id, 0, bytes.length, bytes.length]],
      });
    }
    writeIndex(dir, repo.keys, packs);
  }
  writeSnapshot(dir, repo.keys, {
    version: 1,
    time: new Date().toISOString(),
    host: 'h',
    sources: ['/src'],
    tree: { chunks: [[chunkIds[0]!, 10]], size: 10 },
    summary: {
      files: 1,
      dirs: 0,
      symlinks: 0,
      hardlinks: 0,
      bytes: 123,
      bytesRead: 123,
      bytesNew: 0,
      bytesStored: 0,
      chunksNew: 0,
      chunksDuplicate: 0,
      packs: 0,
      filesFailed: 0,
      filesChanged: 0,
      durationMs: 1,
    },
  });
  return { dir, chunkIds };
}

let n = 0;
async function container(): Promise<ContainerBackend> {
  const loc = azurite.location(`repo${++n}`);
  const be = new ContainerBackend(containerClientFor(loc), describeLocation(loc));
  await be.ensureContainer();
  return be;
}

test('seed upload puts every repository file under the same path; a rerun sends no pack again', async () => {
  const { dir } = await stagedRepo(2);
  const be = await container();
  const first = await uploadRepository(dir, be);
  const remote = (await be.list('')).map((e) => e.path);
  assert.ok(remote.includes('config'));
  assert.is(remote.filter((p) => p.startsWith('data/')).length, 4);
  assert.is(remote.filter((p) => p.startsWith('index/') && !p.endsWith('.json')).length, 2);
  assert.is(remote.filter((p) => p.startsWith('snapshots/')).length, 1);
  assert.not.ok(remote.includes('settings.json'));
  assert.ok(first.bytesSent >= 4 * 5 * 1024 * 1024);
  const second = await uploadRepository(dir, be);
  assert.ok(second.bytesSent < 64 * 1024, `second upload sent ${second.bytesSent} bytes`);
});

test('index cache: the first load fetches every index file, the next reuses them all; a damaged cache file is fetched again', async () => {
  const { dir, chunkIds } = await stagedRepo(3);
  const be = await container();
  await uploadRepository(dir, be);
  const staging = tmpDir('driveseed-cloudstaging-');
  dirs.push(staging);
  const cache = indexCacheDir(staging);
  const repo = await Repository.open(be, pass, { indexCache: cache });
  const a = await repo.loadIndex();
  assert.is(a.sync!.fetched, 3);
  assert.is(a.sync!.reused, 0);
  assert.is(a.index.size, chunkIds.length);
  for (const id of chunkIds) assert.ok(a.index.lookup(Buffer.from(id, 'hex')), `chunk ${id} indexed`);
  const readsBefore = be.counters.bytesRead;
  const b = await repo.loadIndex();
  assert.is(b.sync!.fetched, 0);
  assert.is(b.sync!.reused, 3);
  assert.is(be.counters.bytesRead, readsBefore, 'nothing downloaded');
  const victim = fs.readdirSync(cache)[0]!;
  fs.appendFileSync(path.join(cache, victim), 'x');
  const c = await repo.loadIndex();
  assert.is(c.sync!.fetched, 1);
  assert.is(c.sync!.reused, 2);
  assert.is(c.index.size, chunkIds.length);
  // An index file deleted in the container leaves the cache too.
  await be.delete(`index/${victim}`);
  const d = await repo.loadIndex();
  assert.is(d.sync!.ids.length, 2);
  assert.not.ok(fs.existsSync(path.join(cache, victim)));
});

test('snapshots are listed from the container; a wrong passphrase is WRONG_PASSPHRASE; an empty container is REPO_NOT_FOUND', async () => {
  const { dir } = await stagedRepo(1);
  const be = await container();
  await uploadRepository(dir, be);
  const repo = await Repository.open(be, pass);
  const snaps = await repo.listSnapshots();
  assert.is(snaps.length, 1);
  assert.is(snaps[0]!.doc.summary.bytes, 123);
  assert.is((await repo.resolveSnapshot('latest')).id, snaps[0]!.id);
  assert.is((await repo.resolveSnapshot(snaps[0]!.id.slice(0, 6))).id, snaps[0]!.id);
  const wrong = await Repository.open(be, new Secret('not the passphrase')).catch((e: unknown) => e);
  assert.is((wrong as DriveseedError).code, 'WRONG_PASSPHRASE');
  const empty = await Repository.open(await container(), pass).catch((e: unknown) => e);
  assert.is((empty as DriveseedError).code, 'REPO_NOT_FOUND');
});

test('one Repository over both backends: a local directory and the container it was uploaded to read the same index, snapshots and pack lists; written index and snapshot land in either', async () => {
  const { dir, chunkIds } = await stagedRepo(2);
  const be = await container();
  await uploadRepository(dir, be);
  const local = await Repository.open(new LocalBackend(dir), pass);
  const cloud = await Repository.open(be, pass);
  assert.equal(await cloud.indexIds(), await local.indexIds());
  assert.is((await cloud.loadChunkIndex()).size, chunkIds.length);
  assert.is((await local.loadChunkIndex()).size, chunkIds.length);
  assert.equal(await cloud.listSnapshots(), await local.listSnapshots());
  const id = (await local.indexIds())[0]!;
  assert.equal(await cloud.packList(id), await local.packList(id));
  // Messages name the repository where it is: the directory, or the container.
  const missing = (r: Repository) =>
    r.resolveSnapshot('ffff').then(
      () => 'found',
      (e: DriveseedError) => e.message,
    );
  assert.match(await missing(local), `No snapshot ffff in ${dir}; `);
  assert.match(await missing(cloud), `No snapshot ffff in ${be.description}; `);
  for (const repo of [local, cloud]) {
    const doc = (await repo.listSnapshots())[0]!.doc;
    const sid = await repo.writeSnapshot({ ...doc, host: 'other' });
    assert.is((await repo.resolveSnapshot(sid.slice(0, 8))).doc.host, 'other');
    const iid = await repo.writeIndex([]);
    assert.ok((await repo.indexIds()).includes(iid));
    assert.equal((await repo.packList(iid)).packs, []);
  }
  local.close();
});

test('snapshots command: the same listing from the staging repository and, with cloud, from the container', async () => {
  const { dir } = await stagedRepo(1);
  const be = await container();
  await uploadRepository(dir, be);
  const ctx = { reporter: { progress() {}, warning() {}, info() {}, event() {} }, signal: new AbortController().signal, env: {} };
  const local = await listSnapshots({ staging: dir, cloud: false, passphrase: { kind: 'param', secret: pass } }, ctx);
  assert.is(local.location, dir);
  assert.is(local.snapshots.length, 1);
  assert.is(local.snapshots[0]!.bytes, 123);
  assert.is(local.snapshots[0]!.sources[0], '/src');
  const loc = azurite.location(`repo${n}`);
  const cloud = await listSnapshots({ staging: dir, cloud: true, passphrase: { kind: 'param', secret: pass }, location: loc }, ctx);
  assert.equal(cloud.snapshots, local.snapshots);
  assert.match(cloud.location, /\/devstoreaccount1\/repo\d+$/);
});

test.run();
