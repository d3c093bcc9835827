/**
 * The sanitizer addon for the tests that run native code under ASan + UBSan (test/native-asan.test.ts,
 * test/native-blake3.test.ts): why such a test must skip here, the build (cmake-js into build-asan/,
 * incremental when another test built it first) and what its children need in their environment.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasTool } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');

/** The GCC ASan runtime to preload ('' where there is none). */
export const libasan = process.platform === 'linux' ? (spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? '') : '';

/** Why an ASan test cannot run here, or undefined when it can (DRIVESEED_ASAN=1, Linux, the runtime, cmake). */
export function asanSkipReason(): string | undefined {
  if (process.env.DRIVESEED_ASAN !== '1') return 'set DRIVESEED_ASAN=1 to build the sanitizer addon and run it (minutes)';
  if (process.platform !== 'linux') return 'the ASan run is Linux-only';
  if (!path.isAbsolute(libasan) || !fs.existsSync(libasan)) return 'needs the ASan runtime (gcc libasan, Debian: libasan8)';
  return hasTool('cmake') ? undefined : 'needs cmake to build the sanitizer addon';
}

/** Builds the sanitizer addon; `addon` is where it lands. */
export function buildAsanAddon(): { build: SpawnSyncReturns<string>; addon: string } {
  const build = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'build', '--out', 'build-asan', '--debug', '--CDDS_SANITIZE=ON'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 20 * 60 * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { build, addon: path.join(ROOT, 'build-asan', 'Debug', 'driveseed.node') };
}
