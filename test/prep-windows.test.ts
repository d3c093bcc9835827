import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import {
  checkWindowsDisk,
  enableBitLockerScript,
  formatDiskDiskpart,
  formatDiskScript,
  getDiskScript,
  isRecoveryPassword,
  parseDisk,
  parseFormatted,
  parseRecoveryPassword,
  parseVolume,
} from '../src/prep/powershell-scripts';

const fx = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', 'windows', name), 'utf8');
function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DriveseedError);
    return (err as DriveseedError).code;
  }
  return 'no error';
}

test('Get-Disk output: a data disk passes, with its serial trimmed', () => {
  const d = parseDisk(fx('get-disk-2.json'));
  assert.is(d.number, 2);
  assert.is(d.serialNumber, 'ZA1E4PQR');
  assert.is(d.size, 8001563222016);
  assert.is(d.partitionStyle, 'RAW');
  checkWindowsDisk(d, '\\\\.\\PhysicalDrive2');
});

test('Get-Disk output: system disk and offline disk are refused; numeric PartitionStyle is mapped', () => {
  assert.is(
    code(() => checkWindowsDisk(parseDisk(fx('get-disk-0-system.json')), '\\\\.\\PhysicalDrive0')),
    'TARGET_SYSTEM_DISK',
  );
  const v = parseDisk(fx('get-disk-3-virtual-offline.json'));
  assert.is(v.serialNumber, null);
  assert.is(v.partitionStyle, 'GPT');
  assert.is(v.logicalSectorSize, 4096);
  assert.is(
    code(() => checkWindowsDisk(v, '\\\\.\\PhysicalDrive3')),
    'TARGET_BUSY',
  );
  assert.is(
    code(() => parseDisk('Get-Disk : No MSFT_Disk objects found')),
    'WINDOWS_OUTPUT_INVALID',
  );
});

test('format script: clear (unless RAW), GPT, one basic-data partition, NTFS; diskpart variant', () => {
  const s = formatDiskScript(2);
  const order = [
    'Get-Disk -Number 2',
    'Clear-Disk -Number 2 -RemoveData',
    'Initialize-Disk -Number 2 -PartitionStyle GPT',
    'New-Partition -DiskNumber 2 -UseMaximumSize -AssignDriveLetter',
    'Format-Volume -Partition $p -FileSystem NTFS',
  ];
  let at = -1;
  for (const step of order) {
    const i = s.indexOf(step);
    assert.ok(i > at, `${step} in order`);
    at = i;
  }
  assert.match(s, /\$ErrorActionPreference = 'Stop'/);
  assert.match(s, /IsSystem -or \$d.IsBoot/);
  assert.match(s, /ebd0a0a2-b9e5-4433-87c0-68b6b72699c7/);
  assert.throws(() => formatDiskScript(-1), /disk number/);
  assert.is(
    formatDiskDiskpart(2, 'e').split('\r\n').join('|'),
    'select disk 2|clean|convert gpt|create partition primary|format fs=ntfs label="DRIVESEED" quick|assign letter=E|exit|',
  );
  assert.match(getDiskScript(4), /Get-Disk -Number 4/);
});

test('format output parsed; no drive letter is an error', () => {
  assert.equal(parseFormatted(fx('format-disk-2.json')), {
    diskNumber: 2,
    partitionNumber: 2,
    driveLetter: 'E',
    fileSystem: 'NTFS',
    size: 8001427456000,
    sizeRemaining: 8000864055296,
  });
  assert.is(
    code(() => parseFormatted(fx('format-disk-2-no-letter.json'))),
    'WINDOWS_NO_DRIVE_LETTER',
  );
});

test('BitLocker: XtsAes256, used space only, recovery password read back as a Secret', () => {
  const s = enableBitLockerScript('e');
  assert.match(s, /Enable-BitLocker -MountPoint 'E:' -EncryptionMethod XtsAes256 -UsedSpaceOnly -RecoveryPasswordProtector/);
  assert.match(s, /Get-BitLockerVolume -MountPoint 'E:'\)\.KeyProtector/);
  const { key, protectorId } = parseRecoveryPassword(fx('enable-bitlocker-E.json'));
  assert.is(protectorId, '{5E2C1F7A-8B3D-4F0E-9A61-2C7D4B8E1F03}');
  assert.is(key.reveal(), '372251-066891-540617-190641-403381-601964-235224-117183');
  assert.is(JSON.stringify({ key }), '{"key":"[redacted]"}');
  assert.is(inspect(key), '[redacted]');
  assert.is(parseRecoveryPassword(fx('protectors-single-numeric-type.json')).key.reveal(), '011011-022022-033033-044044-055055-066066-077077-088088');
  assert.is(
    code(() => parseRecoveryPassword(fx('protectors-tpm-only.json'))),
    'BITLOCKER_NO_RECOVERY_PASSWORD',
  );
  assert.ok(!isRecoveryPassword('372251-066891-540617-190641-403381-601964-235224-117184'));
  assert.ok(!isRecoveryPassword('372251-066891'));
});

test('Get-Volume output: encrypted data volume and the system volume', () => {
  const e = parseVolume(fx('get-volume-E.json'));
  assert.is(e.bitLockerStatus, 'FullyEncrypted');
  assert.is(e.encryptionMethod, 'XtsAes256');
  assert.is(e.locked, false);
  assert.is(e.serialNumber, 'ZA1E4PQR');
  const c = parseVolume(fx('get-volume-C.json'));
  assert.ok(c.isSystem && c.isBoot);
});

test.run();
