/**
 * The compute half of the native data plane: crypto against node:crypto, the chunker's stability,
 * blob framing round trips and tamper detection (fast-check), and the stage / restore / verify jobs
 * over real temporary trees, including dedup, corruption reports and cancellation.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BlobKeys, ChunkerParams, ChunkRef, PackDoneEvent, PackFileEvent, RestoreFileEvent, VerifyProblemEvent } from '../src/native/binding';
import { loadBinding } from '../src/native/load';
import { chunkLengths, decodeBlob, encodeBlob, packFiles, restoreFiles, verifyPacks, type PackEvent } from '../src/native/pipeline';
import { tmpDir } from './helpers';

const native = loadBinding();
const SMALL: ChunkerParams = { min: 256, avg: 1024, max: 8192 };
const MID: ChunkerParams = { min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };

function keys(): BlobKeys {
  return { dataKey: crypto.randomBytes(32), idKey: crypto.randomBytes(32) };
}

/** n bytes (200,000 by default) from xorshift32(seed): fast-check draws the seed, not 200k separate values. */
function pseudoRandomBytes(seed: number, n = 200000): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
}

// ---- contract -----------------------------------------------------------------------------------

test('one-shot functions refuse bad arguments with exact messages', () => {
  const k = keys();
  assert.is(
    messageOf(() => native.md5('abc' as unknown as Uint8Array)),
    'Expected a Uint8Array for data',
  );
  assert.is(
    messageOf(() => native.sha256(new Uint16Array(4) as unknown as Uint8Array)),
    'Expected a Uint8Array for data',
  );
  assert.is(
    messageOf(() => native.encodeBlob(Buffer.alloc(1), { dataKey: Buffer.alloc(31), idKey: k.idKey }, 3)),
    'Expected a 32-byte Uint8Array for keys.dataKey',
  );
  assert.is(
    messageOf(() => native.encodeBlob(Buffer.alloc(1), k, 0)),
    'Expected an integer from 1 to 19 for level',
  );
  assert.is(
    messageOf(() => native.aesGcmEncrypt(k.dataKey, Buffer.alloc(11), Buffer.alloc(1))),
    'Expected a 12-byte Uint8Array for nonce',
  );
  assert.is(
    messageOf(() => native.decodeBlob(Buffer.alloc(40), Buffer.alloc(31), k, 10)),
    'Expected a 32-byte Uint8Array for id',
  );
  assert.is(
    messageOf(() => native.chunkLengths(Buffer.alloc(1), { min: 256, avg: 1000, max: 8192 })),
    'Expected params.avg to be a power of two of at least 256 but received 1000',
  );
  assert.is(
    messageOf(() => native.zstdDecompress(Buffer.alloc(1), -1)),
    'Expected an integer from 0 to 1073741824 for maxSize',
  );
  assert.is(
    messageOf(() => chunkLengths(Buffer.alloc(1), { min: 512, avg: 512, max: 8192 })),
    'Expected params.min < params.avg < params.max but received 512, 512, 8192',
  );
});

test('pipeline wrappers validate options before any native work', async () => {
  const dir = tmpDir();
  let err: unknown;
  try {
    await packFiles({ files: [], packDir: dir, keys: keys(), level: 25 });
  } catch (e) {
    err = e;
  }
  assert.instance(err, TypeError);
  assert.is((err as Error).message, 'Expected an integer from 1 to 19 for level but received 25');
  try {
    await packFiles({ files: [{ path: '', size: 1 }], packDir: dir, keys: keys() });
  } catch (e) {
    err = e;
  }
  assert.is((err as Error).message, 'Expected a non-empty string for files[0].path but received ""');
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---- crypto against node:crypto -----------------------------------------------------------------

test('MD5, SHA-256, HMAC-SHA-256 and AES-256-GCM match node:crypto on random inputs', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70000 }), fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.uint8Array({ maxLength: 64 }), (data, key, aad) => {
      const buf = Buffer.from(data);
      assert.equal(native.md5(buf), crypto.createHash('md5').update(buf).digest());
      assert.equal(native.sha256(buf), crypto.createHash('sha256').update(buf).digest());
      assert.equal(native.hmacSha256(key, buf), crypto.createHmac('sha256', key).update(buf).digest());
      const k = crypto.randomBytes(32);
      const n = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', k, n);
      c.setAAD(aad);
      const expected = Buffer.concat([c.update(buf), c.final(), c.getAuthTag()]);
      const sealed = native.aesGcmEncrypt(k, n, buf, aad);
      assert.equal(sealed, expected);
      assert.equal(native.aesGcmDecrypt(k, n, sealed, aad), buf);
    }),
    { numRuns: 60 },
  );
});

test('AES-GCM decryption of altered data or a wrong aad fails with ERR_AUTH', () => {
  const k = crypto.randomBytes(32);
  const n = crypto.randomBytes(12);
  const sealed = native.aesGcmEncrypt(k, n, Buffer.from('the quick brown fox'), Buffer.from('aad'));
  assert.is(
    codeOf(() => native.aesGcmDecrypt(k, n, sealed, Buffer.from('aaX'))),
    'ERR_AUTH',
  );
  sealed[3] ^= 1;
  assert.is(
    codeOf(() => native.aesGcmDecrypt(k, n, sealed, Buffer.from('aad'))),
    'ERR_AUTH',
  );
});

// ---- codec and chunker ----------------------------------------------------------------------------

test('zstd round trip; the CLI-compatible decoder enforces maxSize and rejects garbage', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 50000 }), fc.integer({ min: 1, max: 19 }), (data, level) => {
      const z = native.zstdCompress(data, level);
      assert.equal(native.zstdDecompress(z, data.length), Buffer.from(data));
    }),
    { numRuns: 40 },
  );
  const z = native.zstdCompress(Buffer.alloc(100000, 1), 3);
  assert.is(
    codeOf(() => native.zstdDecompress(z, 99999)),
    'ERR_TOO_LARGE',
  );
  assert.is(
    codeOf(() => native.zstdDecompress(Buffer.from('not zstd at all'), 1000)),
    'ERR_CORRUPT',
  );
});

test('chunk lengths respect min/max and sum to the input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 100000 }), (data) => {
      const lens = native.chunkLengths(data, SMALL);
      assert.is(
        lens.reduce((a, b) => a + b, 0),
        data.length,
      );
      lens.forEach((l, i) => {
        assert.ok(l <= SMALL.max, `chunk ${i} of ${l} bytes exceeds max`);
        if (i < lens.length - 1) assert.ok(l >= SMALL.min, `chunk ${i} of ${l} bytes is below min`);
      });
    }),
    { numRuns: 50 },
  );
  // Zeros never match the mask: max-size chunks (they dedup to one blob).
  assert.equal(native.chunkLengths(Buffer.alloc(40000), SMALL), [8192, 8192, 8192, 8192, 7232]);
});

test('chunk boundaries are those of every earlier release (the chunker is part of the format)', () => {
  // xorshift32 bytes, so the input is the same everywhere; the lengths below were produced by the
  // chunker of format versions 1 and 2 before any change to its loop. A change here is a format change.
  const big = pseudoRandomBytes(0x5eed, 24 * 1024 * 1024);
  const digest = (l: number[]) => crypto.createHash('sha256').update(JSON.stringify(l)).digest('hex');
  assert.equal(
    native.chunkLengths(big, { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 }),
    [
      1088036, 1120169, 1544995, 1810106, 1860747, 1319474, 581236, 1017288, 2158058, 1808714, 1675122, 1752294, 1167373, 1742960, 1224576, 1081335, 1540537,
      672804,
    ],
  );
  const mid = native.chunkLengths(big.subarray(0, 3 * 1024 * 1024), MID);
  assert.is(mid.length, 39);
  assert.is(digest(mid), 'c7012259d91b56f176fe9e263a3f24bf974290db8af09cc42bf73d51de0a077e');
  const small = native.chunkLengths(pseudoRandomBytes(7, 300000), SMALL);
  assert.is(small.length, 237);
  assert.is(digest(small), '9aaa04d1a091dca203df7754994d303cdb1ce33e1fb15ca3b76ce5e844d056ba');
});

test('chunk boundaries are stable when bytes are inserted far away', () => {
  const chunks = (buf: Buffer) => {
    let off = 0;
    return native.chunkLengths(buf, SMALL).map((l) => {
      const c = buf.subarray(off, off + l).toString('hex');
      off += l;
      return { start: off - l, end: off, c };
    });
  };
  const edit = fc.tuple(
    fc.integer({ min: 1, max: 2 ** 31 - 1 }).map(pseudoRandomBytes),
    fc.integer({ min: 20000, max: 180000 }),
    fc.uint8Array({ minLength: 1, maxLength: 200 }),
  );
  // Seeded: the cascade length after an edit is a distribution (normalised chunking), so the bound on
  // its mean is checked on a fixed sample rather than left to chance.
  const changed: number[] = [];
  for (const [base, at, ins] of fc.sample(edit, { seed: 20261124, numRuns: 150 })) {
    const a = Buffer.from(base);
    const b = Buffer.concat([a.subarray(0, at), ins, a.subarray(at)]);
    const ca = chunks(a);
    const cb = chunks(b);
    // Every chunk that ends before the edit is unchanged, byte for byte and position for position.
    const before = ca.filter((c) => c.end <= at);
    assert.equal(cb.slice(0, before.length), before);
    // The rest resynchronise on the same content: only chunks from the edit on are new.
    const old = new Set(ca.map((c) => c.c));
    const fresh = cb.filter((c) => !old.has(c.c));
    assert.ok(fresh.length >= 1 && fresh.every((c) => c.end > at), 'new chunks start at the edit');
    assert.ok(fresh.length <= 12, `${fresh.length} new chunks for one insertion of ${ins.length} bytes`);
    changed.push(fresh.length);
  }
  const mean = changed.reduce((x, y) => x + y, 0) / changed.length;
  assert.ok(mean < 2, `an insertion changes ${mean.toFixed(2)} chunks on average (of ~160)`);
});

// ---- blob framing ----------------------------------------------------------------------------------

test('chunk → compress → encrypt → decrypt → decompress gives the input back', () => {
  const k = keys();
  const data = fc.oneof(
    fc.uint8Array({ maxLength: 40000 }),
    fc.string({ maxLength: 20000 }).map((s) => Buffer.from(s.repeat(3))),
    fc.integer({ min: 0, max: 30000 }).map((n) => Buffer.alloc(n, 7)),
  );
  fc.assert(
    fc.property(data, fc.integer({ min: 1, max: 19 }), (input, level) => {
      const buf = Buffer.from(input);
      let off = 0;
      const back: Buffer[] = [];
      for (const len of chunkLengths(buf, SMALL)) {
        const raw = buf.subarray(off, off + len);
        off += len;
        const { id, blob } = encodeBlob(raw, k, level);
        assert.equal(id, native.hmacSha256(k.idKey, raw));
        assert.ok(blob.length <= raw.length + 29, 'a blob is never more than 29 bytes over its chunk');
        back.push(decodeBlob(blob, id, k, SMALL.max));
      }
      assert.equal(Buffer.concat(back), buf);
    }),
    { numRuns: 60 },
  );
});

/** The codec byte of a blob (0 stored, 1 zstd), decrypted with node:crypto from the documented framing. */
function codecOf(blob: Buffer, id: Buffer, k: BlobKeys): number {
  const d = crypto.createDecipheriv('aes-256-gcm', k.dataKey, blob.subarray(0, 12));
  d.setAAD(id);
  d.setAuthTag(blob.subarray(blob.length - 16));
  const plain = Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]);
  return plain[0]!;
}

test('random chunks are stored without trying zstd; a sampled stretch of zeros or a small alphabet is compressed', () => {
  const k = keys();
  const MiB = 1024 * 1024;
  const stride = Math.floor((MiB - 2048) / 15); // where the 16 samples of a 1 MiB chunk start
  const withZeros = crypto.randomBytes(MiB);
  withZeros.fill(0, 5 * stride, 5 * stride + 64 * 1024); // one sample, and long enough for zstd -3 to find
  const alphabet = Buffer.from(crypto.randomBytes(MiB).map((b) => 65 + (b & 63))); // 6 bits per byte
  const cases: Array<[string, Buffer, number]> = [
    ['1 MiB of random bytes', crypto.randomBytes(MiB), 0],
    ['random bytes with 64 KiB of zeros over one sample', withZeros, 1],
    ['a 64-letter alphabet', alphabet, 1],
    ['63 KiB of zeros (below the estimate)', Buffer.alloc(63 * 1024), 1],
  ];
  assert.ok(native.looksIncompressible(crypto.randomBytes(64 * 1024)), '64 KiB of random bytes: stored untried');
  assert.not.ok(native.looksIncompressible(crypto.randomBytes(64 * 1024 - 1)), 'below 64 KiB zstd is always tried');
  for (const [what, raw, codec] of cases) {
    assert.is(native.looksIncompressible(raw), codec === 0 && raw.length >= 64 * 1024, what);
    const { id, blob } = encodeBlob(raw, k, 3);
    assert.is(codecOf(blob, id, k), codec, what);
    assert.equal(decodeBlob(blob, id, k, raw.length), raw, what);
    if (codec === 0) assert.is(blob.length, raw.length + 29, what);
  }
});

test('a tampered blob, a wrong key or a swapped id fails with ERR_AUTH', () => {
  const k = keys();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (data, pos, mask) => {
      const { id, blob } = encodeBlob(data, k, 3);
      const bad = Buffer.from(blob);
      bad[pos % bad.length] ^= mask;
      assert.is(
        codeOf(() => decodeBlob(bad, id, k, 10000)),
        'ERR_AUTH',
      );
    }),
    { numRuns: 100 },
  );
  const { id, blob } = encodeBlob(Buffer.from('x'.repeat(1000)), k, 3);
  assert.is(
    codeOf(() => decodeBlob(blob, id, { ...k, dataKey: crypto.randomBytes(32) }, 10000)),
    'ERR_AUTH',
  );
  assert.is(
    codeOf(() => decodeBlob(blob, crypto.randomBytes(32), k, 10000)),
    'ERR_AUTH',
  );
  assert.is(
    codeOf(() => decodeBlob(blob, id, k, 999)),
    'ERR_TOO_LARGE',
  );
  // Right data key, wrong id key: authenticates, but the content does not match the id.
  assert.is(
    codeOf(() => decodeBlob(blob, id, { ...k, idKey: crypto.randomBytes(32) }, 10000)),
    'ERR_CORRUPT',
  );
});

// ---- stage / restore / verify over a temp tree ---------------------------------------------------------

interface Tree {
  dir: string;
  files: Array<{ path: string; size: number }>;
}

function makeTree(): Tree {
  const dir = tmpDir('driveseed-pipe-');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const files: Tree['files'] = [];
  const add = (name: string, data: Buffer) => {
    const p = path.join(src, name);
    fs.writeFileSync(p, data);
    files.push({ path: p, size: data.length });
  };
  add('empty', Buffer.alloc(0));
  add('big.bin', crypto.randomBytes(3 * 1024 * 1024)); // ~45 chunks at MID
  add('text.txt', Buffer.from(Array.from({ length: 60000 }, (_, i) => `line ${i} of a compressible file\n`).join('')));
  for (let i = 0; i < 120; i++) add(`small-${i}`, crypto.randomBytes(50 + i * 37));
  add('copy.bin', fs.readFileSync(files[1]!.path)); // all duplicates of big.bin
  // Sparse: data, a 6 MiB hole, data, a trailing hole.
  const sp = path.join(src, 'sparse');
  const fd = fs.openSync(sp, 'w');
  fs.writeSync(fd, crypto.randomBytes(300000), 0, 300000, 0);
  fs.writeSync(fd, crypto.randomBytes(100000), 0, 100000, 7 * 1024 * 1024);
  fs.ftruncateSync(fd, 10 * 1024 * 1024);
  fs.closeSync(fd);
  files.push({ path: sp, size: 10 * 1024 * 1024 });
  return { dir, files };
}

async function stage(tree: Tree, k: BlobKeys, packDir: string, known = Buffer.alloc(0), files = tree.files) {
  const events: PackEvent[] = [];
  const result = await packFiles(
    { files, packDir, keys: k, known, chunker: MID, level: 3, threads: 2, packSize: 1024 * 1024 },
    { onProgress: (_p, e) => events.push(...e) },
  );
  const packs = events.filter((e): e is PackDoneEvent => e.type === 'pack');
  const fileEvents = events.filter((e): e is PackFileEvent => e.type === 'file');
  return { result, events, packs, fileEvents };
}

function sortedIds(packs: PackDoneEvent[]): Buffer {
  const ids = packs.flatMap((p) => p.entries.map((e) => e.id));
  ids.sort(Buffer.compare);
  return Buffer.concat(ids);
}

function restoreSpec(files: Tree['files'], out: string, packs: PackDoneEvent[], fileEvents: PackFileEvent[]) {
  const where = new Map<string, ChunkRef>();
  packs.forEach((p, pack) =>
    p.entries.forEach((e) => where.set(e.id.toString('hex'), { pack, offset: e.offset, length: e.length, rawLength: e.rawLength, id: e.id })),
  );
  const restore = fileEvents
    .filter((e) => !e.error)
    .map((e) => ({
      dest: path.join(out, path.basename(files[e.index]!.path)),
      size: e.size + e.holes.reduce((a, [, l]) => a + l, 0),
      holes: e.holes,
      chunks: e.lengths.map((_, i) => where.get(e.chunks.toString('hex', i * 32, i * 32 + 32))!),
    }));
  return { packs: packs.map((p) => p.path), files: restore };
}

test('packJob + restoreJob round trip: empty, sparse, multi-chunk, duplicate and many small files', async () => {
  const tree = makeTree();
  const k = keys();
  const packDir = path.join(tree.dir, 'packs');
  const missing = { path: path.join(tree.dir, 'src', 'does-not-exist'), size: 10 };
  const files = [...tree.files.slice(0, 5), missing, ...tree.files.slice(5)];
  const { result, events, packs, fileEvents } = await stage({ ...tree, files }, k, packDir, Buffer.alloc(0), files);

  assert.is(result.filesRead, tree.files.length);
  assert.is(result.filesFailed, 1);
  assert.ok(result.packs >= 3, `expected several 1 MiB packs, got ${result.packs}`);
  assert.is(result.packs, packs.length);
  // 'file' events: one per file, in spec order, each after the packs holding its chunks.
  assert.equal(
    fileEvents.map((e) => e.index),
    files.map((_, i) => i),
  );
  const announced = new Set<string>();
  for (const ev of events) {
    if (ev.type === 'pack') {
      ev.entries.forEach((e) => announced.add(e.id.toString('hex')));
      assert.ok(fs.existsSync(ev.path), `${ev.path} is on disk when announced`);
      assert.is(path.basename(ev.path), ev.name);
      assert.is(path.basename(path.dirname(ev.path)), ev.name.slice(0, 2));
      const body = fs.readFileSync(ev.path);
      assert.is(ev.size, body.length);
      const md5s = [];
      for (let off = 0; off < body.length; off += 4 * 1024 * 1024)
        md5s.push(
          crypto
            .createHash('md5')
            .update(body.subarray(off, off + 4 * 1024 * 1024))
            .digest(),
        );
      assert.equal(ev.blockMd5, Buffer.concat(md5s));
      // The name: SHA-256 of size (u64 LE) || blockSize (u64 LE) || block MD5s (docs/format-packs.md).
      const head = Buffer.alloc(16);
      head.writeBigUInt64LE(BigInt(body.length), 0);
      head.writeBigUInt64LE(BigInt(4 * 1024 * 1024), 8);
      assert.is(crypto.createHash('sha256').update(head).update(Buffer.concat(md5s)).digest('hex'), ev.name);
    } else if (!ev.error) {
      for (let i = 0; i < ev.lengths.length; i++)
        assert.ok(announced.has(ev.chunks.toString('hex', i * 32, i * 32 + 32)), `file ${ev.index} chunk ${i} announced first`);
    }
  }
  const failed = fileEvents[5]!;
  assert.is(failed.error?.code, 'ENOENT');
  assert.is(failed.error?.path, missing.path);
  // The sparse file: holes recorded, not read.
  const sparse = fileEvents[fileEvents.length - 1]!;
  assert.ok(sparse.holes.length >= 1, 'sparse file has holes');
  assert.ok(sparse.size < 1024 * 1024, `sparse file read ${sparse.size} bytes, not its 10 MiB`);
  // Duplicates: copy.bin stores nothing new.
  assert.ok(result.chunksDuplicate >= fileEvents[files.length - 2]!.lengths.length);
  // Streaming chunking over the readers' pieces equals one-shot chunking.
  assert.equal(fileEvents[1]!.lengths, chunkLengths(fs.readFileSync(tree.files[1]!.path), MID));
  assert.equal(
    fs.readdirSync(packDir).filter((n) => n.endsWith('.tmp')),
    [],
  );

  const out = path.join(tree.dir, 'out');
  fs.mkdirSync(out);
  const spec = restoreSpec(files, out, packs, fileEvents);
  const restoreEvents: RestoreFileEvent[] = [];
  const r = await restoreFiles({ ...spec, keys: k, threads: 2 }, { onProgress: (_p, e) => restoreEvents.push(...e) });
  assert.is(r.filesOk, tree.files.length);
  assert.is(r.filesFailed, 0);
  assert.equal(
    restoreEvents.map((e) => e.index),
    spec.files.map((_, i) => i),
  );
  for (const f of tree.files)
    assert.ok(fs.readFileSync(f.path).equals(fs.readFileSync(path.join(out, path.basename(f.path)))), `${f.path} restored byte for byte`);
  const st = fs.statSync(path.join(out, 'sparse'));
  assert.is(st.size, 10 * 1024 * 1024);
  assert.ok(st.blocks * 512 < 2 * 1024 * 1024, `restored sparse file stays sparse (${st.blocks * 512} bytes allocated)`);
  fs.rmSync(tree.dir, { recursive: true, force: true });
});

test('block MD5s and pack names are right for small, default and large block sizes (workers hash blocks out of order)', async () => {
  const tree = makeTree();
  const k = keys();
  for (const blockSize of [4096, 4 * 1024 * 1024, 32 * 1024 * 1024]) {
    const events: PackEvent[] = [];
    await packFiles(
      {
        files: tree.files,
        packDir: path.join(tree.dir, `packs-${blockSize}`),
        keys: k,
        known: Buffer.alloc(0),
        chunker: MID,
        level: 3,
        threads: 2,
        packSize: 1024 * 1024,
        blockSize,
      },
      { onProgress: (_p, e) => events.push(...e) },
    );
    const packs = events.filter((e): e is PackDoneEvent => e.type === 'pack');
    assert.ok(packs.length >= 3, `several packs at blockSize ${blockSize}`);
    for (const p of packs) {
      const body = fs.readFileSync(p.path);
      const md5s = [];
      for (let off = 0; off < body.length; off += blockSize)
        md5s.push(
          crypto
            .createHash('md5')
            .update(body.subarray(off, off + blockSize))
            .digest(),
        );
      assert.equal(p.blockMd5, Buffer.concat(md5s), `block MD5s of ${p.name} at blockSize ${blockSize}`);
      const head = Buffer.alloc(16);
      head.writeBigUInt64LE(BigInt(body.length), 0);
      head.writeBigUInt64LE(BigInt(blockSize), 8);
      assert.is(crypto.createHash('sha256').update(head).update(Buffer.concat(md5s)).digest('hex'), p.name);
    }
  }
  fs.rmSync(tree.dir, { recursive: true, force: true });
});

test('packJob chunks every file as one-shot chunking does: chunks ending inside, at and across the 256 KiB read pieces', async () => {
  // Readers read straight into a chunk's slot, 256 KiB at a time, and move a piece's rest to the next
  // slot at a cut. SMALL cuts several times inside one piece (rests that cut again), MID about four times
  // per piece, and a max of 3 MiB spans many pieces; zeros cut at max exactly.
  const dir = tmpDir('driveseed-pieces-');
  const piece = 256 * 1024;
  const text = Buffer.from(Array.from({ length: 40000 }, (_, i) => `row ${i * 7919} of the piece test\n`).join(''));
  const contents = [
    Buffer.alloc(0),
    crypto.randomBytes(1),
    crypto.randomBytes(piece - 1),
    crypto.randomBytes(piece),
    crypto.randomBytes(piece + 1),
    crypto.randomBytes(5 * piece + 12345),
    Buffer.alloc(7 * 1024 * 1024 + 3), // zeros: every chunk cut at max
    Buffer.concat([crypto.randomBytes(700000), Buffer.alloc(2 * 1024 * 1024), text, crypto.randomBytes(300001)]),
  ];
  const files = contents.map((data, i) => {
    const p = path.join(dir, `f${i}`);
    fs.writeFileSync(p, data);
    return { path: p, size: data.length };
  });
  const big: ChunkerParams = { min: 64 * 1024, avg: 512 * 1024, max: 3 * 1024 * 1024 };
  for (const chunker of [SMALL, MID, big]) {
    const k = keys();
    const events: PackEvent[] = [];
    await packFiles(
      {
        files,
        packDir: path.join(dir, `packs-${chunker.max}`),
        keys: k,
        known: Buffer.alloc(0),
        chunker,
        level: 1,
        threads: 2,
        readers: 3,
        packSize: 4 * 1024 * 1024,
      },
      { onProgress: (_p, e) => events.push(...e) },
    );
    const fileEvents = events.filter((e): e is PackFileEvent => e.type === 'file');
    assert.is(fileEvents.length, files.length);
    for (const ev of fileEvents) {
      const data = contents[ev.index]!;
      const where = `chunker max ${chunker.max}, file f${ev.index} (${data.length} bytes)`;
      assert.is(ev.error, undefined, where);
      assert.is(ev.size, data.length, where);
      assert.equal(ev.lengths, chunkLengths(data, chunker), where);
      // Each chunk's id is the id of the bytes the one-shot chunking gives: no byte moved between chunks.
      let off = 0;
      ev.lengths.forEach((len, i) => {
        const { id } = encodeBlob(data.subarray(off, off + len), k, 1);
        assert.is(ev.chunks.toString('hex', i * 32, i * 32 + 32), id.toString('hex'), `${where}, chunk ${i}`);
        off += len;
      });
    }
  }
});

test("dedup: a second packJob with the first run's ids as known writes no new chunk", async () => {
  const tree = makeTree();
  const k = keys();
  const packDir = path.join(tree.dir, 'packs');
  const first = await stage(tree, k, packDir);
  const second = await stage(tree, k, packDir, sortedIds(first.packs));
  assert.is(second.result.chunksNew, 0);
  assert.is(second.result.packs, 0);
  assert.is(second.packs.length, 0);
  assert.is(second.result.bytesStored, 0);
  for (let i = 0; i < tree.files.length; i++) assert.equal(second.fileEvents[i]!.chunks, first.fileEvents[i]!.chunks);
  fs.rmSync(tree.dir, { recursive: true, force: true });
});

test('verifyPacksJob names pack and offset of each corruption; restore fails only the affected file', async () => {
  const tree = makeTree();
  const k = keys();
  const packDir = path.join(tree.dir, 'packs');
  const { packs, fileEvents } = await stage(tree, k, packDir);
  const vspec = { packs: packs.map((p) => ({ path: p.path, name: p.name, entries: p.entries })), keys: k, threads: 2 };
  const clean: VerifyProblemEvent[] = [];
  const ok = await verifyPacks(vspec, { onProgress: (_p, e) => clean.push(...e) });
  assert.equal(clean, []);
  assert.is(ok.chunksBad, 0);
  assert.is(
    ok.chunksOk,
    packs.reduce((a, p) => a + p.entries.length, 0),
  );

  // Two flipped bytes in two blobs of the first pack (which holds big.bin's first chunks).
  const victim = packs[0]!;
  const [e1, e2] = [victim.entries[1]!, victim.entries[3]!];
  const body = fs.readFileSync(victim.path);
  body[e1.offset + 100] ^= 0x01;
  body[e2.offset + e2.length - 3] ^= 0x40;
  fs.writeFileSync(victim.path, body);
  const problems: VerifyProblemEvent[] = [];
  const bad = await verifyPacks(vspec, { onProgress: (_p, e) => problems.push(...e) });
  assert.is(bad.chunksBad, 2);
  assert.is(bad.packsBad, 1);
  const chunkProblems = problems.filter((p) => p.id);
  assert.equal(
    chunkProblems.map((p) => [p.pack, p.offset, p.length, p.code]),
    [
      [victim.path, e1.offset, e1.length, 'ERR_AUTH'],
      [victim.path, e2.offset, e2.length, 'ERR_AUTH'],
    ],
  );
  assert.ok(
    problems.some((p) => p.code === 'ERR_CORRUPT' && p.offset === 0 && /content name/.test(p.message)),
    'the name mismatch is reported too',
  );

  // A corrupted trailer is reported at its offset as well.
  body[body.length - 6] ^= 0xff;
  fs.writeFileSync(victim.path, body);
  const more: VerifyProblemEvent[] = [];
  await verifyPacks(vspec, { onProgress: (_p, e) => more.push(...e) });
  assert.ok(
    more.some((p) => p.offset === body.length - 12 && p.code === 'ERR_CORRUPT'),
    'trailer problem at its offset',
  );

  const out = path.join(tree.dir, 'out');
  fs.mkdirSync(out);
  const spec = restoreSpec(tree.files, out, packs, fileEvents);
  const events: RestoreFileEvent[] = [];
  const r = await restoreFiles({ ...spec, keys: k, threads: 2 }, { onProgress: (_p, e) => events.push(...e) });
  const failedNames = events.filter((e) => !e.ok).map((e) => path.basename(spec.files[e.index]!.dest));
  assert.equal(failedNames.sort(), ['big.bin', 'copy.bin']);
  assert.is(r.filesFailed, 2);
  const bigFail = events.find((e) => !e.ok)!;
  assert.is(bigFail.error?.code, 'ERR_AUTH');
  assert.is(bigFail.error?.pack, victim.path);
  assert.ok([e1.offset, e2.offset].includes(bigFail.error!.offset!), "the error names a corrupted blob's offset");
  assert.not.ok(fs.existsSync(path.join(out, 'big.bin')), 'the partial file is removed');
  assert.ok(fs.readFileSync(path.join(out, 'text.txt')).equals(fs.readFileSync(tree.files[2]!.path)), 'other files restore');
  fs.rmSync(tree.dir, { recursive: true, force: true });
});

test('a file whose size differs from what the caller saw is reported as changed, with what was read', async () => {
  const dir = tmpDir('driveseed-changed-');
  const p = path.join(dir, 'grew');
  fs.writeFileSync(p, 'now twenty-six bytes long');
  const events: PackEvent[] = [];
  await packFiles({ files: [{ path: p, size: 10 }], packDir: path.join(dir, 'packs'), keys: keys() }, { onProgress: (_p, e) => events.push(...e) });
  const ev = events.find((e): e is PackFileEvent => e.type === 'file')!;
  assert.is(ev.changed, true);
  assert.is(ev.size, 25);
  assert.equal(ev.lengths, [25]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('cancelling a packJob mid-run rejects with ERR_CANCELLED and leaves no thread, job or temp pack', async () => {
  const dir = tmpDir('driveseed-cancel-');
  const files = [];
  for (let i = 0; i < 4; i++) {
    const p = path.join(dir, `f${i}`);
    fs.writeFileSync(p, crypto.randomBytes(8 * 1024 * 1024));
    files.push({ path: p, size: 8 * 1024 * 1024 });
  }
  const packDir = path.join(dir, 'packs');
  // Warm up: a first (tiny) job lets any lazily started runtime threads exist before the baseline.
  await packFiles({ files: files.slice(0, 1).map((f) => ({ ...f })), packDir: path.join(dir, 'warm'), keys: keys(), threads: 2, level: 1 });
  const baseline = threadCount();
  const ac = new AbortController();
  let seen = 0;
  let during = 0;
  let err: unknown;
  try {
    await packFiles(
      { files, packDir, keys: keys(), threads: 2, level: 19, chunker: MID },
      {
        signal: ac.signal,
        onProgress: (p) => {
          seen = p.bytesDone;
          during = Math.max(during, threadCount());
          if (p.bytesDone > 0) ac.abort();
        },
      },
    );
  } catch (e) {
    err = e;
  }
  assert.is((err as { code?: string })?.code, 'ERR_CANCELLED');
  // Level 19 on 32 MiB takes seconds; the abort comes at the first progress call (~200 ms): mid-run.
  assert.ok(seen > 0, 'cancelled after the job had started reading');
  assert.ok(during > baseline, 'the job did run its own threads');
  assert.is(native.counters().liveJobs, 0);
  assert.is(native.counters().openTargets, 0);
  assert.is(threadCount(), baseline);
  const left = fs.existsSync(packDir) ? fs.readdirSync(packDir, { recursive: true }).map(String) : [];
  assert.equal(
    left.filter((n) => n.endsWith('.tmp')),
    [],
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test.run();
