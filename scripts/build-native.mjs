#!/usr/bin/env node
// Builds the native addon without downloading Node headers (toolchain notes).
//   node scripts/build-native.mjs            release build with node-gyp → build/Release/driveseed.node
//   node scripts/build-native.mjs --cmake    debug build with cmake-js  → build/Debug/driveseed.node
//   node scripts/build-native.mjs --cmake --sanitize   same with ASan + UBSan (run node with LD_PRELOAD of libasan)
//   node scripts/build-native.mjs --if-missing          skip when a build or prebuild already exists
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir || '/usr' };

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      `\n${cmd} ${argv.join(' ')} failed (exit ${r.status}). A C++17 compiler, make, python3 and libzstd-dev are needed (Debian: apt-get install g++ make python3 libzstd-dev).`,
    );
    process.exit(r.status ?? 1);
  }
}

if (args.has('--if-missing')) {
  const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const have =
    ['build/Release/driveseed.node', 'build/Debug/driveseed.node'].some((f) => existsSync(path.join(root, f))) ||
    (existsSync(pre) && readdirSync(pre).some((f) => f.endsWith('.node')));
  if (have) process.exit(0);
}

const bin = (name) => path.join(root, 'node_modules', '.bin', name);
if (args.has('--cmake')) {
  const cm = ['build', '--debug', '--out', 'build'];
  if (args.has('--sanitize')) cm.push('--CDDS_SANITIZE=ON');
  run(bin('cmake-js'), cm);
} else {
  run(bin('node-gyp'), ['rebuild', '--nodedir=/usr', `-j`, 'max']);
}
