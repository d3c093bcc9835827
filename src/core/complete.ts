/**
 * `driveseed complete`: the last step of the seed (docs/workflow.md).
 *
 *   job Completed (or CompletedWithErrors, see below) → what the drives carried, from prep's journal →
 *   every expected blob listed in the container and read back with ranged reads, each 4 MiB
 *   block's MD5 compared with the manifest's → all good: seed.state = complete in the settings
 *   (backup then goes over the network); else VERIFY_FAILED naming every missing or damaged blob
 *   and block, saved for `driveseed repair`.
 *
 * Why prep's journal and not the manifests: the manifests are on the drives, which are in the
 * datacenter (or back in a drawer). The journal (`<staging>/.prep/journal.jsonl`) records, per
 * drive, every file written with its size and the MD5 of every 4 MiB block as written, which is
 * exactly what that drive's DriveManifest.xml lists (prep writes the manifest from the same
 * staging MD5s and checks the written bytes against them).
 *
 * A job that finished with errors (CompletedWithErrors, CompletedWithWarnings, or a failure after
 * some disks were copied) is accepted too: its failures are blobs that
 * are missing or damaged, which this verification names and `repair` re-uploads; after a repair,
 * complete verifies everything again and succeeds. Memory: CONCURRENCY block buffers of 4 MiB.
 *
 * Why one file: repair re-runs exactly this verification (expectedBlobs, verifyContainer, the
 * report), and keeping the expected-blob reader, the ranged verifier and the report next to the
 * command that defines what "verified" means keeps complete and repair from drifting apart.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { Journal, journalDir } from '../prep/journal';
import { BLOCK_SIZE } from '../prep/plan';
import { writeFileAtomic } from '../repo/atomic';
import type { CommandContext } from './command';
import { cancelledError, DriveseedError } from '../base/errors';
import type { Reporter } from '../base/reporter';
import { RateMeter } from '../base/reporter';
import { settingsPath, updateSettings } from './settings';
import { AWAITING_SHIPMENT, COPIED_STATUSES, COPY_DONE } from '../azure/job-status';
import { readJob, type JobView } from './job';
import { advanceSeed } from './staging-records';
import { accountOf, jobLocation, jobStorage, seedTarget, type SeedTarget } from './status';
import { withRetry } from '../cloud/retry';

/** Parallel ranged reads (and buffers of BLOCK_SIZE): 8 × 4 MiB = 32 MiB, as the cloud side's upload cap. */
export const CONCURRENCY = 8;
/** Where complete leaves its findings for repair. */
export const REPORT_FILE = 'complete-report.json';

export interface ExpectedBlob {
  /** `<container>/<name>` as in the manifest */
  blobPath: string;
  name: string;
  driveId: string;
  /** the repository file in the staging location it came from */
  file: string;
  size: number;
  /** uppercase hex MD5 of each 4 MiB block */
  blocks: string[];
}

export interface BlobProblem {
  kind: 'missing' | 'length' | 'block';
  blobPath: string;
  driveId: string;
  /** the staging file that holds the original bytes */
  file: string;
  expectedLength: number;
  actualLength?: number;
  /** for kind 'block' */
  block?: { index: number; offset: number; length: number; expected: string; actual: string };
  message: string;
}

export interface VerifyTotals {
  blobs: number;
  blocks: number;
  bytes: number;
  problems: BlobProblem[];
  seconds: number;
}

/**
 * The blobs the drives of the last finished prep carried, from its journal. Throws PREP_NOT_FOUND
 * when the staging location has no finished prep (the drives were prepared elsewhere).
 */
export function expectedBlobs(staging: string, container: string): ExpectedBlob[] {
  const journal = Journal.open(staging);
  let st;
  try {
    st = journal.load();
  } finally {
    journal.close();
  }
  if (!st.plan || !st.done) {
    throw new DriveseedError(
      'PREP_NOT_FOUND',
      `${journal.file} records no finished prep: complete compares the blobs with what prep wrote on the drives, so it runs in the staging location the drives were prepared from${st.plan ? ' (the prep there did not finish: rerun it)' : ''}`,
      {
        category: 'USAGE',
        details: { journal: journal.file },
      },
    );
  }
  const out: ExpectedBlob[] = [];
  st.drives.forEach((d, i) => {
    for (const f of st.plan!.drives[i]!.files) {
      const done = d.done.get(f.path);
      if (!done) {
        throw new DriveseedError(
          'PREP_JOURNAL_INCOMPLETE',
          `${journal.file} has no record of ${f.path} written to drive ${d.driveId ?? i}, though prep finished; the journal was edited. Rerun prep`,
          { category: 'FAILED', details: { file: f.path } },
        );
      }
      out.push({
        blobPath: `${container}/${f.path}`,
        name: f.path,
        driveId: d.driveId ?? `drive ${i}`,
        file: path.join(staging, ...f.path.split('/')),
        size: done.size,
        blocks: done.blocks,
      });
    }
  });
  return out;
}

/** Offset and length of block `i` of a blob of `size` bytes. */
export function blockRange(size: number, i: number): { offset: number; length: number } {
  const offset = i * BLOCK_SIZE;
  return { offset, length: Math.min(BLOCK_SIZE, size - offset) };
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof DriveseedError ? signal.reason : cancelledError();
}

/** The committed blobs of the container: name → length. */
async function listContainer(c: ContainerClient, signal: AbortSignal): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    if (!(await c.exists({ abortSignal: signal }))) return out;
    for await (const b of c.listBlobsFlat({ abortSignal: signal })) out.set(b.name, b.properties.contentLength ?? 0);
  } catch (err) {
    if (signal.aborted) throw abortError(signal);
    throw storageError(err, `listing container ${c.containerName}`);
  }
  return out;
}

export function storageError(err: unknown, action: string): DriveseedError {
  if (err instanceof DriveseedError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  const auth = e.statusCode === 401 || e.statusCode === 403;
  return new DriveseedError(
    auth ? 'CLOUD_AUTH' : 'CLOUD_IO',
    `${action}: ${e.code ?? ''}${e.statusCode ? ` (HTTP ${e.statusCode})` : ''} ${e.message ?? String(err)}${auth ? '; check the storage credentials (docs/cloud.md)' : '; nothing was recorded as verified: run the command again when the storage account is reachable'}`
      .replace(/\s+/g, ' ')
      .trim(),
    {
      category: 'AZURE',
      cause: err,
      details: { ...(e.statusCode ? { statusCode: e.statusCode } : {}), ...(e.code ? { storageCode: e.code } : {}) },
    },
  );
}

/**
 * Verifies `blobs` in container `c`: presence and length from one listing, then every block read
 * with a ranged read (CONCURRENCY at a time, each into its own 4 MiB buffer) and MD5-compared.
 * Reports EVERY problem, not the first.
 */
export async function verifyContainer(
  c: ContainerClient,
  blobs: ExpectedBlob[],
  opts: { signal: AbortSignal; reporter: Reporter; phase?: string },
): Promise<VerifyTotals> {
  const t0 = Date.now();
  const listing = await listContainer(c, opts.signal);
  const problems: BlobProblem[] = [];
  const present: ExpectedBlob[] = [];
  for (const b of blobs) {
    const len = listing.get(b.name);
    if (len === undefined) {
      problems.push({
        kind: 'missing',
        blobPath: b.blobPath,
        driveId: b.driveId,
        file: b.file,
        expectedLength: b.size,
        message: `${b.blobPath} (from drive ${b.driveId}) is missing from the storage account`,
      });
    } else if (len !== b.size) {
      problems.push({
        kind: 'length',
        blobPath: b.blobPath,
        driveId: b.driveId,
        file: b.file,
        expectedLength: b.size,
        actualLength: len,
        message: `${b.blobPath} (from drive ${b.driveId}) is ${len} bytes; the manifest says ${b.size}`,
      });
    } else present.push(b);
  }
  const total = present.reduce((a, b) => a + b.size, 0);
  const meter = new RateMeter();
  let done = 0;
  let blocks = 0;
  // One shared cursor over (blob, block); workers take the next block as they finish one.
  let bi = 0;
  let ki = 0;
  const next = (): { b: ExpectedBlob; i: number } | undefined => {
    while (bi < present.length && ki >= present[bi]!.blocks.length) {
      bi++;
      ki = 0;
    }
    if (bi >= present.length) return undefined;
    return { b: present[bi]!, i: ki++ };
  };
  const worker = async () => {
    const buf = Buffer.allocUnsafe(BLOCK_SIZE);
    for (let w = next(); w; w = next()) {
      if (opts.signal.aborted) throw abortError(opts.signal);
      const { offset, length } = blockRange(w.b.size, w.i);
      try {
        // withRetry: the SDK's retries cover a refused request, not a connection lost mid-body.
        await withRetry((s) => c.getBlobClient(w.b.name).downloadToBuffer(buf, offset, length, { abortSignal: s, maxRetryRequestsPerBlock: 3 }), opts.signal);
      } catch (err) {
        if (opts.signal.aborted) throw abortError(opts.signal);
        throw storageError(err, `reading ${w.b.blobPath} at offset ${offset}`);
      }
      const actual = createHash('md5').update(buf.subarray(0, length)).digest('hex').toUpperCase();
      const expected = w.b.blocks[w.i]!.toUpperCase();
      if (actual !== expected) {
        problems.push({
          kind: 'block',
          blobPath: w.b.blobPath,
          driveId: w.b.driveId,
          file: w.b.file,
          expectedLength: w.b.size,
          block: { index: w.i, offset, length, expected, actual },
          message: `${w.b.blobPath}: block at offset ${offset} (${length} bytes) has MD5 ${actual}, expected ${expected}`,
        });
      }
      blocks++;
      done += length;
      const { rate, etaSeconds } = meter.sample(done, total);
      opts.reporter.progress({
        phase: opts.phase ?? 'verify',
        bytesDone: done,
        bytesTotal: total,
        rate,
        ...(etaSeconds !== undefined ? { etaSeconds } : {}),
        current: w.b.blobPath,
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  problems.sort((a, b) => (a.blobPath < b.blobPath ? -1 : a.blobPath > b.blobPath ? 1 : (a.block?.offset ?? -1) - (b.block?.offset ?? -1)));
  return { blobs: blobs.length, blocks, bytes: done, problems, seconds: (Date.now() - t0) / 1000 };
}

export interface CompleteOptions {
  staging: string;
}

export interface CompleteResult {
  staging: string;
  job: string;
  jobState: string;
  account: string;
  container: string;
  ok: boolean;
  blobs: number;
  blocks: number;
  bytes: number;
  seconds: number;
  /** every missing or damaged blob and block (also saved in .prep/complete-report.json) */
  problems: BlobProblem[];
  /** when ok: the time recorded in the settings */
  completedAt?: string;
  /** when ok: what of the staging location may be deleted now */
  deletable?: string[];
  next: string;
}

export interface CompleteReport {
  version: 1;
  at: string;
  job: string;
  account: string;
  container: string;
  problems: BlobProblem[];
}

export function reportPath(staging: string): string {
  return path.join(journalDir(staging), REPORT_FILE);
}

/** The report the last complete (or repair) left, when it is for this job and container. */
export function readReport(staging: string, job: string, container: string): CompleteReport | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(reportPath(staging), 'utf8')) as CompleteReport;
    if (r.version === 1 && r.job === job && r.container === container && Array.isArray(r.problems)) return r;
  } catch {
    // no report, or an unreadable one: the caller verifies again
  }
  return undefined;
}

export function writeReport(staging: string, r: Omit<CompleteReport, 'version' | 'at'>): void {
  fs.mkdirSync(journalDir(staging), { recursive: true, mode: 0o700 });
  writeFileAtomic(reportPath(staging), JSON.stringify({ version: 1, at: new Date().toISOString(), ...r }, null, 1) + '\n');
}

/**
 * Job statuses in which the service has finished copying the disks (COPIED_STATUSES, or a final
 * failure after which some disks may still have been copied: complete then names what is missing).
 */
export function requireImportFinished(t: SeedTarget, job: JobView, command: string): void {
  if (COPIED_STATUSES.has(job.status) || (job.status.startsWith('Failed_') && job.disks.some((d) => COPY_DONE.has(d.copyStatus)))) return;
  const s = JSON.stringify(t.staging);
  const what = AWAITING_SHIPMENT.has(job.status)
    ? `ship the drives first (driveseed ship --staging ${s} --carrier <name> --tracking <number>), then follow the import with driveseed status --staging ${s} --watch`
    : job.status === 'Cancelled' || job.status === 'Aborted'
      ? 'the job was cancelled; nothing was imported'
      : job.status.startsWith('Failed_')
        ? `the job failed before any disk was copied; driveseed status --staging ${s} says why`
        : `the service is still working on it; follow it with driveseed status --staging ${s} --watch and run ${command} when it is Completed`;
  throw new DriveseedError('JOB_NOT_COMPLETED', `Import job ${t.job} is ${job.status}, not Completed: ${what}`, {
    category: 'USAGE',
    details: { job: t.job, state: job.status },
  });
}

export function containerOf(t: SeedTarget): string {
  const c = t.settings.container;
  if (!c) {
    throw new DriveseedError(
      'CLOUD_CONFIG',
      `The settings in ${settingsPath(t.staging)} name no container; run \`driveseed stage --staging ${t.staging} --job ${t.job} --container <name>\``,
      { category: 'USAGE', details: { field: 'container' } },
    );
  }
  return c;
}

/** The repository paths in the staging location that the container now holds. */
const DELETABLE = ['config', 'data/', 'index/', 'snapshots/'];

export async function complete(o: CompleteOptions, ctx: CommandContext): Promise<CompleteResult> {
  const { reporter, signal } = ctx;
  const t = seedTarget(o.staging);
  const job = await readJob(jobLocation(t));
  requireImportFinished(t, job, 'driveseed complete');
  const account = accountOf(t, job);
  const container = containerOf(t);
  const expected = expectedBlobs(o.staging, container);
  const jobDrives = new Set(job.disks.map((d) => d.serialNumber));
  const strays = [...new Set(expected.map((b) => b.driveId))].filter((id) => !jobDrives.has(id));
  if (strays.length > 0) {
    throw new DriveseedError(
      'JOB_DRIVES_MISMATCH',
      `The last prep in ${o.staging} wrote drive(s) ${strays.join(', ')}, which import job ${t.job} does not list (it lists ${[...jobDrives].join(', ')}); the job was created from another prep. Run complete in the staging location the job's drives came from`,
      {
        category: 'USAGE',
        details: { strays, jobDrives: [...jobDrives] },
      },
    );
  }
  const storage = await jobStorage(t, account);
  reporter.info(
    `Verifying ${expected.length} blobs (${expected.reduce((a, b) => a + b.size, 0)} bytes) in ${storage.blobEndpoint}/${container} against the manifests of ${strays.length + jobDrives.size} drive(s)`,
  );
  const v = await verifyContainer(storage.container(container), expected, { signal, reporter });
  for (const p of v.problems.slice(0, 1000)) reporter.event('blob.problem', { ...p });
  writeReport(o.staging, { job: t.job, account, container, problems: v.problems });
  const base = {
    staging: o.staging,
    job: t.job,
    jobState: job.status,
    account,
    container,
    blobs: v.blobs,
    blocks: v.blocks,
    bytes: v.bytes,
    seconds: v.seconds,
    problems: v.problems,
  };
  const s = JSON.stringify(o.staging);
  if (v.problems.length > 0) {
    return {
      ...base,
      ok: false,
      next: `re-upload the missing and damaged blobs from staging with driveseed repair --staging ${s}, then run driveseed complete --staging ${s} again`,
    };
  }
  if (job.status !== 'Completed')
    reporter.warning('JOB_CLOSED', `Import job ${t.job} is ${job.status} (the service reported errors), but every blob is now in place and verified`, {
      job: t.job,
    });
  const completedAt = new Date().toISOString();
  advanceSeed(o.staging, 'complete', {
    completed: completedAt,
    completedAt,
    jobName: t.job,
    account,
    container,
    ...(t.emulator ? { emulator: t.emulator } : {}),
  });
  // the cloud side (docs/cloud.md) reads the endpoint from here; Azure's public one is the default
  if (t.emulator) updateSettings(o.staging, { blobEndpoint: storage.blobEndpoint });
  reporter.event('seed.complete', { job: t.job, account, container, completedAt });
  return {
    ...base,
    ok: true,
    completedAt,
    deletable: DELETABLE.map((p) => path.join(o.staging, p)),
    next: `the seed is in place: later backups go over the network (driveseed backup <source>... --staging ${s}); the repository data in the staging location (${DELETABLE.join(', ')}) may now be deleted — keep settings.json`,
  };
}
