/**
 * `driveseed repair`: what WAImportExport's RepairImport does (MicrosoftDocs/azure-docs,
 * articles/storage/common/storage-import-export-tool-repairing-an-import-job-v1.md), from the
 * staging location: re-uploads exactly the blobs and blocks that `complete` found missing or
 * damaged, over the network.
 *
 *   problems: the report the last `complete` saved (`.prep/complete-report.json`), else a fresh
 *   verification of the container →
 *   per blob (REPAIR_CONCURRENCY at a time, one 4 MiB buffer each), reading the staging file
 *   block by block and checking each block's MD5 against prep's record:
 *     - damaged blocks of a committed blob whose block layout matches the manifest: Put Block of
 *       those blocks only (Content-MD5, same block ids), then Put Block List of the committed ids
 *       ("Latest" picks the new blocks) with the whole blob's Content-MD5;
 *     - a missing blob, a blob of the wrong length or another block layout: Put Block of every
 *       block, then Put Block List →
 *   the repaired blobs verified again with ranged reads → report updated.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { ContainerClient } from '@azure/storage-blob';
import { BLOCK_SIZE } from '../prep/plan';
import type { CommandContext } from './command';
import {
  blockRange,
  containerOf,
  expectedBlobs,
  readReport,
  requireImportFinished,
  storageError,
  verifyContainer,
  writeReport,
  type BlobProblem,
  type ExpectedBlob,
} from './complete';
import { cancelledError, DriveseedError } from '../base/errors';
import { RateMeter } from '../base/reporter';
import { readJob } from './job';
import { accountOf, jobLocation, jobStorage, seedTarget } from './status';

/** Blobs repaired at once; memory is one BLOCK_SIZE buffer each. */
const REPAIR_CONCURRENCY = 4;

export interface RepairOptions {
  staging: string;
  /** verify the whole container first instead of using complete's report */
  full: boolean;
}

export interface RepairedBlob {
  blobPath: string;
  /** 'blocks': only damaged blocks sent; 'blob': the whole blob sent */
  mode: 'blocks' | 'blob';
  blocksSent: number;
  bytesSent: number;
}

export interface RepairResult {
  staging: string;
  job: string;
  container: string;
  /** where the list of problems came from */
  source: 'report' | 'verification';
  repaired: RepairedBlob[];
  bytesSent: number;
  seconds: number;
  /** problems left after the re-verification of the repaired blobs (empty when all is well) */
  problems: BlobProblem[];
  ok: boolean;
  next: string;
}

/** Block ids for blobs repair uploads whole: equal length (a Put Block rule), index-ordered, like the emulator's. */
export function repairBlockId(i: number): string {
  return Buffer.from(`driveseed-${String(i).padStart(6, '0')}`).toString('base64');
}

async function readBlock(fh: fs.promises.FileHandle, buf: Buffer, offset: number, length: number): Promise<number> {
  let n = 0;
  while (n < length) {
    const r = await fh.read(buf, n, length - n, offset + n);
    if (r.bytesRead === 0) break;
    n += r.bytesRead;
  }
  return n;
}

/** Repairs one blob from its staging file. Throws REPAIR_SOURCE_MISMATCH when staging no longer holds the bytes prep wrote. */
async function repairBlob(
  c: ContainerClient,
  b: ExpectedBlob,
  badBlocks: Set<number> | 'all',
  buf: Buffer,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<RepairedBlob> {
  const bb = c.getBlockBlobClient(b.name);
  let ids: string[] | undefined;
  if (badBlocks !== 'all') {
    // Reuse the committed blocks only when they line up with the manifest's 4 MiB blocks.
    try {
      const list = await bb.getBlockList('committed', { abortSignal: signal });
      const committed = list.committedBlocks ?? [];
      if (committed.length === b.blocks.length && committed.every((k, i) => k.size === blockRange(b.size, i).length)) ids = committed.map((k) => k.name);
    } catch (err) {
      if (signal.aborted) throw cancelledError();
      if ((err as { statusCode?: number }).statusCode !== 404) throw storageError(err, `reading the block list of ${b.blobPath}`);
    }
  }
  const whole = ids === undefined || badBlocks === 'all';
  const blockIds = whole ? b.blocks.map((_, i) => repairBlockId(i)) : ids!;
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(b.file, 'r');
  } catch (err) {
    throw new DriveseedError(
      'REPAIR_SOURCE_MISSING',
      `${b.file}, the staging copy of ${b.blobPath}, cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); repair needs the staging data the drives were prepared from`,
      {
        category: 'FAILED',
        details: { file: b.file, blob: b.blobPath },
      },
    );
  }
  const md5 = createHash('md5');
  let blocksSent = 0;
  let bytesSent = 0;
  try {
    const st = await fh.stat();
    if (st.size !== b.size) {
      throw new DriveseedError(
        'REPAIR_SOURCE_MISMATCH',
        `${b.file} is ${st.size} bytes but prep wrote ${b.size} for ${b.blobPath}; the staging data changed after prep, so it cannot repair this blob (run driveseed check --staging)`,
        {
          category: 'VERIFY_FAILED',
          details: { file: b.file, blob: b.blobPath },
        },
      );
    }
    for (let i = 0; i < b.blocks.length; i++) {
      if (signal.aborted) throw cancelledError();
      const { offset, length } = blockRange(b.size, i);
      const n = await readBlock(fh, buf, offset, length);
      const data = buf.subarray(0, n);
      const blockMd5 = createHash('md5').update(data).digest();
      if (n !== length || blockMd5.toString('hex').toUpperCase() !== b.blocks[i]!.toUpperCase()) {
        throw new DriveseedError(
          'REPAIR_SOURCE_MISMATCH',
          `${b.file} block at offset ${offset} has MD5 ${blockMd5.toString('hex').toUpperCase()} but prep wrote ${b.blocks[i]} for ${b.blobPath}; the staging data changed after prep, so it cannot repair this blob (run driveseed check --staging)`,
          {
            category: 'VERIFY_FAILED',
            details: { file: b.file, blob: b.blobPath, offset },
          },
        );
      }
      md5.update(data);
      if (whole || (badBlocks as Set<number>).has(i)) {
        try {
          await bb.stageBlock(blockIds[i]!, data, length, { transactionalContentMD5: blockMd5, abortSignal: signal });
        } catch (err) {
          if (signal.aborted) throw cancelledError();
          throw storageError(err, `uploading block at offset ${offset} of ${b.blobPath}`);
        }
        blocksSent++;
        bytesSent += length;
        onBytes(length);
      }
    }
  } finally {
    await fh.close();
  }
  try {
    await bb.commitBlockList(blockIds, { blobHTTPHeaders: { blobContentMD5: md5.digest() }, abortSignal: signal });
  } catch (err) {
    if (signal.aborted) throw cancelledError();
    throw storageError(err, `committing the block list of ${b.blobPath}`);
  }
  return { blobPath: b.blobPath, mode: whole ? 'blob' : 'blocks', blocksSent, bytesSent };
}

export async function repair(o: RepairOptions, ctx: CommandContext): Promise<RepairResult> {
  const { reporter, signal } = ctx;
  const t0 = Date.now();
  const t = seedTarget(o.staging);
  const job = await readJob(jobLocation(t));
  requireImportFinished(t, job, 'driveseed repair');
  const account = accountOf(t, job);
  const container = containerOf(t);
  const expected = expectedBlobs(o.staging, container);
  const storage = await jobStorage(t, account);
  const cc = storage.container(container);

  let problems: BlobProblem[];
  let source: RepairResult['source'];
  const report = o.full ? undefined : readReport(o.staging, t.job, container);
  if (report) {
    problems = report.problems;
    source = 'report';
    reporter.info(`Repairing the ${problems.length} problem(s) driveseed complete found at ${report.at}`);
  } else {
    reporter.info(`Verifying ${expected.length} blobs in ${storage.blobEndpoint}/${container} to find what to repair`);
    problems = (await verifyContainer(cc, expected, { signal, reporter })).problems;
    source = 'verification';
  }
  // Container creation is idempotent; a container lost entirely is a set of missing blobs.
  if (problems.some((p) => p.kind === 'missing')) {
    try {
      await cc.createIfNotExists({ abortSignal: signal });
    } catch (err) {
      throw storageError(err, `creating container ${container}`);
    }
  }

  const byPath = new Map(expected.map((b) => [b.blobPath, b]));
  const work = new Map<string, { blob: ExpectedBlob; bad: Set<number> | 'all' }>();
  for (const p of problems) {
    const blob = byPath.get(p.blobPath);
    if (!blob) {
      throw new DriveseedError(
        'REPAIR_UNKNOWN_BLOB',
        `The report names ${p.blobPath}, which the last prep did not write; rerun driveseed complete --staging ${JSON.stringify(o.staging)} to verify again`,
        { category: 'USAGE', details: { blob: p.blobPath } },
      );
    }
    const w = work.get(p.blobPath) ?? { blob, bad: new Set<number>() };
    if (p.kind === 'block' && w.bad !== 'all') w.bad.add(p.block!.index);
    else w.bad = 'all';
    work.set(p.blobPath, w);
  }

  const items = [...work.values()];
  const total = items.reduce((a, w) => a + (w.bad === 'all' ? w.blob.size : [...w.bad].reduce((s, i) => s + blockRange(w.blob.size, i).length, 0)), 0);
  const meter = new RateMeter();
  let sent = 0;
  const repaired: RepairedBlob[] = [];
  let next = 0;
  const worker = async () => {
    const buf = Buffer.allocUnsafe(BLOCK_SIZE);
    while (next < items.length) {
      const w = items[next++]!;
      const r = await repairBlob(cc, w.blob, w.bad, buf, signal, (n) => {
        sent += n;
        const { rate, etaSeconds } = meter.sample(sent, total);
        reporter.progress({
          phase: 'upload',
          bytesDone: sent,
          bytesTotal: total,
          rate,
          ...(etaSeconds !== undefined ? { etaSeconds } : {}),
          current: w.blob.blobPath,
        });
      });
      repaired.push(r);
      reporter.event('blob.repaired', { ...r });
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPAIR_CONCURRENCY, Math.max(1, items.length)) }, worker));
  repaired.sort((a, b) => (a.blobPath < b.blobPath ? -1 : 1));

  const again =
    items.length > 0
      ? (
          await verifyContainer(
            cc,
            items.map((w) => w.blob),
            { signal, reporter, phase: 'reverify' },
          )
        ).problems
      : [];
  writeReport(o.staging, { job: t.job, account, container, problems: again });
  const s = JSON.stringify(o.staging);
  return {
    staging: o.staging,
    job: t.job,
    container,
    source,
    repaired,
    bytesSent: repaired.reduce((a, r) => a + r.bytesSent, 0),
    seconds: (Date.now() - t0) / 1000,
    problems: again,
    ok: again.length === 0,
    next:
      again.length === 0
        ? `verify everything and record the seed: driveseed complete --staging ${s}`
        : `the repaired blobs still differ (listed); check the network and the storage account, then rerun driveseed repair --staging ${s}`,
  };
}
