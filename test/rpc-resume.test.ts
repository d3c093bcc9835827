/**
 * Cancellation over `driveseed rpc` followed by a successful resume (docs/protocol.md
 * "$/cancelRequest"): the real stage and prep commands, driven exactly as the PowerShell module
 * drives them (test/support/rpc-client.ts).
 *
 *  - stage: cancel once data is being packed → error 130 CANCELLED; `check` is healthy (at most
 *    unreferenced data left); a second `stage` completes; `restore` gives the tree back byte for byte.
 *  - prep (root, loop device, ntfs-3g): cancel mid-write → CANCELLED; a second `prep` resumes and its
 *    drive verifies, also through the `verify` method.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstPartitionPath } from '../src/prep/format';
import { nativeIoUnavailable } from '../src/prep/native';
import { attachLoop, gated, hasTool, loopUnavailable, poorlyCompressible, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';
import { RpcCallError, RpcClient } from './support/rpc-client';

const MiB = 1024 * 1024;
const PASSPHRASE = 'rpc-resume-test-passphrase';

async function rejection(p: Promise<unknown>): Promise<RpcCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcCallError) return e;
    throw e;
  }
  throw new Error('expected the call to fail, but it completed (the cancel came too late?)');
}

/** Writes `files` files of `size` poorly compressible bytes (zstd works through every one of them). */
function makeTree(dir: string, files: number, size: number): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const fd = fs.openSync(path.join(dir, i % 2 ? 'sub' : '', `f${i}.bin`), 'w');
    for (let o = 0; o < size; o += 4 * MiB) fs.writeSync(fd, poorlyCompressible(Math.min(4 * MiB, size - o)));
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(dir, 'small.txt'), 'a small file\n');
}

/** relative path → sha256 of every regular file under dir */
function digestTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

test('stage cancelled over RPC mid-pack, check is healthy, a second stage completes and restore gives the tree back', async () => {
  const root = tmpDir('driveseed-rpc-resume-');
  const src = path.join(root, 'src');
  const staging = path.join(root, 'staging');
  // 256 MiB of poorly compressible data: seconds of packing on a shared 2-core machine.
  makeTree(src, 16, 16 * MiB);
  const c = await RpcClient.start();
  try {
    const params = { sources: [src], staging, job: 'seed1', passphrase: PASSPHRASE, scan: true };
    const phases: string[] = [];
    let cancelled = false;
    const first = c.call('stage', params, (p) => {
      if (p.type !== 'progress') return;
      phases.push(String(p.phase));
      // Cancel once data is being packed (not during the scan), so that something was written.
      if (!cancelled && p.phase === 'stage' && Number(p.bytesDone) > 0 && Number(p.bytesDone) < Number(p.bytesTotal)) {
        cancelled = true;
        c.cancel(first.id);
      }
    });
    const e = await rejection(first.promise);
    assert.ok(cancelled, `no stage progress before the end; phases seen: ${phases.join(',')}`);
    assert.is(e.code, 130);
    assert.is(e.fullyQualifiedErrorId, 'CANCELLED');
    assert.is(e.data!.category, 'CANCELLED');

    // The repository stays consistent: only unreferenced data may be left behind.
    const chk = (await c.request('check', { staging, passphrase: PASSPHRASE })) as { healthy: boolean; problems: unknown[]; counts: { snapshots: number } };
    assert.ok(chk.healthy, JSON.stringify(chk.problems));
    assert.is(chk.problems.length, 0);
    assert.is(chk.counts.snapshots, 0, 'the cancelled stage saved no snapshot');

    const second = (await c.request('stage', params)) as { snapshot: string; partial: boolean; summary: { files: number; bytes: number } };
    assert.not.ok(second.partial);
    assert.is(second.summary.files, 17);
    assert.is(second.summary.bytes, 16 * 16 * MiB + 13);
    const chk2 = (await c.request('check', { staging, passphrase: PASSPHRASE, readData: true })) as {
      healthy: boolean;
      problems: unknown[];
      counts: { snapshots: number };
    };
    assert.ok(chk2.healthy, JSON.stringify(chk2.problems));
    assert.is(chk2.counts.snapshots, 1);

    const to = path.join(root, 'restored');
    const r = (await c.request('restore', { staging, to, passphrase: PASSPHRASE })) as { files: number; verifyFailed: boolean };
    assert.not.ok(r.verifyFailed);
    assert.is(r.files, 17);
    const want = digestTree(src);
    // restore puts each source under its base name inside --to
    const got = digestTree(path.join(to, path.basename(src)));
    assert.equal(Object.fromEntries([...got].sort()), Object.fromEntries([...want].sort()));
  } finally {
    await c.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

const prepReason =
  loopUnavailable() ??
  nativeIoUnavailable() ??
  (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk (mkntfs, sgdisk)');

gated(test, 'prep cancelled over RPC mid-write, then resumed to a drive that verifies', prepReason, async () => {
  const staging = tmpDir();
  // 160 MiB of packs onto a 256 MiB disk: the write phase lasts long enough to be cancelled in.
  makeStaging(
    staging,
    Array.from({ length: 20 }, () => 8 * MiB + 4096),
  );
  const d = attachLoop(256 * MiB);
  const c = await RpcClient.start();
  try {
    const params = { staging, target: [d.dev], format: true, encryption: 'none', job: false, container: 'seed', confirm: d.dev };
    let cancelled = false;
    const phases: string[] = [];
    const first = c.call('prep', params, (p) => {
      if (p.type !== 'progress') return;
      phases.push(String(p.phase));
      if (!cancelled && p.phase === 'write' && Number(p.bytesDone) < Number(p.bytesTotal)) {
        cancelled = true;
        c.cancel(first.id);
      }
    });
    const e = await rejection(first.promise);
    assert.ok(cancelled, `no write progress before the end; phases seen: ${phases.join(',')}`);
    assert.is(e.code, 130);
    assert.is(e.fullyQualifiedErrorId, 'CANCELLED');
    assert.is(spawnSync('findmnt', ['-S', firstPartitionPath(d.dev)]).status, 1, 'the cancelled prep left no mount behind');

    const r = (await c.request('prep', params)) as {
      resumed: boolean;
      drives: Array<{ verified: boolean | null; driveId: string; files: number }>;
      problems: unknown[];
    };
    assert.ok(r.resumed, 'the second prep resumed the journal of the first');
    assert.is(r.drives.length, 1);
    assert.is(r.drives[0]!.verified, true);
    assert.is(r.drives[0]!.files, 23, 'config, index, its pack list and 20 packs');
    assert.equal(r.problems, []);

    const v = (await c.request('verify', { target: [d.dev], staging })) as { ok: boolean; problems: number; drives: Array<{ driveId: string }> };
    assert.ok(v.ok);
    assert.is(v.problems, 0);
    assert.is(v.drives[0]!.driveId, r.drives[0]!.driveId);
  } finally {
    await c.close();
    spawnSync('umount', ['-l', firstPartitionPath(d.dev)]);
    d.detach();
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test.run();
