// The Microsoft.DataBox emulator through the real SDK (@azure/arm-databox): every route a
// customer-disk import uses, the create refusals with their ARM error codes, the error envelope,
// paging and restart persistence.
// Why one file: the cases share one emulator and its state directory, and the last case restarts it
// to check that everything the earlier cases created survives.
import * as fs from 'node:fs';
import type { DataBoxCustomerDiskJobDetails, DataBoxManagementClient, JobResource } from '@azure/arm-databox';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDataBoxClient } from '../src/azure/arm';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { tmpDir } from './helpers';
import { importJobBody } from './support/emulator-job';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'seed-rg';
const stateDir = tmpDir('driveseed-emu-arm-');
let emu: RunningEmulator | undefined;
let client: DataBoxManagementClient;

const KEY = '123456-123456-123456-123456-123456-123456-123456-123456';
const HASH = '0123456789ABCDEF0123456789ABCDEF';
const V = '2022-12-01';

const body = (serials = ['DRIVE1'], logLevel: 'Error' | 'Verbose' = 'Verbose'): JobResource =>
  importJobBody(
    SUB,
    RG,
    serials.map((s) => ({ driveId: s, manifestHash: HASH, bitLockerKey: KEY })),
    logLevel,
  );
const details = (j: JobResource) => j.details as DataBoxCustomerDiskJobDetails;

async function armFails(p: Promise<unknown>, status: number, code: string, target?: string): Promise<{ message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; details?: { error?: { code?: string; message?: string; target?: string } }; message: string };
    assert.is(err.statusCode, status, err.message);
    assert.is(err.code, code, err.message);
    const env = err.details?.error;
    if (target !== undefined) assert.is(env?.target, target);
    return { message: env?.message ?? err.message };
  }
  assert.unreachable(`expected ${status} ${code}`);
  throw new Error('unreachable');
}

/** A raw ARM request, for bodies the SDK refuses to serialise (it checks required fields itself). */
async function raw(method: string, path: string, payload: unknown, status: number, code?: string, target?: string): Promise<Record<string, any>> {
  const res = await fetch(`${emu!.armEndpoint}${path}${path.includes('?') ? '&' : '?'}api-version=${V}`, {
    method,
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const text = await res.text();
  const b = text ? (JSON.parse(text) as Record<string, any>) : {};
  assert.is(res.status, status, text);
  if (code !== undefined) {
    assert.equal(Object.keys(b), ['error']);
    assert.is(b.error.code, code, b.error.message);
    if (target !== undefined) assert.is(b.error.target, target);
  }
  return b;
}
const jobPath = (name: string, rg = RG) => `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.DataBox/jobs/${name}`;
const wire = (b: JobResource) => ({ location: b.location, sku: b.sku, properties: { transferType: b.transferType, details: b.details } });

test.before(async () => {
  emu = await startEmulator({ stateDir, stepMs: 0 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
});
test.after(async () => {
  await emu?.stop();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('regionConfiguration gives the datacenter address and return carriers; operations are listed', async () => {
  const r = await client.service.regionConfiguration('westus', { datacenterAddressRequest: { storageLocation: 'West US', skuName: 'DataBoxCustomerDisk' } });
  const a = r.datacenterAddressResponse as Record<string, unknown>;
  assert.is(a.datacenterAddressType, 'DatacenterAddressLocation');
  assert.ok(a.street1 && a.city && a.country, 'an address');
  assert.equal(a.supportedCarriersForReturnShipment, ['FedEx', 'UPS', 'DHL']);
  assert.is(a.dataCenterAzureLocation, 'westus');
  const rg = await client.service.regionConfigurationByResourceGroup(RG, 'westeurope', {
    datacenterAddressRequest: { storageLocation: 'westeurope', skuName: 'DataBoxCustomerDisk' },
  });
  assert.equal((rg.datacenterAddressResponse as Record<string, unknown>).supportedCarriersForReturnShipment, ['DHL', 'FedEx']);
  await armFails(
    client.service.regionConfiguration('mars', { datacenterAddressRequest: { storageLocation: 'mars', skuName: 'DataBoxCustomerDisk' } }),
    400,
    'LocationNotSupported',
  );
  await armFails(
    client.service.regionConfiguration('westus', { datacenterAddressRequest: { storageLocation: 'westus', skuName: 'DataBox' } }),
    400,
    'SkuNotSupported',
  );
  const ops: string[] = [];
  for await (const o of client.operations.list()) ops.push(o.name!);
  assert.ok(ops.includes('Microsoft.DataBox/jobs/markDevicesShipped/action'));
});

test('validateInputs: each check answered; a bad address and an unknown account make InputsRevisitRequired', async () => {
  const b = body();
  const good = await client.service.validateInputsByResourceGroup(RG, 'westus', {
    validationCategory: 'JobCreationValidation',
    individualRequestDetails: [
      { validationType: 'ValidateSubscriptionIsAllowedToCreateJob' },
      { validationType: 'ValidateSkuAvailability', deviceType: 'DataBoxCustomerDisk', transferType: 'ImportToAzure', country: 'US', location: 'westus' },
      { validationType: 'ValidateCreateOrderLimit', deviceType: 'DataBoxCustomerDisk' },
      { validationType: 'ValidateAddress', deviceType: 'DataBoxCustomerDisk', shippingAddress: details(b).shippingAddress! },
      {
        validationType: 'ValidateDataTransferDetails',
        deviceType: 'DataBoxCustomerDisk',
        transferType: 'ImportToAzure',
        dataImportDetails: details(b).dataImportDetails!,
      },
    ],
  });
  assert.is(good.status, 'AllValidToProceed');
  assert.equal(
    good.individualResponseDetails!.map((x) => x.validationType),
    ['ValidateSubscriptionIsAllowedToCreateJob', 'ValidateSkuAvailability', 'ValidateCreateOrderLimit', 'ValidateAddress', 'ValidateDataTransferDetails'],
  );
  const bad = await client.service.validateInputs('westus', {
    validationCategory: 'JobCreationValidation',
    individualRequestDetails: [
      { validationType: 'ValidateAddress', deviceType: 'DataBoxCustomerDisk', shippingAddress: { streetAddress1: '1 Main St', country: 'US' } },
      {
        validationType: 'ValidateDataTransferDetails',
        deviceType: 'DataBoxCustomerDisk',
        transferType: 'ImportToAzure',
        dataImportDetails: [
          {
            accountDetails: {
              dataAccountType: 'StorageAccount',
              storageAccountId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/nosuchaccount`,
            },
          },
        ],
      },
    ],
  });
  assert.is(bad.status, 'InputsRevisitRequired');
  const [addr, data] = bad.individualResponseDetails! as Array<{ validationStatus?: string; status?: string; error?: { code?: string; message?: string } }>;
  assert.equal([addr!.validationStatus, addr!.error?.code], ['Invalid', 'InvalidAddress']);
  assert.equal([data!.status, data!.error?.code], ['Invalid', 'StorageAccountNotFound']);
});

test('create → DeviceOrdered with the datacenter address; get never returns bitLockerKey; listCredentials does', async () => {
  const created = await client.jobs.beginCreateAndWait(RG, 'seed1', body(['DRIVE1', 'DRIVE2']));
  assert.is(created.status, 'DeviceOrdered');
  assert.is(created.isCancellable, true);
  assert.is(created.sku.name, 'DataBoxCustomerDisk');
  assert.is(created.transferType, 'ImportToAzure');
  assert.ok(details(created).datacenterAddress, 'the job carries its datacenter address');
  const got = await client.jobs.get(RG, 'seed1', { expand: 'details' });
  assert.equal(Object.keys(details(got).importDiskDetailsCollection!), ['DRIVE1', 'DRIVE2']);
  assert.equal(details(got).importDiskDetailsCollection!.DRIVE1, { manifestFile: '\\DriveManifest.xml', manifestHash: HASH } as never);
  assert.equal(
    details(got).copyProgress!.map((p) => [p.serialNumber, p.copyStatus, p.bytesProcessed]),
    [
      ['DRIVE1', 'NotStarted', 0],
      ['DRIVE2', 'NotStarted', 0],
    ],
  );
  assert.equal(
    details(got)
      .jobStages!.map((s) => [s.stageName, s.stageStatus])
      .slice(0, 2),
    [
      ['DeviceOrdered', 'InProgress'],
      ['ShippedToAzureDC', 'None'],
    ],
  );
  assert.is(JSON.stringify(got).includes(KEY), false, 'GET carries no key');
  const plain = await client.jobs.get(RG, 'seed1');
  assert.is(details(plain).jobStages, undefined, 'stages only with $expand=details');
  const creds: unknown[] = [];
  for await (const c of client.jobs.listCredentials(RG, 'seed1')) creds.push(c);
  assert.equal(creds, [
    {
      jobName: 'seed1',
      jobSecrets: {
        jobSecretsType: 'DataBoxCustomerDisk',
        diskSecrets: [
          { diskSerialNumber: 'DRIVE1', bitLockerKey: KEY },
          { diskSerialNumber: 'DRIVE2', bitLockerKey: KEY },
        ],
        carrierAccountNumber: '123',
      },
    },
  ]);
  await armFails(client.jobs.beginCreateAndWait(RG, 'seed1', body()), 409, 'Conflict');
});

test('create refusals carry ARM codes and targets', async () => {
  const put = (name: string, b: unknown) => raw('PUT', jobPath(name), b, 400);
  const base = wire(body());
  const mutate = (f: (b: any) => void) => {
    const b = structuredClone(base) as any;
    f(b);
    return b;
  };
  await raw('PUT', jobPath('ab'), base, 400, 'InvalidJobName', 'jobName');
  await raw('PUT', jobPath('has space'), base, 400, 'InvalidJobName');
  await raw('PUT', jobPath('a'.repeat(25)), base, 400, 'InvalidJobName');
  await raw(
    'PUT',
    jobPath('r1'.padEnd(5, 'x')),
    mutate((b) => (b.sku.name = 'DataBox')),
    400,
    'SkuNotSupported',
    'sku.name',
  );
  await raw(
    'PUT',
    jobPath('r2xx'),
    mutate((b) => (b.properties.transferType = 'ExportFromAzure')),
    400,
    'UnsupportedTransferType',
  );
  await raw(
    'PUT',
    jobPath('r3xx'),
    mutate((b) => delete b.properties.details.contactDetails),
    400,
    'MissingRequiredProperty',
    'properties.details.contactDetails',
  );
  await raw(
    'PUT',
    jobPath('r4xx'),
    mutate((b) => (b.properties.details.contactDetails.emailList = [])),
    400,
    'MissingRequiredProperty',
    'properties.details.contactDetails.emailList',
  );
  await raw(
    'PUT',
    jobPath('r5xx'),
    mutate((b) => delete b.properties.details.shippingAddress.country),
    400,
    'MissingRequiredProperty',
    'properties.details.shippingAddress.country',
  );
  await raw(
    'PUT',
    jobPath('r6xx'),
    mutate((b) => delete b.properties.details.returnToCustomerPackageDetails),
    400,
    'MissingRequiredProperty',
  );
  await raw(
    'PUT',
    jobPath('r7xx'),
    mutate((b) => (b.properties.details.returnToCustomerPackageDetails.carrierName = 'Pigeon')),
    400,
    'InvalidReturnCarrier',
  );
  await raw(
    'PUT',
    jobPath('r8xx'),
    mutate(
      (b) =>
        (b.properties.details.dataImportDetails[0].accountDetails.storageAccountId =
          '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/nosuch'),
    ),
    400,
    'StorageAccountNotFound',
  );
  await raw(
    'PUT',
    jobPath('r9xx'),
    mutate((b) => delete b.properties.details.importDiskDetailsCollection.DRIVE1.manifestHash),
    400,
    'MissingRequiredProperty',
    "properties.details.importDiskDetailsCollection['DRIVE1'].manifestHash",
  );
  await raw(
    'PUT',
    jobPath('r10x'),
    mutate((b) => delete b.properties.details.importDiskDetailsCollection.DRIVE1.bitLockerKey),
    400,
    'MissingRequiredProperty',
  );
  await raw(
    'PUT',
    jobPath('r11x'),
    mutate((b) => (b.properties.details.importDiskDetailsCollection.DRIVE1.bitLockerKey = '1234')),
    400,
    'InvalidPropertyValue',
  );
  await raw(
    'PUT',
    jobPath('r12x'),
    mutate((b) => (b.properties.details.importDiskDetailsCollection.DRIVE1.manifestFile = 'DriveManifest.xml')),
    400,
    'InvalidPropertyValue',
  );
  const eleven = Object.fromEntries(
    Array.from({ length: 11 }, (_, i) => [`D${i}`, { manifestFile: '\\DriveManifest.xml', manifestHash: HASH, bitLockerKey: KEY }]),
  );
  await raw(
    'PUT',
    jobPath('r13x'),
    mutate((b) => (b.properties.details.importDiskDetailsCollection = eleven)),
    400,
    'TooManyDisks',
  );
  await raw(
    'PUT',
    jobPath('r14x'),
    mutate((b) => (b.location = 'mars')),
    400,
    'LocationNotSupported',
    'location',
  );
  await put('r15x', { not: 'a job' });
  const names: string[] = [];
  for await (const j of client.jobs.listByResourceGroup(RG)) names.push(j.name!);
  assert.not.ok(
    names.some((n) => /^r\d/.test(n)),
    'nothing refused was created',
  );
});

test('markDevicesShipped → ShippedToAzureDC (correctable until the disks arrive); cancel only while DeviceOrdered; tags-only PATCH; delete only when done', async () => {
  await client.jobs.beginCreateAndWait(RG, 'ship1', body());
  await armFails(client.jobs.markDevicesShipped('ship1', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx' } as never }), 400, 'MissingRequiredProperty');
  await client.jobs.markDevicesShipped('ship1', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: '1Z1' } });
  await client.jobs.markDevicesShipped('ship1', RG, { deliverToDcPackageDetails: { carrierName: 'UPS', trackingId: '1Z2' } });
  const j = await client.jobs.get(RG, 'ship1', { expand: 'details' });
  assert.is(j.status, 'ShippedToAzureDC');
  assert.is(j.isCancellable, false);
  assert.equal({ ...details(j).deliverToDcPackageDetails }, { carrierName: 'UPS', trackingId: '1Z2' });
  await armFails(client.jobs.cancel(RG, 'ship1', { reason: 'too late' }), 409, 'InvalidJobState');
  await armFails(client.jobs.beginDeleteAndWait(RG, 'ship1'), 409, 'InvalidJobState');

  await client.jobs.beginCreateAndWait(RG, 'cancel1', body());
  await raw('POST', `${jobPath('cancel1')}/cancel`, {}, 400, 'MissingRequiredProperty');
  await client.jobs.cancel(RG, 'cancel1', { reason: 'wrong disks' });
  const c = await client.jobs.get(RG, 'cancel1', { expand: 'details' });
  assert.equal([c.status, c.cancellationReason, c.isCancellable, c.isDeletable], ['Cancelled', 'wrong disks', false, true]);
  await armFails(
    client.jobs.markDevicesShipped('cancel1', RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: '1' } }),
    409,
    'InvalidJobState',
  );
  const u = await client.jobs.beginUpdateAndWait(RG, 'cancel1', { tags: { owner: 'ops' } });
  assert.equal(u.tags, { owner: 'ops' });
  await raw('PATCH', jobPath('cancel1'), { properties: { details: {} } }, 400, 'UnsupportedUpdateProperty');
  await client.jobs.beginCreateAndWait(RG, 'del1', body());
  await client.jobs.cancel(RG, 'del1', { reason: 'x' });
  await client.jobs.beginDeleteAndWait(RG, 'del1');
  await armFails(client.jobs.get(RG, 'del1'), 404, 'ResourceNotFound');
});

test('list by resource group and subscription; paging with $top and nextLink', async () => {
  for (let i = 0; i < 5; i++) await client.jobs.beginCreateAndWait('paging-rg', `page${i}`, body());
  const names: string[] = [];
  for await (const j of client.jobs.listByResourceGroup('paging-rg')) names.push(j.name!);
  assert.equal(names, ['page0', 'page1', 'page2', 'page3', 'page4']);
  const all: string[] = [];
  for await (const j of client.jobs.list()) all.push(j.name!);
  assert.ok(all.includes('seed1') && all.includes('page4'));
  for await (const j of client.jobs.list()) assert.is(JSON.stringify(j).includes(KEY), false);
  const page = await raw('GET', `/subscriptions/${SUB}/resourceGroups/paging-rg/providers/Microsoft.DataBox/jobs?$top=2`, undefined, 200);
  assert.equal(
    page.value.map((j: { name: string }) => j.name),
    ['page0', 'page1'],
  );
  assert.match(page.nextLink, /\$skiptoken=2/);
  await raw('GET', `/subscriptions/${SUB}/providers/Microsoft.DataBox/jobs?$top=101`, undefined, 400, 'InvalidQueryParameterValue');
});

test('ARM envelope: api-version strictly 2022-12-01, bearer token required, the retired provider and unknown routes', async () => {
  const url = `${emu!.armEndpoint}${jobPath('seed1')}`;
  const r1 = await fetch(`${url}?api-version=2021-01-01`, { headers: { authorization: 'Bearer t' } });
  assert.is(r1.status, 400);
  const e1 = (await r1.json()) as { error: { code: string; message: string } };
  assert.is(e1.error.code, 'InvalidApiVersionParameter');
  assert.match(e1.error.message, /'2021-01-01' is invalid.*'2022-12-01'/);
  const r2 = await fetch(url, { headers: { authorization: 'Bearer t' } });
  assert.is(((await r2.json()) as { error: { code: string } }).error.code, 'MissingApiVersionParameter');
  const r3 = await fetch(`${url}?api-version=${V}`);
  assert.is(r3.status, 401);
  assert.is(((await r3.json()) as { error: { code: string } }).error.code, 'AuthenticationFailed');
  const classic = await raw(
    'GET',
    `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/seed1`,
    undefined,
    404,
    'NoRegisteredProviderFound',
  );
  assert.match(classic.error.message, /retired/);
  await raw('GET', `/subscriptions/${SUB}/providers/Microsoft.DataBox/widgets`, undefined, 404, 'InvalidResourceType');
  const r6 = await fetch(`${url}?api-version=${V}`, { method: 'PUT', headers: { authorization: 'Bearer t' }, body: '{not json' });
  assert.is(r6.status, 400);
  assert.is(((await r6.json()) as { error: { code: string } }).error.code, 'InvalidRequestContent');
});

test('state survives a restart (jobs, keys, statuses), and the state file is written atomically with mode 0600', async () => {
  await emu!.stop();
  assert.ok(fs.existsSync(`${stateDir}/emulator-state.json`));
  assert.not.ok(fs.existsSync(`${stateDir}/emulator-state.json.tmp`));
  assert.is(fs.statSync(`${stateDir}/emulator-state.json`).mode & 0o777, 0o600);
  emu = await startEmulator({ stateDir, stepMs: 0 });
  client = createDataBoxClient({ subscriptionId: SUB, emulator: emu.armEndpoint });
  const j = await client.jobs.get(RG, 'cancel1');
  assert.is(j.status, 'Cancelled');
  assert.equal(j.tags, { owner: 'ops' });
  const creds: Array<{ jobSecrets?: unknown }> = [];
  for await (const c of client.jobs.listCredentials(RG, 'seed1')) creds.push(c);
  assert.match(JSON.stringify(creds), new RegExp(KEY), 'the keys persist');
  const names: string[] = [];
  for await (const x of client.jobs.listByResourceGroup('paging-rg')) names.push(x.name!);
  assert.equal(names, ['page0', 'page1', 'page2', 'page3', 'page4']);
});

test.run();
