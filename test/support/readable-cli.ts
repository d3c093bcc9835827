/**
 * Running the CLI as another user (tests that need an unprivileged process, e.g. to meet EACCES as a
 * user meets it) from wherever the checkout lives. The checkout may sit under a directory the other
 * user cannot traverse (a clone under a mode-0700 temporary directory, or under /root), so the test
 * never runs the sources in place: the entry point is bundled with its modules (esbuild, which tsx
 * already brings) into one file in a world-readable directory, next to a copy of the native addon.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bindingPath } from '../../src/native/load';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

/** True when every directory from `/` down to `dir` lets other users through (o+x). */
export function traversableByOthers(dir: string): boolean {
  let d = path.resolve(dir);
  for (;;) {
    const st = fs.statSync(d);
    if ((st.mode & 0o001) === 0) return false;
    const up = path.dirname(d);
    if (up === d) return true;
    d = up;
  }
}

/** A temporary directory that other users can reach: under os.tmpdir() when its ancestors allow it, else under /tmp or /var/tmp. */
export function sharedTmpDir(prefix: string): string {
  const base = [os.tmpdir(), '/tmp', '/var/tmp'].find((b) => fs.existsSync(b) && traversableByOthers(b));
  if (!base) throw new Error(`no temporary directory is traversable by other users (tried ${os.tmpdir()}, /tmp, /var/tmp)`);
  const dir = fs.mkdtempSync(path.join(base, prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export interface PortableCli {
  /** node runs this file: the bundled CLI */
  main: string;
  /** environment that points the bundle at its copy of the addon */
  env: Record<string, string>;
  dir: string;
}

let built: PortableCli | undefined;

/** Bundles the CLI once per process into a directory any user can read. */
export function portableCli(): PortableCli {
  if (built) return built;
  // esbuild comes with tsx; it is not a dependency of the product.
  const esbuild = require('esbuild') as typeof import('esbuild');
  const dir = sharedTmpDir('driveseed-cli-');
  const main = path.join(dir, 'driveseed.js');
  esbuild.buildSync({ entryPoints: [MAIN], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: main, logLevel: 'error' });
  const addon = path.join(dir, 'driveseed.node');
  fs.copyFileSync(bindingPath(), addon);
  // version.ts reads ../../package.json relative to its module; the bundle has no such tree, which it reports as unknown.
  for (const f of [main, addon]) fs.chmodSync(f, 0o755);
  built = { main, dir, env: { DRIVESEED_NATIVE: addon } };
  return built;
}
