/**
 * `driveseed verify` (docs/prep.md "Verify"): re-checks prepared drives at any later time. Each
 * target is a volume directory (checked where it is) or a block device (its first partition, or the
 * partition given, mounted read-only by driveseed for the check unless it is mounted already). Every
 * block of every file the drive's DriveManifest.xml lists is re-read with direct I/O and its MD5
 * compared (src/prep/verifier.ts); every bad block is named in the result.
 *
 * With `staging`, the manifest's MD5 is also compared with the one prep recorded for the job
 * (`.prep/drives.json`), and a drive that is not among the prepared drives is a problem.
 */
import * as fs from 'node:fs';
import { firstPartitionPath, mountReadOnly, type OwnedMount } from '../prep/format';
import { majMinOf, parseMountInfo, SysBlock } from '../prep/sysfs';
import { parseWindowsTarget } from '../prep/targets';
import { verifyDrive, type DriveProblem } from '../prep/verifier';
import type { CommandContext } from './command';
import { drivesFile, readPreparedDrives } from './staging-records';
import { cancelledError, DriveseedError } from '../base/errors';

export interface VerifyOptions {
  targets: string[];
  /** the staging location the drives were prepared from (optional) */
  staging?: string;
}

export interface VerifiedDrive {
  target: string;
  /** the directory that was read (a temporary read-only mount for a device) */
  volume: string;
  driveId: string;
  manifestHash: string;
  blobs: number;
  blocks: number;
  bytes: number;
  ok: boolean;
  problems: DriveProblem[];
}

export interface VerifyResult {
  ok: boolean;
  drives: VerifiedDrive[];
  /** number of problems over all drives (each bad block is one) */
  problems: number;
}

function refuse(code: string, message: string, target: string): DriveseedError {
  return new DriveseedError(code, message, { category: 'TARGET_REFUSED', details: { target } });
}

/** Where a device's volume can be read: an existing mount of it, or a read-only mount made here. */
function openVolume(target: string, platform: NodeJS.Platform = process.platform): { dir: string; mount?: OwnedMount } {
  const win = parseWindowsTarget(target);
  if (platform === 'win32' && win) {
    // "E:" alone means the current directory on E:, not its root.
    if (win.kind === 'windowsVolume') return { dir: `${win.path}\\` };
    throw refuse('TARGET_NOT_VOLUME', `verify reads a prepared volume: give its drive letter (E:) instead of ${target}`, target);
  }
  if (win && !fs.existsSync(target)) {
    throw refuse(
      'TARGET_NOT_FOUND',
      `"${target}" is Windows target syntax; on ${process.platform} give the volume's mount directory or its device (/dev/sdX)`,
      target,
    );
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw refuse(
      'TARGET_NOT_FOUND',
      `Target ${target} does not exist; give a prepared drive's device (/dev/sdX) or the directory its volume is mounted on`,
      target,
    );
  }
  if (st.isDirectory()) return { dir: fs.realpathSync(target) };
  if (!st.isBlockDevice()) throw refuse('TARGET_NOT_VOLUME', `${target} is neither a block device nor a directory`, target);
  const node = new SysBlock().nodeOfPath(target);
  const part = node && !node.isPartition ? firstPartitionPath(`/dev/${node.name}`) : node ? `/dev/${node.name}` : target;
  if (!fs.existsSync(part)) throw refuse('TARGET_NOT_VOLUME', `${target} has no partition ${part}; it was not prepared by driveseed prep`, target);
  const partSt = fs.statSync(part);
  // ntfs-3g (FUSE) mounts report the device as their source; kernel mounts by major:minor.
  const mounted = parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).find((m) => m.source === part || m.majMin === majMinOf(partSt.rdev));
  if (mounted) return { dir: mounted.mountPoint };
  const mount = mountReadOnly(part);
  return { dir: mount.dir, mount };
}

function preparedHashes(staging: string): Map<string, string> {
  const prepared = readPreparedDrives(staging);
  if (!prepared) {
    throw new DriveseedError('PREP_NOT_DONE', `${drivesFile(staging)} does not exist: no drives were prepared from --staging ${staging}`, {
      category: 'USAGE',
      details: { field: 'staging', file: drivesFile(staging) },
    });
  }
  return new Map(prepared.drives.map((d) => [d.driveId, d.manifestHash]));
}

/**
 * Verifies every target in order and returns every problem found (never stops at the first).
 * Refusals (TARGET_NOT_FOUND, TARGET_NOT_VOLUME; TARGET_REFUSED) and mount failures (FAILED) throw;
 * damage does not: it is in the result (`ok: false`), and the CLI exits VERIFY_FAILED (4).
 */
export async function verifyTargets(o: VerifyOptions, ctx: Pick<CommandContext, 'reporter' | 'signal'>): Promise<VerifyResult> {
  const expected = o.staging ? preparedHashes(o.staging) : undefined;
  const drives: VerifiedDrive[] = [];
  for (const target of o.targets) {
    if (ctx.signal.aborted) throw cancelledError();
    const { dir, mount } = openVolume(target);
    try {
      ctx.reporter.info(`Verifying ${target}${mount ? ` (mounted read-only at ${dir})` : ''}`);
      // The manifest id is only known after reading it; compare the hash afterwards, not through the verifier.
      const r = await verifyDrive(dir, { reporter: ctx.reporter, signal: ctx.signal });
      const problems = [...r.problems];
      if (expected && r.driveId) {
        const want = expected.get(r.driveId);
        if (want === undefined)
          problems.push({ kind: 'driveId', message: `${target} holds drive ${r.driveId}, which is not among the drives prepared from ${o.staging}` });
        else if (r.manifestHash && want.toUpperCase() !== r.manifestHash) {
          problems.push({
            kind: 'manifest',
            message: `${target}: DriveManifest.xml has MD5 ${r.manifestHash} but prep recorded ${want.toUpperCase()} for drive ${r.driveId}; the manifest changed after prep`,
          });
        }
      }
      const d: VerifiedDrive = {
        target,
        volume: dir,
        driveId: r.driveId,
        manifestHash: r.manifestHash,
        blobs: r.blobs,
        blocks: r.blocks,
        bytes: r.bytes,
        ok: problems.length === 0,
        problems,
      };
      ctx.reporter.event('verified', { target, driveId: d.driveId, ok: d.ok, blobs: d.blobs, blocks: d.blocks, bytes: d.bytes, problems: problems.length });
      drives.push(d);
    } finally {
      mount?.release();
    }
  }
  const problems = drives.reduce((s, d) => s + d.problems.length, 0);
  return { ok: problems === 0, drives, problems };
}
