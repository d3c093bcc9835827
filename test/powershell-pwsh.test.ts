// The PowerShell module's own suite (test/powershell/Module.Tests.ps1) and the parser check of every
// PowerShell file in the repository (test/powershell/Lint.ps1), run by real PowerShell 7
// (`pwsh -NoProfile -NonInteractive -File`). Each PowerShell case becomes one uvu test here, so
// its result counts in the `N passed, N failed` total. The module talks to the real `driveseed rpc`
// of this source tree ($DRIVESEED_EXE = test/powershell/driveseed-dev.sh).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WINDOWS_SCRIPT } from '../src/core/drives';
import {
  bitLockerStatusScript,
  diskVolumeScript,
  enableBitLockerScript,
  formatDiskScript,
  getDiskScript,
  getVolumeScript,
  powerShellArgs,
  readRecoveryPasswordScript,
  scriptOfArgs,
} from '../src/prep/powershell-scripts';
import { gated, poorlyCompressible, tmpDir } from './helpers';
import { fakePrepared, KEY } from './prep-support/jobs';
import { PS_DIR, psCases, PWSH, pwshEnv, pwshUnavailable, runPwshFile, type PsCase } from './powershell/pwsh';
import { ROOT, TEST_COMMANDS } from './support/rpc-client';

/** Registers one uvu test per PowerShell case (a skipped case is a skipped test whose title says why). */
function register(suite: string, cases: PsCase[]): void {
  for (const c of cases) {
    if (c.skip) {
      gated(test, `${suite}: ${c.case}`, c.skip, () => undefined);
      continue;
    }
    test(`${suite}: ${c.case} (${c.ms} ms in pwsh)`, () => {
      assert.ok(c.ok, `${c.error ?? 'failed'}${c.at ? `\n    at ${c.at}` : ''}`);
    });
  }
}

/**
 * Every script the product sends to PowerShell, as it is executed (wrapped), written to a folder for
 * Lint.ps1: they run under powershell.exe 5.1 on Windows, so they must parse there too.
 */
function writeGeneratedScripts(): string {
  const dir = tmpDir('driveseed-ps-generated-');
  const scripts: Record<string, string> = {
    'getDiskScript.ps1': getDiskScript(2),
    'formatDiskScript.ps1': formatDiskScript(2, "O'Brien"),
    'diskVolumeScript.ps1': diskVolumeScript(2, 2),
    'getVolumeScript.ps1': getVolumeScript('E'),
    'enableBitLockerScript.ps1': enableBitLockerScript('E'),
    'readRecoveryPasswordScript.ps1': readRecoveryPasswordScript('E'),
    'bitLockerStatusScript.ps1': bitLockerStatusScript('E'),
  };
  for (const [name, script] of Object.entries(scripts)) fs.writeFileSync(path.join(dir, name), scriptOfArgs(powerShellArgs(script)));
  fs.writeFileSync(path.join(dir, 'drives-WINDOWS_SCRIPT.ps1'), WINDOWS_SCRIPT);
  return dir;
}

/** The files the module suite works on, made fresh for each run. */
function moduleInputs(): { env: Record<string, string>; cleanup(): void } {
  const work = tmpDir('driveseed-pwsh-');
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'sub'), { recursive: true });
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(source, i % 2 ? 'sub' : '', `file-${i}.bin`), randomBytes(40_000 + i * 1000));
  fs.writeFileSync(path.join(source, 'notes.txt'), 'staged from PowerShell\n'.repeat(100));
  // poorly compressible, so that -Level 19 -Threads 1 keeps stage busy for seconds (progress, cancellation)
  const slow = path.join(work, 'slow');
  fs.mkdirSync(slow);
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(slow, `data-${i}.bin`), poorlyCompressible(16 * 1024 * 1024));
  const passphrase = `pwsh-${randomBytes(12).toString('hex')}`;
  const passFile = path.join(work, 'passphrase');
  fs.writeFileSync(passFile, `${passphrase}\n`, { mode: 0o600 });
  const keysStaging = fakePrepared('pwsh-keys', { withKey: true });
  const staging = path.join(work, 'suite');
  fs.mkdirSync(staging);
  return {
    env: {
      DRIVESEED_EXE: path.join(PS_DIR, 'driveseed-dev.sh'),
      DRIVESEED_HOME: path.join(work, 'home'),
      DRIVESEED_TEST: '1',
      DRIVESEED_TEST_COMMANDS: TEST_COMMANDS,
      DS_MODULE: path.join(ROOT, 'scripts', 'DriveSeed.psd1'),
      DS_WORK: staging,
      DS_SOURCE: source,
      DS_SOURCE_SLOW: slow,
      DS_PASSPHRASE_FILE: passFile,
      DS_PASSPHRASE: passphrase,
      DS_KEYS_STAGING: keysStaging,
      DS_KEY: KEY,
      DS_PWSH: PWSH ?? 'pwsh',
    },
    cleanup() {
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(keysStaging, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  if (pwshUnavailable) {
    gated(test, 'PowerShell module suite and parser check', pwshUnavailable, () => undefined);
    test.run();
    return;
  }
  const generated = writeGeneratedScripts();
  const lint = await runPwshFile(path.join(PS_DIR, 'Lint.ps1'), [ROOT, generated], pwshEnv());
  fs.rmSync(generated, { recursive: true, force: true });
  const lintCases = psCases(lint.stdout);
  test('Lint.ps1 ran to its end and checked the module, the manifest, the stubs and the generated scripts', () => {
    assert.is(lint.code, 0, lint.stderr);
    for (const f of [
      'scripts/DriveSeed.psm1',
      'scripts/DriveSeed.psd1',
      'test/powershell/stubs/Storage/Storage.psm1',
      'generated enableBitLockerScript.ps1',
      'generated drives-WINDOWS_SCRIPT.ps1',
    ]) {
      assert.ok(
        lintCases.some((c) => c.case.includes(f)),
        `${f} was not checked`,
      );
    }
  });
  register('parse', lintCases);

  const inputs = moduleInputs();
  try {
    const r = await runPwshFile(path.join(PS_DIR, 'Module.Tests.ps1'), [], pwshEnv(inputs.env), { timeoutMs: 8 * 60_000 });
    const cases = psCases(r.stdout);
    test('Module.Tests.ps1 ran to its end (exit 0, every case reported)', () => {
      assert.is(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-3000)}`);
      assert.ok(cases.length >= 12, `only ${cases.length} cases reported:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    });
    register('module', cases);
  } finally {
    inputs.cleanup();
  }
  test.run();
}

void main();
