/**
 * `driveseed rpc` conformance (docs/protocol.md): framing, ids, every error class, progress
 * notifications tied to ids and in order, cancellation, conflicts, confirmation, EOF, and stdout
 * carrying protocol only. Uses test-only commands (test/support/rpc-test-commands.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcCallError, RpcClient } from './support/rpc-client';
import { SECRET_VALUE } from './support/rpc-test-commands';

async function rejection(p: Promise<unknown>): Promise<RpcCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcCallError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

let c: RpcClient;
test.before(async () => {
  c = await RpcClient.start();
});

test('ready notification comes first with versions and methods', () => {
  const first = JSON.parse(c.lines[0]!) as { method: string; params: Record<string, unknown> };
  assert.is(first.method, 'ready');
  assert.type(first.params.driveseed, 'string');
  assert.is(first.params.protocol, '1.0');
  assert.is(first.params.node, process.versions.node);
  const methods = first.params.methods as string[];
  for (const m of ['version', 'drives.list', 'test.slow']) assert.ok(methods.includes(m), m);
});

test('version answers with the same id', async () => {
  const r = (await c.request('version')) as Record<string, unknown>;
  assert.is(r.protocol, '1.0');
  const resp = c.messages.find((m) => m.id === 1 && 'result' in m)!;
  assert.is(resp.jsonrpc, '2.0');
});

test('malformed JSON → -32700 with id null, then a good request is still served', async () => {
  c.sendRaw('{"jsonrpc":"2.0", "id": 99, "method":');
  const err = await c.waitFor((m) => m.error?.code === -32700);
  assert.is(err.id, null);
  const r = (await c.request('version')) as Record<string, unknown>;
  assert.is(r.protocol, '1.0');
});

test('non-object, batch, bad jsonrpc and bad id → -32600', async () => {
  const before = c.messages.length;
  c.sendRaw('42');
  c.sendRaw('[{"jsonrpc":"2.0","id":500,"method":"version"}]');
  c.sendRaw('{"jsonrpc":"1.0","id":501,"method":"version"}');
  c.sendRaw('{"jsonrpc":"2.0","id":{"x":1},"method":"version"}');
  await c.waitFor(() => c.messages.slice(before).filter((m) => m.error?.code === -32600).length === 4);
  const errs = c.messages.slice(before).filter((m) => m.error?.code === -32600);
  assert.equal(
    errs.map((m) => m.id),
    [null, null, 501, null],
  );
});

test('a method sent as a notification (no id) is refused with -32600 and not run', async () => {
  const before = c.messages.length;
  c.sendRaw('{"jsonrpc":"2.0","method":"test.slow","params":{"steps":1}}');
  const err = await c.waitFor((m) => c.messages.indexOf(m) >= before && m.error?.code === -32600);
  assert.is(err.id, null);
  assert.match(err.error!.message, /without an id/);
  assert.not.ok(c.messages.slice(before).some((m) => m.method === '$/progress'));
});

test('unknown method → -32601', async () => {
  const e = await rejection(c.request('no.such.method'));
  assert.is(e.code, -32601);
  assert.match(e.message, /no\.such\.method/);
});

test('bad params → -32602 naming the field (unknown, wrong type, missing, cook failure, positional array)', async () => {
  let e = await rejection(c.request('test.slow', { stpes: 3 }));
  assert.is(e.code, -32602);
  assert.is((e.data!.details as Record<string, unknown>).field, 'stpes');
  e = await rejection(c.request('test.slow', { steps: 'three' }));
  assert.is((e.data!.details as Record<string, unknown>).field, 'steps');
  assert.match(e.message, /Expected a finite number for param "steps"/);
  e = await rejection(c.request('test.wipe', {}));
  assert.is((e.data!.details as Record<string, unknown>).field, 'target');
  e = await rejection(c.request('test.slow', { steps: 0 }));
  assert.is(e.code, -32602);
  assert.is(e.fullyQualifiedErrorId, 'BAD_STEPS');
  assert.is((e.data!.details as Record<string, unknown>).field, 'steps');
  const raw = c.call('version', undefined);
  await raw.promise;
  c.sendRaw('{"jsonrpc":"2.0","id":"pos","method":"test.slow","params":[1,2]}');
  const pos = await c.waitFor((m) => m.id === 'pos');
  assert.is(pos.error!.code, -32602);
});

test('progress notifications carry the request id and arrive in order, before the result', async () => {
  const seen: Array<Record<string, unknown>> = [];
  const { id, promise } = c.call('test.slow', { steps: 6, delayMs: 5 }, (p) => seen.push(p));
  const result = (await promise) as { steps: number };
  assert.is(result.steps, 6);
  assert.ok(seen.every((p) => p.id === id));
  const steps = seen.filter((p) => p.type === 'event').map((p) => (p.data as { i: number }).i);
  assert.equal(steps, [1, 2, 3, 4, 5, 6]);
  assert.ok(seen.some((p) => p.type === 'info' && p.message === 'starting'));
  assert.ok(seen.some((p) => p.type === 'warning' && p.code === 'TEST_WARNING'));
  const respIndex = c.messages.findIndex((m) => m.id === id && 'result' in m);
  const lastNote = c.messages.map((m, i) => (m.method === '$/progress' && m.params?.id === id ? i : -1)).reduce((a, b) => Math.max(a, b));
  assert.ok(lastNote < respIndex, 'all notifications before the response');
});

test('several requests run at once; notifications stay tied to their own ids', async () => {
  const a: number[] = [];
  const b: number[] = [];
  const ca = c.call('test.slow', { steps: 4, delayMs: 10 }, (p) => p.type === 'event' && a.push(p.id as number));
  const cb = c.call('test.slow', { steps: 4, delayMs: 10 }, (p) => p.type === 'event' && b.push(p.id as number));
  await Promise.all([ca.promise, cb.promise]);
  assert.equal(a, [ca.id, ca.id, ca.id, ca.id]);
  assert.equal(b, [cb.id, cb.id, cb.id, cb.id]);
});

test('$/cancelRequest cancels a running request: error 130, data.code CANCELLED', async () => {
  const { id, promise } = c.call('test.slow', { steps: 1000, delayMs: 20 }, (p) => {
    if (p.type === 'event' && (p.data as { i: number }).i === 2) c.cancel(id);
  });
  const e = await rejection(promise);
  assert.is(e.code, 130);
  assert.is(e.fullyQualifiedErrorId, 'CANCELLED');
  assert.is(e.data!.category, 'CANCELLED');
  // the server keeps serving
  assert.is(((await c.request('version')) as Record<string, unknown>).protocol, '1.0');
});

test('cancelling an unknown id is ignored; as a request it answers {cancelled:false}', async () => {
  c.cancel(123456);
  c.sendRaw('{"jsonrpc":"2.0","id":"c1","method":"$/cancelRequest","params":{"id":98765}}');
  const r = await c.waitFor((m) => m.id === 'c1');
  assert.equal(r.result, { cancelled: false });
});

test('overlapping claims → TARGET_BUSY (TARGET_REFUSED, code 5); disjoint ones run together', async () => {
  const first = c.call('test.slow', { steps: 200, delayMs: 20, target: '/tmp/ds-claim/disk1' });
  await c.waitFor((m) => m.method === '$/progress' && m.params?.id === first.id);
  const e = await rejection(c.request('test.wipe', { target: ['/tmp/ds-claim'], confirm: '/tmp/ds-claim' }));
  assert.is(e.code, 5);
  assert.is(e.fullyQualifiedErrorId, 'TARGET_BUSY');
  assert.is(e.data!.category, 'TARGET_REFUSED');
  assert.is((e.data!.details as Record<string, unknown>).conflictsWith, first.id);
  const ok = (await c.request('test.wipe', { target: ['/tmp/ds-claim-other'], confirm: '/tmp/ds-claim-other' })) as { wiped: string[] };
  assert.equal(ok.wiped, ['/tmp/ds-claim-other']);
  c.cancel(first.id);
  await rejection(first.promise);
  // once the first has settled, the same target is free again
  const again = (await c.request('test.wipe', { target: ['/tmp/ds-claim'], confirm: '/tmp/ds-claim' })) as { wiped: string[] };
  assert.equal(again.wiped, ['/tmp/ds-claim']);
});

test('destructive methods need the confirm param naming the targets exactly', async () => {
  let e = await rejection(c.request('test.wipe', { target: ['/dev/loop9'] }));
  assert.is(e.fullyQualifiedErrorId, 'TARGET_NOT_CONFIRMED');
  assert.is(e.code, 5);
  e = await rejection(c.request('test.wipe', { target: ['/dev/loop9'], confirm: '/dev/loop' }));
  assert.is(e.fullyQualifiedErrorId, 'TARGET_NOT_CONFIRMED');
  e = await rejection(c.request('test.wipe', { target: ['/dev/loop9', '/dev/loop8'], confirm: ['/dev/loop8', '/dev/loop9'] }));
  assert.is(e.fullyQualifiedErrorId, 'TARGET_NOT_CONFIRMED');
  const ok = (await c.request('test.wipe', { target: ['/dev/loop9', '/dev/loop8'], confirm: ['/dev/loop9', '/dev/loop8'] })) as { wiped: string[] };
  assert.equal(ok.wiped, ['/dev/loop9', '/dev/loop8']);
});

test('RPC never prompts: a command that would ask fails with PROMPT_REQUIRED naming the param', async () => {
  const e = await rejection(c.request('test.ask', {}));
  assert.is(e.code, -32602);
  assert.is(e.fullyQualifiedErrorId, 'PROMPT_REQUIRED');
  assert.is((e.data!.details as Record<string, unknown>).field, 'carrier');
  assert.equal(await c.request('test.ask', { carrier: 'DHL' }), { carrier: 'DHL' });
});

test('native errors keep errno, path and syscall; internal errors are code 70 without a stack', async () => {
  let e = await rejection(c.request('test.native', {}));
  assert.is(e.code, 1);
  assert.is(e.fullyQualifiedErrorId, 'ENOSPC');
  assert.is(e.data!.errno, 28);
  assert.is(e.data!.path, '/mnt/seed/pack-0001');
  assert.is(e.data!.syscall, 'pwrite');
  e = await rejection(c.request('test.native', { code: 'ERR_LOCKED' }));
  assert.is(e.code, 5);
  // a cancellation the data plane noticed first is still data.code CANCELLED, one code for scripts
  e = await rejection(c.request('test.native', { code: 'ERR_CANCELLED' }));
  assert.is(e.code, 130);
  assert.is(e.fullyQualifiedErrorId, 'CANCELLED');
  assert.is((e.data!.details as Record<string, unknown>).nativeCode, 'ERR_CANCELLED');
  e = await rejection(c.request('test.crash', {}));
  assert.is(e.code, 70);
  assert.is(e.fullyQualifiedErrorId, 'INTERNAL');
  assert.not.match(e.message, /\n\s+at /);
});

test('secrets are redacted in notifications and results', async () => {
  const notes: string[] = [];
  const r = await c.request('test.secret', {}, (p) => notes.push(JSON.stringify(p)));
  assert.equal(r, { key: '[redacted]', note: 'the key is [redacted]' });
  for (const line of c.lines) assert.not.ok(line.includes(SECRET_VALUE), line);
  assert.ok(notes.some((n) => n.includes('sig=[redacted]')));
});

test('keys.list (returnsSecrets) returns the BitLocker keys in clear; nothing else does', async () => {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-keys-'));
  const key = '111111-222222-333333-444444-555555-666666-777777-888888';
  try {
    fs.mkdirSync(path.join(staging, '.prep'));
    const drive = { driveId: 'DS0123456789ABCD', manifestFile: '\\DriveManifest.xml', manifestHash: '0'.repeat(32), target: '/dev/sdz' };
    fs.writeFileSync(path.join(staging, '.prep', 'drives.json'), JSON.stringify({ version: 1, encryption: 'bitlocker', drives: [drive] }));
    fs.writeFileSync(path.join(staging, '.prep', 'keys.json'), JSON.stringify({ version: 1, keys: [{ driveId: drive.driveId, bitLockerKey: key }] }), {
      mode: 0o600,
    });
    const r = (await c.request('keys.list', { staging })) as { encryption: string; drives: Array<Record<string, unknown>> };
    assert.is(r.encryption, 'bitlocker');
    assert.equal(r.drives, [{ driveId: drive.driveId, target: '/dev/sdz', bitLockerKey: key }]);
    // the key is now a known secret of the server process: a method that is not keys.list redacts it
    assert.equal(await c.request('test.ask', { carrier: `key ${key}` }), { carrier: 'key [redacted]' });
    const missing = await rejection(c.request('keys.list', { staging: path.join(staging, 'nope') }));
    assert.is(missing.fullyQualifiedErrorId, 'PREP_NOT_DONE');
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test('stdout carries protocol only, even when a command writes to console.log and process.stdout', async () => {
  await c.request('test.slow', { steps: 1, delayMs: 1, noisy: true });
  for (const line of c.lines) {
    const m = JSON.parse(line) as Record<string, unknown>;
    assert.is(m.jsonrpc, '2.0');
  }
  assert.match(c.stderr, /stray console\.log from a dependency/);
  assert.match(c.stderr, /stray stdout write/);
});

test('EOF on stdin cancels running requests, each answers, and the server exits 0', async () => {
  const { id, promise } = c.call('test.slow', { steps: 10000, delayMs: 20 });
  await c.waitFor((m) => m.method === '$/progress' && m.params?.id === id);
  const settled = rejection(promise);
  const code = await c.close();
  const e = await settled;
  assert.is(e.fullyQualifiedErrorId, 'CANCELLED');
  assert.is(code, 0);
});

test.run();
