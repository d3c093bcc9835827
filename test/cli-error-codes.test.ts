/**
 * Error-code drift: the stable string codes of docs/exit-codes.md ("Stable error codes") against the
 * codes src/ really raises. The scan reads every call of the error constructors and helpers
 * (`new DriveseedError('CODE', …)`, `usageError('CODE', …)`, and the local `refuse`/`fail`/`appError`
 * helpers that wrap them), takes the code literals of the first argument (also both arms of a
 * `cond ? 'A' : 'B'`), and the category where the call or its helper names one literally.
 *
 *  - every raised code is documented, with the category the code raises it with
 *  - one code, one category: a code raised with two categories, or listed under two, fails (a script
 *    that branches on the code and one that branches on the exit code must agree)
 *  - every documented code still occurs in src/ (a removed code is removed from the docs too)
 * Codes built at run time (`EMULATOR_<ARM code>`) are documented as a pattern and not scanned.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ExitCode } from '../src/base/errors';
import { ROOT } from './support/rpc-client';

const CATEGORIES = new Set([...Object.keys(ExitCode), 'warning']);
const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;

interface Use {
  file: string;
  line: number;
  /** undefined when the category is not a literal at the call (a variable, a parameter) */
  category?: string;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** The text of the call's arguments from `start` (just after the opening parenthesis) to its closing one. */
function callArgs(s: string, start: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let from = start;
  for (let i = start; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) {
      if (depth === 0) {
        args.push(s.slice(from, i));
        return args;
      }
      depth--;
    } else if (ch === ',' && depth === 0) {
      args.push(s.slice(from, i));
      from = i + 1;
    }
  }
  return args;
}

/**
 * Category a local helper (`function refuse(…)` / `const fail = (…) =>`) gives its errors: a literal
 * in its body, the call's argument where the helper takes `category` as a parameter, 'warning' when it
 * only reports; null when `name` is not an error helper of this file.
 */
function helperCategory(src: string, name: string, args: string[]): string | undefined | null {
  const def = new RegExp(`(?:function\\s+${name}\\s*\\(|const\\s+${name}\\s*=\\s*\\()`).exec(src);
  if (!def) return null; // not defined here: not one of the error helpers
  const params = callArgs(src, def.index + def[0].length).map((p) => p.trim().split(/[\s:?=]/)[0]);
  const at = params.indexOf('category');
  if (at >= 0) return /^\s*'([A-Z_]+)'/.exec(args[at] ?? '')?.[1];
  const body = src.slice(def.index, def.index + 600);
  const end = body.search(/\n\s*\};?\n|\n\}\n/);
  const text = end > 0 ? body.slice(0, end) : body;
  if (/usageError\(/.test(text)) return 'USAGE';
  const cat = /category:\s*'([A-Z_]+)'/.exec(text);
  if (cat) return cat[1];
  if (/new DriveseedError\(/.test(text)) return undefined; // category is a parameter
  if (/reporter\.warning\(/.test(text)) return 'warning';
  return null;
}

function scanSource(): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const file of tsFiles(path.join(ROOT, 'src'))) {
    for (const [code, list] of scanText(fs.readFileSync(file, 'utf8'), path.relative(ROOT, file))) uses.set(code, [...(uses.get(code) ?? []), ...list]);
  }
  return uses;
}

/** The codes one source text raises, with the category of each use. */
function scanText(src: string, rel: string): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const m of src.matchAll(/(new\s+DriveseedError|\busageError|\brefuse|\bfail|\bappError)\(/g)) {
    const callee = m[1]!.replace(/^new\s+/, '');
    let category: string | undefined | null;
    const args = callArgs(src, m.index! + m[0].length);
    if (callee === 'usageError') category = 'USAGE';
    else if (callee === 'DriveseedError') category = /category:\s*'([A-Z_]+)'/.exec(args[2] ?? '')?.[1];
    else category = helperCategory(src, callee, args);
    if (category === null) continue;
    // function declarations of the helpers themselves carry no literal
    for (const c of (args[0] ?? '').matchAll(/(?:^\s*|\?\s*|:\s*)'([A-Z][A-Z0-9_]+)'/g)) {
      const code = c[1]!;
      if (!CODE.test(code)) continue;
      const use: Use = { file: rel, line: src.slice(0, m.index).split('\n').length };
      if (category !== undefined) use.category = category;
      uses.set(code, [...(uses.get(code) ?? []), use]);
    }
  }
  return uses;
}

/** code → categories, from every table row of the "Stable error codes" section. */
function documented(): Map<string, Set<string>> {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'exit-codes.md'), 'utf8');
  const from = text.indexOf('## Stable error codes');
  const to = text.indexOf('Native codes (from the data plane');
  assert.ok(from > 0 && to > from, 'docs/exit-codes.md has the "Stable error codes" section and the native codes paragraph after it');
  const out = new Map<string, Set<string>>();
  for (const line of text.slice(from, to).split('\n')) {
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const catCell = cells.map((c) => c.replace(/[`()]/g, '')).find((c) => CATEGORIES.has(c));
    if (!catCell) continue; // header row
    for (const m of cells[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) out.set(m[1]!, new Set([...(out.get(m[1]!) ?? []), catCell]));
  }
  return out;
}

const uses = scanSource();
const docs = documented();

test('the scan finds the codes it should (the scanner itself works)', () => {
  for (const [code, cat] of [
    ['MISSING_OPTION', 'USAGE'],
    ['TARGET_BUSY', 'TARGET_REFUSED'],
    ['TARGET_SYSTEM_DISK', 'TARGET_REFUSED'],
    ['TOOL_MISSING', 'FAILED'],
    ['TOOL_FAILED', 'FAILED'],
    ['CLOUD_AUTH', 'AZURE'],
  ] as const) {
    assert.ok(uses.has(code), `${code} not found by the scan`);
    assert.ok(
      uses.get(code)!.some((u) => u.category === cat),
      `${code} not seen with ${cat}: ${JSON.stringify(uses.get(code))}`,
    );
  }
  assert.ok(uses.size > 100, `only ${uses.size} codes found`);
});

test('every code raised in src/ is documented in docs/exit-codes.md', () => {
  const missing = [...uses.keys()].filter((c) => !docs.has(c)).sort();
  assert.equal(
    missing,
    [],
    `undocumented codes (add them to docs/exit-codes.md, "Stable error codes"):\n${missing
      .map(
        (c) =>
          `  ${c}  ${uses
            .get(c)!
            .map((u) => `${u.file}:${u.line} ${u.category ?? '?'}`)
            .join(', ')}`,
      )
      .join('\n')}`,
  );
});

test('each code is documented with the category src/ raises it with', () => {
  const wrong: string[] = [];
  for (const [code, list] of uses) {
    const want = docs.get(code);
    if (!want) continue;
    for (const u of list)
      if (u.category !== undefined && !want.has(u.category)) wrong.push(`${code}: ${u.file}:${u.line} raises ${u.category}, documented ${[...want].join('/')}`);
  }
  assert.equal(wrong, []);
});

/**
 * Codes known to be raised with two categories in files this test cannot fix, with where and why. An
 * entry must still be needed (the test fails once the code is consistent, so the entry goes too).
 */
const TWO_CATEGORIES_PENDING: Record<string, string> = {};

test('one code, one category: no code is raised with two categories', () => {
  const wrong: string[] = [];
  for (const [code, list] of uses) {
    const cats = new Set(list.map((u) => u.category).filter((c) => c !== undefined));
    if (cats.size < 2) {
      assert.not.ok(code in TWO_CATEGORIES_PENDING, `${code} is consistent now: remove it from TWO_CATEGORIES_PENDING`);
      continue;
    }
    if (code in TWO_CATEGORIES_PENDING) continue;
    wrong.push(`${code}: ${list.map((u) => `${u.file}:${u.line} ${u.category ?? '?'}`).join(', ')}`);
  }
  assert.equal(wrong, [], `codes raised with more than one category (give each meaning its own code):\n  ${wrong.join('\n  ')}`);
});

test('one code, one category: no code is listed under two categories in docs/exit-codes.md', () => {
  const wrong = [...docs]
    .filter(([code, cats]) => cats.size > 1 && !(code in TWO_CATEGORIES_PENDING))
    .map(([code, cats]) => `${code}: ${[...cats].join(', ')}`);
  assert.equal(wrong, []);
});

test('the one-category check sees a code raised with two categories (the check itself works)', () => {
  const src = [
    "throw new DriveseedError('SAMPLE_TWICE', 'a', { category: 'CANCELLED' });",
    "throw appError('SAMPLE_TWICE', 'TARGET_REFUSED', 'b', {});",
    "function appError(code: string, category: 'TARGET_REFUSED', message: string, details: object) { return new DriveseedError(code, message, { category, details }); }",
  ].join('\n');
  const found = scanText(src, 'sample.ts').get('SAMPLE_TWICE') ?? [];
  assert.equal(found.map((u) => u.category).sort(), ['CANCELLED', 'TARGET_REFUSED']);
});

test('every documented code still occurs in src/', () => {
  const all = tsFiles(path.join(ROOT, 'src'))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
  const stale = [...docs.keys()].filter((c) => !all.includes(`'${c}'`)).sort();
  assert.equal(stale, [], `documented but never used in src/: ${stale.join(', ')}`);
});

test.run();
