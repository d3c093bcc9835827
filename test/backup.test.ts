// `driveseed backup` against a private Azurite: the seed is staged and uploaded as the import would
// (test/backup-helpers.ts); the upload-size goals are measured from the blobs that land in Azurite.
// Scaled: a 64 MiB file instead of 1 GiB; the bounds are the absolute bounds, which do not
// depend on the file size (bench/trials/backup-sizes.mjs measures the 1 GiB figure).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { backup } from '../src/core/backup';
import { restore } from '../src/core/restore';
import type { DriveseedError } from '../src/base/errors';
import { updateSettings } from '../src/core/settings';
import { loadBinding } from '../src/native/load';
import { PASS, addedBytes, blobSizes, ctxWith, prng, recorder, seededRepo, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';

const MiB = 1024 * 1024;
let azurite: AzuriteHandle;
const cleanup: string[] = [];

function nativeMissing(): string | undefined {
  try {
    const b = loadBinding();
    return typeof b.packJob === 'function' ? undefined : 'the native addon has no packJob';
  } catch (err) {
    return `the native addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
}
const why = nativeMissing();

test.before(async () => {
  if (!why) azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

/** A source tree; its files are made more than the racy-clean margin (100 ms) older than the first snapshot. */
async function source(): Promise<{ dir: string; big: string }> {
  const dir = tmpDir('driveseed-backup-src-');
  cleanup.push(dir);
  const root = path.join(dir, 'data');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  const big = path.join(root, 'big.bin');
  fs.writeFileSync(big, prng(7, 64 * MiB));
  fs.writeFileSync(path.join(root, 'small.txt'), 'hello\n');
  fs.writeFileSync(path.join(root, 'sub', 'notes.md'), '# notes\n'.repeat(1000));
  fs.symlinkSync('small.txt', path.join(root, 'link'));
  await new Promise((r) => setTimeout(r, 250));
  return { dir: root, big };
}

const opts = (src: string, staging: string) => ({
  sources: [src],
  staging,
  passphrase: { kind: 'param' as const, secret: PASS },
  forceUnlock: false,
  level: 3,
  threads: 2,
});

gated(test, 'before the seed is complete, backup refuses and says what to run first', why, async () => {
  const { dir } = await source();
  const { staging } = await seededRepo(azurite, dir, 'refuse');
  cleanup.push(staging);
  updateSettings(staging, { seed: { state: 'shipped' } });
  const err = (await backup(opts(dir, staging), ctxWith()).catch((e: unknown) => e)) as DriveseedError;
  assert.is(err.code, 'SEED_NOT_COMPLETE');
  assert.match(err.message, /driveseed status --staging/);
  assert.match(err.message, /driveseed complete --staging/);
});

gated(
  test,
  'unchanged tree: only the new snapshot lands in the container (< 1 MiB); 1 MiB changed mid-file: < 8 MiB; bytes inserted near the start: < 16 MiB',
  why,
  async () => {
    const { dir, big } = await source();
    const { staging, backend } = await seededRepo(azurite, dir, 'sizes');
    cleanup.push(staging);

    let before = await blobSizes(backend);
    const r0 = await backup(opts(dir, staging), ctxWith());
    let added = addedBytes(before, await blobSizes(backend));
    assert.equal(
      added.blobs.map((b) => b.split('/')[0]),
      ['snapshots'],
      `unchanged tree added ${added.blobs.join(', ')}`,
    );
    assert.ok(added.bytes < MiB, `unchanged: ${added.bytes} bytes`);
    const figures = [`unchanged ${added.bytes} B`];
    assert.is(r0.upload.packs, 0);
    assert.is(r0.parent?.filesReused, 3, 'unchanged files are not read again (parent snapshot)');
    assert.is(r0.summary.bytesRead, 0);
    assert.is(r0.summary.files, 3);
    assert.ok(r0.index.fetched >= 1, 'the first backup downloads the index once');

    const fd = fs.openSync(big, 'r+');
    fs.writeSync(fd, prng(99, MiB), 0, MiB, 32 * MiB);
    fs.closeSync(fd);
    before = await blobSizes(backend);
    const rep1 = recorder();
    const r1 = await backup(opts(dir, staging), ctxWith(rep1));
    assert.ok(rep1.phases.includes('backup') && rep1.phases.includes('upload'), `progress phases: ${rep1.phases.join(', ')}`);
    added = addedBytes(before, await blobSizes(backend));
    assert.ok(added.bytes < 8 * MiB, `1 MiB changed: ${added.bytes} bytes landed`);
    figures.push(`1 MiB changed ${added.bytes} B`);
    assert.ok(added.bytes > MiB / 2, `1 MiB changed: only ${added.bytes} bytes landed`);
    assert.ok(r1.upload.packs >= 1);
    assert.is(r1.index.fetched, 0, 'the second backup reads the index from the local cache');
    assert.is(r1.parent?.filesReused, 2, 'only the changed file is read');

    const content = fs.readFileSync(big);
    fs.writeFileSync(big, Buffer.concat([content.subarray(0, 4096), Buffer.from('a few bytes'), content.subarray(4096)]));
    before = await blobSizes(backend);
    await backup(opts(dir, staging), ctxWith());
    added = addedBytes(before, await blobSizes(backend));
    assert.ok(added.bytes < 16 * MiB, `insert near start: ${added.bytes} bytes landed`);
    figures.push(`insert near start ${added.bytes} B`);
    console.log(`measured in Azurite (64 MiB file): ${figures.join(', ')}`);

    // Restore the newest snapshot straight from the container: it equals the changed tree.
    const to = tmpDir('driveseed-backup-restore-');
    cleanup.push(to);
    fs.rmSync(to, { recursive: true });
    const r = await restore(
      { staging, to, snapshot: 'latest', include: [], passphrase: { kind: 'param', secret: PASS }, threads: 2, fromCloud: true },
      ctxWith(),
    );
    assert.is(r.verifyFailed, false);
    assert.equal(treeOf(path.join(to, 'data')), treeOf(dir));
  },
);

gated(
  test,
  "the first backup after the seed reads the index and the parent's tree from the staging's own copy while it is kept, else from the cloud through the caches",
  why,
  async () => {
    const { dir } = await source();
    const cache = (staging: string) => path.join(staging, '.cache', 'tree-blobs');
    const entries = (staging: string) => (fs.existsSync(cache(staging)) ? fs.readdirSync(cache(staging)).length : 0);

    // Staging data kept: the tree chunks come from its packs; nothing is downloaded, so nothing is cached.
    const kept = await seededRepo(azurite, dir, 'tree-local', { keepData: true });
    cleanup.push(kept.staging);
    const r = await backup(opts(dir, kept.staging), ctxWith());
    assert.is(r.parent?.filesReused, 3, 'the parent tree was read and every file reused');
    assert.is(entries(kept.staging), 0, 'no tree chunk was downloaded');
    assert.is(r.index.fetched, 0, 'no index file was downloaded');
    assert.ok(r.index.local >= 1, `index files from the staging's own copy: ${r.index.local}`);

    // A local pack that is not the uploaded one (damaged here) fails authentication: the cloud's copy is used.
    const packs = (d: string): string[] =>
      fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? packs(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const p of packs(path.join(kept.staging, 'data'))) {
      const b = fs.readFileSync(p);
      for (let i = 0; i < b.length; i++) b[i]! ^= 0xff;
      fs.writeFileSync(p, b);
    }
    fs.rmSync(cache(kept.staging), { recursive: true, force: true });
    const again = await backup(opts(dir, kept.staging), ctxWith());
    assert.is(again.parent?.filesReused, 3);
    assert.ok(entries(kept.staging) >= 1, 'the tree chunks came from the cloud and were cached');

    // Staging data deleted (as `complete` allows): from the cloud, cached for the next run.
    const gone = await seededRepo(azurite, dir, 'tree-cloud');
    cleanup.push(gone.staging);
    const g = await backup(opts(dir, gone.staging), ctxWith());
    assert.is(g.parent?.filesReused, 3);
    assert.ok(entries(gone.staging) >= 1, 'tree chunks cached');
    assert.is(g.index.local, 0);
    assert.ok(g.index.fetched >= 1, 'the index came from the container');
  },
);

test.run();
