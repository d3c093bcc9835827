/**
 * The addon's scrypt (native/src/scrypt*.{h,cc,inc}) against RFC 7914's test vectors and node:crypto:
 * random passwords, salts, key lengths and small N, r, p (fast-check, fixed seed) on every path this
 * CPU offers (DRIVESEED_SCRYPT_SIMD=scalar|sse2|avx512 caps the dispatch per call), the repository's
 * own parameters (N = 2^17, r = 8), the parameter errors, and deriveKey's choice between the addon and
 * node:crypto (DRIVESEED_SCRYPT=node).
 */
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret } from '../src/base/secret';
import { DataPlaneError } from '../src/native/errors';
import { hasNativeScrypt, scryptImplementation, scryptNative } from '../src/native/scrypt';
import { DEFAULT_KDF, type KdfParams, deriveKey } from '../src/repo/crypto';

const LEVELS = ['scalar', 'sse2', 'avx512'] as const;
type Level = (typeof LEVELS)[number];

function ref(password: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, keyLen: number): Buffer {
  return crypto.scryptSync(password, salt, keyLen, { N, r, p, maxmem: 128 * N * r * 2 + 128 * r * p + 1024 * 1024 });
}

/** Runs fn with DRIVESEED_SCRYPT_SIMD=level (read by the addon on each call), then restores it. */
async function atLevel<T>(level: Level, fn: () => Promise<T>): Promise<T> {
  const before = process.env.DRIVESEED_SCRYPT_SIMD;
  process.env.DRIVESEED_SCRYPT_SIMD = level;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.DRIVESEED_SCRYPT_SIMD;
    else process.env.DRIVESEED_SCRYPT_SIMD = before;
  }
}

/** The levels this CPU runs: a cap above the CPU's best reads back as that best. */
function offered(): Level[] {
  const before = process.env.DRIVESEED_SCRYPT_SIMD;
  try {
    return LEVELS.filter((l) => {
      process.env.DRIVESEED_SCRYPT_SIMD = l;
      return scryptImplementation() === l;
    });
  } finally {
    if (before === undefined) delete process.env.DRIVESEED_SCRYPT_SIMD;
    else process.env.DRIVESEED_SCRYPT_SIMD = before;
  }
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

// RFC 7914 §12, all but the last vector (N = 2^20, 1 GiB: beyond the addon's cap).
const RFC_VECTORS = [
  {
    P: '',
    S: '',
    N: 16,
    r: 1,
    p: 1,
    dk: '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
  },
  {
    P: 'password',
    S: 'NaCl',
    N: 1024,
    r: 8,
    p: 16,
    dk: 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
  },
  {
    P: 'pleaseletmein',
    S: 'SodiumChloride',
    N: 16384,
    r: 8,
    p: 1,
    dk: '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887',
  },
];

test('this build of the addon has scrypt, and picks a path the CPU offers', () => {
  assert.ok(hasNativeScrypt(), 'build/Release/driveseed.node has no scrypt: rebuild with npm run build:native');
  const levels = offered();
  assert.ok(levels.includes('scalar'), `the scalar path is always offered (got ${levels.join(', ')})`);
  if (process.arch === 'x64') assert.ok(levels.includes('sse2'), 'SSE2 is part of every x86-64 CPU');
  const before = process.env.DRIVESEED_SCRYPT_SIMD;
  delete process.env.DRIVESEED_SCRYPT_SIMD;
  try {
    assert.is(scryptImplementation(), levels[levels.length - 1], 'without a cap the best path is taken');
  } finally {
    if (before !== undefined) process.env.DRIVESEED_SCRYPT_SIMD = before;
  }
});

for (const level of LEVELS) {
  const runs = offered().includes(level);
  const skip = runs ? '' : ` (skipped: this CPU does not offer ${level})`;

  test(`${level}: RFC 7914 §12 test vectors${skip}`, async () => {
    if (!runs) return;
    await atLevel(level, async () => {
      assert.is(scryptImplementation(), level);
      for (const v of RFC_VECTORS) {
        const dk = await scryptNative(ascii(v.P), ascii(v.S), v.N, v.r, v.p, 64);
        assert.is(dk.toString('hex'), v.dk, `P="${v.P}" S="${v.S}" N=${v.N} r=${v.r} p=${v.p}`);
      }
    });
  });

  test(`${level}: random passwords, salts, key lengths and small N, r, p equal node:crypto${skip}`, async () => {
    if (!runs) return;
    await atLevel(level, () =>
      fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 100 }),
          fc.integer({ min: 1, max: 10 }),
          fc.integer({ min: 1, max: 16 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 128 }),
          async (password, salt, logN, r, p, keyLen) => {
            const N = 2 ** logN;
            const got = await scryptNative(password, salt, N, r, p, keyLen);
            assert.is(got.toString('hex'), ref(password, salt, N, r, p, keyLen).toString('hex'), `N=${N} r=${r} p=${p} keyLen=${keyLen}`);
          },
        ),
        { seed: 20261207 + LEVELS.indexOf(level), numRuns: 40 },
      ),
    );
  });

  test(`${level}: the repository's parameters (N = 2^17, r = 8, p = 1) equal node:crypto${skip}`, async () => {
    if (!runs) return;
    const password = Buffer.from('correct horse battery staple ✓'.normalize('NFC'), 'utf8');
    const salt = Buffer.from('3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=', 'base64');
    const got = await atLevel(level, () => scryptNative(password, salt, DEFAULT_KDF.N, DEFAULT_KDF.r, DEFAULT_KDF.p, 32));
    assert.is(got.toString('hex'), ref(password, salt, DEFAULT_KDF.N, DEFAULT_KDF.r, DEFAULT_KDF.p, 32).toString('hex'));
  });
}

test('the addon copies the password on the call: wiping the caller buffer at once changes nothing', async () => {
  const password = Buffer.from('wipe me right away', 'utf8');
  const want = ref(password, ascii('salt'), 1024, 8, 1, 32);
  const pending = scryptNative(password, ascii('salt'), 1024, 8, 1, 32);
  password.fill(0);
  assert.is((await pending).toString('hex'), want.toString('hex'));
});

test('derivations run concurrently on the libuv pool and each gets its own result', async () => {
  const jobs = [1, 2, 3, 4, 5, 6].map((i) => ({ pw: Buffer.from(`pw${i}`), salt: Buffer.from(`salt${i}`), N: 2 ** (6 + i), r: i, p: (i % 3) + 1 }));
  const got = await Promise.all(jobs.map((j) => scryptNative(j.pw, j.salt, j.N, j.r, j.p, 48)));
  jobs.forEach((j, i) => assert.is(got[i]!.toString('hex'), ref(j.pw, j.salt, j.N, j.r, j.p, 48).toString('hex'), `job ${i}`));
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

test('malformed arguments reject with TypeErrors that name them', async () => {
  const pw = Buffer.from('pw');
  const s = Buffer.from('salt');
  const cases: Array<[Promise<unknown>, RegExp]> = [
    [scryptNative('pw' as unknown as Uint8Array, s, 16, 1, 1, 32), /^Expected a Uint8Array for password$/],
    [scryptNative(pw, null as unknown as Uint8Array, 16, 1, 1, 32), /^Expected a Uint8Array for salt$/],
    [scryptNative(pw, s, 1, 1, 1, 32), /^Expected an integer from 2 to 4294967296 for N$/],
    [scryptNative(pw, s, 16.5, 1, 1, 32), /for N$/],
    [scryptNative(pw, s, 16, 0, 1, 32), /^Expected an integer from 1 to 1073741823 for r$/],
    [scryptNative(pw, s, 16, 1, 0, 32), /^Expected an integer from 1 to 1073741823 for p$/],
    [scryptNative(pw, s, 16, 1, 1, 0), /^Expected an integer from 1 to 1073741824 for keyLen$/],
  ];
  for (const [p, re] of cases) {
    const err = await rejection(p);
    assert.instance(err, TypeError);
    assert.match((err as Error).message, re);
  }
});

test('parameters scrypt does not allow, or beyond the 1 GiB cap, reject with EINVAL / ERR_TOO_LARGE', async () => {
  const pw = Buffer.from('pw');
  const s = Buffer.from('salt');
  const cases: Array<[Promise<unknown>, string, RegExp]> = [
    [scryptNative(pw, s, 3, 1, 1, 32), 'EINVAL', /power of two of at least 2, not 3/],
    [scryptNative(pw, s, 1000, 8, 1, 32), 'EINVAL', /power of two/],
    [scryptNative(pw, s, 2 ** 16, 1, 1, 32), 'EINVAL', /less than 2\^\(16·r\)/],
    [scryptNative(pw, s, 16, 2 ** 15, 2 ** 15, 32), 'EINVAL', /r·p must be less than 2\^30/],
    [scryptNative(pw, s, 2 ** 20, 8, 1, 32), 'ERR_TOO_LARGE', /needs more than 1024 MiB/],
    [scryptNative(pw, s, 2, 2 ** 20, 2 ** 9, 32), 'ERR_TOO_LARGE', /more than 1024 MiB/],
  ];
  for (const [p, code, re] of cases) {
    const err = await rejection(p);
    assert.instance(err, DataPlaneError);
    assert.is((err as DataPlaneError).code, code, (err as Error).message);
    assert.match((err as Error).message, re);
    assert.not.match((err as Error).message, /pw|salt/, 'no input bytes in the message');
  }
});

test('deriveKey: the addon and DRIVESEED_SCRYPT=node give the same key, for the default cost and a small one', async () => {
  const before = process.env.DRIVESEED_SCRYPT;
  const salt = Buffer.alloc(32, 0xa5).toString('base64');
  // "é" composed and decomposed: deriveKey normalises to NFC on both paths.
  const kdfs: KdfParams[] = [
    { name: 'scrypt', ...DEFAULT_KDF, salt },
    { name: 'scrypt', N: 2 ** 10, r: 4, p: 2, salt },
  ];
  try {
    for (const kdf of kdfs) {
      delete process.env.DRIVESEED_SCRYPT;
      const native = await deriveKey(new Secret('caf\u00e9 passphrase'), kdf);
      process.env.DRIVESEED_SCRYPT = 'node';
      const node = await deriveKey(new Secret('cafe\u0301 passphrase'), kdf);
      assert.is(native.length, 32);
      assert.is(native.toString('hex'), node.toString('hex'), `N=${kdf.N} r=${kdf.r} p=${kdf.p}`);
      const direct = ref(Buffer.from('caf\u00e9 passphrase', 'utf8'), Buffer.from(salt, 'base64'), kdf.N, kdf.r, kdf.p, 32);
      assert.is(native.toString('hex'), direct.toString('hex'));
    }
  } finally {
    if (before === undefined) delete process.env.DRIVESEED_SCRYPT;
    else process.env.DRIVESEED_SCRYPT = before;
  }
});

test('deriveKey: parameters the addon refuses get node:crypto’s answer, as before the addon had scrypt', async () => {
  const before = process.env.DRIVESEED_SCRYPT;
  const kdf: KdfParams = { name: 'scrypt', N: 3, r: 1, p: 1, salt: Buffer.alloc(32).toString('base64') };
  try {
    delete process.env.DRIVESEED_SCRYPT;
    const viaAddon = await rejection(deriveKey(new Secret('pw'), kdf));
    process.env.DRIVESEED_SCRYPT = 'node';
    const viaNode = await rejection(deriveKey(new Secret('pw'), kdf));
    assert.not.instance(viaAddon, DataPlaneError);
    assert.is((viaAddon as { code?: string }).code, (viaNode as { code?: string }).code);
    assert.is((viaAddon as Error).message, (viaNode as Error).message);
  } finally {
    if (before === undefined) delete process.env.DRIVESEED_SCRYPT;
    else process.env.DRIVESEED_SCRYPT = before;
  }
});

test.run();
