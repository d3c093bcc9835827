// The cloud commands through the real CLI (src/cli/main.ts under tsx), against a private Azurite:
// backup, snapshots --cloud, check --cloud, restore --from-cloud, in --json and text modes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { updateSettings } from '../src/core/settings';
import { loadBinding } from '../src/native/load';
import { PASS, prng, seededRepo, treeOf } from './backup-helpers';
import { gated, tmpDir } from './helpers';
import { runCli } from './support/cli';
import { RpcClient } from './support/rpc-client';

let azurite: AzuriteHandle;
const cleanup: string[] = [];
const why = (() => {
  try {
    return typeof loadBinding().packJob === 'function' ? undefined : 'the native addon has no packJob';
  } catch (err) {
    return `the native addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
})();
const env = { DRIVESEED_PASSPHRASE: PASS.reveal() };

test.before(async () => {
  if (!why) azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

function lastLine(stdout: string): { type: string; data?: any; code?: string; message?: string } {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

gated(test, 'backup, snapshots --cloud, check --cloud, restore --from-cloud through the CLI; the passphrase never appears in the output', why, async () => {
  const dir = path.join(tmpDir('driveseed-cli-src-'), 'data');
  cleanup.push(path.dirname(dir));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.bin'), prng(3, 3 * 1024 * 1024));
  const { staging } = await seededRepo(azurite, dir, 'cli');
  cleanup.push(staging);
  fs.writeFileSync(path.join(dir, 'b.txt'), 'added after the seed\n');

  const b = runCli(['--json', 'backup', dir, '--staging', staging], env);
  assert.is(b.code, 0, b.stderr + b.stdout);
  const res = lastLine(b.stdout);
  assert.is(res.type, 'result');
  assert.match(res.data.snapshot, /^[0-9a-f]{64}$/);
  assert.ok(res.data.upload.bytesSent > 0);

  const s = runCli(['--json', 'snapshots', '--staging', staging, '--cloud'], env);
  assert.is(s.code, 0, s.stderr);
  const snaps = lastLine(s.stdout).data.snapshots as Array<{ id: string; files: number }>;
  assert.is(snaps.length, 2);
  assert.is(snaps[1]!.id, res.data.snapshot);
  assert.is(snaps[1]!.files, 2);
  const text = runCli(['snapshots', '--staging', staging, '--cloud'], env);
  assert.is(text.code, 0);
  assert.match(text.stdout, /2 snapshots in http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/cli/);
  assert.match(text.stdout, res.data.snapshot.slice(0, 12));

  const c = runCli(['--json', 'check', '--staging', staging, '--cloud', '--read-data'], env);
  assert.is(c.code, 0, c.stderr + c.stdout);
  assert.is(lastLine(c.stdout).data.healthy, true);

  const to = path.join(tmpDir('driveseed-cli-restore-'), 'out');
  cleanup.push(path.dirname(to));
  const r = runCli(['--json', 'restore', '--staging', staging, '--from-cloud', '--to', to], env);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.equal(treeOf(path.join(to, 'data')), treeOf(dir));

  for (const out of [b, s, text, c, r]) {
    assert.not.ok((out.stdout + out.stderr).includes(PASS.reveal()), 'the passphrase leaked into the output');
  }
});

gated(test, 'backup before the seed is complete: exit 2, SEED_NOT_COMPLETE naming the next command', why, async () => {
  const dir = path.join(tmpDir('driveseed-cli-src-'), 'data');
  cleanup.push(path.dirname(dir));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'x.txt'), 'x');
  const { staging } = await seededRepo(azurite, dir, 'cli-early');
  cleanup.push(staging);
  updateSettings(staging, { seed: { state: 'job-created' } });
  const b = runCli(['backup', dir, '--staging', staging], env);
  assert.is(b.code, 2);
  assert.match(b.stderr, /\[SEED_NOT_COMPLETE\]/);
  assert.match(b.stderr, /driveseed ship --staging/);
});

gated(test, 'over JSON-RPC: backup (with $/progress) and snapshots.list; a wrong passphrase is an error with data.code', why, async () => {
  const dir = path.join(tmpDir('driveseed-rpc-src-'), 'data');
  cleanup.push(path.dirname(dir));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'r.bin'), prng(11, 5 * 1024 * 1024));
  const { staging } = await seededRepo(azurite, dir, 'rpc');
  cleanup.push(staging);
  fs.writeFileSync(path.join(dir, 'new.bin'), prng(12, 5 * 1024 * 1024));
  const rpc = await RpcClient.start();
  try {
    const phases = new Set<string>();
    const res = (await rpc.request('backup', { sources: [dir], staging, passphrase: PASS.reveal() }, (p) => phases.add(String(p.phase)))) as {
      snapshot: string;
      upload: { packs: number };
    };
    assert.match(res.snapshot, /^[0-9a-f]{64}$/);
    assert.ok(res.upload.packs >= 1);
    assert.ok(phases.has('backup'), `progress phases: ${[...phases].join(', ')}`);
    const list = (await rpc.request('snapshots.list', { staging, cloud: true, passphrase: PASS.reveal() })) as { snapshots: Array<{ id: string }> };
    assert.is(list.snapshots[list.snapshots.length - 1]!.id, res.snapshot);
    const err = await rpc.request('snapshots.list', { staging, cloud: true, passphrase: 'wrong one' }).catch((e: unknown) => e);
    assert.is((err as { fullyQualifiedErrorId?: string }).fullyQualifiedErrorId, 'WRONG_PASSPHRASE');
  } finally {
    await rpc.close();
  }
});

test.run();
