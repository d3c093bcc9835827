/**
 * Multi-buffer MD5 (native/src/md5_mb.*) against node:crypto: random message counts, lengths and
 * buffer alignments (fast-check), 4 MiB blocks with a short tail, and unequal lanes. The same checks
 * run once per implementation this CPU offers: in this process with the one the CPU picked, and in a
 * child process per weaker one (DRIVESEED_MD5=avx2, =scalar caps the dispatch), so the scalar fallback
 * and the AVX2 kernel are tested on an AVX-512 machine too.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { md5Blocks, md5Implementation, md5Many } from '../src/native/pipeline';

const MiB = 1024 * 1024;
const CHILD_OK = 'driveseed-md5-child: all checks passed';

function ref(data: Uint8Array): Buffer {
  return crypto.createHash('md5').update(data).digest();
}

function refBlocks(data: Uint8Array, blockSize: number): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += blockSize) out.push(ref(data.subarray(off, off + blockSize)));
  return Buffer.concat(out);
}

/** A view of `len` random bytes starting `shift` bytes into a larger buffer: any alignment. */
function unaligned(len: number, shift: number): Uint8Array {
  const backing = crypto.randomBytes(len + shift + 7);
  return new Uint8Array(backing.buffer, backing.byteOffset + shift, len);
}

// The checks, run in this process and in each child. Throws on the first mismatch.
function checks(): void {
  // Many messages of random lengths and alignments: lanes start, run and finish at different blocks.
  fc.assert(
    fc.property(fc.array(fc.record({ len: fc.nat({ max: 9000 }), shift: fc.nat({ max: 63 }) }), { minLength: 0, maxLength: 40 }), (specs) => {
      const msgs = specs.map((s) => unaligned(s.len, s.shift));
      const got = md5Many(msgs);
      assert.is(got.length, 16 * msgs.length);
      msgs.forEach((m, i) =>
        assert.is(got.subarray(16 * i, 16 * i + 16).toString('hex'), ref(m).toString('hex'), `message ${i} of ${msgs.length}, ${m.length} bytes`),
      );
    }),
    { numRuns: 150 },
  );
  // Every length around the padding boundaries (55, 56, 63, 64, 119, 120 …), one lane and many.
  const edge: Uint8Array[] = [];
  for (let len = 0; len <= 260; len++) edge.push(unaligned(len, len % 61));
  assert.is(md5Many(edge).toString('hex'), Buffer.concat(edge.map(ref)).toString('hex'));
  for (const m of edge.slice(0, 130)) assert.is(md5Many([m]).toString('hex'), ref(m).toString('hex'), `${m.length} bytes alone`);
  // Block lists of a buffer: random block sizes (odd ones too), data length and alignment.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4096 }), fc.nat({ max: 70000 }), fc.nat({ max: 31 }), (blockSize, len, shift) => {
      const data = unaligned(len, shift);
      assert.is(md5Blocks(data, blockSize).toString('hex'), refBlocks(data, blockSize).toString('hex'), `${len} bytes in ${blockSize}-byte blocks`);
    }),
    { numRuns: 150 },
  );
  // Azure's 4 MiB blocks: 17 full (a 16-lane batch and one more) and a short tail, misaligned.
  const big = unaligned(17 * 4 * MiB + 12345, 3);
  assert.is(md5Blocks(big, 4 * MiB).toString('hex'), refBlocks(big, 4 * MiB).toString('hex'));
  // Unequal long lanes: one 3 MiB message among short ones, lengths not multiples of 64.
  const mixed = [unaligned(3 * MiB + 1, 1), unaligned(65, 2), unaligned(0, 0), unaligned(1 * MiB - 7, 5), unaligned(200000, 9)];
  assert.is(md5Many(mixed).toString('hex'), Buffer.concat(mixed.map(ref)).toString('hex'));
  assert.is(md5Blocks(new Uint8Array(0), 4 * MiB).length, 0);
}

if (process.env.DRIVESEED_MD5_CHILD === '1') {
  checks();
  console.log(`${CHILD_OK} (${md5Implementation()})`);
} else {
  const impl = md5Implementation();

  test(`MD5 on this CPU's path (${impl}) equals node:crypto for random lengths, alignments and batch sizes`, () => {
    checks();
  });

  const weaker = (['avx2', 'scalar'] as const).filter((w) => (impl === 'avx512' ? true : impl === 'avx2' ? w === 'scalar' : false));
  for (const cap of ['avx2', 'scalar'] as const) {
    const runs = weaker.includes(cap);
    const title = runs
      ? `MD5 with DRIVESEED_MD5=${cap} (${cap} path, child process) equals node:crypto`
      : `MD5 with DRIVESEED_MD5=${cap}: skipped, this CPU's best path is ${impl}, so ${cap} already ran above or is not offered`;
    test(title, () => {
      if (!runs) return;
      const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', __filename], {
        encoding: 'utf8',
        timeout: 5 * 60 * 1000,
        env: { ...process.env, DRIVESEED_MD5_CHILD: '1', DRIVESEED_MD5: cap },
      });
      assert.is(r.status, 0, `child failed:\n${(r.stdout + r.stderr).slice(-3000)}`);
      assert.ok(r.stdout.includes(`${CHILD_OK} (${cap})`), `child did not run the ${cap} path:\n${r.stdout.slice(-500)}`);
    });
  }

  test('md5Blocks / md5Many refuse bad arguments with messages that name them', () => {
    assert.throws(() => md5Blocks('x' as unknown as Uint8Array, 4), /Uint8Array for data/);
    assert.throws(() => md5Blocks(new Uint8Array(4), 0), /blockSize/);
    assert.throws(() => md5Blocks(new Uint8Array(4), 1.5), /blockSize/);
    assert.throws(() => md5Many([new Uint8Array(1), 'x' as unknown as Uint8Array]), /messages\[1\]/);
    assert.throws(() => md5Many('x' as unknown as Uint8Array[]), /array of Uint8Array for messages/);
  });

  test.run();
}
