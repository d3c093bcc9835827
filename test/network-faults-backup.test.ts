// Network faults during `driveseed backup` (incremental, over the network into the seeded container),
// injected by a proxy in front of Azurite (test/support/fault-proxy.ts): connections reset mid-upload,
// 5xx bursts on Put Block and Put Block List, slow index downloads, the lease stolen mid-upload, and
// a fault that outlasts the retries (through the CLI). Outcomes are read from the blobs themselves and
// compared with a fault-free run of the same backup into a twin container of the same repository.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { test } from 'uvu';
import { runCliAsync as cli } from './prep-support/cli-async';
import * as assert from 'uvu/assert';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import type { DriveseedError } from '../src/base/errors';
import { backup } from '../src/core/backup';
import { restore } from '../src/core/restore';
import { PASS, ctxWith, prng, recorder, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';
import { AZURITE_KEY, type ContainerFacts, type Twin, checkProblems, containerFacts, seedTwins, whyNot } from './support/cloud-faults';
import { FaultProxy, type FaultRule } from './support/fault-proxy';

const MiB = 1024 * 1024;
let azurite: AzuriteHandle;
let proxy: FaultProxy;
let source: string;
const twins = new Map<string, Twin>();
let reference: ContainerFacts;
const cleanup: string[] = [];
const CASES = ['ref', 'drops', 'busy', 'slowindex', 'stolen', 'budget'];

/** Put Block (not Put Block List) of a pack blob */
const PUT_BLOCK = { method: 'PUT', path: '/data/', query: /(^|&)comp=block(&|$)/ };
const PUT_BLOCK_LIST = { method: 'PUT', path: '/data/', query: /(^|&)comp=blocklist(&|$)/ };
/** Lease Blob on the repository lock (acquire, renew, release) */
const LEASE = { method: 'PUT', path: '/locks/exclusive', query: /(^|&)comp=lease(&|$)/ };

test.before(async () => {
  if (whyNot) return;
  azurite = await startAzurite();
  proxy = await FaultProxy.start(`http://127.0.0.1:${azurite.port}`);
  source = path.join(tmpDir('driveseed-netfault-src-'), 'data');
  cleanup.push(path.dirname(source));
  fs.mkdirSync(source, { recursive: true });
  fs.writeFileSync(path.join(source, 'base.bin'), prng(1, 3 * MiB));
  fs.writeFileSync(path.join(source, 'note.txt'), 'seeded\n');
  for (const t of await seedTwins(azurite, proxy, source, CASES)) {
    twins.set(t.container, t);
    cleanup.push(t.staging);
  }
  // What the backups add: 14 MiB of new incompressible data (packs of several 4 MiB blocks).
  fs.writeFileSync(path.join(source, 'new-a.bin'), prng(2, 9 * MiB));
  fs.writeFileSync(path.join(source, 'new-b.bin'), prng(3, 5 * MiB + 12345));
  fs.mkdirSync(path.join(source, 'sub'));
  fs.writeFileSync(path.join(source, 'sub', 'small.txt'), 'added after the seed\n');
  await backup(opts(twins.get('ref')!), ctxWith());
  reference = await containerFacts(twins.get('ref')!);
});

test.after(async () => {
  await proxy?.stop();
  await azurite?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

test.after.each(() => proxy?.reset());

function opts(t: Twin, extra: Partial<Parameters<typeof backup>[0]> = {}): Parameters<typeof backup>[0] {
  return { sources: [source], staging: t.staging, passphrase: { kind: 'param', secret: PASS }, forceUnlock: false, level: 3, threads: 2, ...extra };
}

/** The container holds what the fault-free run left: same snapshots, indexes, packs and chunks, nothing dangling. */
async function sameAsReference(t: Twin, o: { sameLayout: boolean }): Promise<void> {
  const f = await containerFacts(t);
  assert.is(f.snapshots, reference.snapshots, 'snapshots');
  assert.equal(f.latest, reference.latest, 'the new snapshot summarises the same tree');
  assert.equal(f.chunks, reference.chunks, 'the indexes list exactly the chunks of the fault-free run');
  if (o.sameLayout) {
    assert.is(f.indexFiles, reference.indexFiles, 'index files');
    assert.is(f.packs, reference.packs, 'packs');
  }
  assert.equal(f.missingPacks, [], 'every indexed pack is there with its size');
  assert.equal(f.unreferencedPacks, [], 'no pack outside the indexes');
  assert.equal(f.uncommitted, [], 'no uncommitted blocks left behind');
  assert.equal(f.blockListMismatch, [], "every pack's committed blocks are the index's blocks");
  assert.equal(f.orphanPackLists, [], 'every index has its pack list');
  assert.equal(await checkProblems(azurite, t), [], 'check --cloud --read-data is clean');
  const to = path.join(tmpDir('driveseed-netfault-restore-'), 'out');
  cleanup.push(path.dirname(to));
  const r = await restore(
    { staging: t.staging, to, snapshot: 'latest', include: [], passphrase: { kind: 'param', secret: PASS }, threads: 2, fromCloud: true },
    ctxWith(),
  );
  assert.is(r.verifyFailed, false);
  assert.equal(treeOf(path.join(to, 'data')), treeOf(source), 'the new snapshot restores the source');
}

/** Retries the run reported (CLOUD_RETRY warnings). */
function retries(rep: ReturnType<typeof recorder>): number {
  return rep.warnings.filter((w) => w.code === 'CLOUD_RETRY').length;
}

gated(
  test,
  'connections reset before Put Block, after Put Block, Put Block List and the lease were applied, and mid index download: retried, the container ends as a fault-free run leaves it',
  whyNot,
  async () => {
    const t = twins.get('drops')!;
    const rules = proxy.arm(
      { name: 'reset before put block 2', ...PUT_BLOCK, nth: 2, fault: { kind: 'drop', when: 'before' } },
      { name: 'reset after put block 4 was applied', ...PUT_BLOCK, nth: 4, fault: { kind: 'drop', when: 'after-request' } },
      { name: 'reset after put block list 1 was applied', ...PUT_BLOCK_LIST, nth: 1, fault: { kind: 'drop', when: 'after-request' } },
      { name: 'reset mid-body of index download 1', method: 'GET', path: '/index/', nth: 1, fault: { kind: 'drop', when: 'mid-response' } },
      { name: 'reset after the lease was taken', ...LEASE, nth: 1, fault: { kind: 'drop', when: 'after-request' } },
    );
    const rep = recorder();
    const r = await backup(opts(t), ctxWith(rep));
    for (const rule of rules) proxy.expectFired(rule);
    assert.ok(retries(rep) >= 4, `retries reported: ${retries(rep)}`);
    assert.match(r.snapshot, /^[0-9a-f]{64}$/);
    await sameAsReference(t, { sameLayout: true });
  },
);

gated(
  test,
  '503 ServerBusy and 500 InternalError bursts on Put Block, Put Block List and the lease: retried (Retry-After honoured), same container as a fault-free run',
  whyNot,
  async () => {
    const t = twins.get('busy')!;
    const busy = proxy.arm(
      { name: '503 x3 on put block', ...PUT_BLOCK, nth: 1, times: 3, fault: { kind: 'status', status: 503, code: 'ServerBusy', retryAfterSeconds: 1 } },
      { name: '500 x2 on put block list', ...PUT_BLOCK_LIST, nth: 1, times: 2, fault: { kind: 'status', status: 500, code: 'InternalError' } },
      { name: '503 x2 on taking the lease', ...LEASE, nth: 1, times: 2, fault: { kind: 'status', status: 503, code: 'ServerBusy' } },
    );
    const rep = recorder();
    await backup(opts(t), ctxWith(rep));
    proxy.expectFired(busy[0]!, 3);
    proxy.expectFired(busy[1]!, 2);
    proxy.expectFired(busy[2]!, 2);
    assert.ok(retries(rep) >= 5, `retries reported: ${retries(rep)}`);
    assert.ok(
      rep.warnings.some((w) => w.code === 'CLOUD_RETRY' && /server is busy/.test(w.message)),
      JSON.stringify(rep.warnings),
    );
    // Retry-After: 1 — the retry of the first refused block came no sooner than a second later.
    const first = proxy.firedOf(busy[0]!)[0]!;
    const again = proxy.requests.find((q) => q.seq > first.seq && q.method === 'PUT' && q.path === first.path && q.query === first.query);
    assert.ok(again, 'the refused block was sent again');
    assert.ok(again!.at - first.at >= 950, `retried after ${again!.at - first.at} ms, Retry-After said 1 s`);
    await sameAsReference(t, { sameLayout: true });
  },
);

gated(test, 'slow index download (throttled, stalled mid-body): the backup waits, loads the right index and stores only new chunks', whyNot, async () => {
  const t = twins.get('slowindex')!;
  const rules = proxy.arm(
    { name: 'stall index body 1.5 s', method: 'GET', path: '/index/', nth: 1, fault: { kind: 'stall', ms: 1500, at: 'mid-body' } },
    {
      name: 'throttle index 4 KB/s',
      method: 'GET',
      path: '/index/',
      nth: 2,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: 'throttle', bytesPerSecond: 4096 },
    },
  );
  const rep = recorder();
  const r = await backup(opts(t), ctxWith(rep));
  for (const rule of rules) proxy.expectFired(rule);
  assert.is(r.index.fetched, 2, 'both index files of the seed were downloaded');
  assert.is(retries(rep), 0, 'a slow answer is not a failure');
  await sameAsReference(t, { sameLayout: true });
});

gated(
  test,
  'lease stolen by another writer mid-upload: LEASE_LOST, no index or snapshot written after it; once the other is done a rerun completes',
  whyNot,
  async () => {
    const t = twins.get('stolen')!;
    const lockBlob = t.direct.client.getBlockBlobClient('locks/exclusive');
    const thief = lockBlob.getBlobLeaseClient('11111111-2222-3333-4444-555555555555');
    const steal: FaultRule = {
      name: 'steal the lease before put block 2',
      ...PUT_BLOCK,
      nth: 2,
      fault: {
        kind: 'action',
        label: 'break the lease and take it with another id, straight on Azurite',
        run: async () => {
          await lockBlob.getBlobLeaseClient().breakLease(0);
          await thief.acquireLease(-1);
        },
      },
    };
    proxy.arm(steal);
    const err = (await backup(opts(t, { lease: { renewEveryMs: 100 } }), ctxWith()).catch((e: unknown) => e)) as DriveseedError;
    const [fired] = proxy.expectFired(steal);
    assert.is(err.code, 'LEASE_LOST', String(err));
    assert.match(err.message, /stopped before writing its index and snapshot/);
    const written = proxy.requests.filter((q) => q.method === 'PUT' && /\/(index|snapshots)\//.test(q.path) && q.seq > fired!.seq);
    assert.equal(written, [], 'nothing written to index/ or snapshots/ after the lease was lost');
    const f = await containerFacts(t);
    assert.is(f.snapshots, 1, 'no snapshot from the run that lost its lease');
    assert.equal(f.missingPacks, [], 'no index names a pack that is not there');
    const holder = (await lockBlob.getProperties()).leaseState;
    assert.is(holder, 'leased', 'the other writer still holds the lock');
    await thief.releaseLease();
    const rep = recorder();
    const r = await backup(opts(t), ctxWith(rep));
    assert.ok(r.upload.resumedPacks >= 0);
    await sameAsReference(t, { sameLayout: false });
  },
);

gated(
  test,
  '500 on every Put Block (beyond the retries), through the CLI with a SAS: exit 6, CLOUD_IO naming the blob and the fix, no stack, no SAS; a rerun completes',
  whyNot,
  async () => {
    const t = twins.get('budget')!;
    const sas = generateBlobSASQueryParameters(
      { containerName: t.container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential('devstoreaccount1', AZURITE_KEY),
    ).toString();
    const sig = new URLSearchParams(sas).get('sig')!;
    const env = { DRIVESEED_PASSPHRASE: PASS.reveal(), DRIVESEED_STORAGE_SAS: sas };
    const down = proxy.arm({
      name: '500 on every put block',
      ...PUT_BLOCK,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: 'status', status: 500, code: 'InternalError' },
    })[0]!;
    for (const json of [false, true]) {
      const out = await cli([...(json ? ['--json'] : []), 'backup', source, '--staging', t.staging], env);
      assert.is(out.code, 6, out.stderr + out.stdout);
      proxy.expectFired(down, 6);
      const text = out.stdout + out.stderr;
      if (json) {
        const last = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as { type: string; code: string; message: string };
        assert.is(last.type, 'error', out.stdout);
        assert.is(last.code, 'CLOUD_IO');
      } else {
        assert.match(out.stderr, /\[CLOUD_IO\]/);
      }
      assert.match(text, /Could not upload a block of http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/budget\/data\//);
      assert.match(text, /after 6 attempts/);
      assert.match(text, /run the command again/);
      assert.not.match(text, /\n\s+at .+:\d+:\d+/, 'no stack trace');
      for (const secret of [sig, encodeURIComponent(sig), AZURITE_KEY, PASS.reveal()]) assert.not.ok(text.includes(secret), 'a secret reached the output');
      const f = await containerFacts(t);
      assert.is(f.snapshots, 1, 'no snapshot from the failed run');
      assert.equal(f.missingPacks, []);
    }
    proxy.disarm();
    const ok = await cli(['--json', 'backup', source, '--staging', t.staging], env);
    assert.is(ok.code, 0, ok.stderr);
    assert.not.ok((ok.stdout + ok.stderr).includes(sig));
    await sameAsReference(t, { sameLayout: false });
  },
);

test.run();
