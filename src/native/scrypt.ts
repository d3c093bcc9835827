/**
 * The addon's scrypt (binding.d.ts "Key derivation"): the same KDF as node:crypto's scrypt, bit for
 * bit, with a vector Salsa20/8 (docs/native-io.md "scrypt"). src/repo/crypto.ts deriveKey uses it when
 * the loaded addon has it; an addon built before it existed (a prebuild) has not, and deriveKey then
 * uses node:crypto.
 */
import { wrapNativeError } from './errors';
import { type NativeBinding, NativeLoadError, loadBinding } from './load';

type ScryptFn = NonNullable<NativeBinding['scrypt']>;

let probed: { scrypt: ScryptFn | undefined; implementation: NativeBinding['scryptImplementation'] } | undefined;

function probe(): NonNullable<typeof probed> {
  if (!probed) {
    try {
      const b = loadBinding();
      probed = {
        scrypt: typeof b.scrypt === 'function' ? b.scrypt : undefined,
        implementation: typeof b.scryptImplementation === 'function' ? b.scryptImplementation : undefined,
      };
    } catch {
      probed = { scrypt: undefined, implementation: undefined }; // no addon: node:crypto derives the key
    }
  }
  return probed;
}

/** Whether the addon loads and has scrypt (never throws). */
export function hasNativeScrypt(): boolean {
  return probe().scrypt !== undefined;
}

/**
 * The path the addon's scrypt takes now ('scalar', 'sse2', 'avx512': the CPU's best, capped by
 * DRIVESEED_SCRYPT_SIMD, read on every call), or undefined without it.
 */
export function scryptImplementation(): 'scalar' | 'sse2' | 'avx512' | undefined {
  return probe().implementation?.();
}

/**
 * scrypt(password, salt, N, r, p) → keyLen bytes on the libuv pool, equal to node:crypto's
 * scrypt(password, salt, keyLen, {N, r, p}). The addon copies the password on this call (and zeroes
 * its copy after use), so the caller may wipe its buffer as soon as this returns.
 * Rejects with the binding's TypeError for a malformed argument, DataPlaneError EINVAL (N not a power
 * of two ≥ 2, N ≥ 2^(16·r), r·p ≥ 2^30), ERR_TOO_LARGE (more than 1 GiB) or ENOMEM, and
 * NativeLoadError when the addon has no scrypt (check hasNativeScrypt()).
 */
export function scryptNative(password: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, keyLen: number): Promise<Buffer> {
  const callSite = new Error();
  const fn = probe().scrypt;
  if (!fn)
    return Promise.reject(new NativeLoadError('The loaded driveseed addon has no scrypt (built before it existed); rebuild it with `npm run build:native`.'));
  let pending: Promise<Buffer>;
  try {
    pending = fn(password, salt, N, r, p, keyLen);
  } catch (err) {
    return Promise.reject(asDataPlane(err, callSite));
  }
  return pending.catch((err: unknown) => Promise.reject(asDataPlane(err, callSite)));
}

function asDataPlane(err: unknown, callSite: Error): unknown {
  try {
    wrapNativeError(err, callSite);
  } catch (wrapped) {
    return wrapped;
  }
}
