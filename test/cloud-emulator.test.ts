// The cloud commands against the Import/Export emulator (src/emulator): settings name the emulator,
// and the storage account's endpoint and key come from the running emulator (_emulator/info), not
// from the environment. The seed is uploaded into the emulator's Azurite as the import would.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { containerClientFor, describeLocation } from '../src/cloud/client';
import { ContainerBackend } from '../src/cloud/container-backend';
import { uploadRepository } from '../src/cloud/seed';
import { backup } from '../src/core/backup';
import type { DriveseedError } from '../src/base/errors';
import { restore } from '../src/core/restore';
import { updateSettings } from '../src/core/settings';
import { listSnapshots } from '../src/core/snapshots';
import { stage } from '../src/core/stage';
import { type RunningEmulator, startEmulator } from '../src/emulator';
import { loadBinding } from '../src/native/load';
import { PASS, ctxWith, prng, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';

const why = (() => {
  try {
    return typeof loadBinding().packJob === 'function' ? undefined : 'the native addon has no packJob';
  } catch (err) {
    return `the native addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
})();
let emu: RunningEmulator | undefined;
const cleanup: string[] = [];
test.after(async () => {
  await emu?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

gated(test, 'backup, snapshots --cloud and restore --from-cloud find the account key through the emulator named in the settings', why, async () => {
  emu = await startEmulator({ accounts: ['seedacct'] });
  const acc = emu.accounts[0]!;
  const dir = path.join(tmpDir('driveseed-emu-src-'), 'data');
  cleanup.push(path.dirname(dir));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'one.bin'), prng(5, 2 * 1024 * 1024));
  const staging = tmpDir('driveseed-emu-staging-');
  cleanup.push(staging);
  await stage(
    {
      sources: [dir],
      staging,
      settings: { job: 'emu-job', account: 'seedacct', container: 'seeded' },
      passphrase: { kind: 'param', secret: PASS },
      level: 3,
      threads: 2,
      init: { kdf: { N: 1024, r: 8, p: 1 } },
    },
    ctxWith(),
  );
  const loc = { account: acc.name, container: 'seeded', blobEndpoint: acc.blobEndpoint, credentials: { kind: 'sharedKey' as const, accountKey: acc.key } };
  const be = new ContainerBackend(containerClientFor(loc), describeLocation(loc));
  await be.ensureContainer();
  await uploadRepository(staging, be);
  updateSettings(staging, { emulator: emu.armEndpoint, seed: { state: 'complete', completed: new Date().toISOString() } });
  for (const n of ['config', 'data', 'index', 'snapshots']) fs.rmSync(path.join(staging, n), { recursive: true, force: true });

  fs.writeFileSync(path.join(dir, 'two.txt'), 'after the seed\n');
  const r = await backup({ sources: [dir], staging, passphrase: { kind: 'param', secret: PASS }, forceUnlock: false, level: 3, threads: 2 }, ctxWith());
  assert.match(r.location, `${acc.blobEndpoint}/seeded`);
  const list = await listSnapshots({ staging, cloud: true, passphrase: { kind: 'param', secret: PASS } }, ctxWith());
  assert.is(list.snapshots.length, 2);
  assert.is(list.snapshots[1]!.id, r.snapshot);
  const to = path.join(tmpDir('driveseed-emu-restore-'), 'out');
  cleanup.push(path.dirname(to));
  const rr = await restore(
    { staging, to, snapshot: 'latest', include: [], passphrase: { kind: 'param', secret: PASS }, threads: 2, fromCloud: true },
    ctxWith(),
  );
  assert.is(rr.verifyFailed, false);
  assert.equal(treeOf(path.join(to, 'data')), treeOf(dir));

  await emu.stop();
  emu = undefined;
  const err = (await backup(
    { sources: [dir], staging, passphrase: { kind: 'param', secret: PASS }, forceUnlock: false, level: 3, threads: 2 },
    ctxWith(),
  ).catch((e: unknown) => e)) as DriveseedError;
  assert.is(err.code, 'EMULATOR_UNREACHABLE');
});

test.run();
