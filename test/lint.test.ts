/**
 * Formatting and lint, as CI runs them (CONTRIBUTING.md, "Formatting and lint"):
 *  - TypeScript and JavaScript: Biome (biome.json, the pinned devDependency): `biome ci`, which checks
 *    formatting and runs the linter without writing anything.
 *  - native/src: clang-format 14 (.clang-format) in --dry-run --Werror mode over every .cc and .h, and
 *    clang-tidy 14 (.clang-tidy) over the sources of native/sources.json that build on Linux.
 * `npm run format` writes the formatting of both; `npm run lint` is the Biome half of this file.
 *
 * The *_PENDING lists name files that still have to be brought in line (they held someone's
 * unfinished work when the tree was reformatted). They only shrink: a listed file that already
 * passes fails the run until its entry is deleted.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gated, hasTool } from './helpers';

const ROOT = path.resolve(__dirname, '..');
const BIOME = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'biome.cmd' : 'biome');

/** Files Biome does not check yet, relative to the repository root. */
const BIOME_PENDING: string[] = [];

/** native/src files clang-format does not check yet. */
const CLANG_FORMAT_PENDING: string[] = ['native/src/posix/platform_posix.cc', 'native/src/win32/platform_win32.cc'];

/**
 * clang-tidy findings that exist today: `file: check` → how many. A count that grows fails, one that
 * shrinks fails until it is lowered here, so the list only shrinks.
 */
const CLANG_TIDY_KNOWN: Record<string, number> = {
  // unique_ptr::release() after ownership passed to N-API: write `static_cast<void>(p.release())` to say so.
  'native/src/job.cc: bugprone-unused-return-value': 2,
};

// clang-format and clang-tidy: the Debian 14 packages (scripts/setup.mjs installs them). Other major
// versions format differently, so only 14 is used.
const CLANG_FORMAT = 'clang-format-14';
const CLANG_TIDY = 'clang-tidy-14';

const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join('/');

function walk(dir: string, keep: (name: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    // test fixtures, and the benchmarks' generated data set and results (bench/data, bench/out)
    if (e.isDirectory()) return ['fixtures', 'node_modules', 'data', 'out'].includes(e.name) ? [] : walk(p, keep);
    return keep(e.name) ? [p] : [];
  });
}

/** The files biome.jsonc's `files.includes` names (test/fixtures excluded). */
function biomeFiles(): string[] {
  const all = [
    ...walk(path.join(ROOT, 'src'), (n) => n.endsWith('.ts')),
    ...walk(path.join(ROOT, 'test'), (n) => n.endsWith('.ts') || n.endsWith('.cjs')),
    ...walk(path.join(ROOT, 'bench'), (n) => n.endsWith('.mjs')),
    ...walk(path.join(ROOT, 'scripts'), (n) => n.endsWith('.mjs')),
    ...walk(path.join(ROOT, 'bin'), (n) => n.endsWith('.js')),
  ].map(rel);
  return all.sort();
}

function nativeFiles(): string[] {
  return walk(path.join(ROOT, 'native', 'src'), (n) => n.endsWith('.cc') || n.endsWith('.h'))
    .map(rel)
    .sort();
}

function run(cmd: string, args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const biomeReason = fs.existsSync(BIOME) ? undefined : 'needs @biomejs/biome (npm ci)';

gated(test, 'Biome sees a formatting problem and a lint error (the check can fail)', biomeReason, () => {
  // A scratch tree with this repository's configuration, so that the samples are checked exactly as src/ is.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-lint-'));
  try {
    fs.copyFileSync(path.join(ROOT, 'biome.jsonc'), path.join(dir, 'biome.jsonc'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'fmt.ts'), 'const  x = {a:1,\n  b:"two"}\nexport default x;\n');
    fs.writeFileSync(path.join(dir, 'src', 'lint.ts'), 'export function f(a: number): number {\n  if (a === a) debugger;\n  return a;\n}\n');
    const at = (args: string[]) => {
      const r = spawnSync(BIOME, [args[0]!, '--colors=off', '--error-on-warnings', ...args.slice(1)], { cwd: dir, encoding: 'utf8' });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const fmt = at(['ci', 'src/fmt.ts']);
    assert.is.not(fmt.status, 0, `biome ci accepted a misformatted file:\n${fmt.out}`);
    assert.match(fmt.out, /format/);
    const lint = at(['ci', 'src/lint.ts']);
    assert.is.not(lint.status, 0, `biome ci accepted a debugger statement and a self-comparison:\n${lint.out}`);
    assert.match(lint.out, /noDebugger/);
    assert.match(lint.out, /noSelfCompare/);
    fs.writeFileSync(path.join(dir, 'src', 'fmt.ts'), "const x = { a: 1, b: 'two' };\nexport default x;\n");
    assert.is(at(['ci', 'src/fmt.ts']).status, 0, 'biome ci refused a well-formatted file');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

gated(test, 'TypeScript and JavaScript pass `biome ci` (formatting and lint; npm run format fixes the formatting)', biomeReason, () => {
  const all = biomeFiles();
  assert.ok(all.length > 150, `expected the sources of src/, test/, bench/, scripts/, bin/ (found ${all.length})`);
  const files = all.filter((f) => !BIOME_PENDING.includes(f));
  const r = run(BIOME, ['ci', '--colors=off', '--error-on-warnings', '--max-diagnostics=30', ...files]);
  assert.ok(r.status === 0, `biome ci failed:\n${r.out.slice(-8000)}`);
});

gated(test, 'every file in BIOME_PENDING still needs work (delete the entries that pass)', biomeReason, () => {
  const passing = BIOME_PENDING.filter((f) => fs.existsSync(path.join(ROOT, f)) && run(BIOME, ['ci', '--colors=off', '--error-on-warnings', f]).status === 0);
  const gone = BIOME_PENDING.filter((f) => !fs.existsSync(path.join(ROOT, f)));
  assert.equal([...passing, ...gone], [], 'remove these from BIOME_PENDING in test/lint.test.ts');
});

const clangFormatReason = hasTool(CLANG_FORMAT) ? undefined : `needs ${CLANG_FORMAT} (Debian package clang-format-14)`;

gated(test, 'clang-format sees a formatting problem (the check can fail)', clangFormatReason, () => {
  const r = run(CLANG_FORMAT, ['--assume-filename=native/src/sample.cc'], 'int  f( int a ){return a*2;}\n');
  assert.is(r.status, 0, r.out);
  assert.is(r.out, 'int f(int a) { return a * 2; }\n');
});

gated(test, 'native/src is clang-formatted (npm run format fixes it)', clangFormatReason, () => {
  const files = nativeFiles().filter((f) => !CLANG_FORMAT_PENDING.includes(f));
  assert.ok(files.length > 10, `expected the native sources (found ${files.length})`);
  const r = run(CLANG_FORMAT, ['--dry-run', '--Werror', ...files]);
  assert.ok(r.status === 0, `clang-format would change:\n${r.out.slice(-8000)}`);
  const passing = CLANG_FORMAT_PENDING.filter((f) => run(CLANG_FORMAT, ['--dry-run', '--Werror', f]).status === 0);
  assert.equal(passing, [], 'these pass now: remove them from CLANG_FORMAT_PENDING in test/lint.test.ts');
});

/** The Linux sources of the addon, and the compiler flags both native builds use. */
function tidyInputs(): { files: string[]; flags: string[] } {
  const sources = JSON.parse(fs.readFileSync(path.join(ROOT, 'native', 'sources.json'), 'utf8')) as { common: string[]; posix: string[] };
  const addonApi = (require('node-addon-api') as { include_dir: string }).include_dir;
  const napiHeaders = (require('node-api-headers') as { include_dir: string }).include_dir;
  return {
    files: [...sources.common, ...sources.posix],
    flags: [
      '-std=c++17',
      '-I/usr/include/node',
      `-I${addonApi}`,
      `-I${napiHeaders}`,
      '-Inative/src',
      '-DNAPI_VERSION=8',
      '-DNODE_ADDON_API_DISABLE_DEPRECATED',
      '-DNODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS',
    ],
  };
}

function tidyOne(file: string, flags: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLANG_TIDY, ['--quiet', file, '--', ...flags], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', () => {}); // "N warnings generated" and the suppressed-warnings summary
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

const tidyReason = !hasTool(CLANG_TIDY)
  ? `needs ${CLANG_TIDY} (Debian package clang-tidy-14)`
  : !fs.existsSync('/usr/include/node/node_api.h')
    ? "needs Node's headers in /usr/include/node (Debian's nodejs package), which the addon build uses too"
    : undefined;

gated(test, 'clang-tidy finds nothing new in native/src (.clang-tidy)', tidyReason, async () => {
  const { files, flags } = tidyInputs();
  // Two at a time: about 40 s of CPU for the whole addon, on CI's two cores.
  const outputs: string[] = [];
  const queue = [...files];
  const workers = Array.from({ length: Math.min(2, os.availableParallelism()) }, async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) outputs.push(await tidyOne(f, flags));
  });
  await Promise.all(workers);
  const findings = new Map<string, Set<string>>(); // "file: check" → distinct "line:col" (a header is seen once per source)
  const errors: string[] = [];
  for (const line of outputs.join('\n').split('\n')) {
    const m = /^(.*?):(\d+):(\d+): (warning|error): .*\[([\w.,-]+)\]$/.exec(line);
    if (!m) continue;
    if (m[4] === 'error') errors.push(line);
    const key = `${rel(path.resolve(ROOT, m[1]!))}: ${m[5]}`;
    findings.set(key, (findings.get(key) ?? new Set()).add(`${m[2]}:${m[3]}`));
  }
  assert.equal(errors, [], 'clang-tidy could not compile these (flags out of step with binding.gyp/CMakeLists.txt?)');
  const counts = Object.fromEntries([...findings].map(([k, v]) => [k, v.size]).sort());
  const report = outputs
    .join('\n')
    .split('\n')
    .filter((l) => /: warning: /.test(l));
  assert.equal(counts, Object.fromEntries(Object.entries(CLANG_TIDY_KNOWN).sort()), `clang-tidy findings differ from CLANG_TIDY_KNOWN:\n${report.join('\n')}`);
});

test.run();
