import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import { runCliAsync as cli } from './prep-support/cli-async';
import * as assert from 'uvu/assert';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { containerClientFor, describeLocation } from '../src/cloud/client';
import { ContainerBackend } from '../src/cloud/container-backend';
import { restore } from '../src/core/restore';
import { PASS, ctxWith, prng, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';
import { AZURITE_KEY, type Twin, seedTwins, whyNot } from './support/cloud-faults';
import { FaultProxy, type FaultRule } from './support/fault-proxy';

const MiB = 1024 * 1024;
let azurite: AzuriteHandle;
let proxy: FaultProxy;
let source: string;
let twin: Twin;
const cleanup: string[] = [];

/** a ranged read of a pack blob */
const GET_PACK = { method: 'GET', path: '/data/' };

test.before(async () => {
  if (whyNot) return;
  azurite = await startAzurite();
  proxy = await FaultProxy.start(`http://127.0.0.1:${azurite.port}`);
  source = path.join(tmpDir('driveseed-netfault-src-'), 'data');
  cleanup.push(path.dirname(source));
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(source, 'big.bin'), prng(7, 10 * MiB + 333));
  fs.writeFileSync(path.join(source, 'sub', 'mid.bin'), prng(8, 3 * MiB));
  fs.writeFileSync(path.join(source, 'sub', 'note.txt'), 'restore me\n');
  [twin] = await seedTwins(azurite, proxy, source, ['restore']);
  cleanup.push(twin!.staging);
});

test.after(async () => {
  await proxy?.stop();
  await azurite?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

test.after.each(() => proxy?.reset());

function target(): string {
  const to = path.join(tmpDir('driveseed-netfault-restore-'), 'out');
  cleanup.push(path.dirname(to));
  return to;
}

async function restoreOk(rules: FaultRule[], mins: number[] = []): Promise<void> {
  proxy.arm(...rules);
  const to = target();
  const r = await restore(
    { staging: twin.staging, to, snapshot: 'latest', include: [], passphrase: { kind: 'param', secret: PASS }, threads: 2, fromCloud: true },
    ctxWith(),
  );
  rules.forEach((rule, i) => proxy.expectFired(rule, mins[i] ?? 1));
  assert.is(r.verifyFailed, false);
  assert.equal(treeOf(path.join(to, 'data')), treeOf(source), 'restored byte for byte');
}

gated(test, 'connections reset halfway through a pack download and before another: retried, restored byte for byte', whyNot, () =>
  restoreOk([
    { name: 'reset mid-body of pack read 1', ...GET_PACK, nth: 1, fault: { kind: 'drop', when: 'mid-response' } },
    { name: 'reset before pack read 3', ...GET_PACK, nth: 3, fault: { kind: 'drop', when: 'before' } },
  ]),
);

gated(test, 'slow pack downloads (throttled to 8 MiB/s, one stalled 1.5 s mid-body): restored byte for byte', whyNot, () =>
  restoreOk([
    { name: 'stall pack read 1 mid-body', ...GET_PACK, nth: 1, fault: { kind: 'stall', ms: 1500, at: 'mid-body' } },
    { name: 'throttle the other pack reads', ...GET_PACK, nth: 2, times: Number.POSITIVE_INFINITY, fault: { kind: 'throttle', bytesPerSecond: 8 * MiB } },
  ]),
);

gated(test, '503 ServerBusy and 500 InternalError bursts on pack reads: retried, restored byte for byte', whyNot, () =>
  restoreOk(
    [
      { name: '503 x3 on pack reads', ...GET_PACK, nth: 1, times: 3, fault: { kind: 'status', status: 503, code: 'ServerBusy' } },
      { name: '500 x2 on pack reads', ...GET_PACK, nth: 5, times: 2, fault: { kind: 'status', status: 500, code: 'InternalError' } },
    ],
    [3, 2],
  ),
);

gated(test, 'a body that stalls past the per-attempt timeout is abandoned and read again', whyNot, async () => {
  const loc = { ...azurite.location(twin.container), blobEndpoint: proxy.url('/devstoreaccount1') };
  const be = new ContainerBackend(containerClientFor(loc), describeLocation(loc), { retry: { attemptTimeoutMs: 1000, baseDelayMs: 5 } });
  const pack = (await twin.direct.list('data/')).sort((a, b) => b.size - a.size)[0]!;
  const stall = proxy.arm({ name: 'stall 20 s mid-body', ...GET_PACK, nth: 1, fault: { kind: 'stall', ms: 20_000, at: 'mid-body' } })[0]!;
  const t0 = Date.now();
  const got = await be.readRange(pack.path, 0, Math.min(pack.size, 4 * MiB));
  proxy.expectFired(stall);
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms: the stalled attempt was not abandoned`);
  assert.ok(got.equals(await twin.direct.readRange(pack.path, 0, got.length)), 'the bytes of the second attempt');
  assert.is(be.counters.retries, 1);
});

gated(
  test,
  'every pack read reset or refused (beyond the retries), through the CLI: exit 6, CLOUD_IO naming the blob and the fix, no stack, no key; a rerun restores',
  whyNot,
  async () => {
    const env = { DRIVESEED_PASSPHRASE: PASS.reveal(), DRIVESEED_STORAGE_KEY: AZURITE_KEY };
    const faults: FaultRule[] = [
      { name: 'reset every pack read', ...GET_PACK, times: Number.POSITIVE_INFINITY, fault: { kind: 'drop', when: 'before' } },
      { name: '500 on every pack read', ...GET_PACK, times: Number.POSITIVE_INFINITY, fault: { kind: 'status', status: 500, code: 'InternalError' } },
    ];
    for (const rule of faults) {
      proxy.reset();
      proxy.arm(rule);
      const to = target();
      const out = await cli(['restore', '--staging', twin.staging, '--from-cloud', '--to', to], env);
      assert.is(out.code, 6, out.stderr + out.stdout);
      proxy.expectFired(rule, 6);
      assert.match(out.stderr, /\[CLOUD_IO\]/);
      assert.match(out.stderr, /Could not read http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/restore\/data\//);
      assert.match(out.stderr, /after 6 attempts/);
      assert.match(out.stderr, /run the command again/);
      assert.not.match(out.stdout + out.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
      for (const secret of [AZURITE_KEY, encodeURIComponent(AZURITE_KEY), PASS.reveal()])
        assert.not.ok((out.stdout + out.stderr).includes(secret), 'a secret reached the output');
    }
    proxy.disarm();
    const to = target();
    const ok = await cli(['--json', 'restore', '--staging', twin.staging, '--from-cloud', '--to', to], env);
    assert.is(ok.code, 0, ok.stderr);
    assert.equal(treeOf(path.join(to, 'data')), treeOf(source));
  },
);

test.run();
