/**
 * ChunkIndex.lookup against a plain Map: random ids, ids that share their first 6 bytes (the prefix the
 * lookup searches first), ids added in several batches (merged sorts), duplicates (first wins) and ids
 * that are not there.
 */
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkIndex } from '../src/repo/chunk-index';

function entry(id: Buffer, i: number): [string, number, number, number] {
  return [id.toString('hex'), i * 100, 10 + i, 20 + i];
}

test('lookup finds every id with its first location, also among ids sharing a 6-byte prefix, and nothing else', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer(),
      (batches, n, sharing, seed) => {
        const index = new ChunkIndex();
        const want = new Map<string, { pack: number; offset: number }>();
        const prefix = crypto.createHash('sha256').update(String(seed)).digest().subarray(0, 6);
        let k = 0;
        for (let b = 0; b < batches; b++) {
          const ids: Buffer[] = [];
          for (let i = 0; i < n; i++) ids.push(crypto.randomBytes(32));
          for (let i = 0; i < sharing; i++) ids.push(Buffer.concat([prefix, crypto.randomBytes(26)]));
          if (ids.length && b > 0) ids.push(Buffer.from([...want.keys()][0] ?? ids[0]!.toString('hex'), 'hex')); // a duplicate from an earlier batch
          const entries = ids.map((id) => entry(id, k++));
          index.addIndex({ version: 1, created: '', packs: [{ name: `p${b}`, path: `data/p${b}`, size: 1, entries }] });
          entries.forEach(([hex, offset]) => {
            if (!want.has(hex)) want.set(hex, { pack: b, offset });
          });
        }
        for (const [hex, loc] of want) {
          const got = index.lookup(Buffer.from(hex, 'hex'));
          assert.ok(got, `${hex} not found`);
          assert.is(got!.offset, loc.offset);
          assert.is(index.packs[got!.pack]!.name, `p${loc.pack}`);
          assert.ok(index.hasHex(hex), `hasHex(${hex})`);
        }
        for (const absent of [crypto.randomBytes(32), Buffer.concat([prefix, Buffer.alloc(26, 0xff)]), Buffer.concat([prefix, Buffer.alloc(26, 0)])])
          assert.is(index.hasHex(absent.toString('hex')), false);
        const some = [...want.keys()][0];
        if (some) {
          // Not 64 lowercase hex digits: never found, even when the bytes they would spell are there.
          for (const bad of [some.slice(0, 62), `${some}00`, `${some.slice(0, 63)}g`, `${some.slice(0, 40)}zz${some.slice(42)}`, ''])
            assert.is(index.hasHex(bad), false, bad);
        }
        assert.is(index.lookup(crypto.randomBytes(32)), undefined);
        assert.is(index.lookup(Buffer.concat([prefix, Buffer.alloc(26, 0xff)])), undefined);
        assert.is(index.lookup(Buffer.concat([prefix, Buffer.alloc(26, 0)])), undefined);
        assert.is(index.size, want.size);
      },
    ),
    { numRuns: 60 },
  );
});

test.run();
