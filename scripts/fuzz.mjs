#!/usr/bin/env node
// Coverage-guided fuzzing of the native decoders with libFuzzer (docs/testing.md, "Native fuzzing").
// Builds each harness in native/fuzz with the product sources it calls, under ASan + UBSan, into
// build-fuzz/, replays its committed crash inputs (native/fuzz/regressions/<target>/) and then fuzzes
// it for a while, starting from the seeds (native/fuzz/corpus/<target>/) and the corpus kept from
// earlier runs (build-fuzz/corpus/<target>/).
//
//   node scripts/fuzz.mjs [--seconds N] [target...]   build, replay regressions, fuzz each N s (default 10)
//   node scripts/fuzz.mjs --replay [target...]         build and replay regressions and seeds only
//   node scripts/fuzz.mjs --runs N --seed S --fresh    N inputs per target from seed S, starting from the
//                                                      seeds alone (a repeatable run: test/fuzz-native.test.ts)
//   node scripts/fuzz.mjs --check                      says why fuzzing cannot run here (exit 3), or nothing
//   node scripts/fuzz.mjs --make-seeds                 rewrites native/fuzz/corpus/ from the product encoders
//   node scripts/fuzz.mjs --list                       the targets
//
// Exit status: 0 when nothing was found, 1 on a crash, leak, timeout or out-of-memory (the reproducer's
// path is printed), 2 on a usage or build error, 3 when the toolchain is missing (--check says which).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p) => path.relative(root, p) || '.';
const OUT = path.join(root, 'build-fuzz');
const FUZZ = path.join(root, 'native', 'fuzz');
const CXX = process.env.DRIVESEED_FUZZ_CXX || 'clang++-14';

// The product sources the harnesses call (a subset of native/sources.json: no N-API, no I/O).
// errors.cc also holds the N-API error conversion, which --gc-sections drops so that no Node symbol is
// needed; it is built without coverage instrumentation, whose tables would keep that code alive.
const PRODUCT = [
  'blob',
  'codec',
  'crypto',
  'errors',
  'chunker',
  'simd_level',
  'md5_mb',
  'md5_mb_avx2',
  'md5_mb_avx512',
  'blake3',
  'blake3_avx2',
  'blake3_avx512',
];

// maxLen bounds an input (bytes); variants run the target once per DRIVESEED_MD5 level the CPU has.
const TARGETS = {
  blob_decode: { maxLen: 8192 },
  blob_resealed: { maxLen: 8192 },
  blob_roundtrip: { maxLen: 16384 },
  pack_index: { maxLen: 8192 },
  chunker: { maxLen: 65536 },
  zstd_decompress: { maxLen: 8192 },
  md5_mb: { maxLen: 8192, variants: ['scalar', 'avx2', 'avx512'] },
};

const FLAGS = [
  '-std=c++17',
  '-g',
  '-O1',
  '-fsanitize=fuzzer,address,undefined',
  '-fno-sanitize-recover=all',
  '-fno-omit-frame-pointer',
  '-ffunction-sections',
  '-fdata-sections',
  '-Wall',
  '-Wextra',
  '-Wno-unused-parameter',
  '-DNAPI_VERSION=8',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  '-Inative/src',
  '-Inative/fuzz',
  `-I${path.join('node_modules', 'node-addon-api')}`,
  // napi.h needs node_api.h; Node's directory also holds OpenSSL headers, which must come after the
  // system ones here: these binaries link the system libcrypto, not the one inside node.
  '-idirafter',
  '/usr/include/node',
];
const LIBS = ['-Wl,--gc-sections', '-lzstd', '-lcrypto', '-lpthread'];

function usage(msg) {
  console.error(`fuzz: ${msg}\nusage: node scripts/fuzz.mjs [--seconds N] [--replay] [--check] [--make-seeds] [--list] [target...]`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let seconds = 10;
let runs;
let seed;
const opts = new Set();
const chosen = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--seconds') {
    seconds = Number(argv[++i]);
    if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds needs a positive number, got ${argv[i]}`);
  } else if (a === '--runs' || a === '--seed') {
    const n = Number(argv[++i]);
    if (!Number.isInteger(n) || n < (a === '--runs' ? 1 : 0)) usage(`${a} needs a whole number, got ${argv[i]}`);
    if (a === '--runs') runs = n;
    else seed = n;
  } else if (['--replay', '--check', '--make-seeds', '--list', '--fresh'].includes(a)) opts.add(a);
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (a in TARGETS) chosen.push(a);
  else usage(`unknown target ${a} (targets: ${Object.keys(TARGETS).join(', ')})`);
}
const targets = chosen.length ? chosen : Object.keys(TARGETS);

if (opts.has('--list')) {
  for (const t of Object.keys(TARGETS)) console.log(t);
  process.exit(0);
}

/** Why the fuzz targets cannot be built here, or undefined when they can. */
function unavailable() {
  if (process.platform !== 'linux') return 'native fuzzing runs on Linux only';
  if (spawnSync(CXX, ['--version'], { stdio: 'ignore' }).status !== 0) return `needs ${CXX} (Debian: apt-get install clang-14)`;
  for (const [h, pkg] of [
    ['zstd.h', 'libzstd-dev'],
    ['openssl/evp.h', 'libssl-dev'],
  ]) {
    const r = spawnSync(CXX, ['-x', 'c++', '-fsyntax-only', '-'], { input: `#include <${h}>\n`, stdio: ['pipe', 'ignore', 'ignore'] });
    if (r.status !== 0) return `needs ${h} (Debian: apt-get install ${pkg})`;
  }
  if (!existsSync(path.join(root, 'node_modules', 'node-addon-api', 'napi.h'))) return 'needs node-addon-api (npm ci)';
  if (!existsSync('/usr/include/node/node_api.h')) return 'needs the Node headers in /usr/include/node (Debian: apt-get install libnode-dev)';
  const probe = path.join(os.tmpdir(), `driveseed-fuzz-probe-${process.pid}`);
  const r = spawnSync(CXX, ['-x', 'c++', '-fsanitize=fuzzer,address,undefined', '-o', probe, '-', '-lzstd', '-lcrypto'], {
    input: 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  spawnSync('rm', ['-f', probe]);
  if (r.status !== 0) return `${CXX} cannot link -fsanitize=fuzzer,address,undefined (Debian: apt-get install libclang-rt-14-dev)`;
  return undefined;
}

const why = unavailable();
if (opts.has('--check')) {
  if (why) console.log(why);
  process.exit(why ? 3 : 0);
}
if (why) {
  console.error(`fuzz: cannot build the fuzz targets: ${why}`);
  process.exit(3);
}

// ---- build ----

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const headers = [path.join(root, 'native', 'src'), FUZZ].flatMap((d) =>
  readdirSync(d)
    .filter((n) => /\.(h|inc)$/.test(n))
    .map((n) => path.join(d, n)),
);
const newestHeader = Math.max(...headers.map(mtime), mtime(fileURLToPath(import.meta.url)));

/** Runs the commands (arrays), two at a time, each only when its output is older than its inputs. */
async function runJobs(jobs) {
  const todo = jobs.filter((j) => mtime(j.out) < Math.max(newestHeader, ...j.inputs.map(mtime)));
  const width = Math.max(1, Math.min(os.availableParallelism?.() ?? 2, 4));
  let failed = false;
  const worker = async () => {
    while (todo.length && !failed) {
      const j = todo.shift();
      const code = await new Promise((resolve) => {
        const p = spawn(j.cmd[0], j.cmd.slice(1), { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
        p.on('close', resolve);
      });
      if (code !== 0) {
        failed = true;
        console.error(`fuzz: build step failed (exit ${code}): ${j.cmd.join(' ')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  if (failed) process.exit(2);
}

const obj = (name) => path.join(OUT, 'obj', `${name}.o`);
const bin = (name) => path.join(OUT, 'bin', name);

async function build(names, extra = []) {
  mkdirSync(path.join(OUT, 'obj'), { recursive: true });
  mkdirSync(path.join(OUT, 'bin'), { recursive: true });
  const compile = (src, o, flags = FLAGS) => ({ out: o, inputs: [src], cmd: [CXX, ...flags, '-c', rel(src), '-o', o] });
  const noCoverage = FLAGS.map((f) => (f === '-fsanitize=fuzzer,address,undefined' ? '-fsanitize=address,undefined' : f));
  const jobs = PRODUCT.map((p) => compile(path.join(root, 'native', 'src', `${p}.cc`), obj(`src_${p}`), p === 'errors' ? noCoverage : FLAGS));
  for (const n of [...names, ...extra]) jobs.push(compile(path.join(FUZZ, `${n}.cc`), obj(n)));
  await runJobs(jobs);
  const product = PRODUCT.map((p) => obj(`src_${p}`));
  await runJobs(names.map((n) => ({ out: bin(n), inputs: [obj(n), ...product], cmd: [CXX, ...FLAGS, obj(n), ...product, '-o', bin(n), ...LIBS] })));
  // make_seeds has a main of its own: the fuzzer runtime without its main (coverage hooks only).
  for (const n of extra) {
    const flags = FLAGS.map((f) => (f === '-fsanitize=fuzzer,address,undefined' ? '-fsanitize=fuzzer-no-link,address,undefined' : f));
    await runJobs([{ out: bin(n), inputs: [obj(n), ...product], cmd: [CXX, ...flags, obj(n), ...product, '-o', bin(n), ...LIBS] }]);
  }
}

// ---- run ----

const files = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => !n.startsWith('.') && n !== 'README.md')
        .map((n) => path.join(dir, n))
    : [];

function variantsOf(t) {
  const v = TARGETS[t].variants;
  if (!v) return [undefined];
  // Only the levels this CPU has: a cap above what it offers would just repeat the best one.
  const flags = new Set(spawnSync('sh', ['-c', "grep -m1 '^flags' /proc/cpuinfo"], { encoding: 'utf8' }).stdout.split(/\s+/));
  return v.filter((x) => x === 'scalar' || (x === 'avx2' && flags.has('avx2')) || (x === 'avx512' && flags.has('avx512f') && flags.has('avx512vl')));
}

/** Runs the binary; resolves with its exit code and output (also streamed when verbose). */
function exec(file, args, env) {
  return new Promise((resolve) => {
    const p = spawn(file, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (d) => {
      out += d;
      if (out.length > 4 << 20) out = out.slice(-(2 << 20));
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.on('close', (code, signal) => resolve({ code: code ?? 128, signal, out }));
  });
}

function reproducers(dir, before) {
  return files(dir).filter((f) => !before.has(f) && /^(crash|leak|timeout|oom|slow-unit)-/.test(path.basename(f)));
}

function stats(out) {
  const progress = out.split('\n').filter((l) => /^#\d+\s/.test(l));
  const last = progress.at(-1) ?? '';
  const num = (re, s = last) => Number(s.match(re)?.[1] ?? Number.NaN);
  const execs = num(/stat::number_of_executed_units:\s*(\d+)/, out);
  return { execs: Number.isNaN(execs) ? num(/^#(\d+)/) : execs, cov: num(/cov: (\d+)/), ft: num(/ft: (\d+)/), corp: num(/corp: (\d+)/) };
}

const summary = [];
let bad = 0;

async function fuzzTarget(t) {
  const regressions = files(path.join(FUZZ, 'regressions', t));
  const seeds = path.join(FUZZ, 'corpus', t);
  const corpus = path.join(OUT, opts.has('--fresh') ? 'fresh-corpus' : 'corpus', t);
  if (opts.has('--fresh')) rmSync(corpus, { recursive: true, force: true });
  const artifacts = path.join(OUT, 'artifacts', t);
  mkdirSync(corpus, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const variants = variantsOf(t);
  for (const v of variants) {
    const env = v ? { DRIVESEED_MD5: v } : {};
    const label = v ? `${t} (DRIVESEED_MD5=${v})` : t;
    // 1. Every committed crash input, then every seed, once: each must pass.
    const replay = [...regressions, ...files(seeds)];
    if (replay.length) {
      const r = await exec(bin(t), ['-runs=1', ...replay], env);
      if (r.code !== 0) {
        bad++;
        console.log(r.out.split('\n').slice(-40).join('\n'));
        console.log(`FAIL ${label}: a committed input fails again (replay: build-fuzz/bin/${t} ${replay.map(rel).join(' ')})`);
        summary.push({ target: label, result: 'replay failed' });
        continue;
      }
      console.log(`ok   ${label}: ${regressions.length} regression input(s) and ${replay.length - regressions.length} seed(s) replayed`);
    }
    if (opts.has('--replay')) continue;
    // 2. Fuzz: new corpus entries go to build-fuzz/corpus/<t>, crash inputs to build-fuzz/artifacts/<t>/.
    const per = Math.max(1, Math.round(seconds / variants.length));
    const before = new Set(files(artifacts));
    const r = await exec(
      bin(t),
      [
        ...(runs ? [`-runs=${runs}`] : [`-max_total_time=${per}`]),
        ...(seed === undefined ? [] : [`-seed=${seed}`]),
        `-max_len=${TARGETS[t].maxLen}`,
        '-timeout=10',
        '-rss_limit_mb=2048',
        '-malloc_limit_mb=2048',
        '-print_final_stats=1',
        `-artifact_prefix=${artifacts}/`,
        corpus,
        seeds,
      ],
      env,
    );
    const s = stats(r.out);
    const found = reproducers(artifacts, before);
    if (r.code !== 0 || found.length) {
      bad++;
      console.log(r.out.split('\n').slice(-60).join('\n'));
      for (const f of found) {
        console.log(`reproducer: ${rel(f)}`);
        console.log(`  replay:  ${v ? `DRIVESEED_MD5=${v} ` : ''}build-fuzz/bin/${t} ${rel(f)}`);
        console.log(`  keep it: cp ${rel(f)} native/fuzz/regressions/${t}/ (commit it with the fix)`);
      }
      if (!found.length) console.log(`(no reproducer file was written; exit ${r.code}${r.signal ? `, signal ${r.signal}` : ''})`);
      console.log(`FAIL ${label}: libFuzzer found a problem after ${s.execs} executions`);
      summary.push({ target: label, result: 'FOUND A PROBLEM', ...s });
    } else {
      console.log(`ok   ${label}: ${runs ? `${runs} runs` : `${per} s`}, ${s.execs} executions, cov ${s.cov}, ft ${s.ft}, corpus ${s.corp}`);
      summary.push({ target: label, result: 'ok', seconds: per, ...s });
    }
  }
}

if (opts.has('--make-seeds')) {
  await build([], ['make_seeds']);
  const r = spawnSync(bin('make_seeds'), [path.join(FUZZ, 'corpus')], { cwd: root, stdio: 'inherit' });
  process.exit(r.status === 0 ? 0 : 2);
}

await build(targets);
for (const t of targets) await fuzzTarget(t);
console.log(`fuzz: ${summary.length} run(s), ${bad} with a problem`);
process.exit(bad ? 1 : 0);
