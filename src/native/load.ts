/**
 * Loads the native addon. Order: DRIVESEED_NATIVE (an explicit path, for development and tests), then
 * the newer of build/Release (node-gyp or cmake-js release) and build/Debug (cmake-js debug), then
 * prebuilds/<platform>-<arch>/*.node through node-gyp-build. When nothing loads, the error says what
 * was looked for and how to build it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Binding from './binding';

export type NativeBinding = typeof Binding;

const ROOT = path.resolve(__dirname, '..', '..');
let cached: NativeBinding | undefined;
let cachedPath: string | undefined;

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

export class NativeLoadError extends Error {
  readonly code = 'ERR_NATIVE_LOAD';
  constructor(message: string) {
    super(message);
    this.name = 'NativeLoadError';
  }
}

/**
 * The addon at `file`, through process.dlopen rather than require: a require hook may resolve
 * `x.node` to something else (tsx, which the tests and the bench load sources with, picks a sibling
 * `x.node.json` such as bench/build-addon.mjs's build note).
 */
function dlopenAddon(file: string): NativeBinding {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw Object.assign(new Error(`Cannot find module '${resolved}'`), { code: 'MODULE_NOT_FOUND' });
  const m = { exports: {} };
  process.dlopen(m, resolved);
  return m.exports as NativeBinding;
}

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const tried: string[] = [];
  const override = process.env.DRIVESEED_NATIVE;
  const candidates = override
    ? [override]
    : [path.join(ROOT, 'build', 'Release', 'driveseed.node'), path.join(ROOT, 'build', 'Debug', 'driveseed.node')].sort((a, b) => mtime(b) - mtime(a));
  for (const file of candidates) {
    try {
      cached = dlopenAddon(file);
      cachedPath = path.resolve(file);
      return cached;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      tried.push(`${file}: ${e.code === 'MODULE_NOT_FOUND' ? 'not found' : e.message}`);
      if (override) break;
    }
  }
  if (!override) {
    try {
      // node-gyp-build looks in build/ and prebuilds/<platform>-<arch>/ for a matching Node-API build.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const ngb = require('node-gyp-build') as { (dir: string): NativeBinding; path(dir: string): string };
      cached = ngb(ROOT);
      cachedPath = ngb.path(ROOT);
      return cached;
    } catch (err) {
      tried.push(`prebuilds/${process.platform}-${process.arch}/ via node-gyp-build: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new NativeLoadError(
    [
      `driveseed's native addon could not be loaded for ${process.platform}-${process.arch}, Node ${process.version} (Node-API ${process.versions.napi}; the addon needs Node-API 8).`,
      'Looked for:',
      ...tried.map((t) => `  - ${t}`),
      'Fix: build it from source with `npm run build:native` (needs a C++17 compiler, python3 and libzstd-dev;',
      'on Debian: apt-get install g++ make python3 libzstd-dev), or install a release that ships prebuilds for this platform.',
    ].join('\n'),
  );
}

/** The file the addon was loaded from (loads it first if needed). For tests that spawn workers or child processes. */
export function bindingPath(): string {
  loadBinding();
  return cachedPath!;
}

/** Whether the addon loads and its ABI version, for `driveseed version`; never throws (a CLI without its addon still starts). */
export function nativeStatus(): { loaded: true; abiVersion: number } | { loaded: false; code: string; message: string } {
  try {
    return { loaded: true, abiVersion: loadBinding().abiVersion };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return { loaded: false, code: typeof e.code === 'string' ? e.code : 'ERR_NATIVE_LOAD', message: String(e.message ?? err) };
  }
}
