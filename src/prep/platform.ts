/**
 * prep's platform seam (CONTRIBUTING.md, "Native code": platform code lives in platform files): everything that differs between Linux and Windows —
 * classifying targets, claims and locks, partition + format, making the volume writable, BitLocker —
 * sits behind DiskPlatform, implemented once in src/prep/disk-platform-linux.ts and once in src/prep/disk-platform-windows.ts.
 * src/core/prep.ts holds the order of the steps (plan, confirm, journal, copy, manifest, verify) and
 * no platform branches.
 *
 * The order the core calls it in, per prep:
 *
 *   preclaim(inputs) → inspect(inputs) → lock(t) each → planSpace(t) each → (confirmation, naming
 *   describe(t)) → per drive: format(t) if asked → mount(t) → encrypt(v) → files, manifest,
 *   read-back → finish(v) → v.release()
 */
import type { Reporter } from '../base/reporter';
import type { Secret } from '../base/secret';
import type { EncryptionDecision } from './encryption';
import { LinuxPlatform } from './disk-platform-linux';
import type { DriveFacts } from './service-rules';
import type { Target } from './targets';
import { WindowsPlatform } from './disk-platform-windows';

/** Something held until released: a lock file, an exclusive open, the per-disk flock. release() is idempotent. */
export interface Claim {
  release(): void;
}

export interface PlatformContext {
  reporter: Reporter;
  signal: AbortSignal;
}

/** A volume ready to be written: its root directory and the facts the drive id needs. */
export interface PrepVolume {
  readonly target: Target;
  /** the volume's root: a driveseed mount directory on Linux, `E:\` on Windows (tests: a temp directory) */
  readonly root: string;
  /** the disk's hardware serial (the driveId), null when it has none */
  readonly serial: string | null;
  /** free bytes on the volume now */
  freeBytes(): number;
  /** unmounts what prep mounted (Linux); nothing on Windows, where the volume keeps its drive letter */
  release(): void;
}

export interface DiskPlatform {
  readonly name: NodeJS.Platform;
  /**
   * Claims taken before the targets are classified and held for the whole prep (Linux: the per-disk
   * flock, after unmounting the ntfs-3g mount a killed prep left behind). May return none.
   */
  preclaim(inputs: string[]): Claim[];
  /** Classifies every target and applies the refusals (TARGET_* codes, duplicates included). */
  inspect(inputs: string[], ctx: PlatformContext): Promise<Target[]>;
  /** The claim held while prep works on a target; TARGET_BUSY when another process holds it. */
  lock(t: Target): Claim;
  /**
   * Bytes the plan may use on `t`: a disk to be formatted counts with its estimated free space after
   * formatting. Throws PREP_NEEDS_FORMAT (no NTFS volume and no --format) or PREP_FORMAT_VOLUME.
   */
  planSpace(t: Target, format: boolean): number;
  /** What the import service's drive rules look at (src/prep/service-rules.ts), read before anything is written. */
  driveFacts(t: Target, format: boolean): DriveFacts;
  /** How the confirmation prompt names a disk: model, size, the volumes that will be erased. */
  describe(t: Target): string;
  /** Erases a whole disk: GPT, one Microsoft basic data partition, NTFS. Called only after confirmation. */
  format(t: Target, claim: Claim, ctx: PlatformContext): Promise<void>;
  /** Makes the target's volume writable (Linux: ntfs-3g mount of partition 1; Windows: its drive letter). */
  mount(t: Target, claim: Claim, ctx: PlatformContext): Promise<PrepVolume>;
  /**
   * Brings the volume to the encryption `enc` asks for BEFORE anything is written to it, and returns
   * the BitLocker recovery password that goes into the job (undefined without BitLocker).
   */
  encrypt(v: PrepVolume, enc: EncryptionDecision, ctx: PlatformContext): Promise<Secret | undefined>;
  /** After the files, manifest and read-back: checks the drive is ready to ship (Windows: BitLocker FullyEncrypted). */
  finish(v: PrepVolume, enc: EncryptionDecision, ctx: PlatformContext): Promise<void>;
}

/**
 * Free bytes expected on a disk after partition + format: GPT and alignment (2 MiB), NTFS metadata
 * ($MFT zone and log, about 1 %), 16 MiB margin. The exact figure is checked once the volume exists.
 */
export function estimateFormattedFree(sizeBytes: number): number {
  return sizeBytes - 2 * 1024 * 1024 - Math.ceil(sizeBytes / 100) - 16 * 1024 * 1024;
}

/** The platform of this process. */
export function hostPlatform(): DiskPlatform {
  return process.platform === 'win32' ? new WindowsPlatform() : new LinuxPlatform();
}
