// Faults during `driveseed backup` against a private Azurite: kill -9 mid-upload then rerun, two
// concurrent backups, the lease broken by another client mid-run, and check --cloud finding damage.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { checkCloud } from '../src/core/check';
import { containerClientFor } from '../src/cloud/client';
import { readLockHolder } from '../src/cloud/lease-lock';
import { type BackupResult, backup, backupWorkDir } from '../src/core/backup';
import type { DriveseedError } from '../src/base/errors';
import { restore } from '../src/core/restore';
import { loadBinding } from '../src/native/load';
import { PASS, blobSizes, ctxWith, prng, recorder, seededRepo, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';

const MiB = 1024 * 1024;
let azurite: AzuriteHandle;
const cleanup: string[] = [];
const why = (() => {
  try {
    return typeof loadBinding().packJob === 'function' ? undefined : 'the native addon has no packJob';
  } catch (err) {
    return `the native addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
})();

test.before(async () => {
  if (!why) azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

/** A small seeded source; `grow()` then adds `mib` MiB of new incompressible data in 32 MiB files. */
async function setup(container: string) {
  const dir = path.join(tmpDir('driveseed-faults-src-'), 'data');
  cleanup.push(path.dirname(dir));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'base.bin'), prng(1, 8 * MiB));
  const seeded = await seededRepo(azurite, dir, container);
  cleanup.push(seeded.staging);
  const grow = (mib: number, seed: number) => {
    for (let i = 0; i * 32 < mib; i++) fs.writeFileSync(path.join(dir, `new-${seed}-${i}.bin`), prng(seed * 100 + i, Math.min(32, mib - i * 32) * MiB));
  };
  return { dir, ...seeded, grow };
}

const opts = (src: string, staging: string, extra: Partial<Parameters<typeof backup>[0]> = {}) => ({
  sources: [src],
  staging,
  passphrase: { kind: 'param' as const, secret: PASS },
  forceUnlock: false,
  level: 3,
  threads: 2,
  ...extra,
});

async function healthy(staging: string, readData: boolean): Promise<void> {
  const r = await checkCloud({ staging, passphrase: { kind: 'param', secret: PASS }, readData, threads: 2 }, ctxWith());
  assert.ok(r.healthy, `check --cloud: ${r.problems.map((p) => `${p.code} ${p.message}`).join('; ')}`);
}

async function restoredEquals(staging: string, dir: string): Promise<void> {
  const to = path.join(tmpDir('driveseed-faults-restore-'), 'out');
  cleanup.push(path.dirname(to));
  const r = await restore(
    { staging, to, snapshot: 'latest', include: [], passphrase: { kind: 'param', secret: PASS }, threads: 2, fromCloud: true },
    ctxWith(),
  );
  assert.is(r.verifyFailed, false);
  assert.equal(treeOf(path.join(to, 'data')), treeOf(dir));
}

gated(test, 'kill -9 during the upload, then rerun: committed packs are not sent again and check --cloud --read-data is clean', why, async () => {
  const { dir, staging, backend, grow } = await setup('killed');
  grow(192, 1);
  const journal = path.join(backupWorkDir(staging), 'journal.jsonl');
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'backup-child.ts'), dir, staging], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: process.env,
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, sig) => r(sig ?? code)));
  const killedAt = await new Promise<string>((resolve) => {
    const t = setInterval(() => {
      let text = '';
      try {
        text = fs.readFileSync(journal, 'utf8');
      } catch {
        /* not yet */
      }
      if (text.includes('"c":')) {
        clearInterval(t);
        child.kill('SIGKILL');
        resolve(text);
      }
    }, 5);
    void exited.then(() => {
      clearInterval(t);
      resolve('');
    });
  });
  const how = await exited;
  assert.is(how, 'SIGKILL', `the child was to be killed mid-upload, but it ended with ${how}: ${stderr}`);
  const committedBefore = (killedAt.match(/"c":/g) ?? []).length;
  const snapsBefore = [...(await blobSizes(backend)).keys()].filter((k) => k.startsWith('snapshots/')).length;
  assert.is(snapsBefore, 1, 'no snapshot from the killed run');
  const lease = await readLockHolder(containerClientFor(azurite.location('killed')));
  assert.ok(lease?.leased, 'the killed run left its lease (it lapses after 60 s)');

  // The lease of the dead process still runs; the rerun breaks it on purpose (that process is gone).
  const rep = recorder();
  const r = await backup(opts(dir, staging, { forceUnlock: true }), ctxWith(rep));
  assert.ok(rep.warnings.some((w) => w.code === 'LOCK_BROKEN'));
  assert.ok(r.upload.resumedPacks >= committedBefore, `resumed ${r.upload.resumedPacks}, ${committedBefore} were committed`);
  assert.ok(r.upload.packsSkipped >= committedBefore, `committed packs skipped: ${r.upload.packsSkipped} of ${committedBefore}`);
  await healthy(staging, true);
  await restoredEquals(staging, dir);
});

gated(test, 'two concurrent backups: the second fails with REPOSITORY_LOCKED naming the first; the repository stays healthy', why, async () => {
  const { dir, staging, grow } = await setup('concurrent');
  grow(64, 2);
  let second: Promise<BackupResult> | undefined;
  const first = backup(
    opts(dir, staging),
    ctxWith(
      recorder((m) => {
        // Called while the first holds the lock: start the second right then.
        if (!second && m.startsWith('Loading the index')) second = backup(opts(dir, staging), ctxWith());
      }),
    ),
  );
  const [a, b] = await Promise.allSettled([
    first,
    (async () => {
      while (!second) await new Promise((r) => setTimeout(r, 5));
      return second;
    })(),
  ]);
  assert.is(a.status, 'fulfilled', a.status === 'rejected' ? String(a.reason) : '');
  assert.is(b.status, 'rejected');
  const err = (b as PromiseRejectedResult).reason as DriveseedError;
  assert.is(err.code, 'REPOSITORY_LOCKED');
  assert.match(err.message, `pid ${process.pid}`);
  await healthy(staging, false);
  await restoredEquals(staging, dir);
});

gated(test, 'lease broken by another client mid-upload: the run stops with LEASE_LOST, writes no snapshot; a later run succeeds', why, async () => {
  const { dir, staging, backend, grow } = await setup('broken');
  grow(160, 3);
  const journal = path.join(backupWorkDir(staging), 'journal.jsonl');
  const client = containerClientFor(azurite.location('broken'));
  let broke = false;
  const t = setInterval(() => {
    if (broke) return;
    let text = '';
    try {
      text = fs.readFileSync(journal, 'utf8');
    } catch {
      return;
    }
    if (text.includes('"p":')) {
      broke = true;
      void client.getBlockBlobClient('locks/exclusive').getBlobLeaseClient().breakLease(0);
    }
  }, 5);
  const err = (await backup(opts(dir, staging, { lease: { renewEveryMs: 50 } }), ctxWith()).catch((e: unknown) => e)) as DriveseedError;
  clearInterval(t);
  assert.ok(broke, 'the lease was broken during the run');
  assert.is(err.code, 'LEASE_LOST', String(err));
  assert.match(err.message, /consistent/);
  assert.is([...(await blobSizes(backend)).keys()].filter((k) => k.startsWith('snapshots/')).length, 1, 'no new snapshot');
  await healthy(staging, false);
  const r = await backup(opts(dir, staging), ctxWith());
  assert.ok(r.snapshot);
  await healthy(staging, true);
  await restoredEquals(staging, dir);
});

gated(test, 'check --cloud --read-data names a damaged pack blob; structure-only check names a missing one', why, async () => {
  const { staging, backend } = await setup('damaged');
  const victim = (await backend.list('data/')).sort((a, b) => b.size - a.size)[0]!.path; // the data pack, not the small tree pack
  const bytes = await backend.readAll(victim);
  bytes[1000] ^= 0xff;
  await backend.writeAtomic(victim, bytes);
  const r = await checkCloud({ staging, passphrase: { kind: 'param', secret: PASS }, readData: true, threads: 2 }, ctxWith());
  assert.not.ok(r.healthy);
  assert.ok(
    r.problems.some((p) => p.code === 'CHUNK_BAD' && p.file === victim),
    JSON.stringify(r.problems),
  );
  assert.ok(r.problems.some((p) => p.code === 'BLOCK_MD5' && p.offset === 0));
  await backend.delete(victim);
  const s = await checkCloud({ staging, passphrase: { kind: 'param', secret: PASS }, readData: false, threads: 2 }, ctxWith());
  assert.ok(s.problems.some((p) => p.code === 'PACK_MISSING' && p.file === victim));

  // A damaged index file is named, and every other index file is still checked.
  const indexes = (await backend.list('index/')).map((e) => e.path).filter((p) => !p.endsWith('.json'));
  assert.ok(indexes.length >= 2, `index files: ${indexes.join(', ')}`);
  await backend.writeAtomic(indexes[0]!, Buffer.from('not an index'));
  fs.rmSync(path.join(staging, '.cache', 'index'), { recursive: true, force: true });
  const t = await checkCloud({ staging, passphrase: { kind: 'param', secret: PASS }, readData: false, threads: 2 }, ctxWith());
  assert.ok(
    t.problems.some((p) => p.code === 'INDEX_DAMAGED' && p.file === indexes[0]),
    JSON.stringify(t.problems),
  );
  assert.is(t.counts.indexFiles, indexes.length);
});

test.run();
