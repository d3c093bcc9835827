#!/usr/bin/env node
// The test command (README): builds what is missing, runs every test/**/*.test.ts file in its own
// process (a crash in one file cannot hide the others), and prints the closing line
// "N passed, N failed" that CI reads. Filter: node scripts/test.mjs <substring>...
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

// Setup (packages, npm ci, native and TypeScript builds) happens first; a failure there is one failed test.
try {
  const { setup } = await import('./setup.mjs');
  setup();
} catch (err) {
  console.log(`setup failed: ${err?.message ?? err}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}
const files = walk(path.join(root, 'test'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));

let passed = 0,
  failed = 0,
  skipped = 0;
const failures = [];
for (const file of files) {
  const rel = path.relative(root, file);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-r', path.join(root, 'test', 'support', 'uvu-preload.cjs'), file], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', DRIVESEED_TEST: '1' },
    timeout: 15 * 60 * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const num = (label) => Number((out.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? NaN);
  const total = num('Total'),
    ok = num('Passed'),
    skip = num('Skipped') || 0;
  let fileFailed;
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    fileFailed = 1; // crashed before uvu printed its summary
  } else {
    fileFailed = total - ok; // uvu's Total already excludes skipped tests
    passed += ok;
    skipped += skip;
  }
  if (r.status !== 0 && fileFailed === 0) fileFailed = 1;
  failed += fileFailed;
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`${fileFailed ? 'FAIL' : 'ok  '} ${rel} (${Number.isNaN(ok) ? 0 : ok} passed, ${fileFailed} failed, ${skip} skipped, ${secs}s)`);
  // Skipped tests say why in their title; show those lines.
  for (const line of out.split('\n')) if (/\bSKIP\b/.test(line)) console.log(`     ${line.trim()}`);
  if (fileFailed) failures.push({ rel, out });
}
for (const f of failures) {
  console.log(`\n---- ${f.rel} ----`);
  console.log(f.out.split('\n').slice(-80).join('\n'));
}
console.log(`\n${skipped} skipped (each says why above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
