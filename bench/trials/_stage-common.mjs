// Shared by the stage and restore trials: the driveseed CLI compiled once per trial into a
// scratch directory (so neither tsx's start-up nor a stale dist/ is measured), the restic commands,
// and repository sizes. Not a trial itself (the runner skips files starting with "_").
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, loadNative, log, scratchDir, timeCommand, toolVersion } from '../lib/harness.mjs';

/** Compiles src/ with tsc into a scratch dir; returns { addon, main, run(args) } (main: the compiled CLI entry; run: timeCommand of it). */
export function buildCli(name) {
  const out = scratchDir(`${name}-cli`);
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(ROOT, 'tsconfig.json'),
      '--outDir',
      out,
      '--declaration',
      'false',
      '--sourceMap',
      'false',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tsc failed: ${(r.stdout + r.stderr).slice(-800)}`);
  const native = loadNative();
  if (!native.binding) throw new Error(native.error);
  const main = path.join(out, 'cli', 'main.js');
  log(`${name}: CLI compiled into ${out}; addon ${native.path}`);
  // The compiled CLI loads the same addon file as the trial (node-gyp-build: the prebuild it picked).
  const addon = native.path === 'node-gyp-build' ? createRequire(import.meta.url)('node-gyp-build').path(ROOT) : native.path;
  process.env.DRIVESEED_NATIVE = addon;
  // Per-user records and the key cache (docs/key-cache.md) of every run go here, not to ~/.driveseed.
  process.env.DRIVESEED_HOME = path.join(out, 'home');
  return {
    addon,
    main,
    run: (args) => timeCommand(process.execPath, [main, ...args]),
  };
}

export const PASSWORD = 'bench-passphrase-not-secret';

/** Bytes of the regular files under dir that are repository content (not locks, settings, temps). */
export function repoBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'locks' || e.name === 'settings.json' || e.name.startsWith('.tmp-')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += repoBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** The JSON result line of a `--json` CLI run. */
export function cliResult(stdout) {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{"type":"result"'));
  if (!line) throw new Error(`no result line in the CLI output: ${stdout.slice(-500)}`);
  return JSON.parse(line).data;
}

export function resticAvailable() {
  return spawnSync('sh', ['-c', 'command -v restic'], { stdio: 'ignore' }).status === 0 ? null : 'restic is not installed (Debian package restic)';
}

/** restic with a local repository and its own cache dir; RESTIC_PASSWORD set in the environment. */
export function restic(repo, cache) {
  return {
    init: () => {
      fs.rmSync(repo, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
      const r = spawnSync('restic', ['-r', repo, '--cache-dir', cache, 'init', '--repository-version', '2'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`restic init failed: ${r.stderr}`);
    },
    run: (args) => timeCommand('restic', ['-r', repo, '--cache-dir', cache, '--quiet', ...args]),
    version: toolVersion('restic'),
  };
}

/** Environment for every child of a trial: the passphrase for both tools (never a secret here). */
export function setPasswords() {
  process.env.RESTIC_PASSWORD = PASSWORD;
  process.env.DRIVESEED_PASSPHRASE = PASSWORD;
}

/**
 * Runs `fn` with extra environment variables for the children it spawns (spawn copies process.env
 * when it is called, so a contender's run() can differ from the others measured beside it).
 */
export function withEnv(extra, fn) {
  const saved = Object.fromEntries(Object.keys(extra).map((k) => [k, process.env[k]]));
  Object.assign(process.env, extra);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The key cache turned off, for the runs measured without it. */
export const NO_KEY_CACHE = { DRIVESEED_KEY_CACHE: 'off' };

/** `driveseed key-cache add` for `staging` (the opt-in cache the "key cached" rows measure); DRIVESEED_HOME is the CLI's own. */
export async function cacheKey(cli, staging) {
  cliResult((await cli.run(['--json', 'key-cache', 'add', '--staging', staging, '--ttl', '4h'])).stdout);
}
