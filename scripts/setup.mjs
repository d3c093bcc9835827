#!/usr/bin/env node
// Sets up a fresh machine for the tests and the demo, idempotently:
//   1. Debian packages driveseed's build and tests use (when root and apt-get exist; otherwise says what to install),
//   2. npm dependencies (npm ci) when node_modules is missing or stale,
//   3. the native addon (release build) when missing, 4. the TypeScript build.
// Used by `npm test` (scripts/test.mjs) and `npm run demo` (scripts/demo.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Why each package: build (g++, make, python3 via the base image; libzstd-dev for zstd),
// disks (ntfs-3g: mkntfs + FUSE driver; gdisk: GPT; e2fsprogs: ext4; util-linux: losetup/lsblk),
// baselines and cross-checks (fio, zstd, restic, mingw-w64 for the Windows compile check).
export const DEBIAN_PACKAGES = [
  'g++', 'make', 'python3', 'libzstd-dev', 'zstd', 'ntfs-3g', 'gdisk', 'e2fsprogs', 'util-linux', 'fio', 'restic',
  'g++-mingw-w64-x86-64-posix', 'kmod',
];

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
  const log = (m) => { if (!quiet) console.error(`setup: ${m}`); };
  if (process.platform === 'linux' && existsSync('/usr/bin/dpkg-query')) {
    const missing = DEBIAN_PACKAGES.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout?.includes('install ok installed') !== true);
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
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    setup();
  } catch (err) {
    console.error(`setup: ${err.message}`);
    process.exit(1);
  }
}
