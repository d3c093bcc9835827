/**
 * Restore safety against a tampered snapshot (made with the repository's own keys, as an attacker
 * holding the passphrase could): unsafe names are refused, nothing is written outside --to, a
 * symlink never redirects a write; and --to must be empty.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PackDoneEvent, PackFileEvent } from '../src/native/binding';
import { loadBinding } from '../src/native/load';
import { restore } from '../src/core/restore';
import { restoreSourceFor } from '../src/core/restore-source';
import { coalesceRanges, GAP, MAX_RANGE } from '../src/cloud/range-fetch';
import { type Backend, LocalBackend } from '../src/repo/backend';
import { stage } from '../src/core/stage';
import { Secret } from '../src/base/secret';
import { packFromEvent } from '../src/repo/index-file';
import { Repository } from '../src/repo/repository';
import { writeSnapshot } from '../src/repo/snapshot';
import { TREE_HEADER } from '../src/repo/tree';
import { FAST_KDF, PASS, collector, context, passphrase } from './stage-fixtures';
import { tmpDir } from './helpers';

async function packFiles(repo: Repository, files: string[]): Promise<PackFileEvent[]> {
  const b = loadBinding();
  const evs: PackFileEvent[] = [];
  const packs: PackDoneEvent[] = [];
  await b.packJob(
    {
      files: files.map((f) => ({ path: f, size: fs.statSync(f).size })),
      packDir: repo.backend.localPath!('data'),
      chunker: repo.config.chunker,
      level: 3,
      threads: 1,
      keys: repo.keys.blobKeys(),
      known: Buffer.alloc(0),
    },
    (_p, e) => {
      for (const x of e) x.type === 'file' ? (evs[x.index] = x) : packs.push(x);
    },
  );
  await repo.writeIndex(packs.map((p) => packFromEvent(p, repo.config.blockSize)));
  return evs;
}

test('a tampered snapshot cannot write outside --to: unsafe names refused, symlinks never redirect writes', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'ok.txt'), 'fine\n');
  const staging = path.join(dir, 'staging');
  await stage({ sources: [src], staging, settings: { job: 'tamper-job' }, passphrase: passphrase(), level: 3, threads: 1, init: FAST_KDF }, context());
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);

  const repo = await Repository.open(staging, new Secret(PASS));
  const payload = path.join(dir, 'payload');
  fs.writeFileSync(payload, 'evil bytes\n');
  const [pe] = await packFiles(repo, [payload]);
  const c = [[pe!.chunks.toString('hex'), pe!.lengths[0]]];
  const meta = { m: 0o100644, u: 0, g: 0, mt: '1600000000000000000' };
  const dmeta = { m: 0o40755, u: 0, g: 0, mt: '1600000000000000000' };
  const recs = [
    { t: 'd', n: 'src', ...dmeta },
    { t: 'f', n: 'ok.txt', ...meta, s: 11, c },
    { t: 'f', n: '..', ...meta, s: 11, c },
    { t: 'f', n: '../../outside/escape.txt', ...meta, s: 11, c },
    { t: 'd', n: '..', ...dmeta },
    { t: 'f', n: 'escape2.txt', ...meta, s: 11, c },
    { t: 'e' },
    { t: 'l', n: 'evil', ...meta, tg: outside },
    { t: 'd', n: 'evil', ...dmeta },
    { t: 'f', n: 'through-link.txt', ...meta, s: 11, c },
    { t: 'e' },
    { t: 'h', n: 'dangling', k: 99 },
    { t: 'e' },
  ];
  const treeFile = path.join(dir, 'tree.jsonl');
  fs.writeFileSync(treeFile, [TREE_HEADER, ...recs.map((r) => JSON.stringify(r))].join('\n') + '\n');
  const [te] = await packFiles(repo, [treeFile]);
  const size = fs.statSync(treeFile).size;
  const chunks = te!.lengths.map((len, i) => [te!.chunks.toString('hex', i * 32, i * 32 + 32), len] as [string, number]);
  const id = writeSnapshot(staging, repo.keys, {
    version: 1,
    time: new Date(Date.now() + 60_000).toISOString(),
    host: 'attacker',
    sources: [src],
    tree: { chunks, size },
    summary: {
      files: 0,
      dirs: 0,
      symlinks: 0,
      hardlinks: 0,
      bytes: 0,
      bytesRead: 0,
      bytesNew: 0,
      bytesStored: 0,
      chunksNew: 0,
      chunksDuplicate: 0,
      packs: 0,
      filesFailed: 0,
      filesChanged: 0,
      durationMs: 0,
    },
  });
  repo.close();

  const to = path.join(dir, 'restore-root', 'to');
  const rep = collector();
  const r = await restore({ staging, to, snapshot: id, include: [], passphrase: passphrase(), threads: 1 }, context(rep));
  assert.is(r.verifyFailed, true);
  assert.is(r.refused, 3);
  assert.equal(rep.warnings.filter((w) => w.code === 'UNSAFE_NAME').length, 3);
  assert.equal(fs.readdirSync(outside), [], 'nothing was written outside --to');
  assert.equal(fs.readdirSync(path.join(dir, 'restore-root')), ['to']);
  assert.is(fs.readFileSync(path.join(to, 'src', 'ok.txt'), 'utf8'), 'evil bytes\n');
  // "evil" is the real directory; the symlink of the same name was refused, not followed.
  assert.ok(fs.lstatSync(path.join(to, 'src', 'evil')).isDirectory());
  assert.ok(fs.existsSync(path.join(to, 'src', 'evil', 'through-link.txt')));
  assert.ok(rep.warnings.some((w) => w.code === 'RESTORE_FILE_FAILED' && w.message.includes('dangling')));
});

test('restore refuses a non-empty --to and an unknown snapshot', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a'), 'a');
  const staging = path.join(dir, 'staging');
  await stage({ sources: [src], staging, settings: { job: 'refuse-job' }, passphrase: passphrase(), level: 3, threads: 1, init: FAST_KDF }, context());
  const to = path.join(dir, 'to');
  fs.mkdirSync(to);
  fs.writeFileSync(path.join(to, 'existing'), '');
  const code = async (o: Partial<Parameters<typeof restore>[0]>) => {
    try {
      await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 1, ...o }, context());
    } catch (err) {
      return (err as { code: string }).code;
    }
    return 'OK';
  };
  assert.is(await code({}), 'TARGET_NOT_EMPTY');
  assert.is(await code({ to: path.join(dir, 'to2'), snapshot: 'abcdef' }), 'SNAPSHOT_NOT_FOUND');
  assert.is(await code({ to: path.join(dir, 'to3'), passphrase: passphrase('nope') }), 'WRONG_PASSPHRASE');
  assert.is(await code({ to: path.join(dir, 'to4') }), 'OK');
});

test('restore sources: a local repository gives its pack files; a remote one fetches only the ranges a batch needs into sparse files, dropped after', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a.bin'), Buffer.alloc(300_000, 7));
  fs.writeFileSync(path.join(src, 'b.txt'), 'bee\n');
  const staging = path.join(dir, 'staging');
  await stage({ sources: [src], staging, settings: { job: 'source-job' }, passphrase: passphrase(), level: 3, threads: 1, init: FAST_KDF }, context());

  const local = restoreSourceFor(await Repository.open(staging, new Secret(PASS)), staging);
  const index = await local.repo.loadChunkIndex();
  assert.equal(
    local.packFiles(index),
    index.packs.map((p) => path.join(staging, p.path)),
  );
  local.close();

  // The same directory behind a backend without local files, as a container is.
  const inner = new LocalBackend(staging);
  let reads = 0;
  const remote: Backend = {
    description: 'remote',
    list: (p, s) => inner.list(p, s),
    stat: (p, s) => inner.stat(p, s),
    readRange: (p, o, l, s) => (reads++, inner.readRange(p, o, l, s)),
    readAll: (p, s) => inner.readAll(p, s),
    writeAtomic: (p, d, s) => inner.writeAtomic(p, d, s),
    putFile: (p, f, o) => inner.putFile(p, f, o),
    delete: (p, s) => inner.delete(p, s),
  };
  const work = path.join(dir, 'work');
  const source = restoreSourceFor(await Repository.open(remote, new Secret(PASS)), work);
  const idx = await source.repo.loadChunkIndex();
  const files = source.packFiles(idx);
  assert.ok(
    files.every((f) => f.startsWith(path.join(work, '.cache', 'restore'))),
    files.join(),
  );
  const doc = await source.repo.indexDoc((await source.repo.indexIds())[0]!);
  const entries = doc.packs[0]!.entries;
  const [id, offset, length] = entries[entries.length - 1]!;
  const loc = idx.lookup(Buffer.from(id, 'hex'))!;
  const pack = idx.packs[loc.pack]!;
  await source.fetchFor(idx, [{ chunks: [{ pack: loc.pack, offset, length, rawLength: 0, id: Buffer.from(id, 'hex') }] }]);
  assert.is(reads, 1);
  const fetched = fs.readFileSync(files[loc.pack]!);
  assert.is(fetched.length, offset + length, 'sparse up to the end of the range');
  assert.ok(fetched.subarray(offset).equals(fs.readFileSync(path.join(staging, pack.path)).subarray(offset, offset + length)));
  source.drop();
  assert.not.ok(fs.existsSync(files[loc.pack]!), 'dropped after the batch');
  source.close();
  assert.equal(fs.readdirSync(path.join(work, '.cache', 'restore')), []);

  // Ranges: neighbours within GAP merge, a range never grows past MAX_RANGE, packs stay apart.
  assert.equal(
    coalesceRanges([
      { pack: 0, offset: 0, length: 10 },
      { pack: 0, offset: 10 + GAP, length: 5 },
      { pack: 1, offset: 0, length: 1 },
      { pack: 0, offset: 20 + GAP, length: MAX_RANGE },
    ]),
    [
      { pack: 0, start: 0, end: 15 + GAP },
      { pack: 0, start: 20 + GAP, end: 20 + GAP + MAX_RANGE },
      { pack: 1, start: 0, end: 1 },
    ],
  );
});

test.run();
