/**
 * Chunk ids by format version: a new repository is version 2 with keyed BLAKE3 ids; a version 1
 * repository (HMAC-SHA-256 ids) still stages, re-stages, restores and checks healthy; a blob written
 * under one scheme does not decode under the other; and the config reader holds each version to its
 * scheme.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret } from '../src/base/secret';
import { check } from '../src/core/check';
import { restore } from '../src/core/restore';
import { type StageOptions, stage } from '../src/core/stage';
import { loadBinding } from '../src/native/load';
import { decodeBlob, encodeBlob, hmacSha256 } from '../src/native/pipeline';
import { parseConfig, readConfig } from '../src/repo/config';
import { RepoKeys } from '../src/repo/crypto';
import { Repository } from '../src/repo/repository';
import { tmpDir } from './helpers';
import { FAST_KDF, PASS, context, passphrase } from './stage-fixtures';

const opts = (src: string, staging: string, extra: Partial<StageOptions> = {}): StageOptions => ({
  sources: [src],
  staging,
  settings: { job: 'chunk-ids' },
  passphrase: passphrase(),
  level: 3,
  threads: 2,
  init: FAST_KDF,
  ...extra,
});

/** A source of one small file (one chunk) and its content. */
function source(): { src: string; content: Buffer } {
  const src = path.join(tmpDir(), 'src');
  fs.mkdirSync(src);
  const content = Buffer.from('one chunk of content, small enough to be a single chunk\n'.repeat(20));
  fs.writeFileSync(path.join(src, 'a.txt'), content);
  return { src, content };
}

async function idsOf(staging: string): Promise<{ repo: Repository; ids: string[] }> {
  const repo = await Repository.open(staging, new Secret(PASS));
  const index = await repo.loadChunkIndex();
  const ids: string[] = [];
  const known = index.knownBuffer();
  for (let o = 0; o < known.length; o += 32) ids.push(known.subarray(o, o + 32).toString('hex'));
  return { repo, ids };
}

for (const scheme of ['blake3', 'hmac-sha256'] as const) {
  test(`a ${scheme} repository: its config, its chunk ids, a re-stage, a restore and a check`, async () => {
    const { src, content } = source();
    await new Promise((r) => setTimeout(r, 250)); // out of the racily-clean window, so the re-stage keeps a.txt unread
    const staging = path.join(tmpDir(), 'staging');
    const init = scheme === 'blake3' ? FAST_KDF : { ...FAST_KDF, chunkIds: scheme };
    const first = await stage(opts(src, staging, { init }), context());
    const config = readConfig(staging)!;
    assert.is(config.version, scheme === 'blake3' ? 2 : 1);
    assert.is(config.chunkIds, scheme === 'blake3' ? 'blake3' : undefined);
    const { repo, ids } = await idsOf(staging);
    assert.is(repo.keys.idScheme, scheme);
    const idKey = repo.keys.blobKeys().idKey;
    const expected = scheme === 'blake3' ? loadBinding().blake3(content, idKey) : hmacSha256(idKey, content);
    assert.ok(ids.includes(expected.toString('hex')), 'the file chunk has the id of its scheme');
    const other = scheme === 'blake3' ? hmacSha256(idKey, content) : loadBinding().blake3(content, idKey);
    assert.not.ok(ids.includes(other.toString('hex')));

    fs.writeFileSync(path.join(src, 'b.txt'), 'a second file\n');
    const second = await stage(opts(src, staging, { init }), context());
    assert.is(second.summary.filesUnchanged, 1);
    assert.is(second.summary.files, 2);
    const to = path.join(tmpDir(), 'restored');
    await restore({ staging, to, snapshot: 'latest', include: [], passphrase: passphrase(), threads: 2 }, context());
    assert.ok(fs.readFileSync(path.join(to, 'src', 'a.txt')).equals(content));
    assert.is(fs.readFileSync(path.join(to, 'src', 'b.txt'), 'utf8'), 'a second file\n');
    const c = await check({ staging, readData: true, passphrase: passphrase(), threads: 2 }, context());
    assert.ok(c.healthy, JSON.stringify(c.problems));
    assert.is.not(first.snapshot, second.snapshot);
  });
}

test('a blob written under one id scheme does not decode under the other', () => {
  const k = new RepoKeys(Buffer.alloc(32, 1), Buffer.alloc(32, 2), 'blake3');
  const data = Buffer.from('payload '.repeat(100));
  const { id, blob } = encodeBlob(data, k.blobKeys());
  assert.ok(id.equals(loadBinding().blake3(data, Buffer.alloc(32, 2))));
  assert.ok(decodeBlob(blob, id, k.blobKeys()).equals(data));
  const hmacKeys = { ...k.blobKeys(), idScheme: 'hmac-sha256' as const };
  assert.throws(() => decodeBlob(blob, id, hmacKeys), /HMAC-SHA-256 differs/);
  const h = encodeBlob(data, hmacKeys);
  assert.ok(h.id.equals(hmacSha256(Buffer.alloc(32, 2), data)));
  assert.throws(() => decodeBlob(h.blob, h.id, k.blobKeys()), /keyed BLAKE3 differs/);
  assert.throws(() => encodeBlob(data, { ...k.blobKeys(), idScheme: 'sha1' as never }), /Expected "hmac-sha256", "blake3" or undefined for keys.idScheme/);
});

test('the config reader holds each version to its chunk ids', () => {
  const base = JSON.parse(
    JSON.stringify({
      format: 'driveseed-repository',
      id: '0123456789abcdef0123456789abcdef',
      created: '2026-12-05T00:00:00.000Z',
      kdf: { name: 'scrypt', N: 1024, r: 8, p: 1, salt: 'c2FsdA==' },
      keys: 'AAAA',
      chunker: { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 },
      packSize: 64 * 1024 * 1024,
      blockSize: 4 * 1024 * 1024,
    }),
  );
  const parse = (extra: object) => () => parseConfig(JSON.stringify({ ...base, ...extra }), 'config');
  assert.is(parse({ version: 1 })().chunkIds, undefined);
  assert.is(parse({ version: 2, chunkIds: 'blake3' })().chunkIds, 'blake3');
  assert.throws(parse({ version: 1, chunkIds: 'blake3' }), /missing or invalid fields/);
  assert.throws(parse({ version: 2 }), /missing or invalid fields/);
  assert.throws(parse({ version: 2, chunkIds: 'sha1' }), /missing or invalid fields/);
  assert.throws(parse({ version: 3, chunkIds: 'blake3' }), /reads up to version 2/);
});

test.run();
