// The whole Windows prep path on the stub machine under real PowerShell 7: prep() through
// WindowsPlatform with the product's runner (test/prep-windows-pwsh.test.ts has the single scripts
// and the stubs' story), plus drives.list's Windows script and the inspect refusals.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Reporter } from '../src/base/reporter';
import type { CommandContext } from '../src/core/command';
import { parseWindowsStorage, WINDOWS_SCRIPT } from '../src/core/drives';
import { prep } from '../src/core/prep';
import { writeSettings } from '../src/core/settings';
import { nativeIoUnavailable } from '../src/prep/native';
import { spawnRunner } from '../src/prep/runner';
import { WindowsPlatform } from '../src/prep/disk-platform-windows';
import { powerShellFile } from '../src/prep/powershell-scripts';
import { gated, tmpDir } from './helpers';
import { makeStaging } from './prep-support/staging';
import { BASIC_DATA, pwshUnavailable, StubMachine } from './powershell/pwsh';
import { failure, machineWith, onMachine, signal } from './powershell/stub-run';
import { scanFile, scanTree, textNeedle } from './support/secret-scan';

const MiB = 1024 * 1024;
const DISK2 = '\\\\.\\PhysicalDrive2';

/** Every regular file under `dir`, relative to it. */
function walkFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/** A staging directory as stage leaves it: packs, index and the job's settings.json (prep records the seed state there). */
function staged(sizes: number[]): string {
  const dir = tmpDir();
  makeStaging(dir, sizes);
  writeSettings(dir, { version: 1, staging: dir, job: 'seed-pwsh' });
  return dir;
}

gated(test, "drives.list's Windows script (src/core/drives.ts) under pwsh -Command: every disk, partition and volume, parsed", pwshUnavailable, async () => {
  const m = new StubMachine();
  try {
    await onMachine(m, async () => {
      const r = await spawnRunner({ file: powerShellFile(), args: ['-NoProfile', '-NonInteractive', '-Command', WINDOWS_SCRIPT], timeoutMs: 60_000 });
      assert.is(r.status, 0, r.stderr);
      const disks = parseWindowsStorage(r.stdout);
      assert.equal(
        disks.map((d) => [d.path, d.sizeBytes, d.system, d.bus, d.partitions.length]),
        [
          ['\\\\.\\PhysicalDrive0', 1000204886016, true, 'nvme', 3],
          ['\\\\.\\PhysicalDrive2', 8001563222016, false, 'sata', 0],
        ],
      );
      const c = disks[0]!.partitions[2]!;
      assert.equal([c.fsType, c.label, c.mountpoints], ['NTFS', 'Windows', ['C:\\']]);
      assert.equal(m.calls(), ['Get-Disk[ByNumber]', 'Get-Partition[ByUniqueId]', 'Get-Volume[ByDriveLetter]']);
    });
  } finally {
    m.cleanup();
  }
});

function quietReporter(said: string[]): Reporter {
  return { progress: () => undefined, warning: (c, msg) => said.push(`${c} ${msg}`), info: (msg) => said.push(msg), event: () => undefined };
}

gated(
  test,
  'whole prep under pwsh: \\\\.\\PhysicalDrive2 formatted, BitLocker on before any file, files + manifest written, FullyEncrypted at the end',
  pwshUnavailable ?? nativeIoUnavailable(),
  async () => {
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
        assert.equal(
          calls.filter((c) => !c.startsWith('Get-Partition') && !c.startsWith('Get-Volume')),
          [
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
          ],
        );
        // scripts run: inspect, format, enable, status until FullyEncrypted (60 %, 100 % in progress,
        // encrypted), then the final check after the files: only that one sees files at the root
        assert.equal(
          rootEntries.slice(0, -1).every((n) => n === 0),
          true,
          `files before BitLocker was complete: ${rootEntries.join(',')}`,
        );
        assert.ok(rootEntries.at(-1)! > 0, 'the last status read comes after the files');
        const keys = JSON.parse(fs.readFileSync(path.join(staging, '.prep', 'keys.json'), 'utf8')) as {
          keys: Array<{ driveId: string; bitLockerKey: string }>;
        };
        const stored = m.read().disks[1]!.Partitions[1]!.Volume!.BitLocker!.KeyProtector[0]!.RecoveryPassword;
        assert.equal(keys.keys, [{ driveId: 'ZA1E4PQR', bitLockerKey: stored }]);
        assert.not.ok(said.join('\n').includes(stored), 'the key is not in what prep said');
        // Only the key records (readable by their owner only) hold the key: not drives.json, the
        // journal or any other file in the staging location, and nothing on the drive it protects.
        const needle = textNeedle('BitLocker recovery password', stored);
        const keyFiles = walkFiles(staging).filter((f) => scanFile(path.join(staging, f), [needle]).length > 0);
        assert.ok(keyFiles.includes(path.join('.prep', 'keys.json')), `the key is found where it is recorded: ${keyFiles.join(', ')}`);
        const allowed = Object.fromEntries(
          keyFiles.filter((f) => f === path.join('.prep', 'keys.json') || f.startsWith(`.prep${path.sep}portal${path.sep}`)).map((f) => [f, [needle.name]]),
        );
        assert.equal(scanTree(staging, [needle], allowed).hits, [], 'the key outside the key records');
        const drive = scanTree(root, [needle]);
        assert.ok(drive.files > 0);
        assert.equal(drive.hits, [], 'the key on the drive');
        assert.match(fs.readFileSync(path.join(root, 'DriveManifest.xml'), 'utf8'), /<DriveId>ZA1E4PQR<\/DriveId>/);
      });
    } finally {
      m.cleanup();
      fs.rmSync(staging, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);

gated(
  test,
  'whole prep under pwsh: Enable-BitLocker denied (not elevated) → BITLOCKER_FAILED naming the elevated prompt; no file written',
  pwshUnavailable ?? nativeIoUnavailable(),
  async () => {
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
        const e = await failure(
          prep(
            { staging, targets: [DISK2], container: 'seed', format: true, yes: true, verify: true, platform },
            { reporter: quietReporter([]), signal, env: {} },
          ),
        );
        assert.is(e.code, 'BITLOCKER_FAILED');
        assert.match(e.message, /Access is denied.*E_ACCESSDENIED/);
        assert.match(e.message, /elevated prompt/);
        assert.is(fs.readdirSync(root).length, 0);
        assert.ok(
          m.calls().some((c) => c.startsWith('Format-Volume')),
          'it got as far as BitLocker',
        );
      });
    } finally {
      m.cleanup();
      fs.rmSync(staging, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
);

gated(
  test,
  "inspect under pwsh: system disk, system volume, missing disk and the same disk twice are refused with the replay tests' codes",
  pwshUnavailable,
  async () => {
    const m = machineWith((s) => {
      s.disks[1]!.PartitionStyle = 'GPT';
      s.disks[1]!.Partitions = [
        {
          PartitionNumber: 1,
          DriveLetter: 'E',
          GptType: BASIC_DATA,
          Size: 8001000000000,
          Offset: 1048576,
          Volume: { FileSystem: 'NTFS', FileSystemLabel: 'DRIVESEED', Size: 8000999995392, SizeRemaining: 7000000000000 },
        },
      ];
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
  },
);

test.run();
