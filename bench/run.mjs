#!/usr/bin/env node
// npm run bench [-- --quick] [-- --json] [-- --only <trial>[,<trial>…]] [-- --runs N] [-- --cache drop|warm]
//               [-- --data <dir>] [-- --addon <path/to/driveseed.node>] [-- --markdown] [-- --list]
// Generates the data set if needed, runs every trial in bench/trials/ in a fresh child process
// (`node bench/trials/<name>.mjs …`, which prints one JSON line), and prints a table of MB/s, the ratio
// ours/baseline, the goal and pass/miss. With --json, stdout carries only one JSON document with every
// trial's figures and ratios; all human text goes to stderr. See docs/benchmarks.md.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayLedger } from './lib/ledger.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const TRIALS_DIR = path.join(BENCH_DIR, 'trials');
// The four data-plane trials (write, compress, md5, pipeline) first; any other trial file follows in name order.
const ORDER = ['write', 'compress', 'md5', 'pipeline'];

function usage(msg) {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write(
    'usage: npm run bench -- [--quick] [--json] [--markdown] [--only <trial>[,…]] [--runs N] [--cache drop|warm] [--data <dir>] [--addon <driveseed.node>] [--list]\n',
  );
  process.exit(2);
}

function parse(argv) {
  const o = { quick: false, json: false, markdown: false, only: null, runs: null, cache: null, data: null, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) usage(`Expected a value after ${a}`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = true;
    else if (a === '--markdown') o.markdown = true;
    else if (a === '--list') o.list = true;
    else if (a === '--only') o.only = val().split(',').filter(Boolean);
    else if (a === '--runs') {
      o.runs = Number(val());
      if (!Number.isInteger(o.runs) || o.runs < 1) usage(`Expected a positive integer for --runs but received ${argv[i]}`);
    } else if (a === '--cache') {
      o.cache = val();
      if (!['drop', 'warm'].includes(o.cache)) usage(`Expected drop or warm for --cache but received ${o.cache}`);
    } else if (a === '--data') o.data = path.resolve(val());
    else if (a === '--addon') process.env.DRIVESEED_NATIVE = path.resolve(val());
    else if (a === '--help' || a === '-h') usage();
    else usage(`Unknown option ${a}`);
  }
  return o;
}

function discoverTrials() {
  const names = fs
    .readdirSync(TRIALS_DIR)
    .filter((f) => f.endsWith('.mjs') && !f.startsWith('_'))
    .map((f) => f.slice(0, -4));
  return names.sort((a, b) => {
    const ia = ORDER.indexOf(a),
      ib = ORDER.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a.localeCompare(b);
  });
}

function first(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const rootDev = first('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '/']);
  const disk = first('lsblk', ['-d', '-n', '-o', 'NAME,SIZE,ROTA,MODEL', '-e', '7,253']);
  return {
    nproc: os.cpus().length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    cpu: model,
    root: rootDev,
    disks: disk ? disk.split('\n').map((s) => s.trim().replace(/\s+/g, ' ')) : [],
    node: process.version,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    gitCommit: first('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

/**
 * A contention gauge: what one core delivers right now (MD5 over 1 MiB buffers for 1 s, openssl speed).
 * On a shared machine it falls as other work takes the cores; compare it between runs before comparing them.
 */
function cpuGauge() {
  const r = spawnSync('openssl', ['speed', '-elapsed', '-seconds', '1', '-bytes', String(1 << 20), '-evp', 'md5'], { encoding: 'utf8' });
  const k = /([\d.]+)k\s*$/.exec((r.stdout || '').trim().split('\n').pop() ?? '');
  return k ? Math.round(Number(k[1]) / 1000) : null;
}

let interrupted = null;
function runTrial(name, args, timeoutS) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(TRIALS_DIR, `${name}.mjs`), ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    // A trial over its time limit gets SIGTERM so that it detaches its loop devices and removes scratch files.
    const timer = setTimeout(() => {
      process.stderr.write(`bench: ${name} ran past ${timeoutS} s; stopping it\n`);
      child.kill('SIGTERM');
    }, timeoutS * 1000);
    // Ctrl-C / SIGTERM: stop this trial (it cleans up on SIGTERM) and run no further ones.
    const forward = (sig) => {
      interrupted = sig;
      child.kill('SIGTERM');
    };
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    const t0 = Date.now();
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      // A trial that died without its exit handlers (native abort, SIGKILL) leaves a ledger behind.
      for (const d of replayLedger(child.pid)) process.stderr.write(`bench: cleaned up after ${name}: ${d}\n`);
      const line = out.trim().split('\n').filter(Boolean).pop();
      let result;
      try {
        result = JSON.parse(line);
      } catch {
        result = { trial: name, ok: false, error: `no JSON result line (exit ${code ?? signal})` };
      }
      result.wallSeconds = Math.round((Date.now() - t0) / 100) / 10;
      resolve(result);
    });
  });
}

// ---- table --------------------------------------------------------------------------------------

const f1 = (x) => (x == null ? 'n/a' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fBytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const f2 = (x) => (x == null ? 'n/a' : x.toFixed(2));
function verdict(r) {
  return r.goal == null ? 'info' : r.pass == null ? 'n/a' : r.pass ? 'pass' : 'MISS';
}

function table(results, markdown) {
  const head = ['trial', 'comparison', 'ours MB/s', 'base MB/s', 'ratio', 'spread', 'goal', 'result'];
  const lines = [];
  for (const t of results) {
    if (!t.ok) {
      lines.push([t.trial, `FAILED: ${t.error}`, '', '', '', '', '', 'n/a']);
      continue;
    }
    for (const r of t.rows) {
      if (r.oursBytes != null && r.goalBytes != null) {
        // Size rows (bytes that landed in the container): the goal is an upper bound, not a ratio.
        lines.push([t.trial, r.what, fBytes(r.oursBytes), '', '', '', `< ${fBytes(r.goalBytes)}`, r.pass ? 'pass' : 'MISS']);
        continue;
      }
      lines.push([
        t.trial,
        r.what,
        f1(r.oursMBps),
        f1(r.baselineMBps),
        f2(r.ratio),
        r.spread == null ? '' : `${Math.round(r.spread * 100)}%`,
        r.goal == null ? '' : `≥ ${r.goal}`,
        verdict(r),
      ]);
    }
  }
  if (markdown) {
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
  }
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const fmtLine = (l) => l.map((c, i) => (i >= 2 ? String(c).padStart(w[i]) : String(c).padEnd(w[i]))).join('  ');
  return [fmtLine(head), w.map((n) => '-'.repeat(n)).join('  '), ...lines.map(fmtLine)].join('\n');
}

function details(results) {
  const out = [];
  for (const t of results) {
    if (!t.ok) continue;
    out.push(`${t.trial}: ${t.title}; data: ${t.data}; cache: ${t.cacheNote}; loadavg ${t.env?.loadavg?.join(' ')} → ${t.env?.loadavgEnd?.join(' ')}`);
    for (const r of t.rows) if (r.note) out.push(`  ${r.id}: ${r.note}`);
    for (const n of t.notes ?? []) out.push(`  - ${n}`);
  }
  return out.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

const o = parse(process.argv.slice(2));
const all = discoverTrials();
if (o.list) {
  process.stdout.write(all.join('\n') + '\n');
  process.exit(0);
}
const unknown = (o.only ?? []).filter((n) => !all.includes(n));
if (unknown.length) usage(`Unknown trial ${unknown.join(', ')}; trials: ${all.join(', ')}`);
const trials = o.only ? all.filter((n) => o.only.includes(n)) : all;
const human = o.json ? process.stderr : process.stdout;

const dataDir = o.data ?? path.join(BENCH_DIR, 'data', o.quick ? 'quick' : 'full');
const gen = spawnSync(process.execPath, [path.join(BENCH_DIR, 'gen-data.mjs'), ...(o.quick ? ['--quick'] : []), '--dir', dataDir], { stdio: ['ignore', 2, 2] });
if (gen.status !== 0) {
  process.stderr.write('bench: generating the data set failed\n');
  process.exit(1);
}
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8'));

const env = { ...machine(), md5OneCoreMBpsStart: cpuGauge() };
const startedAt = new Date().toISOString();
process.stderr.write(
  `bench: ${trials.join(', ')} on ${env.nproc} CPUs (${env.cpu}), loadavg ${env.loadavgStart.join(' ')}, one core's MD5 ${env.md5OneCoreMBpsStart} MB/s; data ${dataDir}\n`,
);
const trialArgs = ['--data', dataDir, ...(o.quick ? ['--quick'] : []), ...(o.runs ? ['--runs', String(o.runs)] : []), ...(o.cache ? ['--cache', o.cache] : [])];
const results = [];
for (const name of trials) {
  process.stderr.write(`\nbench: trial ${name}\n`);
  results.push(await runTrial(name, trialArgs, o.quick ? 600 : 3600));
  if (interrupted) {
    process.stderr.write(`bench: ${interrupted}: stopped after ${name}; no results written\n`);
    process.exit(130);
  }
}

const doc = {
  startedAt,
  finishedAt: new Date().toISOString(),
  quick: o.quick,
  machine: { ...env, loadavgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100), md5OneCoreMBpsEnd: cpuGauge() },
  data: { dir: dataDir, preset: manifest.preset, seed: manifest.seed, totals: manifest.totals, groups: manifest.groups },
  trials: results,
  summary: results.flatMap((t) =>
    t.ok ? t.rows.map((r) => ({ trial: t.trial, id: r.id, ratio: r.ratio, goal: r.goal, pass: r.pass })) : [{ trial: t.trial, error: t.error }],
  ),
};

if (o.markdown) {
  const m = doc.machine;
  human.write(
    [
      '',
      `- date: ${startedAt} → ${doc.finishedAt}, commit ${m.gitCommit}, addon ${results.find((t) => t.env?.addon)?.env.addon?.path ?? 'none'} (${results.find((t) => t.env?.addon)?.env.addon?.commit ?? '?'})`,
      `- machine: ${m.nproc} × ${m.cpu}, ${m.ramGiB} GiB RAM, ${m.kernel}, root ${m.root}, disks ${m.disks.join('; ')}`,
      `- load: loadavg ${m.loadavgStart.join(' ')} at start, ${m.loadavgEnd.join(' ')} at end; one core's MD5 (openssl speed, contention gauge) ${m.md5OneCoreMBpsStart} MB/s at start, ${m.md5OneCoreMBpsEnd} MB/s at end`,
      `- data: ${manifest.preset} preset, seed ${manifest.seed}, ${manifest.totals.files} files, ${(manifest.totals.apparentBytes / 2 ** 20).toFixed(0)} MiB apparent (${(manifest.totals.allocatedBytes / 2 ** 20).toFixed(0)} MiB allocated); runs per command: ${o.runs ?? (o.quick ? 2 : 3)}`,
      '',
    ].join('\n'),
  );
}
human.write(`\n${table(results, o.markdown)}\n\n${details(results)}\n`);
human.write(
  `\nMB/s = 10^6 bytes/s; ratio = ours / baseline throughput (higher is better for ours); median of ${o.runs ?? (o.quick ? 2 : 3)} runs;\nspread = (slowest − fastest run) / median of the noisier side; a ratio within the spread of its goal is not a verdict.\n`,
);
if (o.json) process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
else {
  fs.mkdirSync(path.join(BENCH_DIR, 'out'), { recursive: true });
  const file = path.join(BENCH_DIR, 'out', `results-${startedAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 1) + '\n');
  human.write(`full figures: ${path.relative(ROOT, file)}\n`);
}
process.exitCode = results.every((t) => t.ok) ? 0 : 1;
