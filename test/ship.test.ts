/** ship rules against the emulator: confirmation, duplicate tracking, the 14-day warning, markDevicesShipped and the record. */
import * as fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DataBoxCustomerDiskJobDetails } from '@azure/arm-databox';
import { createDataBoxClient } from '../src/azure/arm';
import type { CommandContext } from '../src/core/command';
import { DriveseedError } from '../src/base/errors';
import { createJob } from '../src/core/job';
import { validateReturnInfo } from '../src/core/job-inputs';
import { savedJob, seedState } from '../src/core/staging-records';
import type { Reporter } from '../src/base/reporter';
import { readSettings } from '../src/core/settings';
import { readShippingRecord, ship } from '../src/core/ship';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { tmpDir } from './helpers';
import { fakePrepared, RETURN_INFO } from './prep-support/jobs';
import { jsonLines, runCliAsync } from './prep-support/cli-async';

let emu: RunningEmulator;
const home = tmpDir('driveseed-home-');
const env = { DRIVESEED_HOME: home };
const SUB = '00000000-1111-2222-3333-444444444444';

const jobGet = (name: string) => createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint }).jobs.get('rg1', name, { expand: 'details' });

function ctxWith(prompter?: CommandContext['prompter']) {
  const warnings: Array<{ code: string; message: string }> = [];
  const events: string[] = [];
  const reporter: Reporter = { progress() {}, info() {}, warning: (code, message) => warnings.push({ code, message }), event: (t) => events.push(t) };
  const ctx: CommandContext = { reporter, signal: new AbortController().signal, env, ...(prompter ? { prompter } : {}) };
  return { ctx, warnings, events };
}

async function createdJob(name: string): Promise<string> {
  const staging = fakePrepared(name);
  await createJob({ staging, returnInfo: validateReturnInfo(RETURN_INFO), emulator: emu.armEndpoint, logLevel: 'Error' }, ctxWith().ctx);
  return staging;
}

test.before(async () => {
  emu = await startEmulator({ stepMs: 0 });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

test('without --yes and without a terminal: PROMPT_REQUIRED naming --yes, and the job is unchanged', async () => {
  const staging = await createdJob('shipjob1');
  const e = await ship({ staging, carrier: 'FedEx', tracking: '1Z999AA10123456784', yes: false }, ctxWith().ctx).catch((x) => x);
  assert.instance(e, DriveseedError);
  assert.is(e.code, 'PROMPT_REQUIRED');
  assert.match(e.message, '--yes');
  const job = await jobGet('shipjob1');
  assert.is(job.status, 'DeviceOrdered');
  assert.is((job.details as DataBoxCustomerDiskJobDetails).deliverToDcPackageDetails?.trackingId, undefined);
  assert.is(readShippingRecord(staging), undefined);

  // interactive, answered "no": nothing changes
  const no = await ship(
    { staging, carrier: 'FedEx', tracking: '1Z999AA10123456784', yes: false },
    ctxWith({ ask: async () => 'no', askSecret: async () => '' }).ctx,
  ).catch((x) => x);
  assert.is(no.code, 'SHIP_NOT_CONFIRMED');
  assert.is(no.category, 'CANCELLED');
  assert.is(readShippingRecord(staging), undefined);
  fs.rmSync(staging, { recursive: true, force: true });
});

test('confirmed by typing yes: markDevicesShipped, record written; the tracking number is then refused for another job', async () => {
  const staging = await createdJob('shipjob2');
  const questions: string[] = [];
  const c = ctxWith({ ask: async (q) => (questions.push(q), 'yes'), askSecret: async () => '' });
  const r = await ship({ staging, carrier: 'fedex', tracking: '1Z999AA10123456785', shipDate: '2026-11-20', yes: false }, c.ctx);
  assert.match(questions[0]!, /Type yes/);
  assert.ok(c.events.includes('review'), 'the review is reported before the question');
  assert.is(r.carrier, 'FedEx', 'carrier spelled as the datacenter lists it');
  assert.is(r.driveCount, 2);
  const job = await jobGet('shipjob2');
  assert.is(job.status, 'ShippedToAzureDC');
  assert.equal({ ...(job.details as DataBoxCustomerDiskJobDetails).deliverToDcPackageDetails }, { carrierName: 'FedEx', trackingId: '1Z999AA10123456785' });
  const rec = readShippingRecord(staging)!;
  assert.is(r.recordFile, `${staging}/.prep/shipping.json`);
  assert.equal([rec.job, rec.tracking, rec.carrier, rec.driveCount], ['shipjob2', '1Z999AA10123456785', 'FedEx', 2]);
  assert.is(savedJob(staging).state, 'ShippedToAzureDC');
  assert.is(seedState(staging), 'shipped');
  assert.is((readSettings(staging)!.seed as { shipping: { tracking: string } }).shipping.tracking, '1Z999AA10123456785');

  const other = await createdJob('shipjob3');
  const dup = await ship({ staging: other, carrier: 'FedEx', tracking: '1z999aa1-0123456785', yes: true }, ctxWith().ctx).catch((x) => x);
  assert.is(dup.code, 'SHIP_TRACKING_REUSED');
  assert.match(dup.message, 'shipjob2');
  const j3 = await jobGet('shipjob3');
  assert.is(j3.status, 'DeviceOrdered', 'the refused job was not touched');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(other, { recursive: true, force: true });
});

test('more than 14 days after creation: warning SHIP_LATE, still shipped; any carrier may take the disks to the datacenter', async () => {
  const staging = await createdJob('shipjob4');
  const empty = await ship({ staging, carrier: ' ', tracking: 'PP0000000001', yes: true }, ctxWith().ctx).catch((x) => x);
  assert.is(empty.code, 'INVALID_OPTION');
  const created = Date.parse(savedJob(staging).createdAt);
  const c = ctxWith();
  const r = await ship({ staging, carrier: 'FedEx', tracking: '1Z999AA10123456786', yes: true, now: () => new Date(created + 15 * 86_400_000) }, c.ctx);
  assert.is(r.daysSinceCreated, 15);
  assert.equal(
    c.warnings.map((w) => w.code),
    ['SHIP_LATE'],
  );
  assert.match(c.warnings[0]!.message, '15 days');

  const c2 = ctxWith();
  await ship({ staging, carrier: 'FedEx', tracking: '1Z999AA10123456787', yes: true, now: () => new Date(created + 13 * 86_400_000) }, c2.ctx);
  assert.equal(c2.warnings, [], 'no warning within 14 days (a correction while ShippedToAzureDC)');
  const c3 = ctxWith();
  const local = await ship({ staging, carrier: 'Pigeon Post', tracking: 'PP0000000002', yes: true, now: () => new Date(created + 13 * 86_400_000) }, c3.ctx);
  assert.is(local.carrier, 'Pigeon Post', 'a carrier outside the return list is fine inbound');
  assert.is(((await jobGet('shipjob4')).details as DataBoxCustomerDiskJobDetails).deliverToDcPackageDetails?.carrierName, 'Pigeon Post');
  fs.rmSync(staging, { recursive: true, force: true });
});

test('CLI: ship with no --staging finds the job waiting on this computer; --json without --yes names --yes', async () => {
  const isolated = tmpDir('driveseed-home-');
  const staging = fakePrepared('shipjob5');
  await createJob(
    { staging, returnInfo: validateReturnInfo(RETURN_INFO), emulator: emu.armEndpoint, logLevel: 'Error' },
    { ...ctxWith().ctx, env: { DRIVESEED_HOME: isolated } },
  );
  const e = await runCliAsync(['--json', 'ship', '--carrier', 'FedEx', '--tracking', '1Z999AA10123456788'], { DRIVESEED_HOME: isolated });
  assert.is(e.code, 2, e.stdout + e.stderr);
  const el = jsonLines(e.stdout);
  assert.is(el[el.length - 1]!.code, 'PROMPT_REQUIRED');
  assert.match(el[el.length - 1]!.message, '--yes');
  const ok = await runCliAsync(['u:', '--json', '--carrier', 'FedEx', '--tracking', '1Z999AA10123456788', '--yes'], { DRIVESEED_HOME: isolated });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const ol = jsonLines(ok.stdout);
  assert.is(ol[ol.length - 1]!.type, 'result');
  assert.is(ol[ol.length - 1]!.data.recordFile, `${staging}/.prep/shipping.json`);
  assert.ok(fs.existsSync(`${staging}/.prep/shipping.json`));
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(isolated, { recursive: true, force: true });
});

test.run();
