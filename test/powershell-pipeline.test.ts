// The documented PowerShell pipeline under real PowerShell 7 (test/powershell/Pipeline.Tests.ps1):
// stage → prep on two loop disks → job → ship → delivery by the emulator → status → complete →
// backup, against the real `driveseed rpc` of this source tree. This file attaches the disks and
// starts the emulator; each PowerShell case becomes one uvu test.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { nativeIoUnavailable } from '../src/prep/native';
import { attachLoop, gated, hasTool, loopUnavailable, tmpDir } from './helpers';
import { RETURN_INFO, SUB } from './prep-support/jobs';
import { PS_DIR, psCases, pwshEnv, pwshUnavailable, runPwshFile } from './powershell/pwsh';
import { ROOT } from './support/rpc-client';

const MiB = 1024 * 1024;
const reason =
  pwshUnavailable ??
  loopUnavailable() ??
  nativeIoUnavailable() ??
  (hasTool('mkntfs') && hasTool('ntfs-3g') && hasTool('sgdisk') ? undefined : 'needs ntfs-3g and gdisk');

async function main(): Promise<void> {
  if (reason) {
    gated(test, 'PowerShell pipeline on loop disks and the emulator', reason, () => undefined);
    test.run();
    return;
  }
  const work = tmpDir('driveseed-pwsh-pipeline-');
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'docs'), { recursive: true });
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(source, i % 2 ? 'docs' : '', `part-${i}.bin`), randomBytes(1_500_000 + i * 7_000));
  fs.writeFileSync(path.join(source, 'readme.txt'), 'seeded from PowerShell\n'.repeat(500));
  const passFile = path.join(work, 'passphrase');
  fs.writeFileSync(passFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  const returnFile = path.join(work, 'return.json');
  fs.writeFileSync(returnFile, JSON.stringify(RETURN_INFO));
  const suite = path.join(work, 'suite');
  fs.mkdirSync(suite);
  const disks = [attachLoop(64 * MiB), attachLoop(64 * MiB)];
  let emu: RunningEmulator | undefined;
  try {
    emu = await startEmulator({ stateDir: path.join(work, 'emulator') });
    const env = pwshEnv({
      DRIVESEED_EXE: path.join(PS_DIR, 'driveseed-dev.sh'),
      DRIVESEED_HOME: path.join(work, 'home'),
      DS_MODULE: path.join(ROOT, 'scripts', 'DriveSeed.psd1'),
      DS_WORK: suite,
      DS_SOURCE: source,
      DS_PASSPHRASE_FILE: passFile,
      DS_DISK_A: disks[0]!.dev,
      DS_DISK_B: disks[1]!.dev,
      DS_EMULATOR: emu.armEndpoint,
      DS_RETURN_ADDRESS: returnFile,
      DS_JOB: `pwsh-${randomBytes(3).toString('hex')}`,
      DS_SUBSCRIPTION: SUB,
    });
    const r = await runPwshFile(path.join(PS_DIR, 'Pipeline.Tests.ps1'), [], env, { timeoutMs: 8 * 60_000 });
    const cases = psCases(r.stdout);
    test('Pipeline.Tests.ps1 ran to its end (exit 0, every step reported)', () => {
      assert.is(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-3000)}`);
      assert.is(cases.length, 8, `${cases.length} steps reported:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    });
    for (const c of cases) {
      test(`${c.case} (${c.ms} ms in pwsh)`, () => {
        assert.ok(c.ok, `${c.error ?? 'failed'}${c.at ? `\n    at ${c.at}` : ''}`);
      });
    }
  } finally {
    await emu?.stop();
    for (const d of disks) d.detach();
    fs.rmSync(work, { recursive: true, force: true });
  }
  test.run();
}

void main();
