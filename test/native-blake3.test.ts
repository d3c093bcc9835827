/**
 * The native BLAKE3 (native/src/blake3.*): the official test vectors for the plain hash and keyed_hash
 * at every level this CPU offers (DRIVESEED_BLAKE3 caps the level on each call), every vector level
 * equal to the scalar one for random lengths, keys and alignments (fast-check), inputs just past a
 * 16-chunk SIMD batch and past the 256-chunk flat subtree, and a small BLAKE3 written here in
 * TypeScript from the specification for the trees deeper than the vectors reach. With
 * DRIVESEED_ASAN=1 the same checks also run on the sanitizer build (as test/native-asan.test.ts builds it).
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBinding } from '../src/native/load';
import { gated } from './helpers';
import { asanSkipReason, buildAsanAddon, libasan } from './support/asan';

const b = loadBinding();
const KiB = 1024;
const ROOT = path.resolve(__dirname, '..');
const CHILD_OK = 'driveseed-blake3-asan-child: all checks passed';

// From the BLAKE3 repository's test_vectors/test_vectors.json: input i % 251 for i < length, key the
// ASCII "whats the Elvish word for friend"; the first 32 bytes of "hash" and "keyed_hash".
const KEY = Buffer.from('whats the Elvish word for friend', 'ascii');
const VECTORS: Array<[number, string, string]> = [
  [0, 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262', '92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26'],
  [1, '2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213', '6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b'],
  [63, 'e9bc37a594daad83be9470df7f7b3798297c3d834ce80ba85d6e207627b7db7b', 'bb1eb5d4afa793c1ebdd9fb08def6c36d10096986ae0cfe148cd101170ce37ae'],
  [64, '4eed7141ea4a5cd4b788606bd23f46e212af9cacebacdc7d1f4c6dc7f2511b98', 'ba8ced36f327700d213f120b1a207a3b8c04330528586f414d09f2f7d9ccb7e6'],
  [65, 'de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee', 'c0a4edefa2d2accb9277c371ac12fcdbb52988a86edc54f0716e1591b4326e72'],
  [127, 'd81293fda863f008c09e92fc382a81f5a0b4a1251cba1634016a0f86a6bd640d', 'c64200ae7dfaf35577ac5a9521c47863fb71514a3bcad18819218b818de85818'],
  [128, 'f17e570564b26578c33bb7f44643f539624b05df1a76c81f30acd548c44b45ef', 'b04fe15577457267ff3b6f3c947d93be581e7e3a4b018679125eaf86f6a628ec'],
  [1023, '10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11', 'c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e'],
  [1024, '42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7', '75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4'],
  [1025, 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444', '357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69'],
  [2048, 'e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a', '879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1'],
  [2049, '5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030', '9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5'],
  [3072, 'b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2', '044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770'],
  [3073, '7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3', '68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a'],
  [4096, '015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969', 'befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0'],
  [4097, '9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995', '00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc'],
  [5120, '9cadc15fed8b5d854562b26a9536d9707cadeda9b143978f319ab34230535833', '2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20'],
  [5121, '628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff', '6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024'],
  [6144, '3e2e5b74e048f3add6d21faab3f83aa44d3b2278afb83b80b3c35164ebeca205', '3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d'],
  [6145, 'f1323a8631446cc50536a9f705ee5cb619424d46887f3c376c695b70e0f0507f', '9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539'],
  [7168, '61da957ec2499a95d6b8023e2b0e604ec7f6b50e80a9678b89d2628e99ada77a', 'b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc'],
  [7169, 'a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817', 'ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511'],
  [8192, 'aae792484c8efe4f19e2ca7d371d8c467ffb10748d8a5a1ae579948f718a2a63', 'dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a'],
  [8193, 'bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b', '954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5'],
  [16384, 'f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4', '9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d'],
  [31744, '62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47', 'efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419'],
  [102400, 'bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085', '1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7'],
];

const ORDER = ['scalar', 'avx2', 'avx512'] as const;
type Level = (typeof ORDER)[number];

/** The levels this CPU offers: a cap above the CPU's best reads back as that best. */
function levels(): Level[] {
  const saved = process.env.DRIVESEED_BLAKE3;
  const have = ORDER.filter((l) => {
    process.env.DRIVESEED_BLAKE3 = l;
    return b.blake3Level() === l;
  });
  if (saved === undefined) delete process.env.DRIVESEED_BLAKE3;
  else process.env.DRIVESEED_BLAKE3 = saved;
  return have;
}

function at(level: Level, data: Uint8Array, key?: Uint8Array): string {
  process.env.DRIVESEED_BLAKE3 = level; // read by the addon on the call
  return b.blake3(data, key).toString('hex');
}

function pattern(len: number, shift = 0): Uint8Array {
  const backing = new Uint8Array(len + shift);
  const v = backing.subarray(shift);
  for (let i = 0; i < len; i++) v[i] = i % 251;
  return v;
}

/** A view of `len` random bytes starting `shift` bytes into a larger buffer: any alignment. */
function unaligned(len: number, shift: number): Uint8Array {
  const backing = crypto.randomBytes(len + shift + 7);
  return new Uint8Array(backing.buffer, backing.byteOffset + shift, len);
}

// ---- a second BLAKE3, written here from the specification: slow, plain, independent of the addon ----

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const [CHUNK_START, CHUNK_END, PARENT, ROOT_FLAG, KEYED_HASH] = [1, 2, 4, 8, 16];

function compress(cv: number[], m0: number[], counter: number, blockLen: number, flags: number): number[] {
  const v = [...cv, IV[0], IV[1], IV[2], IV[3], counter >>> 0, Math.floor(counter / 2 ** 32) >>> 0, blockLen, flags];
  const g = (a: number, bb: number, c: number, d: number, x: number, y: number) => {
    const rotr = (w: number, n: number) => ((w >>> n) | (w << (32 - n))) >>> 0;
    v[a] = (v[a] + v[bb] + x) >>> 0;
    v[d] = rotr(v[d] ^ v[a], 16);
    v[c] = (v[c] + v[d]) >>> 0;
    v[bb] = rotr(v[bb] ^ v[c], 12);
    v[a] = (v[a] + v[bb] + y) >>> 0;
    v[d] = rotr(v[d] ^ v[a], 8);
    v[c] = (v[c] + v[d]) >>> 0;
    v[bb] = rotr(v[bb] ^ v[c], 7);
  };
  let m = m0;
  for (let r = 0; r < 7; r++) {
    g(0, 4, 8, 12, m[0], m[1]);
    g(1, 5, 9, 13, m[2], m[3]);
    g(2, 6, 10, 14, m[4], m[5]);
    g(3, 7, 11, 15, m[6], m[7]);
    g(0, 5, 10, 15, m[8], m[9]);
    g(1, 6, 11, 12, m[10], m[11]);
    g(2, 7, 8, 13, m[12], m[13]);
    g(3, 4, 9, 14, m[14], m[15]);
    m = PERM.map((i) => m[i]);
  }
  return v.slice(0, 8).map((w, i) => (w ^ v[i + 8]) >>> 0);
}

function words(bytes: Uint8Array): number[] {
  const padded = new Uint8Array(64);
  padded.set(bytes);
  return Array.from({ length: 16 }, (_, i) => new DataView(padded.buffer).getUint32(4 * i, true));
}

/** The reference: recursive, the left subtree the largest power of two of chunks below the total. */
function refBlake3(data: Uint8Array, key?: Uint8Array): string {
  const k = key ? words(key).slice(0, 8) : IV;
  const f = key ? KEYED_HASH : 0;
  const chunk = (p: Uint8Array, counter: number, root: number) => {
    let cv = k;
    const blocks = Math.max(1, Math.ceil(p.length / 64));
    for (let i = 0; i < blocks; i++) {
      const blk = p.subarray(64 * i, 64 * i + 64);
      cv = compress(cv, words(blk), counter, blk.length, f | (i === 0 ? CHUNK_START : 0) | (i === blocks - 1 ? CHUNK_END | root : 0));
    }
    return cv;
  };
  const node = (p: Uint8Array, chunk0: number, root: number): number[] => {
    const n = Math.max(1, Math.ceil(p.length / 1024));
    if (n === 1) return chunk(p, chunk0, root);
    let left = 1;
    while (left * 2 < n) left *= 2;
    const l = node(p.subarray(0, left * 1024), chunk0, 0);
    const r = node(p.subarray(left * 1024), chunk0 + left, 0);
    return compress(k, [...l, ...r], 0, 64, f | PARENT | root);
  };
  const out = Buffer.alloc(32);
  node(data, 0, ROOT_FLAG).forEach((w, i) => out.writeUInt32LE(w, 4 * i));
  return out.toString('hex');
}

// ---- the checks, run in this process and in the sanitizer child ---------------------------------

function vectorChecks(level: Level): void {
  for (const [len, hash, keyed] of VECTORS) {
    const data = pattern(len, len % 13);
    assert.is(at(level, data), hash, `hash of ${len} bytes at ${level}`);
    assert.is(at(level, data, KEY), keyed, `keyed_hash of ${len} bytes at ${level}`);
  }
}

function equalityChecks(have: Level[], numRuns: number): void {
  fc.assert(
    fc.property(fc.nat({ max: 300 * KiB }), fc.nat({ max: 63 }), fc.boolean(), (len, shift, keyed) => {
      const data = unaligned(len, shift);
      const key = keyed ? crypto.randomBytes(32) : undefined;
      const want = at('scalar', data, key);
      for (const l of have) assert.is(at(l, data, key), want, `${len} bytes at offset ${shift}, ${keyed ? 'keyed' : 'plain'}, ${l} vs scalar`);
    }),
    { numRuns },
  );
}

// Just past one 16-chunk batch, a whole number of batches with a partial one after, just past the
// 256-chunk flat subtree (a split above it), and deeper with a ragged right edge: every level against
// the TypeScript reference.
const EDGES = [16 * KiB + 1, 17 * KiB, 24 * KiB + 63, 33 * KiB, 257 * KiB + 1, 256 * KiB, 512 * KiB + 3 * KiB + 100, 1100 * KiB + 7];

function edgeChecks(have: Level[]): void {
  const key = crypto.createHash('sha256').update('edge key').digest();
  for (const len of EDGES) {
    const data = unaligned(len, len % 7);
    const plain = refBlake3(data);
    const keyed = refBlake3(data, key);
    for (const l of have) {
      assert.is(at(l, data), plain, `hash of ${len} bytes at ${l}`);
      assert.is(at(l, data, key), keyed, `keyed_hash of ${len} bytes at ${l}`);
    }
  }
}

if (process.env.DRIVESEED_BLAKE3_ASAN_CHILD === '1') {
  const have = levels();
  for (const l of have) vectorChecks(l);
  equalityChecks(have, 20);
  edgeChecks(have);
  // Inputs alone in their own ArrayBuffer (malloc'd, so a read past the end hits an ASan redzone).
  for (let len = 0; len <= 40 * KiB; len += len < 2 * KiB ? 1 : 997) {
    const own = new Uint8Array(new ArrayBuffer(len));
    own.set(crypto.randomBytes(len));
    const want = at('scalar', own);
    for (const l of have) if (at(l, own) !== want) throw new Error(`${len} bytes at ${l}`);
  }
  console.log(`${CHILD_OK} (${have.join(', ')})`);
} else {
  const have = levels();
  const saved = process.env.DRIVESEED_BLAKE3;
  const restore = () => {
    if (saved === undefined) delete process.env.DRIVESEED_BLAKE3;
    else process.env.DRIVESEED_BLAKE3 = saved;
  };

  test('the levels: scalar always, and this CPU offers at most its best', () => {
    assert.is(have[0], 'scalar');
    process.env.DRIVESEED_BLAKE3 = 'no such level';
    assert.is(b.blake3Level(), have[have.length - 1]);
    restore();
  });

  for (const l of ORDER) {
    const title = `the official test vectors (hash and keyed_hash, 27 lengths) at the ${l} level`;
    gated(test, title, have.includes(l) ? undefined : `this CPU or this build does not offer ${l}`, () => {
      vectorChecks(l);
      restore();
    });
  }

  test(`every level (${have.join(', ')}) equals the scalar one for random lengths up to 300 KiB, keys and alignments`, () => {
    equalityChecks(have, 60);
    restore();
  });

  test('past a 16-chunk batch and past the 256-chunk flat subtree, every level equals a TypeScript BLAKE3', () => {
    edgeChecks(have);
    restore();
  });

  test('the TypeScript BLAKE3 agrees with the official test vectors', () => {
    for (const [len, hash, keyed] of VECTORS.filter(([n]) => n <= 8193)) {
      assert.is(refBlake3(pattern(len)), hash, `${len}`);
      assert.is(refBlake3(pattern(len), KEY), keyed, `${len} keyed`);
    }
  });

  test('blake3 refuses bad arguments with messages that name them', () => {
    assert.throws(() => b.blake3('x' as unknown as Uint8Array), /Expected a Uint8Array for data/);
    assert.throws(() => b.blake3(new Uint8Array(4), new Uint8Array(31)), /Expected a 32-byte Uint8Array or undefined for key/);
    assert.throws(() => b.blake3(new Uint8Array(4), 'k' as unknown as Uint8Array), /Expected a 32-byte Uint8Array or undefined for key/);
    assert.is(b.blake3(new Uint8Array(4), undefined).length, 32);
  });

  const reason = asanSkipReason();
  gated(test, 'the same checks under ASan+UBSan at every level report nothing [DRIVESEED_ASAN=1]', reason, () => {
    // The build test/native-asan.test.ts makes (incremental when that test ran first).
    const { build, addon } = buildAsanAddon();
    assert.is(build.status, 0, `sanitizer build failed:\n${(build.stdout + build.stderr).slice(-4000)}`);
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-r', './test/support/uvu-preload.cjs', __filename], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 10 * 60 * 1000,
      maxBuffer: 64 * 1024 * KiB,
      env: {
        ...process.env,
        DRIVESEED_BLAKE3_ASAN_CHILD: '1',
        DRIVESEED_NATIVE: addon,
        LD_PRELOAD: libasan,
        ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:exitcode=86:detect_stack_use_after_return=0',
        UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:exitcode=87',
      },
    });
    const out = `${r.stdout}\n${r.stderr}`;
    const report = out.match(/(ERROR: AddressSanitizer[\s\S]{0,6000}|runtime error:[\s\S]{0,3000})/);
    assert.not.ok(report, `sanitizer report:\n${report?.[0]}`);
    assert.is(r.status, 0, out.slice(-4000));
    assert.ok(r.stdout.includes(CHILD_OK), out.slice(-4000));
  });

  test.run();
}
