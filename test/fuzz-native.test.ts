// The native fuzz targets (native/fuzz, scripts/fuzz.mjs) build under libFuzzer + ASan + UBSan, every
// committed crash input (native/fuzz/regressions/<target>/) and seed passes, and a short, repeatable
// run of each target (fixed number of inputs from a fixed seed, starting from the seeds alone) finds
// nothing. The long runs are manual: node scripts/fuzz.mjs --seconds 600 <target> (docs/testing.md).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gated } from './helpers';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'fuzz.mjs');
// Inputs per target (per DRIVESEED_MD5 level for md5_mb): about 20 s of fuzzing in all on CI's two
// cores, after a build of about 20 s.
const RUNS = 20000;

function fuzz(args: string[], timeoutMs: number) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
}

const check = fuzz(['--check'], 120_000);
const reason = check.status === 0 ? undefined : check.status === 3 ? check.stdout.trim() : `fuzz.mjs --check failed: ${check.stderr.trim()}`;

gated(test, 'every native fuzz target builds, replays its regression inputs and seeds, and a short run finds nothing', reason, () => {
  const targets = fuzz(['--list'], 30_000).stdout.trim().split('\n');
  assert.ok(targets.length >= 6, `expected the fuzz targets, got ${targets.join(', ')}`);
  const r = fuzz(['--runs', String(RUNS), '--seed', '1', '--fresh'], 170_000);
  const out = `${r.stdout}${r.stderr}`;
  assert.is(r.signal, null, `fuzz.mjs was killed (${r.signal}) before it finished:\n${out.slice(-4000)}`);
  assert.is(r.status, 0, `fuzz.mjs found a problem or failed to build (exit ${r.status}):\n${out.slice(-8000)}`);
  for (const t of targets) {
    const committed = fs.readdirSync(path.join(ROOT, 'native', 'fuzz', 'regressions', t)).filter((n) => !n.startsWith('.') && n !== 'README.md');
    const seeds = fs.readdirSync(path.join(ROOT, 'native', 'fuzz', 'corpus', t)).filter((n) => !n.startsWith('.'));
    assert.ok(seeds.length > 0, `${t} has no seeds in native/fuzz/corpus/${t}`);
    const replayed = new RegExp(`^ok {3}${t}(?: \\([^)]*\\))?: ${committed.length} regression input\\(s\\) and ${seeds.length} seed\\(s\\) replayed$`, 'm');
    assert.match(out, replayed, `${t}: expected its ${committed.length} regression input(s) and ${seeds.length} seed(s) replayed`);
    const ran = new RegExp(`^ok {3}${t}(?: \\([^)]*\\))?: ${RUNS} runs, (\\d+) executions`, 'm').exec(out);
    assert.ok(ran, `${t}: no completed run in the output`);
    assert.ok(Number(ran[1]) >= RUNS, `${t}: ${ran[1]} executions, expected at least ${RUNS}`);
  }
});

test.run();
