/**
 * The import service's rules for the disks it receives, checked before prep writes anything, so
 * that a disk the datacenter would refuse (weeks later, after shipping) is refused here, each rule
 * with its own code. What the service states (the Import/Export requirements and FAQ):
 *
 *  - at most {@link MAX_DISKS_PER_JOB} disks in one job                      → PREP_TOO_MANY_DISKS
 *  - the disk is matched by its hardware serial number                     → PREP_SERIAL_UNKNOWN
 *  - only the first data volume is read, and it must be NTFS               → PREP_NOT_FIRST_NTFS_VOLUME
 *  - 4K-native disks (4096-byte logical sectors) have come back as
 *    UnsupportedDrive; 512-byte logical sectors (512n, 512e) are accepted   → PREP_SECTOR_SIZE_UNSUPPORTED
 *  - SATA only at the datacenter: a disk in a USB enclosure is fine while
 *    preparing but must be taken out of it before shipping                 → warning PREP_USB_ENCLOSURE
 *
 * `strict` (the job goes to real Azure) refuses; otherwise (the emulator, or --no-job where the
 * service is not known yet) each broken rule is a warning with the same code, and `job create`
 * holds the recorded drives against the same rules ({@link serviceRuleProblems}) and refuses for
 * real Azure with its own codes (src/core/job.ts).
 */
import { DriveseedError } from '../base/errors';
import type { Reporter } from '../base/reporter';
import { MAX_DISKS_PER_JOB } from '../azure/import-job';

/** What the rules look at, per target (DiskPlatform.driveFacts). Unknown facts are not held against a disk. */
export interface DriveFacts {
  input: string;
  /** the disk's hardware serial; null when it has none (loop devices, most virtual disks) */
  serial: string | null;
  logicalSectorSize?: number;
  /** the file system of the volume prep writes (after --format: NTFS) */
  fileSystem?: string;
  /** the volume prep writes is the disk's first data volume */
  firstVolume?: boolean;
  /** the disk is attached through USB */
  usb?: boolean;
}

/** Which rule a problem breaks; each caller names it with its own code. */
export type ServiceRule = 'tooManyDisks' | 'serial' | 'firstNtfsVolume' | 'sectorSize';

/** prep's codes for the rules (TARGET_REFUSED when strict). */
const PREP_CODES: Record<ServiceRule, string> = {
  tooManyDisks: 'PREP_TOO_MANY_DISKS',
  serial: 'PREP_SERIAL_UNKNOWN',
  firstNtfsVolume: 'PREP_NOT_FIRST_NTFS_VOLUME',
  sectorSize: 'PREP_SECTOR_SIZE_UNSUPPORTED',
};

export interface RuleProblem {
  rule: ServiceRule;
  /** prep's code for the rule */
  code: string;
  input?: string;
  message: string;
}

const isNtfs = (fs: string) => /^(ntfs|ntfs3|fuseblk)$/i.test(fs);

/** Every rule a set of targets breaks (none when the service would accept them). */
export function serviceRuleProblems(facts: DriveFacts[]): RuleProblem[] {
  const out: RuleProblem[] = [];
  if (facts.length > MAX_DISKS_PER_JOB) {
    out.push({
      rule: 'tooManyDisks',
      code: PREP_CODES.tooManyDisks,
      message: `${facts.length} targets given, but one import job takes at most ${MAX_DISKS_PER_JOB} disks; split the data into several staging locations and prep each onto at most ${MAX_DISKS_PER_JOB} disks`,
    });
  }
  for (const f of facts) {
    if (!f.serial) {
      out.push({
        rule: 'serial',
        code: PREP_CODES.serial,
        input: f.input,
        message: `${f.input} reports no hardware serial number, which the service matches disks by; use a physical SATA disk (virtual and loop disks work with the emulator only)`,
      });
    }
    if (f.fileSystem !== undefined && !isNtfs(f.fileSystem)) {
      out.push({
        rule: 'firstNtfsVolume',
        code: PREP_CODES.firstNtfsVolume,
        input: f.input,
        message: `${f.input} is ${f.fileSystem || 'not formatted'}; the service reads only an NTFS first volume: give the whole disk with --format`,
      });
    } else if (f.firstVolume === false) {
      out.push({
        rule: 'firstNtfsVolume',
        code: PREP_CODES.firstNtfsVolume,
        input: f.input,
        message: `${f.input} is not the first volume of its disk, and the service reads only the first; give the whole disk with --format`,
      });
    }
    if (f.logicalSectorSize !== undefined && f.logicalSectorSize !== 512) {
      out.push({
        rule: 'sectorSize',
        code: PREP_CODES.sectorSize,
        input: f.input,
        message: `${f.input} has ${f.logicalSectorSize}-byte logical sectors (4K native); the datacenter reports such disks as UnsupportedDrive: use a disk with 512-byte logical sectors (512n or 512e)`,
      });
    }
  }
  return out;
}

/**
 * Refuses (strict) or warns about every broken rule. The USB rule is always a warning: preparing
 * through a USB adapter is fine, shipping the enclosure is not.
 */
export function enforceServiceRules(facts: DriveFacts[], o: { strict: boolean; reporter: Reporter }): void {
  const problems = serviceRuleProblems(facts);
  if (o.strict && problems.length > 0) {
    const first = problems[0]!;
    throw new DriveseedError(
      first.code,
      problems.length === 1
        ? first.message
        : `${first.message} (and ${problems.length - 1} more: ${problems
            .slice(1)
            .map((p) => p.code)
            .join(', ')})`,
      {
        category: 'TARGET_REFUSED',
        details: { problems },
      },
    );
  }
  for (const p of problems)
    o.reporter.warning(p.code, `${p.message}. Accepted because the job is not for the real service (emulator or --no-job); job create refuses it for Azure`, {
      ...(p.input ? { target: p.input } : {}),
    });
  for (const f of facts) {
    if (f.usb)
      o.reporter.warning(
        'PREP_USB_ENCLOSURE',
        `${f.input} is attached through USB: fine for preparing, but the datacenter accepts only bare SATA disks: take it out of its enclosure before shipping`,
        { target: f.input },
      );
  }
}
