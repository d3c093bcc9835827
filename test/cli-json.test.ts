/**
 * --json: stdout is one JSON object per line and nothing else, ending with a result or error line;
 * human text and stray output stay off stdout; secrets are redacted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './support/cli';
import { SECRET_VALUE } from './support/rpc-test-commands';

const TYPES = new Set(['progress', 'warning', 'info', 'event', 'result', 'error']);

function lines(stdout: string): Array<Record<string, unknown>> {
  assert.ok(stdout.endsWith('\n'), 'stdout ends with a newline');
  const out = stdout
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const o of out) assert.ok(TYPES.has(o.type as string), `unknown type ${String(o.type)}`);
  const last = out[out.length - 1]!;
  assert.ok(last.type === 'result' || last.type === 'error', 'last line is result or error');
  assert.is(out.filter((o) => o.type === 'result' || o.type === 'error').length, 1, 'exactly one final line');
  return out;
}

test('a successful command: progress/info/warning/event lines, then result', () => {
  const r = runCli(['--json', 'test', 'slow', '--steps', '3', '--delay-ms', '1']);
  assert.is(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  assert.equal(out[out.length - 1], { type: 'result', data: { steps: 3, target: null } });
  assert.ok(out.some((o) => o.type === 'info' && o.message === 'starting'));
  assert.ok(out.some((o) => o.type === 'warning' && o.code === 'TEST_WARNING'));
  assert.equal(
    out.filter((o) => o.type === 'event').map((o) => (o.data as { i: number }).i),
    [1, 2, 3],
  );
  assert.equal(
    out.filter((o) => o.type === 'progress').map((o) => o.phase),
    ['step1', 'step2', 'step3'],
  );
});

test('a command left waiting on a promise nothing can settle exits 70 with STALLED, not 0 with no result', () => {
  const r = runCli(['--json', 'test', 'stall']);
  assert.is(r.code, 70, r.stderr);
  const out = lines(r.stdout);
  assert.is(out[out.length - 1]!.code, 'STALLED');
  assert.match(String(out[out.length - 1]!.message), /test stall stopped while waiting/);
  const t = runCli(['test', 'stall']);
  assert.is(t.code, 70);
  assert.match(t.stderr, /\[STALLED\]/);
});

test('--json may come after the command', () => {
  const r = runCli(['version', '--json']);
  assert.is(r.code, 0);
  const out = lines(r.stdout);
  assert.is((out[0]!.data as { protocol: string }).protocol, '1.0');
});

test('stray console.log/info and process.stdout writes go to stderr in --json mode', () => {
  const r = runCli(['--json', 'test', 'slow', '--steps', '1', '--delay-ms', '1', '--noisy']);
  assert.is(r.code, 0);
  const out = lines(r.stdout);
  assert.equal(out[out.length - 1], { type: 'result', data: { steps: 1, target: null } });
  assert.match(r.stderr, /stray console\.log from a dependency/);
  assert.match(r.stderr, /stray stdout write/);
});

test('a partial result still ends with its result line, exit 3, nothing on stderr', () => {
  const r = runCli(['--json', 'test', 'partial']);
  assert.is(r.code, 3);
  const out = lines(r.stdout);
  assert.equal(out[out.length - 1], { type: 'result', data: { skipped: 1 } });
  assert.ok(out.some((o) => o.type === 'warning' && o.code === 'FILE_UNREADABLE'));
  assert.is(r.stderr, '');
});

test('errors end with an error line {code, category, exitCode, message, details}', () => {
  let r = runCli(['--json', 'test', 'native']);
  assert.is(r.code, 1);
  let last = lines(r.stdout).pop()!;
  assert.is(last.code, 'ENOSPC');
  assert.is(last.category, 'FAILED');
  assert.is(last.exitCode, 1);
  assert.equal(last.details, { offset: 4096, errno: 28, path: '/mnt/seed/pack-0001', syscall: 'pwrite' });
  r = runCli(['--json', 'test', 'crash']);
  assert.is(r.code, 70);
  last = lines(r.stdout).pop()!;
  assert.is(last.code, 'INTERNAL');
  assert.not.match(String(last.message), /\n/);
});

test('usage errors from commander are JSON error lines too', () => {
  for (const args of [['--json', 'nope'], ['--json', 'version', '--bogus'], ['--json'], ['--json', 'test', 'slow', '--steps', 'x']]) {
    const r = runCli(args);
    assert.is(r.code, 2, args.join(' '));
    const last = lines(r.stdout).pop()!;
    assert.is(last.type, 'error');
    assert.is(last.category, 'USAGE');
  }
});

test('a question in --json mode is PROMPT_REQUIRED naming the option', () => {
  const r = runCli(['--json', 'test', 'ask']);
  assert.is(r.code, 2);
  const last = lines(r.stdout).pop()!;
  assert.is(last.code, 'PROMPT_REQUIRED');
  assert.equal(last.details, { field: 'carrier', flag: '--carrier' });
  assert.equal(lines(runCli(['--json', 'test', 'ask', '--carrier', 'UPS']).stdout).pop(), { type: 'result', data: { carrier: 'UPS' } });
});

test('secrets never reach stdout or stderr', () => {
  for (const args of [
    ['--json', 'test', 'secret'],
    ['test', 'secret'],
  ]) {
    const r = runCli(args);
    assert.is(r.code, 0);
    assert.not.ok(r.stdout.includes(SECRET_VALUE), r.stdout);
    assert.not.ok(r.stderr.includes(SECRET_VALUE), r.stderr);
    assert.not.ok((r.stdout + r.stderr).includes('abcdef123'));
  }
});

test('keys (returnsSecrets) prints the BitLocker keys in clear, in --json and in text mode', () => {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-keys-'));
  const key = '123456-234567-345678-456789-567890-678901-789012-890123';
  try {
    fs.mkdirSync(path.join(staging, '.prep'));
    fs.writeFileSync(
      path.join(staging, '.prep', 'drives.json'),
      JSON.stringify({ version: 1, encryption: 'bitlocker', drives: [{ driveId: 'DSAAAABBBBCCCCDD', manifestFile: 'x', manifestHash: 'y' }] }),
    );
    fs.writeFileSync(path.join(staging, '.prep', 'keys.json'), JSON.stringify({ version: 1, keys: [{ driveId: 'DSAAAABBBBCCCCDD', bitLockerKey: key }] }));
    const r = runCli(['--json', 'keys', '--staging', staging]);
    assert.is(r.code, 0, r.stderr);
    assert.equal(lines(r.stdout).pop(), {
      type: 'result',
      data: { staging, source: 'prep', encryption: 'bitlocker', drives: [{ driveId: 'DSAAAABBBBCCCCDD', target: null, bitLockerKey: key }] },
    });
    const t = runCli(['keys', '--staging', staging]);
    assert.is(t.code, 0, t.stderr);
    assert.is(t.stdout, `DSAAAABBBBCCCCDD: ${key}\n`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
});

test('the drives command has JSON output that ends with its result', () => {
  const r = runCli(['--json', 'drives']);
  assert.is(r.code, 0, r.stderr);
  const last = lines(r.stdout).pop()!;
  assert.ok(Array.isArray((last.data as { disks: unknown[] }).disks));
});

test.run();
