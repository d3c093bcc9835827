// `npm run demo` as a user runs it (small data set to keep it short), and a demo that fails: in
// both cases nothing is left behind (no loop device over its images, no emulator, no work dir).
// The passing run keeps its work directory and transcripts long enough to scan them for secrets.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeIoUnavailable } from '../src/prep/native';
import { Secret } from '../src/base/secret';
import { readConfig, unlockConfig } from '../src/repo/config';
import { deriveKey } from '../src/repo/crypto';
import { gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { type Needle, keyNeedle, scanFile, scanText, scanTree, textNeedle } from './support/secret-scan';
import { ROOT } from './support/rpc-client';

const reason =
  loopUnavailable() ?? nativeIoUnavailable() ?? (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

const demoDirs = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('driveseed-demo-')));
const demoLoops = () =>
  spawnSync('losetup', ['-a'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('driveseed-demo-'));

/**
 * The secrets of a demo run: the passphrase, the storage account key, the repository's keys and the
 * key its passphrase derives. Read back from what the demo kept, so the test knows the real values.
 */
async function demoSecrets(work: string): Promise<Needle[]> {
  const pass = fs.readFileSync(path.join(work, 'passphrase'), 'utf8').trim();
  const staging = path.join(work, 'staging');
  const config = readConfig(staging);
  assert.ok(config, `the demo kept a staging location at ${staging}`);
  const keys = (await unlockConfig(staging, config, new Secret(pass))).blobKeys();
  const kek = await deriveKey(new Secret(pass), config.kdf);
  const accounts = JSON.parse(fs.readFileSync(path.join(work, 'emulator', 'emulator-state.json'), 'utf8')).accounts as Record<string, string>;
  return [
    textNeedle('passphrase', pass),
    ...Object.entries(accounts).map(([name, key]) => textNeedle(`account key of ${name}`, key)),
    keyNeedle('repository data key', keys.dataKey),
    keyNeedle('repository id key', keys.idKey),
    keyNeedle('key derived from the passphrase', kek),
  ];
}

gated(
  test,
  'npm run demo (--size 32): every step passes, the summary has throughputs, no secret is printed or written where it does not belong',
  reason,
  async () => {
    const before = demoDirs();
    const transcripts = tmpDir('driveseed-transcripts-');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'demo.mjs'), '--size', '32', '--keep', '--transcripts', transcripts], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 600_000,
    });
    const kept = [...demoDirs()].filter((d) => !before.has(d)).map((d) => path.join(os.tmpdir(), d));
    try {
      assert.is(r.status, 0, r.stderr.slice(-3000));
      assert.match(r.stdout, /driveseed demo: all steps passed/);
      assert.match(r.stdout, /complete \(every blob verified against the manifests\)\s+[\d.]+ s\s+[\d.]+ MiB\/s/);
      assert.match(r.stdout, /incremental backup: [\d.]+ (KiB|MiB) over the network/);
      assert.match(r.stderr, /job Completed/);
      assert.equal(demoLoops(), []);
      // --keep keeps only the work directory; everything else (loops, emulator) is gone.
      assert.is(kept.length, 1, `exactly one kept work directory: ${kept.join(', ')}`);
      const work = kept[0];
      assert.match(r.stderr, new RegExp(`work directory kept: ${work}`));

      const needles = await demoSecrets(work);
      // What the demo and every driveseed process it ran printed.
      assert.equal(scanText(r.stdout, needles), [], "the demo's stdout");
      assert.equal(scanText(r.stderr, needles), [], "the demo's stderr");
      const printed = scanTree(transcripts, needles);
      assert.ok(printed.files >= 20, `a transcript per step (stdout and stderr): ${printed.files} files`);
      assert.equal(printed.hits, [], 'what the driveseed processes printed');
      // Every file written: staging (records, portal files, caches), DRIVESEED_HOME, the emulator's
      // state and Azurite's store, the disk images, the restored trees. The passphrase file is the
      // demo's input; the emulator state is the service's own key store; both must be mode 0600.
      const written = scanTree(work, needles, {
        passphrase: ['passphrase'],
        [path.join('emulator', 'emulator-state.json')]: needles.filter((n) => n.name.startsWith('account key')).map((n) => n.name),
      });
      assert.ok(written.files > 30 && written.bytes > 64 * 1024 * 1024, `the scan covered the work directory: ${written.files} files, ${written.bytes} bytes`);
      assert.equal(written.hits, [], 'files written under the work directory');
      // The scanner finds what it looks for: the passphrase is in the input file.
      assert.equal(scanFile(path.join(work, 'passphrase'), needles), ['passphrase']);
    } finally {
      for (const d of [...kept, transcripts]) fs.rmSync(d, { recursive: true, force: true });
    }
  },
);

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
