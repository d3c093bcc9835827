/**
 * Stage's unparsed comparison of an unchanged file's record with its parent's line
 * (chunkIdsIfSameLine), and the lazy tree reader behind the parent-tree cursor: the comparison gives
 * the chunk ids exactly when the line is the record as TreeWriter writes it, and nothing for any other
 * line; the lazy reader finds each record's type and name as JSON.parse does.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type FileRecord, TREE_HEADER, type TreeRecord, readTree, readTreeChunks } from '../src/repo/tree';
import { chunkIdsIfSameLine } from '../src/repo/tree-line';

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const ns = fc.bigInt({ min: -(10n ** 18n), max: 3n * 10n ** 18n }).map(String);
const name = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('a"b', 'back\\slash', 'new\nline', '\u{1f600}', 'tab\t'));
const fileRec = fc.record({
  n: name,
  m: fc.integer({ min: 0, max: 0o177777 }),
  u: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  g: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  mt: ns,
  s: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  c: fc.array(fc.tuple(hex, fc.integer({ min: 0, max: 8 * 2 ** 20 })), { maxLength: 5 }),
  ct: ns,
  i: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
});
/** The record as stage builds it before the comparison: its fields in writer order, no chunks yet. */
const asStaged = (r: FileRecord): FileRecord => ({ t: 'f', n: r.n, m: r.m, u: r.u, g: r.g, mt: r.mt, s: r.s, c: [], ct: r.ct, i: r.i });
const write = (r: FileRecord): string =>
  JSON.stringify({
    t: 'f',
    n: r.n,
    m: r.m,
    u: r.u,
    g: r.g,
    mt: r.mt,
    s: r.s,
    c: r.c,
    ...(r.k !== undefined ? { k: r.k } : {}),
    ct: r.ct,
    i: r.i,
    ...(r.h ? { h: r.h } : {}),
  });

test('the written line of the same record gives its chunk ids', () => {
  fc.assert(
    fc.property(fileRec, (r) => {
      const rec = { t: 'f' as const, ...r };
      assert.equal(
        chunkIdsIfSameLine(write(rec), asStaged(rec)),
        rec.c.map(([id]) => id),
      );
    }),
    { numRuns: 500, seed: 11 },
  );
});

test('a line that differs in any field, has holes or a link key, or is garbled gives nothing', () => {
  fc.assert(
    fc.property(fileRec, fileRec, fc.nat(), fc.integer({ min: 0, max: 9 }), (r, other, at, what) => {
      const rec: FileRecord = { t: 'f', ...r };
      const staged = asStaged(rec);
      let line: string;
      if (what === 0) line = write({ ...rec, h: [[0, 4096]] });
      else if (what === 1) line = write({ ...rec, k: 0 });
      else if (what === 2) line = write({ ...rec, s: rec.s + 1 });
      else if (what === 3) line = write({ ...rec, n: `${rec.n}x` });
      else if (what === 4) line = write({ ...rec, mt: other.mt === rec.mt ? `${rec.mt}1` : other.mt });
      else if (what === 5) line = write({ ...rec, ct: other.ct === rec.ct ? `${rec.ct}1` : other.ct });
      else if (what === 6) line = write({ ...rec, i: other.i === rec.i ? `${rec.i}1` : other.i });
      else if (what === 7) line = write({ ...rec, m: rec.m + 1 });
      else {
        // garble one character of the chunk list (the part compared strictly): the result, if any, must
        // still be what JSON.parse finds there
        const good = write(rec);
        const start = good.indexOf('"c":[') + 5;
        const end = good.indexOf('],"ct":');
        if (end <= start) return;
        const p = start + (at % (end - start));
        line = good.slice(0, p) + (what === 8 ? 'G' : ',') + good.slice(p + 1);
        const got = chunkIdsIfSameLine(line, staged);
        if (got === undefined) return;
        const parsed = JSON.parse(line) as FileRecord;
        assert.equal(
          got,
          parsed.c.map(([id]) => id),
        );
        assert.ok(parsed.c.every(([id, n]) => /^[0-9a-f]{64}$/.test(id) && Number.isSafeInteger(n)));
        return;
      }
      assert.is(chunkIdsIfSameLine(line, staged), undefined, line);
    }),
    { numRuns: 1000, seed: 12 },
  );
});

test('the lazy reader gives each record its type, name and depth as the parsing reader does', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom('d', 'f', 'l', 'h', 'e'), name), { maxLength: 40 }),
      fc.integer({ min: 1, max: 200 }),
      async (ops, piece) => {
        const recs: TreeRecord[] = [];
        let depth = 0;
        for (const [t, n] of ops) {
          if (t === 'e') {
            if (depth === 0) continue;
            depth--;
            recs.push({ t: 'e' });
          } else if (t === 'd') {
            depth++;
            recs.push({ t: 'd', n, m: 0o40755, u: 0, g: 0, mt: '1' });
          } else if (t === 'f') recs.push({ t: 'f', n, m: 0o100644, u: 0, g: 0, mt: '1', s: 0, c: [] });
          else if (t === 'l') recs.push({ t: 'l', n, m: 0o120777, u: 0, g: 0, mt: '1', tg: 'x' });
          else recs.push({ t: 'h', n, k: 0 });
        }
        while (depth-- > 0) recs.push({ t: 'e' });
        const bytes = Buffer.from(`${[TREE_HEADER, ...recs.map((r) => JSON.stringify(r))].join('\n')}\n`);
        const chunks: Array<[string, number]> = [];
        for (let o = 0; o < bytes.length; o += piece) chunks.push([String(o), Math.min(piece, bytes.length - o)]);
        const tree = { chunks, size: bytes.length };
        const read = (id: string, n: number) => bytes.subarray(Number(id), Number(id) + n);
        const eager = [];
        for await (const l of readTree(tree, read, 'test')) eager.push(l);
        const lazy = [];
        for await (const ls of readTreeChunks(tree, read, 'test')) lazy.push(...ls);
        assert.is(lazy.length, eager.length);
        for (const [i, l] of lazy.entries()) {
          const e = eager[i]!;
          assert.is(l.t, e.rec.t);
          assert.is(l.n, e.rec.t === 'e' ? '' : e.rec.n);
          assert.is(l.depth, e.depth);
          assert.equal(l.record(), e.rec);
        }
      },
    ),
    { numRuns: 200, seed: 13 },
  );
});

test('a line whose repeated key changes its type is refused when the cursor parses it', async () => {
  const line = '{"t":"f","n":"a","m":1,"u":0,"g":0,"mt":"1","s":0,"c":[],"t":"l","tg":"x"}';
  const bytes = Buffer.from(`${TREE_HEADER}\n${line}\n`);
  const lazy = [];
  for await (const ls of readTreeChunks({ chunks: [['0', bytes.length]], size: bytes.length }, () => bytes, 'test')) lazy.push(...ls);
  assert.is(lazy[0]!.t, 'f');
  assert.throws(() => lazy[0]!.record(), /line 2 is not a valid record/);
});

test.run();
