/**
 * Windows disk preparation through PowerShell's Storage and BitLocker cmdlets (docs/windows.md).
 * Builders return the exact script text; it runs as `powershell.exe -NoProfile -NonInteractive
 * -ExecutionPolicy Bypass -Command -` with the script on stdin, and every script ends by printing
 * ONE JSON document whose fields are cast to strings/numbers in the script itself, so that parsing
 * does not depend on how a PowerShell version serialises enums. Parsers take that stdout.
 *
 * Not run here (no Windows, no PowerShell in this environment): the parsers are tested against
 * hand-written fixtures in test/fixtures/windows/ shaped like Windows PowerShell 5.1 output.
 */
import { spawnSync } from 'node:child_process';
import { DriveseedError } from '../core/errors';
import { Secret } from '../core/secret';
import { VOLUME_LABEL } from './format';

/** GPT type of a Microsoft basic data partition. */
export const BASIC_DATA_GPT = '{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}';

function psString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
function diskNumber(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 999) throw new TypeError(`disk number must be an integer 0..999, got ${n}`);
  return n;
}
function driveLetter(l: string): string {
  if (!/^[A-Za-z]$/.test(l)) throw new TypeError(`drive letter must be one letter, got "${l}"`);
  return l.toUpperCase();
}

const PRELUDE = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n";

/** Facts about a disk, to refuse system/boot/read-only/offline disks before touching them. */
export function getDiskScript(n: number): string {
  return (
    PRELUDE +
    `$d = Get-Disk -Number ${diskNumber(n)}\n` +
    `[pscustomobject]@{ Number = [int]$d.Number; FriendlyName = [string]$d.FriendlyName; SerialNumber = [string]$d.SerialNumber; ` +
    `Size = [uint64]$d.Size; IsSystem = [bool]$d.IsSystem; IsBoot = [bool]$d.IsBoot; IsReadOnly = [bool]$d.IsReadOnly; ` +
    `IsOffline = [bool]$d.IsOffline; PartitionStyle = [string]$d.PartitionStyle; BusType = [string]$d.BusType; ` +
    `LogicalSectorSize = [int]$d.LogicalSectorSize } | ConvertTo-Json -Compress\n`
  );
}

export interface WindowsDisk {
  number: number;
  friendlyName: string;
  serialNumber: string | null;
  size: number;
  isSystem: boolean;
  isBoot: boolean;
  isReadOnly: boolean;
  isOffline: boolean;
  partitionStyle: string;
  busType: string;
  logicalSectorSize: number;
}

function parseJson(stdout: string, what: string): Record<string, unknown> {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  const start = text.search(/[[{]/);
  try {
    const v = JSON.parse(start >= 0 ? text.slice(start) : text) as unknown;
    const obj = Array.isArray(v) ? v[0] : v;
    if (!obj || typeof obj !== 'object') throw new Error('not an object');
    return obj as Record<string, unknown>;
  } catch (err) {
    throw new DriveseedError('WINDOWS_OUTPUT_INVALID', `Could not read the output of ${what} as JSON (${(err as Error).message}); run it by hand to see what PowerShell said`, {
      category: 'FAILED',
      details: { what, output: text.slice(0, 500) },
    });
  }
}

const PARTITION_STYLES: Record<string, string> = { '0': 'RAW', '1': 'MBR', '2': 'GPT' };

export function parseDisk(stdout: string): WindowsDisk {
  const o = parseJson(stdout, 'Get-Disk');
  const style = String(o.PartitionStyle ?? 'RAW');
  const serial = typeof o.SerialNumber === 'string' ? o.SerialNumber.trim() : '';
  return {
    number: Number(o.Number),
    friendlyName: String(o.FriendlyName ?? ''),
    serialNumber: serial || null,
    size: Number(o.Size),
    isSystem: o.IsSystem === true,
    isBoot: o.IsBoot === true,
    isReadOnly: o.IsReadOnly === true,
    isOffline: o.IsOffline === true,
    partitionStyle: PARTITION_STYLES[style] ?? style.toUpperCase(),
    busType: String(o.BusType ?? ''),
    logicalSectorSize: Number(o.LogicalSectorSize ?? 512),
  };
}

/** Refusals for a Windows disk, same codes as on Linux. */
export function checkWindowsDisk(d: WindowsDisk, input: string): void {
  const refuse = (code: string, msg: string) => new DriveseedError(code, msg, { category: 'TARGET_REFUSED', details: { target: input, disk: d.number } });
  if (d.isSystem || d.isBoot) throw refuse('TARGET_SYSTEM_DISK', `${input} (disk ${d.number}, ${d.friendlyName}) is the system or boot disk; driveseed never formats it`);
  if (d.isReadOnly) throw refuse('TARGET_READ_ONLY', `${input} (disk ${d.number}) is read-only; clear it with Set-Disk -Number ${d.number} -IsReadOnly $false`);
  if (d.isOffline) throw refuse('TARGET_BUSY', `${input} (disk ${d.number}) is offline; bring it online with Set-Disk -Number ${d.number} -IsOffline $false`);
}

/**
 * Clears the disk (when it has a partition table), initialises it GPT, creates one partition over
 * the whole disk with a drive letter and formats it NTFS. Prints the new volume's letter and size.
 */
export function formatDiskScript(n: number, label = VOLUME_LABEL): string {
  const d = diskNumber(n);
  return (
    PRELUDE +
    `$d = Get-Disk -Number ${d}\n` +
    `if ($d.IsSystem -or $d.IsBoot) { throw 'driveseed: disk ${d} is a system or boot disk' }\n` +
    `if ([string]$d.PartitionStyle -ne 'RAW') { Clear-Disk -Number ${d} -RemoveData -RemoveOEM -Confirm:$false }\n` +
    `Initialize-Disk -Number ${d} -PartitionStyle GPT\n` +
    `$p = New-Partition -DiskNumber ${d} -UseMaximumSize -AssignDriveLetter -GptType '${BASIC_DATA_GPT}'\n` +
    `$v = Format-Volume -Partition $p -FileSystem NTFS -NewFileSystemLabel ${psString(label)} -Confirm:$false\n` +
    `[pscustomobject]@{ DiskNumber = [int]$p.DiskNumber; PartitionNumber = [int]$p.PartitionNumber; DriveLetter = [string]$p.DriveLetter; ` +
    `FileSystem = [string]$v.FileSystem; Size = [uint64]$v.Size; SizeRemaining = [uint64]$v.SizeRemaining } | ConvertTo-Json -Compress\n`
  );
}

/** The same as formatDiskScript for diskpart (`diskpart /s <file>`), for machines without the Storage module. */
export function formatDiskDiskpart(n: number, letter: string, label = VOLUME_LABEL): string {
  return [`select disk ${diskNumber(n)}`, 'clean', 'convert gpt', 'create partition primary', `format fs=ntfs label="${label}" quick`, `assign letter=${driveLetter(letter)}`, 'exit', ''].join('\r\n');
}

export interface FormattedVolume {
  diskNumber: number;
  partitionNumber: number;
  driveLetter: string;
  fileSystem: string;
  size: number;
  sizeRemaining: number;
}

export function parseFormatted(stdout: string): FormattedVolume {
  const o = parseJson(stdout, 'New-Partition/Format-Volume');
  const letter = String(o.DriveLetter ?? '').trim();
  if (!/^[A-Z]$/i.test(letter)) {
    throw new DriveseedError('WINDOWS_NO_DRIVE_LETTER', 'The new volume got no drive letter (all letters in use?); free a letter and rerun with --format', { category: 'FAILED' });
  }
  return {
    diskNumber: Number(o.DiskNumber),
    partitionNumber: Number(o.PartitionNumber),
    driveLetter: letter.toUpperCase(),
    fileSystem: String(o.FileSystem ?? ''),
    size: Number(o.Size),
    sizeRemaining: Number(o.SizeRemaining),
  };
}

/** Volume facts for a drive-letter target: its disk (to refuse the system disk), file system, free space, BitLocker. */
export function getVolumeScript(letter: string): string {
  const l = driveLetter(letter);
  return (
    PRELUDE +
    `$v = Get-Volume -DriveLetter ${l}\n$p = Get-Partition -DriveLetter ${l}\n$d = Get-Disk -Number $p.DiskNumber\n` +
    `$b = Get-BitLockerVolume -MountPoint '${l}:' -ErrorAction SilentlyContinue\n` +
    `[pscustomobject]@{ DriveLetter = '${l}'; FileSystem = [string]$v.FileSystem; Size = [uint64]$v.Size; SizeRemaining = [uint64]$v.SizeRemaining; ` +
    `DiskNumber = [int]$p.DiskNumber; PartitionNumber = [int]$p.PartitionNumber; IsSystem = [bool]$d.IsSystem; IsBoot = [bool]$d.IsBoot; ` +
    `SerialNumber = [string]$d.SerialNumber; VolumeStatus = [string]$b.VolumeStatus; ProtectionStatus = [string]$b.ProtectionStatus; ` +
    `LockStatus = [string]$b.LockStatus; EncryptionMethod = [string]$b.EncryptionMethod } | ConvertTo-Json -Compress\n`
  );
}

export interface WindowsVolume {
  driveLetter: string;
  fileSystem: string;
  size: number;
  sizeRemaining: number;
  diskNumber: number;
  partitionNumber: number;
  isSystem: boolean;
  isBoot: boolean;
  serialNumber: string | null;
  /** FullyEncrypted, EncryptionInProgress, FullyDecrypted, or '' without BitLocker */
  bitLockerStatus: string;
  locked: boolean;
  encryptionMethod: string;
}

export function parseVolume(stdout: string): WindowsVolume {
  const o = parseJson(stdout, 'Get-Volume');
  const serial = String(o.SerialNumber ?? '').trim();
  return {
    driveLetter: String(o.DriveLetter ?? ''),
    fileSystem: String(o.FileSystem ?? ''),
    size: Number(o.Size),
    sizeRemaining: Number(o.SizeRemaining),
    diskNumber: Number(o.DiskNumber),
    partitionNumber: Number(o.PartitionNumber),
    isSystem: o.IsSystem === true,
    isBoot: o.IsBoot === true,
    serialNumber: serial || null,
    bitLockerStatus: String(o.VolumeStatus ?? ''),
    locked: String(o.LockStatus ?? '') === 'Locked',
    encryptionMethod: String(o.EncryptionMethod ?? ''),
  };
}

/**
 * Turns BitLocker on (XtsAes256, used space only, a numerical recovery-password protector) and reads
 * the recovery password back. The output carries the key: callers wrap it in a Secret immediately
 * (parseRecoveryPassword) and never log stdout.
 */
export function enableBitLockerScript(letter: string): string {
  const l = driveLetter(letter);
  return (
    PRELUDE +
    `$null = Enable-BitLocker -MountPoint '${l}:' -EncryptionMethod XtsAes256 -UsedSpaceOnly -RecoveryPasswordProtector -SkipHardwareTest\n` +
    `$k = (Get-BitLockerVolume -MountPoint '${l}:').KeyProtector | Where-Object { [string]$_.KeyProtectorType -eq 'RecoveryPassword' }\n` +
    `@($k | ForEach-Object { [pscustomobject]@{ KeyProtectorId = [string]$_.KeyProtectorId; KeyProtectorType = [string]$_.KeyProtectorType; RecoveryPassword = [string]$_.RecoveryPassword } }) | ConvertTo-Json -Compress\n`
  );
}

/** Reads the recovery password of an already-encrypted volume (for `--encryption bitlocker` on a drive encrypted before). */
export function readRecoveryPasswordScript(letter: string): string {
  const l = driveLetter(letter);
  return (
    PRELUDE +
    `$k = (Get-BitLockerVolume -MountPoint '${l}:').KeyProtector | Where-Object { [string]$_.KeyProtectorType -eq 'RecoveryPassword' }\n` +
    `@($k | ForEach-Object { [pscustomobject]@{ KeyProtectorId = [string]$_.KeyProtectorId; KeyProtectorType = [string]$_.KeyProtectorType; RecoveryPassword = [string]$_.RecoveryPassword } }) | ConvertTo-Json -Compress\n`
  );
}

/**
 * A BitLocker numerical recovery password: 8 groups of 6 digits; each group is a multiple of 11 and
 * below 720896 (the format's own check digits).
 */
export function isRecoveryPassword(s: string): boolean {
  const groups = s.split('-');
  return groups.length === 8 && groups.every((g) => /^\d{6}$/.test(g) && Number(g) % 11 === 0 && Number(g) < 720896);
}

/** The first RecoveryPassword protector of Get-BitLockerVolume's KeyProtector list, as a Secret. */
export function parseRecoveryPassword(stdout: string): { protectorId: string; key: Secret } {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  let list: unknown;
  try {
    list = JSON.parse(text.slice(Math.max(0, text.search(/[[{]/))));
  } catch {
    throw new DriveseedError('BITLOCKER_KEY_UNREADABLE', 'Could not read the BitLocker key protectors (output is not JSON); run manage-bde -protectors -get <X>: by hand', { category: 'FAILED' });
  }
  const items = (Array.isArray(list) ? list : [list]) as Array<Record<string, unknown>>;
  for (const p of items) {
    const type = String(p?.KeyProtectorType ?? '');
    const pw = String(p?.RecoveryPassword ?? '');
    if ((type === 'RecoveryPassword' || type === '3') && isRecoveryPassword(pw)) return { protectorId: String(p.KeyProtectorId ?? ''), key: new Secret(pw) };
  }
  throw new DriveseedError('BITLOCKER_NO_RECOVERY_PASSWORD', 'The volume has no numerical recovery-password protector; add one with manage-bde -protectors -add <X>: -RecoveryPassword, then rerun', {
    category: 'FAILED',
    details: { protectors: items.map((p) => String(p?.KeyProtectorType ?? '')) },
  });
}

/** Runs a script through Windows PowerShell. Only on win32; stdout is returned, never logged. */
export function runPowerShell(script: string, what: string): string {
  const r = spawnSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', '-'], { input: script, encoding: 'utf8', timeout: 30 * 60_000, windowsHide: true });
  if (r.error || r.status !== 0) {
    throw new DriveseedError('TOOL_FAILED', `${what} failed in PowerShell (exit ${r.status ?? 'none'}): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(0, 3).join(' ')}; run driveseed from an elevated prompt`, {
      category: 'FAILED',
      details: { what },
    });
  }
  return r.stdout;
}
