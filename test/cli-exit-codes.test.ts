/**
 * docs/exit-codes.md against ExitCode, and the exit codes the CLI really returns (spawned from source).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExitCode } from '../src/base/errors';
import { runCli, spawnCli } from './support/cli';
import { ROOT } from './support/rpc-client';

function docTable(): Map<string, number> {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'exit-codes.md'), 'utf8');
  const section = text.slice(text.indexOf('## Exit codes'), text.indexOf('## Stable error codes'));
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|/gm)) rows.set(m[2]!, Number(m[1]));
  return rows;
}

test('docs/exit-codes.md lists exactly the categories of ExitCode, with the same numbers', () => {
  const rows = docTable();
  assert.equal(Object.fromEntries([...rows].sort()), Object.fromEntries(Object.entries(ExitCode).sort()));
});

test('exit codes are distinct', () => {
  const values = Object.values(ExitCode);
  assert.is(new Set(values).size, values.length);
});

test('success exits 0', () => {
  const r = runCli(['version']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^driveseed \d+\.\d+\.\d+ \(protocol 1\.0\)/);
});

test('unknown command exits 2 (USAGE) naming it', () => {
  const r = runCli(['frobnicate']);
  assert.is(r.code, ExitCode.USAGE);
  assert.match(r.stderr, /unknown command 'frobnicate' .*\[UNKNOWN_COMMAND\]/);
  assert.is(r.stdout, '');
});

test('unknown option, missing value, bad number, missing required option: exit 2 with a precise message', () => {
  let r = runCli(['version', '--bogus']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /unknown option '--bogus'.*\[UNKNOWN_OPTION\]/);
  r = runCli(['test', 'slow', '--steps']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--steps <n>' argument missing.*\[OPTION_MISSING_VALUE\]/);
  r = runCli(['test', 'slow', '--steps', 'abc']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Expected a number for --steps but received "abc"/);
  r = runCli(['test', 'wipe']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--target <t\.\.\.>' not specified.*\[MISSING_OPTION\]/);
  r = runCli(['test', 'slow', '--steps', '0']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /positive integer for --steps.*\[BAD_STEPS\]/);
});

test('no command: help on stderr, exit 2', () => {
  const r = runCli([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /Usage: driveseed/);
  assert.match(r.stderr, /\[NO_COMMAND\]/);
});

test('an internal error exits 70 with one line and no stack; DRIVESEED_DEBUG=1 adds the stack', () => {
  let r = runCli(['test', 'crash']);
  assert.is(r.code, ExitCode.INTERNAL);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /Internal error: undefined is not a function.*\[INTERNAL\]/);
  r = runCli(['test', 'crash'], { DRIVESEED_DEBUG: '1' });
  assert.is(r.code, 70);
  assert.match(r.stderr, /\n\s+at /);
});

test('a native ENOSPC exits 1 (FAILED); ERR_LOCKED exits 5 (TARGET_REFUSED)', () => {
  let r = runCli(['test', 'native']);
  assert.is(r.code, ExitCode.FAILED);
  assert.match(r.stderr, /No space left on device \[ENOSPC\]/);
  r = runCli(['test', 'native', '--code', 'ERR_LOCKED']);
  assert.is(r.code, ExitCode.TARGET_REFUSED);
});

test('a partial result prints the result and exits 3', () => {
  const r = runCli(['test', 'partial']);
  assert.is(r.code, ExitCode.PARTIAL);
  assert.match(r.stderr, /warning: skipped \/src\/secret\.db: EACCES \[FILE_UNREADABLE\]/);
  assert.match(r.stdout, /"skipped": 1/);
});

test('without a terminal a question becomes PROMPT_REQUIRED naming the option (exit 2)', () => {
  const r = runCli(['test', 'ask']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /pass --carrier.*\[PROMPT_REQUIRED\]/);
});

test('SIGINT cancels the command, which winds down: exit 130', async () => {
  let sent = false;
  const r = await spawnCli(['test', 'slow', '--steps', '100000', '--delay-ms', '20'], (child, _out, err) => {
    if (!sent && /step2/.test(err)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, `no progress seen: ${r.stderr}`);
  assert.is(r.code, ExitCode.CANCELLED);
  assert.match(r.stderr, /Cancelling/);
  assert.match(r.stderr, /\[CANCELLED\]/);
});

test('bin/driveseed.js without dist/ says to run npm run build', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-bin-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(path.join(ROOT, 'bin', 'driveseed.js'), path.join(dir, 'bin', 'driveseed.js'));
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'driveseed.js'), 'version'], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.is(r.status, 70);
  assert.match(r.stderr, /Fix: run `npm run build`.*\[NOT_BUILT\]/);
});

test.run();
