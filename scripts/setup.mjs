#!/usr/bin/env node
// Sets up a fresh machine for the tests and the demo, idempotently:
//   1. Debian packages driveseed's build and tests use (when root and apt-get exist; otherwise says what to install),
//   2. npm dependencies (npm ci) when node_modules is missing or stale,
//   3. the native addon (release build) when missing, 4. the TypeScript build,
//   5. PowerShell 7 (`pwsh`, a .NET global tool) where the .NET SDK exists: the PowerShell module's
//      suite and the Windows prep scripts run under it (test/powershell/).
// Used by `npm test` (scripts/test.mjs) and `npm run demo` (scripts/demo.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Why each package: build (g++, make, python3 via the base image; libzstd-dev for zstd),
// disks (ntfs-3g: mkntfs + FUSE driver; gdisk: GPT; e2fsprogs: ext4; util-linux: losetup/lsblk),
// baselines and cross-checks (fio, zstd, restic, mingw-w64 for the Windows compile check), and the
// native formatter and linter test/lint.test.ts runs (clang-format and clang-tidy, version 14), and
// the fuzzing of native/fuzz (libFuzzer's runtime in libclang-rt-14-dev; libssl-dev, whose libcrypto
// the fuzz binaries link where the addon uses Node's).
export const DEBIAN_PACKAGES = [
  'g++',
  'make',
  'python3',
  'libzstd-dev',
  'zstd',
  'ntfs-3g',
  'gdisk',
  'e2fsprogs',
  'util-linux',
  'fio',
  'restic',
  'g++-mingw-w64-x86-64-posix',
  'kmod',
  'clang-format-14',
  'clang-tidy-14',
  'libclang-rt-14-dev',
  'libssl-dev',
];

// The PowerShell the tests run: the .NET global tool. 7.6.10 is pinned because it is what the
// package registry serves (7.7.0 does not install on the .NET 10 SDK).
export const PWSH_VERSION = '7.6.10';
const DOTNET_TOOLS = path.join(os.homedir(), '.dotnet', 'tools');

function onPath(name) {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((d) => path.join(d, name))
    .find((p) => existsSync(p));
}

/** The pwsh to run: $DRIVESEED_PWSH, pwsh on PATH, or the .NET global tool's; undefined when none is installed. */
export function findPwsh() {
  if (process.env.DRIVESEED_PWSH) return existsSync(process.env.DRIVESEED_PWSH) ? process.env.DRIVESEED_PWSH : undefined;
  return onPath('pwsh') ?? [path.join(DOTNET_TOOLS, 'pwsh')].find((p) => existsSync(p));
}

/** Installs PowerShell 7 as a .NET global tool when `dotnet` exists and no pwsh does; says what is missing otherwise. */
export function setupPwsh(log = (m) => console.error(`setup: ${m}`), quiet = false) {
  if (findPwsh()) return;
  const dotnet = onPath('dotnet');
  if (!dotnet) {
    log(
      `PowerShell 7 (pwsh) is missing and so is the .NET SDK that installs it; install the .NET SDK (https://learn.microsoft.com/dotnet/core/install/linux), then: dotnet tool install --global PowerShell --version ${PWSH_VERSION}. Until then the PowerShell tests skip and say why`,
    );
    return;
  }
  log(`installing PowerShell ${PWSH_VERSION} (dotnet tool install --global PowerShell) into ${DOTNET_TOOLS}`);
  const env = { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1' };
  const r = sh(dotnet, ['tool', 'install', '--global', 'PowerShell', '--version', PWSH_VERSION], { env, stdio: quiet ? 'ignore' : ['ignore', 2, 2] });
  if (r.status !== 0 || !findPwsh())
    log(`could not install PowerShell ${PWSH_VERSION} with dotnet (exit ${r.status}); the PowerShell tests will skip and say why`);
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
}

function must(cmd, args, what) {
  const r = sh(cmd, args);
  if (r.status !== 0) {
    throw new Error(`${what} failed (${cmd} ${args.join(' ')} exited ${r.status})`);
  }
}

export function setup({ quiet = false } = {}) {
  const log = (m) => {
    if (!quiet) console.error(`setup: ${m}`);
  };
  if (process.platform === 'linux' && existsSync('/usr/bin/dpkg-query')) {
    const missing = DEBIAN_PACKAGES.filter(
      (p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout?.includes('install ok installed') !== true,
    );
    if (missing.length) {
      const isRoot = process.getuid?.() === 0;
      if (isRoot && existsSync('/usr/bin/apt-get')) {
        log(`installing Debian packages: ${missing.join(' ')}`);
        const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
        let r = sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env, stdio: quiet ? 'ignore' : 'inherit' });
        if (r.status !== 0) {
          sh('apt-get', ['update', '-q'], { env, stdio: quiet ? 'ignore' : 'inherit' });
          r = sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env, stdio: quiet ? 'ignore' : 'inherit' });
        }
        if (r.status !== 0) log(`could not install ${missing.join(' ')}; tests that need them will say so and skip`);
      } else {
        log(`missing Debian packages: ${missing.join(' ')} — install them with: sudo apt-get install ${missing.join(' ')}`);
      }
    }
  }
  const lock = path.join(root, 'package-lock.json');
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
    log('installing npm dependencies (npm ci)');
    must('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci');
  }
  must(process.execPath, ['scripts/build-native.mjs', '--if-missing'], 'native build');
  must(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], 'TypeScript build');
  setupPwsh(log, quiet);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    setup();
  } catch (err) {
    console.error(`setup: ${err.message}`);
    process.exit(1);
  }
}
