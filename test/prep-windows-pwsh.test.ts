// The Windows prep path's PowerShell, executed: every script src/prep/windows.ts builds is run by
// real PowerShell 7 (pwsh), started by the product's own spawnRunner with the product's own
// argument vector (-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand …), against
// stub Storage and BitLocker modules (test/powershell/stubs/) that have the real cmdlets' parameter
// names and sets and return objects shaped like the real ones. A wrong parameter name, an ambiguous
// parameter set, a quoting or encoding mistake, a confirmation prompt under -NonInteractive or a
// ConvertTo-Json shape the parsers do not expect fails here. What the stubs cannot show (BitLocker
// itself, the Storage cmdlets' real behaviour, volume locks) is listed in docs/windows.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import type { Reporter } from '../src/base/reporter';
import type { CommandContext } from '../src/core/command';
import { parseWindowsStorage, WINDOWS_SCRIPT } from '../src/core/drives';
import { prep } from '../src/core/prep';
import { powerShellInfo } from '../src/core/version';
import { writeSettings } from '../src/core/settings';
import { nativeIoUnavailable } from '../src/prep/native';
import { spawnRunner } from '../src/prep/runner';
import { WindowsPlatform } from '../src/prep/win32';
import {
  bitLockerStatusScript,
  diskVolumeScript,
  enableBitLockerScript,
  formatDiskScript,
  getDiskScript,
  getVolumeScript,
  isRecoveryPassword,
  parseBitLockerStatus,
  parseDisk,
  parseFormatted,
  parseRecoveryPassword,
  parseVolume,
  powerShellFile,
  readRecoveryPasswordScript,
  runPowerShell,
} from '../src/prep/windows';
import { gated, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';
import { BASIC_DATA, defaultMachine, MSR, PWSH, pwshUnavailable, StubMachine, type StubMachineState } from './powershell/pwsh';

const MiB = 1024 * 1024;
const DISK2 = '\\\\.\\PhysicalDrive2';
const signal = new AbortController().signal;

/** Sets the environment in which the product's spawnRunner starts PowerShell, for one test. */
async function onMachine<T>(m: StubMachine, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ ...m.env(), POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', NO_COLOR: '1' })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Runs one builder's script as prep does (runPowerShell + spawnRunner) and returns its stdout. */
function run(script: string, what = 'test step'): Promise<string> {
  return runPowerShell(spawnRunner, script, { what, command: what, fix: 'see the test' }, signal);
}

async function failure(p: Promise<unknown>): Promise<DriveseedError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.instance(e, DriveseedError, `expected a DriveseedError, got ${String(e)}`);
  return e as DriveseedError;
}

function machineWith(edit: (s: StubMachineState) => void): StubMachine {
  const s = defaultMachine();
  edit(s);
  return new StubMachine(s);
}

gated(test, 'powerShellFile: DRIVESEED_POWERSHELL chooses the PowerShell, powershell.exe by default', undefined, () => {
  assert.is(powerShellFile({}), 'powershell.exe');
  assert.is(powerShellFile({ DRIVESEED_POWERSHELL: 'C:\\Program Files\\PowerShell\\7\\pwsh.exe' }), 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
  assert.is(powerShellFile({ DRIVESEED_POWERSHELL: '  ' }), 'powershell.exe');
});

gated(test, 'driveseed version: the PowerShell prep would run, only on Windows or when DRIVESEED_POWERSHELL names one', pwshUnavailable, () => {
  assert.is(powerShellInfo({}, 'linux'), undefined, 'no PowerShell line on Linux');
  assert.equal(powerShellInfo({ DRIVESEED_POWERSHELL: PWSH! }, 'linux'), { file: PWSH!, from: 'DRIVESEED_POWERSHELL', version: '7.6.10' });
  const missing = powerShellInfo({}, 'win32')!; // no powershell.exe on this machine
  assert.equal([missing.file, missing.from, missing.version], ['powershell.exe', 'default', null]);
  assert.match(missing.error!, /powershell\.exe could not run \(ENOENT\)/);
});

gated(test, 'getDiskScript under pwsh: a RAW disk (no partitions), the system disk with its partitions and volumes, enums cast to names', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const raw = parseDisk(await run(getDiskScript(2)));
      assert.equal({ ...raw, partitions: raw.partitions.length }, {
        number: 2, friendlyName: 'ST8000NM0055-1RM112', serialNumber: 'ZA1E4PQR', size: 8001563222016, isSystem: false, isBoot: false, isReadOnly: false, isOffline: false,
        partitionStyle: 'RAW', busType: 'SATA', logicalSectorSize: 512, partitions: 0,
      });
      const sys = parseDisk(await run(getDiskScript(0)));
      assert.is(sys.isSystem, true);
      assert.is(sys.partitionStyle, 'GPT');
      assert.is(sys.busType, 'NVMe');
      assert.equal(sys.partitions.map((p) => [p.partitionNumber, p.driveLetter, p.gptType, p.fileSystem]), [
        [1, null, '{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}', 'FAT32'],
        [2, null, MSR, ''],
        [3, 'C', BASIC_DATA, 'NTFS'],
      ]);
      assert.is(sys.partitions[2]!.sizeRemaining, 612000000000);
      // Get-Partition of the RAW disk failed quietly (-ErrorAction SilentlyContinue), and the MSR
      // partition's Get-Volume too: the calls show they were made
      const calls = m.calls();
      assert.ok(calls.includes('Get-Partition[ByNumber] -DiskNumber 2 -ErrorAction SilentlyContinue'), calls.join('\n'));
      assert.ok(calls.includes('Get-Volume[ByPartition] -ErrorAction SilentlyContinue -Partition <MSFT_Partition 0:2>'), calls.join('\n'));
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'getDiskScript under pwsh: a disk that does not exist fails with the Storage error text and its FullyQualifiedErrorId', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const e = await failure(run(getDiskScript(9), 'Reading disk 9'));
      assert.is(e.code, 'TOOL_FAILED');
      assert.match(String(e.details?.reason), /^No MSFT_Disk objects found with property 'Number' equal to '9'\..*\(CmdletizationQuery_NotFound_Number,Get-Disk\)$/);
      assert.is(e.details?.status, 1);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'formatDiskScript under pwsh: RAW disk → Initialize-Disk GPT, New-Partition, Format-Volume by partition; no Clear-Disk, no prompt', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const f = parseFormatted(await run(formatDiskScript(2)));
      assert.equal({ d: f.diskNumber, p: f.partitionNumber, l: f.driveLetter, fs: f.fileSystem }, { d: 2, p: 2, l: 'E', fs: 'NTFS' });
      assert.ok(f.size > 8e12 - 1e9 && f.sizeRemaining < f.size, JSON.stringify(f));
      assert.equal(m.calls(), [
        'Get-Disk[ByNumber] -Number 2',
        'Initialize-Disk[ByNumber] -Number 2 -PartitionStyle GPT',
        `New-Partition[ByNumber] -AssignDriveLetter true -DiskNumber 2 -GptType ${BASIC_DATA} -UseMaximumSize true`,
        'Format-Volume[ByPartition] -Confirm false -FileSystem NTFS -NewFileSystemLabel DRIVESEED -Partition <MSFT_Partition 2:2>',
      ]);
      // formatted again: now GPT, so Clear-Disk runs first, without a prompt (-Confirm:$false)
      const again = parseFormatted(await run(formatDiskScript(2, "O'Brien \"seed\" ü")));
      assert.is(again.driveLetter, 'E');
      const calls = m.calls().slice(4);
      assert.equal(calls.slice(0, 2), ['Get-Disk[ByNumber] -Number 2', 'Clear-Disk[ByNumber] -Confirm false -Number 2 -RemoveData true -RemoveOEM true']);
      assert.ok(calls.some((c) => c.includes(`-NewFileSystemLabel O'Brien "seed" ü `)), `the label crossed -EncodedCommand intact: ${calls.join('\n')}`);
      const disk = m.read().disks[1]!;
      assert.equal(disk.Partitions.map((p) => [p.PartitionNumber, p.GptType, p.DriveLetter, p.Volume?.FileSystemLabel ?? null]), [
        [1, MSR, '', null],
        [2, BASIC_DATA, 'E', `O'Brien "seed" ü`],
      ]);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'formatDiskScript under pwsh: the system disk is refused inside the script before anything is cleared', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const e = await failure(run(formatDiskScript(0)));
      assert.match(String(e.details?.reason), /driveseed: disk 0 is a system or boot disk/);
      assert.equal(m.calls(), ['Get-Disk[ByNumber] -Number 0']);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'the stubs are strict: a wrong parameter name, a missing -Confirm:$false on Format-Volume and an ambiguous set fail as on Windows', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const pre = "$ErrorActionPreference = 'Stop'\n";
      const wrongName = await failure(run(`${pre}Initialize-Disk -Number 2 -PartitionStyle GPT\n$p = New-Partition -DiskNumber 2 -UseMaximumSize\nFormat-Volume -Partition $p -FileSystem NTFS -Label x -Confirm:$false\n`));
      assert.match(String(wrongName.details?.reason), /A parameter cannot be found that matches parameter name 'Label'/);
      const prompt = await failure(run(`${pre}$p = Get-Partition -DiskNumber 2 -PartitionNumber 2\nFormat-Volume -Partition $p -FileSystem NTFS\n`));
      assert.match(String(prompt.details?.reason), /prompt|NonInteractive|non-interactive/i, 'ConfirmImpact High prompts, which -NonInteractive refuses');
      const ambiguous = await failure(run(`${pre}Get-Disk -Number 2 -FriendlyName x\n`));
      assert.match(String(ambiguous.details?.reason), /Parameter set cannot be resolved/);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'getVolumeScript under pwsh: drive letter → volume, partition, disk and BitLocker facts', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const c = parseVolume(await run(getVolumeScript('C')));
      assert.equal(c, {
        driveLetter: 'C', fileSystem: 'NTFS', size: 998999994368, sizeRemaining: 612000000000, diskNumber: 0, partitionNumber: 3, isSystem: true, isBoot: true,
        serialNumber: '0025_3852_1140_1D4E.', bitLockerStatus: 'FullyDecrypted', locked: false, encryptionMethod: 'None',
      });
      const e = await failure(run(getVolumeScript('Q')));
      assert.match(String(e.details?.reason), /No MSFT_Volume objects found with property 'DriveLetter' equal to 'Q'/);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'BitLocker scripts under pwsh: Enable-BitLocker (no prompt, its warning kept off stdout), the recovery password read back, status polled to FullyEncrypted', pwshUnavailable, async () => {
  const m = machineWith((s) => (s.encryptStep = 25));
  try {
    await onMachine(m, async () => {
      await run(formatDiskScript(2));
      const out = await run(enableBitLockerScript('E'));
      assert.not.match(out, /WARNING|ACTIONS REQUIRED/, 'the warning that repeats the password is silenced');
      const { key, protectorId } = parseRecoveryPassword(out);
      assert.ok(isRecoveryPassword(key.reveal()), 'a valid 48-digit recovery password');
      const stored = m.read().disks[1]!.Partitions[1]!.Volume!.BitLocker!;
      assert.is(stored.KeyProtector[0]!.RecoveryPassword, key.reveal());
      assert.is(stored.KeyProtector[0]!.KeyProtectorId, protectorId);
      assert.is(stored.EncryptionMethod, 'XtsAes256');
      const enable = m.calls().find((c) => c.startsWith('Enable-BitLocker'));
      assert.is(enable, 'Enable-BitLocker[RecoveryPasswordProtector] -EncryptionMethod XtsAes256 -MountPoint E: -RecoveryPasswordProtector true -SkipHardwareTest true -UsedSpaceOnly true');
      // read again (a resumed prep): the same password
      assert.is(parseRecoveryPassword(await run(readRecoveryPasswordScript('E'))).key.reveal(), key.reveal());
      // every Get-BitLockerVolume reports, then moves the stub on by 25 %: two reads so far (0, 25)
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const s = parseBitLockerStatus(await run(bitLockerStatusScript('E')));
        seen.push(`${s.volumeStatus} ${s.encryptionPercentage} ${s.encryptionMethod} ${s.protectionStatus}`);
      }
      assert.equal(seen, ['EncryptionInProgress 50 XtsAes256 Off', 'EncryptionInProgress 75 XtsAes256 Off', 'FullyEncrypted 100 XtsAes256 On', 'FullyEncrypted 100 XtsAes256 On']);
      const e = await failure(run(enableBitLockerScript('E')));
      assert.match(String(e.details?.reason), /already encrypted/);
    });
  } finally {
    m.cleanup();
  }
});

gated(test, 'diskVolumeScript under pwsh: a data partition without a letter gets one (Add-PartitionAccessPath); with one, nothing is assigned', pwshUnavailable, async () => {
  const m = machineWith((s) => {
    s.disks[1]!.PartitionStyle = 'GPT';
    s.disks[1]!.Partitions = [
      { PartitionNumber: 1, DriveLetter: '', GptType: MSR, Size: 134217728, Offset: 17408 },
      { PartitionNumber: 2, DriveLetter: '', GptType: BASIC_DATA, Size: 8001000000000, Offset: 135266304, Volume: { FileSystem: 'NTFS', FileSystemLabel: 'DRIVESEED', Size: 8000999995392, SizeRemaining: 7000000000000 } },
    ];
  });
  try {
    await onMachine(m, async () => {
      const f = parseFormatted(await run(diskVolumeScript(2, 2)));
      assert.equal([f.driveLetter, f.partitionNumber, f.fileSystem, f.sizeRemaining], ['E', 2, 'NTFS', 7000000000000]);
      assert.ok(m.calls().includes('Add-PartitionAccessPath[ByNumber] -AssignDriveLetter true -DiskNumber 2 -PartitionNumber 2'), m.calls().join('\n'));
      const n = m.calls().length;
      assert.is(parseFormatted(await run(diskVolumeScript(2, 2))).driveLetter, 'E');
      assert.not.ok(m.calls().slice(n).some((c) => c.startsWith('Add-PartitionAccessPath')), 'a partition with a letter keeps it');
    });
  } finally {
    m.cleanup();
  }
});

/** A staging directory as stage leaves it: packs, index and the job's settings.json (prep records the seed state there). */
function staged(sizes: number[]): string {
  const dir = tmpDir();
  makeStaging(dir, sizes);
  writeSettings(dir, { version: 1, staging: dir, job: 'seed-pwsh' });
  return dir;
}

gated(test, 'drives.list\'s Windows script (src/core/drives.ts) under pwsh -Command: every disk, partition and volume, parsed', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const r = await spawnRunner({ file: powerShellFile(), args: ['-NoProfile', '-NonInteractive', '-Command', WINDOWS_SCRIPT], timeoutMs: 60_000 });
      assert.is(r.status, 0, r.stderr);
      const disks = parseWindowsStorage(r.stdout);
      assert.equal(disks.map((d) => [d.path, d.sizeBytes, d.system, d.bus, d.partitions.length]), [
        ['\\\\.\\PhysicalDrive0', 1000204886016, true, 'nvme', 3],
        ['\\\\.\\PhysicalDrive2', 8001563222016, false, 'sata', 0],
      ]);
      const c = disks[0]!.partitions[2]!;
      assert.equal([c.fsType, c.label, c.mountpoints], ['NTFS', 'Windows', ['C:\\']]);
      assert.equal(m.calls(), ['Get-Disk[ByNumber]', 'Get-Partition[ByNumber]', 'Get-Volume[ByDriveLetter]']);
    });
  } finally {
    m.cleanup();
  }
});

function quietReporter(said: string[]): Reporter {
  return { progress: () => undefined, warning: (c, msg) => said.push(`${c} ${msg}`), info: (msg) => said.push(msg), event: () => undefined };
}

gated(test, 'whole prep under pwsh: \\\\.\\PhysicalDrive2 formatted, BitLocker on before any file, files + manifest written, FullyEncrypted at the end', pwshUnavailable ?? nativeIoUnavailable(), async () => {
  const m = machineWith((s) => (s.encryptStep = 60));
  const staging = staged([5 * MiB + 17, 3 * MiB]);
  const root = tmpDir('driveseed-E-');
  const said: string[] = [];
  const rootEntries: number[] = [];
  try {
    await onMachine(m, async () => {
      const platform = new WindowsPlatform({
        runner: async (cmd, sig) => {
          rootEntries.push(fs.readdirSync(root).length);
          return spawnRunner(cmd, sig);
        },
        volumeRoot: (letter) => (letter === 'E' ? root : `/nonexistent/${letter}`),
        lockDisk: () => ({ release() {} }),
        claimDisk: () => ({ release() {} }),
        freeBytes: () => 8_000_000_000_000,
        sleep: async () => undefined,
      });
      const ctx: CommandContext = { reporter: quietReporter(said), signal, env: {} };
      const r = await prep({ staging, targets: [DISK2], container: 'seed', format: true, yes: true, verify: true, platform }, ctx);
      assert.is(r.encryption, 'bitlocker');
      assert.is(r.drives[0]!.driveId, 'ZA1E4PQR');
      assert.is(r.drives[0]!.verified, true);
      const calls = m.calls().map((c) => c.replace(/ -.*/, ''));
      assert.equal(calls.filter((c) => !c.startsWith('Get-Partition') && !c.startsWith('Get-Volume')), [
        'Get-Disk[ByNumber]',
        'Get-Disk[ByNumber]',
        'Initialize-Disk[ByNumber]',
        'New-Partition[ByNumber]',
        'Format-Volume[ByPartition]',
        'Enable-BitLocker[RecoveryPasswordProtector]',
        'Get-BitLockerVolume[__AllParameterSets]',
        'Get-BitLockerVolume[__AllParameterSets]',
        'Get-BitLockerVolume[__AllParameterSets]',
        'Get-BitLockerVolume[__AllParameterSets]',
      ]);
      // scripts run: inspect, format, enable, status until FullyEncrypted (60 %, 100 % in progress,
      // encrypted), then the final check after the files: only that one sees files at the root
      assert.equal(rootEntries.slice(0, -1).every((n) => n === 0), true, `files before BitLocker was complete: ${rootEntries.join(',')}`);
      assert.ok(rootEntries.at(-1)! > 0, 'the last status read comes after the files');
      const keys = JSON.parse(fs.readFileSync(path.join(staging, '.prep', 'keys.json'), 'utf8')) as { keys: Array<{ driveId: string; bitLockerKey: string }> };
      const stored = m.read().disks[1]!.Partitions[1]!.Volume!.BitLocker!.KeyProtector[0]!.RecoveryPassword;
      assert.equal(keys.keys, [{ driveId: 'ZA1E4PQR', bitLockerKey: stored }]);
      assert.not.ok(said.join('\n').includes(stored), 'the key is not in what prep said');
      assert.match(fs.readFileSync(path.join(root, 'DriveManifest.xml'), 'utf8'), /<DriveId>ZA1E4PQR<\/DriveId>/);
    });
  } finally {
    m.cleanup();
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  }
});

gated(test, 'whole prep under pwsh: Enable-BitLocker denied (not elevated) → BITLOCKER_FAILED naming the elevated prompt; no file written', pwshUnavailable ?? nativeIoUnavailable(), async () => {
  const m = machineWith((s) => (s.deny = ['Enable-BitLocker']));
  const staging = staged([2 * MiB]);
  const root = tmpDir('driveseed-E-');
  try {
    await onMachine(m, async () => {
      const platform = new WindowsPlatform({
        volumeRoot: (letter) => (letter === 'E' ? root : `/nonexistent/${letter}`),
        lockDisk: () => ({ release() {} }),
        claimDisk: () => ({ release() {} }),
        freeBytes: () => 8_000_000_000_000,
        sleep: async () => undefined,
      });
      const e = await failure(prep({ staging, targets: [DISK2], container: 'seed', format: true, yes: true, verify: true, platform }, { reporter: quietReporter([]), signal, env: {} }));
      assert.is(e.code, 'BITLOCKER_FAILED');
      assert.match(e.message, /Access is denied.*E_ACCESSDENIED/);
      assert.match(e.message, /elevated prompt/);
      assert.is(fs.readdirSync(root).length, 0);
      assert.ok(m.calls().some((c) => c.startsWith('Format-Volume')), 'it got as far as BitLocker');
    });
  } finally {
    m.cleanup();
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  }
});

gated(test, 'inspect under pwsh: system disk, system volume, missing disk and the same disk twice are refused with the replay tests\' codes', pwshUnavailable, async () => {
  const m = machineWith((s) => {
    s.disks[1]!.PartitionStyle = 'GPT';
    s.disks[1]!.Partitions = [{ PartitionNumber: 1, DriveLetter: 'E', GptType: BASIC_DATA, Size: 8001000000000, Offset: 1048576, Volume: { FileSystem: 'NTFS', FileSystemLabel: 'DRIVESEED', Size: 8000999995392, SizeRemaining: 7000000000000 } }];
  });
  try {
    await onMachine(m, async () => {
      const platform = new WindowsPlatform({ claimDisk: () => ({ release() {} }) });
      const ctx = { reporter: quietReporter([]), signal };
      const cases: Array<[string[], string]> = [
        [['\\\\.\\PhysicalDrive0'], 'TARGET_SYSTEM_DISK'],
        [['C:'], 'TARGET_SYSTEM_DISK'],
        [['\\\\.\\PhysicalDrive9'], 'TARGET_NOT_FOUND'],
        [['E:', DISK2], 'TARGET_DUPLICATE'],
      ];
      for (const [targets, code] of cases) {
        const e = await failure(platform.inspect(targets, ctx));
        assert.is(e.code, code, `${targets.join(' ')}: ${e.message}`);
      }
      const ok = await platform.inspect(['E:'], ctx);
      assert.is(ok[0]!.kind, 'windowsVolume');
    });
  } finally {
    m.cleanup();
  }
});

test.run();
