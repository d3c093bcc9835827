/**
 * Windows DiskPlatform (docs/windows.md): targets are drive letters and \\.\PhysicalDriveN; every
 * fact and every change goes through one PowerShell script from src/prep/powershell-scripts.ts, run by an
 * injectable CommandRunner (tests replay recorded output on Linux).
 *
 *   inspect   Get-Disk (+ Get-Partition/Get-Volume of its partitions) or Get-Volume: refuses the
 *             system/boot disk, read-only, offline, too small, a BitLocker-locked volume, the same
 *             disk twice (also as E: and \\.\PhysicalDrive2)
 *   lock      a lock file per disk number (%ProgramData%\driveseed\locks) held for the whole prep:
 *             two driveseed processes never prepare one disk
 *   format    the native lock on \\.\PhysicalDriveN first (FSCTL_LOCK_VOLUME + DISMOUNT on every
 *             volume of the disk, native/src/win32/platform_win32.cc): it fails while any process
 *             has a file open there → TARGET_BUSY; released, then Clear-Disk, Initialize-Disk GPT,
 *             New-Partition -AssignDriveLetter, Format-Volume NTFS
 *   mount     nothing to mount: the volume's drive letter root (E:\); a data partition without a
 *             letter gets one (Add-PartitionAccessPath -AssignDriveLetter)
 *   encrypt   BEFORE any file is written: Enable-BitLocker -EncryptionMethod XtsAes256 -UsedSpaceOnly
 *             -RecoveryPasswordProtector, recovery password read back as a Secret, then Get-BitLockerVolume
 *             polled until FullyEncrypted. From then on BitLocker encrypts every write, so the files
 *             never reach the disk in the clear and no used-space pass over terabytes is needed.
 *             A volume encrypted before: its recovery password is read (a resumed prep, or E: given
 *             already encrypted)
 *   finish    Get-BitLockerVolume once more: the drive ships only FullyEncrypted with AES-256
 */
import * as fs from 'node:fs';
import { cancelledError, DriveseedError } from '../base/errors';
import type { Secret } from '../base/secret';
import { acquireLock } from '../native/io';
import type { EncryptionDecision } from './encryption';
import { volumeLockFile } from './native';
import { estimateFormattedFree, type Claim, type DiskPlatform, type PlatformContext, type PrepVolume } from './platform';
import type { DriveFacts } from './service-rules';
import { spawnRunner, type CommandRunner } from './runner';
import { MIN_TARGET_BYTES, parseWindowsTarget, refuse, type Target } from './targets';
import {
  bitLockerStatusScript,
  checkWindowsDisk,
  diskVolumeScript,
  enableBitLockerScript,
  formatDiskScript,
  getDiskScript,
  getVolumeScript,
  parseBitLockerStatus,
  parseDisk,
  parseFormatted,
  parseRecoveryPassword,
  parseVolume,
  readRecoveryPasswordScript,
  runPowerShell,
  type BitLockerStatus,
  type FormattedVolume,
  type PowerShellStep,
  type WindowsDisk,
  type WindowsPartition,
  type WindowsVolume,
} from './powershell-scripts';

export interface WindowsPlatformOptions {
  /** runs powershell.exe; default spawnRunner */
  runner?: CommandRunner;
  /** the root directory of a drive letter; default `E:\` (tests: a temp directory) */
  volumeRoot?: (letter: string) => string;
  /** lock + dismount every volume of a disk; default the native acquireLock on \\.\PhysicalDriveN */
  lockDisk?: (devicePath: string) => Claim;
  /** the claim between driveseed processes on one disk; default a lock file per disk number */
  claimDisk?: (key: string) => Claim;
  /** free bytes of a volume root; default statfs (GetDiskFreeSpaceExW under libuv) */
  freeBytes?: (root: string) => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** BitLocker status poll interval; default 5 s (a fresh volume's used-space pass takes seconds) */
  pollMs?: number;
}

/** What inspection learned about a target, kept for the later steps. */
interface Facts {
  disk?: WindowsDisk;
  volume?: WindowsVolume;
  formatted?: FormattedVolume;
  diskNumber: number;
}

interface WinVolume extends PrepVolume {
  readonly letter: string;
  /** BitLocker state when known without asking (a volume formatted in this run; Get-Volume of a letter target) */
  readonly bitLocker?: BitLockerStatus;
}

/** Encryption methods the import service accepts: BitLocker with AES-256 (docs/prep.md "Encryption"). */
const AES_256 = new Set(['XtsAes256', 'Aes256']);

const BITLOCKER_FIX =
  'BitLocker needs Windows Pro, Enterprise or Education with the BitLocker feature (Get-WindowsOptionalFeature -Online -FeatureName BitLocker), ' +
  'and Group Policy must allow XTS-AES 256 and recovery passwords for fixed data drives (gpedit.msc: Administrative Templates > Windows Components > BitLocker Drive Encryption); ' +
  'no staging data was written to the drive yet: rerun the same driveseed prep after fixing, it resumes';

const sleepFor = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

function sizeText(n: number): string {
  return n >= 1e12 ? `${(n / 1e12).toFixed(1)} TB` : `${(n / 1e9).toFixed(1)} GB`;
}

/** The first partition holding a volume: Azure imports only the first data volume. */
function firstDataPartition(d: WindowsDisk): WindowsPartition | undefined {
  return d.partitions.find((p) => p.fileSystem !== '');
}

function defaultClaimDisk(key: string): Claim {
  try {
    return acquireLock(volumeLockFile(key));
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_LOCKED') throw err;
    throw refuse('TARGET_BUSY', `Another driveseed is preparing ${key.replace('windisk:', 'disk ')}; wait for it to finish or stop it, then retry`, {
      target: key,
      reason: 'ERR_LOCKED',
    });
  }
}

export class WindowsPlatform implements DiskPlatform {
  readonly name = 'win32' as const;
  private readonly runner: CommandRunner;
  private readonly volumeRoot: (letter: string) => string;
  private readonly lockDisk: (devicePath: string) => Claim;
  private readonly claimDisk: (key: string) => Claim;
  private readonly free: (root: string) => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly pollMs: number;
  private readonly facts = new Map<string, Facts>();

  constructor(o: WindowsPlatformOptions = {}) {
    this.runner = o.runner ?? spawnRunner;
    this.volumeRoot = o.volumeRoot ?? ((l) => `${l}:\\`);
    this.lockDisk = o.lockDisk ?? ((p) => acquireLock(p));
    this.claimDisk = o.claimDisk ?? defaultClaimDisk;
    this.free =
      o.freeBytes ??
      ((root) => {
        const s = fs.statfsSync(root);
        return Number(s.bavail) * Number(s.bsize);
      });
    this.sleep = o.sleep ?? sleepFor;
    this.pollMs = o.pollMs ?? 5000;
  }

  preclaim(): Claim[] {
    return []; // the per-disk claim needs the disk number, which inspect() learns; lock() takes it
  }

  private ps(script: string, step: PowerShellStep, ctx: PlatformContext): Promise<string> {
    return runPowerShell(this.runner, script, step, ctx.signal);
  }

  private factsOf(t: Target): Facts {
    const f = this.facts.get(t.identity);
    if (!f) throw new TypeError(`${t.input} was not inspected by this platform`);
    return f;
  }

  /** Runs an inspection script; "No MSFT_… objects found" (no such disk or letter) is TARGET_NOT_FOUND. */
  private async inspectRun(script: string, step: PowerShellStep, input: string, hint: string, ctx: PlatformContext): Promise<string> {
    try {
      return await this.ps(script, step, ctx);
    } catch (err) {
      const reason = err instanceof DriveseedError ? String(err.details?.reason ?? '') : '';
      if (/No MSFT_\w+ objects found/i.test(reason)) throw refuse('TARGET_NOT_FOUND', `${input} does not exist (${reason}); ${hint}`, { target: input });
      throw err;
    }
  }

  async inspect(inputs: string[], ctx: PlatformContext): Promise<Target[]> {
    const seen = new Map<string, string>();
    const out: Target[] = [];
    for (const input of inputs) {
      const t = parseWindowsTarget(input);
      if (!t) throw refuse('TARGET_NOT_FOUND', `Expected a drive letter (E:) or \\\\.\\PhysicalDriveN for --target but received "${input}"`, { target: input });
      let facts: Facts;
      if (t.kind === 'windowsDisk') {
        const d = parseDisk(
          await this.inspectRun(
            getDiskScript(t.number),
            {
              what: `Reading disk ${t.number}`,
              command: `Get-Disk -Number ${t.number}`,
              fix: 'run driveseed from an elevated prompt; Get-Disk lists the disks',
            },
            input,
            'Get-Disk lists the disk numbers',
            ctx,
          ),
        );
        checkWindowsDisk(d, input);
        if (d.size < MIN_TARGET_BYTES)
          throw refuse('TARGET_TOO_SMALL', `${input} holds ${d.size} bytes; a drive for import needs at least ${MIN_TARGET_BYTES} bytes`, {
            target: input,
            sizeBytes: d.size,
            minBytes: MIN_TARGET_BYTES,
          });
        facts = { disk: d, diskNumber: d.number };
      } else if (t.kind === 'windowsVolume') {
        const v = parseVolume(
          await this.inspectRun(
            getVolumeScript(t.letter),
            {
              what: `Reading volume ${t.letter}:`,
              command: `Get-Volume -DriveLetter ${t.letter}`,
              fix: 'run driveseed from an elevated prompt; Get-Volume lists the volumes',
            },
            input,
            'Get-Volume lists the drive letters',
            ctx,
          ),
        );
        if (v.isSystem || v.isBoot)
          throw refuse('TARGET_SYSTEM_DISK', `${input} is on the system or boot disk (disk ${v.diskNumber}); use a separate disk for the import`, {
            target: input,
            disk: v.diskNumber,
          });
        if (v.locked)
          throw refuse(
            'TARGET_BUSY',
            `${input} is locked by BitLocker; unlock it (Unlock-BitLocker -MountPoint ${t.letter}: -RecoveryPassword <key>) and retry`,
            { target: input, reason: 'BitLockerLocked' },
          );
        if (v.size < MIN_TARGET_BYTES)
          throw refuse('TARGET_TOO_SMALL', `${input} holds ${v.size} bytes; a drive for import needs at least ${MIN_TARGET_BYTES} bytes`, {
            target: input,
            sizeBytes: v.size,
            minBytes: MIN_TARGET_BYTES,
          });
        facts = { volume: v, diskNumber: v.diskNumber };
      } else {
        throw new TypeError(`not a Windows target: ${input}`);
      }
      for (const k of new Set([t.identity, `windisk:${facts.diskNumber}`])) {
        const prev = seen.get(k);
        if (prev !== undefined)
          throw refuse(
            'TARGET_DUPLICATE',
            `--target ${input} names the same ${k === t.identity && t.kind === 'windowsVolume' ? 'volume' : 'disk'} (disk ${facts.diskNumber}) as ${prev}; give each drive once`,
            { target: input, same: prev },
          );
        seen.set(k, input);
      }
      this.facts.set(t.identity, facts);
      out.push(t);
    }
    return out;
  }

  lock(t: Target): Claim {
    return this.claimDisk(`windisk:${this.factsOf(t).diskNumber}`);
  }

  planSpace(t: Target, format: boolean): number {
    const f = this.factsOf(t);
    if (f.disk) {
      if (format) return estimateFormattedFree(f.disk.size);
      const p = firstDataPartition(f.disk);
      if (p?.fileSystem.toUpperCase() !== 'NTFS') {
        throw new DriveseedError(
          'PREP_NEEDS_FORMAT',
          `${t.input} has no NTFS volume as its first data volume${p ? ` (it is ${p.fileSystem})` : ''}; give --format to partition and format it (this erases it)`,
          { category: 'USAGE', details: { target: t.input } },
        );
      }
      return p.sizeRemaining;
    }
    const v = f.volume!;
    if (format)
      throw new DriveseedError(
        'PREP_FORMAT_VOLUME',
        `--format takes whole disks; ${t.input} is a volume (give its disk \\\\.\\PhysicalDrive${v.diskNumber} to format it)`,
        { category: 'USAGE', details: { target: t.input } },
      );
    if (v.fileSystem.toUpperCase() !== 'NTFS') {
      throw new DriveseedError(
        'PREP_NEEDS_FORMAT',
        `${t.input} is ${v.fileSystem || 'not formatted'}, but Azure imports only NTFS; give its disk \\\\.\\PhysicalDrive${v.diskNumber} with --format (this erases it)`,
        { category: 'USAGE', details: { target: t.input } },
      );
    }
    return v.sizeRemaining;
  }

  driveFacts(t: Target, format: boolean): DriveFacts {
    const f = this.factsOf(t);
    if (f.disk) {
      const p = firstDataPartition(f.disk);
      return {
        input: t.input,
        serial: f.disk.serialNumber,
        logicalSectorSize: f.disk.logicalSectorSize,
        fileSystem: format ? 'NTFS' : (p?.fileSystem ?? ''),
        firstVolume: true,
        usb: f.disk.busType.toUpperCase() === 'USB',
      };
    }
    const v = f.volume!;
    return { input: t.input, serial: v.serialNumber, fileSystem: v.fileSystem };
  }

  describe(t: Target): string {
    const d = this.facts.get(t.identity)?.disk;
    if (!d) return t.path;
    const vols = d.partitions
      .filter((p) => p.fileSystem !== '' || p.driveLetter)
      .map((p) => `${p.driveLetter ? `${p.driveLetter}: ` : ''}"${p.label}" ${p.fileSystem || 'RAW'} ${sizeText(p.size)}`);
    return `${t.path} (disk ${d.number}: ${d.friendlyName}, ${sizeText(d.size)}, ${d.busType}${d.serialNumber ? `, serial ${d.serialNumber}` : ''}; ${vols.length > 0 ? `volumes ${vols.join(', ')}` : 'no volumes'})`;
  }

  async format(t: Target, _claim: Claim, ctx: PlatformContext): Promise<void> {
    if (t.kind !== 'windowsDisk') throw new TypeError(`format takes a disk, got ${t.kind}`);
    const f = this.factsOf(t);
    // The busy check: the native lock locks and dismounts every volume of the disk and fails while
    // any process has a file open on one. Released before the cmdlets run (they open the disk
    // themselves); Clear-Disk does not need the volumes dismounted, only unused.
    let lock: Claim;
    try {
      lock = this.lockDisk(t.path);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_LOCKED') throw err;
      throw new DriveseedError(
        'TARGET_BUSY',
        `${t.input} has a volume in use (open files, an Explorer window, an antivirus scan or another driveseed); close what uses it (Resource Monitor > CPU > Associated Handles, search the drive letter) and retry. Nothing was erased`,
        {
          category: 'TARGET_REFUSED',
          details: { target: t.input, reason: code },
          cause: err,
        },
      );
    }
    lock.release();
    ctx.reporter.info(`Partitioning ${t.path} (GPT) and formatting it NTFS`);
    const out = await this.ps(
      formatDiskScript(t.number),
      {
        what: `Partitioning and formatting ${t.path}`,
        command: `Clear-Disk -Number ${t.number} -RemoveData -RemoveOEM; Initialize-Disk -PartitionStyle GPT; New-Partition -UseMaximumSize -AssignDriveLetter; Format-Volume -FileSystem NTFS`,
        fix: `check disk ${t.number} in Disk Management (diskmgmt.msc): online, not read-only, nothing in use; or clean it with diskpart (select disk ${t.number}, clean) and rerun with --format`,
      },
      ctx,
    );
    f.formatted = parseFormatted(out);
  }

  async mount(t: Target, _claim: Claim, ctx: PlatformContext): Promise<WinVolume> {
    const f = this.factsOf(t);
    let letter: string;
    let bitLocker: BitLockerStatus | undefined;
    let serial: string | null;
    if (t.kind === 'windowsVolume') {
      letter = t.letter;
      serial = f.volume!.serialNumber;
      const v = f.volume!;
      bitLocker = v.bitLockerStatus
        ? {
            volumeStatus: v.bitLockerStatus,
            encryptionPercentage: v.bitLockerStatus === 'FullyEncrypted' ? 100 : 0,
            protectionStatus: '',
            locked: v.locked,
            encryptionMethod: v.encryptionMethod,
          }
        : undefined;
    } else if (t.kind === 'windowsDisk') {
      const d = f.disk!;
      serial = d.serialNumber;
      if (f.formatted) {
        letter = f.formatted.driveLetter;
        bitLocker = { volumeStatus: 'FullyDecrypted', encryptionPercentage: 0, protectionStatus: 'Off', locked: false, encryptionMethod: 'None' };
      } else {
        const p = firstDataPartition(d);
        if (!p)
          throw new DriveseedError('PREP_NEEDS_FORMAT', `${t.input} has no data volume; give --format to partition and format it (this erases it)`, {
            category: 'USAGE',
            details: { target: t.input },
          });
        letter =
          p.driveLetter ??
          parseFormatted(
            await this.ps(
              diskVolumeScript(d.number, p.partitionNumber),
              {
                what: `Giving the volume on disk ${d.number} a drive letter`,
                command: `Add-PartitionAccessPath -DiskNumber ${d.number} -PartitionNumber ${p.partitionNumber} -AssignDriveLetter`,
                fix: 'free a drive letter (Disk Management), then rerun',
              },
              ctx,
            ),
          ).driveLetter;
      }
    } else {
      throw new TypeError(`mount takes a Windows disk or volume, got ${t.kind}`);
    }
    const root = this.volumeRoot(letter);
    return { target: t, root, serial, letter, ...(bitLocker ? { bitLocker } : {}), freeBytes: () => this.free(root), release: () => undefined };
  }

  async encrypt(v: PrepVolume, enc: EncryptionDecision, ctx: PlatformContext): Promise<Secret | undefined> {
    if (enc.mode !== 'bitlocker') return undefined;
    const w = v as WinVolume;
    const known = w.bitLocker ?? (await this.status(w, ctx));
    const status = known.volumeStatus;
    if (status === 'FullyDecrypted' || status === '') {
      const key = await this.enableEncryption(w, ctx);
      await this.waitEncrypted(w, ctx);
      return key;
    }
    if (status !== 'FullyEncrypted' && status !== 'EncryptionInProgress') throw this.statusError(w, status, known.encryptionPercentage);
    // encrypted before (a resumed prep, a letter given already encrypted): its password, once it is complete
    const key = await this.readExistingKey(w, ctx);
    await this.waitEncrypted(w, ctx, known);
    return key;
  }

  async finish(v: PrepVolume, enc: EncryptionDecision, ctx: PlatformContext): Promise<void> {
    if (enc.mode === 'bitlocker') await this.waitEncrypted(v as WinVolume, ctx);
  }

  /** Enable-BitLocker (XtsAes256, used space only, numerical recovery password) and the password read back. */
  async enableEncryption(v: WinVolume, ctx: PlatformContext): Promise<Secret> {
    ctx.reporter.info(`Turning on BitLocker on ${v.letter}: (XTS-AES 256, used space only, recovery password protector)`);
    const out = await this.ps(
      enableBitLockerScript(v.letter),
      {
        what: `Enabling BitLocker on ${v.letter}:`,
        command: `Enable-BitLocker -MountPoint ${v.letter}: -EncryptionMethod XtsAes256 -UsedSpaceOnly -RecoveryPasswordProtector`,
        fix: BITLOCKER_FIX,
        code: 'BITLOCKER_FAILED',
      },
      ctx,
    );
    return parseRecoveryPassword(out).key;
  }

  /** The recovery password of a volume BitLocker already protects. */
  async readExistingKey(v: WinVolume, ctx: PlatformContext): Promise<Secret> {
    const out = await this.ps(
      readRecoveryPasswordScript(v.letter),
      {
        what: `Reading the BitLocker recovery password of ${v.letter}:`,
        command: `(Get-BitLockerVolume -MountPoint ${v.letter}:).KeyProtector`,
        fix: `run driveseed from an elevated prompt; manage-bde -protectors -get ${v.letter}: shows the protectors`,
        code: 'BITLOCKER_FAILED',
      },
      ctx,
    );
    return parseRecoveryPassword(out).key;
  }

  private async status(v: WinVolume, ctx: PlatformContext): Promise<BitLockerStatus> {
    return parseBitLockerStatus(
      await this.ps(
        bitLockerStatusScript(v.letter),
        {
          what: `Reading the BitLocker status of ${v.letter}:`,
          command: `Get-BitLockerVolume -MountPoint ${v.letter}:`,
          fix: 'run driveseed from an elevated prompt on a Windows edition with BitLocker',
          code: 'BITLOCKER_FAILED',
        },
        ctx,
      ),
    );
  }

  private statusError(v: WinVolume, status: string, pct: number): DriveseedError {
    const fix =
      status === 'EncryptionPaused'
        ? `resume it with Resume-BitLocker -MountPoint ${v.letter}: and rerun`
        : status.startsWith('Decryption')
          ? `BitLocker is being turned off on ${v.letter}:; let decryption finish (Get-BitLockerVolume -MountPoint ${v.letter}:) and rerun, prep then turns it on again`
          : `turn it on with Enable-BitLocker -MountPoint ${v.letter}: -EncryptionMethod XtsAes256 -RecoveryPasswordProtector, or rerun with --format`;
    return new DriveseedError(
      'BITLOCKER_NOT_ENCRYPTED',
      `BitLocker on ${v.letter}: is ${status || 'off'} (${pct}% encrypted); the import service takes only fully encrypted drives. Fix: ${fix}`,
      {
        category: 'FAILED',
        details: { target: v.target.input, volumeStatus: status, encryptionPercentage: pct },
      },
    );
  }

  /** Polls Get-BitLockerVolume until FullyEncrypted with AES-256; a paused, reversed or weaker encryption is an error. */
  private async waitEncrypted(v: WinVolume, ctx: PlatformContext, first?: BitLockerStatus): Promise<void> {
    let reported = -1;
    let next = first;
    for (;;) {
      const s = next ?? (await this.status(v, ctx));
      next = undefined;
      if (s.encryptionMethod && s.encryptionMethod !== 'None' && !AES_256.has(s.encryptionMethod)) {
        throw new DriveseedError(
          'BITLOCKER_NOT_ENCRYPTED',
          `${v.letter}: is encrypted with ${s.encryptionMethod}; the import service requires AES-256. Fix: decrypt it (Disable-BitLocker -MountPoint ${v.letter}:) and rerun, or give its disk with --format`,
          {
            category: 'FAILED',
            details: { target: v.target.input, encryptionMethod: s.encryptionMethod },
          },
        );
      }
      if (s.volumeStatus === 'FullyEncrypted') return;
      if (s.volumeStatus !== 'EncryptionInProgress') throw this.statusError(v, s.volumeStatus, s.encryptionPercentage);
      const pct = Math.floor(s.encryptionPercentage);
      if (pct !== reported) ctx.reporter.info(`BitLocker is encrypting the used space of ${v.letter}: (${pct}%)`);
      reported = pct;
      await this.sleep(this.pollMs, ctx.signal);
      if (ctx.signal.aborted) throw cancelledError();
    }
  }
}
