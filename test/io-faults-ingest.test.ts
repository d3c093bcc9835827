/**
 * Injected I/O faults (test/support/faults.ts, the LD_PRELOAD shim) in the emulated datacenter: the
 * real `driveseed emulator start` runs under the shim and its ingest (src/emulator/ingest.ts) meets
 * EIO, a short read and a stall while reading a delivered drive; `driveseed emulator deliver --wait`
 * (no faults) drives each delivery. An unreadable block makes the blob IOFailed in the copy log at
 * that block's offset, the blob is not committed (nothing half-imported looks imported) and the other
 * blobs arrive whole; a later delivery without the fault imports exactly the drive's bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DataBoxCustomerDiskJobDetails, DataBoxManagementClient } from '@azure/arm-databox';
import { createDataBoxClient } from '../src/azure/arm';
import { containerClientFor } from '../src/azure/blob';
import { parseDriveLog } from '../src/azure/drivelog';
import { MAX_BLOCK_LENGTH, type ManifestBlob, writeManifest } from '../src/azure/manifest';
import { Secret } from '../src/base/secret';
import { DRIVE_ID_FILE } from '../src/emulator';
import { DEV_ACCOUNT, DEV_ACCOUNT_KEY } from '../src/emulator/azurite';
import { gated, tmpDir } from './helpers';
import { importJobBody } from './support/emulator-job';
import { type FaultedServer, faultsUnavailable, hasStack, output, runFaulted, startFaulted } from './support/faults';

const SUB = '00000000-1111-2222-3333-444444444444';
const RG = 'fault-rg';
const reason = faultsUnavailable();
const work = tmpDir('driveseed-io-faults-ingest-');
const SIZES = [MAX_BLOCK_LENGTH * 2 + 12345, 3000];

interface Drive {
  dir: string;
  driveId: string;
  manifestHash: string;
  files: Record<string, Buffer>;
}

/** A volume directory: files under data/p/, a manifest over them (ImportDisposition overwrite) and the id file. */
async function buildDrive(name: string, driveId: string): Promise<Drive> {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'data', 'p'), { recursive: true });
  const files: Record<string, Buffer> = {};
  const blobs: ManifestBlob[] = SIZES.map((size, i) => {
    const rel = `p/${String(i).padStart(4, '0')}.pack`;
    const bytes = randomBytes(size);
    fs.writeFileSync(path.join(dir, 'data', rel), bytes);
    files[rel] = bytes;
    const blocks = [];
    for (let off = 0; off < size; off += MAX_BLOCK_LENGTH) {
      const len = Math.min(MAX_BLOCK_LENGTH, size - off);
      const hash = createHash('md5')
        .update(bytes.subarray(off, off + len))
        .digest('hex')
        .toUpperCase();
      blocks.push({ offset: off, length: len, hash });
    }
    return { blobPath: `c-${name}/${rel}`, filePath: `\\data\\p\\${String(i).padStart(4, '0')}.pack`, length: size, blocks, importDisposition: 'overwrite' };
  });
  const r = await writeManifest(path.join(dir, 'DriveManifest.xml'), { driveId, clientCreator: 'driveseed test', blobLists: [{ blobs }] });
  fs.writeFileSync(path.join(dir, DRIVE_ID_FILE), `${driveId}\n`);
  return { dir, driveId, manifestHash: r.manifestHash, files };
}

let emu: FaultedServer | undefined;
let arm = '';
let blobEndpoint = '';
let client: DataBoxManagementClient;

const account = () => ({ name: DEV_ACCOUNT, blobEndpoint: `${blobEndpoint.replace(/\/+$/, '')}/${DEV_ACCOUNT}`, key: new Secret(DEV_ACCOUNT_KEY) });
const container = (name: string) => containerClientFor({ account: DEV_ACCOUNT, container: name, emulator: account() });

async function shipped(job: string, d: Drive): Promise<void> {
  await client.jobs.beginCreateAndWait(RG, job, importJobBody(SUB, RG, [d], 'Error'));
  await client.jobs.markDevicesShipped(job, RG, { deliverToDcPackageDetails: { carrierName: 'FedEx', trackingId: `T-${job}` } });
}

async function deliver(job: string, d: Drive): Promise<Record<string, any>> {
  const r = await runFaulted(['--json', 'emulator', 'deliver', '--job', job, '--resource-group', RG, '--drive', d.dir, '--wait', '--emulator', arm], []);
  assert.is(r.code, 0, output(r));
  assert.not.ok(hasStack(r), output(r));
  const res = r.lines.at(-1)!;
  assert.is(res.type, 'result', output(r));
  return res.data;
}

async function errorLog(job: string, serial: string) {
  const j = await client.jobs.get(RG, job, { expand: 'details' });
  const logs = ((j.details as DataBoxCustomerDiskJobDetails).copyLogDetails ?? []).find((l) => (l as { serialNumber?: string }).serialNumber === serial) as
    | { errorLogLink?: string }
    | undefined;
  const u = new URL(logs!.errorLogLink!);
  const [, , c, ...rest] = u.pathname.split('/');
  return parseDriveLog(
    (
      await container(c!)
        .getBlobClient(decodeURIComponent(rest.join('/')))
        .downloadToBuffer()
    ).toString('utf8'),
  );
}

gated(
  test,
  'ingest: EIO reading a block, a short read, a stalled read; the unreadable blob is IOFailed at its offset and not committed; a redelivery imports the exact bytes',
  reason,
  async () => {
    const d = await buildDrive('ingest', 'INGEST-1');
    const victim = path.join(d.dir, 'data', 'p', '0000.pack');
    // The first rule that matches a read fires, each once. First delivery: the read of block 0 ends at
    // 4 MiB and only counts for the short rule (skipped), the read of block 1 fails with EIO. Second
    // delivery: block 0 comes back 4096 bytes short (the rest is read on), block 1 stalls 300 ms.
    emu = await startFaulted(
      ['--json', 'emulator', 'start', '--port', '0', '--blob-port', '0'],
      [
        { path: victim, match: 'exact', op: 'read', offset: MAX_BLOCK_LENGTH, kind: 'eio' },
        { path: victim, match: 'exact', op: 'read', kind: 'short', bytes: 4096, skip: 1 },
        { path: victim, match: 'exact', op: 'read', offset: MAX_BLOCK_LENGTH, kind: 'stall', ms: 300 },
      ],
      (l) => l.type === 'event' && l.event === 'emulator.ready',
      { env: { DRIVESEED_EMULATOR_STEP_MS: '0' } },
    );
    const ready = emu.lines().find((l) => l.event === 'emulator.ready')!;
    arm = ready.data.armEndpoint;
    blobEndpoint = ready.data.blobEndpoint;
    client = createDataBoxClient({ subscriptionId: SUB, emulator: arm });

    await shipped('faultjob1', d);
    const first = await deliver('faultjob1', d);
    assert.equal([first.copyStatus, first.status], ['CompletedWithErrors', 'CompletedWithErrors'], JSON.stringify(first));
    const fired1 = emu.fired();
    assert.is(fired1.length, 1, `exactly the EIO fired:\n${JSON.stringify(fired1)}\n${emu.output()}`);
    assert.equal([fired1[0]!.kind, fired1[0]!.path], ['EIO', victim]);
    const log = await errorLog('faultjob1', 'INGEST-1');
    assert.equal([log.status, log.filesErrored], ['CompletedWithErrors', 1]);
    const b = log.blobs.find((x) => x.blobPath === 'c-ingest/p/0000.pack');
    assert.ok(b, JSON.stringify(log.blobs));
    assert.match(b!.errorMessage!, new RegExp(`block at offset ${MAX_BLOCK_LENGTH} \\(length ${MAX_BLOCK_LENGTH}\\): IOFailed`));
    assert.is(await container('c-ingest').getBlobClient('p/0000.pack').exists(), false, 'the blob with an unreadable block is not committed');
    assert.ok((await container('c-ingest').getBlobClient('p/0001.pack').downloadToBuffer()).equals(d.files['p/0001.pack']!));

    // The same drive in a new job: the short read and the stall only slow it down.
    await shipped('faultjob2', d);
    const started = Date.now();
    const second = await deliver('faultjob2', d);
    assert.equal([second.copyStatus, second.status], ['Completed', 'Completed'], JSON.stringify(second));
    const kinds = emu
      .fired()
      .slice(1)
      .map((f) => f.kind);
    assert.equal(kinds.sort(), ['short', 'stall'], JSON.stringify(emu.fired()));
    assert.ok(Date.now() - started >= 300, 'the stall happened inside the delivery');
    for (const [rel, bytes] of Object.entries(d.files)) {
      assert.ok((await container('c-ingest').getBlobClient(rel).downloadToBuffer()).equals(bytes), `${rel} holds the drive's bytes`);
    }
  },
);

test.after(async () => {
  const code = await emu?.stop();
  if (emu) assert.is(code, 0, `the emulator stops cleanly on SIGTERM:\n${emu.output()}`);
  fs.rmSync(work, { recursive: true, force: true });
});

test.run();
