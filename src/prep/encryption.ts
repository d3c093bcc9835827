/**
 * Encryption rules (docs/prep.md "Encryption"). The import service requires BitLocker (AES-256).
 * Windows: prep enables it on the new volume and reads the recovery password back. Linux cannot
 * create BitLocker volumes, so prep accepts either `--encryption none` given explicitly (the data
 * is already AES-256-GCM encrypted by stage; the real service will refuse such a drive) or a drive
 * already BitLocker-encrypted, unlocked through dislocker, whose decrypted view (dislocker-file) is
 * mounted with ntfs-3g and given as the target, with its recovery password in --bitlocker-key-file.
 */
import * as fs from 'node:fs';
import { DriveseedError, usageError } from '../base/errors';
import { Secret } from '../base/secret';
import type { Target } from './targets';
import { isRecoveryPassword } from './powershell-scripts';

export type EncryptionMode = 'bitlocker' | 'none';

export interface EncryptionDecision {
  mode: EncryptionMode;
  /** Linux + bitlocker: the recovery password of the dislocker-unlocked drive */
  key?: Secret;
}

/** Reads a 48-digit recovery password from a file (first non-empty line); never echoes it. */
export function readBitLockerKeyFile(file: string): Secret {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(
      'BITLOCKER_KEY_FILE_UNREADABLE',
      `--bitlocker-key-file ${file} cannot be read (${(err as NodeJS.ErrnoException).code}); give the file holding the drive's 48-digit recovery password`,
      { file },
    );
  }
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? '';
  if (!isRecoveryPassword(line)) {
    throw usageError(
      'BITLOCKER_KEY_INVALID',
      `--bitlocker-key-file ${file} does not hold a BitLocker recovery password (8 groups of 6 digits separated by "-", each a multiple of 11)`,
      { file },
    );
  }
  return new Secret(line);
}

/** True when a volume's mount source is a dislocker-file (directly, or through a loop device over it). */
export function isDislockerVolume(t: Target): boolean {
  if (t.kind !== 'volume') return false;
  if (t.source.endsWith('dislocker-file')) return true;
  const loop = /^\/dev\/(loop\d+)$/.exec(t.source);
  if (!loop) return false;
  try {
    return fs.readFileSync(`/sys/block/${loop[1]}/loop/backing_file`, 'utf8').trim().endsWith('dislocker-file');
  } catch {
    return false;
  }
}

/** Applies the rules for this platform; throws a usage error that says what to give instead. */
export function decideEncryption(
  mode: EncryptionMode | undefined,
  targets: Target[],
  keyFile: string | undefined,
  platform: NodeJS.Platform = process.platform,
): EncryptionDecision {
  if (platform === 'win32') {
    if (keyFile)
      throw usageError(
        'PREP_OPTION_CONFLICT',
        '--bitlocker-key-file is for drives unlocked through dislocker on Linux; on Windows prep reads the key from BitLocker itself',
        {},
      );
    return { mode: mode ?? 'bitlocker' };
  }
  if (mode === undefined) {
    throw usageError(
      'PREP_ENCRYPTION_REQUIRED',
      `BitLocker cannot be created on ${platform}. Give --encryption none to write an unencrypted NTFS drive (the data is already AES-256-GCM encrypted by stage, but the Azure service requires BitLocker: see docs/prep.md), or --encryption bitlocker with a drive unlocked through dislocker and --bitlocker-key-file`,
      {},
    );
  }
  if (mode === 'none') {
    if (keyFile) throw usageError('PREP_OPTION_CONFLICT', '--bitlocker-key-file goes with --encryption bitlocker, not none', {});
    return { mode };
  }
  if (!keyFile)
    throw usageError(
      'BITLOCKER_KEY_REQUIRED',
      '--encryption bitlocker on Linux needs --bitlocker-key-file with the recovery password of the drive unlocked through dislocker',
      {},
    );
  for (const t of targets) {
    if (!isDislockerVolume(t)) {
      throw new DriveseedError(
        'PREP_NOT_BITLOCKER',
        `${t.input} is not a BitLocker volume unlocked through dislocker; on Linux, unlock it (dislocker -V /dev/sdX1 -p<key> -- /mnt/dl) and mount /mnt/dl/dislocker-file with ntfs-3g, then give that mount directory as --target`,
        {
          category: 'USAGE',
          details: { target: t.input },
        },
      );
    }
  }
  return { mode, key: readBitLockerKeyFile(keyFile) };
}
