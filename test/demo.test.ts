// `npm run demo` as a user runs it (small data set to keep it short), and a demo that fails: in
// both cases nothing is left behind (no loop device over its images, no emulator, no work dir).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeIoUnavailable } from '../src/prep/native';
import { gated, hasTool, loopUnavailable } from './helpers';
import { ROOT } from './support/rpc-client';

const reason =
  loopUnavailable() ?? nativeIoUnavailable() ?? (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

const demoDirs = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('driveseed-demo-')));
const demoLoops = () =>
  spawnSync('losetup', ['-a'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('driveseed-demo-'));

gated(test, 'npm run demo (--size 32): every step passes, the summary has throughputs, nothing is left behind', reason, () => {
  const before = demoDirs();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs'), '--size', '32'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  assert.is(r.status, 0, r.stderr.slice(-3000));
  assert.match(r.stdout, /driveseed demo: all steps passed/);
  assert.match(r.stdout, /complete \(every blob verified against the manifests\)\s+[\d.]+ s\s+[\d.]+ MiB\/s/);
  assert.match(r.stdout, /incremental backup: [\d.]+ (KiB|MiB) over the network/);
  assert.match(r.stderr, /job Completed/);
  assert.equal(
    [...demoDirs()].filter((d) => !before.has(d)),
    [],
  );
  assert.equal(demoLoops(), []);
});

gated(test, 'a failing demo exits non-zero naming the step, and cleans up', reason, () => {
  const before = demoDirs();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs'), '--source', path.join(os.tmpdir(), 'driveseed-no-such-source')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /demo FAILED: step "source" failed: --source .* is not a directory/);
  assert.equal(
    [...demoDirs()].filter((d) => !before.has(d)),
    [],
  );
  assert.equal(demoLoops(), []);
});

test.run();
