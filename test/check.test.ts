/**
 * Damage and crashes: one flipped byte in a pack is named by check --read-data with its pack and
 * offset, and fails only the affected file on restore; kill -9 during stage, then stage again,
 * then check is clean.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { check } from '../src/core/check';
import { restore } from '../src/core/restore';
import { stage } from '../src/core/stage';
import { listIndexIds, readIndex } from '../src/repo/index-file';
import { Repository } from '../src/repo/repository';
import { readTree } from '../src/repo/tree';
import { Secret } from '../src/base/secret';
import { FAST_KDF, PASS, collector, context, noise, passphrase } from './stage-fixtures';
import { tmpDir } from './helpers';

test('a flipped byte in a pack: check --read-data names pack and offset; restore fails that file loudly, the others restore', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), noise(200_000 + i, 50 + i));
  const staging = path.join(dir, 'staging');
  await stage({ sources: [src], staging, settings: { job: 'flip-job' }, passphrase: passphrase(), level: 3, threads: 2, init: FAST_KDF }, context());
  const structural = await check({ staging, passphrase: passphrase(), readData: false, threads: 2 }, context());
  assert.ok(structural.healthy, JSON.stringify(structural.problems));

  // Find the chunk of f3.bin and flip one byte in the middle of it.
  const repo = await Repository.open(staging, new Secret(PASS));
  const snap = (await repo.resolveSnapshot('latest')).doc;
  const index = await repo.loadChunkIndex();
  let target: string | undefined;
  for await (const { rec } of readTree(snap.tree, (id, raw) => repo.readChunk(index, id, raw), 't'))
    if (rec.t === 'f' && rec.n === 'f3.bin') target = rec.c[0]![0];
  repo.close();
  let hit: { pack: string; path: string; offset: number; length: number } | undefined;
  for (const id of listIndexIds(staging)) {
    for (const p of readIndex(staging, repo.keys, id).packs)
      for (const [cid, offset, length] of p.entries) if (cid === target) hit = { pack: p.name, path: p.path, offset, length };
  }
  assert.ok(hit, 'chunk of f3.bin found');
  const file = path.join(staging, hit!.path);
  const fd = fs.openSync(file, 'r+');
  const at = hit!.offset + Math.floor(hit!.length / 2);
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);

  const rep = collector();
  const c = await check({ staging, passphrase: passphrase(), readData: true, threads: 2 }, context(rep));
  assert.is(c.healthy, false);
  const bad = c.problems.find((p) => p.code === 'CHUNK_BAD');
  assert.ok(bad, JSON.stringify(c.problems));
  assert.is(bad!.pack, hit!.pack);
  assert.is(bad!.offset, hit!.offset);
  assert.ok(bad!.message.includes(hit!.path) && bad!.message.includes(`offset ${hit!.offset}`), bad!.message);
  const md5 = c.problems.find((p) => p.code === 'BLOCK_MD5');
  assert.ok(md5 && md5.pack === hit!.pack && md5.offset! <= at && at < md5.offset! + md5.length!, JSON.stringify(md5));
  assert.ok(c.problems.some((p) => p.code === 'PACK_HASH' && p.pack === hit!.pack));
  assert.ok(rep.warnings.length >= 3, 'every problem is reported');

  const to = path.join(dir, 'restored');
  const rrep = collector();
  const r = await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context(rrep));
  assert.is(r.verifyFailed, true);
  assert.is(r.filesFailed, 1);
  const w = rrep.warnings.find((x) => x.code === 'RESTORE_FILE_FAILED');
  assert.ok(w?.message.includes('src/f3.bin'), JSON.stringify(rrep.warnings));
  assert.not.ok(fs.existsSync(path.join(to, 'src', 'f3.bin')), 'no corrupt file is left behind');
  for (const i of [0, 1, 2, 4, 5]) assert.ok(fs.readFileSync(path.join(to, 'src', `f${i}.bin`)).equals(noise(200_000 + i, 50 + i)), `f${i}.bin`);
});

test('kill -9 during stage, then stage again, then check is clean', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), noise(3 * 1024 * 1024, 900 + i));
  const staging = path.join(dir, 'staging');
  const env = { ...process.env, DRIVESEED_PASSPHRASE: PASS };
  const cli = (args: string[]) =>
    spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, '..', 'src', 'cli', 'main.ts'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const args = ['stage', src, '--staging', staging, '--job', 'crash-job', '--threads', '1', '--level', '19'];
  const child = cli(args);
  // Kill once the first pack is durable (or a temp pack is being written), i.e. mid-run.
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      const data = path.join(staging, 'data');
      const any = fs.existsSync(data) && fs.readdirSync(data).length > 0;
      if (any) {
        clearInterval(poll);
        child.kill('SIGKILL');
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      resolve();
    });
    child.on('error', reject);
  });
  const snaps = path.join(staging, 'snapshots');
  assert.is(fs.existsSync(snaps) ? fs.readdirSync(snaps).length : 0, 0, 'killed before the snapshot');
  assert.ok(fs.existsSync(path.join(staging, 'locks', 'exclusive')), 'the dead run left its lock');
  const second = cli([...args.slice(0, -4), '--json']);
  let out = '';
  second.stdout.on('data', (d) => (out += d));
  let errOut = '';
  second.stderr.on('data', (d) => (errOut += d));
  const code = await new Promise<number>((r) => second.on('exit', (c) => r(c ?? -1)));
  assert.is(code, 0, out + errOut);
  assert.ok(out.includes('"STALE_LOCK"'), 'the stale lock was taken over with a warning');
  const c = await check({ staging, passphrase: passphrase(), readData: true, threads: 2 }, context());
  assert.ok(c.healthy, JSON.stringify(c.problems));
  assert.equal(c.garbage.temps, []);
  assert.equal(c.garbage.unreferencedPacks, []);
  const to = path.join(dir, 'restored');
  const r = await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.is(r.files, 12);
  for (let i = 0; i < 12; i++) assert.ok(fs.readFileSync(path.join(to, 'src', `f${i}.bin`)).equals(noise(3 * 1024 * 1024, 900 + i)));
});

test.run();
