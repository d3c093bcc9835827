/**
 * Every registered command (src/commands/index.ts) in --json mode, spawned as a user would run
 * it: along its error paths (required options missing; or an unknown option when it has none; and a
 * nonexistent staging location / source / target with the required options filled in) and, where
 * cheap, its success path (version, drives). For each run:
 *   - stdout parses line by line, every object has a `type` of the documented ones
 *   - the last line, and only it, is `result` or `error`; an `error` has a string `code`, a
 *     `category` of docs/exit-codes.md and `exitCode` equal to that table's entry for the category
 *   - the process exits with that code (a `result` line: 0, 3 or 4 by the command's own verdict)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allCommands } from '../src/commands';
import type { CommandSpec } from '../src/core/command';
import { tmpDir } from './helpers';
import { MAIN, cliEnv } from './support/cli';
import { ROOT } from './support/rpc-client';

const commands = allCommands();

const TYPES = new Set(['progress', 'warning', 'info', 'event', 'result', 'error']);

/** category → exit code, from the table in docs/exit-codes.md (not from ExitCode: the doc is the contract) */
const TABLE = (() => {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'exit-codes.md'), 'utf8');
  const section = text.slice(text.indexOf('## Exit codes'), text.indexOf('## Stable error codes'));
  return new Map([...section.matchAll(/^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => [m[2]!, Number(m[1])]));
})();

const base = tmpDir('driveseed-json-all-');
const missing = path.join(base, 'does-not-exist');

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  // A command that reaches out (emulator deliver, job create) gets a port where nothing listens.
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', MAIN, '--json', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: cliEnv({ DRIVESEED_PASSPHRASE: 'json-all-test', AZURE_TENANT_ID: '', HOME: base }),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The checks every --json run must pass; returns the last line. */
function checkRun(what: string, r: { code: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  assert.ok(r.code !== null, `${what}: did not exit (timeout?)\n${r.stderr}`);
  assert.ok(r.stdout.endsWith('\n'), `${what}: stdout ends with a newline: ${JSON.stringify(r.stdout.slice(-200))}`);
  const lines = r.stdout.slice(0, -1).split('\n');
  const objs = lines.map((l, i) => {
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch {
      assert.unreachable(`${what}: stdout line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
    assert.ok(o && typeof o === 'object' && !Array.isArray(o), `${what}: line ${i + 1} is not an object`);
    const t = (o as Record<string, unknown>).type;
    assert.ok(typeof t === 'string' && TYPES.has(t), `${what}: line ${i + 1} has type ${String(t)}`);
    return o as Record<string, unknown>;
  });
  const finals = objs.filter((o) => o.type === 'result' || o.type === 'error');
  assert.is(finals.length, 1, `${what}: exactly one result/error line`);
  const last = objs[objs.length - 1]!;
  assert.ok(last === finals[0], `${what}: the result/error line is the last line`);
  if (last.type === 'error') {
    assert.type(last.code, 'string', `${what}: error code is a string`);
    assert.ok(/^[A-Z][A-Z0-9_]*$/.test(last.code as string), `${what}: code ${String(last.code)}`);
    assert.type(last.message, 'string');
    const want = TABLE.get(last.category as string);
    assert.ok(want !== undefined, `${what}: category ${String(last.category)} is not in docs/exit-codes.md`);
    assert.is(last.exitCode, want, `${what}: exitCode of ${String(last.category)}`);
    assert.is(r.code, want, `${what}: process exit code for ${String(last.category)} (${String(last.code)}: ${String(last.message)})`);
  } else {
    assert.ok([TABLE.get('OK'), TABLE.get('PARTIAL'), TABLE.get('VERIFY_FAILED')].includes(r.code!), `${what}: a result line exits 0, 3 or 4, not ${r.code}`);
  }
  return last;
}

function requiredOf(spec: CommandSpec<unknown, unknown, unknown>) {
  return {
    options: (spec.options ?? []).filter((o) => o.required && !o.rpcOnly && o.defaultValue === undefined),
    args: (spec.args ?? []).filter((a) => a.required),
  };
}

/** argv that gives every required option and argument a value that names nothing that exists */
function filledArgs(spec: CommandSpec<unknown, unknown, unknown>): string[] {
  const { options, args } = requiredOf(spec);
  const out = spec.name.split(' ');
  for (const o of options) {
    const flag = o.flags.split(/[ ,|]+/).find((f) => f.startsWith('--'))!;
    out.push(flag, o.type === 'number' ? '1' : o.name === 'job' ? 'nosuchjob' : path.join(missing, o.name));
  }
  for (const a of args) out.push(path.join(missing, a.name));
  // optional staging (ship) and ARM endpoints: point at nothing
  if ((spec.options ?? []).some((o) => o.name === 'staging' && !o.required)) out.push('--staging', path.join(missing, 'staging'));
  if ((spec.options ?? []).some((o) => o.name === 'emulator')) out.push('--emulator', 'http://127.0.0.1:9');
  return out;
}

const specs = commands.filter((c) => !c.name.startsWith('test '));

test('the registry holds the workflow commands this test is about', () => {
  for (const n of ['stage', 'check', 'restore', 'prep', 'verify', 'version', 'drives'])
    assert.ok(
      specs.some((s) => s.name === n),
      n,
    );
});

for (const spec of specs) {
  test(`${spec.name}: error path, required options missing (or an unknown option)`, () => {
    const { options, args } = requiredOf(spec);
    const argv = spec.name.split(' ');
    const r = run(options.length + args.length > 0 ? argv : [...argv, '--no-such-option']);
    const last = checkRun(`${spec.name} (missing)`, r);
    assert.is(last.type, 'error');
    assert.is(last.category, 'USAGE');
    assert.ok(['MISSING_OPTION', 'MISSING_ARGUMENT', 'UNKNOWN_OPTION'].includes(last.code as string), String(last.code));
  });

  const touchesPaths =
    (spec.options ?? []).some((o) => ['staging', 'target', 'to'].includes(o.name)) ||
    (spec.args ?? []).length > 0 ||
    (spec.options ?? []).some((o) => o.name === 'emulator');
  if (touchesPaths) {
    test(`${spec.name}: error path, staging/source/target that do not exist`, () => {
      const argv = filledArgs(spec);
      const last = checkRun(`${argv.join(' ')}`, run(argv));
      assert.is(last.type, 'error', `${spec.name} succeeded on paths that do not exist: ${JSON.stringify(last)}`);
      assert.not.ok(fs.existsSync(missing), `${spec.name} created ${missing}`);
    });
  }
}

test('version: success path', () => {
  const last = checkRun('version', run(['version']));
  assert.is(last.type, 'result');
  assert.is((last.data as { protocol: string }).protocol, '1.0');
});

test('drives: success path', () => {
  const last = checkRun('drives', run(['drives']));
  assert.is(last.type, 'result');
  assert.ok(Array.isArray((last.data as { disks: unknown[] }).disks));
});

test.after(() => fs.rmSync(base, { recursive: true, force: true }));

test.run();
