/**
 * Windows disk preparation through PowerShell's Storage and BitLocker cmdlets (docs/windows.md).
 * Builders return the exact script text; runPowerShell runs it as `powershell.exe -NoProfile
 * -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 UTF-16LE>` through an injectable
 * CommandRunner (src/prep/runner.ts), wrapped so that any error stops the script, exits 1 and says
 * on stderr what failed. Every script ends by printing ONE JSON line whose fields are cast to
 * strings/numbers in the script itself, so that parsing does not depend on how a PowerShell version
 * serialises enums. Parsers take that stdout.
 *
 * Tested without Windows: every script runs under PowerShell 7 (pwsh) against stub Storage and
 * BitLocker cmdlets (test/prep-windows-pwsh*.test.ts, test/powershell/stubs/), and the parsers and
 * the whole flow (src/prep/disk-platform-windows.ts) also replay hand-written Windows PowerShell 5.1 output
 * (test/fixtures/windows/). What only Windows can show: docs/windows.md.
 */
import { cancelledError, DriveseedError } from '../base/errors';
import { sanitize, Secret } from '../base/secret';
import { VOLUME_LABEL } from './format';
import type { CommandRunner } from './runner';

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
    `LogicalSectorSize = [int]$d.LogicalSectorSize; Partitions = @(${PARTITIONS(n)}) } | ConvertTo-Json -Compress\n`
  );
}

/**
 * The partitions of disk n with their volumes (Get-Partition + Get-Volume), one object each. A RAW
 * disk has none (the error is silenced). DriveLetter is [char]0 without a letter, printed "\u0000".
 */
function PARTITIONS(n: number): string {
  return (
    `Get-Partition -DiskNumber ${diskNumber(n)} -ErrorAction SilentlyContinue | ForEach-Object { $v = $_ | Get-Volume -ErrorAction SilentlyContinue; ` +
    `[pscustomobject]@{ PartitionNumber = [int]$_.PartitionNumber; DriveLetter = [string]$_.DriveLetter; GptType = [string]$_.GptType; Size = [uint64]$_.Size; ` +
    `FileSystem = [string]$v.FileSystem; FileSystemLabel = [string]$v.FileSystemLabel; SizeRemaining = [uint64]$v.SizeRemaining } }`
  );
}

export interface WindowsPartition {
  partitionNumber: number;
  /** the drive letter, or null when it has none */
  driveLetter: string | null;
  gptType: string;
  size: number;
  /** '' for partitions without a volume (MSR, unformatted) */
  fileSystem: string;
  label: string;
  sizeRemaining: number;
}

/**
 * An array property as Windows PowerShell 5.1 may print it: a JSON array, a single object (an array
 * of one unrolled), or {value: [...], Count: n} (an array wrapped in a PSObject with the Count ETS property).
 */
function asList(v: unknown): Array<Record<string, unknown>> {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v as Array<Record<string, unknown>>;
  if (typeof v === 'object' && Array.isArray((v as { value?: unknown }).value)) return (v as { value: Array<Record<string, unknown>> }).value;
  return typeof v === 'object' ? [v as Record<string, unknown>] : [];
}

function letterOf(v: unknown): string | null {
  const l = String(v ?? '').trim();
  return /^[A-Za-z]$/.test(l) ? l.toUpperCase() : null;
}

function parsePartitions(v: unknown): WindowsPartition[] {
  return asList(v).map((p) => ({
    partitionNumber: Number(p.PartitionNumber),
    driveLetter: letterOf(p.DriveLetter),
    gptType: String(p.GptType ?? '').toLowerCase(),
    size: Number(p.Size ?? 0),
    fileSystem: String(p.FileSystem ?? ''),
    label: String(p.FileSystemLabel ?? ''),
    sizeRemaining: Number(p.SizeRemaining ?? 0),
  }));
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
  /** partitions and their volumes, in partition order */
  partitions: WindowsPartition[];
}

/**
 * The JSON line of a script's stdout: the last line that starts with { or [ (a module may print a
 * warning line before it; a BOM may lead).
 */
function jsonLine(stdout: string): string {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  const lines = text.split(/\r?\n/).map((l) => l.replace(/^\uFEFF/, '').trim());
  return lines.filter((l) => /^[[{]/.test(l)).pop() ?? text;
}

function parseJson(stdout: string, what: string): Record<string, unknown> {
  const text = jsonLine(stdout);
  try {
    const v = JSON.parse(text) as unknown;
    const obj = Array.isArray(v) ? v[0] : v;
    if (!obj || typeof obj !== 'object') throw new Error('not an object');
    return obj as Record<string, unknown>;
  } catch (err) {
    throw new DriveseedError(
      'WINDOWS_OUTPUT_INVALID',
      `Could not read the output of ${what} as JSON (${(err as Error).message}); run it by hand to see what PowerShell said`,
      {
        category: 'FAILED',
        details: { what, output: text.slice(0, 500) },
      },
    );
  }
}

const PARTITION_STYLES: Record<string, string> = { '0': 'RAW', '1': 'MBR', '2': 'GPT' };

/** MSFT_Disk BusType values, for output where the enumeration came through as its number. */
const BUS_TYPES: Record<string, string> = {
  '0': 'Unknown',
  '1': 'SCSI',
  '2': 'ATAPI',
  '3': 'ATA',
  '4': '1394',
  '5': 'SSA',
  '6': 'Fibre Channel',
  '7': 'USB',
  '8': 'RAID',
  '9': 'iSCSI',
  '10': 'SAS',
  '11': 'SATA',
  '12': 'SD',
  '13': 'MMC',
  '14': 'Virtual',
  '15': 'File Backed Virtual',
  '16': 'Storage Spaces',
  '17': 'NVMe',
};

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
    busType: BUS_TYPES[String(o.BusType ?? '')] ?? String(o.BusType ?? ''),
    logicalSectorSize: Number(o.LogicalSectorSize ?? 512),
    partitions: parsePartitions(o.Partitions),
  };
}

/** Refusals for a Windows disk, same codes as on Linux. */
export function checkWindowsDisk(d: WindowsDisk, input: string): void {
  const refuse = (code: string, msg: string) => new DriveseedError(code, msg, { category: 'TARGET_REFUSED', details: { target: input, disk: d.number } });
  if (d.isSystem || d.isBoot)
    throw refuse('TARGET_SYSTEM_DISK', `${input} (disk ${d.number}, ${d.friendlyName}) is the system or boot disk; driveseed never formats it`);
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
    // RAW is 'RAW' with the Storage module's type data and 0 without (MSFT_Disk's UInt16); Clear-Disk
    // refuses a disk that was never initialised
    `$style = [string]$d.PartitionStyle\n` +
    `if ($style -ne 'RAW' -and $style -ne '0') { Clear-Disk -Number ${d} -RemoveData -RemoveOEM -Confirm:$false }\n` +
    `Initialize-Disk -Number ${d} -PartitionStyle GPT\n` +
    `$p = New-Partition -DiskNumber ${d} -UseMaximumSize -AssignDriveLetter -GptType '${BASIC_DATA_GPT}'\n` +
    `$v = Format-Volume -Partition $p -FileSystem NTFS -NewFileSystemLabel ${psString(label)} -Confirm:$false\n` +
    `[pscustomobject]@{ DiskNumber = [int]$p.DiskNumber; PartitionNumber = [int]$p.PartitionNumber; DriveLetter = [string]$p.DriveLetter; ` +
    `FileSystem = [string]$v.FileSystem; Size = [uint64]$v.Size; SizeRemaining = [uint64]$v.SizeRemaining } | ConvertTo-Json -Compress\n`
  );
}

/** The same as formatDiskScript for diskpart (`diskpart /s <file>`), for machines without the Storage module. */
export function formatDiskDiskpart(n: number, letter: string, label = VOLUME_LABEL): string {
  return [
    `select disk ${diskNumber(n)}`,
    'clean',
    'convert gpt',
    'create partition primary',
    `format fs=ntfs label="${label}" quick`,
    `assign letter=${driveLetter(letter)}`,
    'exit',
    '',
  ].join('\r\n');
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
    throw new DriveseedError('WINDOWS_NO_DRIVE_LETTER', 'The new volume got no drive letter (all letters in use?); free a letter and rerun with --format', {
      category: 'FAILED',
    });
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
  let list: unknown;
  try {
    list = JSON.parse(jsonLine(stdout));
  } catch {
    throw new DriveseedError(
      'BITLOCKER_KEY_UNREADABLE',
      'Could not read the BitLocker key protectors (output is not JSON); run manage-bde -protectors -get <X>: by hand',
      { category: 'FAILED' },
    );
  }
  const items = asList(list);
  for (const p of items) {
    const type = String(p?.KeyProtectorType ?? '');
    const pw = String(p?.RecoveryPassword ?? '');
    if ((type === 'RecoveryPassword' || type === '3') && isRecoveryPassword(pw)) return { protectorId: String(p.KeyProtectorId ?? ''), key: new Secret(pw) };
  }
  throw new DriveseedError(
    'BITLOCKER_NO_RECOVERY_PASSWORD',
    'The volume has no numerical recovery-password protector; add one with manage-bde -protectors -add <X>: -RecoveryPassword, then rerun',
    {
      category: 'FAILED',
      details: { protectors: items.map((p) => String(p?.KeyProtectorType ?? '')) },
    },
  );
}

/**
 * The data volume of disk n, partition p, given a drive letter when it has none (a resumed prep, a
 * disk whose letter was removed). Prints the same fields as formatDiskScript.
 */
export function diskVolumeScript(n: number, partitionNumber: number): string {
  const d = diskNumber(n);
  const p = diskNumber(partitionNumber);
  return (
    PRELUDE +
    `$p = Get-Partition -DiskNumber ${d} -PartitionNumber ${p}\n` +
    `if (-not [char]::IsLetter($p.DriveLetter)) { Add-PartitionAccessPath -DiskNumber ${d} -PartitionNumber ${p} -AssignDriveLetter; $p = Get-Partition -DiskNumber ${d} -PartitionNumber ${p} }\n` +
    `$v = $p | Get-Volume\n` +
    `[pscustomobject]@{ DiskNumber = [int]$p.DiskNumber; PartitionNumber = [int]$p.PartitionNumber; DriveLetter = [string]$p.DriveLetter; ` +
    `FileSystem = [string]$v.FileSystem; Size = [uint64]$v.Size; SizeRemaining = [uint64]$v.SizeRemaining } | ConvertTo-Json -Compress\n`
  );
}

/** BitLocker conversion state of a volume (polled while it encrypts). */
export function bitLockerStatusScript(letter: string): string {
  const l = driveLetter(letter);
  return (
    PRELUDE +
    `$b = Get-BitLockerVolume -MountPoint '${l}:'\n` +
    `[pscustomobject]@{ MountPoint = '${l}:'; VolumeStatus = [string]$b.VolumeStatus; EncryptionPercentage = [double]$b.EncryptionPercentage; ` +
    `ProtectionStatus = [string]$b.ProtectionStatus; LockStatus = [string]$b.LockStatus; EncryptionMethod = [string]$b.EncryptionMethod } | ConvertTo-Json -Compress\n`
  );
}

export interface BitLockerStatus {
  /** FullyDecrypted, EncryptionInProgress, FullyEncrypted, EncryptionPaused, DecryptionInProgress, DecryptionPaused */
  volumeStatus: string;
  encryptionPercentage: number;
  protectionStatus: string;
  locked: boolean;
  encryptionMethod: string;
}

export function parseBitLockerStatus(stdout: string): BitLockerStatus {
  const o = parseJson(stdout, 'Get-BitLockerVolume');
  return {
    volumeStatus: String(o.VolumeStatus ?? ''),
    encryptionPercentage: Number(o.EncryptionPercentage ?? 0),
    protectionStatus: String(o.ProtectionStatus ?? ''),
    locked: String(o.LockStatus ?? '') === 'Locked',
    encryptionMethod: String(o.EncryptionMethod ?? ''),
  };
}

export const POWERSHELL = 'powershell.exe';

/**
 * The PowerShell the Windows prep path runs: $DRIVESEED_POWERSHELL when set (a path to pwsh.exe to use
 * PowerShell 7, whose Storage and BitLocker modules load through Windows compatibility; the tests
 * point it at pwsh on Linux with stub cmdlets), else Windows PowerShell 5.1 (`powershell.exe`).
 */
export function powerShellFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.DRIVESEED_POWERSHELL?.trim() || POWERSHELL;
}

/**
 * The script as it is executed: UTF-8 output, warnings and progress silenced (they would precede
 * the JSON line), and any error caught, written to stderr as one `driveseed-error:` line and turned
 * into exit code 1, so that no later line of a failed script runs.
 */
export function wrapScript(script: string): string {
  return (
    "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8\n$WarningPreference = 'SilentlyContinue'\ntry {\n" +
    script +
    "} catch {\n  [Console]::Error.WriteLine('driveseed-error: ' + $_.Exception.Message + ' (' + $_.FullyQualifiedErrorId + ')')\n  exit 1\n}\n"
  );
}

/**
 * The argument vector: -EncodedCommand (base64 of UTF-16LE) carries the script as one block, with
 * no quoting layer in between (`-Command "<script>"` would go through Windows command-line parsing,
 * which mangles embedded double quotes in Windows PowerShell 5.1; `-Command -` runs stdin line by
 * line and carries on after a failed line).
 */
export function powerShellArgs(script: string): string[] {
  return ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', Buffer.from(wrapScript(script), 'utf16le').toString('base64')];
}

/** The wrapped script carried by powerShellArgs (tests and fake runners read it back). */
export function scriptOfArgs(args: string[]): string {
  const i = args.indexOf('-EncodedCommand');
  if (i < 0 || i + 1 >= args.length) throw new TypeError('no -EncodedCommand in the arguments');
  return Buffer.from(args[i + 1]!, 'base64').toString('utf16le');
}

/** One PowerShell step: what it does, the cmdlet a failure names, and the fix to print with it. */
export interface PowerShellStep {
  /** "Enabling BitLocker on E:" */
  what: string;
  /** the command line a failure names: "Enable-BitLocker -MountPoint E: …" */
  command: string;
  /** what the user does about a failure */
  fix: string;
  /** error code of a failure; default TOOL_FAILED */
  code?: string;
  /** default 30 minutes (Format-Volume of a large disk, quick or not, is bounded by this) */
  timeoutMs?: number;
}

/** The reason a failed script gives: its driveseed-error line, else the text of a CLIXML error record, else its last lines. */
export function powerShellReason(stderr: string): string {
  const own = /driveseed-error: (.*)/.exec(stderr);
  if (own) return own[1]!.trim();
  if (stderr.includes('#< CLIXML')) {
    const parts = [...stderr.matchAll(/<S S="Error">([^<]*)<\/S>/g)].map((m) =>
      m[1]!
        .replace(/_x000D__x000A_/g, ' ')
        .replace(/&amp;/g, '&')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>'),
    );
    if (parts.length > 0) return parts.join('').replace(/\s+/g, ' ').trim();
  }
  return stderr.trim().split(/\r?\n/).slice(-3).join(' ').trim();
}

/**
 * Runs a script through Windows PowerShell with `runner` and returns its stdout, which is never
 * logged (some carry a recovery password). A failure is a DriveseedError naming the step's command,
 * PowerShell's reason (passed through sanitize(): no recovery password survives) and the fix.
 */
export async function runPowerShell(runner: CommandRunner, script: string, step: PowerShellStep, signal?: AbortSignal): Promise<string> {
  if (signal?.aborted) throw cancelledError();
  const file = powerShellFile();
  const r = await runner({ file, args: powerShellArgs(script), timeoutMs: step.timeoutMs ?? 30 * 60_000 }, signal);
  if (signal?.aborted) throw cancelledError();
  if (r.error) {
    const missing = r.error.code === 'ENOENT';
    throw new DriveseedError(
      missing ? 'TOOL_MISSING' : 'TOOL_FAILED',
      missing
        ? file === POWERSHELL
          ? `${step.what} needs ${POWERSHELL} (Windows PowerShell 5.1, part of Windows), which was not found on PATH; check %SystemRoot%\\System32\\WindowsPowerShell\\v1.0 is on PATH`
          : `${step.what} needs ${file} (named by DRIVESEED_POWERSHELL), which was not found; fix the path or unset DRIVESEED_POWERSHELL to use ${POWERSHELL}`
        : `${step.what}: ${file} could not run (${r.error.message}); ${step.fix}`,
      {
        category: 'FAILED',
        details: { command: step.command },
        cause: r.error,
      },
    );
  }
  if (r.status !== 0) {
    const reason = sanitize(
      powerShellReason(r.stderr) || `no error text (${r.signal ? `killed by ${r.signal}, timeout ${step.timeoutMs ?? 30 * 60_000} ms` : 'empty stderr'})`,
    );
    const denied = /access is denied|0x80070005|administrator|Access to a CIM resource was not available/i.test(reason);
    const fix = denied ? `run driveseed from an elevated prompt (Run as administrator); ${step.fix}` : step.fix;
    throw new DriveseedError(
      step.code ?? 'TOOL_FAILED',
      `${step.what} failed: \`${step.command}\` ${r.status === null ? 'did not finish' : `exited ${r.status}`}: ${reason}. Fix: ${fix}`,
      {
        category: 'FAILED',
        details: { command: step.command, status: r.status, reason },
      },
    );
  }
  return r.stdout;
}
