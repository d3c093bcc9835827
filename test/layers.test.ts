/**
 * The layers of src/ and which way they may depend, checked over every import of every file.
 *
 * LAYERS below is the allowed graph; ARCHITECTURE.md ("Layers") prints the same table between
 * `layers:begin` and `layers:end`, and a test here fails when the two differ, so the picture a
 * newcomer reads is the one CI enforces. To change the graph, change both in one commit.
 *
 * KNOWN_EXCEPTIONS are the upward imports that exist today in files being reworked by someone else;
 * each names the owner's way out. An exception that no longer occurs fails the run too, so the list
 * only shrinks: delete the entry in the commit that removes the import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSpecifiers, stripComments } from './support/import-scanner';

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');

/**
 * Layer → the layers its files may import (besides their own). A layer is a folder of src/
 * (`index` is src/index.ts, the library entry). Bottom to top:
 *   base → native → repo, azure → prep, cloud, emulator → core → commands → rpc → cli; index
 */
export const LAYERS: Record<string, readonly string[]> = {
  base: [],
  native: ['base'],
  repo: ['base', 'native'],
  azure: ['base', 'native'],
  prep: ['base', 'native', 'repo', 'azure'],
  cloud: ['base', 'native', 'repo', 'azure'],
  emulator: ['base', 'azure'],
  core: ['base', 'native', 'repo', 'azure', 'prep', 'cloud'],
  commands: ['base', 'native', 'repo', 'azure', 'prep', 'cloud', 'emulator', 'core'],
  rpc: ['base', 'native', 'repo', 'azure', 'prep', 'cloud', 'core', 'commands'],
  cli: ['base', 'native', 'repo', 'azure', 'prep', 'cloud', 'core', 'commands', 'rpc'],
  index: ['base', 'native', 'repo', 'azure', 'prep', 'cloud', 'core', 'commands', 'rpc'],
};

interface Exception {
  /** importing file and imported module, both relative to the repository root, without extension */
  from: string;
  to: string;
  owner: string;
  fix: string;
}

/** Upward imports that exist today, each with who removes it and how. */
const KNOWN_EXCEPTIONS: Exception[] = [
  {
    from: 'src/emulator/ingest',
    to: 'src/native/pipeline',
    owner: 'emulator',
    fix: "check the drives' block MD5s with node:crypto, so that the emulator never verifies the client with the client's own MD5 code (or move native below the emulator in the table and say why: md5Many is tested against node:crypto on every path)",
  },
];

function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

const rel = (p: string) => path.relative(ROOT, p).split(path.sep).join('/');
const noExt = (p: string) => p.replace(/\.(d\.)?tsx?$/, '').replace(/\/index$/, '');

/** The layer of a path under src/: its first folder, or `index` for src/index.ts. */
function layerOf(file: string): string | undefined {
  const r = path.relative(SRC, file).split(path.sep);
  if (r[0] === '..') return undefined;
  return r.length === 1 ? (r[0] === 'index.ts' || r[0] === 'index' ? 'index' : `src/${r[0]}`) : r[0];
}

interface Edge {
  from: string;
  fromLayer: string;
  to: string;
  toLayer: string | undefined;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of walk(SRC)) {
    const fromLayer = layerOf(file)!;
    for (const spec of importSpecifiers(fs.readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue; // node: builtins and npm packages
      let target = path.resolve(path.dirname(file), spec);
      if (fs.existsSync(target) && fs.statSync(target).isDirectory()) target = path.join(target, 'index.ts');
      out.push({ from: noExt(rel(file)), fromLayer, to: noExt(rel(target)), toLayer: layerOf(target) });
    }
  }
  return out;
}

function isAllowed(e: Edge): boolean {
  if (e.toLayer === undefined) return false; // outside src/
  if (e.toLayer === e.fromLayer) return true;
  return (LAYERS[e.fromLayer] ?? []).includes(e.toLayer);
}

const isException = (e: Edge) => KNOWN_EXCEPTIONS.some((x) => x.from === e.from && noExt(x.to) === e.to);

// ─── tests ───────────────────────────────────────────────────────────────────────────────────

test('the scanner finds every import form and none inside comments, strings or regexes', () => {
  const sample = [
    "import * as fs from 'node:fs';",
    "import type { A } from '../core/a';",
    "import def, { b as c } from './b';",
    "import {\n  x,\n  y,\n} from '../repo/multi';",
    "export { z } from '../azure/z';",
    "export * from './star';",
    "import './side-effect';",
    "const lazy = () => require('../prep/targets') as typeof import('../prep/types');",
    "const dyn = await import('../cloud/dyn');",
    "// import { no } from '../cli/comment';",
    "/* require('../cli/block') */",
    "/**\n * import * as x from './doc-example';\n */",
    "const url = 'http://example/*not a comment*/';",
    "const re = /\\/+$/; const after = require('../native/after-regex');",
    "const t = `${a ? `${b}` : ''} // not a comment`; const u = require('./after-template');",
  ].join('\n');
  assert.equal(importSpecifiers(sample).sort(), [
    '../azure/z',
    '../cloud/dyn',
    '../core/a',
    '../native/after-regex',
    '../prep/targets',
    '../prep/types',
    '../repo/multi',
    './after-template',
    './b',
    './side-effect',
    './star',
    'node:fs',
  ]);
});

test('every folder of src/ is a layer of the graph (a new folder must be placed in LAYERS and ARCHITECTURE.md)', () => {
  const folders = fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  const unplaced = folders.filter((f) => !(f in LAYERS));
  assert.equal(unplaced, [], `folders of src/ that are not in LAYERS: ${unplaced.join(', ')}`);
  const loose = fs.readdirSync(SRC).filter((n) => /\.tsx?$/.test(n) && n !== 'index.ts');
  assert.equal(loose, [], 'files directly under src/ other than index.ts (put them in a layer folder)');
});

test('the graph is acyclic and lists only layers that exist', () => {
  for (const [layer, deps] of Object.entries(LAYERS)) {
    for (const d of deps) assert.ok(d in LAYERS, `${layer} may import ${d}, which is not a layer`);
  }
  const state = new Map<string, 'open' | 'done'>();
  const visit = (l: string, trail: string[]) => {
    if (state.get(l) === 'done') return;
    assert.not.equal(state.get(l), 'open', `cycle: ${[...trail, l].join(' → ')}`);
    state.set(l, 'open');
    for (const d of LAYERS[l] ?? []) visit(d, [...trail, l]);
    state.set(l, 'done');
  };
  for (const l of Object.keys(LAYERS)) visit(l, []);
});

test('no import in src/ runs up the layers (outside the known exceptions below)', () => {
  const all = edges();
  assert.ok(all.length > 300, `expected the scan to find the imports of src/ (found ${all.length})`);
  const bad = all.filter((e) => !isAllowed(e) && !isException(e));
  const lines = bad.map(
    (e) =>
      `${e.from}.ts imports ${e.to}: ` +
      (e.toLayer === undefined ? 'outside src/' : `${e.fromLayer} may import only ${(LAYERS[e.fromLayer] ?? []).join(', ') || 'nothing outside itself'}`),
  );
  assert.equal(lines, [], `upward imports (ARCHITECTURE.md "Layers"):\n  ${lines.join('\n  ')}`);
});

test('every known exception still occurs (delete the entry when its import is gone)', () => {
  const all = edges();
  const stale = KNOWN_EXCEPTIONS.filter((x) => !all.some((e) => e.from === x.from && e.to === noExt(x.to) && !isAllowed(e)));
  assert.equal(
    stale.map((x) => `${x.from} → ${x.to}`),
    [],
    'these exceptions no longer occur or are now allowed: remove them from KNOWN_EXCEPTIONS in test/layers.test.ts',
  );
});

test('no command imports another command: only the registry (src/commands/index.ts) imports command modules', () => {
  const dir = path.join(SRC, 'commands');
  const isCommandModule = (f: string) => /\bdefineCommand\s*[<(]/.test(stripComments(fs.readFileSync(f, 'utf8')));
  const commandModules = new Set(
    walk(dir)
      .filter(isCommandModule)
      .map((f) => noExt(rel(f))),
  );
  assert.ok(commandModules.size >= 10, `expected the command modules of src/commands (found ${commandModules.size})`);
  const bad = edges().filter((e) => commandModules.has(e.to) && e.from !== 'src/commands');
  assert.equal(
    bad.map((e) => `${e.from}.ts imports ${e.to}.ts`),
    [],
    'shared option declarations and helpers belong in src/commands/options.ts (or another module without a command)',
  );
});

test("ARCHITECTURE.md's layer table is the graph this test enforces", () => {
  const doc = fs.readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8');
  const m = /<!-- layers:begin -->([\s\S]*?)<!-- layers:end -->/.exec(doc);
  assert.ok(m, 'ARCHITECTURE.md has no <!-- layers:begin --> … <!-- layers:end --> table');
  const table: Record<string, string[]> = {};
  for (const line of m![1]!.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `layer` | folder | may import |
    const name = /^`([a-z]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name) continue;
    table[name] = [...(cells[3] ?? '').matchAll(/`([a-z]+)`/g)].map((x) => x[1]!);
  }
  const sorted = (r: Record<string, readonly string[]>) =>
    Object.fromEntries(
      Object.entries(r)
        .map(([k, v]) => [k, [...v].sort()])
        .sort(),
    );
  assert.equal(sorted(table), sorted(LAYERS));
});

// ─── file size ───────────────────────────────────────────────────────────────────────────────

/** Above this many lines a file says at its top why it is one file (a line containing "Why one file:"). */
const MAX_LINES = 400;

/**
 * Long files that do not give their reason yet, each with its owner's plan (split along the seams it
 * has, or state the reason). Entries go once the file is split or says why; a stale entry fails.
 */
const KNOWN_LONG: Record<string, string> = {
  'bench/gen-data.mjs': 'its owner: say at the top why it is one file, or split it along its seams',
  'bench/lib/harness.mjs': 'benchmarks: split the process and timing helpers from the baseline-tool wrappers',
  'native/src/io_jobs.cc': 'native data plane: one file per job (copyFiles, hashFiles, writeRaw), as pack and restore are',
  'native/src/pack_job.cc': 'native data plane: the pack writer apart from the job that feeds it, or say why it is one pipeline',
  'native/src/restore_job.cc': 'native data plane: say why the restore pipeline is one file, or split reader and writer',
  'src/prep/disk-platform-windows.ts': 'Windows prep (PowerShell work): the DiskPlatform flow apart from its result parsing',
  'src/prep/powershell-scripts.ts': 'Windows prep (PowerShell work): the scripts apart from the runner',
  'test/native-io.test.ts': 'native data plane: targets and locks apart from the copy/hash/write jobs',
  'test/native-pipeline.test.ts': 'native data plane: crypto and framing apart from the stage/restore/verify jobs',
};

function codeFiles(): string[] {
  const keep = (n: string) => /\.(ts|mjs|cjs|js|cc|h)$/.test(n);
  const skip = new Set(['fixtures', 'node_modules', 'data', 'out']);
  const walkCode = (dir: string): string[] =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) return skip.has(e.name) ? [] : walkCode(p);
          return keep(e.name) ? [p] : [];
        })
      : [];
  return ['src', 'native/src', 'scripts', 'bench', 'test', 'bin'].flatMap((d) => walkCode(path.join(ROOT, d))).map(rel);
}

function longWithoutReason(): string[] {
  return codeFiles().filter((f) => {
    const lines = fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n');
    if (lines.length - (lines[lines.length - 1] === '' ? 1 : 0) <= MAX_LINES) return false;
    return !lines.slice(0, 80).some((l) => l.includes('Why one file:'));
  });
}

test(`a file over ${MAX_LINES} lines says at its top why it is one file ("Why one file: …")`, () => {
  const bad = longWithoutReason().filter((f) => !(f in KNOWN_LONG));
  assert.equal(bad, [], 'split these along their seams, or say at the top why they are one file (CONTRIBUTING.md, "File size")');
});

test('every KNOWN_LONG entry is still long and still without a reason (delete the others)', () => {
  const still = new Set(longWithoutReason());
  assert.equal(
    Object.keys(KNOWN_LONG).filter((f) => !still.has(f)),
    [],
    'remove these from KNOWN_LONG in test/layers.test.ts',
  );
});

test.run();
