// Shared helpers for benchmark trials (bench/trials/*.mjs). A trial is a fresh process started by
// bench/run.mjs; it measures ours and the standard tool on the same bytes, then prints ONE JSON line on
// stdout (emit()). Human progress goes to stderr (log()). See docs/benchmarks.md.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ledgerAdd, ledgerRemove } from './ledger.mjs';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
export const OUT_DIR = path.join(BENCH_DIR, 'out');
export const MB = 1e6; // MB/s figures are 10^6 bytes per second, as dd and fio print them
export const MiB = 1024 * 1024;

// ---- arguments ----------------------------------------------------------------------------------

/** Parses `--flag`, `--key value` and `--key=value`; unknown keys are kept (trials read what they need). */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
      continue;
    }
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[key] = next;
      i++;
    } else out[key] = true;
  }
  return out;
}

/** The common trial options, cooked once: quick, runs, data directory and its manifest. */
export function trialOptions(argv) {
  const a = parseArgs(argv);
  const quick = Boolean(a.quick);
  const runs = a.runs ? Number(a.runs) : quick ? 2 : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`Expected a positive integer for --runs but received ${a.runs}`);
  const data = path.resolve(a.data ?? path.join(BENCH_DIR, 'data', quick ? 'quick' : 'full'));
  const manifestPath = path.join(data, 'manifest.json');
  if (!fs.existsSync(manifestPath)) {
    throw new Error(`No data set at ${data} (manifest.json missing). Run: node bench/gen-data.mjs${quick ? ' --quick' : ''} --dir ${data}`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const cache = a.cache ?? null; // 'drop' | 'warm' | null (trial default)
  if (cache !== null && cache !== 'drop' && cache !== 'warm') throw new Error(`Expected drop or warm for --cache but received ${cache}`);
  return { args: a, quick, runs, data, manifest, cache };
}

/** Absolute paths of manifest files, optionally filtered by kind ('text', 'binary', 'random', …). */
export function dataFiles(opts, filter = () => true) {
  return opts.manifest.files.filter(filter).map((f) => ({ ...f, abs: path.join(opts.data, f.path) }));
}

// ---- output -------------------------------------------------------------------------------------

export function log(...msg) {
  process.stderr.write(msg.join(' ') + '\n');
}

/** Prints the trial's single JSON result line on stdout. */
export function emit(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

export function loadavg() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

// ---- cleanup: loop devices, mounts, temp files are released also on failure and on signals ------

const cleanups = [];
let cleaning = false;
/** Registers a synchronous cleanup; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(fn) {
  const entry = { fn, done: false };
  cleanups.push(entry);
  return () => {
    if (entry.done) return;
    entry.done = true;
    fn();
  };
}
export function cleanupAll() {
  if (cleaning) return;
  cleaning = true;
  for (const e of cleanups.reverse()) {
    if (e.done) continue;
    e.done = true;
    try {
      e.fn();
    } catch (err) {
      log(`cleanup failed: ${err.message}`);
    }
  }
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanupAll();
    process.exit(128 + os.constants.signals[sig]);
  });
}

/** A scratch file path under bench/out, removed at exit (and by run.mjs if this process dies). */
export function scratchFile(name) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `${name}-${process.pid}`);
  fs.rmSync(file, { force: true });
  ledgerAdd({ type: 'path', key: file });
  onCleanup(() => {
    fs.rmSync(file, { force: true });
    ledgerRemove({ type: 'path', key: file });
  });
  return file;
}

/** Runs fn(); on an exception prints a JSON result with ok:false so run.mjs can report it. */
export async function main(trial, fn) {
  const started = { loadavg: loadavg(), at: new Date().toISOString() };
  try {
    const result = await fn();
    emit({ trial, ok: true, ...result, env: { ...started, loadavgEnd: loadavg(), addon: addonInfo(), ...(result.env ?? {}) } });
  } catch (err) {
    log(`${trial}: ${err.stack ?? err}`);
    emit({ trial, ok: false, error: String(err.message ?? err), env: { ...started, loadavgEnd: loadavg() } });
    process.exitCode = 1;
  } finally {
    cleanupAll();
  }
}

// ---- system -------------------------------------------------------------------------------------

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function sh(cmd, args, { allowFail = false, input } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 * MiB });
  if (r.error) throw r.error;
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || '').trim()}`);
  }
  return r;
}

export function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Tool versions, for the record. */
export function toolVersion(cmd) {
  const flags = { dd: ['--version'], fio: ['--version'], zstd: ['-V'], md5sum: ['--version'], restic: ['version'], tar: ['--version'] };
  const r = spawnSync(cmd, flags[cmd] ?? ['--version'], { encoding: 'utf8' });
  return ((r.stdout || r.stderr || '').split('\n')[0] || '').trim();
}

/**
 * Page cache policy. 'drop': sync and `echo 3 > /proc/sys/vm/drop_caches` before each timed run
 * (needs root; the VM host may still cache the disk). 'warm': read every input once before the
 * runs so that ours and the baseline start from the same warm cache.
 */
export function dropCaches() {
  if (!isRoot) throw new Error('dropping the page cache needs root');
  sh('sync', []);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}
export function warmFiles(paths) {
  const buf = Buffer.allocUnsafe(4 * MiB);
  for (const p of paths) {
    const fd = fs.openSync(p, 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}
/** Resolves the cache policy: the --cache option, else the trial default; 'drop' falls back to 'warm' when not root. */
export function cachePolicy(opts, trialDefault) {
  const want = opts.cache ?? trialDefault;
  if (want === 'drop' && !isRoot) return { policy: 'warm', note: 'wanted to drop caches but not root: warmed equally instead' };
  return {
    policy: want,
    note:
      want === 'drop'
        ? 'page cache dropped (echo 3 > /proc/sys/vm/drop_caches) before every timed run'
        : 'inputs read once before timing; all runs start from the same warm page cache',
  };
}

// ---- loop devices and mounts -------------------------------------------------------------------

/**
 * Creates an image file of `size` bytes on ext4 and attaches it with `losetup --direct-io=on`
 * (a default loop device buffers in the page cache even under O_DIRECT: toolchain notes).
 * With `fs: 'ext4'` it also formats and mounts it. Detaches/unmounts only what it made,
 * also on failure and on signals. Returns { device, image, mountpoint, release() }.
 */
export function createLoopDevice({ size, name = 'loop', fs: fsType = null, sectorSize = null } = {}) {
  if (!isRoot) throw new Error('loop devices need root');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const image = path.join(OUT_DIR, `${name}-${process.pid}.img`);
  fs.rmSync(image, { force: true });
  const fd = fs.openSync(image, 'w');
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
  ledgerAdd({ type: 'path', key: image });
  const removeImage = onCleanup(() => {
    fs.rmSync(image, { force: true });
    ledgerRemove({ type: 'path', key: image });
  });
  const args = ['-f', '--show', '-P', '--direct-io=on'];
  if (sectorSize) args.push('--sector-size', String(sectorSize));
  const device = sh('losetup', [...args, image]).stdout.trim();
  ledgerAdd({ type: 'loop', key: device, image });
  const detach = onCleanup(() => {
    // Only the device this process attached, and only while it still points at our image.
    const r = spawnSync('losetup', ['-n', '-O', 'BACK-FILE', device], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim().startsWith(image)) spawnSync('losetup', ['-d', device]);
    ledgerRemove({ type: 'loop', key: device });
  });
  const dio = spawnSync('losetup', ['-n', '-O', 'DIO', device], { encoding: 'utf8' }).stdout.trim();
  let mountpoint = null;
  let unmount = () => {};
  if (fsType) {
    sh(`mkfs.${fsType}`, fsType === 'ext4' ? ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device] : ['-q', '-f', device]);
    mountpoint = path.join(OUT_DIR, `${name}-${process.pid}.mnt`);
    fs.mkdirSync(mountpoint, { recursive: true });
    ledgerAdd({ type: 'mount', key: mountpoint });
    sh('mount', [device, mountpoint]);
    unmount = onCleanup(() => {
      spawnSync('umount', [mountpoint]);
      fs.rmSync(mountpoint, { recursive: true, force: true });
      ledgerRemove({ type: 'mount', key: mountpoint });
    });
  }
  return {
    device,
    image,
    mountpoint,
    directIo: dio === '1',
    release() {
      unmount();
      detach();
      removeImage();
    },
  };
}

// ---- the addon ----------------------------------------------------------------------------------

const require = createRequire(import.meta.url);
let bindingCache;
/**
 * Loads the raw native binding (src/native/binding.d.ts). Order: $DRIVESEED_NATIVE, build/Release
 * (node-gyp release build), prebuilds via node-gyp-build. A debug build is never picked silently.
 * Returns { binding, path } or { binding: null, path: null, error }.
 */
export function loadNative() {
  if (bindingCache) return bindingCache;
  const tried = [];
  const candidates = process.env.DRIVESEED_NATIVE ? [process.env.DRIVESEED_NATIVE] : [path.join(ROOT, 'build', 'Release', 'driveseed.node')];
  for (const file of candidates) {
    try {
      bindingCache = { binding: require(file), path: file };
      return bindingCache;
    } catch (err) {
      tried.push(`${file}: ${err.code === 'MODULE_NOT_FOUND' ? 'not found' : err.message}`);
    }
  }
  if (!process.env.DRIVESEED_NATIVE) {
    try {
      const binding = require('node-gyp-build')(ROOT);
      bindingCache = { binding, path: 'node-gyp-build' };
      return bindingCache;
    } catch (err) {
      tried.push(`node-gyp-build: ${err.message.split('\n')[0]}`);
    }
  }
  bindingCache = { binding: null, path: null, error: `no release addon loaded (${tried.join('; ')}); build one with \`node scripts/build-native.mjs\`` };
  return bindingCache;
}

/** Which addon a trial used, with build-addon.mjs's note (commit, build type) when it has one. */
export function addonInfo() {
  const file = bindingCache?.path;
  if (!file) return null;
  try {
    return { path: file, ...JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) };
  } catch {
    return { path: file };
  }
}

/** The native function `name`, or a reason why it is unavailable (used to mark a row n/a, never to fake it). */
export function nativeFn(name) {
  const n = loadNative();
  if (!n.binding) return { fn: null, why: n.error };
  if (typeof n.binding[name] !== 'function') return { fn: null, why: `the addon at ${n.path} has no ${name}() yet` };
  return { fn: n.binding[name].bind(n.binding), why: null };
}

// ---- timing -------------------------------------------------------------------------------------

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs an external command; resolves { seconds, cpuSeconds, stdout, stderr }. Timing covers the whole process. */
export function timeCommand(cmd, args, { stdoutFile = null, cwd } = {}) {
  return new Promise((resolve, reject) => {
    // /usr/bin/time -f gives the child's user+sys CPU seconds (is it one core? both?).
    const useTime = fs.existsSync('/usr/bin/time');
    const timeFile = useTime ? path.join(os.tmpdir(), `ds-bench-time-${process.pid}-${Date.now()}`) : null;
    const argv = useTime ? ['-o', timeFile, '-f', '%U %S', cmd, ...args] : args;
    const out = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'pipe';
    const t0 = process.hrtime.bigint();
    const child = spawn(useTime ? '/usr/bin/time' : cmd, argv, { cwd, stdio: ['ignore', out, 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (typeof out === 'number') fs.closeSync(out);
      let cpuSeconds = null;
      if (timeFile) {
        try {
          const [u, s] = fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
          cpuSeconds = u + s;
        } catch {
          /* time did not write */
        }
        fs.rmSync(timeFile, { force: true });
      }
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-500)}`));
      else resolve({ seconds, cpuSeconds, stdout, stderr });
    });
  });
}

/** Times an in-process async function (a native job); CPU is process-wide, so it includes native threads. */
export async function timeFn(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = await fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, value };
}

/**
 * A contender: { label, command?, bytes, prepare?(), run() → {seconds, cpuSeconds, ...}, after?(r) }.
 * measureAll runs the contenders interleaved (A B C, A B C, …) `runs` times so that drift in a shared
 * machine's load hits all of them alike; prepare() runs untimed before every run (cache drop, rm).
 * Returns one measurement per contender: label, runs (seconds), medianSeconds, mbps, cpuPct.
 */
export async function measureAll(contenders, { runs, cache }) {
  const results = contenders.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[k];
      if (c.unavailable) continue;
      if (c.prepare) await c.prepare();
      if (cache === 'drop') dropCaches();
      const r = await c.run();
      results[k].push(r);
      log(`  ${c.label}: run ${i + 1}/${runs} ${fmt(r.seconds, 3)} s${c.bytes ? `, ${fmt(c.bytes / r.seconds / MB, 0)} MB/s` : ''}`);
    }
  }
  return contenders.map((c, k) => summarize(c, results[k]));
}

export function summarize(c, rs) {
  if (c.unavailable) return { label: c.label, command: c.command ?? null, unavailable: c.unavailable };
  const seconds = rs.map((r) => r.seconds);
  const med = median(seconds);
  const order = seconds.map((_, i) => i).sort((a, b) => seconds[a] - seconds[b]);
  const medRun = rs[order[(order.length - 1) >> 1]];
  // CPU over wall time (a tool that reports its own shorter runtime, like fio, still used the CPU for its whole wall time)
  const cpu = rs.every((r) => r.cpuSeconds != null) ? median(rs.map((r) => r.cpuSeconds / (r.wallSeconds ?? r.seconds))) : null;
  const out = {
    label: c.label,
    command: c.command ?? null,
    bytes: c.bytes,
    runs: seconds.map((s) => round(s, 4)),
    medianSeconds: round(med, 4),
    mbps: c.bytes ? round(c.bytes / med / MB, 1) : null,
    cpuPct: cpu == null ? null : Math.round(cpu * 100),
  };
  if (c.after) Object.assign(out, c.after(medRun));
  return out;
}

function spread(m) {
  if (!m?.runs?.length || !m.medianSeconds) return 0;
  return round((Math.max(...m.runs) - Math.min(...m.runs)) / m.medianSeconds, 3);
}

/** A comparison row: ours vs baseline, ratio of throughputs (higher is better for ours). */
export function compare(id, what, ours, baseline, goal, note) {
  const ratio = ours?.mbps && baseline?.mbps ? round(ours.mbps / baseline.mbps, 3) : null;
  const why = ours?.unavailable ?? baseline?.unavailable ?? null;
  return {
    id,
    what,
    ours: ours?.label ?? null,
    baseline: baseline?.label ?? null,
    oursMBps: ours?.mbps ?? null,
    baselineMBps: baseline?.mbps ?? null,
    ratio,
    goal,
    pass: ratio == null || goal == null ? null : ratio >= goal,
    // run-to-run spread, (max − min) / median, of the noisier contender: a ratio is only as good as this
    spread: Math.max(spread(ours), spread(baseline)) || null,
    note: [why, note].filter(Boolean).join('; ') || null,
  };
}

export function round(x, d = 3) {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
export function fmt(x, d = 1) {
  return x == null ? 'n/a' : Number(x).toFixed(d);
}

/** A scratch directory under bench/out, removed at exit. */
export function scratchDir(name) {
  const dir = path.join(OUT_DIR, `${name}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  ledgerAdd({ type: 'path', key: dir });
  onCleanup(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    ledgerRemove({ type: 'path', key: dir });
  });
  return dir;
}

/** Total bytes of regular files under dir (apparent size), recursively. */
export function treeBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += treeBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}
