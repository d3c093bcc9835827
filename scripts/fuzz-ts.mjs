#!/usr/bin/env node
// Long fuzz runs of the TypeScript readers of untrusted input (test/fuzz/targets.ts):
//   node scripts/fuzz-ts.mjs [--seconds N] [--seed S] [--slow-ms M] [--hang-s H] [target...]
// Runs each target (default: all) for N seconds (default 60) with fast-check's interruptAfterTimeLimit
// and prints the inputs run per target. A failing input (shrunk), an input whose check takes over
// M ms (default 2000), or one still running after H s (default 60; the process is then stopped) is
// saved under test/fuzz/regressions/<target>/ and the exit code is 1: commit it with the fix, and
// test/fuzz-parsers.test.ts replays it from then on. --list prints the targets.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const seconds = Number(opt('--seconds', 60));
const seed = opt('--seed', undefined);
const slowMs = Number(opt('--slow-ms', 2000));
const hangS = Number(opt('--hang-s', 60));
const list = args.includes('--list');
for (const [n, v] of [
  ['--seconds', seconds],
  ['--slow-ms', slowMs],
  ['--hang-s', hangS],
  ['--seed', seed ?? 1],
]) {
  if (!Number.isFinite(Number(v)) || Number(v) <= 0) {
    console.error(`${n} must be a positive number`);
    process.exit(2);
  }
}

// The child runs the targets; a worker thread watches a shared counter the child bumps before each
// input and, when one input runs past --hang-s, saves it and stops the child (its own process id).
const child = `
const fs = require('node:fs'); const path = require('node:path'); const crypto = require('node:crypto');
const { Worker } = require('node:worker_threads');
const { TARGETS, REGRESSIONS, inputFile, runTarget } = require(${JSON.stringify(path.join(root, 'test', 'fuzz', 'targets.ts'))});
const cfg = ${JSON.stringify({ names: args.filter((a) => a !== '--list'), list, seconds, seed: seed === undefined ? null : Number(seed), slowMs, hangS })};
if (cfg.list) { for (const [n, t] of Object.entries(TARGETS)) console.log(n.padEnd(24) + t.about); process.exit(0); }
const save = (name, bytes, kind, ext) => {
  const dir = path.join(REGRESSIONS, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, kind + '-' + crypto.createHash('sha1').update(bytes).digest('hex').slice(0, 12) + ext);
  fs.writeFileSync(file, bytes);
  return file;
};
const MAX = 8 << 20;
const shared = new SharedArrayBuffer(16 + MAX);
const head = new Int32Array(shared, 0, 4); // [inputs started, input length, target index + 1, kept as .jsonstr]
const body = new Uint8Array(shared, 16);
const names = cfg.names.length ? cfg.names : Object.keys(TARGETS);
const watchdog = new Worker(\`
  const { workerData: { shared, names, hangS, regressions } } = require('node:worker_threads');
  const fs = require('node:fs'); const path = require('node:path'); const crypto = require('node:crypto');
  const head = new Int32Array(shared, 0, 4); const body = new Uint8Array(shared, 16);
  let last = -1, since = Date.now();
  setInterval(() => {
    const n = Atomics.load(head, 0);
    if (n !== last || head[2] === 0) { last = n; since = Date.now(); return; }
    if (Date.now() - since < hangS * 1000) return;
    const name = names[head[2] - 1];
    const bytes = Buffer.from(body.subarray(0, head[1]));
    const dir = path.join(regressions, name);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'hang-' + crypto.createHash('sha1').update(bytes).digest('hex').slice(0, 12) + (head[3] ? '.jsonstr' : ''));
    fs.writeFileSync(file, bytes);
    // fs.writeSync: a worker's console output goes through the main thread, which is stuck
    fs.writeSync(1, 'HANG ' + name + ': one input ran over ' + hangS + ' s; input saved: ' + file + String.fromCharCode(10));
    process.kill(process.pid, 'SIGKILL');
  }, 1000);
\`, { eval: true, workerData: { shared, names, hangS: cfg.hangS, regressions: REGRESSIONS } });
watchdog.on('error', (e) => { console.error('the hang watchdog failed: ' + e.message); process.exit(2); });
watchdog.unref();
(async () => {
  let failed = 0;
  for (const [k, name] of names.entries()) {
    if (!TARGETS[name]) { console.error('no fuzz target ' + name + ' (--list names them)'); process.exit(2); }
    Atomics.store(head, 2, k + 1);
    const onInput = (input) => {
      const { bytes: b, ext } = inputFile(input);
      Atomics.store(head, 3, ext ? 1 : 0);
      const n = Math.min(b.length, MAX);
      body.set(b.subarray(0, n));
      Atomics.store(head, 1, n);
      Atomics.add(head, 0, 1);
    };
    const r = await runTarget(name, { ms: cfg.seconds * 1000, seed: cfg.seed ?? undefined, slowMs: cfg.slowMs, onInput });
    Atomics.store(head, 2, 0);
    if (!r.failure) { console.log('ok   ' + name.padEnd(24) + ' ' + r.runs + ' inputs in ' + cfg.seconds + ' s'); continue; }
    failed++;
    const { bytes, ext } = inputFile(r.failure.input);
    const file = save(name, bytes, 'crash', ext);
    console.log('FAIL ' + name.padEnd(24) + ' after ' + r.runs + ' inputs (seed ' + r.failure.seed + '): ' + r.failure.error + '\\n     input saved: ' + file);
  }
  process.exit(failed ? 1 : 0);
})();`;
const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', child], { cwd: root, stdio: 'inherit' });
if (r.signal) {
  console.log(`the fuzz process ended on ${r.signal}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
