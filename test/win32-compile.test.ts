// The Windows code paths compile: scripts/check-win32.mjs runs mingw-w64 over every native source.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gated, hasTool } from './helpers';

const cxx = 'x86_64-w64-mingw32-g++-posix';
const root = path.resolve(__dirname, '..');

gated(
  test,
  'every native source compiles for Windows (mingw-w64, -fsyntax-only)',
  hasTool(cxx) ? undefined : `needs ${cxx} (apt-get install mingw-w64)`,
  () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-win32.mjs')], { cwd: root, encoding: 'utf8', timeout: 10 * 60 * 1000 });
    const out = `${r.stdout}${r.stderr}`;
    assert.match(out, /\d+ passed, 0 failed/, out);
    assert.match(out, /ok {3}native\/src\/win32\/platform_win32\.cc/, out);
    assert.is(r.status, 0, out);
  },
);

test.run();
