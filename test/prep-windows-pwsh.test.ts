// The Windows prep path's PowerShell, executed: every script src/prep/powershell-scripts.ts builds is run by
// real PowerShell 7 (pwsh), started by the product's own spawnRunner with the product's own
// argument vector (-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand …), against
// stub Storage and BitLocker modules (test/powershell/stubs/) that have the real cmdlets' parameter
// names and sets and return objects shaped like the real ones. A wrong parameter name, an ambiguous
// parameter set, a quoting or encoding mistake, a confirmation prompt under -NonInteractive or a
// ConvertTo-Json shape the parsers do not expect fails here. What the stubs cannot show (BitLocker
// itself, the Storage cmdlets' real behaviour, volume locks) is listed in docs/windows.md. The whole
// prep flow on the stubs is in test/prep-windows-pwsh-flow.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { powerShellInfo } from '../src/core/version';
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
  powerShellArgs,
  powerShellFile,
  readRecoveryPasswordScript,
} from '../src/prep/powershell-scripts';
import { gated } from './helpers';
import { BASIC_DATA, MSR, PWSH, pwshUnavailable, StubMachine } from './powershell/pwsh';
import { failure, machineWith, onMachine, run } from './powershell/stub-run';

gated(test, 'powerShellFile: DRIVESEED_POWERSHELL chooses the PowerShell, powershell.exe by default', undefined, () => {
  assert.is(powerShellFile({}), 'powershell.exe');
  assert.is(powerShellFile({ DRIVESEED_POWERSHELL: 'C:\\Program Files\\PowerShell\\7\\pwsh.exe' }), 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
  assert.is(powerShellFile({ DRIVESEED_POWERSHELL: '  ' }), 'powershell.exe');
});

gated(test, 'every script fits a Windows command line (CreateProcess: 32767 characters) as -EncodedCommand', undefined, () => {
  const scripts = [
    getDiskScript(999),
    formatDiskScript(999, 'L'.repeat(32)),
    diskVolumeScript(999, 999),
    getVolumeScript('Z'),
    enableBitLockerScript('Z'),
    readRecoveryPasswordScript('Z'),
    bitLockerStatusScript('Z'),
  ];
  for (const s of scripts) {
    const line = ['powershell.exe', ...powerShellArgs(s)].join(' ');
    assert.ok(line.length < 32767, `${line.length} characters: ${s.slice(0, 80)}`);
  }
});

gated(test, 'driveseed version: the PowerShell prep would run, only on Windows or when DRIVESEED_POWERSHELL names one', pwshUnavailable, () => {
  assert.is(powerShellInfo({}, 'linux'), undefined, 'no PowerShell line on Linux');
  assert.equal(powerShellInfo({ DRIVESEED_POWERSHELL: PWSH! }, 'linux'), { file: PWSH!, from: 'DRIVESEED_POWERSHELL', version: '7.6.10' });
  const missing = powerShellInfo({}, 'win32')!; // no powershell.exe on this machine
  assert.equal([missing.file, missing.from, missing.version], ['powershell.exe', 'default', null]);
  assert.match(missing.error!, /powershell\.exe could not run \(ENOENT\)/);
});

gated(
  test,
  'getDiskScript under pwsh: a RAW disk (no partitions), the system disk with its partitions and volumes, enums cast to names',
  pwshUnavailable,
  async () => {
    const m = new StubMachine();
    try {
      await onMachine(m, async () => {
        const raw = parseDisk(await run(getDiskScript(2)));
        assert.equal(
          { ...raw, partitions: raw.partitions.length },
          {
            number: 2,
            friendlyName: 'ST8000NM0055-1RM112',
            serialNumber: 'ZA1E4PQR',
            size: 8001563222016,
            isSystem: false,
            isBoot: false,
            isReadOnly: false,
            isOffline: false,
            partitionStyle: 'RAW',
            busType: 'SATA',
            logicalSectorSize: 512,
            partitions: 0,
          },
        );
        const sys = parseDisk(await run(getDiskScript(0)));
        assert.is(sys.isSystem, true);
        assert.is(sys.partitionStyle, 'GPT');
        assert.is(sys.busType, 'NVMe');
        assert.equal(
          sys.partitions.map((p) => [p.partitionNumber, p.driveLetter, p.gptType, p.fileSystem]),
          [
            [1, null, '{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}', 'FAT32'],
            [2, null, MSR, ''],
            [3, 'C', BASIC_DATA, 'NTFS'],
          ],
        );
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
  },
);

gated(
  test,
  'getDiskScript under pwsh: a disk that does not exist fails with the Storage error text and its FullyQualifiedErrorId',
  pwshUnavailable,
  async () => {
    const m = new StubMachine();
    try {
      await onMachine(m, async () => {
        const e = await failure(run(getDiskScript(9), 'Reading disk 9'));
        assert.is(e.code, 'TOOL_FAILED');
        assert.match(
          String(e.details?.reason),
          /^No MSFT_Disk objects found with property 'Number' equal to '9'\..*\(CmdletizationQuery_NotFound_Number,Get-Disk\)$/,
        );
        assert.is(e.details?.status, 1);
      });
    } finally {
      m.cleanup();
    }
  },
);

gated(
  test,
  'formatDiskScript under pwsh: RAW disk → Initialize-Disk GPT, New-Partition, Format-Volume by partition; no Clear-Disk, no prompt',
  pwshUnavailable,
  async () => {
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
        const again = parseFormatted(await run(formatDiskScript(2, 'O\'Brien "seed" ü')));
        assert.is(again.driveLetter, 'E');
        const calls = m.calls().slice(4);
        assert.equal(calls.slice(0, 2), ['Get-Disk[ByNumber] -Number 2', 'Clear-Disk[ByNumber] -Confirm false -Number 2 -RemoveData true -RemoveOEM true']);
        assert.ok(
          calls.some((c) => c.includes(`-NewFileSystemLabel O'Brien "seed" ü `)),
          `the label crossed -EncodedCommand intact: ${calls.join('\n')}`,
        );
        const disk = m.read().disks[1]!;
        assert.equal(
          disk.Partitions.map((p) => [p.PartitionNumber, p.GptType, p.DriveLetter, p.Volume?.FileSystemLabel ?? null]),
          [
            [1, MSR, '', null],
            [2, BASIC_DATA, 'E', `O'Brien "seed" ü`],
          ],
        );
      });
    } finally {
      m.cleanup();
    }
  },
);

gated(
  test,
  'with the Storage enumerations as plain numbers: a RAW disk is still not cleared, and Get-Disk parses to the same names',
  pwshUnavailable,
  async () => {
    const m = machineWith((s) => {
      s.rawEnums = true;
      s.disks[1]!.BusType = 'USB';
    });
    try {
      await onMachine(m, async () => {
        const d = parseDisk(await run(getDiskScript(2)));
        assert.equal([d.partitionStyle, d.busType], ['RAW', 'USB']);
        const f = parseFormatted(await run(formatDiskScript(2)));
        assert.is(f.driveLetter, 'E');
        assert.not.ok(
          m.calls().some((c) => c.startsWith('Clear-Disk')),
          `Clear-Disk ran on a RAW disk: ${m.calls().join('\n')}`,
        );
        assert.equal(parseDisk(await run(getDiskScript(2))).partitionStyle, 'GPT');
      });
    } finally {
      m.cleanup();
    }
  },
);

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

gated(
  test,
  'the stubs are strict: a wrong parameter name, a missing -Confirm:$false on Format-Volume and an ambiguous set fail as on Windows',
  pwshUnavailable,
  async () => {
    const m = new StubMachine();
    try {
      await onMachine(m, async () => {
        const pre = "$ErrorActionPreference = 'Stop'\n";
        const wrongName = await failure(
          run(
            `${pre}Initialize-Disk -Number 2 -PartitionStyle GPT\n$p = New-Partition -DiskNumber 2 -UseMaximumSize\nFormat-Volume -Partition $p -FileSystem NTFS -Label x -Confirm:$false\n`,
          ),
        );
        assert.match(String(wrongName.details?.reason), /A parameter cannot be found that matches parameter name 'Label'/);
        const prompt = await failure(run(`${pre}$p = Get-Partition -DiskNumber 2 -PartitionNumber 2\nFormat-Volume -Partition $p -FileSystem NTFS\n`));
        assert.match(String(prompt.details?.reason), /prompt|NonInteractive|non-interactive/i, 'ConfirmImpact High prompts, which -NonInteractive refuses');
        const ambiguous = await failure(run(`${pre}Get-Disk -Number 2 -FriendlyName x\n`));
        assert.match(String(ambiguous.details?.reason), /Parameter set cannot be resolved/);
      });
    } finally {
      m.cleanup();
    }
  },
);

gated(test, 'getVolumeScript under pwsh: drive letter → volume, partition, disk and BitLocker facts', pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const c = parseVolume(await run(getVolumeScript('C')));
      assert.equal(c, {
        driveLetter: 'C',
        fileSystem: 'NTFS',
        size: 998999994368,
        sizeRemaining: 612000000000,
        diskNumber: 0,
        partitionNumber: 3,
        isSystem: true,
        isBoot: true,
        serialNumber: '0025_3852_1140_1D4E.',
        bitLockerStatus: 'FullyDecrypted',
        locked: false,
        encryptionMethod: 'None',
      });
      const e = await failure(run(getVolumeScript('Q')));
      assert.match(String(e.details?.reason), /No MSFT_Volume objects found with property 'DriveLetter' equal to 'Q'/);
    });
  } finally {
    m.cleanup();
  }
});

gated(
  test,
  'BitLocker scripts under pwsh: Enable-BitLocker (no prompt, its warning kept off stdout), the recovery password read back, status polled to FullyEncrypted',
  pwshUnavailable,
  async () => {
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
        assert.is(
          enable,
          'Enable-BitLocker[RecoveryPasswordProtector] -EncryptionMethod XtsAes256 -MountPoint E: -RecoveryPasswordProtector true -SkipHardwareTest true -UsedSpaceOnly true',
        );
        // read again (a resumed prep): the same password
        assert.is(parseRecoveryPassword(await run(readRecoveryPasswordScript('E'))).key.reveal(), key.reveal());
        // every Get-BitLockerVolume reports, then moves the stub on by 25 %: two reads so far (0, 25)
        const seen: string[] = [];
        for (let i = 0; i < 4; i++) {
          const s = parseBitLockerStatus(await run(bitLockerStatusScript('E')));
          seen.push(`${s.volumeStatus} ${s.encryptionPercentage} ${s.encryptionMethod} ${s.protectionStatus}`);
        }
        assert.equal(seen, [
          'EncryptionInProgress 50 XtsAes256 Off',
          'EncryptionInProgress 75 XtsAes256 Off',
          'FullyEncrypted 100 XtsAes256 On',
          'FullyEncrypted 100 XtsAes256 On',
        ]);
        // Enable-BitLocker on an encrypted volume takes no action (as documented): the same single key
        const again = parseRecoveryPassword(await run(enableBitLockerScript('E')));
        assert.is(again.key.reveal(), key.reveal());
        assert.is(m.read().disks[1]!.Partitions[1]!.Volume!.BitLocker!.KeyProtector.length, 1, 'no second protector');
      });
    } finally {
      m.cleanup();
    }
  },
);

gated(
  test,
  'diskVolumeScript under pwsh: a data partition without a letter gets one (Add-PartitionAccessPath); with one, nothing is assigned',
  pwshUnavailable,
  async () => {
    const m = machineWith((s) => {
      s.disks[1]!.PartitionStyle = 'GPT';
      s.disks[1]!.Partitions = [
        { PartitionNumber: 1, DriveLetter: '', GptType: MSR, Size: 134217728, Offset: 17408 },
        {
          PartitionNumber: 2,
          DriveLetter: '',
          GptType: BASIC_DATA,
          Size: 8001000000000,
          Offset: 135266304,
          Volume: { FileSystem: 'NTFS', FileSystemLabel: 'DRIVESEED', Size: 8000999995392, SizeRemaining: 7000000000000 },
        },
      ];
    });
    try {
      await onMachine(m, async () => {
        const f = parseFormatted(await run(diskVolumeScript(2, 2)));
        assert.equal([f.driveLetter, f.partitionNumber, f.fileSystem, f.sizeRemaining], ['E', 2, 'NTFS', 7000000000000]);
        assert.ok(m.calls().includes('Add-PartitionAccessPath[ByNumber] -AssignDriveLetter true -DiskNumber 2 -PartitionNumber 2'), m.calls().join('\n'));
        const n = m.calls().length;
        assert.is(parseFormatted(await run(diskVolumeScript(2, 2))).driveLetter, 'E');
        assert.not.ok(
          m
            .calls()
            .slice(n)
            .some((c) => c.startsWith('Add-PartitionAccessPath')),
          'a partition with a letter keeps it',
        );
      });
    } finally {
      m.cleanup();
    }
  },
);

test.run();
