/**
 * Cryptography of the repository's metadata (docs/format.md §Keys, §Metadata files). Chunk data is
 * encrypted by the native pipeline (encodeBlob framing, docs/format-packs.md); this file covers the
 * passphrase KDF, the sealed master keys, and the encrypted index and snapshot files.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { inspect } from 'node:util';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { BlobKeys } from '../native/binding';
import { DataPlaneError } from '../native/errors';
import { hasNativeScrypt, scryptNative } from '../native/scrypt';
import type { Secret } from '../base/secret';

/** scrypt parameters as stored in `config`. */
export interface KdfParams {
  name: 'scrypt';
  /** CPU/memory cost, a power of two */
  N: number;
  r: number;
  p: number;
  /** base64, 32 bytes */
  salt: string;
}

/**
 * Default KDF cost: N=2^17, r=8, p=1 is OWASP's recommended scrypt minimum. It takes 128 MiB
 * (128·N·r bytes) and about 0.35 s on one core here with node:crypto, 0.17–0.2 s with the addon's
 * scrypt: once per command, and costly for a guesser; an Argon2id implementation would need a
 * third-party package.
 */
export const DEFAULT_KDF = { N: 2 ** 17, r: 8, p: 1 } as const;

/** How a repository's chunk ids are computed: HMAC-SHA-256 (format version 1) or keyed BLAKE3 (version 2). */
export type ChunkIdScheme = 'hmac-sha256' | 'blake3';

/** The master keys of a repository. Prints as [redacted]; only blobKeys()/raw() expose the bytes. */
export class RepoKeys {
  readonly #dataKey: Buffer;
  readonly #idKey: Buffer;
  /** how chunk ids are computed (the config's format version says which) */
  readonly idScheme: ChunkIdScheme;
  constructor(dataKey: Buffer, idKey: Buffer, idScheme: ChunkIdScheme = 'hmac-sha256') {
    if (dataKey.length !== 32 || idKey.length !== 32) throw new Error('RepoKeys: keys must be 32 bytes');
    this.#dataKey = dataKey;
    this.#idKey = idKey;
    this.idScheme = idScheme;
  }
  static generate(idScheme: ChunkIdScheme = 'hmac-sha256'): RepoKeys {
    return new RepoKeys(randomBytes(32), randomBytes(32), idScheme);
  }
  /** The keys in the shape the native jobs take. */
  blobKeys(): BlobKeys {
    return { dataKey: this.#dataKey, idKey: this.#idKey, idScheme: this.idScheme };
  }
  /** dataKey || idKey, for sealing into `config`. */
  raw(): Buffer {
    return Buffer.concat([this.#dataKey, this.#idKey]);
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

/**
 * Derives the 32-byte key-encryption key from the passphrase, off the JS thread (libuv pool): with the
 * addon's scrypt when it has one (the same bytes, about 2× faster: docs/native-io.md "scrypt"),
 * else, or with DRIVESEED_SCRYPT=node, or when the addon refuses the parameters (more than its 1 GiB
 * cap), with node:crypto's.
 */
export async function deriveKey(passphrase: Secret, kdf: KdfParams): Promise<Buffer> {
  const text = passphrase.reveal().normalize('NFC');
  const salt = Buffer.from(kdf.salt, 'base64');
  if (process.env.DRIVESEED_SCRYPT !== 'node' && hasNativeScrypt()) {
    // Not Buffer.from(text): a short one would be a slice of Node's shared pool, wiped here only in part.
    const password = Buffer.alloc(Buffer.byteLength(text, 'utf8'));
    password.write(text, 'utf8');
    let pending: Promise<Buffer>;
    try {
      pending = scryptNative(password, salt, kdf.N, kdf.r, kdf.p, 32);
    } finally {
      password.fill(0); // the addon took its own copy on the call
    }
    try {
      return await pending;
    } catch (err) {
      if (!(err instanceof DataPlaneError)) throw err;
      // EINVAL, ERR_TOO_LARGE, ENOMEM: node:crypto reports (or manages) the same parameters as before
    }
  }
  return nodeScrypt(text, salt, kdf);
}

function nodeScrypt(text: string, salt: Buffer, kdf: KdfParams): Promise<Buffer> {
  const maxmem = 128 * kdf.N * kdf.r * 2 + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCb(text, salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const NONCE = 12;
const TAG = 16;

/** AES-256-GCM: nonce(12) || ciphertext || tag(16). `aad` binds the bytes to their purpose. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

/** Inverse of seal(); returns undefined when authentication fails (wrong key or altered bytes). */
export function unseal(key: Uint8Array, sealed: Uint8Array, aad: string): Buffer | undefined {
  if (sealed.length < NONCE + TAG) return undefined;
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(buf.subarray(buf.length - TAG));
  try {
    return Buffer.concat([d.update(buf.subarray(NONCE, buf.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

/** Largest metadata document accepted after decompression (a guard against decompression bombs). */
export const MAX_METADATA_BYTES = 512 * 1024 * 1024;

/** Encrypts a JSON metadata document: seal(dataKey, deflate-raw(JSON), aad = kind). */
export function encodeMetadata(keys: RepoKeys, kind: 'index' | 'snapshot', doc: unknown): { id: string; bytes: Buffer } {
  const bytes = seal(keys.blobKeys().dataKey, deflateRawSync(Buffer.from(JSON.stringify(doc), 'utf8')), `driveseed-${kind}-v1`);
  return { id: sha256Hex(bytes), bytes };
}

/** Decrypts a metadata document; undefined when it does not authenticate. Throws on bad deflate data. */
export function decodeMetadata(keys: RepoKeys, kind: 'index' | 'snapshot', bytes: Uint8Array): unknown {
  const plain = unseal(keys.blobKeys().dataKey, bytes, `driveseed-${kind}-v1`);
  if (!plain) return undefined;
  return JSON.parse(inflateRawSync(plain, { maxOutputLength: MAX_METADATA_BYTES }).toString('utf8'));
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
