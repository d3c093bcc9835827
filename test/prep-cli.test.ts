/**
 * prep and verify through the front ends: the CLI in --json mode on two loop disks (every stdout line
 * is JSON, the plan comes before any write, the result lists the drives), verify naming a tampered
 * block with exit 4, RPC prep refused without the confirm param, and the legacy `s:` syntax.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSettings } from '../src/core/settings';
import { firstPartitionPath, mountNtfs } from '../src/prep/format';
import { nativeIoUnavailable } from '../src/prep/native';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { jsonLines, runCliAsync } from './prep-support/cli-async';
import { makeStaging } from './prep-support/staging';
import { RpcCallError, RpcClient } from './support/rpc-client';

const MiB = 1024 * 1024;
const reason =
  loopUnavailable() ?? nativeIoUnavailable() ?? (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

function staged(sizes: number[]): string {
  const staging = tmpDir();
  makeStaging(staging, sizes);
  writeSettings(staging, { version: 1, staging, job: 'clijob1', container: 'seed' });
  return staging;
}

gated(
  test,
  'CLI --json prep on two loop disks: JSON lines, plan before writes, drives in the result; verify names a tampered block (exit 4)',
  reason,
  async () => {
    const staging = staged([20 * MiB, 20 * MiB, 9 * MiB + 123, 30 * MiB]);
    const a = attachLoop(64 * MiB);
    const b = attachLoop(128 * MiB);
    try {
      const r = await runCliAsync(['--json', 'prep', '--staging', staging, '--target', a.dev, b.dev, '--format', '--yes', '--encryption', 'none', '--no-job']);
      assert.is(r.code, 0, r.stdout + r.stderr);
      const lines = jsonLines(r.stdout); // throws on any non-JSON line
      const planAt = lines.findIndex((l) => l.type === 'event' && l.event === 'plan');
      const firstWrite = lines.findIndex((l) => l.type === 'progress' && l.phase === 'write');
      const formatAt = lines.findIndex((l) => l.type === 'info' && /Partitioning/.test(l.message));
      assert.ok(planAt >= 0 && firstWrite > planAt && formatAt > planAt, 'the plan is reported before formatting and writing');
      assert.is(lines[planAt]!.data.drives.length, 2);
      const writes = lines.filter((l) => l.type === 'progress' && l.phase === 'write');
      assert.ok(
        writes.every((w) => typeof w.bytesDone === 'number' && typeof w.rate === 'number'),
        'progress carries bytes and rate',
      );
      const last = lines[lines.length - 1]!;
      assert.is(last.type, 'result');
      const drives = last.data.drives as Array<Record<string, unknown>>;
      assert.is(drives.length, 2);
      for (const d of drives) {
        assert.match(String(d.driveId), /^DS[0-9A-F]{14}$/);
        assert.is(d.manifestFile, '\\DriveManifest.xml');
        assert.match(String(d.manifestHash), /^[0-9A-F]{32}$/);
        assert.ok((d.bytes as number) > 0 && (d.files as number) > 0);
        assert.is(d.verified, true);
      }
      assert.is(last.data.job, undefined, '--no-job');

      const m = mountNtfs(firstPartitionPath(b.dev));
      let pack: string;
      try {
        const manifest = fs.readFileSync(path.join(m.dir, 'DriveManifest.xml'), 'utf8');
        pack = /<FilePath>\\(data\\[^<]+)<\/FilePath>/.exec(manifest)![1]!.split('\\').join('/');
        const fd = fs.openSync(path.join(m.dir, pack), 'r+');
        fs.writeSync(fd, Buffer.from('tampered'), 0, 8, 4 * MiB + 10);
        fs.closeSync(fd);
      } finally {
        m.release();
      }
      const v = await runCliAsync(['--json', 'verify', '--target', a.dev, b.dev, '--staging', staging]);
      assert.is(v.code, 4, v.stdout + v.stderr);
      const vr = jsonLines(v.stdout).pop()!;
      assert.is(vr.type, 'result');
      assert.is(vr.data.ok, false);
      assert.is(vr.data.drives[0].ok, true);
      const problems = vr.data.drives[1].problems as Array<{ kind: string; message: string; block?: { offset: number; blobPath: string } }>;
      assert.is(problems.length, 1);
      assert.is(problems[0]!.block?.offset, 4 * MiB);
      assert.is(problems[0]!.block?.blobPath, `seed/${pack}`);
      assert.match(problems[0]!.message, `seed/${pack}`);
      const t = await runCliAsync(['verify', '--target', b.dev]);
      assert.is(t.code, 4);
      assert.match(t.stdout, `offset ${4 * MiB}`);
      assert.match(t.stdout, 'VERIFY FAILED');
      const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      assert.not.match(mounts, firstPartitionPath(b.dev), 'verify left no mount behind');
    } finally {
      a.detach();
      b.detach();
      fs.rmSync(staging, { recursive: true, force: true });
    }
  },
);

test('RPC prep without confirm, or with a confirm that is not the targets: TARGET_NOT_CONFIRMED, nothing touched', async () => {
  const staging = staged([1 * MiB]);
  const rpc = await RpcClient.start();
  try {
    for (const confirm of [undefined, '/dev/other', ['/dev/nonexistent-a']]) {
      const params: Record<string, unknown> = { staging, target: ['/dev/nonexistent-a', '/dev/nonexistent-b'], format: true, encryption: 'none', job: false };
      if (confirm !== undefined) params.confirm = confirm;
      const e = await rpc.request('prep', params).catch((x) => x);
      assert.instance(e, RpcCallError);
      assert.is((e as RpcCallError).data?.code, 'TARGET_NOT_CONFIRMED');
      assert.equal(((e as RpcCallError).data?.details as { targets?: string[] } | undefined)?.targets, ['/dev/nonexistent-a', '/dev/nonexistent-b']);
    }
    assert.not.ok(fs.existsSync(path.join(staging, '.prep')), 'no journal was started');
    // confirmed: it gets as far as the target check
    const e = await rpc
      .request('prep', { staging, target: ['/dev/nonexistent-a'], format: true, encryption: 'none', job: false, confirm: '/dev/nonexistent-a' })
      .catch((x) => x);
    assert.is((e as RpcCallError).data?.code, 'TARGET_NOT_FOUND');
  } finally {
    await rpc.close();
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test('legacy s:<staging> without a terminal fails naming --target; without a return address (job) naming --return-address', async () => {
  const staging = staged([1 * MiB]);
  try {
    const r = await runCliAsync([`s:${staging}`, '--json']);
    assert.is(r.code, 2, r.stdout + r.stderr);
    const e = jsonLines(r.stdout).pop()!;
    assert.is(e.code, 'PROMPT_REQUIRED');
    assert.match(e.message, '--target');
    const j = await runCliAsync(['--json', 'prep', '--staging', staging, '--target', '/dev/nonexistent-a', '--encryption', 'none']);
    const je = jsonLines(j.stdout).pop()!;
    assert.is(je.code, 'JOB_SETTINGS_INCOMPLETE', 'the job settings are checked before anything is written');
    assert.match(je.message, '--subscription');
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test.run();
