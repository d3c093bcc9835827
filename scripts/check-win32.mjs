#!/usr/bin/env node
// Compile-checks the Windows build on Linux: every file of native/sources.json (common + win32) goes
// through mingw-w64's g++ with -fsyntax-only, against node-addon-api and Node's own headers, with the
// defines the real builds use. Nothing is linked: this catches API misuse, missing headers and typos
// in Windows-only code paths (platform_win32.cc) that no Linux build compiles.
//   node scripts/check-win32.mjs [--cxx x86_64-w64-mingw32-g++-posix]
// Exit 0 when every file compiles; prints one line per file and a closing "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const cxx = argv.includes('--cxx') ? argv[argv.indexOf('--cxx') + 1] : 'x86_64-w64-mingw32-g++-posix';
const require = createRequire(import.meta.url);

if (spawnSync('sh', ['-c', `command -v ${cxx}`], { stdio: 'ignore' }).status !== 0) {
  console.error(`${cxx} not found. Install mingw-w64 (Debian: apt-get install mingw-w64) or pass --cxx <compiler>.`);
  process.exit(2);
}

const sources = JSON.parse(readFileSync(path.join(root, 'native', 'sources.json'), 'utf8'));
const files = [...sources.common, ...sources.win32];

// zstd.h lives in /usr/include, which must not be on a Windows include path (glibc headers would
// shadow mingw's): expose just the zstd headers through a private directory.
const shim = mkdtempSync(path.join(os.tmpdir(), 'driveseed-win32-inc-'));
for (const h of ['zstd.h', 'zstd_errors.h', 'zdict.h']) if (existsSync(`/usr/include/${h}`)) symlinkSync(`/usr/include/${h}`, path.join(shim, h));

const flags = [
  '-std=c++17',
  '-fsyntax-only',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-DNAPI_VERSION=8',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  '-DNODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS',
  `-I${path.join(root, 'native', 'src')}`,
  `-I${require('node-addon-api').include_dir}`,
  '-I/usr/include/node',
  `-I${shim}`,
];

let passed = 0,
  failed = 0;
for (const f of files) {
  const r = spawnSync(cxx, [...flags, path.join(root, f)], { encoding: 'utf8' });
  const out = (r.stdout + r.stderr).trim();
  if (r.status === 0) {
    passed++;
    console.log(`ok   ${f}${out ? ' (warnings)' : ''}`);
  } else {
    failed++;
    console.log(`FAIL ${f}`);
  }
  if (out)
    console.log(
      out
        .split('\n')
        .map((l) => `     ${l}`)
        .join('\n'),
    );
}
rmSync(shim, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
