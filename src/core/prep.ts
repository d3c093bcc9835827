/**
 * `driveseed prep`: puts the staging repository on Import/Export drives (docs/prep.md).
 *
 *   classify + refuse targets → lock → encryption rules → inventory (block MD5s from staging) →
 *   plan (shown before anything is written) → confirm + format → mount → per drive: encryption
 *   (BitLocker on Windows, before any file), drive id, files through the native aligned writer,
 *   DriveManifest.xml, read-back verify, encryption complete → unmount.
 *
 * Everything that differs between Linux and Windows is behind DiskPlatform (src/prep/platform.ts;
 * src/prep/disk-platform-linux.ts, src/prep/disk-platform-windows.ts); this file holds the order of the steps only.
 *
 * Before anything is written, the targets are held against the import service's drive rules
 * (src/prep/service-rules.ts): refused when the job goes to real Azure, warned about otherwise.
 *
 * Every step is journaled (src/prep/journal.ts); a rerun after a crash resumes. Drive records
 * for the job go to `<staging>/.prep/drives.json`, a BitLocker key only to `.prep/keys.json`
 * (0600) (both through src/core/staging-records.ts), and the files the Azure portal asks for when
 * the job is created there to `.prep/portal/` (src/azure/portal-files.ts, 0600: they hold the key).
 *
 * Why one file: it is the order of prep's steps and nothing else (every step's work lives in
 * src/prep/); reading that order top to bottom in one place is what makes resume after a crash
 * reviewable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MANIFEST_FILE, ManifestWriter } from '../azure/manifest';
import { writePortalFiles } from '../azure/portal-files';
import { copyFiles } from '../native/io';
import { decideEncryption, type EncryptionMode } from '../prep/encryption';
import { resolveDriveId } from '../prep/drive-id';
import { fingerprint, inventory, type StagedFile } from '../prep/inventory';
import { Journal, journalDir, type JournalState } from '../prep/journal';
import { planSpanning, type Plan } from '../prep/plan';
import { hostPlatform, type Claim, type DiskPlatform, type PlatformContext, type PrepVolume } from '../prep/platform';
import { confirmFormat, isWholeDisk, type Target } from '../prep/targets';
import { enforceServiceRules } from '../prep/service-rules';
import { MANIFEST_NAME, verifyDrive, type DriveProblem } from '../prep/verifier';
import { cancelledError, DriveseedError, usageError } from '../base/errors';
import type { CommandContext } from './command';
import { createJob, type JobCreateResult } from './job';
import { jobCoordinates, type JobCreateOptions } from './job-request';
import { RateMeter } from '../base/reporter';
import type { Secret } from '../base/secret';
import { readSettings } from './settings';
import { advanceSeed, saveDriveKeys, writePreparedDrives, type DriveIdSource } from './staging-records';
import { driveseedVersion } from './version';

export interface PrepOptions {
  staging: string;
  targets: string[];
  /** container the blobs go to (from the staging settings) */
  container: string;
  format: boolean;
  yes: boolean;
  encryption?: EncryptionMode;
  bitlockerKeyFile?: string;
  verify: boolean;
  /** files per native copy batch (journal granularity); default 16 */
  batchFiles?: number;
  /**
   * Create the import job once the drives are written and verified (src/core/job.ts createJob);
   * absent = --no-job. Checked before anything is written: the staging settings must name the
   * subscription, resource group, account and location, and without `returnInfo` a prompter must
   * exist (else PROMPT_REQUIRED naming --return-address).
   */
  job?: Omit<JobCreateOptions, 'staging'>;
  /** the disk platform; default this host's (tests inject a Windows platform replaying recorded output) */
  platform?: DiskPlatform;
}

export interface PreparedDrive {
  target: string;
  /** the disk's serial number, or a generated id (emulator only) */
  driveId: string;
  driveIdSource: DriveIdSource;
  /** bytes per logical sector, when the platform reports it */
  logicalSectorSize?: number;
  manifestFile: string;
  manifestHash: string;
  files: number;
  bytes: number;
  verified: boolean | null;
}

export interface PrepResult {
  staging: string;
  drives: PreparedDrive[];
  bytes: number;
  files: number;
  resumed: boolean;
  encryption: EncryptionMode;
  /** where drive records for `job create` were saved */
  drivesFile: string;
  /** the files for creating the job in the Azure portal instead, per drive (they hold the BitLocker key: mode 0600) */
  portalFiles: Array<{ serialNumber: string; journal: string; driveInfo: string }>;
  problems: DriveProblem[];
  /** the created import job (absent with --no-job) */
  job?: JobCreateResult;
}

interface Live {
  target: Target;
  claim?: Claim;
  volume?: PrepVolume;
}

export async function prep(o: PrepOptions, ctx: CommandContext): Promise<PrepResult> {
  const platform = o.platform ?? hostPlatform();
  // A prep killed with -9 leaves its ntfs-3g mount behind. Under the per-disk flock no live
  // driveseed can own such a mount, so it is ours to unmount before the targets are classified.
  const early = platform.preclaim(o.targets);
  try {
    return await prepLocked(o, ctx, platform);
  } finally {
    for (const f of early) f.release();
  }
}

async function prepLocked(o: PrepOptions, ctx: CommandContext, platform: DiskPlatform): Promise<PrepResult> {
  const { reporter } = ctx;
  const pctx: PlatformContext = { reporter, signal: ctx.signal };
  if (o.job) {
    // Fail before writing anything when the job could not be created afterwards.
    jobCoordinates(o.staging, { ...(o.job.subscription ? { subscription: o.job.subscription } : {}), ...(o.job.emulator ? { emulator: o.job.emulator } : {}) });
    if (!o.job.returnInfo && !ctx.prompter) {
      throw usageError(
        'PROMPT_REQUIRED',
        'prep creates the import job at the end and would ask for the return address, but cannot prompt here (--json, RPC or no terminal); pass --return-address <json file> (RPC param "returnAddress"), or --no-job and create the job later with driveseed job create',
        { field: 'returnAddress', flag: '--return-address' },
      );
    }
  }
  const targets = await platform.inspect(o.targets, pctx);
  const enc = decideEncryption(o.encryption, targets, o.bitlockerKeyFile, platform.name);
  const files = inventory(o.staging);
  const fp = fingerprint(files);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const journal = Journal.open(o.staging);
  let st: JournalState = journal.load();
  if (st.done) {
    journal.reset();
    st = journal.load();
  }
  const resumed = st.plan !== undefined;
  if (resumed) {
    if (st.fingerprint !== fp) {
      throw new DriveseedError(
        'PREP_JOURNAL_MISMATCH',
        `The staging data changed since the interrupted prep recorded in ${journal.file}; move that journal away and prep again from the start (the drives are rewritten)`,
        { category: 'USAGE', details: { journal: journal.file } },
      );
    }
    const was = st.plan!.drives.map((d) => d.target);
    if (was.join('\n') !== o.targets.join('\n')) {
      throw new DriveseedError(
        'PREP_JOURNAL_MISMATCH',
        `The interrupted prep used --target ${was.join(' --target ')}; give the same targets in the same order to resume, or move ${journal.file} away to start over`,
        { category: 'USAGE', details: { journal: journal.file, targets: was } },
      );
    }
    reporter.info(`Resuming the prep recorded in ${journal.file}`);
  }

  const live: Live[] = targets.map((target) => ({ target }));
  try {
    for (const l of live) l.claim = platform.lock(l.target);

    // The service's drive rules, before anything is written. Strict when the job goes to real Azure.
    const facts = live.map((l) => platform.driveFacts(l.target, o.format));
    const toEmulator = Boolean(o.job?.emulator ?? readSettings(o.staging)?.emulator);
    enforceServiceRules(facts, { strict: o.job !== undefined && !toEmulator, reporter });

    // Plan before anything is written; a disk to be formatted counts with its estimated free space.
    let plan: Plan;
    if (st.plan) plan = st.plan;
    else {
      const free = live.map((l) => ({ target: l.target.input, freeBytes: platform.planSpace(l.target, o.format) }));
      plan = planSpanning(
        files.map((f) => ({ path: f.path, size: f.size })),
        free,
      );
    }
    reporter.event('plan', {
      drives: plan.drives.map((d) => ({ target: d.target, files: d.files.length, bytes: d.bytes, spaceLeft: d.spaceLeft })),
      totalBytes: plan.totalBytes,
      files: plan.fileCount,
    });

    // Confirm and format what the journal has not formatted yet.
    const toFormat = live.filter((l, i) => isWholeDisk(l.target) && o.format && !(st.drives[i]?.formatted ?? false));
    if (toFormat.length > 0)
      await confirmFormat(
        toFormat.map((l) => l.target),
        { yes: o.yes, prompter: ctx.prompter, describe: (t) => platform.describe(t) },
      );
    if (!st.plan) {
      journal.append({ t: 'plan', v: 1, at: new Date().toISOString(), plan, fingerprint: fp });
      st = journal.load();
    }

    const prepared: PreparedDrive[] = [];
    const problems: DriveProblem[] = [];
    const keys: Array<{ driveId: string; key: Secret }> = [];
    for (let i = 0; i < live.length; i++) {
      if (ctx.signal.aborted) throw cancelledError();
      const l = live[i]!;
      const pd = plan.drives[i]!;
      const ds = st.drives[i]!;
      const t = l.target;
      if (toFormat.includes(l)) await platform.format(t, l.claim!, pctx);
      const v = (l.volume = await platform.mount(t, l.claim!, pctx));
      if (isWholeDisk(t)) {
        const free = v.freeBytes();
        const need = pd.allocated + pd.manifestEstimate - [...ds.done.values()].reduce((s, f) => s + Math.ceil(f.size / 4096) * 4096, 0);
        if (free < need)
          throw new DriveseedError(
            'PREP_DOES_NOT_FIT',
            `${t.input} has ${free} bytes free after formatting but its share of the plan needs ${need}; add a drive or use a larger one`,
            { category: 'USAGE', details: { target: t.input, free, need } },
          );
      }
      // Encryption before the first byte of the drive's own data: BitLocker then encrypts every write.
      const key = await platform.encrypt(v, enc, pctx);
      const dir = v.root;
      const serial = v.serial;
      const { driveId, source } = resolveDriveId(dir, serial, ds.driveId);
      const driveIdSource: DriveIdSource = source === 'serial' ? 'hardware' : 'generated';
      if (driveIdSource === 'generated') {
        reporter.warning(
          'DRIVE_ID_GENERATED',
          `${t.input} has no hardware serial number; it gets the generated drive id ${driveId} (stored on the volume), which only the emulator accepts: the real service matches disks by their serial`,
          { target: t.input, driveId },
        );
      }
      if (ds.driveId !== driveId || (toFormat.includes(l) && !ds.formatted)) {
        journal.append({ t: 'drive', drive: i, target: t.input, driveId, formatted: toFormat.includes(l) || ds.formatted, serial });
      }
      reporter.event('drive', { target: t.input, driveId, files: pd.files.length, bytes: pd.bytes });

      // Files: started → copy (aligned, direct) → done with the block MD5s written.
      const pending = pd.files.map((f) => byPath.get(f.path)!).filter((f) => !ds.done.has(f.path));
      const batchSize = o.batchFiles ?? 16;
      let doneBytes = [...ds.done.values()].reduce((s, f) => s + f.size, 0);
      for (let b = 0; b < pending.length; b += batchSize) {
        if (ctx.signal.aborted) throw cancelledError();
        const batch = pending.slice(b, b + batchSize);
        for (const f of batch) {
          journal.append({ t: 'fileStarted', drive: i, path: f.path });
          fs.mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
        }
        const base = doneBytes;
        const meter = new RateMeter();
        await copyFiles(
          batch.map((f) => ({ source: f.source, dest: path.join(dir, f.path) })),
          {
            direct: true,
            signal: ctx.signal,
            onProgress: (p, events) => {
              for (const e of events) {
                const f = batch[e.index]!;
                checkWritten(f, e.bytes, e.blockMd5);
                journal.append({ t: 'fileDone', drive: i, path: f.path, size: e.bytes, blocks: hexes(e.blockMd5) });
              }
              const bytesDone = base + p.bytesDone;
              reporter.progress({
                phase: 'write',
                bytesDone,
                bytesTotal: pd.bytes,
                current: t.input,
                itemsDone: ds.done.size + b,
                itemsTotal: pd.files.length,
                ...meter.sample(bytesDone, pd.bytes),
              });
            },
          },
        );
        doneBytes += batch.reduce((s, f) => s + f.size, 0);
      }
      st = journal.load();

      // The manifest: block hashes from staging, never from the copy.
      const mw = await ManifestWriter.create(path.join(dir, MANIFEST_NAME), { driveId, clientCreator: `driveseed ${driveseedVersion()}` });
      for (const pf of pd.files) {
        const f = byPath.get(pf.path)!;
        let off = 0;
        await mw.addBlob({
          blobPath: `${o.container}/${f.path}`,
          filePath: `\\${f.path.split('/').join('\\')}`,
          length: f.size,
          blocks: f.blocks.map((hash) => {
            const length = Math.min(4 * 1024 * 1024, f.size - off);
            const k = { offset: off, length, hash };
            off += length;
            return k;
          }),
        });
      }
      const m = await mw.finish();
      journal.append({ t: 'manifest', drive: i, manifestHash: m.manifestHash, bytes: m.bytes });

      let verified: boolean | null = null;
      if (o.verify || resumed) {
        reporter.info(`Reading back ${t.input} with direct I/O`);
        const v = await verifyDrive(dir, { reporter, signal: ctx.signal, expectManifestHash: m.manifestHash });
        problems.push(...v.problems);
        verified = v.ok;
        journal.append({ t: 'verified', drive: i, ok: v.ok, badBlocks: v.problems.length });
      }
      await platform.finish(v, enc, pctx);
      const sector = facts[i]!.logicalSectorSize;
      prepared.push({
        target: t.input,
        driveId,
        driveIdSource,
        ...(sector ? { logicalSectorSize: sector } : {}),
        manifestFile: DEFAULT_MANIFEST_FILE,
        manifestHash: m.manifestHash,
        files: pd.files.length,
        bytes: pd.bytes,
        verified,
      });
      if (key) keys.push({ driveId, key });
      l.volume = undefined;
      v.release();
    }

    // The keys are kept whatever happens next: the drives are encrypted with them.
    if (keys.length > 0) saveDriveKeys(o.staging, keys);
    // A drive whose read-back failed is not recorded for the job (drives.json, portal files): job
    // create must not send it.
    if (problems.length > 0) {
      throw new DriveseedError(
        'PREP_VERIFY_FAILED',
        `Read-back found ${problems.length} problem(s) on the prepared drives; first: ${problems[0]!.message}. Check the disk (smartctl) and rerun prep with --format`,
        {
          category: 'VERIFY_FAILED',
          details: { problems: problems.slice(0, 100).map((p) => p.message) },
        },
      );
    }
    const drivesFile = writePreparedDrives(o.staging, { encryption: enc.mode, drives: prepared });
    const settings = readSettings(o.staging);
    const portalFiles = writePortalFiles(
      path.join(journalDir(o.staging), 'portal'),
      settings?.job ?? 'driveseed',
      prepared.map((d) => {
        const key = keys.find((k) => k.driveId === d.driveId)?.key;
        return { serialNumber: d.driveId, manifestFile: d.manifestFile, manifestHash: d.manifestHash, ...(key ? { bitLockerKey: key } : {}) };
      }),
    );
    journal.append({ t: 'done', at: new Date().toISOString() });
    advanceSeed(o.staging, 'prepared');
    const result: PrepResult = {
      staging: o.staging,
      drives: prepared,
      bytes: plan.totalBytes,
      files: plan.fileCount,
      resumed,
      encryption: enc.mode,
      drivesFile,
      portalFiles,
      problems,
    };
    if (o.job) {
      try {
        result.job = await createJob({ ...o.job, staging: o.staging }, ctx);
      } catch (err) {
        if (!(err instanceof DriveseedError)) throw err;
        throw new DriveseedError(
          err.code,
          `The drives are prepared (${drivesFile}), but creating the import job failed: ${err.message}. Fix that and run driveseed job create --staging ${o.staging}`,
          {
            category: err.category,
            details: { ...(err.details ?? {}), drivesFile },
            cause: err,
          },
        );
      }
    }
    return result;
  } finally {
    journal.close();
    for (const l of live) {
      try {
        l.volume?.release();
      } finally {
        l.claim?.release();
      }
    }
  }
}

function hexes(buf: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 16 <= buf.length; i += 16) out.push(buf.toString('hex', i, i + 16).toUpperCase());
  return out;
}

/** What was written must be what staging recorded: a difference means the staging file changed or the read was bad. */
function checkWritten(f: StagedFile, bytes: number, blockMd5: Buffer): void {
  const got = hexes(blockMd5);
  const bad = f.blocks.findIndex((h, j) => got[j] !== h);
  if (bytes !== f.size || bad >= 0 || got.length !== f.blocks.length) {
    throw new DriveseedError(
      'PREP_SOURCE_MISMATCH',
      `${f.source} does not match what staging recorded (${bytes !== f.size ? `${bytes} bytes, expected ${f.size}` : `block ${bad} at offset ${bad * 4 * 1024 * 1024}: MD5 ${got[bad]}, expected ${f.blocks[bad]}`}); the staging data is damaged: run driveseed check --staging`,
      {
        category: 'VERIFY_FAILED',
        details: { file: f.path },
      },
    );
  }
}
