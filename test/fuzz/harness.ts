/**
 * The pieces every fuzz target uses (test/fuzz/targets.ts): the contract check, the input mutators
 * and a scratch directory. The contract every reader of untrusted input keeps: it returns a
 * well-formed value or throws a DriveseedError with a code and a readable message; never a
 * TypeError, RangeError or other stray exception, never a hang.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { DriveseedError } from '../../src/base/errors';

export interface Target {
  /** what it reads and what is checked, for reports */
  about: string;
  /** the input is bytes (kept as a binary file) rather than text */
  binary?: boolean;
  /** input generator; every input is a string or a Uint8Array, so a failing one can be kept as a file */
  arb: () => fc.Arbitrary<string | Uint8Array>;
  /** throws when the contract is broken */
  check: (input: string | Uint8Array) => void | Promise<void>;
}

/** Signs of a message assembled from something that is not a string (an object, a function, a prototype). */
const GARBLED = /\[object [A-Za-z]*\]|\[native code\]/;

/** The error is a DriveseedError with a code and a message that reads as text; anything else is returned as the contract breach. */
export function contractBreach(e: unknown): string | undefined {
  if (e instanceof DriveseedError) {
    if (typeof e.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(e.code)) return `DriveseedError with code ${JSON.stringify(e.code)}`;
    if (typeof e.message !== 'string' || e.message.length === 0) return `DriveseedError ${e.code} without a message`;
    const g = GARBLED.exec(e.message);
    if (g) return `DriveseedError ${e.code} with a garbled message ("${g[0]}"): ${e.message.slice(0, 300)}`;
    return undefined;
  }
  const err = e as Error;
  return `${err?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 300)}`;
}

/** Runs `fn`: it may return or throw a DriveseedError (or what `also` accepts); anything else throws, naming `what`. */
export function typedOnly<T>(what: string, fn: () => T, also: (e: unknown) => boolean = () => false): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (also(e)) return undefined;
    const breach = contractBreach(e);
    if (breach === undefined) return undefined;
    throw new Error(`${what} threw ${breach}`);
  }
}

/** As typedOnly, for a reader that returns a promise. */
export async function typedOnlyAsync<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const breach = contractBreach(e);
    if (breach === undefined) return undefined;
    throw new Error(`${what} threw ${breach}`);
  }
}

/** What a reader did with an input, comparable across two ways of reading it. */
export function outcome(fn: () => unknown): string {
  try {
    return `value ${JSON.stringify(fn())}`;
  } catch (e) {
    const breach = contractBreach(e);
    if (breach !== undefined) throw new Error(`threw ${breach}`);
    return `error ${(e as DriveseedError).code}: ${(e as Error).message}`;
  }
}

export const text = (i: string | Uint8Array): string => (typeof i === 'string' ? i : Buffer.from(i).toString('utf8'));

export function sameJson(a: unknown, b: unknown, what: string): void {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) throw new Error(`${what}:\n  ${x?.slice(0, 400)}\n  ${y?.slice(0, 400)}`);
}

let scratchDir: string | undefined;
/** A directory for the targets that read files, removed when the process exits. */
export function scratch(): string {
  if (!scratchDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-fuzz-'));
    scratchDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return scratchDir;
}

const PIECES = [
  'null',
  '[]',
  '{}',
  '0',
  'true',
  '<',
  '>',
  '</',
  '/>',
  '&',
  '&amp;',
  '&#x0;',
  '&#xD800;',
  '&#1114112;',
  '&lt;',
  '"',
  "'",
  '=',
  '<!--',
  '-->',
  '<![CDATA[',
  ']]>',
  '<?xml version="1.0"?>',
  '\0',
  '\uffff',
  '\ufeff',
  '\ud800',
  '-1',
  '1e309',
  '99999999999999999',
  'NaN',
  ' ',
  '\n',
  '__proto__',
  'constructor',
  '<constructor/>',
  '<__proto__>',
  '<toString/>',
];

/** Random edits of a valid document: cut, duplicate, delete, insert markup or noise. */
export function mutations(seed: string): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), s: fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 12 })) }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = seed;
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % s.length;
      if (e.kind === 'cut') s = s.slice(0, at);
      else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 'insert') s = s.slice(0, at) + e.s + s.slice(at);
      else s = s.slice(0, at) + s.slice(at, at + e.len) + s.slice(at);
    }
    return s;
  });
}

/** A JSON document with some of its values (at any depth) replaced by arbitrary JSON values, or deleted. */
export function jsonMutations(seedJson: string): fc.Arbitrary<string> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    paths.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(JSON.parse(seedJson), []);
  const edit = fc.record({
    at: fc.nat(),
    del: fc.boolean(),
    value: fc.oneof(fc.constantFrom(null, -1, 1e308, 0.5, '', [], {}, [null], '..', 'a'.repeat(64)), fc.jsonValue({ maxDepth: 2 })),
  });
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    let root = JSON.parse(seedJson) as unknown;
    for (const e of edits) {
      const p = paths[e.at % paths.length]!;
      if (p.length === 0) {
        root = structuredClone(e.value);
        continue;
      }
      let parent = root as Record<string | number, unknown> | null;
      for (const k of p.slice(0, -1)) parent = parent && typeof parent === 'object' ? (parent[k] as Record<string | number, unknown>) : null;
      if (!parent || typeof parent !== 'object') continue;
      const last = p[p.length - 1]!;
      if (Array.isArray(parent) !== (typeof last === 'number')) continue; // an earlier edit changed the shape here
      if (e.del && !Array.isArray(parent)) delete parent[last];
      else parent[last] = structuredClone(e.value);
    }
    return JSON.stringify(root);
  });
}

/** Bytes flipped, cut or appended. */
export function byteMutations(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
      tail: fc.uint8Array({ maxLength: 32 }),
    })
    .map(({ flips, cut, tail }) => {
      let b = Buffer.from(seed);
      for (const [at, x] of flips) if (b.length > 0) b[at % b.length]! ^= x;
      if (cut !== null && b.length > 0) b = b.subarray(0, cut % b.length);
      return Buffer.concat([b, tail]);
    });
}

/** A document and where to cut it into chunks, as one JSON string (so a failing input is one file). */
export function chunked(doc: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.record({ text: doc, cuts: fc.array(fc.nat(), { maxLength: 8 }) }).map((r) => JSON.stringify(r));
}

/** The pieces of a chunked() input. */
export function chunksOf(input: string | Uint8Array): { text: string; chunks: string[] } {
  const { text: t, cuts } = JSON.parse(text(input)) as { text: string; cuts: number[] };
  const at = [...new Set(cuts.map((c) => (t.length ? c % t.length : 0)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const c of [...at, t.length]) {
    chunks.push(t.slice(from, c));
    from = c;
  }
  return { text: t, chunks };
}
