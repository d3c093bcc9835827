/** The AzureOfflineBackupDiskPrep syntax (s:/p:/u:) rewritten to prep and ship, and parsed by the real program. */
import * as fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineCommand } from '../src/core/command';
import { DriveseedError } from '../src/base/errors';
import { GLOBAL_OPTIONS, rewriteLegacyArgv } from '../src/cli/legacy';
import { buildProgram, type Selection } from '../src/cli/program';
import { tmpDir } from './helpers';
import { runCli } from './support/cli';

test('s:<staging> → prep --staging', () => {
  assert.equal(rewriteLegacyArgv(['s:/mnt/staging']), ['prep', '--staging', '/mnt/staging']);
});

test('s: and p: in either order, Windows paths with colons kept whole, upper case switches', () => {
  assert.equal(rewriteLegacyArgv(['S:D:\\Staging', 'p:C:\\keys\\my sub.publishsettings']), [
    'prep',
    '--staging',
    'D:\\Staging',
    '--publish-settings',
    'C:\\keys\\my sub.publishsettings',
  ]);
  assert.equal(rewriteLegacyArgv(['p:x.publishsettings', 's:/st']), ['prep', '--staging', '/st', '--publish-settings', 'x.publishsettings']);
});

test('u: → ship, with optional s: and p:', () => {
  assert.equal(rewriteLegacyArgv(['u:']), ['ship']);
  assert.equal(rewriteLegacyArgv(['U:', 's:/st', 'p:f.publishsettings']), ['ship', '--staging', '/st', '--publish-settings', 'f.publishsettings']);
});

test('other tokens pass through after the rewritten ones', () => {
  assert.equal(rewriteLegacyArgv(['s:/st', '--json', '--yes']), ['prep', '--staging', '/st', '--json', '--yes']);
});

test('modern syntax is untouched', () => {
  assert.equal(rewriteLegacyArgv(['prep', '--staging', 's:/x']), ['prep', '--staging', 's:/x']);
  assert.equal(rewriteLegacyArgv([]), []);
  assert.equal(rewriteLegacyArgv(['--json', 'version']), ['--json', 'version']);
});

test('global options before the legacy words stay in front: driveseed --json u: is driveseed --json ship', () => {
  assert.equal(rewriteLegacyArgv(['--json', 'u:']), ['--json', 'ship']);
  assert.equal(rewriteLegacyArgv(['--verbose', '--json', 's:/st', 'p:f.publishsettings', '--yes']), [
    '--verbose',
    '--json',
    'prep',
    '--staging',
    '/st',
    '--publish-settings',
    'f.publishsettings',
    '--yes',
  ]);
  assert.equal(rewriteLegacyArgv(['--json', 'u:', 's:/st']), ['--json', 'ship', '--staging', '/st']);
  // only the program's own options may precede them: anything else before is not legacy syntax
  assert.equal(rewriteLegacyArgv(['--yes', 'u:']), ['--yes', 'u:']);
  assert.equal(rewriteLegacyArgv(['--json']), ['--json']);
  // a malformed legacy line after the global options is still refused
  assert.is(legacyError(['--json', 's:/a', 'u:']).code, 'LEGACY_SYNTAX');
});

test('GLOBAL_OPTIONS are exactly the options of the program', () => {
  const program = buildProgram([], { select: () => {}, writeOut: () => {}, writeErr: () => {} });
  assert.equal(program.options.map((o) => o.long).sort(), [...GLOBAL_OPTIONS].sort());
  assert.ok(
    program.options.every((o) => !o.required && !o.optional),
    'global options take no value (the rewrite skips them one token each)',
  );
});

test('--json before u: parses into ship with the global --json, like u: --json', async () => {
  const stub = defineCommand({
    name: 'ship',
    rpcMethod: 'ship',
    summary: 'parse check',
    options: [{ flags: '--staging <dir>', name: 'staging', description: 'staging', type: 'string' }],
    cook: (raw: Record<string, unknown>) => raw,
    run: async () => null,
  });
  for (const args of [
    ['--json', 'u:', 's:/st'],
    ['u:', 's:/st', '--json'],
  ]) {
    let sel: Selection | undefined;
    const program = buildProgram([stub], { select: (s) => (sel = s as Selection), writeOut: () => {}, writeErr: () => {} });
    await program.parseAsync(rewriteLegacyArgv(args), { from: 'user' });
    assert.is(sel?.spec.name, 'ship', args.join(' '));
    assert.equal(sel!.raw, { staging: '/st' });
    assert.is(program.opts().json, true, `${args.join(' ')}: --json reached the program`);
  }
});

test('CLI: driveseed --json u: runs ship (not UNKNOWN_COMMAND) and prints only JSON lines', () => {
  const home = tmpDir('driveseed-legacy-home-');
  try {
    for (const args of [
      ['--json', 'u:'],
      ['u:', '--json'],
    ]) {
      const r = runCli(args, { DRIVESEED_HOME: home });
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; code?: string });
      const last = lines.at(-1)!;
      assert.is(last.type, 'error', args.join(' '));
      // no job waiting in an empty DRIVESEED_HOME: ship's own refusal, proving ship ran
      assert.is(last.code, 'JOB_NOT_FOUND', `${args.join(' ')}: ${r.stdout}`);
      assert.is(r.code, 2);
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

function legacyError(args: string[]): DriveseedError {
  try {
    rewriteLegacyArgv(args);
  } catch (e) {
    assert.instance(e, DriveseedError);
    return e as DriveseedError;
  }
  throw new Error(`expected ${args.join(' ')} to be refused`);
}

test('malformed legacy syntax is a usage error that says the right form', () => {
  for (const [args, re] of [
    [['s:'], /needs a value: s:<staging directory>/],
    [['s:/a', 's:/b'], /s: given twice/],
    [['s:/a', 'p:1', 'p:2'], /p: given twice/],
    [['p:f.publishsettings'], /needs the staging location first/],
    [['s:/a', 'u:'], /u: takes no value and must come first/],
    [['u:x'], /u: takes no value/],
  ] as Array<[string[], RegExp]>) {
    const e = legacyError(args);
    assert.is(e.code, 'LEGACY_SYNTAX');
    assert.is(e.category, 'USAGE');
    assert.match(e.message, re);
  }
});

test('the rewritten argv parses into the prep/ship options (--staging, --publish-settings)', async () => {
  const stub = (name: string) =>
    defineCommand({
      name,
      rpcMethod: name,
      summary: 'parse check',
      options: [
        { flags: '--staging <dir>', name: 'staging', description: 'staging', type: 'string' },
        { flags: '--publish-settings <file>', name: 'publishSettings', description: 'publish settings', type: 'string' },
      ],
      cook: (raw: Record<string, unknown>) => raw,
      run: async () => null,
    });
  for (const [args, name] of [
    [['s:D:\\St', 'p:a.publishsettings'], 'prep'],
    [['u:', 's:/st'], 'ship'],
  ] as Array<[string[], string]>) {
    let sel: Selection | undefined;
    const program = buildProgram([stub('prep'), stub('ship')], { select: (s) => (sel = s as Selection), writeOut: () => {}, writeErr: () => {} });
    await program.parseAsync(rewriteLegacyArgv(args), { from: 'user' });
    assert.is(sel!.spec.name, name);
    if (name === 'prep') assert.equal(sel!.raw, { staging: 'D:\\St', publishSettings: 'a.publishsettings' });
    else assert.equal(sel!.raw, { staging: '/st' });
  }
});

test.run();
