/** Unit tests of the repository layer: config and keys, chunk index, tree stream, settings rules, lock, atomic writes. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import { cookPassphrase } from '../src/core/passphrase';
import { Secret } from '../src/base/secret';
import {
  mergeStageSettings,
  readSettings,
  validateAccount,
  validateContainer,
  validateJobName,
  validateLocation,
  validateResourceGroup,
  validateSubscription,
} from '../src/core/settings';
import { encodeBlob } from '../src/native/pipeline';
import { decodeVerifiedChunk } from '../src/repo/blob-loader';
import { ChunkIndex } from '../src/repo/chunk-index';
import { CLOUD_CHECK_FIX, STAGING_CHECK_FIX } from '../src/repo/errors';
import { createConfig, readConfig, unlockConfig } from '../src/repo/config';
import { decodeMetadata, encodeMetadata, RepoKeys } from '../src/repo/crypto';
import { scanGarbage } from '../src/repo/garbage';
import { listIndexIds, readIndex, readPackList, writeIndex } from '../src/repo/index-file';
import { acquireRepoLock } from '../src/repo/lock';
import { badName, readTree, TREE_HEADER } from '../src/repo/tree';
import { tmpDir } from './helpers';

const FAST = { kdf: { N: 2 ** 12, r: 8, p: 1 } };

async function rejects(p: Promise<unknown> | (() => unknown), code: string): Promise<DriveseedError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.instance(err, DriveseedError);
    assert.is((err as DriveseedError).code, code, (err as Error).message);
    return err as DriveseedError;
  }
  throw new assert.Assertion({ message: `expected ${code}` });
}

test('config: keys open with the right passphrase only; WRONG_PASSPHRASE is FAILED and names the repository', async () => {
  const dir = tmpDir();
  const { config, keys } = await createConfig(dir, new Secret('right one'), FAST);
  const read = readConfig(dir)!;
  assert.equal(read, config);
  assert.not.ok(JSON.stringify(read).includes('right one'));
  const again = await unlockConfig(dir, read, new Secret('right one'));
  assert.equal(again.raw(), keys.raw());
  const err = await rejects(unlockConfig(dir, read, new Secret('wrong one')), 'WRONG_PASSPHRASE');
  assert.is(err.category, 'FAILED');
  assert.ok(err.message.includes(dir));
  assert.not.ok(err.message.includes('wrong one'));
  await rejects(createConfig(dir, new Secret('x'), FAST), 'REPO_EXISTS');
  // Keys never print.
  assert.is(String(keys), '[redacted]');
  assert.is(JSON.stringify({ keys }), '{"keys":"[redacted]"}');
});

test('config: a newer format version and a damaged config are refused with their codes', async () => {
  const dir = tmpDir();
  await createConfig(dir, new Secret('pw'), FAST);
  const file = path.join(dir, 'config');
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...c, version: 99 }));
  await rejects(() => readConfig(dir), 'REPO_VERSION');
  fs.writeFileSync(file, JSON.stringify({ ...c, kdf: { ...c.kdf, N: 3 } }));
  await rejects(() => readConfig(dir), 'REPO_CORRUPT');
  fs.writeFileSync(file, '{');
  await rejects(() => readConfig(dir), 'REPO_CORRUPT');
});

test('metadata: round trip; a flipped byte or the wrong kind does not decode', () => {
  const keys = RepoKeys.generate();
  const doc = { hello: 'wörld', n: [1, 2, 3] };
  const { id, bytes } = encodeMetadata(keys, 'snapshot', doc);
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(decodeMetadata(keys, 'snapshot', bytes), doc);
  assert.is(decodeMetadata(keys, 'index', bytes), undefined);
  const bad = Buffer.from(bytes);
  bad[20] ^= 1;
  assert.is(decodeMetadata(keys, 'snapshot', bad), undefined);
  assert.is(decodeMetadata(RepoKeys.generate(), 'snapshot', bytes), undefined);
});

test('index files: pack list sidecar matches; hash mismatch is REPO_CORRUPT; garbage scan finds temps and orphans', () => {
  const dir = tmpDir();
  const keys = RepoKeys.generate();
  const name = 'ab'.repeat(32);
  const pack = {
    name,
    path: `data/ab/${name}`,
    size: 5 * 1024 * 1024,
    blockSize: 4 * 1024 * 1024,
    blockMd5: ['00'.repeat(16), '11'.repeat(16)],
    entries: [['cd'.repeat(32), 0, 100, 200] as [string, number, number, number]],
  };
  const id = writeIndex(dir, keys, [pack]);
  assert.equal(listIndexIds(dir), [id]);
  assert.equal(readIndex(dir, keys, id).packs, [pack]);
  const list = readPackList(dir, id);
  assert.equal(list.packs, [{ name, path: pack.path, size: pack.size, blockSize: pack.blockSize, blockMd5: pack.blockMd5 }]);
  // No temp files left by the atomic writes.
  assert.equal(fs.readdirSync(path.join(dir, 'index')).sort(), [id, `${id}.packs.json`].sort());
  const f = path.join(dir, 'index', id);
  const b = fs.readFileSync(f);
  b[b.length - 1] ^= 0xff;
  fs.writeFileSync(f, b);
  const err = (() => {
    try {
      readIndex(dir, keys, id);
    } catch (e) {
      return e as DriveseedError;
    }
  })();
  assert.is(err?.code, 'REPO_CORRUPT');
  assert.ok(err!.message.includes(`index/${id}`));
  fs.mkdirSync(path.join(dir, 'data', 'ab'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'ab', name), 'x');
  fs.writeFileSync(path.join(dir, 'data', 'ab', 'ab' + '0'.repeat(62)), 'y');
  fs.writeFileSync(path.join(dir, 'data', '.tmp-pack-0123'), 'z');
  fs.writeFileSync(path.join(dir, 'index', `${'e'.repeat(64)}.packs.json`), '{}');
  fs.writeFileSync(path.join(dir, 'stray'), '');
  const g = scanGarbage(dir, new Set([name]));
  assert.equal(
    g.temps.map((t) => t.path),
    ['data/.tmp-pack-0123'],
  );
  assert.equal(
    g.unreferencedPacks.map((p) => p.path),
    [`data/ab/ab${'0'.repeat(62)}`],
  );
  assert.equal(g.orphanPackLists, [`index/${'e'.repeat(64)}.packs.json`]);
  assert.equal(g.unknown, ['stray']);
  assert.is(g.packsOnDisk.get(name)?.size, 1);
});

test('chunk index: lookups after incremental adds, duplicates keep the first location (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 40 }), { maxLength: 6 }), (batches) => {
      const index = new ChunkIndex();
      const expect = new Map<string, { pack: number; offset: number }>();
      batches.forEach((ids, bi) => {
        const name = bi.toString(16).padStart(64, '0');
        index.addIndex({
          version: 1,
          created: '',
          packs: [
            {
              name,
              path: `data/00/${name}`,
              size: 1e6,
              blockSize: 4 << 20,
              blockMd5: [],
              entries: ids.map((id, i) => [Buffer.from(id).toString('hex'), i * 10, 10, 20]),
            },
          ],
        });
        ids.forEach((id, i) => {
          const k = Buffer.from(id).toString('hex');
          if (!expect.has(k)) expect.set(k, { pack: bi, offset: i * 10 });
        });
        // Lookups between adds force incremental merges.
        for (const [k, v] of expect) {
          const loc = index.lookup(Buffer.from(k, 'hex'));
          if (!loc || loc.pack !== v.pack || loc.offset !== v.offset) return false;
        }
      });
      const known = index.knownBuffer();
      if (known.length !== expect.size * 32) return false;
      for (let i = 32; i < known.length; i += 32) if (Buffer.compare(known.subarray(i - 32, i), known.subarray(i, i + 32)) >= 0) return false;
      return index.lookup(Buffer.alloc(32, 0xee)) === undefined || expect.has('ee'.repeat(32));
    }),
    { numRuns: 60 },
  );
});

test('tree stream: reads records across chunk boundaries; refuses bad structure; badName refuses unsafe names', async () => {
  const lines = [
    TREE_HEADER,
    '{"t":"d","n":"src","m":16877,"u":0,"g":0,"mt":"1"}',
    '{"t":"f","n":"a b","m":33188,"u":0,"g":0,"mt":"2","s":0,"c":[]}',
    '{"t":"e"}',
  ];
  const text = Buffer.from(lines.join('\n') + '\n');
  // Split at every position: records must not depend on chunk boundaries.
  for (const cut of [1, 7, 30, text.length - 3]) {
    const parts = [text.subarray(0, cut), text.subarray(cut)];
    const recs = [];
    for await (const r of readTree(
      {
        chunks: [
          ['0'.repeat(64), parts[0]!.length],
          ['1'.repeat(64), parts[1]!.length],
        ],
        size: text.length,
      },
      (id) => (id[0] === '0' ? parts[0]! : parts[1]!),
      'test',
    ))
      recs.push(r);
    assert.equal(
      recs.map((r) => [r.rec.t, r.depth]),
      [
        ['d', 0],
        ['f', 1],
        ['e', 0],
      ],
    );
  }
  const bad = async (body: string[], size?: number) => {
    const b = Buffer.from([TREE_HEADER, ...body].join('\n') + '\n');
    try {
      for await (const _ of readTree({ chunks: [['0'.repeat(64), b.length]], size: size ?? b.length }, () => b, 'snapshots/x')) void _;
    } catch (err) {
      assert.is((err as DriveseedError).code, 'REPO_CORRUPT');
      return;
    }
    assert.unreachable('accepted a bad tree');
  };
  await bad(['{"t":"e"}']);
  await bad(['{"t":"d","n":"x","m":1,"u":0,"g":0,"mt":"1"}']);
  await bad(['{"t":"f","n":"x","m":1,"u":0,"g":0,"mt":"1","s":-1,"c":[]}']);
  await bad(['{"t":"f","n":"x","m":1,"u":0,"g":0,"mt":"1","s":1,"c":[["zz",1]]}']);
  await bad(['not json']);
  await bad([], 999);
  for (const n of ['', '.', '..', 'a/b', 'a\0b', '../x']) assert.ok(badName(n), JSON.stringify(n));
  for (const n of ['a', '...', 'a b', 'héllo', '.hidden']) assert.is(badName(n), undefined, n);
});

test('settings: Azure naming rules with messages naming the option and the rule', () => {
  const msg = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      assert.is((err as DriveseedError).category, 'USAGE');
      return (err as Error).message;
    }
    return '';
  };
  assert.is(validateJobName('seed-2026'), 'seed-2026');
  for (const bad of ['ab', 'Seed', '1seed', 'seed_job', 'a'.repeat(25), 'seed job'])
    assert.match(
      msg(() => validateJobName(bad)),
      /^Invalid --job .*3 to 24/,
    );
  assert.is(validateAccount('mystorage01'), 'mystorage01');
  for (const bad of ['ab', 'My', 'my-storage', 'a'.repeat(25)])
    assert.match(
      msg(() => validateAccount(bad)),
      /^Invalid --account .*lowercase letters and digits/,
    );
  assert.is(validateContainer('backup-1'), 'backup-1');
  for (const bad of ['ab', 'a--b', '-ab', 'ab-', 'AB1', 'a'.repeat(64)])
    assert.match(
      msg(() => validateContainer(bad)),
      /^Invalid --container .*single hyphens/,
    );
  assert.is(validateSubscription('0F0E0D0C-0000-1111-2222-333344445555'), '0f0e0d0c-0000-1111-2222-333344445555');
  assert.match(
    msg(() => validateSubscription('not-a-guid')),
    /^Invalid --subscription .*GUID/,
  );
  assert.is(validateResourceGroup('rg_backup.(eu)-1'), 'rg_backup.(eu)-1');
  assert.match(
    msg(() => validateResourceGroup('rg.')),
    /^Invalid --resource-group/,
  );
  assert.is(validateLocation('West Europe'), 'westeurope');
  assert.match(
    msg(() => validateLocation('west/europe')),
    /^Invalid --location/,
  );
});

test('settings: saved, merged, unknown fields preserved, job name fixed once saved', async () => {
  const dir = tmpDir();
  mergeStageSettings(dir, { job: 'seed-one', account: 'acct001' });
  const file = path.join(dir, 'settings.json');
  const s = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...s, seed: { state: 'shipped' }, future: 1 }));
  const m = mergeStageSettings(dir, { job: 'seed-one', container: 'cont-1' });
  assert.equal(
    { job: m.job, account: m.account, container: m.container, seed: m.seed, future: m.future },
    { job: 'seed-one', account: 'acct001', container: 'cont-1', seed: { state: 'shipped' }, future: 1 },
  );
  assert.equal(readSettings(dir), m);
  const err = await rejects(() => mergeStageSettings(dir, { job: 'other-job' }), 'JOB_MISMATCH');
  assert.ok(err.message.includes('seed-one'));
});

test('passphrase: file (first line), param, env, prompt; never echoed in errors', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'pw');
  fs.writeFileSync(f, 's3cret pass\nignored\n');
  const src = cookPassphrase({ passphraseFile: f }, {});
  assert.is(src.kind, 'file');
  assert.is(src.kind !== 'prompt' && src.secret.reveal(), 's3cret pass');
  assert.is(JSON.stringify(src).includes('s3cret'), false);
  assert.is(cookPassphrase({}, { DRIVESEED_PASSPHRASE: 'envpw' }).kind, 'env');
  assert.is(cookPassphrase({}, {}).kind, 'prompt');
  fs.writeFileSync(f, '\n');
  assert.throws(() => cookPassphrase({ passphraseFile: f }, {}), /empty/);
  assert.throws(() => cookPassphrase({ passphraseFile: path.join(dir, 'missing') }, {}), /--passphrase-file/);
});

test('lock: one writer; a stale lock of a dead process is taken over; release removes only our lock', async () => {
  const dir = tmpDir();
  const a = acquireRepoLock(dir, 'stage');
  const err = await rejects(() => acquireRepoLock(dir, 'stage'), 'REPOSITORY_LOCKED');
  assert.ok(err.message.includes(`pid ${process.pid}`));
  a.release();
  const file = path.join(dir, 'locks', 'exclusive');
  assert.not.ok(fs.existsSync(file));
  // A lock from a pid that cannot exist on this host.
  fs.writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, host: require('node:os').hostname(), time: 't', command: 'stage' }));
  const b = acquireRepoLock(dir, 'stage');
  assert.is(b.replaced?.pid, 2 ** 22 + 12345);
  b.release();
  // A lock from another host is never broken.
  fs.writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', time: 't', command: 'stage' }));
  await rejects(() => acquireRepoLock(dir, 'stage'), 'REPOSITORY_LOCKED');
});

test('the verified blob loader: a good chunk decodes; a flipped byte or a wrong length is REPO_CORRUPT naming the pack and the fix of its backend', () => {
  const keys = { dataKey: crypto.randomBytes(32), idKey: crypto.randomBytes(32) };
  const data = crypto.randomBytes(5000);
  const { id, blob } = encodeBlob(data, keys);
  const hex = id.toString('hex');
  const origin = { file: 'data/ab/pack-1', pack: 'pack-1', offset: 64 };
  assert.equal(decodeVerifiedChunk(blob, hex, data.length, keys, 1 << 20, origin), data);

  const damaged = Buffer.from(blob);
  damaged[damaged.length >> 1]! ^= 1;
  const local = catchError(() => decodeVerifiedChunk(damaged, hex, data.length, keys, 1 << 20, origin));
  assert.is(local.code, 'REPO_CORRUPT');
  assert.match(local.message, `data/ab/pack-1: chunk ${hex} at offset 64 does not verify`);
  assert.match(local.message, STAGING_CHECK_FIX);

  const cloud = catchError(() => decodeVerifiedChunk(blob, hex, data.length + 1, keys, 1 << 20, { ...origin, fix: CLOUD_CHECK_FIX }));
  assert.is(cloud.code, 'REPO_CORRUPT');
  assert.match(cloud.message, `length ${data.length}, expected ${data.length + 1}`);
  assert.match(cloud.message, 'check --cloud');
  assert.not.match(cloud.message, '--staging');
  assert.equal(cloud.details, { path: 'data/ab/pack-1', pack: 'pack-1', offset: 64, chunk: hex });
});

function catchError(fn: () => unknown): DriveseedError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, DriveseedError);
    return err as DriveseedError;
  }
  throw new Error('expected an error');
}

test.run();
