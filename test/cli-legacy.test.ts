/** The AzureOfflineBackupDiskPrep syntax (s:/p:/u:) rewritten to prep and ship, and parsed by the real program. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineCommand } from '../src/core/command';
import { DriveseedError } from '../src/core/errors';
import { rewriteLegacyArgv } from '../src/cli/legacy';
import { buildProgram, type Selection } from '../src/cli/program';

test('s:<staging> → prep --staging', () => {
  assert.equal(rewriteLegacyArgv(['s:/mnt/staging']), ['prep', '--staging', '/mnt/staging']);
});

test('s: and p: in either order, Windows paths with colons kept whole, upper case switches', () => {
  assert.equal(rewriteLegacyArgv(['S:D:\\Staging', 'p:C:\\keys\\my sub.publishsettings']), ['prep', '--staging', 'D:\\Staging', '--publish-settings', 'C:\\keys\\my sub.publishsettings']);
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
  for (const [args, name] of [[['s:D:\\St', 'p:a.publishsettings'], 'prep'], [['u:', 's:/st'], 'ship']] as Array<[string[], string]>) {
    let sel: Selection | undefined;
    const program = buildProgram([stub('prep'), stub('ship')], { select: (s) => (sel = s as Selection), writeOut: () => {}, writeErr: () => {} });
    await program.parseAsync(rewriteLegacyArgv(args), { from: 'user' });
    assert.is(sel!.spec.name, name);
    if (name === 'prep') assert.equal(sel!.raw, { staging: 'D:\\St', publishSettings: 'a.publishsettings' });
    else assert.equal(sel!.raw, { staging: '/st' });
  }
});

test.run();
