/**
 * Job create / get / cancel and keys --from-job against the emulator (Microsoft.DataBox ARM +
 * Azurite on loopback), the return-address checks and the publish-settings parse. The drives come
 * from a hand-written .prep/drives.json (+ keys.json), the contract prep writes; prep itself is
 * covered by test/prep-*.test.ts, the exact request by test/job-request.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { DriveseedError } from '../src/base/errors';
import { cancelJob, createJob, getJob, jobKeys, knownJobs } from '../src/core/job';
import { parsePublishSettings, readReturnInfo, validateReturnInfo } from '../src/core/job-inputs';
import { seedState } from '../src/core/staging-records';
import type { Reporter } from '../src/base/reporter';
import { readSettings } from '../src/core/settings';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { runCliAsync } from './prep-support/cli-async';
import { tmpDir } from './helpers';
import { fakePrepared, KEY, RETURN_INFO, SUB } from './prep-support/jobs';

function recorder() {
  const lines: string[] = [];
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const reporter: Reporter = {
    progress: () => {},
    warning: (code, message) => lines.push(`warning ${code} ${message}`),
    info: (m) => lines.push(`info ${m}`),
    event: (type, data) => events.push({ type, data }),
  };
  return { reporter, lines, events };
}

let emu: RunningEmulator;
const home = tmpDir('driveseed-home-');
const env = { DRIVESEED_HOME: home };

test.before(async () => {
  emu = await startEmulator({ stepMs: 0 });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

test('job create makes a DataBoxCustomerDisk job keyed by the disks, with the keys, saves it and reports the datacenter', async () => {
  const staging = fakePrepared('seedjob1', { withKey: true });
  const r = recorder();
  const res = await createJob(
    { staging, returnInfo: validateReturnInfo(RETURN_INFO), emulator: emu.armEndpoint, logLevel: 'Verbose' },
    { reporter: r.reporter, signal: new AbortController().signal, env },
  );
  assert.is(res.job.name, 'seedjob1');
  assert.is(res.job.state, 'DeviceOrdered');
  assert.is(res.existed, false);
  assert.equal(
    res.disks.map((d) => d.serialNumber),
    ['DS0000000000AA01', 'DS0000000000AA02'],
  );
  assert.ok(Object.keys(res.shipTo.address).length > 0, 'the datacenter address from regionConfiguration');
  assert.ok(res.shipTo.supportedCarriers.length > 0, 'the return carriers from regionConfiguration');
  assert.not.match(JSON.stringify(res) + r.lines.join('\n') + JSON.stringify(r.events), KEY);
  assert.is(seedState(staging), 'job-created');

  const client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  const got = await client.jobs.get('rg1', 'seedjob1', { expand: 'details' });
  assert.is(got.sku.name, 'DataBoxCustomerDisk');
  assert.is(got.transferType, 'ImportToAzure');
  const d = got.details as import('@azure/arm-databox').DataBoxCustomerDiskJobDetails;
  assert.is(d.dataImportDetails?.[0]?.logCollectionLevel, 'Verbose');
  assert.is(
    (d.dataImportDetails?.[0]?.accountDetails as { storageAccountId?: string } | undefined)?.storageAccountId,
    `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
  );
  assert.equal(d.contactDetails.emailList, ['ada@example.com']);
  assert.equal(
    Object.entries(d.importDiskDetailsCollection ?? {}).map(([serial, x]) => [serial, x.manifestFile, x.manifestHash]),
    [
      ['DS0000000000AA01', '\\DriveManifest.xml', '0123456789ABCDEF0123456789ABCDEF'],
      ['DS0000000000AA02', '\\DriveManifest.xml', 'FEDCBA9876543210FEDCBA9876543210'],
    ],
  );
  assert.not.match(JSON.stringify(got), KEY, 'a GET never returns the keys');
  const keys = await jobKeys({ staging });
  assert.equal(
    [...keys].map(([serial, k]) => [serial, k?.reveal()]),
    [
      ['DS0000000000AA01', KEY],
      ['DS0000000000AA02', KEY],
    ],
    'the keys reached the service (listCredentials)',
  );

  const saved = readSettings(staging)!;
  assert.is((saved.seed as { job: { name: string } }).job.name, 'seedjob1');
  assert.is(saved.emulator, emu.armEndpoint);
  assert.ok(knownJobs(env).some((j) => j.name === 'seedjob1' && j.staging === staging));

  // again: the same drives are already there, nothing is created twice
  const again = await createJob(
    { staging, returnInfo: validateReturnInfo(RETURN_INFO), logLevel: 'Error' },
    { reporter: r.reporter, signal: new AbortController().signal, env },
  );
  assert.is(again.existed, true);

  const g = await getJob({ staging }, { reporter: r.reporter });
  assert.is(g.status, 'DeviceOrdered');
  assert.equal(
    g.view.disks.map((d) => d.copyStatus),
    ['NotStarted', 'NotStarted'],
  );
  fs.rmSync(staging, { recursive: true, force: true });
});

test('job create without a return address and without a terminal fails naming --return-address', async () => {
  const staging = fakePrepared('seedjob2');
  const e = await createJob(
    { staging, emulator: emu.armEndpoint, logLevel: 'Error' },
    { reporter: recorder().reporter, signal: new AbortController().signal, env },
  ).catch((x) => x);
  assert.instance(e, DriveseedError);
  assert.is(e.code, 'PROMPT_REQUIRED');
  assert.match(e.message, '--return-address');
  fs.rmSync(staging, { recursive: true, force: true });
});

test('job create asks each return-address field interactively', async () => {
  const staging = fakePrepared('seedjob3');
  const answers = ['Ada Lovelace', '+44 20 7946 0000', 'ada@example.com', '1 Analytical St', '', 'London', '', 'N1 9GU', 'GB', 'FedEx', '123456789'];
  const asked: string[] = [];
  const prompter = { ask: async (q: string) => (asked.push(q), answers.shift() ?? ''), askSecret: async () => '' };
  const res = await createJob(
    { staging, emulator: emu.armEndpoint, logLevel: 'Error' },
    { reporter: recorder().reporter, signal: new AbortController().signal, env, prompter },
  );
  assert.is(res.job.name, 'seedjob3');
  assert.match(asked[0]!, /Contact name/);
  assert.is(answers.length, 0, 'every field was asked');
  fs.rmSync(staging, { recursive: true, force: true });
});

test('return address: every missing field is named', () => {
  const bad = { returnAddress: { recipientName: 'A', streetAddress1: '', city: 'X', email: 'nope' }, returnShipping: { carrierName: 'FedEx' } };
  try {
    validateReturnInfo(bad);
    assert.unreachable();
  } catch (e) {
    const err = e as DriveseedError;
    assert.is(err.code, 'RETURN_ADDRESS_INVALID');
    for (const f of [
      'returnAddress.streetAddress1',
      'returnAddress.postalCode',
      'returnAddress.countryOrRegion',
      'returnAddress.phone',
      'returnAddress.email',
      'returnShipping.carrierAccountNumber',
    ])
      assert.match(err.message, f);
    assert.not.match(err.message, 'returnAddress.city');
  }
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'ra.json'), '{not json');
  assert.throws(
    () => readReturnInfo(path.join(dir, 'ra.json')),
    (e: DriveseedError) => e.code === 'RETURN_ADDRESS_INVALID' && /not valid JSON/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('publish settings: the subscription id is read; not a publish-settings file is refused', () => {
  const r = parsePublishSettings(path.join(__dirname, 'fixtures', 'windows', 'sample.publishsettings'));
  assert.is(r.subscriptionId, '1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b');
  assert.is(r.subscriptionName, 'Contoso Backup');
  assert.throws(
    () => parsePublishSettings(__filename),
    (e: DriveseedError) => e.code === 'PUBLISH_SETTINGS_INVALID',
  );
});

test('CLI: job create --json against the emulator, then job get', async () => {
  const staging = fakePrepared('seedjob4');
  const ra = path.join(staging, 'return.json');
  fs.writeFileSync(ra, JSON.stringify(RETURN_INFO));
  const r = await runCliAsync(['--json', 'job', 'create', '--staging', staging, '--return-address', ra, '--emulator', emu.armEndpoint], env);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const result = lines[lines.length - 1];
  assert.is(result.type, 'result');
  assert.is(result.data.job.name, 'seedjob4');
  assert.ok(lines.some((l) => l.type === 'event' && l.event === 'job'));
  const g = await runCliAsync(['--json', 'job', 'get', '--staging', staging], env);
  assert.is(g.code, 0, g.stdout + g.stderr);
  const gl = g.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.is(gl[gl.length - 1].data.status, 'DeviceOrdered');
  const keys = await runCliAsync(['--json', 'keys', '--staging', staging, '--from-job'], env);
  assert.is(keys.code, 0, keys.stdout + keys.stderr);
  const kl = keys.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    kl[kl.length - 1].data.drives.map((d: { driveId: string; bitLockerKey: unknown }) => [d.driveId, d.bitLockerKey]),
    [
      ['DS0000000000AA01', null],
      ['DS0000000000AA02', null],
    ],
    'unencrypted emulator drives: no keys',
  );
  fs.rmSync(staging, { recursive: true, force: true });
});

test('job create --print shows the request with the keys masked and creates nothing', async () => {
  const staging = fakePrepared('seedjob5', { withKey: true });
  const ra = path.join(staging, 'return.json');
  fs.writeFileSync(ra, JSON.stringify(RETURN_INFO));
  const r = await runCliAsync(['job', 'create', '--staging', staging, '--return-address', ra, '--emulator', emu.armEndpoint, '--print'], env);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^PUT http:\/\/127\.0\.0\.1:\d+\/subscriptions\/.*\/providers\/Microsoft\.DataBox\/jobs\/seedjob5\?api-version=2022-12-01/);
  assert.match(r.stdout, /"bitLockerKey": "\[redacted\]"/);
  assert.not.match(r.stdout + r.stderr, KEY);
  const client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  const e = await client.jobs.get('rg1', 'seedjob5').catch((x) => x);
  assert.is((e as { statusCode?: number }).statusCode, 404, 'nothing was created');
  fs.rmSync(staging, { recursive: true, force: true });
});

test('job cancel: refused without confirmation, cancels with it, and the seed goes back to prepared', async () => {
  const staging = fakePrepared('seedjob6');
  const ctx = { reporter: recorder().reporter, signal: new AbortController().signal, env };
  await createJob({ staging, returnInfo: validateReturnInfo(RETURN_INFO), emulator: emu.armEndpoint, logLevel: 'Error' }, ctx);
  const noTerminal = await cancelJob({ staging, reason: 'test', yes: false }, ctx).catch((x) => x);
  assert.is(noTerminal.code, 'PROMPT_REQUIRED');
  const no = await cancelJob({ staging, reason: 'test', yes: false }, { ...ctx, prompter: { ask: async () => 'no', askSecret: async () => '' } }).catch(
    (x) => x,
  );
  assert.is(no.code, 'JOB_CANCEL_NOT_CONFIRMED');
  assert.is((await getJob({ staging }, ctx)).status, 'DeviceOrdered', 'not cancelled');
  const r = await runCliAsync(['--json', 'job', 'cancel', '--staging', staging, '--reason', 'ordered the wrong disks', '--yes'], env);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is((await getJob({ staging }, ctx)).status, 'Cancelled');
  assert.is(seedState(staging), 'prepared');
  const again = await cancelJob({ staging, reason: 'test', yes: true }, ctx).catch((x) => x);
  assert.is(again.code, 'JOB_NOT_CANCELLABLE');
  fs.rmSync(staging, { recursive: true, force: true });
});

test.run();
