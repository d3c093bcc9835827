// The repository lock as a blob lease (src/cloud/lease-lock.ts) against a private Azurite.
import * as os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ContainerClient } from '@azure/storage-blob';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { containerClientFor } from '../src/cloud/client';
import { acquireLeaseLock, readLockHolder } from '../src/cloud/lease-lock';
import { DriveseedError } from '../src/base/errors';
import type { Reporter } from '../src/base/reporter';

let azurite: AzuriteHandle;
let n = 0;
async function container(): Promise<ContainerClient> {
  const c = containerClientFor(azurite.location(`lock${++n}`));
  await c.createIfNotExists();
  return c;
}
function recorder(): Reporter & { warnings: Array<{ code: string; message: string }> } {
  const warnings: Array<{ code: string; message: string }> = [];
  return { warnings, progress() {}, info() {}, event() {}, warning: (code, message) => void warnings.push({ code, message }) };
}
async function failure(p: Promise<unknown>): Promise<DriveseedError> {
  try {
    await p;
  } catch (err) {
    return err as DriveseedError;
  }
  throw new Error('expected a rejection');
}

test.before(async () => {
  azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
});

test('a second client is refused with REPOSITORY_LOCKED naming the holder; after release it gets the lock', async () => {
  const c = await container();
  const first = await acquireLeaseLock(c, { operation: 'backup', description: 'test' });
  const holder = await readLockHolder(c);
  assert.equal(holder?.leased, true);
  assert.equal(holder?.holder, first.holder);
  const err = await failure(acquireLeaseLock(c, { operation: 'check', description: 'test' }));
  assert.is(err.code, 'REPOSITORY_LOCKED');
  assert.match(err.message, `pid ${process.pid} on ${os.hostname()}`);
  assert.match(err.message, /--force-unlock/);
  await first.assertHeld();
  await first.release();
  const second = await acquireLeaseLock(c, { operation: 'check', description: 'test' });
  await second.assertHeld();
  await second.release();
});

test('--force-unlock breaks the lease after a warning naming the holder; the old holder loses it at its next renewal', async () => {
  const c = await container();
  const first = await acquireLeaseLock(c, { operation: 'backup', description: 'test', renewEveryMs: 100 });
  const rep = recorder();
  const second = await acquireLeaseLock(c, { operation: 'backup', description: 'test', forceUnlock: true, reporter: rep });
  assert.is(rep.warnings.length, 1);
  assert.is(rep.warnings[0]!.code, 'LOCK_BROKEN');
  assert.match(rep.warnings[0]!.message, `pid ${process.pid}`);
  const lost = await new Promise<unknown>((resolve) => first.signal.addEventListener('abort', () => resolve(first.signal.reason), { once: true }));
  assert.instance(lost, DriveseedError);
  assert.is((lost as DriveseedError).code, 'LEASE_LOST');
  assert.is((await failure(first.assertHeld())).code, 'LEASE_LOST');
  await first.release(); // a lost lock releases quietly and does not disturb the new holder
  await second.assertHeld();
  assert.equal((await readLockHolder(c))?.leased, true);
  await second.release();
});

test('assertHeld notices a broken lease at once, without waiting for the renewal timer', async () => {
  const c = await container();
  const lock = await acquireLeaseLock(c, { operation: 'backup', description: 'test' });
  await c.getBlockBlobClient('locks/exclusive').getBlobLeaseClient().breakLease(0);
  const err = await failure(lock.assertHeld());
  assert.is(err.code, 'LEASE_LOST');
  assert.ok(lock.signal.aborted);
  await lock.release();
});

test.run();
