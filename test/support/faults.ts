/**
 * Injected I/O faults for the real CLI, without device-mapper: test/support/faultshim/faultshim.c is
 * an LD_PRELOAD library that makes chosen reads, writes, fsyncs or opens of one file fail (EIO,
 * ENOSPC, any errno), come up short or stall, and logs one line per fault it fires.
 *
 * `faultsUnavailable()` says why the shim cannot run here (no cc, not Linux); `runFaulted()` spawns
 * the CLI the way a user runs it, through bin/driveseed.js, with a fault plan. bin/driveseed.js runs
 * dist/cli/main.js, which `npm run build` writes and which may be older than src/: the CLI here is
 * that same bin/driveseed.js in a package-shaped directory under build-faultshim/ (ignored by git as
 * build-*), next to a dist/cli/main.js bundled from the current src/ with esbuild (which tsx brings)
 * and a copy of package.json; the addon is the one this checkout built (DRIVESEED_NATIVE).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bindingPath } from '../../src/native/load';

const ROOT = path.resolve(__dirname, '..', '..');
const SHIM_SOURCE = path.join(__dirname, 'faultshim', 'faultshim.c');
const OUT = path.join(ROOT, 'build-faultshim');

export interface FaultRule {
  /** the file, matched against the absolute path it was opened by */
  path: string;
  /** how `path` matches; glob is fnmatch(3) without flags (* also matches /) */
  match?: 'substr' | 'suffix' | 'exact' | 'glob';
  op?: 'read' | 'write' | 'fsync' | 'open';
  /** fires on a call whose byte range reaches past this offset (default 0) */
  offset?: number;
  kind?: 'eio' | 'enospc' | 'short' | 'stall' | 'errno';
  errno?: number;
  /** kind short: bytes to transfer (default: up to `offset`, else half the request) */
  bytes?: number;
  /** kind stall: how long */
  ms?: number;
  /** how many times it fires; 0 = every matching call (default 1) */
  count?: number;
  /** matching calls let through before it fires */
  skip?: number;
}

/** One line of the shim's log: a fault that really happened. */
export interface FiredFault {
  kind: string;
  op: string;
  call: string;
  path: string;
  offset: number;
  len: number;
  result: number;
  pid: number;
}

/** Why the fault shim cannot be used here, or undefined. */
export function faultsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the LD_PRELOAD fault shim is Linux-only';
  if (spawnSync('sh', ['-c', 'command -v cc'], { stdio: 'ignore' }).status !== 0) return 'needs a C compiler (cc) to build the LD_PRELOAD fault shim';
  return undefined;
}

let shim: string | undefined;

/** Builds the shim once (cached by the hash of its source) and returns the .so path. */
export function buildShim(): string {
  if (shim) return shim;
  const src = fs.readFileSync(SHIM_SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const so = path.join(OUT, `faultshim-${hash}.so`);
  if (!fs.existsSync(so)) {
    fs.mkdirSync(OUT, { recursive: true });
    // Test files run in parallel: build under a private name, then rename into place.
    const tmp = `${so}.${process.pid}.tmp`;
    const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, SHIM_SOURCE, '-ldl', '-lpthread'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the fault shim failed:\n${r.stderr}`);
    fs.renameSync(tmp, so);
  }
  shim = so;
  return so;
}

let cli: string | undefined;

/** bin/driveseed.js in a package-shaped directory whose dist/cli/main.js is the current src/ (see the top). */
export function faultCli(): string {
  if (cli) return cli;
  const esbuild = require('esbuild') as typeof import('esbuild');
  fs.mkdirSync(OUT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(OUT, 'cli-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(path.join(ROOT, 'bin', 'driveseed.js'), path.join(dir, 'bin', 'driveseed.js'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  esbuild.buildSync({
    entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: path.join(dir, 'dist', 'cli', 'main.js'),
    // the addon and the npm packages load from this checkout, as from an installed package
    packages: 'external',
    logLevel: 'error',
  });
  cli = path.join(dir, 'bin', 'driveseed.js');
  return cli;
}

function ruleText(r: FaultRule): string {
  for (const v of [r.path, r.kind, r.match, r.op]) {
    if (v !== undefined && /[,;=]/.test(v)) throw new Error(`a fault rule value may not contain , ; or =: ${v}`);
  }
  const kv: Array<[string, string | number | undefined]> = [
    ['path', r.path],
    ['match', r.match],
    ['op', r.op],
    ['offset', r.offset],
    ['kind', r.kind],
    ['errno', r.errno],
    ['bytes', r.bytes],
    ['ms', r.ms],
    ['count', r.count],
    ['skip', r.skip],
  ];
  return kv
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The environment that runs a process under `rules`, logging to `log`. */
export function faultEnv(rules: FaultRule[], log: string): Record<string, string> {
  return {
    LD_PRELOAD: buildShim(),
    FAULTSHIM_RULES: rules.map(ruleText).join(';'),
    FAULTSHIM_LOG: log,
    // libuv may do file I/O through io_uring, which the shim cannot see
    UV_USE_IO_URING: '0',
  };
}

export function readFired(log: string): FiredFault[] {
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('faultshim fired '))
    .map((l) => {
      const f: Record<string, string> = {};
      for (const m of l.slice('faultshim fired '.length).matchAll(/(\w+)=(\S*)/g)) f[m[1]!] = m[2]!;
      return {
        kind: f.kind!,
        op: f.op!,
        call: f.call!,
        path: f.path!,
        offset: Number(f.offset),
        len: Number(f.len),
        result: Number(f.result),
        pid: Number(f.pid),
      };
    });
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the faults the shim fired in this run */
  fired: FiredFault[];
  /** the `--json` lines of stdout (only when every line is JSON) */
  lines: Array<Record<string, any>>;
}

let runs = 0;

/**
 * Runs `node bin/driveseed.js <args>` with the faults of `rules` (none: a clean run) and resolves
 * with its exit, output and the faults that fired. Asynchronous, so that an in-process emulator the
 * child talks to keeps answering.
 */
export function runFaulted(
  args: string[],
  rules: FaultRule[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; signalWhenFired?: NodeJS.Signals } = {},
): Promise<CliRun> {
  const log = path.join(OUT, `fired-${process.pid}-${++runs}.log`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(log, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, DRIVESEED_NATIVE: bindingPath(), ...opts.env, ...(rules.length > 0 ? faultEnv(rules, log) : {}) };
  delete env.DRIVESEED_DEBUG;
  const child = spawn(process.execPath, [faultCli(), ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  // signalWhenFired: sent once the first fault has fired (a stall logs before it sleeps)
  const poll = opts.signalWhenFired
    ? setInterval(() => {
        if (readFired(log).length > 0) {
          clearInterval(poll);
          child.kill(opts.signalWhenFired);
        }
      }, 20)
    : undefined;
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      const fired = readFired(log);
      fs.rmSync(log, { force: true });
      let lines: Array<Record<string, any>> = [];
      try {
        lines = stdout
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Record<string, any>);
      } catch {
        lines = [];
      }
      resolve({ code, signal, stdout, stderr, fired, lines });
    }),
  );
}

/** The `{"type":"error"}` line of a --json run, or undefined. */
export function errorLine(r: CliRun): Record<string, any> | undefined {
  return [...r.lines].reverse().find((l) => l.type === 'error');
}

/** The CLI's output as one string, for assertion messages. */
export function output(r: CliRun): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n${r.stdout}\n${r.stderr}`;
}

/** A JavaScript stack frame anywhere in the output: the CLI prints none unless DRIVESEED_DEBUG=1. */
export function hasStack(r: CliRun): boolean {
  return /\n\s+at .+[:(]/.test(`${r.stdout}\n${r.stderr}`);
}

/** Every regular file under `dir` (relative path → size and SHA-256), for comparing whole trees. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[path.relative(dir, p)] = `${fs.statSync(p).size} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
      else out[path.relative(dir, p)] = 'not a regular file';
    }
  };
  walk(dir);
  return out;
}

export interface FaultedServer {
  child: ReturnType<typeof spawn>;
  /** the `--json` lines so far */
  lines(): Array<Record<string, any>>;
  /** the faults the shim fired so far */
  fired(): FiredFault[];
  /** output so far, for assertion messages */
  output(): string;
  /** SIGTERM, then resolves with the exit code */
  stop(): Promise<number | null>;
}

/**
 * Starts a long-running CLI command (`emulator start --json`) under `rules` and resolves once a
 * stdout line satisfies `ready`.
 */
export function startFaulted(
  args: string[],
  rules: FaultRule[],
  ready: (line: Record<string, any>) => boolean,
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<FaultedServer> {
  const log = path.join(OUT, `fired-${process.pid}-${++runs}.log`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(log, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, DRIVESEED_NATIVE: bindingPath(), ...opts.env, ...(rules.length > 0 ? faultEnv(rules, log) : {}) };
  delete env.DRIVESEED_DEBUG;
  const child = spawn(process.execPath, [faultCli(), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const parsed = () =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, any>;
        } catch {
          return {};
        }
      });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const server: FaultedServer = {
    child,
    lines: parsed,
    fired: () => readFired(log),
    output: () => `${stdout}\n${stderr}`,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(log, { force: true });
      return code;
    },
  };
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} was not ready in time:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (parsed().some(ready)) {
        clearTimeout(timer);
        resolve(server);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${stdout}\n${stderr}`));
    });
  });
}
