// The ARM emulator through the real SDK (@azure/arm-storageimportexport): every route, every
// validation refusal with its ARM error code, the error envelope, paging and restart persistence.
import * as fs from 'node:fs';
import type { PutJobParameters, StorageImportExport } from '@azure/arm-storageimportexport';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createImportExportClient } from '../src/azure/arm';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { tmpDir } from './helpers';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const stateDir = tmpDir('driveseed-emu-arm-');
let emu: RunningEmulator | undefined;
let client: StorageImportExport;

const KEY = '123456-123456-123456-123456-123456-123456-123456-123456';
const HASH = '0123456789ABCDEF0123456789ABCDEF';
const returnAddress = { recipientName: 'Ops', streetAddress1: '1 Main St', city: 'Springfield', postalCode: '12345', countryOrRegion: 'US', phone: '5550100', email: 'ops@example.com' };

function body(over: Record<string, unknown> = {}, drives?: unknown[]): PutJobParameters {
  return {
    location: 'West US',
    properties: {
      storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`,
      jobType: 'Import',
      returnAddress,
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123456789' },
      diagnosticsPath: 'waimportexport',
      logLevel: 'Verbose',
      driveList: (drives ?? [{ driveId: 'DRIVE1', bitLockerKey: KEY, manifestFile: '\\DriveManifest.xml', manifestHash: HASH }]) as never,
      ...over,
    },
  };
}

async function armFails(p: Promise<unknown>, status: number, code: string, target?: string): Promise<{ message: string }> {
  try {
    await p;
  } catch (e) {
    // The SDK's ErrorResponse mapper flattens the envelope's `error` into RestError.details.
    const err = e as { statusCode?: number; code?: string; details?: { code?: string; message?: string; target?: string }; message: string };
    assert.is(err.statusCode, status, err.message);
    assert.is(err.details?.code, code, err.message);
    assert.is(err.code, code);
    if (target !== undefined) assert.is(err.details?.target, target);
    assert.type(err.details?.message, 'string');
    return { message: err.details!.message! };
  }
  assert.unreachable(`expected ${status} ${code}`);
  throw new Error('unreachable');
}

/** A raw ARM request, for bodies the SDK refuses to serialise (it checks required fields itself). */
async function rawFails(method: string, path: string, payload: unknown, status: number, code: string, target?: string): Promise<void> {
  const res = await fetch(`${emu!.armEndpoint}${path}?api-version=2021-01-01`, { method, headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const b = (await res.json()) as { error: { code: string; message: string; target?: string } };
  assert.is(res.status, status);
  assert.equal(Object.keys(b), ['error']);
  assert.is(b.error.code, code, b.error.message);
  if (target !== undefined) assert.is(b.error.target, target);
}
const jobPath = (name: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/${name}`;

test.before(async () => {
  emu = await startEmulator({ stateDir, stepMs: 0 });
  client = createImportExportClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('operations and locations ("West US" and "westus" both) with ship-to addresses and carriers', async () => {
  const ops = [];
  for await (const o of client.operations.list()) ops.push(o.name);
  assert.ok(ops.includes('Microsoft.ImportExport/jobs/write'));
  const locs = [];
  for await (const l of client.locations.list()) locs.push(l);
  assert.ok(locs.length >= 4);
  const a = await client.locations.get('West US');
  const b = await client.locations.get('westus');
  assert.is(a.id, '/providers/Microsoft.ImportExport/locations/westus');
  assert.equal(a, b);
  assert.ok(a.supportedCarriers!.includes('FedEx'));
  assert.type(a.streetAddress1, 'string');
  await armFails(client.locations.get('moon'), 404, 'ResourceNotFound');
});

test('create → 201 Creating with shippingInformation; get never returns bitLockerKey; listBitLockerKeys does', async () => {
  const created = await client.jobs.create('seed1', RG, body());
  assert.is(created.name, 'seed1');
  assert.is(created.type, 'Microsoft.ImportExport/jobs');
  assert.is(created.id, `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/seed1`);
  assert.is(created.properties!.state, 'Creating');
  assert.is(created.properties!.provisioningState, 'Succeeded');
  assert.is(created.properties!.driveList![0]!.state, 'Specified');
  assert.is(created.properties!.shippingInformation!.city, 'Santa Clara');
  assert.is(created.properties!.driveList![0]!.bitLockerKey, undefined);
  const got = await client.jobs.get('seed1', RG);
  assert.is(got.properties!.driveList![0]!.bitLockerKey, undefined);
  assert.not.ok(JSON.stringify(got).includes(KEY));
  const keys = [];
  for await (const k of client.bitLockerKeys.list('seed1', RG)) keys.push(k);
  assert.equal(keys, [{ driveId: 'DRIVE1', bitLockerKey: KEY }]);
  await armFails(client.jobs.get('nosuch', RG), 404, 'ResourceNotFound');
});

test('replace: PUT on a Creating job → 200; drives declared without bitLockerKey are accepted', async () => {
  const r = await client.jobs.create('seed1', RG, body({}, [{ driveId: 'DRIVE1', manifestFile: '\\DriveManifest.xml', manifestHash: HASH }, { driveId: 'DRIVE2', manifestFile: '\\DriveManifest.xml', manifestHash: HASH }]));
  assert.is(r.properties!.driveList!.length, 2);
  const keys = [];
  for await (const k of client.bitLockerKeys.list('seed1', RG)) keys.push(k);
  assert.equal(keys, [{ driveId: 'DRIVE1' }, { driveId: 'DRIVE2' }]);
});

test('create refusals carry ARM codes and targets', async () => {
  await armFails(client.jobs.create('Seed_1', RG, body()), 400, 'InvalidJobName', 'jobName');
  await armFails(client.jobs.create('1seed', RG, body()), 400, 'InvalidJobName');
  await armFails(client.jobs.create('x', RG, body()), 400, 'InvalidJobName');
  await armFails(client.jobs.create('v1', RG, { ...body(), location: 'Moon' }), 400, 'LocationNotSupported', 'location');
  await armFails(client.jobs.create('v1', RG, body({ storageAccountId: 'devstoreaccount1' })), 400, 'InvalidStorageAccountId', 'properties.storageAccountId');
  await armFails(client.jobs.create('v1', RG, body({ storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/other` })), 400, 'StorageAccountNotFound');
  await armFails(client.jobs.create('v1', RG, body({ jobType: 'Export' })), 400, 'UnsupportedJobType', 'properties.jobType');
  await armFails(client.jobs.create('v1', RG, body({ jobType: undefined })), 400, 'MissingRequiredProperty', 'properties.jobType');
  await armFails(client.jobs.create('v1', RG, body({}, [])), 400, 'MissingRequiredProperty', 'properties.driveList');
  const eleven = Array.from({ length: 11 }, (_, i) => ({ driveId: `D${i}`, manifestFile: '\\m.xml', manifestHash: HASH }));
  await armFails(client.jobs.create('v1', RG, body({}, eleven)), 400, 'TooManyDrives');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestFile: '\\m', manifestHash: HASH }, { driveId: 'A', manifestFile: '\\m', manifestHash: HASH }])), 400, 'DuplicateDriveId');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestHash: HASH }])), 400, 'MissingRequiredProperty', 'properties.driveList[0].manifestFile');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestFile: '\\m' }])), 400, 'MissingRequiredProperty', 'properties.driveList[0].manifestHash');
  await armFails(client.jobs.create('v1', RG, body({}, [{ manifestFile: '\\m', manifestHash: HASH }])), 400, 'MissingRequiredProperty', 'properties.driveList[0].driveId');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestFile: '\\m', manifestHash: 'nothex' }])), 400, 'InvalidPropertyValue', 'properties.driveList[0].manifestHash');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestFile: '\\m', manifestHash: HASH, bitLockerKey: 'secret' }])), 400, 'InvalidPropertyValue', 'properties.driveList[0].bitLockerKey');
  await armFails(client.jobs.create('v1', RG, body({}, [{ driveId: 'A', manifestFile: '..\\m', manifestHash: HASH }])), 400, 'InvalidPropertyValue', 'properties.driveList[0].manifestFile');
  await rawFails('PUT', jobPath('v1'), body({ returnAddress: { ...returnAddress, email: undefined } }), 400, 'MissingRequiredProperty', 'properties.returnAddress.email');
  await rawFails('PUT', jobPath('v1'), body({ returnShipping: { carrierName: 'FedEx' } }), 400, 'MissingRequiredProperty', 'properties.returnShipping.carrierAccountNumber');
  await armFails(client.jobs.create('v1', RG, body({ logLevel: 'Chatty' })), 400, 'InvalidPropertyValue', 'properties.logLevel');
  await armFails(client.jobs.get('v1', RG), 404, 'ResourceNotFound');
});

test('update: Shipping needs returnAddress and deliveryPackage; cancel only true; only UpdateJobParameters fields', async () => {
  await client.jobs.create('ship1', RG, body({ returnAddress: undefined }));
  await armFails(client.jobs.update('ship1', RG, { state: 'Shipping' }), 400, 'MissingRequiredProperty', 'properties.returnAddress');
  await client.jobs.update('ship1', RG, { returnAddress });
  await armFails(client.jobs.update('ship1', RG, { state: 'Shipping' }), 400, 'MissingRequiredProperty', 'properties.deliveryPackage');
  await armFails(client.jobs.update('ship1', RG, { state: 'Received' }), 400, 'InvalidPropertyValue', 'properties.state');
  await armFails(client.jobs.update('ship1', RG, { cancelRequested: false }), 400, 'InvalidPropertyValue', 'properties.cancelRequested');
  await rawFails('PATCH', jobPath('ship1'), { properties: { deliveryPackage: { carrierName: 'FedEx' } } }, 400, 'MissingRequiredProperty', 'properties.deliveryPackage.trackingNumber');
  const shipped = await client.jobs.update('ship1', RG, { state: 'Shipping', deliveryPackage: { carrierName: 'FedEx', trackingNumber: '1Z999', driveCount: 1, shipDate: '2026-11-24' } });
  assert.is(shipped.properties!.state, 'Shipping');
  assert.is(shipped.properties!.deliveryPackage!.trackingNumber, '1Z999');
  // Replacing or deleting a Shipping job is refused; changing drives too.
  await armFails(client.jobs.create('ship1', RG, body()), 409, 'InvalidJobState');
  await armFails(client.jobs.delete('ship1', RG), 409, 'InvalidJobState');
  await armFails(client.jobs.update('ship1', RG, { driveList: [{ driveId: 'X', manifestFile: '\\m', manifestHash: HASH }] }), 409, 'InvalidJobState', 'properties.driveList');
  // A field outside UpdateJobParameters, sent raw (the SDK would drop it).
  await rawFails('PATCH', jobPath('ship1'), { properties: { storageAccountId: 'x' } }, 400, 'UnsupportedUpdateProperty', 'properties.storageAccountId');
  // Cancel is allowed in Shipping, then the job is Canceled and no longer updatable.
  const c = await client.jobs.update('ship1', RG, { cancelRequested: true });
  assert.is(c.properties!.state, 'Canceled');
  assert.is(c.properties!.cancelRequested, true);
  await armFails(client.jobs.update('ship1', RG, { cancelRequested: true }), 409, 'InvalidJobState');
  const tagged = await client.jobs.update('ship1', RG, { tags: { owner: 'ops' } });
  assert.equal(tagged.tags, { owner: 'ops' });
});

test('delete only in Creating (or Completed)', async () => {
  await client.jobs.create('gone1', RG, body());
  await client.jobs.delete('gone1', RG);
  await armFails(client.jobs.get('gone1', RG), 404, 'ResourceNotFound');
  await armFails(client.jobs.delete('gone1', RG), 404, 'ResourceNotFound');
});

test('list by resource group and subscription page with $top and nextLink', async () => {
  for (let i = 0; i < 5; i++) await client.jobs.create(`page${i}`, 'paging-rg', body());
  await client.jobs.create('other1', 'other-rg', body());
  const pages: string[][] = [];
  for await (const page of client.jobs.listByResourceGroup('paging-rg', { top: 2 }).byPage()) pages.push(page.map((j) => j.name!));
  assert.equal(pages, [['page0', 'page1'], ['page2', 'page3'], ['page4']]);
  const all: string[] = [];
  for await (const j of client.jobs.listBySubscription({ top: 3 })) all.push(j.name!);
  assert.ok(all.includes('other1') && all.includes('page4') && all.includes('seed1'));
  for await (const j of client.jobs.listBySubscription()) assert.is(JSON.stringify(j).includes(KEY), false);
  const bad = await fetch(`${emu!.armEndpoint}/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs?api-version=2021-01-01&$top=101`, { headers: { authorization: 'Bearer t' } });
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { code: string } }).error.code, 'InvalidQueryParameterValue');
});

test('ARM envelope: api-version strictly 2021-01-01, bearer token required, unknown routes', async () => {
  const url = `${emu!.armEndpoint}/providers/Microsoft.ImportExport/locations`;
  const r1 = await fetch(`${url}?api-version=2020-08-01`, { headers: { authorization: 'Bearer t' } });
  assert.is(r1.status, 400);
  const e1 = (await r1.json()) as { error: { code: string; message: string } };
  assert.is(e1.error.code, 'InvalidApiVersionParameter');
  assert.match(e1.error.message, /'2020-08-01' is invalid.*'2021-01-01'/);
  const r2 = await fetch(url, { headers: { authorization: 'Bearer t' } });
  assert.is(((await r2.json()) as { error: { code: string } }).error.code, 'MissingApiVersionParameter');
  const r3 = await fetch(`${url}?api-version=2021-01-01`);
  assert.is(r3.status, 401);
  assert.is(((await r3.json()) as { error: { code: string } }).error.code, 'AuthenticationFailed');
  const r4 = await fetch(`${url}?api-version=2021-01-01`, { headers: { authorization: 'Bearer ' } });
  assert.is(r4.status, 401);
  const r5 = await fetch(`${emu!.armEndpoint}/providers/Microsoft.ImportExport/widgets?api-version=2021-01-01`, { headers: { authorization: 'Bearer t' } });
  assert.is(r5.status, 404);
  assert.equal(Object.keys((await r5.json()) as object), ['error']);
  const r6 = await fetch(`${emu!.armEndpoint}/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/seed1?api-version=2021-01-01`, { method: 'PUT', headers: { authorization: 'Bearer t' }, body: '{not json' });
  assert.is(r6.status, 400);
  assert.is(((await r6.json()) as { error: { code: string } }).error.code, 'InvalidRequestContent');
});

test('state survives a restart (jobs, keys, states), and the state file is written atomically', async () => {
  await emu!.stop();
  assert.ok(fs.existsSync(`${stateDir}/emulator-state.json`));
  assert.not.ok(fs.existsSync(`${stateDir}/emulator-state.json.tmp`));
  assert.is(fs.statSync(`${stateDir}/emulator-state.json`).mode & 0o777, 0o600);
  emu = await startEmulator({ stateDir, stepMs: 0 });
  client = createImportExportClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  const j = await client.jobs.get('ship1', RG);
  assert.is(j.properties!.state, 'Canceled');
  assert.equal(j.tags, { owner: 'ops' });
  const names: string[] = [];
  for await (const x of client.jobs.listByResourceGroup('paging-rg')) names.push(x.name!);
  assert.equal(names, ['page0', 'page1', 'page2', 'page3', 'page4']);
});

test.run();
