// The whole Windows prep path (src/prep/disk-platform-windows.ts through src/core/prep.ts) run on Linux: a fake
// CommandRunner replays the PowerShell outputs in test/fixtures/windows/ (hand-written, not
// recordings: see its README), a temp directory stands in for E:\, and a fake native disk lock
// records when the volumes would be locked. Asserts the exact command sequence, the drive id taken
// from the serial, the recovery password kept as a Secret, the refusals, and the failure messages.
// Why one file: every case drives the same rig (the replaying runner, a temp directory as E:\, the
// recording disk lock) through the same prep() call, and reads as one walk through the flow's outcomes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CommandContext, Prompter } from '../src/core/command';
import { DriveseedError } from '../src/base/errors';
import { prep, type PrepOptions } from '../src/core/prep';
import { writeSettings } from '../src/core/settings';
import type { Reporter } from '../src/base/reporter';
import { nativeIoUnavailable } from '../src/prep/native';
import type { CommandOutput, CommandRunner } from '../src/prep/runner';
import { WindowsPlatform } from '../src/prep/disk-platform-windows';
import { POWERSHELL, powerShellReason, scriptOfArgs } from '../src/prep/powershell-scripts';
import { gated, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';

const MiB = 1024 * 1024;
const KEY = '372251-066891-540617-190641-403381-601964-235224-117183';
const DISK2 = '\\\\.\\PhysicalDrive2';
const fx = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', 'windows', name), 'utf8');
const ok = (name: string): Reply => ({ stdout: fx(name) });
const fail = (name: string): Reply => ({ status: 1, stderr: fx(name) });

interface Reply {
  stdout?: string;
  stderr?: string;
  status?: number;
}

/** The line of a script that says what it does: the first of these cmdlets it contains, as written. */
const SIGNATURES = [
  'Format-Volume',
  'Enable-BitLocker',
  'Add-PartitionAccessPath',
  'Get-Volume -DriveLetter',
  'KeyProtector',
  'Get-BitLockerVolume',
  'Get-Disk -Number',
];
function signature(script: string): string {
  const lines = script.split('\n');
  for (const s of SIGNATURES) {
    const line = lines.find((l) => l.includes(s));
    if (line) return line.trim();
  }
  return `unrecognised script: ${script.slice(0, 200)}`;
}

/**
 * A runner answering each PowerShell call with the next reply. Every call is logged as the script's
 * signature line plus the number of entries at the volume root at that moment, so the sequence
 * shows which commands ran before and after the files were written.
 */
function replay(replies: Reply[], root: string, log: string[], scripts: string[]): CommandRunner {
  return async (cmd): Promise<CommandOutput> => {
    assert.is(cmd.file, POWERSHELL);
    assert.equal(cmd.args.slice(0, 5), ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand']);
    const script = scriptOfArgs(cmd.args);
    assert.match(script, /try \{\n\$ErrorActionPreference = 'Stop'/, 'every script runs inside the error wrapper');
    scripts.push(script);
    log.push(`${signature(script)}  [root: ${fs.readdirSync(root).length}]`);
    const r = replies.shift();
    if (!r) return { status: 1, signal: null, stdout: '', stderr: `driveseed-error: no reply recorded for this call (${signature(script)})` };
    return { status: r.status ?? 0, signal: null, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
}

function recordingReporter(out: string[]): Reporter {
  return {
    progress: (p) => out.push(JSON.stringify(p)),
    warning: (c, m, d) => out.push(JSON.stringify({ c, m, d })),
    info: (m, d) => out.push(JSON.stringify({ m, d })),
    event: (t, d) => out.push(JSON.stringify({ t, d })),
  };
}

interface Rig {
  staging: string;
  root: string;
  log: string[];
  scripts: string[];
  said: string[];
  platform: WindowsPlatform;
  ctx: CommandContext;
  run(o?: Partial<PrepOptions>): Promise<Awaited<ReturnType<typeof prep>>>;
  cleanup(): void;
}

function rig(replies: Reply[], opts: { lockFails?: boolean; prompter?: Prompter } = {}): Rig {
  const staging = tmpDir();
  makeStaging(staging, [5 * MiB + 17, 3 * MiB]);
  writeSettings(staging, { version: 1, staging, job: 'seed-windows' }); // as stage leaves it: prep records the seed state there
  const root = tmpDir('driveseed-E-');
  const log: string[] = [];
  const scripts: string[] = [];
  const said: string[] = [];
  const platform = new WindowsPlatform({
    runner: replay(replies, root, log, scripts),
    volumeRoot: (letter) => (letter === 'E' ? root : `/nonexistent/${letter}`),
    lockDisk: (p) => {
      log.push(`lock ${p}`);
      if (opts.lockFails) throw Object.assign(new Error(`${p} has a volume in use`), { code: 'ERR_LOCKED' });
      return { release: () => log.push(`release ${p}`) };
    },
    claimDisk: () => ({ release() {} }),
    freeBytes: () => 8_000_000_000_000,
    sleep: async () => {
      log.push('sleep');
    },
  });
  const ctx: CommandContext = {
    reporter: recordingReporter(said),
    signal: new AbortController().signal,
    env: {},
    ...(opts.prompter ? { prompter: opts.prompter } : {}),
  };
  return {
    staging,
    root,
    log,
    scripts,
    said,
    platform,
    ctx,
    run: (o = {}) => prep({ staging, targets: [DISK2], container: 'seed', format: true, yes: true, verify: true, platform, ...o }, ctx),
    cleanup() {
      fs.rmSync(staging, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<DriveseedError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.instance(e, DriveseedError, `expected a DriveseedError, got ${String(e)}`);
  return e as DriveseedError;
}

/**
 * Everything prep left in the staging location and said, except the files that carry the key on
 * purpose (keys.json, and the Azure portal's journal and DriveInfo files, which the portal needs it
 * in): the key must be in none of it. Those files must be 0600.
 */
function everythingButKeys(r: Rig, result: unknown): string {
  const all = (fs.readdirSync(path.join(r.staging, '.prep'), { recursive: true }) as string[]).filter((f) =>
    fs.statSync(path.join(r.staging, '.prep', f)).isFile(),
  );
  const keyFiles = all.filter((f) => path.basename(f) === 'keys.json' || f.endsWith('.jrn') || /_DriveInfo_.*\.xml$/.test(f));
  for (const f of keyFiles) assert.is(fs.statSync(path.join(r.staging, '.prep', f)).mode & 0o777, 0o600, `${f} carries the key and must be 0600`);
  const files = all.filter((f) => !keyFiles.includes(f));
  return [JSON.stringify(result), ...r.said, ...r.log, ...files.map((f) => `${f}: ${fs.readFileSync(path.join(r.staging, '.prep', f), 'utf8')}`)].join('\n');
}

const ENCRYPTED_AFTER_ENABLE = [ok('enable-bitlocker-E.json'), ok('bitlocker-status-E-in-progress.json'), ok('bitlocker-status-E-encrypted.json')];

gated(
  test,
  'whole disk: Get-Disk, busy check, format, BitLocker before any file, files + manifest + read-back, FullyEncrypted at the end',
  nativeIoUnavailable(),
  async () => {
    const r = rig([ok('get-disk-2.json'), ok('format-disk-2.json'), ...ENCRYPTED_AFTER_ENABLE, ok('bitlocker-status-E-encrypted.json')]);
    try {
      const result = await r.run();
      assert.equal(r.log, [
        '$d = Get-Disk -Number 2  [root: 0]',
        'lock \\\\.\\PhysicalDrive2',
        'release \\\\.\\PhysicalDrive2',
        "$v = Format-Volume -Partition $p -FileSystem NTFS -NewFileSystemLabel 'DRIVESEED' -Confirm:$false  [root: 0]",
        "$null = Enable-BitLocker -MountPoint 'E:' -EncryptionMethod XtsAes256 -UsedSpaceOnly -RecoveryPasswordProtector -SkipHardwareTest  [root: 0]",
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 0]",
        'sleep',
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 0]",
        // config, index/, data/, DriveManifest.xml: written between the two status reads
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 4]",
      ]);
      const format = r.scripts[1]!;
      for (const step of [
        'Clear-Disk -Number 2 -RemoveData -RemoveOEM',
        'Initialize-Disk -Number 2 -PartitionStyle GPT',
        "New-Partition -DiskNumber 2 -UseMaximumSize -AssignDriveLetter -GptType '{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}'",
      ]) {
        assert.ok(format.includes(step), step);
      }
      assert.is(result.encryption, 'bitlocker');
      assert.is(result.drives.length, 1);
      const d = result.drives[0]!;
      assert.is(d.driveId, 'ZA1E4PQR', 'the drive id is the Get-Disk serial, trimmed');
      assert.is(d.verified, true);
      assert.is(d.files, 5);
      assert.not.ok(fs.existsSync(path.join(r.root, 'driveseed-drive-id')), 'no generated id when the disk has a serial');
      assert.match(fs.readFileSync(path.join(r.root, 'DriveManifest.xml'), 'utf8'), /<DriveId>ZA1E4PQR<\/DriveId>/);
      // the key: only in keys.json (0600), nowhere else
      const keys = JSON.parse(fs.readFileSync(path.join(r.staging, '.prep', 'keys.json'), 'utf8')) as {
        keys: Array<{ driveId: string; bitLockerKey: string }>;
      };
      assert.equal(keys.keys, [{ driveId: 'ZA1E4PQR', bitLockerKey: KEY }]);
      assert.is(fs.statSync(path.join(r.staging, '.prep', 'keys.json')).mode & 0o777, 0o600);
      const elsewhere = everythingButKeys(r, result);
      assert.ok(elsewhere.includes('ZA1E4PQR') && elsewhere.includes('BitLocker'), 'the haystack is the real output');
      assert.not.ok(elsewhere.includes(KEY), 'recovery password outside keys.json');
      assert.ok(r.said.some((s) => s.includes('encrypting the used space of E: (37%)')));
    } finally {
      r.cleanup();
    }
  },
);

gated(test, 'the key as a Secret: enableEncryption returns one that prints [redacted]', nativeIoUnavailable(), async () => {
  const r = rig([ok('enable-bitlocker-E.json')]);
  try {
    const key = await r.platform.enableEncryption(
      {
        target: { kind: 'windowsVolume', input: 'E:', letter: 'E', path: 'E:', identity: 'winvol:E' },
        root: r.root,
        serial: null,
        letter: 'E',
        freeBytes: () => 0,
        release() {},
      } as Parameters<WindowsPlatform['enableEncryption']>[0],
      { reporter: r.ctx.reporter, signal: r.ctx.signal },
    );
    assert.is(key.reveal(), KEY);
    assert.is(JSON.stringify({ key }), '{"key":"[redacted]"}');
    assert.is(`${key}`, '[redacted]');
  } finally {
    r.cleanup();
  }
});

gated(test, 'refusals: system disk, system volume, no such disk, the same disk twice, busy; nothing formatted', nativeIoUnavailable(), async () => {
  const cases: Array<{ targets: string[]; replies: Reply[]; code: string; calls: number; lockFails?: boolean; says: RegExp }> = [
    { targets: ['\\\\.\\PhysicalDrive0'], replies: [ok('get-disk-0-system.json')], code: 'TARGET_SYSTEM_DISK', calls: 1, says: /system or boot disk/ },
    { targets: ['C:'], replies: [ok('get-volume-C.json')], code: 'TARGET_SYSTEM_DISK', calls: 1, says: /C: is on the system or boot disk \(disk 0\)/ },
    {
      targets: ['\\\\.\\PhysicalDrive9'],
      replies: [fail('get-disk-9-not-found.stderr.txt')],
      code: 'TARGET_NOT_FOUND',
      calls: 1,
      says: /No MSFT_Disk objects found.*Get-Disk lists/,
    },
    {
      targets: ['E:', DISK2],
      replies: [ok('get-volume-E.json'), ok('get-disk-2.json')],
      code: 'TARGET_DUPLICATE',
      calls: 2,
      says: /same disk \(disk 2\) as E:/,
    },
    { targets: ['\\\\.\\PhysicalDrive3'], replies: [ok('get-disk-3-virtual-offline.json')], code: 'TARGET_BUSY', calls: 1, says: /offline/ },
    { targets: [DISK2], replies: [ok('get-disk-2.json')], code: 'TARGET_BUSY', calls: 1, lockFails: true, says: /volume in use .*Nothing was erased/ },
  ];
  for (const c of cases) {
    const r = rig(c.replies, { lockFails: c.lockFails });
    try {
      const e = await refusal(r.run({ targets: c.targets }));
      assert.is(e.code, c.code, `${c.targets.join(' ')}: ${e.message}`);
      assert.is(e.category, 'TARGET_REFUSED');
      assert.match(e.message, c.says);
      assert.is(r.scripts.length, c.calls, `${c.targets.join(' ')}: ${r.log.join(' | ')}`);
      assert.not.ok(
        r.scripts.some((s) => /Format-Volume|Enable-BitLocker/.test(s)),
        'nothing destructive ran',
      );
      assert.is(fs.readdirSync(r.root).length, 0);
    } finally {
      r.cleanup();
    }
  }
});

gated(
  test,
  'not confirmed: no --yes, --yes with an inexact name, a wrongly typed name; the prompt names the disk and its volumes',
  nativeIoUnavailable(),
  async () => {
    let r = rig([ok('get-disk-2.json')]);
    try {
      const e = await refusal(r.run({ yes: false }));
      assert.is(e.code, 'TARGET_NOT_CONFIRMED');
      assert.match(e.message, /--yes and --target \\\\\.\\PhysicalDrive2/);
      assert.equal(r.log, ['$d = Get-Disk -Number 2  [root: 0]'], 'no lock, no format');
    } finally {
      r.cleanup();
    }
    r = rig([ok('get-disk-2.json')]);
    try {
      const e = await refusal(r.run({ targets: ['\\\\?\\PhysicalDrive2'] }));
      assert.is(e.code, 'TARGET_NOT_CONFIRMED');
      assert.match(e.message, /give --target \\\\\.\\PhysicalDrive2 instead of \\\\\?\\PhysicalDrive2/);
      assert.is(r.scripts.length, 1);
    } finally {
      r.cleanup();
    }
    const asked: string[] = [];
    r = rig([ok('get-disk-4-volumes.json')], { prompter: { ask: async (q: string) => (asked.push(q), 'PhysicalDrive2') } as Prompter });
    try {
      const e = await refusal(r.run({ targets: ['\\\\.\\PhysicalDrive4'], yes: false }));
      assert.is(e.code, 'TARGET_NOT_CONFIRMED');
      assert.match(e.message, /typed "PhysicalDrive2"/);
      assert.is(asked.length, 1);
      assert.match(
        asked[0]!,
        /ALL DATA ON \\\\\.\\PhysicalDrive4 \(disk 4: WDC WD40EFRX-68N32N0, 4\.0 TB, USB, serial WD-WCC7K1234567; volumes F: "BACKUP" NTFS 4\.0 TB\) WILL BE ERASED/,
      );
      assert.is(r.scripts.length, 1);
    } finally {
      r.cleanup();
    }
  },
);

gated(
  test,
  'Enable-BitLocker fails: BITLOCKER_FAILED names the command and the fixes; no staging file reaches the drive, no key saved',
  nativeIoUnavailable(),
  async () => {
    const r = rig([ok('get-disk-2.json'), ok('format-disk-2.json'), fail('enable-bitlocker-denied.stderr.txt')]);
    try {
      const e = await refusal(r.run());
      assert.is(e.code, 'BITLOCKER_FAILED');
      assert.is(e.category, 'FAILED');
      assert.match(
        e.message,
        /^Enabling BitLocker on E: failed: `Enable-BitLocker -MountPoint E: -EncryptionMethod XtsAes256 -UsedSpaceOnly -RecoveryPasswordProtector` exited 1: Access is denied\./,
      );
      assert.match(e.message, /Fix: run driveseed from an elevated prompt \(Run as administrator\); BitLocker needs Windows Pro/);
      assert.match(e.message, /Group Policy/);
      assert.is(r.scripts.length, 3);
      assert.is(fs.readdirSync(r.root).length, 0, 'nothing written to the unencrypted volume');
      assert.not.ok(fs.existsSync(path.join(r.staging, '.prep', 'keys.json')));
    } finally {
      r.cleanup();
    }
  },
);

gated(
  test,
  'a failing format command: TOOL_FAILED naming Clear-Disk/Format-Volume, the elevated prompt and Disk Management',
  nativeIoUnavailable(),
  async () => {
    const r = rig([ok('get-disk-2.json'), fail('clear-disk-not-elevated.stderr.txt')]);
    try {
      const e = await refusal(r.run());
      assert.is(e.code, 'TOOL_FAILED');
      assert.match(
        e.message,
        /Partitioning and formatting \\\\\.\\PhysicalDrive2 failed: `Clear-Disk -Number 2 -RemoveData -RemoveOEM; Initialize-Disk -PartitionStyle GPT; New-Partition -UseMaximumSize -AssignDriveLetter; Format-Volume -FileSystem NTFS` exited 1: Access to a CIM resource was not available to the client\./,
      );
      assert.match(e.message, /Fix: run driveseed from an elevated prompt .*diskmgmt\.msc/);
      assert.equal(
        e.details?.command,
        'Clear-Disk -Number 2 -RemoveData -RemoveOEM; Initialize-Disk -PartitionStyle GPT; New-Partition -UseMaximumSize -AssignDriveLetter; Format-Volume -FileSystem NTFS',
      );
      assert.is(fs.readdirSync(r.root).length, 0);
    } finally {
      r.cleanup();
    }
  },
);

gated(
  test,
  'encryption paused at the end fails naming Resume-BitLocker; the rerun resumes without formatting and reads the existing key',
  nativeIoUnavailable(),
  async () => {
    const r = rig([ok('get-disk-2.json'), ok('format-disk-2.json'), ...ENCRYPTED_AFTER_ENABLE, ok('bitlocker-status-E-paused.json')]);
    try {
      const e = await refusal(r.run());
      assert.is(e.code, 'BITLOCKER_NOT_ENCRYPTED');
      assert.match(e.message, /BitLocker on E: is EncryptionPaused \(62% encrypted\).*Resume-BitLocker -MountPoint E:/);
      assert.not.ok(fs.existsSync(path.join(r.staging, '.prep', 'drives.json')), 'a drive that is not fully encrypted is not recorded for the job');

      const log2: string[] = [];
      const again = new WindowsPlatform({
        runner: replay(
          [ok('get-disk-2-formatted.json'), ok('bitlocker-status-E-encrypted.json'), ok('enable-bitlocker-E.json'), ok('bitlocker-status-E-encrypted.json')],
          r.root,
          log2,
          [],
        ),
        volumeRoot: () => r.root,
        lockDisk: (p) => (log2.push(`lock ${p}`), { release() {} }),
        claimDisk: () => ({ release() {} }),
        freeBytes: () => 8_000_000_000_000,
      });
      const result = await prep({ staging: r.staging, targets: [DISK2], container: 'seed', format: true, yes: true, verify: false, platform: again }, r.ctx);
      assert.equal(log2, [
        '$d = Get-Disk -Number 2  [root: 4]',
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 4]",
        "$k = (Get-BitLockerVolume -MountPoint 'E:').KeyProtector | Where-Object { [string]$_.KeyProtectorType -eq 'RecoveryPassword' }  [root: 4]",
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 4]",
      ]);
      assert.ok(result.resumed);
      assert.is(result.drives[0]!.driveId, 'ZA1E4PQR');
      assert.is(result.drives[0]!.verified, true, 'a resumed prep always reads back');
      const keys = JSON.parse(fs.readFileSync(path.join(r.staging, '.prep', 'keys.json'), 'utf8')) as { keys: Array<{ bitLockerKey: string }> };
      assert.is(keys.keys[0]!.bitLockerKey, KEY);
    } finally {
      r.cleanup();
    }
  },
);

gated(
  test,
  'a drive letter already encrypted: Get-Volume, its key read, files, status; --format on it and a FAT volume are refused',
  nativeIoUnavailable(),
  async () => {
    let r = rig([ok('get-volume-E.json'), ok('enable-bitlocker-E.json'), ok('bitlocker-status-E-encrypted.json')]);
    try {
      const result = await r.run({ targets: ['E:'], format: false, yes: false });
      assert.equal(r.log, [
        '$v = Get-Volume -DriveLetter E  [root: 0]',
        "$k = (Get-BitLockerVolume -MountPoint 'E:').KeyProtector | Where-Object { [string]$_.KeyProtectorType -eq 'RecoveryPassword' }  [root: 0]",
        "$b = Get-BitLockerVolume -MountPoint 'E:'  [root: 4]",
      ]);
      assert.is(result.drives[0]!.driveId, 'ZA1E4PQR');
    } finally {
      r.cleanup();
    }
    r = rig([ok('get-volume-E.json')]);
    try {
      const e = await refusal(r.run({ targets: ['E:'] }));
      assert.is(e.code, 'PREP_FORMAT_VOLUME');
      assert.match(e.message, /give its disk \\\\\.\\PhysicalDrive2/);
    } finally {
      r.cleanup();
    }
    r = rig([{ stdout: fx('get-volume-E.json').replace('"FileSystem":"NTFS"', '"FileSystem":"FAT32"') }]);
    try {
      const e = await refusal(r.run({ targets: ['E:'], format: false }));
      assert.is(e.code, 'PREP_NEEDS_FORMAT');
      assert.match(e.message, /E: is FAT32, but Azure imports only NTFS/);
    } finally {
      r.cleanup();
    }
  },
);

test('powerShellReason: own error line, CLIXML error records, plain text', () => {
  assert.is(
    powerShellReason(fx('get-disk-9-not-found.stderr.txt')),
    "No MSFT_Disk objects found with property 'Number' equal to '9'.  Verify the value of the property and retry. (CmdletizationQuery_NotFound_Number,Get-Disk)",
  );
  const clixml =
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Get-Disk : Access to a CIM resource was not available to the client._x000D__x000A_</S><S S="Error">    + CategoryInfo : PermissionDenied_x000D__x000A_</S></Objs>';
  assert.is(powerShellReason(clixml), 'Get-Disk : Access to a CIM resource was not available to the client. + CategoryInfo : PermissionDenied');
  assert.is(powerShellReason('one\ntwo\nthree\nfour\n'), 'two three four');
});

test.run();
