/**
 * Injected I/O faults (test/support/faults.ts, the LD_PRELOAD shim) under the real CLI on an NTFS
 * loop disk: prep meeting EIO, ENOSPC and short writes and an EIO fdatasync on the drive, each run
 * resumed from the journal until one finishes with the manifest an unfaulted run writes; prep's
 * read-back and `driveseed verify` meeting unreadable blocks, which are named (file, offset, length,
 * errno) with every other block still compared. A drive left by a failed prep is never presented as
 * prepared: no DriveManifest.xml, no drives.json, no finished journal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSettings } from '../src/core/settings';
import { firstPartitionPath, mountNtfs } from '../src/prep/format';
import { Journal } from '../src/prep/journal';
import { nativeIoUnavailable } from '../src/prep/native';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';
import { type CliRun, type FaultRule, errorLine, faultsUnavailable, hasStack, output, runFaulted } from './support/faults';

const MiB = 1024 * 1024;
const reason =
  faultsUnavailable() ??
  loopUnavailable() ??
  nativeIoUnavailable() ??
  (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

/** Files on a mounted drive (driveseed mounts under /run/driveseed/mnt as root, else under the temp dir), never the staging copy. */
const onDrive = (name: string) => `*/driveseed-mnt*/${name}`;
const onDriveRoot = (name: string) => `/run/driveseed/mnt/*/${name}`;

function staged(): { staging: string; packs: string[] } {
  const staging = tmpDir();
  const { packs } = makeStaging(staging, [9 * MiB + 123, 6 * MiB, 5 * MiB]);
  writeSettings(staging, { version: 1, staging, job: 'faultjob1', container: 'seed' });
  return { staging, packs: packs.map((p) => p.path) };
}

const prepCli = (staging: string, dev: string, rules: FaultRule[], format = true) =>
  runFaulted(['--json', 'prep', '--staging', staging, '--target', dev, ...(format ? ['--format'] : []), '--yes', '--encryption', 'none', '--no-job'], rules);

/** Both spellings of where a drive is mounted, for a rule on a file of the drive. */
const drive = (rule: Omit<FaultRule, 'path' | 'match'>, name: string): FaultRule[] => [
  { ...rule, path: onDriveRoot(name), match: 'glob' },
  { ...rule, path: onDrive(name), match: 'glob' },
];

function failed(r: CliRun, exit: number, code: string): Record<string, any> {
  assert.ok(r.fired.length >= 1, `the fault never fired:\n${output(r)}`);
  assert.not.ok(hasStack(r), `no stack trace:\n${output(r)}`);
  assert.is(r.code, exit, output(r));
  const e = errorLine(r);
  assert.ok(e, output(r));
  assert.is(e!.code, code, output(r));
  assert.is(e!.exitCode, exit);
  return e!;
}

function notPrepared(staging: string, dev: string): void {
  assert.not.ok(Journal.open(staging).load().done, 'the journal does not say done');
  assert.not.ok(fs.existsSync(path.join(staging, '.prep', 'drives.json')), 'the drive is not recorded for the job');
  const m = mountNtfs(firstPartitionPath(dev));
  try {
    assert.not.ok(fs.existsSync(path.join(m.dir, 'DriveManifest.xml')), 'no manifest on the drive');
  } finally {
    m.release();
  }
}

const manifestOf = (dev: string): Buffer => {
  const m = mountNtfs(firstPartitionPath(dev));
  try {
    return fs.readFileSync(path.join(m.dir, 'DriveManifest.xml'));
  } finally {
    m.release();
  }
};

gated(
  test,
  'prep meets EIO, ENOSPC, an EIO fdatasync and short writes on the drive: exit 1 naming file and offset, the drive not prepared; the resumed run writes the unfaulted manifest',
  reason,
  async () => {
    const { staging, packs } = staged();
    const d = attachLoop(64 * MiB);
    try {
      // Every fault hits the same pack: the one the first fault stopped is copied again by each resume.
      const p1 = path.basename(packs[1]!);

      const eio = await prepCli(staging, d.dev, drive({ op: 'write', offset: 4 * MiB, kind: 'eio' }, p1));
      let e = failed(eio, 1, 'EIO');
      assert.match(eio.fired[0]!.path, p1);
      assert.is(e.details.path, eio.fired[0]!.path, 'the error names the file on the drive');
      assert.is(e.details.offset, eio.fired[0]!.offset);
      assert.is(e.details.syscall, 'pwrite');
      assert.match(e.message, `offset ${eio.fired[0]!.offset}`);
      notPrepared(staging, d.dev);
      const v = await runFaulted(['--json', 'verify', '--target', d.dev], []);
      assert.is(v.code, 4, `verify of the half-written drive fails:\n${output(v)}`);
      assert.match(JSON.stringify(v.lines.at(-1)), /DriveManifest.xml is missing/);

      const full = await prepCli(staging, d.dev, drive({ op: 'write', offset: MiB, kind: 'enospc' }, p1));
      e = failed(full, 1, 'ENOSPC');
      assert.ok(
        full.lines.some((l) => l.type === 'info' && /Resuming the prep/.test(l.message)),
        'the second run resumed',
      );
      assert.is(e.details.path, full.fired[0]!.path);
      assert.is(e.details.offset, full.fired[0]!.offset);
      notPrepared(staging, d.dev);

      const sync = await prepCli(staging, d.dev, drive({ op: 'fsync', kind: 'eio' }, p1));
      e = failed(sync, 1, 'EIO');
      assert.is(e.details.syscall, 'fdatasync');
      assert.is(e.details.path, sync.fired[0]!.path);
      notPrepared(staging, d.dev);

      const ok = await prepCli(staging, d.dev, drive({ op: 'write', kind: 'short', count: 3 }, p1));
      assert.ok(ok.fired.length >= 3, `the short writes happened:\n${output(ok)}`);
      assert.is(ok.code, 0, output(ok));
      const res = ok.lines.at(-1)!;
      assert.is(res.type, 'result');
      assert.is(res.data.resumed, true);
      assert.is(res.data.drives[0].verified, true);
      assert.ok(Journal.open(staging).load().done);
      const resumed = manifestOf(d.dev);

      // An unfaulted run of the same plan onto the same drive (same drive id file) writes the same manifest.
      fs.rmSync(path.join(staging, '.prep'), { recursive: true });
      const clean = await prepCli(staging, d.dev, [], false);
      assert.is(clean.code, 0, output(clean));
      assert.is(clean.lines.at(-1)!.data.drives[0].manifestHash, res.data.drives[0].manifestHash);
      assert.ok(manifestOf(d.dev).equals(resumed), 'byte-identical manifest');
    } finally {
      d.detach();
      fs.rmSync(staging, { recursive: true, force: true });
    }
  },
);

gated(
  test,
  "prep's read-back meets a block that cannot be read: PREP_VERIFY_FAILED (exit 4) naming it, the drive not recorded for the job; the rerun verifies and records it",
  reason,
  async () => {
    const { staging, packs } = staged();
    const d = attachLoop(64 * MiB);
    try {
      const p0 = path.basename(packs[0]!);
      // Reads reach the drive's copy only in the read-back (the copy reads the staging file).
      const r = await prepCli(staging, d.dev, drive({ op: 'read', offset: 4 * MiB, kind: 'eio', count: 0 }, p0));
      const e = failed(r, 4, 'PREP_VERIFY_FAILED');
      assert.match(e.message, new RegExp(`block at offset ${4 * MiB} \\(${4 * MiB} bytes\\) of \\S+${p0} could not be read: .*EIO`));
      assert.is(e.details.problems.length, 2, 'the blocks at 4 MiB and 8 MiB, nothing else');
      assert.match(e.details.problems[1], `block at offset ${8 * MiB}`);
      assert.not.ok(Journal.open(staging).load().done);
      assert.not.ok(fs.existsSync(path.join(staging, '.prep', 'drives.json')), 'a drive whose read-back failed is not recorded for the job');

      const again = await prepCli(staging, d.dev, []);
      assert.is(again.code, 0, output(again));
      assert.is(again.lines.at(-1)!.data.resumed, true);
      assert.is(again.lines.at(-1)!.data.drives[0].verified, true);
      assert.ok(fs.existsSync(path.join(staging, '.prep', 'drives.json')));
    } finally {
      d.detach();
      fs.rmSync(staging, { recursive: true, force: true });
    }
  },
);

gated(
  test,
  'verify meets unreadable blocks: exit 4, each named with file, offset, length and EIO, every other block compared; without the fault it passes',
  reason,
  async () => {
    const { staging, packs } = staged();
    const d = attachLoop(64 * MiB);
    try {
      const prep = await prepCli(staging, d.dev, []);
      assert.is(prep.code, 0, output(prep));
      const p0 = path.basename(packs[0]!);
      const rules = drive({ op: 'read', offset: 4 * MiB, kind: 'eio', count: 0 }, p0);
      const v = await runFaulted(['--json', 'verify', '--target', d.dev, '--staging', staging], rules);
      assert.ok(v.fired.length >= 2, `the fault fired:\n${output(v)}`);
      assert.not.ok(hasStack(v), output(v));
      assert.is(v.code, 4, output(v));
      const res = v.lines.at(-1)!;
      assert.is(res.type, 'result');
      assert.is(res.data.ok, false);
      const drv = res.data.drives[0];
      assert.is(drv.blocks, 10, 'every block of the drive was accounted for');
      const problems = drv.problems as Array<{ kind: string; message: string; block: Record<string, unknown> }>;
      assert.equal(
        problems.map((p) => [p.kind, p.block.offset, p.block.length, p.block.actual, p.block.error]),
        [
          ['block', 4 * MiB, 4 * MiB, null, 'EIO'],
          ['block', 8 * MiB, MiB + 123, null, 'EIO'],
        ],
      );
      assert.match(String(problems[0]!.block.file), p0);
      assert.match(problems[0]!.message, `offset ${4 * MiB}`);
      assert.match(problems[0]!.message, 'Input/output error (EIO)');

      const text = await runFaulted(['verify', '--target', d.dev], rules);
      assert.is(text.code, 4, output(text));
      assert.match(text.stdout, `offset ${4 * MiB}`);
      assert.match(text.stdout, 'EIO');
      assert.not.ok(hasStack(text), output(text));

      const clean = await runFaulted(['--json', 'verify', '--target', d.dev, '--staging', staging], []);
      assert.is(clean.code, 0, output(clean));
      assert.is(clean.lines.at(-1)!.data.ok, true);
    } finally {
      d.detach();
      fs.rmSync(staging, { recursive: true, force: true });
    }
  },
);

test.run();
