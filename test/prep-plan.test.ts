import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DriveseedError } from '../src/base/errors';
import { fileCost, planSpanning, usableBytes } from '../src/prep/plan';

const MiB = 1024 * 1024;
function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, DriveseedError);
    return (e as DriveseedError).code;
  }
  return 'none';
}

test('spans drives of different sizes in the order given, every file whole on one drive', () => {
  const files = Array.from({ length: 10 }, (_, i) => ({ path: `data/${i}`, size: 64 * MiB }));
  const p = planSpanning(files, [
    { target: 'small', freeBytes: 200 * MiB },
    { target: 'big', freeBytes: 1000 * MiB },
  ]);
  assert.is(p.drives[0]!.files.length, 2);
  assert.is(p.drives[1]!.files.length, 8);
  assert.is(p.drives[0]!.bytes + p.drives[1]!.bytes, 640 * MiB);
  assert.ok(p.drives.every((d) => d.spaceLeft >= 0));
});

test('first fit: a later small file fills the gap on an earlier drive', () => {
  const p = planSpanning(
    [
      { path: 'a', size: 150 * MiB },
      { path: 'b', size: 100 * MiB },
      { path: 'c', size: 10 * MiB },
    ],
    [
      { target: 'd1', freeBytes: 200 * MiB },
      { target: 'd2', freeBytes: 200 * MiB },
    ],
  );
  assert.equal(
    p.drives[0]!.files.map((f) => f.path),
    ['a', 'c'],
  );
  assert.equal(
    p.drives[1]!.files.map((f) => f.path),
    ['b'],
  );
});

test('refusals: too many drives, a file larger than every drive, data that does not fit', () => {
  const t = (n: number) => Array.from({ length: n }, (_, i) => ({ target: `d${i}`, freeBytes: 100 * MiB }));
  assert.is(
    code(() => planSpanning([], t(11))),
    'PREP_TOO_MANY_DRIVES',
  );
  assert.is(
    code(() => planSpanning([{ path: 'x', size: 99 * MiB }], t(2))),
    'PREP_FILE_TOO_LARGE',
  );
  assert.is(
    code(() =>
      planSpanning(
        [
          { path: 'x', size: 60 * MiB },
          { path: 'y', size: 60 * MiB },
        ],
        t(1),
      ),
    ),
    'PREP_DOES_NOT_FIT',
  );
  assert.is(
    code(() => planSpanning([], [])),
    'PREP_NO_TARGET',
  );
});

test('property: placed files are exactly the input, no drive over its usable space', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 * MiB }), { maxLength: 40 }),
      fc.array(fc.integer({ min: 16 * MiB, max: 400 * MiB }), { minLength: 1, maxLength: 10 }),
      (sizes, free) => {
        const files = sizes.map((size, i) => ({ path: `f${i}`, size }));
        const targets = free.map((freeBytes, i) => ({ target: `t${i}`, freeBytes }));
        let p;
        try {
          p = planSpanning(files, targets);
        } catch (e) {
          return (e as DriveseedError).code === 'PREP_DOES_NOT_FIT' || (e as DriveseedError).code === 'PREP_FILE_TOO_LARGE';
        }
        const placed = p.drives.flatMap((d) => d.files.map((f) => f.path)).sort();
        assert.equal(placed, files.map((f) => f.path).sort());
        p.drives.forEach((d, i) => {
          const used = d.files.reduce((s, f) => s + fileCost(f.size).disk + fileCost(f.size).manifest, 0);
          assert.ok(used <= usableBytes(free[i]!));
        });
        return true;
      },
    ),
    { numRuns: 200 },
  );
});

test.run();
