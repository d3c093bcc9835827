/**
 * `driveseed ship` (docs/prep.md "Ship"): after the drives are packed and handed to the carrier,
 * record carrier and tracking number with the import job (Jobs_MarkDevicesShipped) and keep a local
 * shipping record.
 *
 *   find the job (staging settings, or the one waiting in $DRIVESEED_HOME/jobs.json) → read it from
 *   the service → carrier / tracking / ship date (asked when missing) → rules (supported carrier,
 *   tracking number not used by another job known here, warning after 14 days) → review → confirm
 *   (typed "yes" or --yes) → markDevicesShipped → `<staging>/.prep/shipping.json` +
 *   `$DRIVESEED_HOME/shipments.json`, seed state `shipped`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import { armError } from '../azure/arm';
import { AWAITING_SHIPMENT, SHIPPABLE_STATUSES } from '../azure/job-status';
import { journalDir } from '../prep/journal';
import { writeFileAtomic } from '../repo/atomic';
import { askOrFail, type CommandContext } from './command';
import { DriveseedError, usageError } from '../base/errors';
import { clientFor, datacenterOf, readJob } from './job';
import { driveseedHome, knownJobs } from './known-jobs';
import { advanceSeed, saveJobReference, savedJob, savedJobIfAny, type JobReference } from './staging-records';

/** The documented window: give carrier and tracking number within two weeks of creating the job. */
export const SHIP_WARN_DAYS = 14;

export interface ShipOptions {
  /** absent: the job waiting to be shipped among those created on this computer */
  staging?: string;
  carrier?: string;
  tracking?: string;
  /** YYYY-MM-DD; default today (local date) */
  shipDate?: string;
  /** confirmed already (--yes, or the RPC param yes) */
  yes: boolean;
  /** subscription from a .publishsettings file (legacy p:); must match the job's */
  subscription?: string;
  /** tests: the ARM client; and the clock */
  client?: DataBoxManagementClient;
  now?: () => Date;
}

/** `<staging>/.prep/shipping.json` */
export interface ShippingRecord {
  version: 1;
  job: string;
  subscription: string;
  resourceGroup: string;
  carrier: string;
  tracking: string;
  shipDate: string;
  driveCount: number;
  driveIds: string[];
  /** when driveseed recorded the shipment */
  recordedAt: string;
}

export interface ShipResult {
  staging: string;
  job: JobReference;
  carrier: string;
  tracking: string;
  shipDate: string;
  driveCount: number;
  /** the local shipping record */
  recordFile: string;
  /** days since the job was created; more than SHIP_WARN_DAYS gives warning SHIP_LATE */
  daysSinceCreated: number;
}

/** The shipping record file of a staging location. */
export function shippingRecordPath(staging: string): string {
  return path.join(journalDir(staging), 'shipping.json');
}

/** The staging location's shipping record, or undefined before `ship`. */
export function readShippingRecord(staging: string): ShippingRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(shippingRecordPath(staging), 'utf8')) as ShippingRecord;
  } catch {
    return undefined;
  }
}

interface Shipment {
  job: string;
  subscription: string;
  resourceGroup: string;
  tracking: string;
  carrier: string;
  staging: string;
  recordedAt: string;
}

function readShipments(env: Record<string, string | undefined>): Shipment[] {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(driveseedHome(env), 'shipments.json'), 'utf8')) as { shipments?: Shipment[] };
    return Array.isArray(doc.shipments) ? doc.shipments : [];
  } catch {
    return [];
  }
}

const sameJob = (a: { job: string; subscription: string; resourceGroup: string }, b: JobReference) =>
  a.job === b.name && a.subscription === b.subscription && a.resourceGroup.toLowerCase() === b.resourceGroup.toLowerCase();
const normTracking = (t: string) => t.replace(/[\s-]/g, '').toUpperCase();

/** Tracking numbers: what carriers print (letters, digits, spaces and hyphens), 6–40 characters. */
export function validateTracking(v: string): string {
  const t = v.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9 -]{4,38}[A-Za-z0-9]$/.test(t)) {
    throw usageError('INVALID_OPTION', `Invalid --tracking "${v}": a tracking number has 6 to 40 letters, digits, spaces or hyphens`, {
      field: 'tracking',
      value: v,
    });
  }
  return t;
}

/** Ship date: YYYY-MM-DD, a real date. */
export function validateShipDate(v: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw usageError('INVALID_OPTION', `Invalid --ship-date "${v}": give the date the package was handed to the carrier as YYYY-MM-DD`, {
      field: 'shipDate',
      value: v,
    });
  }
  return v.trim();
}

function localDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Finds the staging location whose job waits for shipping details (the old `u:` behaviour). */
async function findWaitingStaging(ctx: CommandContext): Promise<string> {
  const waiting = knownJobs(ctx.env).filter((j) => {
    try {
      const ref = savedJobIfAny(j.staging);
      return ref?.name === j.name && AWAITING_SHIPMENT.has(ref.state) && !readShippingRecord(j.staging);
    } catch {
      return false;
    }
  });
  if (waiting.length === 1) {
    ctx.reporter.info(`Import job ${waiting[0]!.name} (staging ${waiting[0]!.staging}) is waiting for shipping details`);
    return waiting[0]!.staging;
  }
  if (waiting.length === 0) {
    throw usageError(
      'JOB_NOT_FOUND',
      `No import job created on this computer is waiting for shipping details (${path.join(driveseedHome(ctx.env), 'jobs.json')}); give --staging <dir> of the job`,
      { field: 'staging' },
    );
  }
  const list = waiting.map((j, i) => `${i + 1}) ${j.name}  ${j.staging}  created ${j.createdAt}`).join('\n');
  const answer = await askOrFail(ctx, {
    question: `Several import jobs wait for shipping details:\n${list}\nNumber of the job to ship:`,
    flag: '--staging',
    field: 'staging',
  });
  const n = Number(answer);
  if (!Number.isInteger(n) || n < 1 || n > waiting.length)
    throw usageError('INVALID_OPTION', `"${answer}" is not one of 1-${waiting.length}; run again and type a number, or give --staging`, { field: 'staging' });
  return waiting[n - 1]!.staging;
}

/**
 * Records the shipment of the staging location's drives with the import job.
 *
 * Errors (USAGE unless said): JOB_NOT_FOUND / JOB_NOT_CREATED (no job), PROMPT_REQUIRED (a missing
 * --carrier / --tracking / --yes without a terminal), INVALID_OPTION,
 * SHIP_TRACKING_REUSED (the number is another job's), SHIP_INVALID_STATE (the disks are already at
 * the datacenter, or the job is cancelled; AZURE), SHIP_SUBSCRIPTION_MISMATCH, SHIP_NOT_CONFIRMED (CANCELLED: the review was not answered "yes"),
 * AZURE_REQUEST_FAILED / AZURE_UNREACHABLE. Warning SHIP_LATE after SHIP_WARN_DAYS days.
 */
export async function ship(o: ShipOptions, ctx: CommandContext): Promise<ShipResult> {
  const { reporter } = ctx;
  const now = o.now ?? (() => new Date());
  const staging = o.staging ?? (await findWaitingStaging(ctx));
  const ref = savedJob(staging);
  if (o.subscription && o.subscription !== ref.subscription) {
    throw usageError(
      'SHIP_SUBSCRIPTION_MISMATCH',
      `The publish settings name subscription ${o.subscription}, but import job ${ref.name} is in ${ref.subscription}; give the publish settings of that subscription`,
      { field: 'publishSettings' },
    );
  }
  const client = o.client ?? clientFor(ref);
  const view = await readJob(ref, client);
  const state = view.status;
  if (!SHIPPABLE_STATUSES.has(state)) {
    throw new DriveseedError(
      'SHIP_INVALID_STATE',
      `Import job ${ref.name} is ${state}: shipping details can be given only before the disks reach the datacenter (${[...SHIPPABLE_STATUSES].join(', ')})`,
      { category: 'AZURE', details: { job: ref.name, state } },
    );
  }
  const driveIds = view.disks.map((d) => d.serialNumber);
  const driveCount = driveIds.length;
  const carriers = (view.shipTo?.supportedCarriers.length ? view.shipTo : await datacenterOf(client, ref.location, ctx)).supportedCarriers;

  // The service takes any carrier to the datacenter (its carrier list is for the way back, checked
  // by job create); a name from that list is spelled as the service spells it.
  let carrier = (
    o.carrier ?? (await askOrFail(ctx, { question: `Carrier${carriers.length ? ` (e.g. ${carriers.join(', ')})` : ''}:`, flag: '--carrier', field: 'carrier' }))
  ).trim();
  if (carrier === '' || carrier.length > 64)
    throw usageError('INVALID_OPTION', `Invalid --carrier "${carrier}": give the carrier's name (1 to 64 characters)`, { field: 'carrier' });
  carrier = carriers.find((c) => c.toLowerCase() === carrier.toLowerCase()) ?? carrier;
  const tracking = validateTracking(o.tracking ?? (await askOrFail(ctx, { question: 'Tracking number:', flag: '--tracking', field: 'tracking' })));
  const shipDate = validateShipDate(o.shipDate ?? localDate(now()));

  // The service wants one tracking number per job: refuse one known here for another job.
  const used = readShipments(ctx.env).find((s) => normTracking(s.tracking) === normTracking(tracking) && !sameJob(s, ref));
  const own = readShippingRecord(staging);
  const ownOther = own && normTracking(own.tracking) === normTracking(tracking) && !sameJob(own, ref) ? own : undefined;
  if (used || ownOther) {
    const other = used ? `${used.job} (staging ${used.staging}, recorded ${used.recordedAt})` : `${ownOther!.job} (${shippingRecordPath(staging)})`;
    throw usageError(
      'SHIP_TRACKING_REUSED',
      `Tracking number ${tracking} was already given for import job ${other}; no two import jobs may share a tracking number: ship each job's drives in their own package`,
      { field: 'tracking', job: used?.job ?? ownOther!.job },
    );
  }

  const created = Date.parse(ref.createdAt);
  const days = Number.isNaN(created) ? 0 : Math.floor((now().getTime() - created) / 86_400_000);
  if (days > SHIP_WARN_DAYS) {
    reporter.warning(
      'SHIP_LATE',
      `Import job ${ref.name} was created ${days} days ago (${ref.createdAt}); Azure expects shipping details within ${SHIP_WARN_DAYS} days and may delete the job or not process the drives: check it in the portal`,
      { job: ref.name, days },
    );
  }

  reporter.event('review', { job: ref.name, resourceGroup: ref.resourceGroup, state, driveIds, carrier, tracking, shipDate, driveCount });
  if (!o.yes) {
    const answer = await askOrFail(ctx, {
      question: `Ship import job ${ref.name}: ${driveCount} drive(s) ${driveIds.join(', ')} with ${carrier}, tracking ${tracking}, shipped ${shipDate}. Type yes to update the job:`,
      flag: '--yes',
      field: 'yes',
    });
    if (answer.toLowerCase() !== 'yes') {
      throw new DriveseedError('SHIP_NOT_CONFIRMED', `The shipping details were not confirmed (typed "${answer}"); the job was not changed`, {
        category: 'CANCELLED',
        details: { job: ref.name },
      });
    }
  }

  try {
    await client.jobs.markDevicesShipped(ref.name, ref.resourceGroup, { deliverToDcPackageDetails: { carrierName: carrier, trackingId: tracking } });
  } catch (err) {
    throw armError(err, `updating import job ${ref.name} with the shipping details`);
  }

  const recordedAt = now().toISOString();
  const record: ShippingRecord = {
    version: 1,
    job: ref.name,
    subscription: ref.subscription,
    resourceGroup: ref.resourceGroup,
    carrier,
    tracking,
    shipDate,
    driveCount,
    driveIds,
    recordedAt,
  };
  const recordFile = shippingRecordPath(staging);
  fs.mkdirSync(path.dirname(recordFile), { recursive: true });
  writeFileAtomic(recordFile, JSON.stringify(record, null, 2) + '\n');
  const home = driveseedHome(ctx.env);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const shipments = readShipments(ctx.env).filter((s) => !sameJob(s, ref));
  shipments.push({
    job: ref.name,
    subscription: ref.subscription,
    resourceGroup: ref.resourceGroup,
    tracking,
    carrier,
    staging: path.resolve(staging),
    recordedAt,
  });
  writeFileAtomic(path.join(home, 'shipments.json'), JSON.stringify({ version: 1, shipments }, null, 2) + '\n');

  const next: JobReference = { ...ref, state: (await readJob(ref, client)).status };
  saveJobReference(staging, next);
  advanceSeed(staging, 'shipped', { shipping: { carrier, tracking, shipDate, recordFile } });
  reporter.info(`Shipping details saved with import job ${ref.name}; local record: ${recordFile}`);
  return { staging: path.resolve(staging), job: next, carrier, tracking, shipDate, driveCount, recordFile, daysSinceCreated: days };
}
