/**
 * `driveseed verify`'s own option checks, before any drive is opened (the drive checks themselves run
 * on loop disks in test/prep-cli.test.ts): a target given twice is a target refusal like prep's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyCommand } from '../src/commands/verify';
import { DriveseedError, ExitCode } from '../src/base/errors';
import { runCli } from './support/cli';

test('a --target given twice: TARGET_DUPLICATE, TARGET_REFUSED (exit 5), naming the drive', async () => {
  const e = (await Promise.resolve()
    .then(() => verifyCommand.cook({ target: ['/dev/sdx', '/dev/sdy', '/dev/sdx'] }, { env: {} }))
    .catch((x: unknown) => x)) as DriveseedError;
  assert.instance(e, DriveseedError);
  assert.is(e.code, 'TARGET_DUPLICATE');
  assert.is(e.category, 'TARGET_REFUSED');
  assert.match(e.message, '/dev/sdx twice');
  assert.equal(e.details, { field: 'target', target: '/dev/sdx' });

  const r = runCli(['--json', 'verify', '--target', '/nonexistent/a', '/nonexistent/a']);
  assert.is(r.code, ExitCode.TARGET_REFUSED, r.stdout + r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { type: string; code: string; category: string; exitCode: number };
  assert.equal([last.type, last.code, last.category, last.exitCode], ['error', 'TARGET_DUPLICATE', 'TARGET_REFUSED', 5]);
});

test('distinct targets pass the check (and keep their order)', async () => {
  const o = await verifyCommand.cook({ target: ['/dev/sdx', '/dev/sdy'], staging: 'st' }, { env: {} });
  assert.equal(o.targets, ['/dev/sdx', '/dev/sdy']);
  assert.ok(o.staging!.endsWith('/st'));
});

test.run();
