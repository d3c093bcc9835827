// src/native is the only way into the addon: its wrappers validate arguments, turn native failures
// into DataPlaneError and run batch calls with progress and cancellation (CONTRIBUTING.md, "Native
// code"). Outside src/native, nothing calls loadBinding() or bindingPath() or imports a value from
// the binding's declarations; importing its types is fine, and so is load.ts's nativeStatus().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stripComments } from './support/import-scanner';

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');

/** Files that still reach the addon directly, each with the wrapper that replaces it. The list only shrinks. */
const KNOWN: Record<string, string> = {};

function tsFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

/** What in `src` reaches the addon other than through src/native's wrappers. */
export function directUses(src: string): string[] {
  const code = stripComments(src);
  const found: string[] = [];
  if (/\bloadBinding\b/.test(code)) found.push('loadBinding');
  if (/\bbindingPath\b/.test(code)) found.push('bindingPath');
  for (const m of code.matchAll(/import\s+(type\s+)?([^;]*?)\s+from\s+['"]([^'"]*\/native\/binding)['"]/g)) {
    if (m[1]) continue;
    // `import { type A, type B } from …` is type-only too
    const names = m[2]!
      .replace(/[{}]/g, '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    if (names.some((n) => !n.startsWith('type '))) found.push(`value import from ${m[3]}`);
  }
  for (const m of code.matchAll(/require\(\s*['"]([^'"]*\/native\/(?:binding|load))['"]\s*\)/g)) found.push(`require(${m[1]})`);
  return found;
}

test('the scanner finds direct uses and lets type imports through', () => {
  assert.equal(directUses("import { loadBinding } from '../native/load';\nloadBinding().md5(x);"), ['loadBinding']);
  assert.equal(directUses("import { md5 } from '../native/binding';"), ['value import from ../native/binding']);
  assert.equal(directUses("import type { ChunkRef } from '../native/binding';"), []);
  assert.equal(directUses("import { type ChunkRef, type BlobKeys } from '../native/binding';"), []);
  assert.equal(directUses("import { nativeStatus } from '../native/load';"), []);
  assert.equal(directUses("const b = require('../native/load');"), ['require(../native/load)']);
  assert.equal(directUses('// loadBinding() is not called here\nconst x = 1;'), []);
});

test('outside src/native nothing reaches the addon directly (the known list only shrinks)', () => {
  const offenders: string[] = [];
  const stillKnown = new Set<string>();
  for (const file of tsFiles(SRC)) {
    const rel = path.relative(ROOT, file).split(path.sep).join('/');
    if (rel.startsWith('src/native/')) continue;
    const uses = directUses(fs.readFileSync(file, 'utf8'));
    if (uses.length === 0) continue;
    if (KNOWN[rel]) stillKnown.add(rel);
    else offenders.push(`${rel}: ${uses.join(', ')}`);
  }
  assert.equal(offenders, [], 'call the wrappers in src/native (pipeline.ts, io.ts, load.ts) instead');
  const stale = Object.keys(KNOWN).filter((f) => !stillKnown.has(f));
  assert.equal(stale, [], 'these files no longer reach the addon directly: delete them from KNOWN');
});

test.run();
