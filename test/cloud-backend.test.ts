// The Backend conformance suite (src/repo/backend.ts), run against a local directory and a blob
// container in a private Azurite; plus the container-only behaviours: resumable uploads, Content-MD5,
// retries through a fault-injecting proxy, and the in-flight block cap.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BLOCK_SIZE, type Backend, LocalBackend, blockMd5Of } from '../src/repo/backend';
import { type AzuriteHandle, startAzurite } from '../src/cloud/azurite';
import { containerClientFor, describeLocation } from '../src/cloud/client';
import { ContainerBackend } from '../src/cloud/container-backend';
import { DriveseedError } from '../src/base/errors';
import { tmpDir } from './helpers';

let azurite: AzuriteHandle;
const work = tmpDir('driveseed-cloud-backend-');
let n = 0;

async function freshContainer(opts: ConstructorParameters<typeof ContainerBackend>[2] = {}, endpoint?: string): Promise<ContainerBackend> {
  const loc = azurite.location(`c${++n}-${Date.now()}`);
  if (endpoint) loc.blobEndpoint = endpoint;
  const be = new ContainerBackend(containerClientFor(loc), describeLocation(loc), opts);
  if (!endpoint) await be.ensureContainer();
  else await new ContainerBackend(containerClientFor(azurite.location(loc.container)), '').ensureContainer();
  return be;
}

/** The error code a promise rejects with ('resolved' when it does not). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

function file(name: string, bytes: Buffer): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, bytes);
  return p;
}

test.before(async () => {
  azurite = await startAzurite();
});
test.after(async () => {
  await azurite?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const backends: Array<[string, () => Promise<Backend>]> = [
  ['local directory', async () => new LocalBackend(tmpDir('driveseed-local-backend-'))],
  ['blob container', () => freshContainer()],
];

for (const [label, make] of backends) {
  test(`${label}: writeAtomic, stat, readAll, readRange, list (sorted, prefix), delete`, async () => {
    const be = await make();
    await be.writeAtomic('index/bb', Buffer.from('second'));
    await be.writeAtomic('index/aa', Buffer.from('first!'));
    await be.writeAtomic('snapshots/01', Buffer.from('snap'));
    await be.writeAtomic('index/aa', Buffer.from('replaced')); // replaces
    assert.equal(await be.stat('index/aa'), { path: 'index/aa', size: 8 });
    assert.is(await be.stat('index/missing'), undefined);
    assert.is((await be.readAll('index/aa')).toString(), 'replaced');
    assert.is((await be.readRange('index/aa', 2, 4)).toString(), 'plac');
    assert.equal(
      (await be.list('index/')).map((e) => e.path),
      ['index/aa', 'index/bb'],
    );
    assert.equal(
      (await be.list('')).map((e) => e.path),
      ['index/aa', 'index/bb', 'snapshots/01'],
    );
    await be.delete('index/aa');
    await be.delete('index/aa'); // missing is fine
    assert.equal(
      (await be.list('index/')).map((e) => e.path),
      ['index/bb'],
    );
    assert.match(await codeOf(be.readAll('index/aa')), /CLOUD_NOT_FOUND|REPO_IO/);
    assert.match(await codeOf(be.readRange('index/bb', 3, 10)), /CLOUD_IO|REPO_IO/); // beyond the end
    assert.is(await codeOf(be.stat('../escape')), 'BAD_REPO_PATH');
  });

  test(`${label}: putFile of a multi-block file round-trips; an identical second put sends nothing`, async () => {
    const be = await make();
    const bytes = randomBytes(2 * BLOCK_SIZE + 12345);
    const src = file(`multi-${label.replace(/\W/g, '')}`, bytes);
    const r1 = await be.putFile('data/ab/abcd', src, { blockMd5: blockMd5Of(bytes) });
    assert.is(r1.bytesSent, bytes.length);
    assert.is(r1.skipped, undefined);
    assert.ok((await be.readAll('data/ab/abcd')).equals(bytes));
    assert.ok((await be.readRange('data/ab/abcd', BLOCK_SIZE - 10, 20)).equals(bytes.subarray(BLOCK_SIZE - 10, BLOCK_SIZE + 10)));
    const r2 = await be.putFile('data/ab/abcd', src, { blockMd5: blockMd5Of(bytes) });
    assert.is(r2.skipped, 'committed');
    assert.is(r2.bytesSent, 0);
    assert.equal(
      (await be.list('data/')).map((e) => [e.path, e.size]),
      [['data/ab/abcd', bytes.length]],
    );
  });
}

test('blob container: a committed blob is skipped even without recorded MD5s (they are read from its block list)', async () => {
  const be = await freshContainer();
  const bytes = randomBytes(BLOCK_SIZE + 7);
  const src = file('nomd5', bytes);
  await be.putFile('data/00/x', src);
  const again = await be.putFile('data/00/x', src);
  assert.is(again.skipped, 'committed');
  // Different content of the same length is uploaded again.
  const other = randomBytes(bytes.length);
  const r = await be.putFile('data/00/x', file('nomd5b', other));
  assert.is(r.skipped, undefined);
  assert.ok((await be.readAll('data/00/x')).equals(other));
});

test('blob container: a recorded MD5 that does not match the bytes is refused by the service (Content-MD5), nothing is committed', async () => {
  const be = await freshContainer();
  const bytes = randomBytes(BLOCK_SIZE + 100);
  const bad = blockMd5Of(bytes);
  bad[20] ^= 1; // second block's MD5
  const err = await be.putFile('data/11/bad', file('bad', bytes), { blockMd5: bad }).catch((e: unknown) => e);
  assert.instance(err, DriveseedError);
  assert.is((err as DriveseedError).code, 'CLOUD_IO');
  assert.match((err as DriveseedError).message, /data\/11\/bad/);
  assert.is(await be.stat('data/11/bad'), undefined);
});

/** A proxy in front of Azurite whose `rule` decides per request: pass it on, answer 503, or reset the connection. */
async function faultProxy(rule: (req: http.IncomingMessage) => 'pass' | '503' | 'reset' | '400'): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const action = rule(req);
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action === '503' || action === '400') {
      req.resume();
      req.on('end', () => {
        res.writeHead(action === '503' ? 503 : 400, { 'content-type': 'application/xml', 'x-ms-error-code': action === '503' ? 'ServerBusy' : 'InvalidInput' });
        res.end(
          `<?xml version="1.0" encoding="utf-8"?><Error><Code>${action === '503' ? 'ServerBusy' : 'InvalidInput'}</Code><Message>injected</Message></Error>`,
        );
      });
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: azurite.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}/devstoreaccount1`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const isStageBlock = (req: http.IncomingMessage) => req.method === 'PUT' && /comp=block(&|$)/.test(req.url ?? '');

test('blob container: 503s and connection resets on Put Block are retried with backoff and the upload completes', async () => {
  let blocks = 0;
  const proxy = await faultProxy((req) => {
    if (!isStageBlock(req)) return 'pass';
    blocks++;
    return blocks === 1 ? '503' : blocks === 3 ? 'reset' : blocks === 4 ? '503' : 'pass';
  });
  try {
    const be = await freshContainer({ retry: { baseDelayMs: 5, maxDelayMs: 20 } }, proxy.endpoint);
    const bytes = randomBytes(3 * BLOCK_SIZE);
    await be.putFile('data/22/retry', file('retry', bytes));
    assert.ok(be.counters.retries >= 3, `retries ${be.counters.retries}`);
    assert.ok((await be.readAll('data/22/retry')).equals(bytes));
  } finally {
    await proxy.close();
  }
});

test('blob container: a permanent failure stops the upload; the rerun reuses the blocks already staged', async () => {
  let staged = 0;
  let failing = true;
  const proxy = await faultProxy((req) => {
    if (!failing || !isStageBlock(req)) return 'pass';
    return ++staged > 3 ? '400' : 'pass';
  });
  try {
    const be = await freshContainer({ maxBlocksInFlight: 1 }, proxy.endpoint);
    const bytes = randomBytes(6 * BLOCK_SIZE + 1);
    const src = file('resume', bytes);
    const err = await be.putFile('data/33/resume', src, { blockMd5: blockMd5Of(bytes) }).catch((e: unknown) => e);
    assert.is((err as DriveseedError).code, 'CLOUD_IO');
    assert.is(await be.stat('data/33/resume'), undefined, 'nothing visible after the failure');
    failing = false;
    const r = await be.putFile('data/33/resume', src, { blockMd5: blockMd5Of(bytes) });
    assert.is(r.blocksReused, 3);
    assert.is(r.bytesSent, bytes.length - 3 * BLOCK_SIZE);
    assert.ok((await be.readAll('data/33/resume')).equals(bytes));
  } finally {
    await proxy.close();
  }
});

test('blob container: parallel putFiles never hold more block buffers than the cap', async () => {
  const be = await freshContainer({ maxBlocksInFlight: 3 });
  const files = [0, 1, 2, 3].map((i) => file(`cap${i}`, randomBytes(3 * BLOCK_SIZE)));
  await Promise.all(files.map((f, i) => be.putFile(`data/44/cap${i}`, f)));
  assert.ok(be.counters.peakBlocksInFlight <= 3, `peak ${be.counters.peakBlocksInFlight}`);
  assert.ok(be.counters.peakBlocksInFlight >= 2, 'uploads did run in parallel');
  assert.is(be.counters.blocksStaged, 12);
});

test('blob container: an aborted upload rejects with the abort reason and commits nothing', async () => {
  const be = await freshContainer({ maxBlocksInFlight: 2 });
  const ctl = new AbortController();
  const reason = new DriveseedError('LEASE_LOST', 'lost', { category: 'FAILED' });
  const p = be.putFile('data/55/abort', file('abort', randomBytes(8 * BLOCK_SIZE)), { signal: ctl.signal, onProgress: () => ctl.abort(reason) });
  const err = await p.catch((e: unknown) => e);
  assert.is(err, reason);
  assert.is(await be.stat('data/55/abort'), undefined);
});

test.run();
