/**
 * `driveseed rpc` against hostile or careless input (docs/protocol.md "Framing", "Secrets",
 * "Notifications from the client"): a line without end, secrets in params that never come back, and
 * cancellations and protocol notifications that must be ignored without an answer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineSplitter, MAX_LINE_BYTES } from '../src/rpc/stdio';
import { RpcCallError, RpcClient, type RpcMessage } from './support/rpc-client';

function splitter(max: number) {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const s = new LineSplitter(
    max,
    (l) => lines.push(l),
    (m) => tooLong.push(m),
  );
  return { s, lines, tooLong };
}

test('LineSplitter: lines across chunks, a UTF-8 character split between chunks, a last line without newline', () => {
  const { s, lines, tooLong } = splitter(64);
  const text = Buffer.from('{"a":"é"}\n{"b":2}\r\n\n{"c":', 'utf8');
  const cut = text.indexOf(0xc3) + 1; // between the two bytes of é
  s.push(text.subarray(0, cut));
  assert.equal(lines, []);
  s.push(text.subarray(cut));
  s.push('3}');
  assert.equal(lines, ['{"a":"é"}', '{"b":2}\r', '']);
  s.end();
  assert.equal(lines, ['{"a":"é"}', '{"b":2}\r', '', '{"c":3}']);
  assert.equal(tooLong, []);
});

test('LineSplitter: a line at the limit passes; one byte more is reported once, as it passes the limit, and skipped to its newline', () => {
  const { s, lines, tooLong } = splitter(8);
  s.push('12345678\n');
  assert.equal(lines, ['12345678']);
  s.push('1234');
  s.push('56789');
  assert.equal(tooLong, [8], 'reported before any newline came');
  s.push('x'.repeat(1000));
  s.push('yyy\nok\n');
  assert.equal(tooLong, [8], 'once per line');
  assert.equal(lines, ['12345678', 'ok'], 'the rest of the long line is dropped; the next line is read');
  // a long line cut by EOF is not read either
  s.push('z'.repeat(20));
  s.end();
  assert.equal(lines, ['12345678', 'ok']);
  assert.equal(tooLong, [8, 8]);
});

/** Peak resident set of a process, in bytes (Linux). */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function write(c: RpcClient, data: string | Buffer): Promise<void> {
  if (!c.proc.stdin.write(data)) await new Promise((r) => c.proc.stdin.once('drain', r));
}

test('100 MB without a newline: -32600 as soon as the line passes the limit, memory stays bounded, the session goes on', async () => {
  const c = await RpcClient.start();
  try {
    const before = c.messages.length;
    const base = peakRss(c.proc.pid!);
    const chunk = Buffer.alloc(1024 * 1024, 0x78); // "xxxx…"
    for (let i = 0; i < 100; i++) await write(c, chunk);
    // answered before the line ends: no newline has been sent yet
    const err = await within(
      30_000,
      c.waitFor((m) => c.messages.indexOf(m) >= before && m.error?.code === -32600),
    );
    assert.is(err.id, null);
    assert.match(err.error!.message, `longer than ${MAX_LINE_BYTES} bytes`);
    assert.equal(err.error!.data, { maxLineBytes: MAX_LINE_BYTES });
    await write(c, '\n');
    const r = (await c.request('version')) as Record<string, unknown>;
    assert.is(r.protocol, '1.0');
    assert.is(c.messages.slice(before).filter((m) => m.error).length, 1, 'one error for the long line, nothing for its tail');
    // Held input is at most the 16 MiB limit plus a chunk: the peak grows by far less than the 100 MB
    // sent (measured: +46 MiB, garbage chunks included; a buffer that kept the line grows by 100 MB+).
    const peak = peakRss(c.proc.pid!);
    if (base !== undefined && peak !== undefined) assert.ok(peak - base < 80 * 1024 * 1024, `peak RSS grew by ${((peak - base) / 1048576).toFixed(0)} MiB`);
    assert.is(await c.close(), 0);
  } finally {
    c.proc.kill();
  }
});

test('secrets in params never come back: a wrong-typed passphrase, a broken line holding one, progress and errors of a real stage', async () => {
  const c = await RpcClient.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-rpc-secret-'));
  try {
    const digits = 73914628503;
    const e = (await c.request('stage', { sources: [dir], staging: path.join(dir, 'st'), job: 'seedjob', passphrase: digits }).catch((x) => x)) as RpcCallError;
    assert.instance(e, RpcCallError);
    assert.is(e.code, -32602);
    assert.is((e.data!.details as Record<string, unknown>).field, 'passphrase');
    assert.match(e.message, 'Expected a string for param "passphrase" but received a number');

    const broken = 'hunter2-broken-line-secret';
    c.sendRaw(broken);
    c.sendRaw(`{"jsonrpc":"2.0","id":77,"method":"stage","params":{"passphrase":"${broken}" oops}}`);
    await c.waitFor(() => c.messages.filter((m) => m.error?.code === -32700).length === 2);

    // a real stage with the passphrase as a param: progress notifications and the result
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(src, `f${i}`), `file ${i} `.repeat(1000));
    const pass = 'correct-horse-battery-staple-rpc';
    const notes: string[] = [];
    const staging = path.join(dir, 'staging');
    const done = (await c.request('stage', { sources: [src], staging, job: 'seedjob', passphrase: pass, threads: 2 }, (p) =>
      notes.push(JSON.stringify(p)),
    )) as { snapshot: string };
    assert.type(done.snapshot, 'string');
    assert.ok(notes.length > 0, 'the stage reported progress');
    // the same repository with another passphrase: WRONG_PASSPHRASE, which must not quote either
    const wrong = 'not-the-passphrase-at-all-rpc';
    const w = (await c.request('stage', { sources: [src], staging, job: 'seedjob', passphrase: wrong }).catch((x) => x)) as RpcCallError;
    assert.instance(w, RpcCallError);
    assert.is(w.fullyQualifiedErrorId, 'WRONG_PASSPHRASE');

    for (const line of c.lines) {
      for (const secret of [String(digits), broken, pass, wrong]) assert.not.ok(line.includes(secret), `${secret} echoed in ${line.slice(0, 300)}`);
    }
  } finally {
    await c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('$/cancelRequest for an unknown, finished or malformed id, and other $/ notifications, are ignored without an answer', async () => {
  const c = await RpcClient.start();
  try {
    const finished = c.call('version');
    await finished.promise;
    const before = c.messages.length;
    c.cancel(424242);
    c.cancel(finished.id);
    c.sendRaw('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{"nested":1}}}');
    c.sendRaw('{"jsonrpc":"2.0","method":"$/cancelRequest","params":[7]}');
    c.sendRaw('{"jsonrpc":"2.0","method":"$/cancelRequest"}');
    c.sendRaw('{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"off"}}');
    // the server reads lines in order: once this answers, the lines above have been handled
    const slow = c.call('test.slow', { steps: 2, delayMs: 5 });
    assert.equal(await slow.promise, { steps: 2, target: null }, 'a running request is not hit by a cancel of another id');
    const after = c.messages.slice(before).filter((m: RpcMessage) => m.method !== '$/progress');
    assert.equal(
      after.map((m) => m.id),
      [slow.id],
      `only the request was answered: ${JSON.stringify(after)}`,
    );
    // a $/ method sent as a request is still answered: method not found
    c.sendRaw('{"jsonrpc":"2.0","id":"t1","method":"$/setTrace","params":{"value":"off"}}');
    const t1 = await c.waitFor((m) => m.id === 't1');
    assert.is(t1.error?.code, -32601);
  } finally {
    await c.close();
  }
});

test.run();
