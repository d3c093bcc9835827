/**
 * stage → restore round trips through the native pipeline: byte-identical contents and metadata
 * over an awkward tree, deduplication on re-stage, few new chunks after an insert near the start of
 * a large file, refusals before any work, wrong passphrase.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stageCommand } from '../src/commands/stage';
import { check } from '../src/core/check';
import type { DriveseedError } from '../src/base/errors';
import { restore } from '../src/core/restore';
import { type StageOptions, stage } from '../src/core/stage';
import { readPackList, listIndexIds } from '../src/repo/index-file';
import { Repository } from '../src/repo/repository';
import { Secret } from '../src/base/secret';
import { FAST_KDF, PASS, collector, context, describe, makeTree, noise, passphrase } from './stage-fixtures';
import { isRoot, tmpDir } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const opts = (sources: string[], staging: string, extra: Partial<StageOptions> = {}): StageOptions => ({
  sources,
  staging,
  settings: { job: 'test-job' },
  passphrase: passphrase(),
  level: 3,
  threads: 2,
  init: FAST_KDF,
  ...extra,
});

const packBytes = (staging: string) => {
  let n = 0;
  const data = path.join(staging, 'data');
  for (const d of fs.readdirSync(data)) {
    const p = path.join(data, d);
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) n += fs.statSync(path.join(p, f)).size;
  }
  return n;
};

test('stage → restore is byte-identical with metadata; pack lists carry correct block MD5s; check is clean', async () => {
  const dir = tmpDir();
  const src = makeTree(dir);
  const staging = path.join(dir, 'staging');
  const rep = collector();
  const r = await stage(opts([src], staging, { batchFiles: 3 }), context(rep));
  assert.is(r.partial, false, JSON.stringify(rep.warnings));
  assert.is(r.summary.hardlinks, 1);
  assert.is(r.summary.symlinks, 2);
  assert.is(r.summary.files, 9, JSON.stringify(r.summary));
  assert.ok(r.indexFiles.length >= 3, 'one index file per batch');
  assert.ok(rep.lastProgress && rep.lastProgress.bytesTotal! > 0);
  // Sparse: the 8 MiB file with 4 KiB of data is stored without its holes.
  assert.ok(r.summary.bytesRead < r.summary.bytes - 6 * 1024 * 1024, `read ${r.summary.bytesRead} of ${r.summary.bytes}`);
  // Pack lists: every 4 MiB block's MD5 as recorded equals the file's.
  for (const id of listIndexIds(staging)) {
    for (const p of readPackList(staging, id).packs) {
      const buf = fs.readFileSync(path.join(staging, p.path));
      assert.is(buf.length, p.size);
      const md5s = [];
      for (let o = 0; o < buf.length; o += p.blockSize)
        md5s.push(
          createHash('md5')
            .update(buf.subarray(o, o + p.blockSize))
            .digest('hex'),
        );
      assert.equal(p.blockMd5, md5s);
      // The content name: SHA-256 of size (u64 LE) || blockSize (u64 LE) || block MD5s (docs/format-packs.md).
      const head = Buffer.alloc(16);
      head.writeBigUInt64LE(BigInt(buf.length), 0);
      head.writeBigUInt64LE(BigInt(p.blockSize), 8);
      assert.is(
        createHash('sha256')
          .update(head)
          .update(Buffer.from(md5s.join(''), 'hex'))
          .digest('hex'),
        p.name,
      );
    }
  }
  const settings = JSON.parse(fs.readFileSync(path.join(staging, 'settings.json'), 'utf8'));
  assert.is(settings.job, 'test-job');

  const to = path.join(dir, 'restored');
  const rr = await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.is(rr.verifyFailed, false);
  const want = describe(src, { dirMtime: true });
  const got = describe(path.join(to, 'src'), { dirMtime: true });
  assert.equal([...got.keys()], [...want.keys()]);
  for (const [k, w] of want) {
    const g = got.get(k)!;
    assert.equal({ ...g, blocks: undefined, uid: isRoot ? g.uid : w.uid, gid: isRoot ? g.gid : w.gid }, { ...w, blocks: undefined }, k);
  }
  // The sparse file is restored sparse.
  assert.ok(got.get('sparse.img')!.blocks! * 512 < 1024 * 1024, `sparse.img uses ${got.get('sparse.img')!.blocks! * 512} bytes`);

  const c = await check({ staging, passphrase: passphrase(), readData: true, threads: 2 }, context());
  assert.ok(c.healthy, JSON.stringify(c.problems));
  assert.equal(c.garbage.temps, []);
  assert.equal(c.garbage.unreferencedPacks, []);
});

test('re-staging an unchanged tree stores < 1% new data; an insert near the start of a large file stores few chunks', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const big = noise(24 * 1024 * 1024, 11);
  fs.writeFileSync(path.join(src, 'big.bin'), big);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(src, `small-${i}.bin`), noise(10_000 + i, 100 + i));
  // Out of the "racily clean" window: files changed less than 100 ms before a run are read again by the next.
  await sleep(250);
  const staging = path.join(dir, 'staging');
  const first = await stage(opts([src], staging), context());
  const after1 = packBytes(staging);
  const second = await stage(opts([src], staging), context());
  const after2 = packBytes(staging);
  assert.ok(second.summary.bytesNew < 0.01 * first.summary.bytes, `unchanged re-stage stored ${second.summary.bytesNew} new bytes`);
  assert.ok(after2 - after1 < 0.01 * after1, `packs grew by ${after2 - after1} bytes`);
  assert.is.not(second.snapshot, first.snapshot);
  assert.is(second.summary.filesUnchanged, 51, 'every file is unchanged since the parent snapshot');
  assert.is(second.summary.bytesRead, 0, 'unchanged files are not read');
  assert.is(second.summary.bytes, first.summary.bytes);
  // The unchanged files' records are the parent's lines as stored: the tree stream is the same bytes.
  const repo = await Repository.open(staging, new Secret(PASS));
  assert.equal((await repo.readSnapshot(second.snapshot)).tree, (await repo.readSnapshot(first.snapshot)).tree);

  // Insert 7 bytes at 100 KiB: only the chunks around the insert (and the tree) are new.
  const edited = Buffer.concat([big.subarray(0, 100 * 1024), Buffer.from('INSERT!'), big.subarray(100 * 1024)]);
  fs.writeFileSync(path.join(src, 'big.bin'), edited);
  const third = await stage(opts([src], staging), context());
  assert.is(third.summary.filesUnchanged, 50, 'only the edited file is read');
  assert.is(third.summary.bytesRead, edited.length);
  assert.ok(third.summary.chunksNew <= 4, `chunksNew ${third.summary.chunksNew}`);
  assert.ok(third.summary.bytesNew < 10 * 1024 * 1024, `bytesNew ${third.summary.bytesNew} of a 24 MiB file`);
  const to = path.join(dir, 'restored');
  const rr = await restore({ staging, to, snapshot: third.snapshot.slice(0, 8), include: ['src/big.bin'], passphrase: passphrase(), threads: 2 }, context());
  assert.is(rr.files, 1);
  assert.ok(fs.readFileSync(path.join(to, 'src', 'big.bin')).equals(edited));
  assert.equal(fs.readdirSync(path.join(to, 'src')), ['big.bin']);
  // The whole tree of the third snapshot, whose records went partly straight to the tree stream (before
  // the edited file) and partly through the batch that read it.
  const all = path.join(dir, 'restored-all');
  await restore({ staging, to: all, snapshot: third.snapshot, include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.equal(fs.readdirSync(path.join(all, 'src')).sort(), fs.readdirSync(src).sort());
  for (const name of fs.readdirSync(src)) assert.ok(fs.readFileSync(path.join(all, 'src', name)).equals(fs.readFileSync(path.join(src, name))), name);
});

test('unchanged-file test: a same-size rewrite with the old mtime is read again (ctime); --read-all reads everything; restores match', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const a = path.join(src, 'sub', 'a.bin');
  fs.writeFileSync(a, noise(100_000, 1));
  fs.utimesSync(a, 1e9, 1e9); // whole seconds, so the same mtime can be set again exactly
  fs.writeFileSync(path.join(src, 'b.txt'), 'b\n');
  fs.writeFileSync(path.join(src, 'sub', 'c.txt'), 'c\n');
  await sleep(250);
  const staging = path.join(dir, 'staging');
  const first = await stage(opts([src], staging), context());
  assert.is(first.summary.filesUnchanged, 0, 'no parent snapshot yet');
  // Same size, mtime put back: only ctime (and the content) tell.
  fs.writeFileSync(a, noise(100_000, 2));
  fs.utimesSync(a, 1e9, 1e9);
  assert.is(fs.statSync(a, { bigint: true }).mtimeNs, 10n ** 18n);
  const second = await stage(opts([src], staging), context());
  assert.is(second.summary.filesUnchanged, 2);
  assert.is(second.summary.bytesRead, 100_000);
  const to = path.join(dir, 'r1');
  await restore({ staging, to, snapshot: second.snapshot, include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.ok(fs.readFileSync(path.join(to, 'src', 'sub', 'a.bin')).equals(noise(100_000, 2)));
  assert.is(fs.readFileSync(path.join(to, 'src', 'sub', 'c.txt'), 'utf8'), 'c\n');
  const all = await stage(opts([src], staging, { readAll: true, scan: false }), context());
  assert.is(all.summary.filesUnchanged, 0);
  assert.is(all.summary.bytesRead, 100_000 + 4);
  // A different source list has no parent: nothing is taken unread.
  const other = await stage(opts([path.join(src, 'sub')], staging), context());
  assert.is(other.summary.filesUnchanged, 0);
});

test('wrong passphrase: WRONG_PASSPHRASE (FAILED) before any work, repository untouched', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a'), 'a');
  const staging = path.join(dir, 'staging');
  await stage(opts([src], staging), context());
  const before = fs.readdirSync(path.join(staging, 'snapshots'));
  try {
    await stage(opts([src], staging, { passphrase: passphrase('not the passphrase') }), context());
    assert.unreachable('staged with a wrong passphrase');
  } catch (err) {
    assert.is((err as DriveseedError).code, 'WRONG_PASSPHRASE');
    assert.is((err as DriveseedError).category, 'FAILED');
    assert.not.ok((err as Error).message.includes('not the passphrase'));
  }
  assert.equal(fs.readdirSync(path.join(staging, 'snapshots')), before);
  assert.not.ok(fs.existsSync(path.join(staging, 'locks', 'exclusive')));
});

test('refusals before any work: missing source, staging inside a source, invalid job/account/container/subscription', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const cook = (raw: Record<string, unknown>) => {
    try {
      stageCommand.cook({ sources: [src], staging: path.join(dir, 'st'), job: 'good-job', ...raw }, { env: {} });
    } catch (err) {
      assert.is((err as DriveseedError).category, 'USAGE');
      return { code: (err as DriveseedError).code, message: (err as Error).message, field: (err as DriveseedError).details?.field };
    }
    return undefined;
  };
  let e = cook({ sources: [path.join(dir, 'nope')] });
  assert.is(e?.code, 'SOURCE_NOT_FOUND');
  assert.ok(e!.message.includes('nope'));
  e = cook({ staging: path.join(src, 'staging') });
  assert.is(e?.code, 'STAGING_INSIDE_SOURCE');
  assert.match(e!.message, /--staging .* is inside source/);
  assert.is(cook({ job: 'Bad Job' })?.field, 'job');
  assert.is(cook({ account: 'UPPER' })?.field, 'account');
  assert.is(cook({ container: 'a--b' })?.field, 'container');
  assert.is(cook({ subscription: '1234' })?.field, 'subscription');
  assert.is(cook({ level: 30 })?.field, 'level');
  const other = path.join(dir, 'x', 'src');
  fs.mkdirSync(other, { recursive: true });
  assert.is(cook({ sources: [src, other] })?.code, 'DUPLICATE_SOURCE_NAME');
  assert.is(cook({}), undefined);
  // Nothing was created by the refusals.
  assert.not.ok(fs.existsSync(path.join(dir, 'st')));
  assert.not.ok(fs.existsSync(path.join(src, 'staging')));
});

test.run();
