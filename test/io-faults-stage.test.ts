/**
 * Injected I/O faults under the real CLI (bin/driveseed.js in a child process, with the LD_PRELOAD
 * fault shim of test/support/faults.ts): stage reading a source file and writing packs, the index and
 * the snapshot; restore writing files and reading packs. Each case asserts that the fault really fired,
 * the exit code and error code of docs/exit-codes.md, a message naming the file (and offset) without a
 * stack, that nothing half-written is presented as good (no snapshot, `check --read-data` healthy, no
 * partial file at its final name), and that a rerun without the fault gives what a run that never
 * faulted gives (the same restored bytes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret } from '../src/base/secret';
import { check } from '../src/core/check';
import { restore } from '../src/core/restore';
import { Repository } from '../src/repo/repository';
import { gated, tmpDir } from './helpers';
import { FAST_KDF, PASS, context, noise, passphrase } from './stage-fixtures';
import { type CliRun, type FaultRule, errorLine, faultsUnavailable, hasStack, output, runFaulted, treeDigest } from './support/faults';

const MiB = 1024 * 1024;
const reason = faultsUnavailable();
const work = tmpDir('driveseed-io-faults-');
const env = { DRIVESEED_PASSPHRASE: PASS };

// One source for every case: two multi-chunk files and a small one.
const src = path.join(work, 'src');
fs.mkdirSync(src);
fs.writeFileSync(path.join(src, 'a.bin'), noise(3 * MiB, 1));
fs.writeFileSync(path.join(src, 'victim.bin'), noise(5 * MiB, 2));
fs.writeFileSync(path.join(src, 'c.txt'), 'small file\n');
const VICTIM = path.join(src, 'victim.bin');
const expected = () => treeDigest(src);

let n = 0;
/** A fresh staging repository (the cheap test KDF, so that each CLI run stays fast). */
async function freshStaging(): Promise<string> {
  const staging = path.join(work, `staging-${++n}`);
  (await Repository.init(staging, new Secret(PASS), FAST_KDF)).close();
  return staging;
}

const stageCli = (staging: string, rules: FaultRule[]) =>
  runFaulted(['--json', 'stage', src, '--staging', staging, '--job', 'fault-job', '--threads', '2'], rules, { env });

const restoreCli = (staging: string, to: string, rules: FaultRule[]) => runFaulted(['--json', 'restore', '--staging', staging, '--to', to], rules, { env });

function fired(r: CliRun, count = 1): void {
  assert.ok(r.fired.length >= count, `the fault never fired:\n${output(r)}`);
  assert.not.ok(hasStack(r), `no stack trace:\n${output(r)}`);
}

function snapshots(staging: string): string[] {
  const d = path.join(staging, 'snapshots');
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.startsWith('.')) : [];
}

async function healthy(staging: string): Promise<Awaited<ReturnType<typeof check>>> {
  const c = await check({ staging, passphrase: passphrase(), readData: true, threads: 2 }, context());
  assert.ok(c.healthy, JSON.stringify(c.problems));
  assert.equal(c.problems, []);
  return c;
}

/** Restores the latest snapshot in-process into a new directory and returns its tree. */
async function restoredTree(staging: string): Promise<Record<string, string>> {
  const to = path.join(work, `restored-${++n}`);
  const r = await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context());
  assert.is(r.verifyFailed, false);
  return treeDigest(path.join(to, 'src'));
}

/** The rerun without faults: exit 0, nothing left over, and the snapshot restores to the source. */
async function rerunMatches(staging: string): Promise<void> {
  const again = await stageCli(staging, []);
  assert.is(again.code, 0, output(again));
  const c = await healthy(staging);
  assert.equal(c.garbage.temps, [], 'the rerun removed the temporary files of the failed run');
  assert.equal(await restoredTree(staging), expected(), 'the rerun stored what a run that never faulted stores');
}

/** A failed stage: the error line, no snapshot, a consistent repository, then a rerun that matches. */
async function failedStage(rule: FaultRule, code: string, message: RegExp, more?: (e: Record<string, any>, r: CliRun) => void): Promise<void> {
  const staging = await freshStaging();
  const r = await stageCli(staging, [{ ...rule, path: rule.path.replace('$STAGING', staging) }]);
  fired(r);
  assert.is(r.code, 1, output(r));
  const e = errorLine(r);
  assert.ok(e, output(r));
  assert.is(e!.code, code, output(r));
  assert.is(e!.exitCode, 1);
  assert.match(e!.message, message);
  more?.(e!, r);
  assert.equal(snapshots(staging), [], 'no snapshot was written by the failed run');
  await healthy(staging);
  await rerunMatches(staging);
}

gated(test, 'a clean run through the shim (no rules) stages and restores the source', reason, async () => {
  const staging = await freshStaging();
  const r = await stageCli(staging, []);
  assert.is(r.code, 0, output(r));
  assert.equal(await restoredTree(staging), expected());
});

gated(test, 'stage, EIO reading a source file at 2 MiB: FILE_UNREADABLE names it, exit 3 (PARTIAL); a rerun stages it', reason, async () => {
  const staging = await freshStaging();
  const r = await stageCli(staging, [{ path: VICTIM, match: 'exact', op: 'read', offset: 2 * MiB, kind: 'eio' }]);
  fired(r);
  assert.is(r.code, 3, output(r));
  const w = r.lines.find((l) => l.type === 'warning' && l.code === 'FILE_UNREADABLE');
  assert.ok(w, output(r));
  assert.is(w!.details.path, VICTIM);
  assert.is(w!.details.code, 'EIO');
  assert.match(w!.message, new RegExp(`EIO.*offset ${r.fired[0]!.offset}`));
  const res = r.lines.find((l) => l.type === 'result')!;
  assert.is(res.data.partial, true);
  assert.is(res.data.summary.filesFailed, 1);
  await healthy(staging);
  const partial = await restoredTree(staging);
  assert.equal(Object.keys(partial).sort(), ['a.bin', 'c.txt'], 'the unreadable file is not in the snapshot, not even in part');
  await rerunMatches(staging);
});

gated(test, 'stage, short reads of a source file (sector-sized and 1000 bytes): read on, the snapshot is exact', reason, async () => {
  for (const bytes of [undefined, 1000]) {
    const staging = await freshStaging();
    const r = await stageCli(staging, [{ path: VICTIM, match: 'exact', op: 'read', offset: 2 * MiB, kind: 'short', ...(bytes ? { bytes } : {}), count: 3 }]);
    fired(r, 3);
    assert.ok(
      r.fired.every((f) => f.result >= 0 && f.result < 5 * MiB),
      JSON.stringify(r.fired),
    );
    assert.is(r.code, 0, output(r));
    await healthy(staging);
    assert.equal(await restoredTree(staging), expected());
  }
});

gated(test, 'stage, ENOSPC writing a pack at 1 MiB: STAGING_FULL (exit 1) naming the pack and offset; no snapshot; rerun matches', reason, () =>
  failedStage(
    { path: '$STAGING/data/', op: 'write', offset: MiB, kind: 'enospc' },
    'STAGING_FULL',
    /staging disk is full .*ENOSPC.*run stage again/,
    (e, r) => {
      assert.is(e.details.errno, 'ENOSPC');
      assert.match(e.message, r.fired[0]!.path);
      assert.match(e.message, `offset ${r.fired[0]!.offset}`);
    },
  ),
);

gated(test, 'stage, EIO writing a pack: EIO (exit 1) with the pack file and offset; no snapshot; rerun matches', reason, () =>
  failedStage({ path: '$STAGING/data/', op: 'write', offset: MiB, kind: 'eio' }, 'EIO', /pwrite failed: Input\/output error/, (e, r) => {
    assert.is(e.details.path, r.fired[0]!.path);
    assert.is(e.details.offset, r.fired[0]!.offset);
    assert.is(e.details.syscall, 'pwrite');
  }),
);

gated(test, 'stage, EIO from fdatasync of a pack: EIO (exit 1) naming the pack; nothing points at it; rerun matches', reason, () =>
  failedStage({ path: '$STAGING/data/', op: 'fsync', kind: 'eio' }, 'EIO', /fdatasync failed/, (e, r) => {
    assert.is(e.details.path, r.fired[0]!.path);
  }),
);

gated(test, 'stage, EIO writing an index file: REPO_IO (exit 1) naming it; no snapshot; rerun matches', reason, () =>
  failedStage({ path: '$STAGING/index/', op: 'write', kind: 'eio' }, 'REPO_IO', /Could not write .*index.* EIO/),
);

gated(test, 'stage, EIO from fsync of an index file: REPO_IO (exit 1); rerun matches', reason, () =>
  failedStage({ path: '$STAGING/index/', op: 'fsync', kind: 'eio' }, 'REPO_IO', /Could not write .*index.*EIO/),
);

gated(test, 'stage, ENOSPC writing the snapshot file: STAGING_FULL (exit 1); no snapshot; rerun matches', reason, () =>
  failedStage({ path: '$STAGING/snapshots/', op: 'write', kind: 'enospc' }, 'STAGING_FULL', /staging disk is full .*snapshots/),
);

gated(test, 'stage, EIO from fsync of the snapshot file: REPO_IO (exit 1); no snapshot; rerun matches', reason, () =>
  failedStage({ path: '$STAGING/snapshots/', op: 'fsync', kind: 'eio' }, 'REPO_IO', /Could not write .*snapshots.*EIO/),
);

gated(test, 'stage, short writes of a pack: written on, check --read-data healthy, the snapshot restores exactly', reason, async () => {
  const staging = await freshStaging();
  const r = await stageCli(staging, [{ path: `${staging}/data/`, op: 'write', offset: MiB, kind: 'short', count: 4 }]);
  fired(r, 4);
  assert.is(r.code, 0, output(r));
  await healthy(staging);
  assert.equal(await restoredTree(staging), expected());
});

gated(test, 'stage, Ctrl-C while a pack write stalls: CANCELLED (exit 130), no snapshot, a consistent repository; rerun matches', reason, async () => {
  const staging = await freshStaging();
  const r = await runFaulted(
    ['--json', 'stage', src, '--staging', staging, '--job', 'fault-job', '--threads', '2'],
    [{ path: `${staging}/data/`, op: 'write', offset: MiB, kind: 'stall', ms: 1500 }],
    { env, signalWhenFired: 'SIGINT' },
  );
  fired(r);
  assert.is(r.fired[0]!.kind, 'stall');
  assert.is(r.code, 130, output(r));
  assert.is(errorLine(r)?.code, 'CANCELLED', output(r));
  assert.equal(snapshots(staging), [], 'no snapshot was written by the cancelled run');
  assert.not.ok(fs.existsSync(path.join(staging, 'locks', 'exclusive')), 'the lock is released');
  await healthy(staging);
  await rerunMatches(staging);
});

/** A staging repository holding the source, staged without faults. */
let cleanStaging: string | undefined;
async function staged(): Promise<string> {
  if (cleanStaging) return cleanStaging;
  const staging = await freshStaging();
  const r = await stageCli(staging, []);
  assert.is(r.code, 0, output(r));
  cleanStaging = staging;
  return staging;
}

for (const kind of ['enospc', 'eio'] as const) {
  gated(
    test,
    `restore, ${kind.toUpperCase()} writing a file at 2 MiB: RESTORE_FILE_FAILED names it, exit 4, the partial file is removed; a rerun restores all`,
    reason,
    async () => {
      const staging = await staged();
      const to = path.join(work, `to-${++n}`);
      const r = await restoreCli(staging, to, [{ path: `${to}/src/victim.bin`, match: 'exact', op: 'write', offset: 2 * MiB, kind }]);
      fired(r);
      assert.is(r.code, 4, output(r));
      const w = r.lines.filter((l) => l.type === 'warning' && l.code === 'RESTORE_FILE_FAILED');
      assert.is(w.length, 1, output(r));
      assert.is(w[0]!.details.path, 'src/victim.bin');
      assert.is(w[0]!.details.code, kind.toUpperCase());
      assert.match(w[0]!.message, `path ${to}/src/victim.bin, offset ${r.fired[0]!.offset}`);
      const res = r.lines.find((l) => l.type === 'result')!;
      assert.is(res.data.verifyFailed, true);
      assert.is(res.data.filesFailed, 1);
      assert.not.ok(fs.existsSync(path.join(to, 'src', 'victim.bin')), 'no half-written file at its final name');
      const { 'victim.bin': _, ...rest } = expected();
      assert.equal(treeDigest(path.join(to, 'src')), rest, 'the other files are whole');

      const to2 = path.join(work, `to-${++n}`);
      const again = await restoreCli(staging, to2, []);
      assert.is(again.code, 0, output(again));
      assert.equal(treeDigest(path.join(to2, 'src')), expected());
    },
  );
}

gated(test, 'restore, short writes of a file: written on, the file is exact (exit 0)', reason, async () => {
  const staging = await staged();
  const to = path.join(work, `to-${++n}`);
  const r = await restoreCli(staging, to, [{ path: `${to}/src/victim.bin`, match: 'exact', op: 'write', kind: 'short', count: 3 }]);
  fired(r, 3);
  assert.is(r.code, 0, output(r));
  assert.equal(treeDigest(path.join(to, 'src')), expected());
});

gated(test, 'restore, Ctrl-C while a file write stalls: CANCELLED (exit 130), no partial file at its final name; a rerun restores all', reason, async () => {
  const staging = await staged();
  const to = path.join(work, `to-${++n}`);
  const r = await runFaulted(
    ['--json', 'restore', '--staging', staging, '--to', to],
    [{ path: `${to}/src/victim.bin`, match: 'exact', op: 'write', offset: 2 * MiB, kind: 'stall', ms: 1500 }],
    { env, signalWhenFired: 'SIGINT' },
  );
  fired(r);
  assert.is(r.code, 130, output(r));
  assert.is(errorLine(r)?.code, 'CANCELLED', output(r));
  assert.not.ok(fs.existsSync(path.join(to, 'src', 'victim.bin')), 'the interrupted file is not left at its final name');
  const to2 = path.join(work, `to-${++n}`);
  const again = await restoreCli(staging, to2, []);
  assert.is(again.code, 0, output(again));
  assert.equal(treeDigest(path.join(to2, 'src')), expected());
});

gated(test, 'restore, EIO reading a pack: RESTORE_FILE_FAILED names the file and the pack, exit 4, nothing partial; a rerun restores all', reason, async () => {
  const staging = await staged();
  const to = path.join(work, `to-${++n}`);
  const r = await restoreCli(staging, to, [{ path: `${staging}/data/`, op: 'read', offset: MiB, kind: 'eio' }]);
  fired(r);
  assert.is(r.code, 4, output(r));
  const w = r.lines.filter((l) => l.type === 'warning' && l.code === 'RESTORE_FILE_FAILED');
  assert.ok(w.length >= 1, output(r));
  for (const x of w) {
    assert.is(x.details.code, 'EIO');
    assert.match(x.message, r.fired[0]!.path);
    assert.not.ok(fs.existsSync(path.join(to, x.details.path)), `${x.details.path} is not left half-written`);
  }
  const to2 = path.join(work, `to-${++n}`);
  const again = await restoreCli(staging, to2, []);
  assert.is(again.code, 0, output(again));
  assert.equal(treeDigest(path.join(to2, 'src')), expected());
});

test.after(() => fs.rmSync(work, { recursive: true, force: true }));

test.run();
