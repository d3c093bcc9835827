/**
 * unlockConfig with a key derivation started ahead of time (backup starts scrypt from the staging
 * copy of the config while the container's copy is fetched): the head start is used only for the
 * same KDF parameters and salt, a different config still unlocks with its own, and a wrong passphrase
 * is still refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import { Secret } from '../src/base/secret';
import { createConfig, startKeyDerivation, unlockConfig } from '../src/repo/config';

const FAST = { kdf: { N: 2 ** 12, r: 8, p: 1 } };

function dir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-unlock-'));
}

test('a derivation started from an identical config opens the repository with the same keys', async () => {
  const d = dir();
  const { config, keys } = await createConfig(d, new Secret('right one'), FAST);
  const early = startKeyDerivation(new Secret('right one'), config.kdf);
  const got = await unlockConfig(d, config, new Secret('right one'), early);
  assert.ok(got.raw().equals(keys.raw()));
});

test('a derivation for another salt is not used: the config unlocks with its own KDF', async () => {
  const a = await createConfig(dir(), new Secret('pw'), FAST);
  const d = dir();
  const b = await createConfig(d, new Secret('pw'), FAST);
  assert.is.not(a.config.kdf.salt, b.config.kdf.salt);
  const got = await unlockConfig(d, b.config, new Secret('pw'), startKeyDerivation(new Secret('pw'), a.config.kdf));
  assert.ok(got.raw().equals(b.keys.raw()));
});

test('a head start with a wrong passphrase is still WRONG_PASSPHRASE', async () => {
  const d = dir();
  const { config } = await createConfig(d, new Secret('right one'), FAST);
  const early = startKeyDerivation(new Secret('wrong one'), config.kdf);
  try {
    await unlockConfig(d, config, new Secret('wrong one'), early);
    assert.unreachable('unlocked with a wrong passphrase');
  } catch (err) {
    assert.instance(err, DriveseedError);
    assert.is((err as DriveseedError).code, 'WRONG_PASSPHRASE');
  }
});

test.run();
