/**
 * Loads the native addon. Order: a development build (build/Debug, build/Release from cmake-js or
 * node-gyp), then prebuilds/<platform>-<arch>/*.node through node-gyp-build. When nothing loads,
 * the error says what was looked for and how to build it.
 */
import * as path from 'node:path';
import type * as Binding from './binding';

export type NativeBinding = typeof Binding;

const ROOT = path.resolve(__dirname, '..', '..');
let cached: NativeBinding | undefined;

export class NativeLoadError extends Error {
  readonly code = 'ERR_NATIVE_LOAD';
  constructor(message: string) {
    super(message);
    this.name = 'NativeLoadError';
  }
}

export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const tried: string[] = [];
  const override = process.env.DRIVESEED_NATIVE;
  const candidates = override
    ? [override]
    : [path.join(ROOT, 'build', 'Debug', 'driveseed.node'), path.join(ROOT, 'build', 'Release', 'driveseed.node')];
  for (const file of candidates) {
    try {
      cached = require(file) as NativeBinding;
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
      cached = require('node-gyp-build')(ROOT) as NativeBinding;
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
