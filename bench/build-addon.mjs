#!/usr/bin/env node
// Builds a release-optimised addon for benchmarks into build-bench/Release/driveseed.node, from the
// committed HEAD (git archive into a temporary directory), so that files other people are still
// editing in the working tree cannot break or skew it. Then: npm run bench -- --addon build-bench/Release/driveseed.node
//   node bench/build-addon.mjs [--ref <commit>] [--worktree]
// cmake-js builds Release with -O3 -DNDEBUG (CMAKE_CXX_FLAGS_RELEASE), like binding.gyp's -O3.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const ref = args.includes('--ref') ? args[args.indexOf('--ref') + 1] : 'HEAD';
const useWorktree = args.includes('--worktree');

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 2, 2], ...opts });
  if (r.status !== 0) {
    console.error(`${cmd} ${argv.join(' ')} failed (exit ${r.status})`);
    process.exit(1);
  }
}

let src = ROOT;
let tmp = null;
if (!useWorktree) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-bench-src-'));
  const archive = spawnSync('git', ['-C', ROOT, 'archive', ref], { maxBuffer: 1 << 30 });
  if (archive.status !== 0) {
    console.error(`git archive ${ref} failed: ${archive.stderr}`);
    process.exit(1);
  }
  run('tar', ['-x', '-C', tmp], { input: archive.stdout, stdio: ['pipe', 2, 2] });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tmp, 'node_modules'));
  src = tmp;
}
try {
  run(path.join(ROOT, 'node_modules', '.bin', 'cmake-js'), ['build', '--out', 'build-bench'], { cwd: src });
  const built = path.join(src, 'build-bench', 'Release', 'driveseed.node');
  const dest = path.join(ROOT, 'build-bench', 'Release', 'driveseed.node');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if (src !== ROOT) fs.copyFileSync(built, dest);
  const commit = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', ref], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(
    dest + '.json',
    JSON.stringify({
      ref,
      commit: useWorktree ? `${commit}+worktree` : commit,
      builtAt: new Date().toISOString(),
      buildType: 'Release (cmake-js, -O3 -DNDEBUG)',
    }) + '\n',
  );
  console.error(`built ${path.relative(ROOT, dest)} from ${useWorktree ? 'the working tree' : `${ref} (${commit})`}`);
} finally {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}
